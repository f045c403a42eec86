"""AD-L-JEPA (issue #8, part 3): BEV masks, complementary split, tokens, loss pieces, EMA target, the
Occupancy-MAE baseline, and the shared downstream interface."""

from __future__ import annotations

import math

import pytest
import torch
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from representations.ad_l_jepa import (
    ADLJEPA,
    ADLJEPALoss,
    BEVTokenEncoder,
    OccupancyMAE,
    OccupancyMAELoss,
    bev_masks,
    cell_occupancy,
    expand_cells,
    jepa_cosine_loss,
    split_points,
    variance_hinge,
)

TINY = dict(channels=16, downsample=2)
pytestmark = [pytest.mark.filterwarnings("ignore:No target network updater"), pytest.mark.usefixtures("one_thread")]


def scenes(batch: int, size: int = 16, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """Random-but-structured pillar grids: a few solid rectangles ("boxes") whose height channel is constant
    per box, plus scattered ground returns. Channel 0 = log1p(count), empty cells all zero."""
    g = torch.Generator().manual_seed(seed)
    bev = torch.zeros(batch, channels, size, size)
    for b in range(batch):
        for _ in range(3):
            h, w = torch.randint(2, 5, (2,), generator=g).tolist()
            y, x = torch.randint(0, size - h, (1,), generator=g).item(), torch.randint(0, size - w, (1,), generator=g).item()
            bev[b, 0, y : y + h, x : x + w] = math.log1p(5)
            bev[b, 1:, y : y + h, x : x + w] = torch.rand(channels - 1, 1, 1, generator=g) + 0.5
        ground = torch.rand(size, size, generator=g) < 0.05
        bev[b, 0][ground & (bev[b, 0] == 0)] = math.log1p(1)
    return bev


def test_bev_masks_counts_subsets_seed_and_rate():
    g = torch.Generator().manual_seed(0)
    occupancy = torch.rand(6, 12, 12, generator=g) < torch.linspace(0.05, 0.9, 6)[:, None, None]
    occupancy[0] = False  # a sample without points
    occupancy[1] = True  # a sample without empty cells
    ne, e = bev_masks(occupancy, 0.5, torch.Generator().manual_seed(1))
    assert ne.dtype == torch.bool and ne.shape == e.shape == occupancy.shape
    for b in range(6):
        n = int(occupancy[b].sum())
        assert int(ne[b].sum()) == math.floor(0.5 * n + 0.5)  # exactly round(ratio · n), per sample
    assert not (ne & ~occupancy).any() and not (e & occupancy).any()  # non-empty ⊂ occupied, empty ⊂ empty
    assert e[1].sum() == 0 and ne[0].sum() == 0
    again = bev_masks(occupancy, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], ne) and torch.equal(again[1], e)
    other = bev_masks(occupancy, 0.5, torch.Generator().manual_seed(2))
    assert not torch.equal(other[0], ne)
    ne3, _ = bev_masks(occupancy, 0.3, torch.Generator().manual_seed(1))
    assert [int(v) for v in ne3.sum(dim=(1, 2))] == [math.floor(0.3 * int(n) + 0.5) for n in occupancy.sum(dim=(1, 2))]
    # Bernoulli rate on a big empty grid: 4 × 256² draws, std of the mean ≈ 0.0009
    empty = torch.zeros(4, 256, 256, dtype=torch.bool)
    _, big = bev_masks(empty, 0.3, torch.Generator().manual_seed(3))
    assert abs(big.float().mean().item() - 0.3) < 0.005
    with pytest.raises(ValueError, match="mask ratio"):
        bev_masks(occupancy, 1.5)


