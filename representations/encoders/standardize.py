"""Observation standardisation in front of a state representation (``encoder=identity encoder.standardize=true``).

Raw OGBench maze observations are x-y positions in [-1, 21]. The encoders start with
Linear → LayerNorm with zero biases (the official init), and LayerNorm(W·s) is invariant to the
scale of s, so at initialisation φ(s) and ψ(s) see only the direction of s from the origin; the biases
that break this move by about the learning rate per update. Standardising with the dataset's mean and
standard deviation removes that bottleneck. The statistics are buffers, so checkpoints carry them.
"""

from __future__ import annotations

import torch
from torch import nn


class ObservationStandardizer(nn.Module):
    """s ↦ x = (s − μ) / σ with μ, σ of the training data (σ floored at ``min_std``).

    With ``fourier_features`` = N > 0 the output is [x, sin 2πBx, cos 2πBx] with a fixed Gaussian B [N, dim] of
    standard deviation ``fourier_scale`` (cycles per data standard deviation; Tancik et al. 2020). Low-dimensional
    states (maze positions) then reach the encoders with the high frequencies a value needs to change sharply
    across a wall. B is drawn from a fixed seed and stored as a buffer, so checkpoints carry it.
    """

    def __init__(self, dim: int, *, min_std: float = 1e-3, fourier_features: int = 0, fourier_scale: float = 1.0) -> None:
        super().__init__()
        if fourier_features < 0 or fourier_scale <= 0:
            raise ValueError(
                f"encoder.fourier_features must be >= 0 and encoder.fourier_scale > 0, got {fourier_features} and {fourier_scale}"
            )
        self.min_std = min_std
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("frequencies", fourier_scale * torch.randn(fourier_features, dim, generator=generator))
        self.feature_dim = dim + 2 * fourier_features

    @torch.no_grad()
    def fit(self, observations: torch.Tensor) -> None:
        """Sets μ and σ from ``observations`` [N, dim]."""
        obs = observations.reshape(-1, self.mean.shape[0]).double()
        self.mean.copy_(obs.mean(0).to(self.mean.dtype))
        self.std.copy_(obs.std(0).clamp_min(self.min_std).to(self.std.dtype))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs - self.mean) / self.std
        if self.frequencies.shape[0] == 0:
            return x
        angles = 2 * torch.pi * x @ self.frequencies.T
        return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=-1)


@torch.no_grad()
def fit_standardizer(standardizer: ObservationStandardizer, buffer, key: str = "observation", samples: int = 100_000) -> None:
    """Fits ``standardizer`` on ``samples`` evenly spaced transitions of an offline buffer (a fixed set:
    the buffer's sampling stream is left untouched)."""
    index = buffer.valid[torch.linspace(0, len(buffer) - 1, min(samples, len(buffer))).long()]
    standardizer.fit(buffer.gather(index)[key].float())
