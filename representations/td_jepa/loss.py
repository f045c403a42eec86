"""TD-JEPA objective (arXiv 2510.00739 Eq. 9 asymmetric / Eq. 7 symmetric, Alg. 1) as a LossModule.

Targets (′ = EMA target networks, a′ ~ π(s′, z) with clipped noise):
    y_φ = ψ′(s′) + γ(1−d)·mean_ens T_φ′(φ′(s′), a′, z)        (T_φ predicts ψ-successor features)
    y_ψ = φ′(s′) + γ(1−d)·mean_ens T_ψ′(ψ′(s′), a′, z)        (T_ψ predicts φ-successor features)
Loss:  mean ‖T_φ(φ(s),a,z) − y_φ‖² + mean ‖T_ψ(ψ(s),a,z) − y_ψ‖² + λ_φ L_orth(φ) + λ_ψ L_orth(ψ).
Symmetric (ψ ≡ φ): mean ‖T_φ(φ(s),a,z) − (φ′(s′) + γ T_φ′)‖² + λ_φ L_orth(φ).
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
from representations.core.regularizers import orthonormality_loss
from representations.core.targets import add_target_network
from representations.core.zspace import ZSampler, ensemble_reduce
from representations.td_jepa.model import TDJEPA


class TDJEPALoss(RepresentationLoss):
    """TD latent-prediction loss + orthonormality regularisers for :class:`TDJEPA`.

    If the input has no ``z`` entry, z is drawn by mixed sampling (half uniform on the √d-sphere,
    half Σ⁻¹ψ of next states of the batch) and written back to the input, so that the actor loss uses the
    same z, together with the detached ``state_features`` φ(s) (``make_update`` drops them: its actor step
    reads φ of the updated encoder, as the official agent's does).
    """

    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        action: NestedKey = "action"
        next_observation: NestedKey = ("next", "observation")
        terminated: NestedKey = ("next", "terminated")
        future_observation: NestedKey = "future_observation"
        z: NestedKey = "z"
        state_features: NestedKey = "state_features"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_phi_td", "loss_psi_td", "loss_phi_ortho", "loss_psi_ortho"]

    phi_encoder_params: TensorDictParams
    target_phi_encoder_params: TensorDictParams
    phi_predictor_params: TensorDictParams
    target_phi_predictor_params: TensorDictParams

    def __init__(
        self,
        model: TDJEPA,
        actor: nn.Module,
        *,
        gamma: float = 0.99,
        phi_ortho_coef: float = 1.0,
        psi_ortho_coef: float = 1.0,
        predictor_pessimism: float = 0.0,
        target_noise_std: float = 0.2,
        target_noise_clip: float = 0.3,
        goal_ratio: float = 0.5,
        future_goal_ratio: float = 0.0,
        feature_cov_rate: float = 0.005,
    ) -> None:
        super().__init__(model, actor, gamma=gamma, target_noise_std=target_noise_std, target_noise_clip=target_noise_clip)
        self.phi_ortho_coef, self.psi_ortho_coef = phi_ortho_coef, psi_ortho_coef
        self.predictor_pessimism = predictor_pessimism
        self.feature_cov_rate = feature_cov_rate
        self.z_sampler = ZSampler(
            model.z_dim, goal_ratio=goal_ratio, whiten_goals=model.whiten_goals, future_ratio=future_goal_ratio
        )
        self.target_phi_encoder = add_target_network(self, "phi_encoder", model.phi_encoder)
        self.target_phi_predictor = add_target_network(self, "phi_predictor", model.phi_predictor)
        if not model.symmetric:
            self.target_psi_encoder = add_target_network(self, "psi_encoder", model.psi_encoder)
            self.target_psi_predictor = add_target_network(self, "psi_predictor", model.psi_predictor)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        keys, model = self.tensor_keys, self.model
        obs = model.obs_encoder(tensordict.get(keys.observation))
        action = tensordict.get(keys.action)
        terminated = tensordict.get(keys.terminated)
        with torch.no_grad():
            next_obs = model.obs_encoder(tensordict.get(keys.next_observation))
        discount = self.discount(terminated, obs.dtype)

        phi = model.phi_encoder(obs)
        psi = phi if model.symmetric else model.psi_encoder(obs)
        z = tensordict.get(keys.z, None)
        if z is None:
            # Goal latents from the online ψ of the batch's next states (official `sample_mixed_z(psi_next_obs)`),
            # and with future_goal_ratio > 0 also from ψ of a later state of the same trajectory.
            future = tensordict.get(keys.future_observation, None) if self.z_sampler.future_ratio > 0.0 else None
            with torch.no_grad():
                next_goal_psi = (model.phi_encoder if model.symmetric else model.psi_encoder)(next_obs)
                future_psi = None if future is None else model.psi(future)  # ψ ≡ φ when symmetric
            z = self.z_sampler(next_goal_psi, model.feature_cov, future_psi)
            tensordict.set(keys.z, z)
        tensordict.set(keys.state_features, phi.detach())

        with torch.no_grad():
            next_phi = self.target_phi_encoder(next_obs)
            next_action = self.next_action(next_phi, next_obs, z)
            if model.symmetric:
                next_psi = next_phi
            else:
                next_psi = self.target_psi_encoder(next_obs)
                next_sf_psi = ensemble_reduce(self.target_psi_predictor(next_psi, next_action, z), self.predictor_pessimism)
                target_psi = next_phi + discount * next_sf_psi
            next_sf_phi = ensemble_reduce(self.target_phi_predictor(next_phi, next_action, z), self.predictor_pessimism)
            target_phi = next_psi + discount * next_sf_phi

        pred_phi = model.phi_predictor(phi, action, z)  # [E, B, z_dim]
        loss_phi_td = (pred_phi - target_phi).square().sum(-1).mean()
        ortho_phi, ortho_phi_diag, ortho_phi_off = orthonormality_loss(phi)
        out = {
            "loss_phi_td": loss_phi_td,
            "loss_phi_ortho": self.phi_ortho_coef * ortho_phi,
            "phi_ortho_diag": ortho_phi_diag.detach(),
            "phi_ortho_offdiag": ortho_phi_off.detach(),
            "phi_target_mean": target_phi.mean(),
        }
        if not model.symmetric:
            pred_psi = model.psi_predictor(psi, action, z)  # [E, B, phi_dim]
            ortho_psi, ortho_psi_diag, ortho_psi_off = orthonormality_loss(psi)
            out.update(
                loss_psi_td=(pred_psi - target_psi).square().sum(-1).mean(),
                loss_psi_ortho=self.psi_ortho_coef * ortho_psi,
                psi_ortho_diag=ortho_psi_diag.detach(),
                psi_ortho_offdiag=ortho_psi_off.detach(),
            )
        if self.training:
            # EMA of E[ψψᵀ] (official `_update_z_stats`), used to whiten goal latents.
            # (skipped in eval mode, e.g. for validation losses).
            # fp32 even under bf16 autocast: the statistic is accumulated over many steps
            with torch.no_grad(), torch.autocast(psi.device.type, enabled=False):
                psi_fp32 = psi.detach().float()
                batch_cov = mean_over_ranks_(psi_fp32.T @ psi_fp32 / psi.shape[0])
                model.feature_cov.mul_(1 - self.feature_cov_rate).add_(self.feature_cov_rate * batch_cov)  # official rounding
        out["z_norm"] = z.norm(dim=-1).mean()
        return TensorDict(out, batch_size=[])