def test_cell_occupancy_and_expand_cells_round_trip():
    bev = torch.zeros(2, 3, 8, 8)
    bev[0, 0, 1, 2] = 1.0  # → cell (0, 1) at downsample 2, (0, 0) at 4
    bev[0, 0, 7, 7] = 0.5  # → cell (3, 3); (1, 1)
    bev[1, 0, 4, 0] = 2.0  # → cell (2, 0); (1, 0)
    bev[1, 1, 0, 0] = 3.0  # channel 0 is zero: not a point
    cells = cell_occupancy(bev, 2)
    assert cells.shape == (2, 4, 4)
    assert sorted(map(tuple, cells.nonzero().tolist())) == [(0, 0, 1), (0, 3, 3), (1, 2, 0)]
    assert sorted(map(tuple, cell_occupancy(bev, 4).nonzero().tolist())) == [(0, 0, 0), (0, 1, 1), (1, 1, 0)]
    fine = expand_cells(cells, 2)
    assert fine.shape == (2, 8, 8) and fine.sum() == 3 * 4
    assert fine[0, 0:2, 2:4].all() and fine[0, 6:8, 6:8].all() and fine[1, 4:6, 0:2].all()
    assert torch.equal(cell_occupancy(fine[:, None].float(), 2), cells)  # round trip
    model = ADLJEPA(3, channels=8, downsample=2)
    assert torch.equal(model.cell_occupancy(bev), cells) and torch.equal(model.expand_cells(cells), fine)


def test_complementary_split_of_points():
    bev = scenes(4, size=16)
    occupancy = cell_occupancy(bev, 2)
    ne, e = bev_masks(occupancy, 0.5, torch.Generator().manual_seed(0))
    context, target = split_points(bev, ne | e, 2)
    masked_in = expand_cells(ne | e, 2)
    assert (context.permute(1, 0, 2, 3)[:, masked_in] == 0).all()  # context: nothing at masked cells
    assert (target.permute(1, 0, 2, 3)[:, ~masked_in] == 0).all()  # target: nothing elsewhere
    torch.testing.assert_close(context + target, bev)  # together: every point exactly once
    assert torch.equal(cell_occupancy(target, 2), ne)  # the target holds exactly M_ne's points
    assert torch.equal(cell_occupancy(context, 2), occupancy & ~ne)


def test_variance_hinge_hand_values():
    v = 0.25
    constant = torch.ones(2, 4, 3, 3)
    mask = torch.ones(2, 3, 3, dtype=torch.bool)
    # zero variance: relu(v − sqrt(0 + 1e-4)) = 0.25 − 0.01 per channel
    torch.testing.assert_close(variance_hinge(constant, mask, v), torch.tensor(0.24))
    # ±1 on 2 cells: unbiased var = 2, std ≫ v → 0
    spread = torch.zeros(1, 2, 1, 2)
    spread[0, :, 0, 0], spread[0, :, 0, 1] = 1.0, -1.0
    assert variance_hinge(spread, torch.ones(1, 1, 2, dtype=torch.bool), v).item() == 0.0
    # values {0, 0.2} on 2 cells (third masked out): var = 0.02, hinge = 0.25 − sqrt(0.0201)
    x = torch.tensor([[[[0.0, 0.2, 9.0]]]])
    m = torch.tensor([[[True, True, False]]])
    torch.testing.assert_close(variance_hinge(x, m, v), torch.tensor(0.25 - math.sqrt(0.0201)))
    # a sample with < 2 masked cells is left out; none left → 0 (and still differentiable)
    two = torch.cat([constant[:1], 5 * torch.randn(1, 4, 3, 3)])
    one_cell = torch.zeros(2, 3, 3, dtype=torch.bool)
    one_cell[0] = True
    one_cell[1, 0, 0] = True
    torch.testing.assert_close(variance_hinge(two, one_cell, v), torch.tensor(0.24))
    lonely = constant.clone().requires_grad_()
    zero = variance_hinge(lonely, torch.zeros(2, 3, 3, dtype=torch.bool), v)
    zero.backward()
    assert zero.item() == 0.0 and torch.equal(lonely.grad, torch.zeros_like(lonely))


