"""TD-JEPA model (Bagatella et al., arXiv 2510.00739): pure inference, no training state.

- state encoder φ(s) and task encoder ψ(s), each ending in √d-normalisation;
- policy-conditioned latent predictors T_φ(φ(s), a, z) ≈ E[Σ_t γ^t ψ(s_t)]  (successor features in
  ψ-space, so Q(s, a, z) = T_φ·z) and T_ψ(ψ(s), a, z) ≈ E[Σ_t γ^t φ(s_t)] (Eq. 9, asymmetric);
  with ``symmetric=True`` ψ ≡ φ and only T_φ exists (Eq. 7);
- zero-shot inference: z = lstsq(ψ(s′), r) projected to the √d-sphere (§3.3), or a goal's ψ.
"""

from __future__ import annotations

import torch
from torch import nn

from representations.base import ZeroShotRepresentation
from representations.core.networks import ConditionedPredictor, mlp_encoder, init_reference_weights
from representations.core.zspace import project_to_sphere, whiten


class TDJEPA(ZeroShotRepresentation):
    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        *,
        z_dim: int = 50,
        phi_dim: int = 50,
        symmetric: bool = False,
        phi_encoder: dict | None = None,
        psi_encoder: dict | None = None,
        predictor: dict | None = None,
        actor_uses_features: bool = False,
        whiten_goals: bool = True,
        reference_init: bool = True,
        obs_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        phi_encoder = phi_encoder or dict(hidden_dim=512, hidden_layers=4)
        psi_encoder = psi_encoder or dict(hidden_dim=512, hidden_layers=4)
        if symmetric:
            # One encoder φ ≡ ψ with ψ's size and architecture, as the official symmetric launchers
            # (launch_td_jepa_sym_*: a 50-d MLP encoder); phi_dim / phi_encoder are not used.
            phi_dim, phi_encoder = z_dim, psi_encoder
        predictor = predictor or dict(hidden_dim=512, hidden_layers=2)
        self.z_dim, self.phi_dim, self.symmetric = z_dim, phi_dim, symmetric
        self.actor_uses_features, self.whiten_goals = actor_uses_features, whiten_goals
        self.obs_encoder = obs_encoder if obs_encoder is not None else nn.Identity()
        self.phi_encoder = mlp_encoder(obs_dim, phi_dim, **phi_encoder)
        self.psi_encoder = self.phi_encoder if symmetric else mlp_encoder(obs_dim, z_dim, **psi_encoder)
        # T_φ maps into ψ-space (its output is the successor feature used for Q); T_ψ into φ-space.
        self.phi_predictor = ConditionedPredictor(phi_dim, z_dim, action_dim, z_dim, **predictor)
        self.psi_predictor = None if symmetric else ConditionedPredictor(z_dim, z_dim, action_dim, phi_dim, **predictor)
        # EMA of E[ψψᵀ]; used to whiten goal latents (official `_z_cov`, `scale_train_goals`).
        self.register_buffer("feature_cov", torch.eye(z_dim))
        if reference_init:
            # Orthogonal weights, zero biases (official); false keeps PyTorch's default init
            # (random biases; compared in benchmarks/results/oracle_agreement_pointmaze_cpu_small.md).
            init_reference_weights(self)
        self.feature_dim = phi_dim
        self.actor_input_dim = phi_dim if actor_uses_features else obs_dim

    # -- encoders -------------------------------------------------------------------------------
    def phi(self, obs: torch.Tensor) -> torch.Tensor:
        return self.phi_encoder(self.obs_encoder(obs))

    def psi(self, obs: torch.Tensor) -> torch.Tensor:
        return self.psi_encoder(self.obs_encoder(obs))

    # -- the ZeroShotRepresentation seam ---------------------------------------------------------
    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.phi(obs)

    def successor_features(self, features: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.phi_predictor(features, action, z)

    def goal_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.psi(obs)

    @property
    def sf_predictor(self) -> nn.Module:
        return self.phi_predictor

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = {"phi_encoder": list(self.phi_encoder.parameters()) + list(self.obs_encoder.parameters())}
        predictors = list(self.phi_predictor.parameters())
        # Symmetric: ψ ≡ φ, so the psi_encoder group is empty (its learning rate is not used).
        groups["psi_encoder"] = [] if self.symmetric else list(self.psi_encoder.parameters())
        if not self.symmetric:
            predictors += list(self.psi_predictor.parameters())
        groups["predictors"] = predictors
        return groups

    def infer_z_from_goal(self, goal_obs: torch.Tensor) -> torch.Tensor:
        # Goals must live where training goals were sampled: Σ⁻¹ψ(g) when whitening is on.
        with torch.no_grad():
            psi_goal = self.psi(goal_obs.unsqueeze(0))
            return project_to_sphere(whiten(psi_goal, self.feature_cov) if self.whiten_goals else psi_goal).squeeze(0)
