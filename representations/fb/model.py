"""Forward-backward representation (Touati & Ollivier 2021; Meta Motivo, Tirinzoni et al. 2025):
pure inference, no training state.

- left (state) encoder L(s), √d-normalised (the TD-JEPA repo's FB adds it; Table 2 "shallow/deep");
- forward map F(L(s), a, z) ∈ R^d as a twin ensemble, so Q(s, a, z) = F(s, a, z)·z;
- backward map B(s′) ∈ R^d, √d-normalised, with M(s, a, s′) = F(s, a, z)·B(s′) the successor measure;
- zero-shot inference: z ∝ Σ_i r_i B(s′_i) projected onto the √d-sphere (``fb/model.py``), or
  z = B(g) for a goal.
"""

from __future__ import annotations

import torch
from torch import nn

from representations.base import ZeroShotRepresentation
from representations.core.networks import ConditionedPredictor, mlp_encoder, init_reference_weights
from representations.core.zspace import project_to_sphere


class FB(ZeroShotRepresentation):
    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        *,
        z_dim: int = 50,
        left_dim: int = 256,
        left_encoder: dict | None = None,
        backward: dict | None = None,
        forward_map: dict | None = None,
        actor_uses_features: bool = False,
        reference_init: bool = True,
        obs_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        left_encoder = left_encoder or dict(hidden_dim=256, hidden_layers=0)
        backward = backward or dict(hidden_dim=256, hidden_layers=2)
        forward_map = forward_map or dict(hidden_dim=1024, hidden_layers=1)
        self.z_dim, self.left_dim, self.actor_uses_features = z_dim, left_dim, actor_uses_features
        self.obs_encoder = obs_encoder if obs_encoder is not None else nn.Identity()
        self.left_encoder = mlp_encoder(obs_dim, left_dim, **left_encoder)
        self.backward_map = mlp_encoder(obs_dim, z_dim, **backward)
        self.forward_map = ConditionedPredictor(left_dim, z_dim, action_dim, z_dim, **forward_map)
        if reference_init:
            init_reference_weights(self)  # orthogonal weights, zero biases (official)
        self.feature_dim = left_dim
        self.actor_input_dim = left_dim if actor_uses_features else obs_dim

    def backward_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.backward_map(self.obs_encoder(obs))

    # -- the ZeroShotRepresentation seam ---------------------------------------------------------
    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.left_encoder(self.obs_encoder(obs))

    def successor_features(self, features: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.forward_map(features, action, z)

    def goal_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.backward_features(obs)

    @property
    def sf_predictor(self) -> nn.Module:
        return self.forward_map

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        # Official: one Adam for F + left encoder (+ pixel encoder), one for B.
        return {
            "forward": list(self.forward_map.parameters())
            + list(self.left_encoder.parameters())
            + list(self.obs_encoder.parameters()),
            "backward": list(self.backward_map.parameters()),
        }

    def infer_z_from_rewards(self, next_obs: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        """z = project(Σ_i r_i B(s′_i)): the reward's projection on B (FB's inference, not lstsq)."""
        with torch.no_grad():
            b = self.goal_features_chunked(next_obs)
            return project_to_sphere(rewards.reshape(1, -1).to(b.dtype) @ b).squeeze(0)
