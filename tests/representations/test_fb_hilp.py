"""FB and HILP: losses against hand-computed values, zero-shot inference, future-goal sampling."""

import math

import pytest
import torch
from tensordict import TensorDict

from agents.actor import make_actor
from envs.common import episode_last_rows, sample_future_rows
from representations.fb import FB, FBLoss, fb_loss
from representations.hilp import HILP, HILPLoss, expectile_loss, hilbert_value

SQ2 = math.sqrt(2.0)


def _identity_linear(seq):
    with torch.no_grad():
        seq[0].weight.copy_(torch.eye(2))
        seq[0].bias.zero_()


def _constant_predictor(pred, value=(1.0, 1.0)):
    with torch.no_grad():
        pred.trunk[-1].weight.zero_()
        pred.trunk[-1].bias.copy_(torch.tensor(value))


def test_fb_loss_formula_on_tiny_matrices():
    m = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # one ensemble member
    target = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    discount = torch.tensor([[0.5], [0.0]])
    loss, diag, off = fb_loss(m, target, discount)
    # diff = [[0.5, 1.5], [3, 4]]: off-diagonal ½(1.5² + 3²)/2, diagonal −(0.5 + 4)/2
    assert off.item() == pytest.approx(0.5 * (2.25 + 9.0) / 2)
    assert diag.item() == pytest.approx(-2.25)
    assert loss.item() == pytest.approx(0.5 * 11.25 / 2 - 2.25)


def _tiny_fb():
    model = FB(
        2,
        1,
        z_dim=2,
        left_dim=2,
        left_encoder=dict(hidden_dim=4, hidden_layers=0),
        backward=dict(hidden_dim=4, hidden_layers=0),
        forward_map=dict(hidden_dim=4, hidden_layers=1),
    )
    _identity_linear(model.left_encoder)
    _identity_linear(model.backward_map)
    _constant_predictor(model.forward_map)  # F(·) ≡ (1, 1)
    return model


def _batch():
    return TensorDict(
        {
            "observation": torch.tensor([[2.0, 0.0], [0.0, 3.0]]),
            "action": torch.zeros(2, 1),
            "z": torch.tensor([[SQ2, 0.0], [0.0, SQ2]]),
            "next": {
                "observation": torch.tensor([[0.0, 5.0], [1.0, 0.0]]),  # B(s′) = √2·e2, √2·e1
                "terminated": torch.tensor([[False], [True]]),
            },
        },
        batch_size=[2],
    )


def test_fb_loss_hand_computed():
    model = _tiny_fb()
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    out = FBLoss(model, actor, gamma=0.5, target_noise_std=0.0)(_batch())
    # M = M′ = √2 everywhere (F ≡ (1,1), B rows √2·e_k). diff row 0: √2(1 − 0.5), row 1 (terminal): √2.
    off = 0.5 * 2 * ((SQ2 / 2) ** 2 + SQ2**2) / 2  # two ensemble members
    diag = -2 * (SQ2 / 2 + SQ2) / 2
    assert out["fb_offdiag"].item() == pytest.approx(off, rel=1e-5)
    assert out["loss_fb"].item() == pytest.approx(off + diag, rel=1e-5)
    assert out["loss_ortho"].item() == pytest.approx(-2.0, rel=1e-5)  # B Bᵀ = 2I


def test_fb_reward_inference_is_the_reward_weighted_backward_sum():
    model = _tiny_fb()
    next_obs = torch.tensor([[0.0, 5.0], [1.0, 0.0], [3.0, 3.0]])
    z = model.infer_z_from_rewards(next_obs, torch.tensor([0.0, 2.0, 0.0]))
    torch.testing.assert_close(z, torch.tensor([SQ2, 0.0]))  # project(2·√2·e1)
    torch.testing.assert_close(model.infer_z_from_goal(torch.tensor([0.0, 7.0])), torch.tensor([0.0, SQ2]))


def test_hilbert_value_and_expectile_loss():
    assert hilbert_value(torch.zeros(1, 2), torch.tensor([[3.0, 4.0]])).item() == pytest.approx(-5.0)
    loss = expectile_loss(torch.tensor([1.0, -1.0]), torch.tensor([2.0, 2.0]), 0.7)
    assert loss.item() == pytest.approx((0.7 * 4 + 0.3 * 4) / 2)


def _tiny_hilp():
    model = HILP(
        2,
        1,
        z_dim=2,
        left_dim=2,
        features=dict(hidden_dim=4, hidden_layers=0),
        left_encoder=dict(hidden_dim=4, hidden_layers=0),
        successor_features=dict(hidden_dim=4, hidden_layers=1),
    )
    for seq in (model.features, model.features2, model.left_encoder):
        _identity_linear(seq)  # φ₁(s) = φ₂(s) = s
    _constant_predictor(model.sf_net)  # SF(·) ≡ (1, 1)
    return model


