"""Hilbert foundation policies (HILP) baseline: model and LossModule."""

from representations.hilp.loss import HILPLoss, expectile_loss, hilbert_value
from representations.hilp.model import HILP

__all__ = ["HILP", "HILPLoss", "expectile_loss", "hilbert_value"]
