"""HILP objective (Park et al. 2024, Eq. 4–5; official ``agents/hilp`` + ``agents/sf``) as a LossModule.

1. Hilbert features by goal-conditioned implicit value learning: V(s, g) = −‖φ(s) − φ(g)‖ for
   φ₁, φ₂, with reward −1 until s = g, target q = r + γ·m·min(V′₁, V′₂)(s′, g) from the target
   features, advantage from their mean, and an expectile loss (τ = ``expectile``) per copy.
   Goals: a future state of the same trajectory (geometric, ``future_observation`` in the batch),
   replaced by a random batch state with probability ``random_goal_ratio``.
2. Successor features on the centred φ: SF(L(s), a, z) ≈ φ(s′) + γ(1−d)·mean_ens SF′(L′(s′), a′, z),
   loss ½·E·mse (summed over the ensemble), z mixed from the sphere and Σ⁻¹φ(s′).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torch import nn

from representations.core.distributed import mean_over_ranks_
from representations.core.loss import RepresentationLoss
from representations.core.targets import add_target_network
from representations.core.zspace import ZSampler, ensemble_reduce
from representations.hilp.model import HILP


def hilbert_value(phi_s: torch.Tensor, phi_g: torch.Tensor) -> torch.Tensor:
    """V(s, g) = −‖φ(s) − φ(g)‖ (clamped inside the sqrt so the gradient stays finite at s = g)."""
    return -(phi_s - phi_g).square().sum(-1).clamp_min(1e-6).sqrt()


def expectile_loss(advantage: torch.Tensor, diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """IQL's asymmetric L2: weight τ where the advantage is ≥ 0, 1 − τ elsewhere (mean)."""
    weight = torch.where(advantage >= 0, expectile, 1.0 - expectile)
    return (weight * diff.square()).mean()


