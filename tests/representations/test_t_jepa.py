"""T-JEPA (issue #8, part 1): tokenizer on mixed columns, feature-subset masks, loss and EMA target."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from representations.core.masks import feature_subset_masks
from representations.core.positions import sincos_1d
from representations.t_jepa import FeatureTokenizer, TJEPA, TJEPALoss


def test_tokenizer_on_mixed_columns_matches_a_hand_computation():
    tok = FeatureTokenizer(2, [3, 2], dim=4, reg_tokens=1)
    with torch.no_grad():
        tok.reg_tokens.fill_(0.5)
        tok.numeric_weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 2.0, 0, 0]]))
        tok.numeric_bias.fill_(0.1)
        tok.embedding.weight.copy_(torch.arange(5 * 4, dtype=torch.float32).reshape(5, 4))  # 3 + 2 codes
        tok.categorical_bias.zero_()
    tokens = tok(torch.tensor([[3.0, -1.0]]), torch.tensor([[2, 1]]))
    pos = sincos_1d(5, 4)
    assert tokens.shape == (1, 1 + 4, 4)
    torch.testing.assert_close(tokens[0, 0], 0.5 + pos[0])
    torch.testing.assert_close(tokens[0, 1], torch.tensor([3.1, 0.1, 0.1, 0.1]) + pos[1])
    torch.testing.assert_close(tokens[0, 2], torch.tensor([0.1, -1.9, 0.1, 0.1]) + pos[2])
    torch.testing.assert_close(tokens[0, 3], torch.arange(8.0, 12.0) + pos[3])  # column 0, code 2 → row 2
    torch.testing.assert_close(tokens[0, 4], torch.arange(16.0, 20.0) + pos[4])  # column 1, code 1 → row 3 + 1
    with pytest.raises(ValueError, match=r"expected 2 categorical columns \(codes\), got None"):
        tok(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="expected 2 numeric features"):
        tok(torch.zeros(1, 3), torch.zeros(1, 2, dtype=torch.long))


def test_feature_subset_masks_are_disjoint_in_bounds_and_seeded():
    generator = torch.Generator().manual_seed(0)
    context, targets = feature_subset_masks(64, 20, generator=generator, context_share=(0.2, 0.3), target_share=(0.2, 0.4))
    assert context.shape[0] == 64 and targets.shape[:2] == (64, 4)
    assert 4 <= context.shape[1] <= 6 and 4 <= targets.shape[2] <= 8
    for ctx, tgt in zip(context, targets):
        assert len(set(ctx.tolist())) == len(ctx) and (ctx.diff() > 0).all()  # distinct, sorted
        assert not set(ctx.tolist()) & set(tgt.flatten().tolist())  # targets never in the context
        assert tgt.min() >= 0 and tgt.max() < 20 and (tgt.diff(dim=1) > 0).all()
    again = feature_subset_masks(
        64, 20, generator=torch.Generator().manual_seed(0), context_share=(0.2, 0.3), target_share=(0.2, 0.4)
    )
    assert torch.equal(again[0], context) and torch.equal(again[1], targets)
    tiny_ctx, tiny_tgt = feature_subset_masks(8, 2, generator=generator, context_share=0.9, target_share=0.9)
    assert tiny_ctx.shape == (8, 1) and tiny_tgt.shape == (8, 4, 1)  # at least one of each, always disjoint
    with pytest.raises(ValueError, match="at least 2 features"):
        feature_subset_masks(4, 1, generator=generator)


def test_loss_trains_the_online_networks_and_the_ema_follows():
    torch.manual_seed(0)
    model = TJEPA(6, [4], dim=16, depth=2, heads=2, predictor_dim=8, predictor_depth=1, predictor_heads=2)
    loss = TJEPALoss(model, seed=0)
    updater = SoftUpdate(loss, eps=0.5)
    batch = TensorDict({"observation": torch.randn(32, 6), "categorical": torch.randint(0, 4, (32, 1))}, [32])
    before = loss.target_encoder_params.clone()
    out = loss(batch)
    assert out["loss_prediction"].requires_grad and torch.isfinite(out["loss_prediction"])
    out["loss_prediction"].backward()
    assert model.tokenizer.numeric_weight.grad.abs().sum() > 0 and model.predictor.mask_tokens.grad is not None
    assert all(p.grad is None for p in loss.target_encoder_params.values(True, True))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    updater.step()  # target ← 0.5 · target + 0.5 · online
    online = loss.encoder_params
    floats = [k for k, v in loss.target_encoder_params.items(True, True) if v.is_floating_point()]
    assert any("numeric_weight" in str(k) for k in floats)
    for key in floats:
        torch.testing.assert_close(loss.target_encoder_params[key], 0.5 * before[key] + 0.5 * online[key])
    assert model.encode(batch["observation"], batch["categorical"]).shape == (32, 16)
    assert model.encode(batch["observation"], batch["categorical"], pool="flatten").shape == (32, (1 + 7) * 16)


def test_without_regularisation_tokens_the_row_is_only_its_feature_tokens():
    torch.manual_seed(0)
    model = TJEPA(6, [4], dim=16, depth=1, heads=2, predictor_dim=8, predictor_depth=1, predictor_heads=2, reg_tokens=0)
    batch = TensorDict({"observation": torch.randn(8, 6), "categorical": torch.randint(0, 4, (8, 1))}, [8])
    assert model.num_tokens == 7 and model.context_index(torch.tensor([[2, 5]])).tolist() == [[2, 5]]
    out = TJEPALoss(model, seed=0)(batch)
    assert torch.isfinite(out["loss_prediction"])
    assert model.encode(batch["observation"], batch["categorical"], pool="flatten").shape == (8, 7 * 16)
    with pytest.raises(ValueError, match="objective.model.reg_tokens must be >= 0, got reg_tokens=-1"):
        TJEPA(6, [4], dim=16, reg_tokens=-1)
