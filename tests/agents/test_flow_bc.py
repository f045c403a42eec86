"""flow-BC actor, actor initialisation and the TD3+BC normaliser, on tiny hand-made networks."""

import pytest
import torch
from hydra import compose, initialize_config_dir
from tensordict import TensorDict
from torch import nn

from agents.actor import FlowBCActorLoss, ZeroShotActorLoss, make_actor, make_actor_loss, q_scale, resolve_actor_config
from agents.engine import make_optimizer
from representations.core.networks import FlowBCActor, VelocityField, ZConditionedActor, build_actor
from representations.td_jepa import TDJEPA, TDJEPALoss
from tests.agents.tiny import CONFIGS


def _constant_q_model():
    """2-d observations; the φ-predictor members are constant: member 0 ≡ (1, −3), member 1 ≡ (3, 1)."""
    model = TDJEPA(
        2,
        2,
        z_dim=2,
        phi_dim=2,
        phi_encoder=dict(hidden_dim=4, hidden_layers=0),
        psi_encoder=dict(hidden_dim=4, hidden_layers=0),
        predictor=dict(hidden_dim=4, hidden_layers=1, ensemble_size=2),
    )
    with torch.no_grad():
        last = model.phi_predictor.trunk[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([[[1.0, -3.0]], [[3.0, 1.0]]]))
    return model


def _batch():
    return TensorDict(
        {
            "observation": torch.tensor([[2.0, 0.0], [0.0, 3.0]]),
            "action": torch.tensor([[0.5, -0.5], [0.0, 0.25]]),
            "z": torch.tensor([[1.0, 0.0], [0.0, 1.0]]),  # Q rows: member 0 (1, −3), member 1 (3, 1)
        },
        batch_size=[2],
    )


def test_q_scale_is_the_mean_over_individual_members():
    member_q = torch.tensor([[1.0, -3.0], [3.0, 1.0]])
    # |mean over members| would give (2 + 1)/2 = 1.5; the reference divides by the members' mean |Q|.
    assert q_scale(member_q).item() == pytest.approx(2.0)


def test_td3_bc_loss_hand_computed():
    model = _constant_q_model()
    actor = make_actor({"hidden_dim": 8, "hidden_layers": 1}, model, 2)
    loss = ZeroShotActorLoss(actor, model, noise_std=0.0, bc_coeff=0.3)
    td = _batch()
    out = loss(td)
    with torch.no_grad():
        bc = (actor(td["observation"], td["z"]) - td["action"]).square().mean()
    # mean Q = (2 − 1)/2 = 0.5, normalised by 2.
    assert out["loss_actor"].item() == pytest.approx(-0.5 / 2.0 + 0.3 * bc.item(), rel=1e-5)
    assert out["q_mean"].item() == pytest.approx(0.5)


def test_flow_bc_loss_hand_computed():
    model = _constant_q_model()
    actor = build_actor("flow_bc", 2, 2, 2, hidden_dim=8, hidden_layers=1, flow_hidden_dim=8, flow_hidden_layers=2)
    loss = FlowBCActorLoss(actor, model, bc_coeff=0.3, flow_steps=4)
    td = _batch()
    torch.manual_seed(3)
    out = loss(td)
    # Replay the same random draws: flow-matching start ε′, t, then the policy noise ε.
    torch.manual_seed(3)
    obs, z, a = td["observation"], td["z"], td["action"]
    start, t, noise = torch.randn_like(a), torch.rand(2, 1), torch.randn_like(a)
    with torch.no_grad():
        a_t = (1 - t) * start + t * a
        flow_loss = (actor.flow(obs, a_t, t) - (a - start)).square().mean()
        policy = actor.policy(obs, z, noise)
        flow_action = noise.clone()
        for i in range(4):
            flow_action = flow_action + actor.flow(obs, flow_action, torch.full((2, 1), i / 4)) / 4
        bc = (policy - flow_action.clamp(-1, 1)).square().mean()
    assert out["loss_flow"].item() == pytest.approx(flow_loss.item(), rel=1e-5)
    assert out["bc_error"].item() == pytest.approx(bc.item(), rel=1e-5)
    assert out["loss_actor"].item() == pytest.approx(-0.5 / 2.0 + 0.3 * bc.item(), rel=1e-5)
    # Gradients: the Q/BC term reaches the policy only, flow matching the flow only.
    actor.zero_grad()
    out["loss_flow"].backward()
    assert all(p.grad is None for p in actor.policy.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.flow.parameters())


def test_flow_bc_without_bc_is_the_plain_q_loss():
    model = _constant_q_model()
    actor = build_actor("flow_bc", 2, 2, 2, hidden_dim=8, hidden_layers=1, flow_hidden_dim=8, flow_hidden_layers=2)
    out = FlowBCActorLoss(actor, model, bc_coeff=0.0)(_batch())
    assert out["loss_actor"].item() == pytest.approx(-0.5)
    assert "bc_error" not in out.keys()


