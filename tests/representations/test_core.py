import math

import pytest
import torch

from representations.core import (
    EnsembleLinear,
    ZSampler,
    ensemble_reduce,
    orthonormality_loss,
    project_to_sphere,
    sample_sphere,
    solve_reward_regression,
)
from representations.core.networks import clipped_noise_action, frozen_parameters, mlp_encoder


def test_orthonormality_loss_hand_computed():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # C = [[1,0,1],[0,1,1],[1,1,2]]: −mean diag = −4/3; ½·Σ_{i≠j} C_ij²/(B(B−1)) = ½·4/6 = 1/3.
    loss, diag, off = orthonormality_loss(e)
    assert diag.item() == pytest.approx(-4 / 3)
    assert off.item() == pytest.approx(1 / 3)
    assert loss.item() == pytest.approx(-1.0)


def test_orthonormality_loss_rejects_single_row():
    with pytest.raises(ValueError, match="at least 2"):
        orthonormality_loss(torch.ones(1, 3))


def test_project_and_sample_sphere_have_radius_sqrt_d():
    z = project_to_sphere(torch.tensor([[3.0, 4.0]]))
    assert torch.allclose(z, math.sqrt(2) * torch.tensor([[0.6, 0.8]]))
    assert torch.allclose(sample_sphere(100, 7).norm(dim=-1), torch.full((100,), math.sqrt(7)))


def test_least_squares_recovers_planted_z():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(500, 6, generator=gen)
    z_true = torch.randn(6, generator=gen)
    z = solve_reward_regression(features, features @ z_true)
    assert torch.allclose(z, z_true, atol=1e-4)
    # Ridge shrinks towards 0 but stays close for a tiny coefficient.
    assert torch.allclose(solve_reward_regression(features, features @ z_true, ridge=1e-6), z_true, atol=1e-3)


def test_least_squares_shape_errors():
    with pytest.raises(ValueError, match="rewards"):
        solve_reward_regression(torch.randn(5, 2), torch.randn(4))
    with pytest.raises(ValueError, match=r"\[N, d\]"):
        solve_reward_regression(torch.randn(5), torch.randn(5))


def test_ensemble_reduce_pessimism():
    values = torch.tensor([[1.0, 5.0], [3.0, 5.0]])  # 2 members × 2 samples
    # mean (2, 5); mean pairwise |diff| = (2+2)/(4−2) = 2 and 0.
    assert torch.allclose(ensemble_reduce(values, 0.0), torch.tensor([2.0, 5.0]))
    assert torch.allclose(ensemble_reduce(values, 0.5), torch.tensor([1.0, 5.0]))


def test_ensemble_linear_matches_per_member_linear():
    layer = EnsembleLinear(4, 3, ensemble_size=2)
    x = torch.randn(5, 4)
    out_shared = layer(x)  # same input to both members
    out_batched = layer(x.expand(2, 5, 4))
    for e in range(2):
        expected = x @ layer.weight[e] + layer.bias[e]
        assert torch.allclose(out_shared[e], expected, atol=1e-6)
        assert torch.allclose(out_batched[e], expected, atol=1e-6)


def test_mlp_encoder_structure_and_norm():
    enc = mlp_encoder(5, 8, hidden_dim=16, hidden_layers=3)
    linears = [m for m in enc if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(5, 16), (16, 16), (16, 16), (16, 8)]
    assert torch.allclose(enc(torch.randn(4, 5)).norm(dim=-1), torch.full((4,), math.sqrt(8)), atol=1e-5)
    assert len(mlp_encoder(5, 8, hidden_dim=16, hidden_layers=0)) == 2  # Linear → Norm


def test_zsampler_mixes_goals_and_sphere():
    goals = torch.randn(64, 4)
    all_sphere = ZSampler(4, goal_ratio=0.0)(goals)
    assert torch.allclose(all_sphere.norm(dim=-1), torch.full((64,), 2.0), atol=1e-5)
    all_goals = ZSampler(4, goal_ratio=1.0)(goals)
    projected = project_to_sphere(goals)
    # every sampled z is one of the projected goals (a permutation of the batch)
    dists = torch.cdist(all_goals, projected)
    assert torch.all(dists.min(dim=1).values < 1e-3)
    cov = torch.diag(torch.tensor([4.0, 1.0, 1.0, 1.0]))
    whitened = ZSampler(4, goal_ratio=1.0, whiten_goals=True)(goals, cov)
    expected = project_to_sphere(goals / torch.tensor([4.0, 1.0, 1.0, 1.0]))
    assert torch.all(torch.cdist(whitened, expected).min(dim=1).values < 1e-3)
    with pytest.raises(ValueError, match="goal_ratio"):
        ZSampler(4, goal_ratio=1.5)


def test_zsampler_future_goals_are_row_aligned():
    """future_ratio=1: goal row i is the projected future feature of transition i (no shuffle)."""
    goals, future = torch.randn(32, 4), torch.randn(32, 4)
    z = ZSampler(4, goal_ratio=1.0, future_ratio=1.0)(goals, None, future)
    assert torch.allclose(z, project_to_sphere(future), atol=1e-5)
    torch.manual_seed(0)
    half = ZSampler(4, goal_ratio=1.0, future_ratio=0.5)(goals, None, future)
    from_future = torch.isclose(half, project_to_sphere(future), atol=1e-5).all(-1)
    assert 8 < int(from_future.sum()) < 24  # about half, the rest permuted batch goals
    with pytest.raises(ValueError, match="dataset.future"):
        ZSampler(4, goal_ratio=1.0, future_ratio=0.5)(goals)
    with pytest.raises(ValueError, match="future_goal_ratio"):
        ZSampler(4, future_ratio=-0.1)


def test_clipped_noise_action_bounds_and_gradient():
    mu = torch.zeros(1000, 2, requires_grad=True)
    a = clipped_noise_action(mu, std=0.2, clip=0.3)
    assert a.abs().max() <= 0.3 + 1e-6
    a.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))  # straight-through
    edge = clipped_noise_action(torch.ones(1000, 1), std=0.2, clip=0.3)
    assert edge.max() < 1.0


def test_frozen_parameters_blocks_weight_grads_only():
    lin = torch.nn.Linear(3, 1)
    x = torch.randn(2, 3, requires_grad=True)
    with frozen_parameters(lin):
        y = lin(x).sum()
    assert lin.weight.requires_grad  # restored
    y.backward()
    assert lin.weight.grad is None and x.grad is not None


def test_collapse_diagnostics_hand_computed():
    from representations.core.collapse import collapse_diagnostics, rankme, spread

    assert rankme(torch.eye(4)).item() == pytest.approx(4.0, rel=1e-4)  # four equal singular values
    assert rankme(torch.ones(6, 3)).item() == pytest.approx(1.0, abs=1e-4)  # rank one
    assert rankme(torch.diag(torch.tensor([3.0, 1.0]))).item() == pytest.approx(
        math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))), rel=1e-4
    )
    assert spread(torch.ones(5, 3)).item() == 0.0  # every row the same point
    # ±e1: the normalised rows are ±e1, std of column 0 over [1, -1] = √2, other columns 0 → mean √2 / 2
    assert spread(torch.tensor([[2.0, 0.0], [-3.0, 0.0]])).item() == pytest.approx(math.sqrt(2) / 2)
    out = collapse_diagnostics(torch.eye(3), torch.ones(3, 3))
    assert out["feature_rankme"].item() == pytest.approx(3.0, rel=1e-4) and out["target_std"].item() == 0.0