def test_hilp_losses_hand_computed():
    model = _tiny_hilp()
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    loss = HILPLoss(model, actor, gamma=0.5, expectile=0.7, random_goal_ratio=0.0, target_noise_std=0.0)
    batch = TensorDict(
        {
            "observation": torch.tensor([[0.0, 0.0]]),
            "action": torch.zeros(1, 1),
            "z": torch.tensor([[SQ2, 0.0]]),
            "future_observation": torch.tensor([[3.0, 4.0]]),
            "next": {"observation": torch.tensor([[1.0, 0.0]]), "terminated": torch.tensor([[False]])},
        },
        batch_size=[1],
    )
    out = loss(batch)
    # q = −1 + γ·V′(s′, g) = −1 − 0.5·√20; V(s, g) = −5; advantage > 0 → weight τ, for both copies.
    diff = -1 - 0.5 * math.sqrt(20) + 5
    assert out["loss_value"].item() == pytest.approx(2 * 0.7 * diff**2, rel=1e-5)
    # SF target φ(s′) + γ·(1, 1) = (1.5, 0.5) vs prediction (1, 1): ½·E·mse = ½·2·0.25
    assert out["loss_sf"].item() == pytest.approx(0.25, rel=1e-5)
    # reaching the goal ends the value's episode: goal = s gives q = 0 and V = −√1e-6
    batch["future_observation"] = batch["observation"].clone()
    out = loss(batch)
    assert out["loss_value"].item() == pytest.approx(2 * 0.7 * 1e-6, rel=1e-3)


def test_hilp_without_future_observations_names_the_fix():
    model = _tiny_hilp()
    loss = HILPLoss(model, make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1))
    batch = _batch()
    with pytest.raises(KeyError, match="dataset.future=0.99"):
        loss(batch)


def test_future_rows_stay_in_the_episode_and_follow_the_geometric_law():
    terminals = torch.tensor([0, 0, 1, 0, 0, 0, 0, 1], dtype=torch.bool)
    last = episode_last_rows(terminals)
    assert last.tolist() == [2, 2, 2, 7, 7, 7, 7, 7]
    index = torch.tensor([0, 1, 3, 6])
    assert sample_future_rows(index, last, 0.0).tolist() == [1, 2, 4, 7]  # future=0: the next row
    g = torch.Generator().manual_seed(0)
    long_last = episode_last_rows(torch.tensor([0] * 9999 + [1], dtype=torch.bool))
    rows = sample_future_rows(torch.zeros(20000, dtype=torch.long), long_last, 0.9, g)
    assert rows.min() >= 1 and rows.max() <= 9999
    assert rows.float().mean().item() == pytest.approx(10.0, rel=0.05)  # E[k] = 1/(1 − 0.9)
    with pytest.raises(ValueError, match=r"dataset.future must be in \[0, 1\)"):
        sample_future_rows(index, last, 1.0)


def test_fb_loss_on_row_shards_averages_to_the_full_batch_loss():
    """Data-parallel form: each rank's rows against all columns, diagonal at its offset."""
    from representations.fb.loss import fb_loss

    torch.manual_seed(0)
    m, target_m, discount = torch.randn(2, 6, 6), torch.randn(6, 6), torch.rand(6, 1)
    full = fb_loss(m, target_m, discount)
    shards = [fb_loss(m[:, rows], target_m[rows], discount[rows], diag_offset=rows.start) for rows in (slice(0, 3), slice(3, 6))]
    for i in range(3):
        torch.testing.assert_close((shards[0][i] + shards[1][i]) / 2, full[i])


def test_hilp_goal_z_is_the_unit_direction_from_the_state_to_the_goal():
    """HILP §4.3: z = (φ(g) − φ(s)) / ‖φ(g) − φ(s)‖ at every state (on the √d-sphere), with φ = identity here."""
    model = _tiny_hilp()
    model.features_mean.fill_(7.0)  # the centring cancels in the difference
    assert model.goal_z_per_step
    obs, goal = torch.tensor([[0.0, 0.0], [3.0, 0.0]]), torch.tensor([[3.0, 4.0], [3.0, 4.0]])
    torch.testing.assert_close(model.infer_z_toward_goal(obs, goal), SQ2 * torch.tensor([[0.6, 0.8], [0.0, 1.0]]))


def test_hilp_goal_inference_features_keeps_one_z_per_episode():
    model = HILP(2, 1, z_dim=2, left_dim=2, features=dict(hidden_dim=4, hidden_layers=0), goal_inference="features")
    assert not model.goal_z_per_step
    goal = torch.tensor([[3.0, 4.0], [3.0, 4.0]])
    z = model.infer_z_toward_goal(torch.tensor([[0.0, 0.0], [3.0, 0.0]]), goal)
    torch.testing.assert_close(z, model.infer_z_from_goal(goal[0]).expand(2, -1))
    with pytest.raises(ValueError, match="representation.goal_inference='nearest'.*'direction'"):
        HILP(2, 1, z_dim=2, goal_inference="nearest")
