"""V-JEPA (Bardes et al. 2024): masked latent prediction against an EMA target encoder, for images and clips."""

from representations.vjepa.loss import MaskedLatentLoss, VJEPALoss
from representations.vjepa.model import VJEPA, MultiblockMasks, default_mask_generators

__all__ = ["MaskedLatentLoss", "MultiblockMasks", "VJEPA", "VJEPALoss", "default_mask_generators"]
