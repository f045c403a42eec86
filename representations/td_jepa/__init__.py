"""TD-JEPA: temporal-difference latent-predictive representations for zero-shot RL (arXiv 2510.00739)."""

from representations.td_jepa.loss import TDJEPALoss
from representations.td_jepa.model import TDJEPA

__all__ = ["TDJEPA", "TDJEPALoss"]
