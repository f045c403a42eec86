"""Deep linear JEPA vs MAE: the implicit bias of Littwin et al., "How JEPA Avoids Noisy Features" (arXiv 2407.03475).

``model``: the data model (per-feature λ, ρ; the noisy-view generator), batched deep linear encoders with a linear
predictor/decoder, the JEPA (stop-gradient target) and MAE population/minibatch losses, gradient-descent training.
``analysis``: the per-feature ODEs, their fixed points, Euler integration and half-learning times.
``python -m representations.linear_jepa``: the learning-order figure and tables (trained networks vs ODEs).
"""

from representations.linear_jepa.analysis import (
    doubling_times,
    first_learned,
    fixed_points,
    half_learning_times,
    integrate_ode,
    ode_rhs,
    u_rhs,
)
from representations.linear_jepa.model import (
    OBJECTIVES,
    DeepLinearBatch,
    FeatureModel,
    NoisyViews,
    fixed_point,
    population_gradient,
    train,
)

__all__ = [
    "OBJECTIVES",
    "DeepLinearBatch",
    "FeatureModel",
    "NoisyViews",
    "fixed_point",
    "population_gradient",
    "train",
    "doubling_times",
    "first_learned",
    "fixed_points",
    "half_learning_times",
    "integrate_ode",
    "ode_rhs",
    "u_rhs",
]
