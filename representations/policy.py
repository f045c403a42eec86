"""A trained representation + actor as a plain policy for a fixed task latent z."""
from __future__ import annotations

import torch
from torch import nn

from representations.base import ZeroShotRepresentation


class LatentPolicy(nn.Module):
    """obs ↦ π(x(obs), z): the deterministic (mean) action for the task encoded by ``z``."""

    def __init__(self, representation: ZeroShotRepresentation, actor: nn.Module, z: torch.Tensor) -> None:
        super().__init__()
        self.representation, self.actor = representation, actor
        self.register_buffer("z", z.reshape(-1))

    @torch.no_grad()
    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        x = self.representation.actor_input(observation)
        return self.actor(x, self.z.expand(*x.shape[:-1], -1))
