"""ACT-JEPA / ACT / MLP-BC: masked losses on hand-computed padded batches, EMA schedule, shapes."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from representations.act_jepa import ACTJEPA, MLPBC, ActionChunkLoss, make_bc_policy, masked_l1
from representations.core.positions import sincos_1d
from representations.core.targets import linear_momentum

TINY = dict(
    chunk=3,
    d_model=16,
    heads=2,
    ffn_dim=32,
    encoder_layers=1,
    predictor_dim=8,
    predictor_ffn_dim=16,
    predictor_layers=1,
    dropout=0.0,
)


def test_masked_l1_ignores_padded_steps():
    prediction = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # [B=1, H=3, A=2]
    target = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])
    is_pad = torch.tensor([[False, False, True]])
    # real entries: |1|, |2|, |2|, |3| → mean 2.0; the padded 100s do not count
    assert masked_l1(prediction, target, is_pad).item() == pytest.approx(2.0)
    assert masked_l1(prediction, target, torch.ones(1, 3, dtype=torch.bool)).item() == 0.0  # all padded: 0, not NaN


def test_ema_momentum_rises_linearly_then_holds():
    assert linear_momentum(0, 4000) == pytest.approx(0.996)
    assert linear_momentum(1000, 4000) == pytest.approx(0.997)
    assert linear_momentum(4000, 4000) == pytest.approx(1.0)
    assert linear_momentum(9000, 4000) == pytest.approx(1.0)


def test_sincos_positions_match_the_formula():
    pe = sincos_1d(5, 4)
    assert pe.shape == (5, 4)
    p, i = 3, 1  # PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)
    assert pe[p, 2 * i].item() == pytest.approx(torch.sin(torch.tensor(p / 10000 ** (2 * i / 4))).item())
    assert pe[p, 2 * i + 1].item() == pytest.approx(torch.cos(torch.tensor(p / 10000 ** (2 * i / 4))).item())
    with pytest.raises(ValueError, match="even dimension"):
        sincos_1d(3, 5)


def batch(b=4, h=3, d=2, a=2, pad_from=None):
    g = torch.Generator().manual_seed(0)
    action_is_pad = torch.zeros(b, h, dtype=torch.bool)
    state_is_pad = torch.zeros(b, h + 1, dtype=torch.bool)
    if pad_from is not None:
        action_is_pad[0, pad_from:] = True
        state_is_pad[0, pad_from + 1 :] = True
    return TensorDict(
        {
            "observation": torch.randn(b, d, generator=g),
            "goal": torch.randn(b, d, generator=g),
            "task": torch.zeros(b, dtype=torch.long),
            "actions": torch.randn(b, h, a, generator=g).clamp(-1, 1),
            "action_is_pad": action_is_pad,
            "states": torch.randn(b, h + 1, d, generator=g),
            "state_is_pad": state_is_pad,
        },
        [b],
    )


def test_act_jepa_loss_is_action_l1_plus_latent_l1_against_the_ema_target():
    torch.manual_seed(0)
    model = ACTJEPA(2, 2, jepa=True, **TINY).eval()
    loss = ActionChunkLoss(model, latent_coef=0.5)
    td = batch(pad_from=1)
    out = loss(td)
    actions = model.predict_actions(td["observation"], td["goal"])
    assert out["loss_action"].item() == pytest.approx(masked_l1(actions, td["actions"], td["action_is_pad"]).item(), rel=1e-5)
    # target: the (still identical) EMA copy of the context encoder on s_t..s_{t+H-1}, condition token dropped
    target = model.context_encoder(td["states"][:, :3], td["goal"], None, td["state_is_pad"][:, :3])[:, 1:]
    predicted = model.predict_latents(model.encode(td["observation"], td["goal"]))
    expected = 0.5 * masked_l1(predicted, target, td["state_is_pad"][:, :3])
    assert out["loss_latent"].item() == pytest.approx(expected.item(), rel=1e-5)
    # gradients reach the context encoder through both terms, never the target copy
    (out["loss_action"] + out["loss_latent"]).backward()
    assert model.context_encoder.state_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.target_context_encoder.parameters())


def test_target_encoder_follows_the_context_encoder_by_ema():
    torch.manual_seed(0)
    model = ACTJEPA(2, 2, jepa=True, **TINY)
    loss = ActionChunkLoss(model)
    updater = SoftUpdate(loss, eps=0.9)
    online, target = model.context_encoder.state_proj.weight, loss.target_context_encoder.state_proj.weight
    before = target.detach().clone()
    with torch.no_grad():
        online.add_(1.0)
    updater.step()
    torch.testing.assert_close(target, 0.9 * before + 0.1 * online.detach())
    assert not loss.target_context_encoder.training  # always eval mode (no dropout in targets)


def test_padded_future_states_do_not_change_the_targets_of_real_steps():
    torch.manual_seed(0)
    model = ACTJEPA(2, 2, jepa=True, **TINY).eval()
    loss = ActionChunkLoss(model)
    td = batch(pad_from=1)
    changed = td.clone()
    changed["states"][0, 2:] = 1e3  # padded entries of window 0
    torch.testing.assert_close(loss(td)["loss_latent"], loss(changed)["loss_latent"])


def test_act_has_no_latent_branch_and_mlp_bc_predicts_chunks():
    act = make_bc_policy({"name": "act", **{k: v for k, v in TINY.items() if not k.startswith("predictor")}}, 2, 2)
    assert act.predictor is None and not act.jepa
    out = ActionChunkLoss(act)(batch())
    assert set(out.keys()) == {"loss_action"}
    mlp = MLPBC(2, 2, chunk=3, hidden_dim=8, hidden_layers=2)
    assert mlp.predict_actions(torch.zeros(5, 2), torch.zeros(5, 2)).shape == (5, 3, 2)
    assert set(ActionChunkLoss(mlp)(batch()).keys()) == {"loss_action"}


def test_task_conditioning_and_clear_errors():
    model = ACTJEPA(2, 2, condition="task", num_tasks=5, **TINY)
    assert model.predict_actions(torch.zeros(4, 2), task=torch.tensor([0, 1, 2, 4])).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="task-conditioned: pass the task index"):
        model.predict_actions(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="agents.bc trains"):
        make_bc_policy({"name": "td_jepa"}, 2, 2)
    with pytest.raises(ValueError, match="bad option for policy 'act_jepa'"):
        make_bc_policy({"name": "act_jepa", "wings": 2}, 2, 2)


def test_sincos_2d_encodes_row_then_column():
    from representations.core.positions import sincos_2d

    pe = sincos_2d(2, 3, 8)
    assert pe.shape == (6, 8)
    # token (row 1, col 2) = [sincos_1d(row 1, 4), sincos_1d(col 2, 4)]
    torch.testing.assert_close(pe[1 * 3 + 2], torch.cat([sincos_1d(2, 4)[1], sincos_1d(3, 4)[2]]))
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(2, 2, 6)


def test_image_tokens_join_the_context_but_not_the_targets():
    torch.manual_seed(0)
    model = ACTJEPA(2, 2, jepa=True, image_tokens=True, image_channels=4, **TINY).eval()
    obs, goal = torch.zeros(3, 2), torch.zeros(3, 2)
    pixels = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    context = model.encode(obs, goal, pixels=pixels)
    assert context.shape == (3, 2 + 2 * 2, 16)  # condition, state, a 2 x 2 grid of image tokens (16 px / 8)
    assert model.features(obs, goal, pixels=pixels).shape == (3, model.feature_dim)
    other = model.encode(obs, goal, pixels=255 - pixels)
    assert not torch.allclose(context[:, 1], other[:, 1])  # the state token attends to the frame
    td = batch()
    td["pixels"] = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    out = ActionChunkLoss(model)(td)
    assert torch.isfinite(out["loss_latent"])
    with pytest.raises(ValueError, match="reads image tokens: pass the frame"):
        model.encode(obs, goal)
