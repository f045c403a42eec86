"""Shared ViT / masking core (V-JEPA, SALT, DMT-JEPA): positions, masks, gather/scatter, encoder, predictor."""

from __future__ import annotations

import math

import pytest
import torch

from representations.core.masks import (
    apply_masks,
    multiblock_masks_2d,
    multiblock_masks_3d,
    random_tube_masks,
    scatter_tokens,
)
from representations.core.positions import sincos_3d
from representations.core.vit import AttentivePooler, MaskedPredictor, PatchEmbed, ViTEncoder


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_valid_rows(idx: torch.Tensor, num_tokens: int) -> None:
    assert idx.dtype == torch.long
    assert (idx.diff(dim=-1) > 0).all()  # sorted, no repeats
    assert idx.min() >= 0 and idx.max() < num_tokens


# ---------------------------------------------------------------- positions


def test_sincos_3d_layout_and_hand_computed_value():
    pe = sincos_3d(2, 3, 4, 8)
    assert pe.shape == (24, 8)
    assert torch.cdist(pe, pe).add(torch.eye(24) * 1e3).min() > 1e-3  # every position distinct
    # (t=1, h=2, w=3) is row 1·12 + 2·4 + 3 = 23; channels: time (4) ‖ row (2) ‖ column (2)
    expected = torch.tensor(
        [math.sin(1), math.cos(1), math.sin(1 / 100), math.cos(1 / 100), math.sin(2), math.cos(2), math.sin(3), math.cos(3)]
    )
    torch.testing.assert_close(pe[23], expected)
    with pytest.raises(ValueError, match="divisible by 8"):
        sincos_3d(2, 2, 2, 12)


# ---------------------------------------------------------------- masks


def test_3d_single_block_has_exact_counts():
    # spatial 0.25 of 8×8 with aspect 1 → a 4×4 block; temporal 1.0 → all 8 frames: 128 targets, 384 context
    context, target = multiblock_masks_3d(3, (8, 8, 8), generator=seeded(), num_blocks=1, spatial_scale=0.25, aspect=(1.0, 1.0))
    assert context.shape == (3, 384) and target.shape == (3, 128)
    for c, t in zip(context, target):
        assert sorted(torch.cat([c, t]).tolist()) == list(range(512))  # complement, disjoint
        footprint = t.view(8, 16) % 64  # the same 16 spatial cells in every frame
        assert (footprint == footprint[0]).all()
        rows, cols = footprint[0] // 8, footprint[0] % 8
        assert rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3  # a 4×4 square


def test_3d_long_range_masks_union_complement_and_trim():
    grid = (8, 8, 8)
    context, target = multiblock_masks_3d(1, grid, generator=seeded(3), num_blocks=2, spatial_scale=0.7)
    assert context.shape[1] + target.shape[1] == 512  # one sample: nothing trimmed
    assert not set(context[0].tolist()) & set(target[0].tolist())
    footprint = target[0].view(8, -1) % 64  # temporal scale 1.0: a union of full-length tubes
    assert (footprint == footprint[0]).all()
    assert footprint.shape[1] >= math.floor(64 * 0.7 * 0.85)  # at least one ≈0.7-area block (rounding slack)

    context, target = multiblock_masks_3d(6, grid, generator=seeded(3), num_blocks=2, spatial_scale=0.7)
    assert context.shape[0] == target.shape[0] == 6 and context.shape[1] + target.shape[1] <= 512
    assert_valid_rows(context, 512)
    assert_valid_rows(target, 512)
    for c, t in zip(context, target):
        assert not set(c.tolist()) & set(t.tolist())


def test_2d_multiblock_targets_are_rectangles_outside_the_context():
    context, target = multiblock_masks_2d(5, (14, 14), generator=seeded())
    assert target.ndim == 3 and target.shape[:2] == (5, 4)
    assert_valid_rows(context, 196)
    assert_valid_rows(target, 196)
    assert context.shape[1] >= 4
    kt = target.shape[2]
    assert 0.1 * 196 <= kt <= 0.25 * 196  # scale 0.15–0.2 up to rounding of h and w
    for c, blocks in zip(context, target):
        for block in blocks:
            rows, cols = block // 14, block % 14
            assert (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) == kt  # full rectangle
            assert not set(c.tolist()) & set(block.tolist())  # context never sees a target


def test_masks_are_deterministic_by_seed():
    makers = [
        lambda g: multiblock_masks_2d(4, (14, 14), generator=g),
        lambda g: multiblock_masks_3d(4, (8, 14, 14), generator=g, num_blocks=8, spatial_scale=0.15),
        lambda g: random_tube_masks(4, (8, 14, 14), generator=g),
    ]
    for make in makers:
        first, again, other = make(seeded(1)), make(seeded(1)), make(seeded(2))
        assert all(torch.equal(a, b) for a, b in zip(first, again))
        assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, other))


