"""Forward-backward objective (Touati & Ollivier 2021, Eq. 7; Meta Motivo ``fb/agent.py:update_fb``).

With M = F(L(s), a, z)·B(s′)ᵀ over all pairs of the batch (one matrix per ensemble member) and
the target M′ = mean_ens F′(L′(s′), a′, z)·B′(s′)ᵀ, a′ ~ π(s′, z) with clipped noise:
    diff = M − γ(1−d)·M′
    L_FB = ½ Σ_{i≠j} diff_ij² / (B(B−1)) − Σ_ens mean_i diff_ii        (summed over the ensemble)
plus λ·L_orth(B) on the online backward features (the same regulariser as TD-JEPA's Eq. 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torch import nn

from representations.core.distributed import gather_rows, row_offset
from representations.core.loss import RepresentationLoss
from representations.core.regularizers import orthonormality_loss
from representations.core.targets import add_target_network
from representations.core.zspace import ZSampler, ensemble_reduce
from representations.fb.model import FB


def fb_loss(
    m: torch.Tensor, target_m: torch.Tensor, discount: torch.Tensor, diag_offset: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FB's TD loss on successor-measure matrices: ``m`` [E, b, B], ``target_m`` [b, B], ``discount`` [b, 1].

    Row i pairs with column ``diag_offset + i`` (b = B in one process; under data parallelism the
    rows are this rank's samples, the columns the global batch, and the mean over ranks of this loss
    is the single-process loss). Returns (loss, diagonal term, off-diagonal term).
    """
    rows, cols = m.shape[-2], m.shape[-1]
    diff = m - discount * target_m
    diag = torch.diagonal(diff[..., diag_offset : diag_offset + rows], dim1=-2, dim2=-1)  # [E, b]
    # Σ_{i≠j} diff² = ‖diff‖_F² − Σ_i diff_ii² (no B×B mask needed)
    off_diag = 0.5 * (diff.square().sum() - diag.square().sum()) / (rows * (cols - 1))
    diag_term = -diag.mean(-1).sum()
    return off_diag + diag_term, diag_term, off_diag


class FBLoss(RepresentationLoss):
    """FB TD loss + orthonormality of B for :class:`FB`.

    If the input has no ``z``, z is drawn by mixed sampling (sphere, or B(s′) of a shuffled batch
    with probability ``goal_ratio``) and written back with the detached state features L(s), so the
    generic actor loss reuses both.
    """

    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        action: NestedKey = "action"
        next_observation: NestedKey = ("next", "observation")
        terminated: NestedKey = ("next", "terminated")
        z: NestedKey = "z"
        state_features: NestedKey = "state_features"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_fb", "loss_ortho"]

    left_encoder_params: TensorDictParams
    target_left_encoder_params: TensorDictParams
    forward_map_params: TensorDictParams
    target_forward_map_params: TensorDictParams
    backward_map_params: TensorDictParams
    target_backward_map_params: TensorDictParams

    def __init__(
        self,
        model: FB,
        actor: nn.Module,
        *,
        gamma: float = 0.98,
        ortho_coef: float = 1.0,
        fb_pessimism: float = 0.0,
        target_noise_std: float = 0.2,
        target_noise_clip: float = 0.3,
        goal_ratio: float = 0.5,
    ) -> None:
        super().__init__(model, actor, gamma=gamma, target_noise_std=target_noise_std, target_noise_clip=target_noise_clip)
        self.ortho_coef, self.fb_pessimism = ortho_coef, fb_pessimism
        self.z_sampler = ZSampler(model.z_dim, goal_ratio=goal_ratio)
        self.target_left_encoder = add_target_network(self, "left_encoder", model.left_encoder)
        self.target_forward_map = add_target_network(self, "forward_map", model.forward_map)
        self.target_backward_map = add_target_network(self, "backward_map", model.backward_map)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        keys, model = self.tensor_keys, self.model
        obs = model.obs_encoder(tensordict.get(keys.observation))
        action = tensordict.get(keys.action)
        terminated = tensordict.get(keys.terminated)
        # B is trained through the goal s′ (official: the backward encoder gets gradients, the
        # forward pass on s′ does not).
        goal = model.obs_encoder(tensordict.get(keys.next_observation))
        next_obs = goal.detach()
        discount = self.discount(terminated, obs.dtype)

        left = model.left_encoder(obs)
        backward = model.backward_map(goal)  # [B, d]
        z = tensordict.get(keys.z, None)
        if z is None:
            z = self.z_sampler(backward.detach())
            tensordict.set(keys.z, z)
        tensordict.set(keys.state_features, left.detach())

        with torch.no_grad():
            next_left = self.target_left_encoder(next_obs)
            next_action = self.next_action(next_left, next_obs, z)
            target_f = self.target_forward_map(next_left, next_action, z)  # [E, B, d]
            target_b = self.target_backward_map(next_obs)  # [B, d]
            # columns: the global batch under data parallelism (gather_rows is the identity otherwise)
            target_m = ensemble_reduce(target_f @ gather_rows(target_b).T, self.fb_pessimism)  # [B, B]

        forward = model.forward_map(left, action, z)  # [E, B, d]
        m = forward @ gather_rows(backward).T  # [E, B, B]
        loss, diag, off_diag = fb_loss(m, target_m, discount, diag_offset=row_offset(left.shape[0]))
        ortho, ortho_diag, ortho_off = orthonormality_loss(backward)
        return TensorDict(
            {
                "loss_fb": loss,
                "loss_ortho": self.ortho_coef * ortho,
                "fb_diag": diag.detach(),
                "fb_offdiag": off_diag.detach(),
                "ortho_diag": ortho_diag.detach(),
                "ortho_offdiag": ortho_off.detach(),
                "m_mean": m.detach().mean(),
                "target_m_mean": target_m.mean(),
                "z_norm": z.norm(dim=-1).mean(),
            },
            batch_size=[],
        )
