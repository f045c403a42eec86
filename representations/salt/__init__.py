"""SALT (arXiv 2509.24317): a pixel-reconstruction teacher, frozen, then a student predicting its latents."""

from representations.salt.loss import PixelTeacherLoss, StudentLoss, normalize_patches
from representations.salt.model import PixelTeacher, SALTStudent, patchify

__all__ = ["PixelTeacher", "PixelTeacherLoss", "SALTStudent", "StudentLoss", "normalize_patches", "patchify"]
