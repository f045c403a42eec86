import math

import pytest
import torch
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from agents.actor import ZeroShotActorLoss, make_actor
from representations import make_representation, make_representation_loss
from representations.core import project_to_sphere
from representations.td_jepa import TDJEPA, TDJEPALoss

SQ2 = math.sqrt(2.0)


def _tiny_model(symmetric=False):
    """2-d observations, linear identity encoders (so φ(s) = ψ(s) = √2·s/‖s‖), constant predictors."""
    model = TDJEPA(
        2,
        1,
        z_dim=2,
        phi_dim=2,
        symmetric=symmetric,
        phi_encoder=dict(hidden_dim=4, hidden_layers=0),
        psi_encoder=dict(hidden_dim=4, hidden_layers=0),
        predictor=dict(hidden_dim=4, hidden_layers=1, ensemble_size=2),
    )
    with torch.no_grad():
        for enc in {model.phi_encoder, model.psi_encoder}:
            enc[0].weight.copy_(torch.eye(2))
            enc[0].bias.zero_()
        for pred in filter(None, [model.phi_predictor, model.psi_predictor]):
            pred.trunk[-1].weight.zero_()
            pred.trunk[-1].bias.copy_(torch.tensor([1.0, 1.0]))  # T(·) ≡ c = (1, 1)
    return model


def _batch():
    return TensorDict(
        {
            "observation": torch.tensor([[2.0, 0.0], [0.0, 3.0]]),  # φ = √2·e1, √2·e2
            "action": torch.zeros(2, 1),
            "z": torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
            "next": {
                "observation": torch.tensor([[0.0, 5.0], [1.0, 0.0]]),  # φ′ = √2·e2, √2·e1
                "terminated": torch.tensor([[False], [True]]),
            },
        },
        batch_size=[2],
    )


@pytest.mark.parametrize("symmetric", [False, True])
def test_td_loss_hand_computed(symmetric):
    model = _tiny_model(symmetric)
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    loss = TDJEPALoss(model, actor, gamma=0.5, target_noise_std=0.0, phi_ortho_coef=1.0, psi_ortho_coef=1.0)
    out = loss(_batch())
    # y = ψ′(s′) + γ(1−d)·c; prediction c. Row 0 (d=0): 0.5·c − √2·e2; row 1 (d=1): c − √2·e1.
    row0 = 0.5**2 + (0.5 - SQ2) ** 2
    row1 = (1 - SQ2) ** 2 + 1.0
    expected_td = (row0 + row1) / 2
    assert out["loss_phi_td"].item() == pytest.approx(expected_td, rel=1e-5)
    # φ = √2·I → C = 2I: −mean diag = −2, off-diagonal 0.
    assert out["loss_phi_ortho"].item() == pytest.approx(-2.0, rel=1e-5)
    if symmetric:
        assert "loss_psi_td" not in out.keys()
    else:
        # T_ψ target uses φ′(s′), identical to ψ′ here.
        assert out["loss_psi_td"].item() == pytest.approx(expected_td, rel=1e-5)
        assert out["loss_psi_ortho"].item() == pytest.approx(-2.0, rel=1e-5)


def test_ortho_coefficients_scale_the_regulariser():
    model = _tiny_model()
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    out = TDJEPALoss(model, actor, phi_ortho_coef=0.1, psi_ortho_coef=10.0)(_batch())
    assert out["loss_phi_ortho"].item() == pytest.approx(-0.2, rel=1e-5)
    assert out["loss_psi_ortho"].item() == pytest.approx(-20.0, rel=1e-5)


def test_actor_loss_hand_computed_and_no_predictor_grads():
    model = _tiny_model()
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    out = ZeroShotActorLoss(actor, model, noise_std=0.0)(_batch())
    # Q = c·z = 1 for both rows → loss −1.
    assert out["loss_actor"].item() == pytest.approx(-1.0)
    model2 = TDJEPA(
        3,
        2,
        z_dim=4,
        phi_dim=4,
        phi_encoder=dict(hidden_dim=8, hidden_layers=1),
        psi_encoder=dict(hidden_dim=8, hidden_layers=1),
        predictor=dict(hidden_dim=8, hidden_layers=1),
    )
    actor2 = make_actor(dict(hidden_dim=8, hidden_layers=1), model2, 2)
    td = TensorDict(
        {"observation": torch.randn(5, 3), "action": torch.zeros(5, 2), "z": project_to_sphere(torch.randn(5, 4))}, [5]
    )
    ZeroShotActorLoss(actor2, model2)(td)["loss_actor"].backward()
    assert all(p.grad is None for p in model2.parameters())
    assert all(p.grad is not None for p in actor2.parameters())


