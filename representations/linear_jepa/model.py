"""Deep linear JEPA vs MAE (Littwin et al., "How JEPA Avoids Noisy Features", arXiv 2407.03475).

The setting of the paper's Sec. 3: two views x, y ∈ R^d whose covariances Σ_xx and Σ_yx are simultaneously
diagonal, so feature i is described by λ_i = Σ_xx,ii (its variance) and ρ_i = Σ_yx,ii / λ_i (its
regression coefficient, "influence"). A deep linear encoder W̄ = W_L⋯W_1 and a linear predictor (JEPA) or
decoder (MAE) V are trained on

    JEPA: ½ E‖V W̄ x − SG(W̄ y)‖²        MAE: ½ E‖V W̄ x − y‖²

from a small, balanced, orthogonal initialisation (every W_a and V at ε^{1/L}·I, so W̄(0) = ε·I). Everything
stays diagonal, and w̄_i = W̄_ii follows one scalar ODE per feature (``analysis.py``).

Here many (objective, depth) configurations are trained at once: the layers of all configurations are stacked
into ``(L_max, B, d, d)`` tensors, shallower configurations are padded with identity layers whose gradient is
masked, and the population losses only need the d×d covariances, so one step is a handful of tiny batched
matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

OBJECTIVES = ("mae", "jepa")


@dataclass
class FeatureModel:
    """Per-feature λ_i = Σ_xx,ii and ρ_i = Σ_yx,ii/λ_i of simultaneously diagonal covariances.

    ``syy`` (diag Σ_yy) only shifts the loss value, never its gradient; it defaults to λ (two views with the same
    marginal variance, as in the noisy-view model).
    """

    lam: Sequence[float]
    rho: Sequence[float]
    syy: Sequence[float] | None = None

    def __post_init__(self):
        if len(self.lam) != len(self.rho):
            raise ValueError(f"lam and rho need one value per feature, got {len(self.lam)} and {len(self.rho)}")
        if min(self.lam) <= 0 or min(self.rho) <= 0:
            raise ValueError("λ and ρ must be positive")

    @property
    def d(self) -> int:
        return len(self.lam)

    def covariances(self, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Σ_xx, Σ_yx, Σ_yy) as d×d matrices: diag(λ), diag(λρ), diag(Σ_yy)."""
        lam = torch.tensor(self.lam, dtype=dtype)
        rho = torch.tensor(self.rho, dtype=dtype)
        syy = lam if self.syy is None else torch.tensor(self.syy, dtype=dtype)
        return torch.diag(lam), torch.diag(lam * rho), torch.diag(syy)


@dataclass
class NoisyViews:
    """The minibatch noisy-view generator: x = z + σ n₁, y = z + σ n₂ with z ~ N(0, var_z), n ~ N(0, I).

    Then λ = var_z + σ² and ρ = var_z/(var_z + σ²) (Σ_yx = var z): noise raises λ and lowers ρ. The default σ² = (4, 0)
    gives a noisy feature (λ=5, ρ=0.2) and a clean one (λ=1, ρ=1), both with λρ = 1.
    """

    sigma2: Sequence[float] = (4.0, 0.0)
    var_z: Sequence[float] | float = 1.0

    def _var_z(self) -> list[float]:
        vz = self.var_z
        return [float(vz)] * len(self.sigma2) if isinstance(vz, (int, float)) else [float(v) for v in vz]

    def features(self) -> FeatureModel:
        vz = self._var_z()
        lam = [v + s for v, s in zip(vz, self.sigma2)]
        return FeatureModel(lam=lam, rho=[v / l for v, l in zip(vz, lam)], syy=lam)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """A minibatch (x, y), each (n, d)."""
        d = len(self.sigma2)
        sz = torch.tensor(self._var_z(), dtype=dtype).sqrt()
        s = torch.tensor(self.sigma2, dtype=dtype).sqrt()
        noise = torch.randn(3, n, d, generator=generator, dtype=dtype)
        z = sz * noise[0]
        return z + s * noise[1], z + s * noise[2]


def fixed_point(objective: str, depth: int, rho) -> torch.Tensor | float:
    """The learned w̄* of a feature: JEPA ρ^L, MAE ρ^{L/(L+1)} (balanced-init gradient flow)."""
    if objective == "jepa":
        return rho**depth
    if objective == "mae":
        return rho ** (depth / (depth + 1))
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


