"""Deep linear JEPA vs MAE (Littwin et al., arXiv 2407.03475): trained networks, ODEs, fixed points, learning order.

Reference values: half-progress times from the paper's learning-dynamics ODEs with ε = 0.05 (f0: λ=10, ρ=0.3;
f1: λ=1, ρ=1), obtained by integrating those ODEs.
"""

import json
import math

import numpy as np
import pytest
import torch

from representations.linear_jepa import (
    DeepLinearBatch,
    FeatureModel,
    NoisyViews,
    doubling_times,
    first_learned,
    fixed_point,
    fixed_points,
    half_learning_times,
    integrate_ode,
    population_gradient,
    train,
)
from representations.linear_jepa.__main__ import main

torch.set_num_threads(1)
NOTES = FeatureModel(lam=[10.0, 1.0], rho=[0.3, 1.0])
# L: (MAE f0, MAE f1, JEPA f0, JEPA f1), time units
NOTES_HALF_TIMES = {
    1: (0.66, 2.51, 6.93, 21.14),
    2: (0.85, 3.02, 19.67, 41.57),
    3: (0.80, 2.81, 38.76, 51.38),
    4: (0.73, 2.50, 73.64, 56.88),
    5: (0.65, 2.22, 141.98, 60.37),
}


def _configs(depths):
    return [o for _ in depths for o in ("mae", "jepa")], [L for L in depths for _ in ("mae", "jepa")]


@pytest.mark.parametrize("depth", [1, 3])
def test_trained_networks_reach_the_analytic_fixed_points(depth):
    fm = FeatureModel(lam=[8.0, 4.0], rho=[0.7, 0.9])  # fast features so a large lr converges in a few thousand steps
    model = DeepLinearBatch(["jepa", "mae"], [depth, depth], d=2, eps=0.05)
    _, traj = train(model, fm, steps=3000, lr=0.05)
    rho = torch.tensor(fm.rho, dtype=torch.float64)
    jepa, mae = rho**depth, rho ** (depth / (depth + 1))
    assert torch.allclose(traj[-1, 0], jepa, rtol=1e-3), (traj[-1, 0], jepa)
    assert torch.allclose(traj[-1, 1], mae, rtol=1e-3), (traj[-1, 1], mae)
    assert torch.allclose(torch.tensor([fixed_point("jepa", depth, r) for r in fm.rho], dtype=torch.float64), jepa)
    if depth > 1:  # the two objectives really settle at different points
        assert (traj[-1, 1] - traj[-1, 0])[0] > 0.1
    # W̄ stays diagonal (simultaneously diagonal covariances + orthogonal init)
    wbar = model.encoder().detach()
    assert torch.allclose(wbar - torch.diag_embed(wbar.diagonal(dim1=-2, dim2=-1)), torch.zeros_like(wbar), atol=1e-14)


def test_trained_trajectories_match_euler_odes():
    depths = [1, 2, 3, 4, 5]
    objectives, cfg_depths = _configs(depths)
    lr, steps = 5e-3, 6000  # t = 30
    _, trained = train(DeepLinearBatch(objectives, cfg_depths, d=2), NOTES, steps=steps, lr=lr)
    trained = trained.numpy()
    _, ode = integrate_ode(objectives, cfg_depths, NOTES.lam, NOTES.rho, dt=lr, steps=steps)
    wstar = fixed_points(objectives, cfg_depths, NOTES.rho)
    rel = np.abs(trained - ode).max(0) / wstar
    assert rel.max() < 1e-2, rel
    assert rel[:2].max() < 1e-12  # L = 1: GD is exactly Euler on w̄
    # gradient descent on the balanced layers is exactly Euler on u = w̄^{1/L}
    _, ode_u = integrate_ode(objectives, cfg_depths, NOTES.lam, NOTES.rho, dt=lr, steps=steps, variable="u")
    assert np.abs(trained - ode_u).max() < 1e-12


def test_stop_gradient_keeps_the_target_branch_out_of_the_gradient():
    torch.manual_seed(0)
    fm = FeatureModel(lam=[3.0, 1.0, 0.5], rho=[0.5, 1.0, 0.8])
    model = DeepLinearBatch(["jepa", "mae"], [2, 2], d=3)
    with torch.no_grad():  # a generic (non-diagonal) point
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    wbar = model.encoder().detach().requires_grad_(True)
    assert not model.target_map(wbar)[0].requires_grad  # JEPA's target W̄y carries no graph
    model.population_loss(fm, wbar).sum().backward()
    V = model.V.detach()
    for b, obj in enumerate(["jepa", "mae"]):
        expected = population_gradient(obj, wbar.detach()[b], V[b], fm)
        assert torch.allclose(wbar.grad[b], expected, atol=1e-12)
    # without the stop-gradient the target branch would add −VW̄Σ_xy + W̄Σ_yy
    sxx, syx, syy = fm.covariances()
    w = wbar.detach()[0].clone().requires_grad_(True)
    vw = V[0] @ w
    no_sg = 0.5 * ((vw @ sxx) * vw).sum() - ((vw @ syx.mT) * w).sum() + 0.5 * ((w @ syy) * w).sum()
    no_sg.backward()
    assert torch.allclose(w.grad, wbar.grad[0] - vw.detach() @ syx.mT + w.detach() @ syy, atol=1e-12)
    assert (w.grad - wbar.grad[0]).abs().max() > 1e-2
    # the minibatch loss on noisy views has the population gradient in expectation
    views = NoisyViews(sigma2=[4.0, 0.0, 1.0])
    x, y = views.sample(200_000, torch.Generator().manual_seed(0))
    wbar.grad = None
    model.minibatch_loss(x, y, wbar).sum().backward()
    for b, obj in enumerate(["jepa", "mae"]):
        expected = population_gradient(obj, wbar.detach()[b], V[b], views.features())
        assert torch.allclose(wbar.grad[b], expected, atol=0.03 * expected.abs().max()), (wbar.grad[b], expected)