class HILPLoss(RepresentationLoss):
    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        action: NestedKey = "action"
        next_observation: NestedKey = ("next", "observation")
        future_observation: NestedKey = "future_observation"
        terminated: NestedKey = ("next", "terminated")
        z: NestedKey = "z"
        state_features: NestedKey = "state_features"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_value", "loss_sf"]
    in_key_names = ("observation", "action", "next_observation", "future_observation", "terminated")

    features_params: TensorDictParams
    target_features_params: TensorDictParams
    features2_params: TensorDictParams
    target_features2_params: TensorDictParams
    left_encoder_params: TensorDictParams
    target_left_encoder_params: TensorDictParams
    sf_net_params: TensorDictParams
    target_sf_net_params: TensorDictParams

    def __init__(
        self,
        model: HILP,
        actor: nn.Module,
        *,
        gamma: float = 0.98,
        expectile: float = 0.5,
        random_goal_ratio: float = 0.375,
        sf_pessimism: float = 0.0,
        target_noise_std: float = 0.2,
        target_noise_clip: float = 0.3,
        goal_ratio: float = 0.5,
        feature_stats_rate: float = 0.005,
    ) -> None:
        super().__init__(model, actor, gamma=gamma, target_noise_std=target_noise_std, target_noise_clip=target_noise_clip)
        self.expectile, self.random_goal_ratio = expectile, random_goal_ratio
        self.sf_pessimism, self.feature_stats_rate = sf_pessimism, feature_stats_rate
        self.z_sampler = ZSampler(model.z_dim, goal_ratio=goal_ratio, whiten_goals=True)
        self.target_features = add_target_network(self, "features", model.features)
        self.target_features2 = add_target_network(self, "features2", model.features2)
        self.target_left_encoder = add_target_network(self, "left_encoder", model.left_encoder)
        self.target_sf_net = add_target_network(self, "sf_net", model.sf_net)

    def _value_loss(self, obs: torch.Tensor, next_obs: torch.Tensor, goal: torch.Tensor):
        model = self.model
        reached = ((obs - goal).flatten(1).norm(dim=-1) < 1e-6).to(obs.dtype)
        reward, mask = reached - 1.0, 1.0 - reached
        with torch.no_grad():
            target_g1, target_g2 = self.target_features(goal), self.target_features2(goal)
            next_v1 = hilbert_value(self.target_features(next_obs), target_g1)
            next_v2 = hilbert_value(self.target_features2(next_obs), target_g2)
            v_target = 0.5 * (
                hilbert_value(self.target_features(obs), target_g1) + hilbert_value(self.target_features2(obs), target_g2)
            )
            advantage = reward + self.gamma * mask * torch.minimum(next_v1, next_v2) - v_target
            q1 = reward + self.gamma * mask * next_v1
            q2 = reward + self.gamma * mask * next_v2
        phi1_s = model.features(obs)
        v1 = hilbert_value(phi1_s, model.features(goal))
        v2 = hilbert_value(model.features2(obs), model.features2(goal))
        loss = expectile_loss(advantage, q1 - v1, self.expectile) + expectile_loss(advantage, q2 - v2, self.expectile)
        return loss, phi1_s, {"v_mean": 0.5 * (v1 + v2).detach().mean(), "advantage_mean": advantage.mean()}

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        keys, model = self.tensor_keys, self.model
        future = tensordict.get(keys.future_observation, None)
        if future is None:
            raise KeyError(
                f"HILP needs future observations of the same trajectory as goals ({keys.future_observation!r} is not in "
                "the batch): sample them with dataset.future=0.99 (representation=hilp sets it by default)"
            )
        obs = model.obs_encoder(tensordict.get(keys.observation))
        next_obs = model.obs_encoder(tensordict.get(keys.next_observation))
        goal = model.obs_encoder(future)
        action = tensordict.get(keys.action)
        terminated = tensordict.get(keys.terminated)
        discount = self.discount(terminated, obs.dtype)
        if self.random_goal_ratio > 0:
            # argsort of uniforms = a random permutation without a host sync
            random_goal = next_obs[torch.argsort(torch.rand(obs.shape[0], device=obs.device))]
            use_random = (torch.rand(obs.shape[0], device=obs.device) < self.random_goal_ratio).reshape(
                -1, *[1] * (goal.dim() - 1)
            )
            goal = torch.where(use_random, random_goal, goal)

        # 1. Hilbert features (the value's episodes end at the goal, not at dataset terminals).
        loss_value, phi1_s, value_metrics = self._value_loss(obs, next_obs.detach(), goal)
        if self.training:
            # Running mean / second moment of φ₁ (fp32 even under bf16 autocast).
            with torch.no_grad(), torch.autocast(obs.device.type, enabled=False):
                phi = phi1_s.detach().float()
                model.features_mean.lerp_(mean_over_ranks_(phi.mean(0)), self.feature_stats_rate)
                model.feature_cov.lerp_(mean_over_ranks_(phi.T @ phi / phi.shape[0]), self.feature_stats_rate)

        # 2. Successor features of the centred φ₁(s′) (φ is not trained by this loss).
        with torch.no_grad():
            next_phi = model.hilbert_features(next_obs.detach())
        z = tensordict.get(keys.z, None)
        if z is None:
            z = self.z_sampler(next_phi, model.feature_cov)
            tensordict.set(keys.z, z)
        left = model.left_encoder(obs)
        tensordict.set(keys.state_features, left.detach())
        with torch.no_grad():
            next_left = self.target_left_encoder(next_obs.detach())
            next_action = self.next_action(next_left, next_obs.detach(), z)
            next_sf = ensemble_reduce(self.target_sf_net(next_left, next_action, z), self.sf_pessimism)
            target_sf = next_phi + discount * next_sf
        sf = model.sf_net(left, action, z)  # [E, B, d]
        loss_sf = 0.5 * sf.shape[0] * (sf - target_sf).square().mean()
        return TensorDict(
            {
                "loss_value": loss_value,
                "loss_sf": loss_sf,
                **value_metrics,
                "features_norm": next_phi.norm(dim=-1).mean(),
                "sf_target_mean": target_sf.mean(),
                "z_norm": z.norm(dim=-1).mean(),
            },
            batch_size=[],
        )
