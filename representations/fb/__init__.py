"""Forward-backward representation (FB) baseline: model and LossModule."""

from representations.fb.loss import FBLoss, fb_loss
from representations.fb.model import FB

__all__ = ["FB", "FBLoss", "fb_loss"]