def test_loss_samples_z_and_writes_features_and_updates_covariance():
    model = TDJEPA(
        3,
        2,
        z_dim=4,
        phi_dim=5,
        phi_encoder=dict(hidden_dim=8, hidden_layers=2),
        psi_encoder=dict(hidden_dim=8, hidden_layers=2),
        predictor=dict(hidden_dim=8, hidden_layers=1),
    )
    actor = make_actor(dict(hidden_dim=8, hidden_layers=1), model, 2)
    loss = TDJEPALoss(model, actor, feature_cov_rate=0.5)
    td = TensorDict(
        {
            "observation": torch.randn(16, 3),
            "action": torch.zeros(16, 2),
            "next": {"observation": torch.randn(16, 3), "terminated": torch.zeros(16, 1, dtype=torch.bool)},
        },
        [16],
    )
    loss(td)
    assert td["z"].shape == (16, 4) and torch.allclose(td["z"].norm(dim=-1), torch.full((16,), 2.0), atol=1e-5)
    assert td["state_features"].shape == (16, 5) and not td["state_features"].requires_grad
    psi = model.psi(td["observation"]).detach()
    expected = 0.5 * torch.eye(4) + 0.5 * psi.T @ psi / 16
    assert torch.allclose(model.feature_cov, expected, atol=1e-5)
    loss.eval()
    loss(td)
    assert torch.allclose(model.feature_cov, expected, atol=1e-5)  # no EMA in eval mode


def test_training_goal_latents_come_from_next_states():
    """As the official sample_mixed_z(psi_next_obs): goal z = ψ(s′) of a shuffled batch, not ψ(s)."""
    model = _tiny_model()
    model.whiten_goals = False
    loss = TDJEPALoss(model, make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1), goal_ratio=1.0)
    td = _batch().exclude("z")
    td["next", "observation"] = torch.tensor([[3.0, 3.0], [2.0, -2.0]])  # ψ(s′) = (1, 1), (1, −1); ψ(s) = √2·e1, √2·e2
    torch.manual_seed(0)
    loss(td)
    goals = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    assert all(torch.allclose(z, goals[0], atol=1e-6) or torch.allclose(z, goals[1], atol=1e-6) for z in td["z"])


def test_gradients_reach_encoders_and_predictors():
    model = TDJEPA(
        3,
        2,
        z_dim=4,
        phi_dim=4,
        phi_encoder=dict(hidden_dim=8, hidden_layers=2),
        psi_encoder=dict(hidden_dim=8, hidden_layers=2),
        predictor=dict(hidden_dim=8, hidden_layers=1),
    )
    actor = make_actor(dict(hidden_dim=8, hidden_layers=1), model, 2)
    td = TensorDict(
        {
            "observation": torch.randn(8, 3),
            "action": torch.zeros(8, 2),
            "next": {"observation": torch.randn(8, 3), "terminated": torch.zeros(8, 1, dtype=torch.bool)},
        },
        [8],
    )
    out = TDJEPALoss(model, actor)(td)
    sum(v for k, v in out.items() if k.startswith("loss_")).backward()
    for name in ("phi_encoder", "psi_encoder", "phi_predictor", "psi_predictor"):
        assert all(p.grad is not None for p in getattr(model, name).parameters()), name
    assert all(p.grad is None for p in actor.parameters())  # a′ is a no-grad target


def test_soft_update_moves_targets_by_tau():
    model = _tiny_model()
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    loss = TDJEPALoss(model, actor)
    updater = SoftUpdate(loss, tau=0.25)
    before = loss.target_phi_encoder[0].weight.clone()
    with torch.no_grad():
        model.phi_encoder[0].weight.add_(4.0)
    updater.step()
    assert torch.allclose(loss.target_phi_encoder[0].weight, 0.75 * before + 0.25 * model.phi_encoder[0].weight)
    assert not any(p.requires_grad for p in loss.target_phi_predictor.parameters())


def test_set_keys_renames_inputs():
    model = _tiny_model()
    actor = make_actor(dict(hidden_dim=4, hidden_layers=1), model, 1)
    loss = TDJEPALoss(model, actor, target_noise_std=0.0)
    loss.set_keys(observation="obs", next_observation=("next", "obs"))
    td = _batch()
    td.rename_key_("observation", "obs")
    td.rename_key_(("next", "observation"), ("next", "obs"))
    assert loss(td)["loss_phi_td"].item() > 0
    assert "obs" in loss.in_keys