def test_velocity_field_euler_integration():
    flow = VelocityField(1, 2, hidden_dim=4, hidden_layers=1)
    with torch.no_grad():
        flow.net[-1].weight.zero_()
        flow.net[-1].bias.copy_(torch.tensor([0.4, -2.0]))  # v ≡ (0.4, −2)
    noise = torch.tensor([[0.1, 0.5], [0.9, -0.2]])
    # x_1 = ε + v (any number of steps), clamped to [-1, 1].
    expected = torch.tensor([[0.5, -1.0], [1.0, -1.0]])
    assert torch.allclose(flow.sample(torch.zeros(2, 1), noise, steps=10), expected, atol=1e-6)


def test_flow_matching_fits_the_behaviour_actions():
    torch.manual_seed(0)
    model = _constant_q_model()
    actor = build_actor("flow_bc", 2, 2, 2, hidden_dim=8, hidden_layers=1, flow_hidden_dim=32, flow_hidden_layers=2)
    loss = FlowBCActorLoss(actor, model, bc_coeff=0.0)
    opt = torch.optim.Adam(actor.flow.parameters(), lr=3e-3)
    obs = torch.randn(128, 2)
    td = TensorDict(
        {"observation": obs, "action": torch.tensor([0.6, -0.3]).expand(128, 2), "z": torch.zeros(128, 2)}, batch_size=[128]
    )
    for _ in range(400):
        opt.zero_grad()
        loss(td)["loss_flow"].backward()
        opt.step()
    samples = actor.flow.sample(obs, torch.randn(128, 2), steps=10)
    assert torch.allclose(samples.mean(0), torch.tensor([0.6, -0.3]), atol=0.05)
    assert samples.std(0).max() < 0.1  # the noise is carried onto the single behaviour action


def test_noise_conditioned_actor_acts_stochastically_and_skips_td3_noise():
    actor = build_actor("flow_bc", 2, 2, 2, hidden_dim=8, hidden_layers=1, flow_hidden_dim=8, flow_hidden_layers=2)
    x, z = torch.randn(64, 2), torch.randn(64, 2)
    assert not torch.allclose(actor(x, z), actor(x, z))  # draws its own ε when acting
    noise = torch.randn(64, 2)
    assert torch.equal(actor(x, z, noise), actor(x, z, noise))
    model = _constant_q_model()
    rep_loss = TDJEPALoss(model, actor, target_noise_std=0.2, target_noise_clip=0.3)
    torch.manual_seed(5)
    next_action = rep_loss.next_action(None, x, z)
    torch.manual_seed(5)
    assert torch.equal(next_action, actor(x, z))  # a′ = π(s′, z, ε), no clipped TD3 noise on top


@pytest.mark.parametrize("name", ["td3", "flow_bc"])
def test_actor_init_orthogonal_weights_zero_biases(name):
    torch.manual_seed(0)
    actor = build_actor(name, 5, 3, 2, hidden_dim=16, hidden_layers=2, **({"flow_hidden_dim": 16} if name == "flow_bc" else {}))
    linears = [m for m in actor.modules() if isinstance(m, nn.Linear)]
    assert linears
    for layer in linears:
        w = layer.weight.detach()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        assert torch.allclose(gram, torch.eye(gram.shape[0]), atol=1e-5)
        assert torch.count_nonzero(layer.bias) == 0


def test_unknown_actor_name():
    with pytest.raises(ValueError, match=r"actor.name='sac' is not an actor; choose one of \['flow_bc', 'td3'\]"):
        build_actor("sac", 2, 2, 2, hidden_dim=4, hidden_layers=1)


def test_flow_has_its_own_learning_rate():
    model = _constant_q_model()
    actor = build_actor("flow_bc", 2, 2, 2, hidden_dim=8, hidden_layers=1, flow_hidden_dim=8, flow_hidden_layers=2)
    lrs = {"phi_encoder": 1e-4, "psi_encoder": 1e-4, "predictors": 1e-4}
    opt = make_optimizer({"lr": lrs}, 1e-4, model, actor, flow_lr=3e-4)
    groups = {g["name"]: g for g in opt.param_groups}
    assert groups["actor_flow"]["lr"] == 3e-4 and groups["actor"]["lr"] == 1e-4
    assert {id(p) for p in groups["actor_flow"]["params"]} == {id(p) for p in actor.flow.parameters()}
    assert {id(p) for p in groups["actor"]["params"]} == {id(p) for p in actor.policy.parameters()}


@pytest.mark.parametrize(
    "overrides, name, bc_coeff",
    [
        ([], "flow_bc", 0.3),
        (["env.name=cube-single-play"], "flow_bc", 3.0),
        (["representation=fb"], "flow_bc", 0.3),
        (["representation=hilp", "actor=td3"], "td3", 0.0),
        (["env=dmc"], "td3", 0.0),
        (["env=dmc", "actor=flow_bc"], "flow_bc", 0.3),
        (["actor.bc_coeff=1.5"], "flow_bc", 1.5),
    ],
)
def test_default_actor_per_env_family(overrides, name, bc_coeff):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("zeroshot", overrides=overrides)
    resolved = resolve_actor_config(cfg.actor, cfg.env)
    assert resolved["name"] == name and resolved["bc_coeff"] == bc_coeff
    model = _constant_q_model()
    actor = make_actor(resolved, model, 2)
    assert isinstance(actor, FlowBCActor if name == "flow_bc" else ZConditionedActor)
    assert isinstance(make_actor_loss(resolved, actor, model), FlowBCActorLoss if name == "flow_bc" else ZeroShotActorLoss)
