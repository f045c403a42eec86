"""V-JEPA, SALT and DMT-JEPA objectives (issue #7) on tiny ViTs: 16 × 16 inputs, 4 × 4 patches, width 16."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from representations.core.masks import apply_masks
from representations.dmt_jepa import DMTJEPA, DMTJEPALoss, LocalAggregationHead, topk_window_neighbours, window_indices
from representations.salt import PixelTeacher, PixelTeacherLoss, SALTStudent, StudentLoss, normalize_patches, patchify
from representations.vjepa import VJEPA, MultiblockMasks, VJEPALoss, default_mask_generators

TINY = dict(dim=16, depth=1, heads=2, predictor_dim=8, predictor_depth=1, predictor_heads=2)
TEACHER = dict(dim=24, depth=1, heads=2, decoder_dim=8, decoder_depth=1, decoder_heads=2)


def images(batch: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (batch, 3, 16, 16), dtype=torch.uint8)


def clips(batch: int = 2) -> torch.Tensor:  # [B, C, T, H, W]
    return torch.randint(0, 256, (batch, 3, 4, 16, 16), dtype=torch.uint8)


def pixels_td(x: torch.Tensor) -> TensorDict:
    return TensorDict({"pixels": x}, [x.shape[0]])


def seeded_masks(generators, batch: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    return [make(batch, generator) for make in generators]


# ---------------------------------------------------------------- V-JEPA


@pytest.mark.parametrize("frames", [None, 4])
def test_vjepa_loss_is_l1_to_layer_normed_ema_targets(frames):
    torch.manual_seed(0)
    model = VJEPA(16, 4, frames=frames, **TINY)
    x = images() if frames is None else clips()
    assert model.grid == ((4, 4) if frames is None else (2, 4, 4))
    assert model.encode(x).shape == (x.shape[0], 16)
    assert model.encode(x, pool=False).shape == (x.shape[0], model.encoder.num_patches, 16)
    loss = VJEPALoss(model, seed=5)
    out = loss(pixels_td(x))
    assert set(out.keys()) == {
        "loss_prediction",
        "target_std",
        "context_fraction",
        "feature_std",
        "feature_rankme",
        "target_rankme",
    }
    assert torch.isfinite(out["loss_prediction"]) and 0 < out["context_fraction"] < 1

    # by hand: the target copy still equals the online encoder; same seed → same masks
    targets = model.encoder(x)
    targets = F.layer_norm(targets, (16,))
    errors = [
        (model.predict(x, c, t, mask_index=i) - apply_masks(targets, t)).abs().mean()
        for i, (c, t) in enumerate(seeded_masks(default_mask_generators(model.grid), x.shape[0], 5))
    ]
    assert out["loss_prediction"].item() == pytest.approx(torch.stack(errors).mean().item(), rel=1e-5)


def test_vjepa_target_moves_by_soft_update_only():
    torch.manual_seed(0)
    model = VJEPA(16, 4, **TINY)
    loss = VJEPALoss(model, seed=0)
    updater = SoftUpdate(loss, eps=0.998)  # built with the loss, as in training (its init_ copies online → target)
    optimiser = torch.optim.Adam([p for p in loss.parameters() if p.requires_grad], lr=1e-2)
    target_before = loss.target_encoder.patch_embed.proj.weight.detach().clone()
    loss(pixels_td(images()))["loss_prediction"].backward()
    assert all(p.grad is None for p in loss.target_encoder.parameters())
    assert model.encoder.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.predictor.mask_tokens.grad.abs().sum() > 0
    optimiser.step()
    online = model.encoder.patch_embed.proj.weight.detach()
    assert (online - target_before).abs().max() > 1e-3
    torch.testing.assert_close(loss.target_encoder.patch_embed.proj.weight, target_before)  # no gradient step
    updater.step()
    torch.testing.assert_close(loss.target_encoder.patch_embed.proj.weight, 0.998 * target_before + 0.002 * online)


def test_vjepa_needs_a_mask_token_per_generator():
    model = VJEPA(16, 4, num_mask_tokens=1, **TINY)
    with pytest.raises(ValueError, match="mask tokens"):
        VJEPALoss(model)  # the two default generators
    one = VJEPALoss(model, mask_generators=[MultiblockMasks(model.grid, num_blocks=2, spatial_scale=0.25)], seed=0)
    assert torch.isfinite(one(pixels_td(images()))["loss_prediction"])


# ---------------------------------------------------------------- SALT


def test_patchify_follows_token_order_and_embedding():
    # one-channel 8 × 8 image, patch 4: patch (r, c) filled with 2r + c; channel 1 adds 10
    x = torch.zeros(1, 2, 8, 8)
    for r in range(2):
        for c in range(2):
            x[0, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] = 2 * r + c
    x[0, 1] = x[0, 0] + 10
    patches = patchify(x, 4)
    assert patches.shape == (1, 4, 32)
    for n in range(4):
        per_channel = patches[0, n].view(4, 4, 2)  # (p, p, C)
        assert (per_channel[..., 0] == n).all() and (per_channel[..., 1] == n + 10).all()

    torch.manual_seed(0)
    for frames, data in ((None, images(2)), (4, clips(2))):
        teacher = PixelTeacher(16, 4, frames=frames, **TEACHER)
        conv = teacher.encoder.patch_embed.proj
        weight = conv.weight.permute(0, *range(2, conv.weight.ndim), 1).reshape(conv.weight.shape[0], -1)
        tokens = teacher.encoder.patch_embed(data)[0]
        assert teacher.patches(data).shape == (2, teacher.encoder.num_patches, teacher.patch_pixels)
        torch.testing.assert_close(tokens, teacher.patches(data) @ weight.T + conv.bias, rtol=1e-4, atol=1e-4)


def test_pixel_targets_normalised_per_patch_by_hand():
    patches = torch.tensor([[[0.0, 1.0, 2.0, 3.0], [5.0, 5.0, 5.0, 5.0]]])
    expected = (torch.tensor([0.0, 1.0, 2.0, 3.0]) - 1.5) / math.sqrt(5 / 3 + 1e-6)  # unbiased var = 5/3
    normalised = normalize_patches(patches)
    torch.testing.assert_close(normalised[0, 0], expected)
    assert (normalised[0, 1] == 0).all()  # a flat patch: zero, not NaN


@pytest.mark.parametrize("frames", [None, 4])
def test_pixel_teacher_loss_is_l1_on_normalised_masked_patches(frames):
    torch.manual_seed(0)
    teacher = PixelTeacher(16, 4, frames=frames, **TEACHER)
    x = images() if frames is None else clips()
    assert teacher.patch_pixels == (2 if frames else 1) * 4 * 4 * 3
    with torch.no_grad():  # a decoder that predicts zeros: the loss is mean |normalised target|
        teacher.decoder.proj.weight.zero_()
        teacher.decoder.proj.bias.zero_()
    loss = PixelTeacherLoss(teacher, seed=3)
    out = loss(pixels_td(x))
    targets = normalize_patches(patchify(x, 4, 2 if frames else None))
    expected = torch.stack(
        [apply_masks(targets, t).abs().mean() for _, t in seeded_masks(default_mask_generators(teacher.grid), x.shape[0], 3)]
    ).mean()
    assert out["loss_reconstruction"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["loss_reconstruction"].backward()
    assert teacher.decoder.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("frames", [None, 4])
def test_student_learns_against_a_frozen_teacher_of_another_width(frames):
    torch.manual_seed(0)
    teacher = PixelTeacher(16, 4, frames=frames, **TEACHER)  # width 24
    student = SALTStudent(16, 4, frames=frames, teacher_dim=teacher.feature_dim, **TINY)  # width 16
    x = images() if frames is None else clips()
    loss = StudentLoss(student, teacher, seed=1).train()
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = student.encoder.patch_embed.proj.weight.detach().clone()
    optimiser = torch.optim.AdamW(loss.parameters(), lr=1e-2, weight_decay=0.1)  # even handed every parameter
    out = loss(pixels_td(x))
    assert set(out.keys()) == {
        "loss_prediction",
        "feature_std",
        "feature_rankme",
        "target_std",
        "target_rankme",
    } and torch.isfinite(out["loss_prediction"])
    out["loss_prediction"].backward()
    assert all(p.grad is None for p in teacher.parameters())
    optimiser.step()
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert not torch.equal(student.encoder.patch_embed.proj.weight, student_before)

    # the target is the teacher's encoding of the full input
    targets = teacher.encoder(x)
    (c, t), _ = seeded_masks(default_mask_generators(student.grid), x.shape[0], 1)
    first = (student.predict(x, c, t, mask_index=0) - apply_masks(targets, t)).abs().mean()
    assert student.predict(x, c, t).shape == (x.shape[0], t.shape[1], 24) and torch.isfinite(first)


def test_student_rejects_mismatched_teachers():
    teacher = PixelTeacher(16, 4, **TEACHER)
    with pytest.raises(ValueError, match="teacher_dim=24"):
        StudentLoss(SALTStudent(16, 4, teacher_dim=16, **TINY), teacher)
    with pytest.raises(ValueError, match="grid"):
        StudentLoss(SALTStudent(16, 8, teacher_dim=24, **TINY), teacher)


# ---------------------------------------------------------------- DMT-JEPA


def test_window_wraps_around_the_grid():
    table = window_indices((4, 4), 3)
    assert table.shape == (16, 8)
    assert set(table[0].tolist()) == {1, 3, 4, 5, 7, 12, 13, 15}  # corner (0, 0): rows/cols 3, 0, 1
    assert set(table[5].tolist()) == {0, 1, 2, 4, 6, 8, 9, 10}  # interior (1, 1): no wrap
    with pytest.raises(ValueError, match="window"):
        window_indices((2, 4), 3)


def test_topk_neighbours_on_a_planted_feature_map():
    eye = torch.eye(16)
    features = eye.repeat(2, 1, 1)  # 4 × 4 grid, one orthogonal feature per patch
    # image 0: patch 0's neighbours by similarity 15 > 3 > 12 > 5 (three of them only through the wrap)
    for patch, weight in [(15, 0.1), (3, 0.3), (12, 0.5), (5, 0.7)]:
        features[0, patch] = eye[0] + weight * eye[patch]
    features[0, 15] *= 50.0  # cosine, not dot product: the scale does not matter
    features[0, 10] = eye[0]  # identical to patch 0 but outside its window
    # image 1: another order
    for patch, weight in [(4, 0.1), (1, 0.3), (13, 0.5), (7, 0.7)]:
        features[1, patch] = eye[0] + weight * eye[patch]
    idx = topk_window_neighbours(features, (4, 4), k=4, window=3)
    assert idx.shape == (2, 16, 4)
    assert idx[0, 0].tolist() == [15, 3, 12, 5]
    assert idx[1, 0].tolist() == [4, 1, 13, 7]
    assert all(set(idx[b, n].tolist()) <= set(window_indices((4, 4))[n].tolist()) for b in range(2) for n in range(16))


def test_aggregation_queries_are_per_image_means():
    torch.manual_seed(0)
    head = LocalAggregationHead(16, (4, 4), heads=2)
    features = torch.randn(2, 16, 16)
    features[1] += 3.0  # a clearly different second image
    queries = head.queries(features)
    assert queries.shape == (32, 1, 16)
    torch.testing.assert_close(queries[:16, 0], features[0].mean(0).expand(16, -1))
    torch.testing.assert_close(queries[16:, 0], features[1].mean(0).expand(16, -1))
    assert not torch.allclose(queries[0], queries[16])
    # targets of an image do not depend on its batch-mates (tiling the means across the batch would break this)
    together = head.targets(features)
    assert together.shape == (2, 16, 16)
    torch.testing.assert_close(together[1], head.targets(features[1:])[0])
    torch.testing.assert_close(together[0], head.targets(features[:1])[0])
    assert head.context(features[:, :5]).shape == (2, 5, 16)


def test_dmt_jepa_loss_targets_and_ema_of_encoder_and_head():
    torch.manual_seed(0)
    model = DMTJEPA(16, 4, **TINY)
    x = images(2)
    loss = DMTJEPALoss(model, seed=2)
    updater = SoftUpdate(loss, eps=0.9)
    out = loss(pixels_td(x))
    assert set(out.keys()) == {
        "loss_prediction",
        "target_std",
        "context_fraction",
        "feature_std",
        "feature_rankme",
        "target_rankme",
    }

    ((c, t),) = seeded_masks([loss.mask_generators[0]], 2, 2)
    assert t.shape[:2] == (2, 4)  # four target blocks
    predicted = model.predict(x, c, t)
    assert predicted.shape == (2, 4, t.shape[2], 16)
    features = F.layer_norm(model.encoder(x), (16,))
    expected = F.smooth_l1_loss(predicted, apply_masks(model.head.targets(features), t))
    assert out["loss_prediction"].item() == pytest.approx(expected.item(), rel=1e-5)

    out["loss_prediction"].backward()
    assert all(p.grad is None for p in [*loss.target_encoder.parameters(), *loss.target_head.parameters()])
    head_grad = model.head.blocks[0].attention.in_proj_weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0  # the online head learns through the context branch
    pairs = [
        (model.head.blocks[0].mlp[0].weight, loss.target_head.blocks[0].mlp[0].weight),
        (model.encoder.patch_embed.proj.weight, loss.target_encoder.patch_embed.proj.weight),
    ]
    before = [target.detach().clone() for _, target in pairs]
    with torch.no_grad():
        for online, _ in pairs:
            online.add_(1.0)
    updater.step()
    for (online, target), old in zip(pairs, before):
        torch.testing.assert_close(target, 0.9 * old + 0.1 * online.detach())


def test_released_query_tiling_gives_patch_n_of_image_b_the_mean_of_image_bn_plus_n_mod_batch():
    features = torch.arange(3.0)[:, None, None].expand(3, 4, 2).clone()  # image b's tokens all equal b
    head = LocalAggregationHead(2, (3, 3), heads=1, query="released")
    queries = head.queries(features)[:, 0, 0]  # [B·N] = 12 query values
    assert queries.tolist() == [float((b * 4 + n) % 3) for b in range(3) for n in range(4)]
    with pytest.raises(ValueError, match="unknown objective.model.query='tiled'"):
        LocalAggregationHead(2, (3, 3), heads=1, query="tiled")


def test_patch_query_starts_each_patch_from_its_own_feature_so_an_images_targets_differ():
    torch.manual_seed(0)
    features = torch.randn(2, 9, 4)
    patch_head = LocalAggregationHead(4, (3, 3), heads=1, query="patch")
    assert torch.equal(patch_head.queries(features), features.reshape(18, 1, 4))
    image_head = LocalAggregationHead(4, (3, 3), heads=1, query="image")
    image_head.load_state_dict(patch_head.state_dict())
    # Same weights, same neighbours: only the query differs. Every query of an image is one vector with "image".
    assert torch.equal(image_head.queries(features)[:9], features[:1].mean(1, keepdim=True).expand(9, 1, 4))
    spread = {name: h.targets(features).std(dim=1).mean() for name, h in [("patch", patch_head), ("image", image_head)]}
    assert spread["patch"] > spread["image"]


def test_without_aggregation_the_targets_are_the_ema_tokens_as_in_i_jepa():
    torch.manual_seed(0)
    model = DMTJEPA(16, 4, **TINY, aggregate=False)
    x = images(2)
    loss = DMTJEPALoss(model, seed=2)
    out = loss(pixels_td(x))
    ((c, t),) = seeded_masks([loss.mask_generators[0]], 2, 2)
    predicted = model.predict(x, c, t)
    expected = F.smooth_l1_loss(predicted, apply_masks(F.layer_norm(model.encoder(x), (16,)), t))
    assert out["loss_prediction"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["loss_prediction"].backward()
    assert model.head.blocks[0].attention.in_proj_weight.grad is None  # the head is on neither branch
