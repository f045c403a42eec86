"""Plumbing shared by the representation objectives (TD-JEPA, FB, HILP): TorchRL key handling,
the discount and the target policy's next action."""

from __future__ import annotations

import torch
from torch import nn
from torchrl.objectives import LossModule

from representations.core.networks import clipped_noise_action


class RepresentationLoss(LossModule):
    """Base of the representation ``LossModule``s.

    Subclasses declare their ``_AcceptedKeys`` and which of them are inputs (``in_key_names``). The
    model and actor are kept as plain attributes: their parameters are registered once, through the
    ``<name>_params`` / ``target_<name>_params`` pairs that torchrl's ``SoftUpdate`` drives.
    """

    in_key_names: tuple[str, ...] = ("observation", "action", "next_observation", "terminated")

    def __init__(
        self, model: nn.Module, actor: nn.Module, *, gamma: float, target_noise_std: float, target_noise_clip: float
    ) -> None:
        super().__init__()
        self._set_in_keys()
        self.__dict__["model"] = model
        self.__dict__["actor"] = actor
        self.gamma, self.target_noise_std, self.target_noise_clip = gamma, target_noise_std, target_noise_clip

    def _set_in_keys(self) -> None:
        self._in_keys = [getattr(self.tensor_keys, name) for name in self.in_key_names]

    @property
    def in_keys(self):  # noqa: D102
        return self._in_keys

    def _forward_value_estimator_keys(self, **kwargs) -> None:
        self._set_in_keys()

    def discount(self, terminated: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """γ(1 − d) as a [B, 1] column."""
        return self.gamma * (~terminated.reshape(-1, 1).bool()).to(dtype)

    def next_action(self, next_features: torch.Tensor, next_obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """a′ ~ π(·, z) at s′ with TD3's clipped target noise (none for a noise-conditioned flow-BC policy,
        whose samples are already stochastic); the actor reads features or the observation."""
        actor_in = next_features if self.model.actor_uses_features else next_obs
        if getattr(self.actor, "noise_conditioned", False):
            return self.actor(actor_in, z)
        return clipped_noise_action(self.actor(actor_in, z), self.target_noise_std, self.target_noise_clip)
