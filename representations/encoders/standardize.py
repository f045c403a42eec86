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
    """s ↦ (s − μ) / σ with μ, σ of the training data (σ floored at ``min_std``)."""

    def __init__(self, dim: int, *, min_std: float = 1e-3) -> None:
        super().__init__()
        self.min_std = min_std
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, observations: torch.Tensor) -> None:
        """Sets μ and σ from ``observations`` [N, dim]."""
        obs = observations.reshape(-1, self.mean.shape[0]).double()
        self.mean.copy_(obs.mean(0).to(self.mean.dtype))
        self.std.copy_(obs.std(0).clamp_min(self.min_std).to(self.std.dtype))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.mean) / self.std


@torch.no_grad()
def fit_standardizer(standardizer: ObservationStandardizer, buffer, key: str = "observation", samples: int = 100_000) -> None:
    """Fits ``standardizer`` on ``samples`` evenly spaced transitions of an offline buffer (a fixed set:
    the buffer's sampling stream is left untouched)."""
    index = buffer.valid[torch.linspace(0, len(buffer) - 1, min(samples, len(buffer))).long()]
    standardizer.fit(buffer.gather(index)[key].float())