def test_reward_inference_recovers_planted_task():
    torch.manual_seed(0)
    model = TDJEPA(
        6,
        2,
        z_dim=4,
        phi_dim=4,
        phi_encoder=dict(hidden_dim=16, hidden_layers=2),
        psi_encoder=dict(hidden_dim=16, hidden_layers=2),
        predictor=dict(hidden_dim=8, hidden_layers=1),
    )
    next_obs = torch.randn(2000, 6)
    z_true = project_to_sphere(torch.randn(4))
    rewards = model.psi(next_obs).detach() @ z_true * 0.3  # the scale is removed by the projection
    assert torch.allclose(model.infer_z_from_rewards(next_obs, rewards), z_true, atol=1e-4)


def test_goal_inference_whitens_with_feature_covariance():
    model = TDJEPA(
        3,
        1,
        z_dim=2,
        phi_dim=2,
        psi_encoder=dict(hidden_dim=4, hidden_layers=0),
        phi_encoder=dict(hidden_dim=4, hidden_layers=0),
        predictor=dict(hidden_dim=4, hidden_layers=1),
    )
    goal = torch.tensor([1.0, 2.0, 3.0])
    psi = model.psi(goal[None]).detach()[0]
    assert torch.allclose(model.infer_z_from_goal(goal), project_to_sphere(psi), atol=1e-5)
    model.feature_cov.copy_(torch.diag(torch.tensor([4.0, 1.0])))
    assert torch.allclose(model.infer_z_from_goal(goal), project_to_sphere(psi / torch.tensor([4.0, 1.0])), atol=1e-5)
    model.whiten_goals = False
    assert torch.allclose(model.infer_z_from_goal(goal), project_to_sphere(psi), atol=1e-5)


def test_official_ogbench_configuration_parameter_count():
    """Launcher values (φ, ψ 4×512→50, predictors 512×2 twin, actor 512×2): ≈6.1 M params (notes)."""
    rep_cfg = {
        "name": "td_jepa",
        "z_dim": 50,
        "phi_dim": 50,
        "phi_encoder": {"hidden_dim": 512, "hidden_layers": 4},
        "psi_encoder": {"hidden_dim": 512, "hidden_layers": 4},
        "predictor": {"hidden_dim": 512, "hidden_layers": 2, "embedding_layers": 2, "ensemble_size": 2},
    }
    model = make_representation(rep_cfg, 29, 8)
    actor = make_actor({"hidden_dim": 512, "hidden_layers": 2}, model, 8)
    n = sum(p.numel() for p in model.parameters()) + sum(p.numel() for p in actor.parameters())
    assert 6.0e6 < n < 6.2e6


def test_bad_representation_options_are_reported():
    with pytest.raises(ValueError, match="unknown representation 'nope'"):
        make_representation({"name": "nope"}, 3, 1)
    with pytest.raises(ValueError, match="bad option for representation 'td_jepa'"):
        make_representation({"name": "td_jepa", "not_a_field": 1}, 3, 1)
    model = make_representation({"name": "td_jepa", "z_dim": 4, "phi_dim": 4}, 3, 1)
    with pytest.raises(ValueError, match="representation.loss"):
        make_representation_loss({"name": "td_jepa", "loss": {"gama": 0.9}}, model, torch.nn.Identity())


def test_symmetric_uses_one_encoder_with_psi_size_and_architecture():
    # The DMC preset's linear 256-d φ does not apply: φ ≡ ψ is ψ's 4-d, 2-layer MLP (official sym launchers).
    model = make_representation(
        {
            "name": "td_jepa",
            "symmetric": True,
            "phi_dim": 8,
            "z_dim": 4,
            "phi_encoder": {"hidden_dim": 16, "hidden_layers": 0},
            "psi_encoder": {"hidden_dim": 6, "hidden_layers": 2},
        },
        3,
        1,
    )
    assert model.phi_encoder is model.psi_encoder and model.phi_dim == 4 and model.psi_predictor is None
    linears = [m for m in model.phi_encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 6), (6, 6), (6, 4)]
    groups = model.parameter_groups()
    assert groups["psi_encoder"] == [] and len(groups["phi_encoder"]) == 8  # 3 Linear + 1 LayerNorm
