"""Hilbert foundation policies (HILP, Park et al. 2024, arXiv 2402.15567): pure inference.

- Hilbert features φ(s) ∈ R^d such that −‖φ(s) − φ(g)‖ is a goal-conditioned value (Eq. 3); two
  copies φ₁, φ₂ form the double value of the training objective, φ₁ is the representation;
- the features fed to successor features are the centred φ₁(s) − E[φ₁] (official
  ``center_features``), so rewards r(s) ≈ (φ₁(s) − E[φ₁])·z are linear in them;
- successor features SF(L(s), a, z) ≈ E[Σ_t γ^t φ(s_{t+1})] (twin ensemble) with Q = SF·z;
- zero-shot inference: z = lstsq(φ(s′), r) (the SF baselines' ``reward_inference``); for a goal, by default the
  paper's directional latent z = (φ(g) − φ(s)) / ‖φ(g) − φ(s)‖ re-inferred at every state (§4.3, "zero-shot
  goal-conditioned RL"), or with ``goal_inference="features"`` one z = Σ⁻¹φ(g) per episode, projected onto the
  √d-sphere (the training goal distribution, as the SF baselines infer goals).
"""

from __future__ import annotations

import torch
from torch import nn

from representations.base import ZeroShotRepresentation
from representations.core.networks import ConditionedPredictor, mlp_encoder, init_reference_weights
from representations.core.zspace import project_to_sphere, whiten


class HILP(ZeroShotRepresentation):
    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        *,
        z_dim: int = 50,
        left_dim: int = 256,
        features: dict | None = None,
        left_encoder: dict | None = None,
        successor_features: dict | None = None,
        center_features: bool = True,
        actor_uses_features: bool = True,
        reference_init: bool = True,
        goal_inference: str = "direction",
        obs_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        features = features or dict(hidden_dim=256, hidden_layers=2)
        left_encoder = left_encoder or dict(hidden_dim=256, hidden_layers=0)
        successor_features = successor_features or dict(hidden_dim=1024, hidden_layers=1)
        self.z_dim, self.left_dim = z_dim, left_dim
        self.center_features, self.actor_uses_features = center_features, actor_uses_features
        if goal_inference not in ("direction", "features"):
            raise ValueError(
                f"representation.goal_inference={goal_inference!r}: use 'direction' (the HILP paper's z, "
                "re-inferred every step) or 'features' (one z = Σ⁻¹φ(g) per episode)"
            )
        self.goal_z_per_step = goal_inference == "direction"
        self.obs_encoder = obs_encoder if obs_encoder is not None else nn.Identity()
        # Official HILP on DMC: features not √d-normalised (the distance must be free to grow).
        self.features = mlp_encoder(obs_dim, z_dim, normalize=False, **features)
        self.features2 = mlp_encoder(obs_dim, z_dim, normalize=False, **features)
        self.left_encoder = mlp_encoder(obs_dim, left_dim, **left_encoder)
        self.sf_net = ConditionedPredictor(left_dim, z_dim, action_dim, z_dim, **successor_features)
        # Running statistics of φ₁ (official `_update_features_stats`, rate 0.005).
        self.register_buffer("features_mean", torch.zeros(z_dim))
        self.register_buffer("feature_cov", torch.eye(z_dim))
        if reference_init:
            init_reference_weights(self)
        self.feature_dim = left_dim
        self.actor_input_dim = left_dim if actor_uses_features else obs_dim

    def hilbert_features(self, encoded_obs: torch.Tensor) -> torch.Tensor:
        """φ₁ of already-encoded observations, centred if ``center_features``."""
        phi = self.features(encoded_obs)
        return phi - self.features_mean if self.center_features else phi

    # -- the ZeroShotRepresentation seam ---------------------------------------------------------
    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.left_encoder(self.obs_encoder(obs))

    def successor_features(self, features: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.sf_net(features, action, z)

    def goal_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.hilbert_features(self.obs_encoder(obs))

    @property
    def sf_predictor(self) -> nn.Module:
        return self.sf_net

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        # Official: one Adam for φ₁, φ₂ (+ pixel encoder), one for SF + left encoder.
        return {
            "features": list(self.features.parameters())
            + list(self.features2.parameters())
            + list(self.obs_encoder.parameters()),
            "successor_features": list(self.sf_net.parameters()) + list(self.left_encoder.parameters()),
        }

    def infer_z_from_goal(self, goal_obs: torch.Tensor) -> torch.Tensor:
        """One z per episode, Σ⁻¹φ(g) on the sphere (the z at every state when ``goal_inference="features"``)."""
        with torch.no_grad():
            phi_goal = self.goal_features(goal_obs.unsqueeze(0))
            return project_to_sphere(whiten(phi_goal, self.feature_cov)).squeeze(0)

    def infer_z_toward_goal(self, obs: torch.Tensor, goal_obs: torch.Tensor) -> torch.Tensor:
        """The paper's goal latent at each state: the unit direction from φ(s) to φ(g) (the centring cancels),
        on the √d-sphere where training z lives. With Q = SF·z the policy then maximises the discounted progress
        (φ(s_{t+1}) − φ(s_t))·z towards the goal in the Hilbert space."""
        if not self.goal_z_per_step:
            return super().infer_z_toward_goal(obs, goal_obs)
        with torch.no_grad():
            return project_to_sphere(self.goal_features(goal_obs) - self.goal_features(obs))
