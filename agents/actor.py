"""The generic latent-conditioned actor of the zero-shot agent and its objective.

Works with any :class:`~representations.base.ZeroShotRepresentation`: the actor maximises
Q(s, a, z) = SF(s, a, z)·z with the representation's successor-feature predictor held fixed
(as in FB/TD-JEPA's DDPG-style actor update; arXiv 2510.00739 Alg. 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase
from tensordict.utils import NestedKey
from torchrl.objectives import LossModule

from representations.base import ZeroShotRepresentation
from representations.core.distributed import mean_over_ranks_
from representations.core.networks import ZConditionedActor, clipped_noise_action, frozen_parameters
from representations.core.zspace import ensemble_reduce

ACTOR_NET_KEYS = ("hidden_dim", "hidden_layers", "embedding_layers")


def make_actor(actor_cfg: Mapping, representation: ZeroShotRepresentation, action_dim: int) -> ZConditionedActor:
    net = {k: actor_cfg[k] for k in ACTOR_NET_KEYS if k in actor_cfg}
    return ZConditionedActor(representation.actor_input_dim, representation.z_dim, action_dim, **net)


class ZeroShotActorLoss(LossModule):
    """−mean Q(s, π(s, z) + ε, z), Q from the frozen successor-feature predictor.

    Reads ``z`` and (if present) the detached ``state_features`` written by the representation loss.
    With ``bc_coeff > 0`` adds a TD3+BC term, normalising the Q term by its mean magnitude.
    """

    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        action: NestedKey = "action"
        z: NestedKey = "z"
        state_features: NestedKey = "state_features"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_actor"]

    def __init__(
        self,
        actor: ZConditionedActor,
        representation: ZeroShotRepresentation,
        *,
        noise_std: float = 0.2,
        noise_clip: float = 0.3,
        pessimism: float = 0.0,
        bc_coeff: float = 0.0,
    ) -> None:
        super().__init__()
        self.actor = actor
        self.__dict__["representation"] = representation
        self.noise_std, self.noise_clip, self.pessimism, self.bc_coeff = noise_std, noise_clip, pessimism, bc_coeff

    @property
    def in_keys(self):  # noqa: D102
        keys = self.tensor_keys
        return [keys.observation, keys.action, keys.z]

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        keys, rep = self.tensor_keys, self.representation
        obs, z = tensordict.get(keys.observation), tensordict.get(keys.z)
        with torch.no_grad():
            features = tensordict.get(keys.state_features, None)
            if features is None:
                features = rep.state_features(obs)
            actor_in = rep.actor_input(obs, features)
        action = clipped_noise_action(self.actor(actor_in, z), self.noise_std, self.noise_clip)
        # Gradients flow to the action only; the predictor's weight gradients are never computed.
        with frozen_parameters(rep.sf_predictor):
            sf = rep.successor_features(features, action, z)  # [E, B, d]
        q = ensemble_reduce((sf * z).sum(-1), self.pessimism)
        loss = -q.mean()
        out = {"q_mean": q.mean().detach()}
        if self.bc_coeff > 0:
            bc_error = F.mse_loss(action, tensordict.get(keys.action))
            q_scale = mean_over_ranks_(q.abs().mean().detach())  # the global batch's, under data parallelism
            loss = loss / q_scale + self.bc_coeff * bc_error
            out["bc_error"] = bc_error.detach()
        out["loss_actor"] = loss
        return TensorDict(out, batch_size=[])