def test_ode_half_learning_times_and_order_match_the_notes():
    depths = [1, 2, 3, 4, 5]
    objectives, cfg_depths = _configs(depths)
    times, ode = integrate_ode(objectives, cfg_depths, NOTES.lam, NOTES.rho, dt=2e-3, steps=75_000)  # t = 150
    half = half_learning_times(times, ode, objectives, cfg_depths, NOTES.rho)
    for k, L in enumerate(depths):
        mae, jepa = half[2 * k], half[2 * k + 1]
        np.testing.assert_allclose([*mae, *jepa], NOTES_HALF_TIMES[L], rtol=0.02)
        assert first_learned(mae) == 0  # MAE: the high-variance, low-influence f0 first at every depth
        assert first_learned(jepa) == (0 if L <= 3 else 1)  # JEPA: f0 at L ≤ 3, the influential f1 from L = 4


def test_trained_network_learning_order():
    objectives, cfg_depths = _configs([1, 4])
    lr = 1e-2  # coarser than the notes' 2e-3 to stay fast; half-times move by O(lr)
    times, trained = train(DeepLinearBatch(objectives, cfg_depths, d=2), NOTES, steps=8000, lr=lr)  # t = 80
    half = half_learning_times(times, trained.numpy(), objectives, cfg_depths, NOTES.rho)
    assert [first_learned(h) for h in half] == [0, 0, 0, 1]  # (MAE, JEPA) at L = 1, then at L = 4
    np.testing.assert_allclose(half[3], NOTES_HALF_TIMES[4][2:], rtol=0.03)
    np.testing.assert_allclose(half[2], NOTES_HALF_TIMES[4][:2], rtol=0.05)


def test_noisy_views_data_model():
    views = NoisyViews(sigma2=[4.0, 0.0])
    fm = views.features()
    assert fm.lam == [5.0, 1.0] and np.allclose(fm.rho, [0.2, 1.0])
    x, y = views.sample(100_000, torch.Generator().manual_seed(1))
    lam = (x * x).mean(0)
    rho = (y * x).mean(0) / lam
    assert torch.allclose(lam, torch.tensor([5.0, 1.0], dtype=torch.float64), rtol=0.03)
    assert torch.allclose(rho, torch.tensor([0.2, 1.0], dtype=torch.float64), atol=0.02)
    assert abs(float((x[:, 0] * x[:, 1]).mean())) < 0.05  # diagonal covariances
    # minibatch SGD is deterministic given the seed and follows the ODE on average
    a = train(DeepLinearBatch(["mae", "jepa"], [1, 1], d=2), views=views, steps=1500, lr=2e-3, batch_size=256, seed=3)[1]
    b = train(DeepLinearBatch(["mae", "jepa"], [1, 1], d=2), views=views, steps=1500, lr=2e-3, batch_size=256, seed=3)[1]
    assert torch.equal(a, b)
    _, ode = integrate_ode(["mae", "jepa"], [1, 1], fm.lam, fm.rho, dt=2e-3, steps=1500)
    assert np.abs(a.numpy() - ode).max() < 0.05
    t = doubling_times(np.arange(1501) * 2e-3, a.numpy())
    assert not math.isnan(t[0, 0]) and not math.isnan(t[0, 1])  # MAE doubles both features by t = 3


def test_cli_writes_figure_and_tables(tmp_path):
    result = main(["--depths", "1", "2", "--steps", "400", "--lr", "0.02", "--out-dir", str(tmp_path), "--no-progress"])
    md = (tmp_path / "linear_jepa_learning_order.md").read_text()
    assert "Command: `python -m representations.linear_jepa --depths 1 2 --steps 400" in md.splitlines()[2]
    assert "| L | MAE trained | MAE ODE | MAE learns first |" in md
    data = json.loads((tmp_path / "linear_jepa_learning_order.json").read_text())
    assert data["command"] == result["command"]
    assert {(r["objective"], r["depth"]) for r in data["results"]} == {("mae", 1), ("jepa", 1), ("mae", 2), ("jepa", 2)}
    mae1 = next(r for r in data["results"] if r["objective"] == "mae" and r["depth"] == 1)
    assert mae1["first_trained"] == mae1["first_ode"] == 0 and len(mae1["half_time_ode"]) == 2
    assert (tmp_path / "linear_jepa_learning_order.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    main(["--noisy-views", "--depths", "1", "--steps", "300", "--out-dir", str(tmp_path), "--no-progress"])
    md = (tmp_path / "linear_jepa_noisy_views.md").read_text()
    assert "Doubling time" in md and (tmp_path / "linear_jepa_noisy_views.png").exists()
    assert json.loads((tmp_path / "linear_jepa_noisy_views.json").read_text())["setting"]["sigma2"] == [4.0, 0.0]
