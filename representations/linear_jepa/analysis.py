"""The per-feature ODEs of deep linear JEPA and MAE, their fixed points and half-learning times.

With every layer and V at ε^{1/L}·I, gradient flow keeps each layer's diagonal entry equal to that of V
(balancedness), so with u = w̄^{1/L} (derived here from the losses in ``model.py``; cf. the paper's eqs. 7-8):

    JEPA: du/dt = λ u^{2L} (ρ − u)          ⇒  dw̄/dt = Lλ(ρ w̄^{3−1/L} − w̄³),   w̄* = ρ^L
    MAE:  du/dt = λ u^{L}  (ρ − u^{L+1})    ⇒  dw̄/dt = Lλ(ρ w̄^{2−1/L} − w̄³),   w̄* = ρ^{L/(L+1)}

JEPA's speed carries u^{2L}·ρ, so depth makes it greedy in ρ; MAE's carries only λρ (paper, Sec. 4).
Gradient descent with step size lr on the layers is exactly Euler on u with dt = lr; Euler on w̄ differs by O(lr).

The half-learning time of a feature: the time at which u has covered half the way from ε^{1/L} to u*
(u* = ρ for JEPA, ρ^{1/(L+1)} for MAE); it may be a decrease when ε^{1/L} > u*.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from tqdm.auto import tqdm


def _per_config(objectives: Sequence[str], depths: Sequence[int]):
    is_jepa = np.array([o == "jepa" for o in objectives])[:, None]
    L = np.asarray(depths, dtype=np.float64)[:, None]
    return is_jepa, L


def ode_rhs(wbar: np.ndarray, objectives: Sequence[str], depths: Sequence[int], lam, rho) -> np.ndarray:
    """dw̄/dt for w̄ of shape (B, d), one (objective, depth) per row, λ and ρ per feature."""
    is_jepa, L = _per_config(objectives, depths)
    lam, rho = np.asarray(lam, dtype=np.float64), np.asarray(rho, dtype=np.float64)
    power = np.where(is_jepa, 3.0 - 1.0 / L, 2.0 - 1.0 / L)
    return L * lam * (rho * wbar**power - wbar**3)


def u_rhs(u: np.ndarray, objectives: Sequence[str], depths: Sequence[int], lam, rho) -> np.ndarray:
    """du/dt for u = w̄^{1/L} (one layer's diagonal entry), shape (B, d)."""
    is_jepa, L = _per_config(objectives, depths)
    lam, rho = np.asarray(lam, dtype=np.float64), np.asarray(rho, dtype=np.float64)
    return np.where(is_jepa, lam * u ** (2 * L) * (rho - u), lam * u**L * (rho - u ** (L + 1)))


def integrate_ode(
    objectives: Sequence[str],
    depths: Sequence[int],
    lam,
    rho,
    eps: float = 0.05,
    dt: float = 2e-3,
    steps: int = 1000,
    variable: str = "wbar",
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward Euler from w̄(0) = ε, all configurations and features at once; returns (times (steps+1,),
    w̄ (steps+1, B, d)). ``variable="wbar"`` steps the w̄ ODE; ``"u"`` steps u = w̄^{1/L} (exactly what gradient
    descent on the balanced network does) and reports w̄ = u^L."""
    if variable not in ("wbar", "u"):
        raise ValueError("variable is 'wbar' or 'u'")
    _, L = _per_config(objectives, depths)
    d = len(lam)
    x = np.full((len(depths), d), eps, dtype=np.float64)
    if variable == "u":
        x = x ** (1.0 / L)
    rhs = ode_rhs if variable == "wbar" else u_rhs
    out = np.empty((steps + 1, len(depths), d))
    out[0] = x
    for k in tqdm(range(steps), desc="ODE", disable=not progress, mininterval=1.0, leave=False):
        x = x + dt * rhs(x, objectives, depths, lam, rho)
        out[k + 1] = x
    if variable == "u":
        out = out**L
    return np.arange(steps + 1) * dt, out


def fixed_points(objectives: Sequence[str], depths: Sequence[int], rho) -> np.ndarray:
    """w̄* per configuration and feature, (B, d): ρ^L (JEPA), ρ^{L/(L+1)} (MAE)."""
    is_jepa, L = _per_config(objectives, depths)
    rho = np.asarray(rho, dtype=np.float64)
    return np.where(is_jepa, rho**L, rho ** (L / (L + 1)))


def _crossing_time(times: np.ndarray, s: np.ndarray) -> float:
    """First time the (increasing-to-cross) signal s reaches 0, linearly interpolated; NaN if never."""
    hit = np.flatnonzero(s >= 0)
    if hit.size == 0:
        return float("nan")
    k = int(hit[0])
    if k == 0:
        return float(times[0])
    return float(times[k - 1] + (times[k] - times[k - 1]) * (-s[k - 1]) / (s[k] - s[k - 1]))


def half_learning_times(times, wbar, objectives: Sequence[str], depths: Sequence[int], rho, eps: float = 0.05) -> np.ndarray:
    """(B, d) times at which u = w̄^{1/L} covers half the way from ε^{1/L} to u*; NaN where not reached."""
    times, wbar = np.asarray(times, dtype=np.float64), np.asarray(wbar, dtype=np.float64)
    _, L = _per_config(objectives, depths)
    u0 = eps ** (1.0 / L)
    ustar = fixed_points(objectives, depths, rho) ** (1.0 / L)
    half = u0 + 0.5 * (ustar - u0)
    u = np.abs(wbar) ** (1.0 / L)
    out = np.full(wbar.shape[1:], np.nan)
    for b in range(wbar.shape[1]):
        for i in range(wbar.shape[2]):
            direction = 1.0 if ustar[b, i] >= u0[b, 0] else -1.0
            out[b, i] = _crossing_time(times, direction * (u[:, b, i] - half[b, i]))
    return out


def doubling_times(times, wbar) -> np.ndarray:
    """(B, d) first times at which |w̄_i| exceeds twice its initial value; NaN where never (e.g. a shrinking feature)."""
    times, wbar = np.asarray(times, dtype=np.float64), np.abs(np.asarray(wbar, dtype=np.float64))
    out = np.full(wbar.shape[1:], np.nan)
    for b in range(wbar.shape[1]):
        for i in range(wbar.shape[2]):
            out[b, i] = _crossing_time(times, wbar[:, b, i] - 2.0 * wbar[0, b, i])
    return out


def first_learned(t: Sequence[float]) -> int | None:
    """Index of the feature with the smallest (non-NaN) learning time; None if none was reached."""
    t = np.asarray(t, dtype=np.float64)
    if np.isnan(t).all():
        return None
    return int(np.nanargmin(t))
