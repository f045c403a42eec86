"""The generic latent-conditioned actors of the zero-shot agent and their objectives.

Works with any :class:`~representations.base.ZeroShotRepresentation`: the actor maximises
Q(s, a, z) = SF(s, a, z)·z with the representation's successor-feature predictor held fixed
(as in FB/TD-JEPA's DDPG-style actor update; arXiv 2510.00739 Alg. 1).

* ``actor=td3``: a deterministic policy with TD3 noise, optionally TD3+BC (the DMC default).
* ``actor=flow_bc``: flow-BC (flow Q-learning, Park et al. 2025), the official OGBench actor — a
  behaviour flow fitted by flow matching, and a one-step noise-conditioned policy that maximises Q
  while staying close to the flow's action from the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from tensordict import TensorDict, TensorDictBase
from tensordict.utils import NestedKey
from torchrl.objectives import LossModule

from representations.base import ZeroShotRepresentation
from representations.core.distributed import mean_over_ranks_
from representations.core.networks import FlowBCActor, ZConditionedActor, build_actor, clipped_noise_action, frozen_parameters
from representations.core.zspace import ensemble_reduce

ACTOR_NET_KEYS = ("name", "hidden_dim", "hidden_layers", "embedding_layers", "flow_hidden_dim", "flow_hidden_layers")


def make_actor(actor_cfg: Mapping, representation: ZeroShotRepresentation, action_dim: int) -> nn.Module:
    net = {k: actor_cfg[k] for k in ACTOR_NET_KEYS if k in actor_cfg}
    name = net.pop("name", "td3")
    return build_actor(name, representation.actor_input_dim, representation.z_dim, action_dim, **net)


def resolve_actor_config(actor_cfg: Mapping, env_cfg: Mapping) -> dict:
    """``actor_cfg`` as a plain dict, with flow-BC's ``bc_coeff: null`` set to the official sweep's α
    for the env: 3.0 on OGBench manipulation (cube, scene, puzzle), 0.3 on navigation (and on DMC)."""
    resolved = dict(actor_cfg)
    if resolved.get("name") == "flow_bc" and resolved.get("bc_coeff") is None:
        manipulation = env_cfg.get("family") == "ogbench" and not str(env_cfg.get("name", "")).split("-")[0].endswith("maze")
        resolved["bc_coeff"] = 3.0 if manipulation else 0.3
    return resolved


def make_actor_loss(actor_cfg: Mapping, actor: nn.Module, representation: ZeroShotRepresentation) -> LossModule:
    """The objective of ``actor`` (its class decides: flow-BC or TD3(+BC))."""
    if isinstance(actor, FlowBCActor):
        return FlowBCActorLoss(
            actor,
            representation,
            bc_coeff=actor_cfg["bc_coeff"],
            pessimism=actor_cfg["pessimism"],
            flow_steps=actor_cfg["flow_steps"],
        )
    return ZeroShotActorLoss(
        actor,
        representation,
        noise_std=actor_cfg["noise_std"],
        noise_clip=actor_cfg["noise_clip"],
        pessimism=actor_cfg["pessimism"],
        bc_coeff=actor_cfg["bc_coeff"],
    )


def q_scale(member_q: torch.Tensor) -> torch.Tensor:
    """TD3+BC's normaliser: mean |Q| over the individual ensemble members [E, B] (as the reference
    code, not |mean over members|), over the global batch under data parallelism; detached."""
    return mean_over_ranks_(member_q.abs().mean().detach())


class _LatentActorLoss(LossModule):
    """The keys every actor objective reads: ``z`` and (if present) the detached ``state_features``
    written by the representation loss, beside the observation and the dataset action."""

    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        action: NestedKey = "action"
        z: NestedKey = "z"
        state_features: NestedKey = "state_features"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys

    @property
    def in_keys(self):  # noqa: D102
        keys = self.tensor_keys
        return [keys.observation, keys.action, keys.z]

    def _inputs(self, tensordict: TensorDictBase) -> tuple[torch.Tensor, torch.Tensor]:
        """(state features, actor input) of the batch, without gradients; the features are reused when the
        representation loss has written them."""
        keys, rep = self.tensor_keys, self.representation
        obs = tensordict.get(keys.observation)
        with torch.no_grad():
            features = tensordict.get(keys.state_features, None)
            if features is None:
                features = rep.state_features(obs)
            return features, rep.actor_input(obs, features)

    def _q_loss(self, features: torch.Tensor, action: torch.Tensor, z: torch.Tensor, bc_error: torch.Tensor | None) -> dict:
        """−mean Q(s, a, z) (Q from the frozen predictor, gradients to ``action`` only); with ``bc_error``,
        TD3+BC's −Q/mean|Q| + bc_coeff·bc_error."""
        # Gradients flow to the action only; the predictor's weight gradients are never computed.
        with frozen_parameters(self.representation.sf_predictor):
            sf = self.representation.successor_features(features, action, z)  # [E, B, d]
        member_q = (sf * z).sum(-1)  # [E, B]
        q = ensemble_reduce(member_q, self.pessimism)
        loss = -q.mean()
        out = {"q_mean": q.mean().detach()}
        if bc_error is not None:
            loss = loss / q_scale(member_q) + self.bc_coeff * bc_error
            out["bc_error"] = bc_error.detach()
        out["loss_actor"] = loss
        return out


