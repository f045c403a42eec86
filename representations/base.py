"""The seam between a representation and the generic zero-shot agent.

A representation owns its encoders and a successor-feature predictor, so that for any task latent z
the agent can score actions with Q(s, a, z) = SF(s, a, z)·z, and infer z from rewards or a goal.
The agent (actor, z sampling, evaluation) only uses the methods below, so FB, HILP and later
encoders plug in by config without branches in the agent.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from representations.core.zspace import project_to_sphere, solve_reward_regression


class ZeroShotRepresentation(nn.Module, abc.ABC):
    z_dim: int
    actor_input_dim: int
    feature_dim: int
    obs_encoder: nn.Module  # observation encoder in front of every network (identity for states)
    actor_uses_features: bool  # the actor reads state_features(s) rather than the encoded observation
    # Goal-reaching re-infers z from the current state at every step (HILP's directional goals); the others
    # act with one z per episode.
    goal_z_per_step: bool = False

    def actor_input(self, obs: torch.Tensor, state_features: torch.Tensor | None = None) -> torch.Tensor:
        """What the policy π(·, z) consumes for ``obs``; ``state_features`` (= state_features(obs)),
        when the caller has them, are reused instead of recomputed."""
        if not self.actor_uses_features:
            return self.obs_encoder(obs)
        return state_features if state_features is not None else self.state_features(obs)

    @abc.abstractmethod
    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        """Input of the successor-feature predictor (TD-JEPA: φ(s))."""

    @abc.abstractmethod
    def successor_features(self, features: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """[E, B, z_dim] successor features, one per ensemble member; Q = (SF·z).sum(-1)."""

    @abc.abstractmethod
    def goal_features(self, obs: torch.Tensor) -> torch.Tensor:
        """Features in which rewards are linear, r(s) ≈ goal_features(s)·z (TD-JEPA: ψ(s))."""

    @property
    @abc.abstractmethod
    def sf_predictor(self) -> nn.Module:
        """The module behind :meth:`successor_features` (frozen in the actor's objective)."""

    @abc.abstractmethod
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by group name; each group gets its own learning rate."""

    @torch.no_grad()
    def goal_features_chunked(self, obs: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
        """:meth:`goal_features` of many observations (e.g. 10k inference frames) in bounded memory."""
        return torch.cat([self.goal_features(part) for part in obs.split(chunk)])

    def infer_z_from_rewards(self, next_obs: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        """z = project(argmin_z ‖ψ(s′)z − r‖²), from samples (s′, r) of a task (TD-JEPA §3.3)."""
        with torch.no_grad():
            return project_to_sphere(solve_reward_regression(self.goal_features_chunked(next_obs), rewards))

    def infer_z_from_goal(self, goal_obs: torch.Tensor) -> torch.Tensor:
        """z for reaching ``goal_obs`` (a single observation)."""
        with torch.no_grad():
            return project_to_sphere(self.goal_features(goal_obs.unsqueeze(0)).squeeze(0))

    def infer_z_toward_goal(self, obs: torch.Tensor, goal_obs: torch.Tensor) -> torch.Tensor:
        """z [B, d] at states ``obs`` [B, ...] for reaching ``goal_obs`` [B, ...] (one goal per state). Without
        :attr:`goal_z_per_step` this is :meth:`infer_z_from_goal` of each goal, whatever the state."""
        del obs
        return torch.stack([self.infer_z_from_goal(goal) for goal in goal_obs])

    def q_value(self, obs: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Ensemble-mean Q(s, a, z) = SF(s, a, z)·z, shape [B]."""
        sf = self.successor_features(self.state_features(obs), action, z)
        return (sf * z).sum(-1).mean(0)
