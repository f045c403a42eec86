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

    def latents(self, obs: torch.Tensor) -> torch.Tensor:
        """The z each of the states ``obs`` [B, ...] acts with: [B, d]."""
        return self.z.expand(obs.shape[0], -1)

    @torch.no_grad()
    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        x = self.representation.actor_input(observation)
        return self.actor(x, self.z.expand(*x.shape[:-1], -1))


class GoalPolicy(nn.Module):
    """obs ↦ π(x(obs), z(obs, goal)): goal-reaching with z re-inferred at every state
    (:meth:`ZeroShotRepresentation.infer_z_toward_goal`, HILP's directional goal latent)."""

    def __init__(self, representation: ZeroShotRepresentation, actor: nn.Module, goal: torch.Tensor) -> None:
        super().__init__()
        self.representation, self.actor = representation, actor
        self.register_buffer("goal", goal)

    @torch.no_grad()
    def latents(self, obs: torch.Tensor) -> torch.Tensor:
        """The z each of the states ``obs`` [B, ...] acts with: z(s, goal), [B, d]."""
        return self.representation.infer_z_toward_goal(obs, self.goal.expand(obs.shape[0], *self.goal.shape))

    @torch.no_grad()
    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        batched = observation.dim() > self.goal.dim()
        obs = observation if batched else observation.unsqueeze(0)
        action = self.actor(self.representation.actor_input(obs), self.latents(obs))
        return action if batched else action.squeeze(0)