class ZeroShotActorLoss(_LatentActorLoss):
    """−mean Q(s, π(s, z) + ε, z), Q from the frozen successor-feature predictor.

    With ``bc_coeff > 0`` adds a TD3+BC term, normalising the Q term by its mean magnitude.
    """

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

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        features, actor_in = self._inputs(tensordict)
        z = tensordict.get(self.tensor_keys.z)
        action = clipped_noise_action(self.actor(actor_in, z), self.noise_std, self.noise_clip)
        bc_error = F.mse_loss(action, tensordict.get(self.tensor_keys.action)) if self.bc_coeff > 0 else None
        out = self._q_loss(features, action, z, bc_error)
        return TensorDict(out, batch_size=[])


class FlowBCActorLoss(_LatentActorLoss):
    """flow-BC: flow matching for the behaviour flow, and for the one-step policy π(s, z, ε)

        L_π = −mean Q(s, π(s, z, ε), z) / mean|Q| + α·‖π(s, z, ε) − flow(s, ε)‖²,

    with flow(s, ε) the behaviour flow integrated from the same ε (``flow_steps`` Euler steps, no
    gradient). Flow matching: a_t = (1−t)ε′ + t·a, L_flow = mean ‖v(s, a_t, t) − (a − ε′)‖², t ~ U[0, 1].
    With α = 0 the Q term is not normalised (the reference code's choice).
    """

    out_keys = ["loss_actor", "loss_flow"]

    def __init__(
        self,
        actor: FlowBCActor,
        representation: ZeroShotRepresentation,
        *,
        bc_coeff: float = 0.3,
        pessimism: float = 0.0,
        flow_steps: int = 10,
    ) -> None:
        super().__init__()
        if flow_steps < 1:
            raise ValueError(f"actor.flow_steps must be >= 1, got {flow_steps}")
        self.actor = actor
        self.__dict__["representation"] = representation
        self.bc_coeff, self.pessimism, self.flow_steps = bc_coeff, pessimism, flow_steps

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        features, actor_in = self._inputs(tensordict)
        z, data_action = tensordict.get(self.tensor_keys.z), tensordict.get(self.tensor_keys.action)

        # Behaviour flow: straight paths from noise to the dataset's action.
        start = torch.randn_like(data_action)
        t = torch.rand(*data_action.shape[:-1], 1, device=data_action.device, dtype=data_action.dtype)
        a_t = (1 - t) * start + t * data_action
        loss_flow = (self.actor.flow(actor_in, a_t, t) - (data_action - start)).square().mean()

        noise = torch.randn_like(data_action)
        action = self.actor.policy(actor_in, z, noise)
        bc_error = None
        if self.bc_coeff > 0:
            bc_error = (action - self.actor.flow.sample(actor_in, noise, self.flow_steps)).square().mean()
        out = self._q_loss(features, action, z, bc_error)
        out["loss_flow"] = loss_flow
        return TensorDict(out, batch_size=[])