def test_cosine_loss_hand_values():
    target = torch.nn.functional.normalize(torch.randn(2, 4, 3, 3), dim=1)
    ne = torch.zeros(2, 3, 3, dtype=torch.bool)
    e = torch.zeros(2, 3, 3, dtype=torch.bool)
    ne[0, 0, 0] = ne[1, 2, 2] = True
    e[0, 1, 1] = True
    loss, cos_ne, cos_e = jepa_cosine_loss(target, target, ne, e)
    assert abs(loss.item()) < 1e-6 and abs(cos_ne.item() - 1) < 1e-6 and abs(cos_e.item() - 1) < 1e-6
    prediction = target.clone()
    prediction[0, :, 0, 0] = -target[0, :, 0, 0]  # cos −1 → 1 − cos = 2 at one of 2 non-empty cells
    prediction[0, :, 1, 1] = 0.0  # cos 0 at the only empty cell
    prediction[1, :, 0, 1] = -target[1, :, 0, 1]  # an unmasked cell: ignored
    loss, cos_ne, cos_e = jepa_cosine_loss(prediction, target, ne, e)
    torch.testing.assert_close(loss, torch.tensor(0.75 * (2 + 0) / 2 + 0.25 * 1.0))
    torch.testing.assert_close(cos_ne, torch.tensor(0.0))
    torch.testing.assert_close(cos_e, torch.tensor(0.0))
    # through the loss module: a predictor that copies the targets gives loss_jepa 0
    torch.manual_seed(0)
    model = ADLJEPA(3, **TINY)
    loss_module = ADLJEPALoss(model, seed=0)
    captured = {}
    target_tokens = loss_module.target_tokens

    def spy(*args):
        captured["targets"] = target_tokens(*args)
        return captured["targets"]

    loss_module.target_tokens = spy
    model.predictor.forward = lambda context: captured["targets"]
    out = loss_module(TensorDict({"bev": scenes(4)}, [4]))
    assert abs(out["loss_jepa"].item()) < 1e-5 and abs(out["cos_nonempty"].item() - 1) < 1e-5
    assert abs(out["cos_empty"].item() - 1) < 1e-5


def test_loss_outputs_grads_and_ema_moves_halfway():
    torch.manual_seed(0)
    model = ADLJEPA(3, **TINY)
    loss = ADLJEPALoss(model, seed=0)
    updater = SoftUpdate(loss, eps=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    batch = TensorDict({"bev": scenes(8)}, [8])
    out = loss(batch)
    assert set(out.keys()) == {
        "loss_jepa",
        "loss_variance",
        "cos_nonempty",
        "cos_empty",
        "target_std",
        "prediction_std",
        "masked_fraction",
        "feature_rankme",
        "target_rankme",
    }
    assert out["loss_jepa"].requires_grad and out["loss_variance"].requires_grad
    assert not any(out[k].requires_grad for k in ("cos_nonempty", "cos_empty", "target_std", "prediction_std"))
    assert 0.2 < out["masked_fraction"].item() < 0.8 and 0 < out["loss_jepa"].item() < 2
    (out["loss_jepa"] + out["loss_variance"]).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for p in (
        model.encoder.backbone.stages[0][0].conv.weight,
        model.mask_token,
        model.empty_token,
        model.predictor.net[0].weight,
    ):
        assert p.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.target_encoder.parameters())  # no gradient reaches the target
    assert all(not p.requires_grad for p in loss.target_encoder.parameters())
    optimizer.step()
    before = loss.target_encoder_params.clone()  # after the forward (which refreshed the target's BN stats)
    online = loss.encoder_params
    learned = [k for k, v in online.items(True, True) if v.requires_grad]
    buffers = [k for k, v in online.items(True, True) if not v.requires_grad]
    assert any("stages" in str(k) for k in learned) and any("running_var" in str(k) for k in buffers)
    assert all(not torch.equal(before[k], online[k]) for k in learned)  # the step moved every parameter
    updater.step()  # target ← 0.5 · target + 0.5 · online, for the learned parameters
    for key in learned:
        torch.testing.assert_close(loss.target_encoder_params[key], 0.5 * before[key] + 0.5 * online[key])
    for key in buffers:  # SoftUpdate skips buffers: the target's BN statistics are its own
        assert torch.equal(loss.target_encoder_params[key], before[key])
    ema = loss.ema_encoder().eval()  # EMA backbone + online tokens, for downstream use
    conv = ema.backbone.stages[0][0].conv.weight
    torch.testing.assert_close(
        conv, 0.5 * before["stages", "0", "0", "conv", "weight"] + 0.5 * model.encoder.backbone.stages[0][0].conv.weight
    )
    assert torch.equal(ema.empty_token, model.empty_token) and ema.encode(batch["bev"]).shape == (8, 16, 8, 8)