class DeepLinearBatch:
    """B deep linear encoders W̄_b = W_{b,L_b}⋯W_{b,1} (d×d) and predictors/decoders V_b, trained side by side.

    ``objectives[b]`` is "jepa" or "mae", ``depths[b]`` is L_b ≥ 1. Each active W_{b,a} and V_b starts at
    ε^{1/L_b}·I (small, balanced, orthogonal); layers a ≥ L_b are identity and never move.
    """

    def __init__(self, objectives: Sequence[str], depths: Sequence[int], d: int, eps: float = 0.05, dtype=torch.float64):
        if len(objectives) != len(depths):
            raise ValueError("one depth per objective")
        for o in objectives:
            if o not in OBJECTIVES:
                raise ValueError(f"objective must be one of {OBJECTIVES}, got {o!r}")
        if min(depths) < 1:
            raise ValueError("depths must be ≥ 1")
        self.objectives, self.depths, self.d, self.eps = list(objectives), list(depths), d, eps
        B, lmax = len(depths), max(depths)
        eye = torch.eye(d, dtype=dtype)
        scale = torch.tensor([eps ** (1.0 / L) for L in depths], dtype=dtype)[:, None, None]
        # mask[a, b] = layer a of configuration b is a real (trainable) layer
        self.mask = torch.tensor([[a < L for L in depths] for a in range(lmax)], dtype=dtype)[:, :, None, None]
        self.layers = [torch.where(self.mask[a] > 0, scale * eye, eye).requires_grad_(True) for a in range(lmax)]
        self.V = (scale * eye).expand(B, d, d).clone().requires_grad_(True)
        self.is_jepa = torch.tensor([o == "jepa" for o in objectives])[:, None, None]
        self.eye = eye

    def parameters(self) -> list[torch.Tensor]:
        return [*self.layers, self.V]

    def encoder(self) -> torch.Tensor:
        """W̄ = W_L⋯W_1, (B, d, d)."""
        wbar = self.layers[0]
        for w in self.layers[1:]:
            wbar = w @ wbar
        return wbar

    def target_map(self, wbar: torch.Tensor) -> torch.Tensor:
        """The map applied to y in the loss: SG(W̄) for JEPA (the target branch gets no gradient), I for MAE."""
        return torch.where(self.is_jepa, wbar.detach(), self.eye)

    def population_loss(self, features: FeatureModel, wbar: torch.Tensor | None = None) -> torch.Tensor:
        """½E‖V W̄ x − T y‖² per configuration, (B,), with T = target_map(W̄), from the covariances alone:
        ½tr(VW̄ Σ_xx W̄ᵀVᵀ) − tr(VW̄ Σ_xy Tᵀ) + ½tr(T Σ_yy Tᵀ)."""
        sxx, syx, syy = (s.to(self.eye.dtype) for s in features.covariances(self.eye.dtype))
        wbar = self.encoder() if wbar is None else wbar
        vw, t = self.V @ wbar, self.target_map(wbar)
        return 0.5 * ((vw @ sxx) * vw).sum((-2, -1)) - ((vw @ syx.mT) * t).sum((-2, -1)) + 0.5 * ((t @ syy) * t).sum((-2, -1))

    def minibatch_loss(self, x: torch.Tensor, y: torch.Tensor, wbar: torch.Tensor | None = None) -> torch.Tensor:
        """The sample estimate of the same loss on views x, y (n, d), (B,)."""
        wbar = self.encoder() if wbar is None else wbar
        pred = x @ (self.V @ wbar).mT  # (B, n, d): V W̄ x
        target = y @ self.target_map(wbar).mT  # (B, n, d): SG(W̄) y or y
        return 0.5 * (pred - target).pow(2).sum(-1).mean(-1)

    @torch.no_grad()
    def sgd_step(self, lr: float) -> None:
        for a, w in enumerate(self.layers):
            w.sub_(lr * w.grad * self.mask[a])  # padded identity layers stay put
            w.grad = None
        self.V.sub_(lr * self.V.grad)
        self.V.grad = None

    @torch.no_grad()
    def diag(self) -> torch.Tensor:
        """w̄_i = diag(W̄)_i, (B, d)."""
        return self.encoder().diagonal(dim1=-2, dim2=-1).clone()


def train(
    model: DeepLinearBatch,
    features: FeatureModel | None = None,
    steps: int = 1000,
    lr: float = 2e-3,
    views: NoisyViews | None = None,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool = False,
    desc: str = "train",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain gradient descent on every configuration at once; returns (times, w̄) with times = k·lr, (steps+1,) and
    w̄ = diag(W̄) after k updates, (steps+1, B, d).

    Full-batch GD on the population loss of ``features``, or, with ``views``, minibatch SGD on fresh noisy-view
    batches of ``batch_size`` (seeded). Every configuration sees the same minibatches.
    """
    if (features is None) == (views is None):
        raise ValueError("give exactly one of features (population loss) or views (minibatches)")
    gen = torch.Generator().manual_seed(seed)
    traj = torch.empty(steps + 1, len(model.depths), model.d, dtype=model.eye.dtype)
    for k in tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0, leave=False):
        wbar = model.encoder()
        traj[k] = wbar.detach().diagonal(dim1=-2, dim2=-1)
        if views is None:
            loss = model.population_loss(features, wbar)
        else:
            loss = model.minibatch_loss(*views.sample(batch_size, gen, model.eye.dtype), wbar)
        loss.sum().backward()  # the configurations are independent: the sum gives each its own gradient
        model.sgd_step(lr)
    traj[steps] = model.diag()
    if not torch.isfinite(traj[-1]).all():
        raise FloatingPointError(f"training diverged (lr={lr} too large?)")
    return torch.arange(steps + 1, dtype=torch.float64) * lr, traj


def population_gradient(objective: str, wbar: torch.Tensor, V: torch.Tensor, features: FeatureModel) -> torch.Tensor:
    """∂L/∂W̄ by hand (for checks): VᵀV W̄ Σ_xx − Vᵀ T Σ_yx, with T = W̄ (JEPA, held constant) or I (MAE)."""
    sxx, syx, _ = features.covariances(wbar.dtype)
    t = wbar if objective == "jepa" else torch.eye(wbar.shape[-1], dtype=wbar.dtype)
    return V.mT @ V @ wbar @ sxx - V.mT @ t @ syx
