"""Pieces shared by every representation: network blocks, z-space utilities, regularisers."""

from representations.core.networks import (
    ConditionedPredictor,
    EnsembleLayerNorm,
    EnsembleLinear,
    SphereNorm,
    ZConditionedActor,
    clipped_noise_action,
    frozen_parameters,
    mlp_encoder,
    weight_init,
)
from representations.core.loss import RepresentationLoss
from representations.core.regularizers import orthonormality_loss
from representations.core.targets import add_target_network
from representations.core.zspace import (
    ZSampler,
    ensemble_reduce,
    project_to_sphere,
    sample_sphere,
    solve_reward_regression,
    whiten,
)

__all__ = [
    "ConditionedPredictor",
    "EnsembleLayerNorm",
    "EnsembleLinear",
    "RepresentationLoss",
    "SphereNorm",
    "ZConditionedActor",
    "add_target_network",
    "ZSampler",
    "clipped_noise_action",
    "frozen_parameters",
    "ensemble_reduce",
    "mlp_encoder",
    "orthonormality_loss",
    "project_to_sphere",
    "sample_sphere",
    "solve_reward_regression",
    "weight_init",
    "whiten",
]