def test_random_tube_masks_ratio_and_tiling():
    context, target = random_tube_masks(3, (4, 8, 8), generator=seeded(), ratio=0.9)
    masked = round(0.9 * 64)  # 58 of 64 positions
    assert target.shape == (3, 4 * masked) and context.shape == (3, 4 * (64 - masked))
    assert_valid_rows(context, 256)
    assert_valid_rows(target, 256)
    for c, t in zip(context, target):
        tubes = t.view(4, masked)
        assert ((tubes % 64) == (tubes[0] % 64)).all()  # same spatial mask in every frame
        assert ((tubes // 64) == torch.arange(4)[:, None]).all()
        assert sorted(torch.cat([c, t]).tolist()) == list(range(256))


def test_mask_errors_are_explicit():
    with pytest.raises(ValueError, match="zero patches"):
        multiblock_masks_2d(2, (4, 4), generator=seeded(), target_scale=(0.01, 0.02))
    with pytest.raises(ValueError, match="context"):  # one target covering the grid leaves nothing to see
        multiblock_masks_2d(2, (4, 4), generator=seeded(), num_targets=1, target_scale=1.0, target_aspect=1.0)
    with pytest.raises(ValueError, match="context would be empty"):
        multiblock_masks_3d(2, (2, 4, 4), generator=seeded(), num_blocks=1, spatial_scale=1.0, aspect=1.0)
    with pytest.raises(ValueError, match="range"):
        multiblock_masks_3d(2, (2, 4, 4), generator=seeded(), num_blocks=1, spatial_scale=(0.5, 0.2))
    for ratio in (0.0, 1.0):
        with pytest.raises(ValueError, match="masked and one visible"):
            random_tube_masks(2, (2, 4, 4), generator=seeded(), ratio=ratio)


def test_apply_masks_gathers_and_scatter_inverts():
    tokens = torch.arange(2 * 4 * 2, dtype=torch.float32).view(2, 4, 2)  # token n of sample b = [8b+2n, 8b+2n+1]
    idx = torch.tensor([[0, 3], [1, 2]])
    picked = apply_masks(tokens, idx)
    torch.testing.assert_close(picked, torch.tensor([[[0.0, 1.0], [6.0, 7.0]], [[10.0, 11.0], [12.0, 13.0]]]))
    assert apply_masks(tokens[:1], idx).shape == (2, 2, 2)  # a [1, N, D] table broadcasts over the batch
    assert apply_masks(tokens, idx[:, None, :]).shape == (2, 1, 2, 2)  # [B, M, K] index lists too

    placed = scatter_tokens(torch.zeros_like(tokens), idx, picked)
    torch.testing.assert_close(apply_masks(placed, idx), picked)
    assert placed[0, 1].abs().sum() == 0 and placed[1, 3].abs().sum() == 0  # untouched rows stay
    rest = torch.tensor([[1, 2], [0, 3]])
    torch.testing.assert_close(scatter_tokens(placed, rest, apply_masks(tokens, rest)), tokens)


# ---------------------------------------------------------------- networks


def test_patch_embed_scales_uint8_and_reports_grid():
    embed = PatchEmbed(4, 3, 8)
    images = torch.randint(0, 256, (2, 3, 8, 12), dtype=torch.uint8)
    tokens, grid = embed(images)
    assert tokens.shape == (2, 6, 8) and grid == (2, 3)
    torch.testing.assert_close(tokens, embed(images.float() / 255 - 0.5)[0])
    with pytest.raises(ValueError, match="patches"):
        embed(torch.zeros(1, 3, 10, 12))


def test_encoder_drops_masked_tokens_before_attention():
    torch.manual_seed(0)
    encoder = ViTEncoder(16, 4, dim=24, depth=2, heads=3).eval()
    assert encoder.grid == (4, 4) and encoder.num_patches == 16 and encoder.dim == 24
    images = torch.randn(2, 3, 16, 16)
    keep = torch.tensor([[0, 5, 10, 15], [1, 2, 3, 4]])
    assert encoder(images).shape == (2, 16, 24)
    out = encoder(images, keep)
    assert out.shape == (2, 4, 24)

    tokens = encoder.patch_embed(images)[0] + encoder.pos_embed
    kept_only = torch.stack([tokens[0, keep[0]], tokens[1, keep[1]]])
    torch.testing.assert_close(out, encoder.norm(encoder.blocks(kept_only)))

    changed = images.clone()
    changed[0, :, 4:8, 4:8] += 5.0  # patch 5 of sample 0 (kept)
    changed[1, :, 12:16, 12:16] += 5.0  # patch 15 of sample 1 (dropped)
    moved = encoder(changed, keep)
    assert not torch.allclose(moved[0], out[0])
    torch.testing.assert_close(moved[1], out[1])  # dropped pixels cannot leak through attention


def test_video_encoder_and_bad_settings():
    encoder = ViTEncoder(8, 4, dim=16, depth=1, heads=2, frames=4, tubelet=2)
    assert encoder.grid == (2, 2, 2) and encoder.num_patches == 8
    clips = torch.randint(0, 256, (3, 3, 4, 8, 8), dtype=torch.uint8)
    assert encoder(clips).shape == (3, 8, 16)
    assert encoder(clips, torch.tensor([[0, 7]] * 3)).shape == (3, 2, 16)
    with pytest.raises(ValueError, match="token grid"):
        encoder(torch.zeros(1, 3, 6, 8, 8))
    with pytest.raises(ValueError, match="patch size"):
        ViTEncoder(30, 8)
    with pytest.raises(ValueError, match="tubelets"):
        ViTEncoder(16, 8, frames=5)
    with pytest.raises(ValueError, match="heads"):
        ViTEncoder(16, 8, dim=16, heads=3)


def test_masked_predictor_shapes_and_mask_tokens():
    torch.manual_seed(0)
    grid = (2, 4, 4)
    context_idx, target_idx = multiblock_masks_3d(2, grid, generator=seeded(), num_blocks=2, spatial_scale=0.25)
    context = torch.randn(2, context_idx.shape[1], 32)
    predictor = MaskedPredictor(32, 32, dim=16, depth=1, heads=2, num_mask_tokens=2, grid=grid).eval()
    out = predictor(context, context_idx, target_idx)
    assert out.shape == (2, target_idx.shape[1], 32)
    wider = MaskedPredictor(32, 32, dim=16, depth=1, heads=2, out_dim=48, grid=grid)
    assert wider(context, context_idx, target_idx).shape == (2, target_idx.shape[1], 48)

    # zero-initialised mask tokens give the same prediction; once they differ, mask_index matters
    torch.testing.assert_close(predictor(context, context_idx, target_idx, mask_index=1), out)
    with torch.no_grad():
        predictor.mask_tokens[1].normal_()
    assert not torch.allclose(predictor(context, context_idx, target_idx, mask_index=1), out)
    torch.testing.assert_close(predictor(context, context_idx, target_idx, mask_index=0), out)

    with pytest.raises(ValueError, match="mask_index"):
        predictor(context, context_idx, target_idx, mask_index=2)
    with pytest.raises(ValueError, match="num_patches"):
        MaskedPredictor(30, 32, dim=16, heads=2, grid=grid)


def test_attentive_pooler_is_order_free():
    torch.manual_seed(0)
    pooler = AttentivePooler(16, heads=2, out_dim=5)
    tokens = torch.randn(3, 7, 16)
    pooled = pooler(tokens)
    assert pooled.shape == (3, 5) and AttentivePooler(16)(tokens).shape == (3, 16)
    torch.testing.assert_close(pooler(tokens[:, torch.randperm(7)]), pooled)  # no positions: a set function


def test_attentive_pooler_with_several_queries_pools_one_token_per_query():
    torch.manual_seed(0)
    resampler = AttentivePooler(16, heads=2, queries=4)
    tokens = torch.randn(3, 50, 16)
    pooled = resampler.pool_tokens(tokens)
    assert pooled.shape == (3, 4, 16)
    torch.testing.assert_close(resampler(tokens), pooled[:, 0])
    # each query's output is its own softmax-weighted mix of the tokens, normalised
    queries = resampler.query.expand(3, -1, -1)
    _, weights = resampler.attention(queries, tokens, tokens, need_weights=True)
    assert weights.shape == (3, 4, 50) and torch.allclose(weights.sum(-1), torch.ones(3, 4))
    assert not torch.allclose(pooled[:, 0], pooled[:, 1])  # distinct learned queries read distinct mixes
    with pytest.raises(ValueError, match="at least 1 query, got queries=0"):
        AttentivePooler(16, queries=0)


def test_batched_block_placement_is_exact_and_covers_every_position():
    from representations.core.masks import _place_blocks, _stack_trimmed

    blocks = _place_blocks(torch.Generator().manual_seed(0), 500, 2, (3, 5, 6), (2, 2, 3))  # [B, count, T, H, W]
    assert blocks.shape == (500, 2, 3, 5, 6) and (blocks.flatten(2).sum(-1) == 2 * 2 * 3).all()
    for axis, (size, extent) in enumerate(((3, 2), (5, 2), (6, 3))):
        covered = blocks.any(dim=tuple(a for a in (2, 3, 4) if a != axis + 2))  # [B, count, size] along this axis
        assert (covered.sum(-1) == extent).all()  # one contiguous run of the block's extent
        first = covered.float().argmax(-1)
        assert set(first.flatten().tolist()) == set(range(size - extent + 1))  # every start position is drawn
    masks = torch.tensor([[True, False, True, True], [False, True, True, False]])
    assert _stack_trimmed(masks).tolist() == [[0, 2], [1, 2]]  # ascending, cut to the batch minimum (2)