def test_training_decreases_loss_jepa():
    torch.manual_seed(0)
    model = ADLJEPA(3, **TINY)
    loss = ADLJEPALoss(model, seed=0)
    updater = SoftUpdate(loss, eps=0.99)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = scenes(64, seed=1)
    history = []
    for step in range(30):
        batch = TensorDict({"bev": data[(step % 4) * 16 : (step % 4 + 1) * 16]}, [16])
        out = loss(batch)
        optimizer.zero_grad()
        (out["loss_jepa"] + out["loss_variance"]).backward()
        optimizer.step()
        updater.step()
        history.append(out["loss_jepa"].item())
    first, last = sum(history[:5]) / 5, sum(history[-5:]) / 5
    assert last < 0.75 * first, history


def test_occupancy_mae_loss():
    torch.manual_seed(0)
    model = OccupancyMAE(3, **TINY)
    loss = OccupancyMAELoss(model, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = TensorDict({"bev": scenes(8)}, [8])
    out = loss(batch)
    assert set(out.keys()) == {"loss_occupancy", "occupancy_accuracy", "occupancy_recall", "masked_fraction"}
    assert out["loss_occupancy"].requires_grad and not out["occupancy_accuracy"].requires_grad
    assert 0.0 <= out["occupancy_accuracy"].item() <= 1.0 and 0.0 <= out["occupancy_recall"].item() <= 1.0
    out["loss_occupancy"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.encoder.mask_token.grad.abs().sum() > 0
    first = out["loss_occupancy"].item()
    for _ in range(15):
        optimizer.zero_grad()
        out = loss(batch)
        out["loss_occupancy"].backward()
        optimizer.step()
    assert out["loss_occupancy"].item() < first
    plain = OccupancyMAELoss(model, seed=0, pos_weight=1.0)(batch)
    assert torch.isfinite(plain["loss_occupancy"])


def test_encode_is_shared_by_jepa_mae_and_scratch():
    bev = scenes(4)
    occupancy = cell_occupancy(bev, 2)
    for model in (ADLJEPA(3, **TINY), OccupancyMAE(3, **TINY), BEVTokenEncoder(3, **TINY)):
        model.eval()
        with torch.no_grad():
            features = model.encode(bev)
            pooled = model.encode_pooled(bev)
            raw = model.encode(bev, normalize=False)
        assert features.shape == (4, 16, 8, 8) and pooled.shape == (4, model.feature_dim) == (4, 32)
        torch.testing.assert_close(features.norm(dim=1), torch.ones(4, 8, 8))  # unit tokens everywhere
        assert (raw.permute(1, 0, 2, 3)[:, ~occupancy] == 0).all()  # sparse-like: nothing at empty cells
        empty = model.encoder.empty_token if hasattr(model, "encoder") else model.empty_token
        expected = torch.nn.functional.normalize(empty, dim=1)[0, :, 0, 0]
        torch.testing.assert_close(features[0, :, ~occupancy[0]].T, expected.expand(int((~occupancy[0]).sum()), -1))
        torch.testing.assert_close(pooled[:, 16:], features.mean(dim=(2, 3)))
        # points of one cell never change the features of a cell farther than the receptive field
        far = bev.clone()
        far[:, :, :4, :4] = 0
        with torch.no_grad():
            torch.testing.assert_close(model.encode(far)[..., 5:, 5:], features[..., 5:, 5:])


def test_clear_errors():
    model = ADLJEPA(3, **TINY)
    loss = ADLJEPALoss(model, seed=0)
    with pytest.raises(ValueError, match=r"\[B, C_in, H, W\]"):
        loss(TensorDict({"bev": torch.zeros(2, 16, 16)}, [2]))
    with pytest.raises(ValueError, match="expects 3 BEV channels"):
        loss(TensorDict({"bev": torch.zeros(2, 5, 16, 16)}, [2]))
    with pytest.raises(ValueError, match="not divisible by downsample=2"):
        model.encode(torch.zeros(2, 3, 15, 16))
    with pytest.raises(ValueError, match=r"\[B, C_in, H, W\]"):
        OccupancyMAELoss(OccupancyMAE(3, **TINY))(TensorDict({"bev": torch.zeros(2, 1, 3, 16, 16)}, [2]))
    bad = scenes(2)
    bad[0, 1, 0, 0] = float("nan")
    bad[0, 0, 0, 0] = 1.0
    with pytest.raises(FloatingPointError, match="loss_jepa"):
        loss(TensorDict({"bev": bad}, [2]))
    with pytest.raises(ValueError, match="mask_ratio"):
        ADLJEPALoss(model, mask_ratio=0.0)
