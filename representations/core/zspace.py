"""The task-latent space z shared by successor-feature methods: sampling, projection, inference."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def project_to_sphere(z: torch.Tensor) -> torch.Tensor:
    """z ↦ √d · z/‖z‖ (the z-space of FB / TD-JEPA is the sphere of radius √d)."""
    return math.sqrt(z.shape[-1]) * F.normalize(z, dim=-1)


def sample_sphere(
    batch: int, z_dim: int, *, device: torch.device | str = "cpu", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Uniform samples on the √d-sphere (normalised Gaussians)."""
    return project_to_sphere(torch.randn(batch, z_dim, device=device, generator=generator))


def solve_reward_regression(features: torch.Tensor, rewards: torch.Tensor, *, ridge: float = 0.0) -> torch.Tensor:
    """Least-squares z with features·z ≈ rewards, i.e. z = E[ψψᵀ]⁻¹ E[ψ r] (TD-JEPA §3.3).

    ``features`` [N, d], ``rewards`` [N] or [N, 1]. Returns z [d] (not projected).
    """
    if features.dim() != 2:
        raise ValueError(f"features must be [N, d], got shape {tuple(features.shape)}")
    rewards = rewards.reshape(-1, 1).to(features.dtype)
    if rewards.shape[0] != features.shape[0]:
        raise ValueError(f"got {features.shape[0]} feature rows but {rewards.shape[0]} rewards")
    if ridge > 0:
        d = features.shape[1]
        gram = features.T @ features + ridge * features.shape[0] * torch.eye(d, dtype=features.dtype, device=features.device)
        return torch.linalg.solve(gram, features.T @ rewards).squeeze(-1)
    return torch.linalg.lstsq(features, rewards).solution.squeeze(-1)


def whiten(features: torch.Tensor, cov: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """x·(Σ + εI)⁻¹ for each row x of ``features`` (Σ symmetric), computed as the official code does (inverse,
    then product), so that training steps agree with it to rounding. ``inv_ex`` skips the error check that
    would sync the host, so this is CUDA-graph safe."""
    eye = torch.eye(cov.shape[0], device=cov.device, dtype=cov.dtype)
    return features.to(cov.dtype) @ torch.linalg.inv_ex(cov + eps * eye)[0]  # fp32 under autocast


def ensemble_reduce(values: torch.Tensor, pessimism: float) -> torch.Tensor:
    """Mean over the ensemble dim 0 minus ``pessimism`` × mean pairwise |difference| (reference)."""
    mean = values.mean(0)
    if pessimism == 0.0 or values.shape[0] == 1:
        return mean
    n = values.shape[0]
    spread = (values.unsqueeze(0) - values.unsqueeze(1)).abs().sum((0, 1)) / (n * n - n)
    return mean - pessimism * spread


class ZSampler:
    """Mixed z sampling for training (TD-JEPA/FB ``sample_mixed_z``).

    With probability ``goal_ratio`` z is the (optionally Σ⁻¹-whitened) goal feature of a state from a
    shuffled batch, otherwise a uniform sample on the √d-sphere. With ``future_ratio`` > 0, that share
    of the goal latents comes instead from ``future_features``: a later state of each transition's own
    trajectory (hindsight goals, as HILP's). The official TD-JEPA/FB use 0 (batch states only).
    """

    def __init__(self, z_dim: int, *, goal_ratio: float = 0.5, whiten_goals: bool = False, future_ratio: float = 0.0) -> None:
        if not 0.0 <= goal_ratio <= 1.0:
            raise ValueError(f"goal_ratio must be in [0, 1], got {goal_ratio}")
        if not 0.0 <= future_ratio <= 1.0:
            raise ValueError(f"future_goal_ratio must be in [0, 1], got {future_ratio}")
        self.z_dim, self.goal_ratio, self.whiten_goals, self.future_ratio = z_dim, goal_ratio, whiten_goals, future_ratio

    @torch.no_grad()
    def __call__(
        self, goal_features: torch.Tensor, feature_cov: torch.Tensor | None = None, future_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch = goal_features.shape[0]
        z = sample_sphere(batch, self.z_dim, device=goal_features.device)
        if self.goal_ratio == 0.0:
            return z
        # argsort of uniforms = a random permutation, without randperm's host sync (CUDA-graph safe).
        goals = goal_features[torch.argsort(torch.rand(batch, device=goal_features.device))]
        if self.future_ratio > 0.0:
            if future_features is None:
                raise ValueError("future_goal_ratio > 0 needs future observations in the batch: set dataset.future (e.g. 0.99)")
            use_future = torch.rand(batch, 1, device=goals.device) < self.future_ratio
            goals = torch.where(use_future, future_features, goals)
        if self.whiten_goals:
            if feature_cov is None:
                raise ValueError("whiten_goals=True needs the feature covariance")
            goals = whiten(goals, feature_cov)
        goals = project_to_sphere(goals)
        use_goal = torch.rand(batch, 1, device=goals.device) < self.goal_ratio
        return torch.where(use_goal, goals, z)
