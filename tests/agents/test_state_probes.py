"""Frozen-encoder state probes: ridge R² per column, pooled R² per quantity, attentive pooling (hand-checked)."""

from __future__ import annotations

import pytest
import torch

from agents.probes import fit_regressor, pooled_r2, r2_per_dim, ridge_r2_per_dim
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
