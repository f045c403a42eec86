"""Frozen-encoder state probes: ridge R² per column, pooled R² per quantity, attentive pooling (hand-checked)."""

from __future__ import annotations

import pytest
import torch

from agents.pretrain_vision import part_probe, patch_part_labels
from agents.probes import class_iou, fit_regressor, pooled_r2, r2_per_dim, ridge_r2_per_dim
from representations.core.vit import AttentivePooler


def test_r2_per_dim_and_pooled_r2_match_hand_computed_values():
    target = torch.tensor([[0.0, 0.0], [2.0, 1.0], [4.0, 2.0]])  # variances 8/3 and 2/3
    prediction = torch.tensor([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    per_dim = r2_per_dim(prediction, target)  # 1 − SSE/SST: 1 − 2/8 and 1 − 2/2
    torch.testing.assert_close(per_dim, torch.tensor([0.75, 0.0]))
    pooled = pooled_r2(per_dim, target, {"both": [0, 2], "first": [0, 1]})
    assert pooled["both"] == pytest.approx(1 - (2 + 2) / (8 + 2))  # 1 − ΣSSE/ΣSST, not the plain mean 0.375
    assert pooled["first"] == pytest.approx(0.75)


def test_ridge_probe_recovers_linear_targets_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(600, 8, generator=generator)
    y = torch.stack([x @ torch.arange(8.0) + 3.0, torch.randn(600, generator=generator)], dim=1)
    r2 = ridge_r2_per_dim(x[:400], y[:400], x[500:], y[500:], val_x=x[400:500], val_y=y[400:500])
    assert r2[0] > 0.999 and r2[1] < 0.05


def test_attentive_probe_reads_one_token_that_mean_pooling_dilutes():
    generator = torch.Generator().manual_seed(0)
    content = torch.randn(800, 6, 4, generator=generator)
    tokens = torch.cat([content, torch.eye(6).expand(800, 6, 6)], dim=-1)  # + a position code, as ViT tokens carry
    y = content[:, 2, :1] * 2.0  # the first feature of token 2 only
    torch.manual_seed(0)
    predict = fit_regressor(
        AttentivePooler(10, out_dim=1), tokens[:600], y[:600], val_x=tokens[600:700], val_y=y[600:700], steps=800, lr=1e-2
    )
    attentive = r2_per_dim(predict(tokens[700:]), y[700:]).item()
    linear = ridge_r2_per_dim(
        tokens[:600].mean(1), y[:600], tokens[700:].mean(1), y[700:], val_x=tokens[600:700].mean(1), val_y=y[600:700]
    ).item()
    assert attentive > 0.9 and linear < 0.3  # mean pooling keeps 1/6 of the signal among the other tokens' noise


def test_class_iou_matches_a_hand_count():
    iou = class_iou(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 4)
    # class 0: 1 hit; class 1: 1 hit, 1 false positive; class 2: 1 hit, 1 miss; class 3: nowhere
    assert iou[:3].tolist() == [1.0, 0.5, 0.5] and iou[3].isnan()


def test_patch_labels_take_the_commonest_part_of_a_patch_a_quarter_covered():
    parts = torch.zeros(1, 4, 4, dtype=torch.uint8)  # a 2 x 2 grid of 2 x 2 px patches
    parts[0, 0, 0] = 5  # top-left: 1 of 4 pixels, a quarter → part 5
    parts[0, 0, 2:] = 3  # top-right: 3, 3, 5 → 3
    parts[0, 1, 2] = 5
    parts[0, 3, 3] = 0  # bottom-left: nothing; bottom-right: nothing
    assert patch_part_labels(parts, 2, 6).tolist() == [[5, 3, 0, 0]]
    assert patch_part_labels(parts, 2, 6, min_cover=0.5).tolist() == [[0, 3, 0, 0]]
    with pytest.raises(ValueError, match="part maps of 4 px do not tile into a 3 x 3 token grid"):
        patch_part_labels(parts, 3, 6)


def test_part_probe_reads_tokens_that_encode_their_patch_and_fails_on_noise():
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        parts = torch.randint(0, 4, (n, 8, 8), generator=g, dtype=torch.uint8).repeat_interleave(2, 1)
        parts = parts.repeat_interleave(2, 2)[:, :8, :8].contiguous()  # 2 x 2 px blocks: one part per patch of a 4 x 4 grid
        labels = patch_part_labels(parts, 4, 4)
        return torch.nn.functional.one_hot(labels, 4).float() + 0.01 * torch.randn(n, 16, 4, generator=g), parts

    (train_x, train_p), (val_x, val_p), (test_x, test_p) = split(60), split(20), split(20)
    parts = {"train": train_p, "val": val_p, "test": test_p}
    scores = part_probe({"train": train_x, "val": val_x, "test": test_x}, parts, 4)
    assert scores == {"part_miou_linear": 1.0, "part_accuracy_linear": 1.0}
    noise = {k: torch.randn(v.shape, generator=g) for k, v in (("train", train_x), ("val", val_x), ("test", test_x))}
    assert part_probe(noise, parts, 4)["part_accuracy_linear"] < 0.6  # 3 parts: chance 1/3
