"""SALT (Li et al. 2025, "Rethinking JEPA: Compute-Efficient Video SSL with Frozen Teachers", arXiv 2509.24317).

Two stages on the same V-JEPA multi-block masks:

1. :class:`PixelTeacher` — masked pixel reconstruction: the encoder sees the context tokens, a narrow
   decoder (``MaskedPredictor`` with mask tokens) outputs every masked patch's pixels.
2. :class:`SALTStudent` — a V-JEPA context encoder + predictor whose output width is the *teacher's*, trained
   to predict the frozen teacher's tokens of the full input at the masked positions (no EMA).

Teacher and student sizes are independent; only their token grids (image/clip size, patch, tubelet) must
match. Inputs: images [B, C, H, W] or clips [B, C, T, H, W] (channels, then time), uint8 or normalised float.
"""

from __future__ import annotations

import torch

from representations.core.vit import EncoderModel, MaskedPredictor, ViTEncoder, pixels_to_float
from representations.vjepa.model import VJEPA


def patchify(pixels: torch.Tensor, patch_size: int, tubelet: int | None = None) -> torch.Tensor:
    """Images [B, C, H, W] → [B, N, p·p·C]; clips [B, C, T, H, W] (``tubelet`` t) → [B, N, t·p·p·C].

    Patches are in the encoder's row-major token order ((t,) h, w); each patch is flattened
    (t,) p, p, C as MAE's ``patchify``. uint8 is scaled to [-0.5, 0.5] like the encoder's input."""
    x, p = pixels_to_float(pixels), patch_size
    if x.ndim == 4:
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p * c)
    if tubelet is None:
        raise ValueError(f"clips of shape {tuple(x.shape)} need the tubelet length")
    b, c, frames, h, w = x.shape
    t = tubelet
    x = x.reshape(b, c, frames // t, t, h // p, p, w // p, p).permute(0, 2, 4, 6, 3, 5, 7, 1)
    return x.reshape(b, (frames // t) * (h // p) * (w // p), t * p * p * c)


class PixelTeacher(EncoderModel):
    """Stage-1 teacher: ViT encoder + pixel decoder (out width = pixels per patch or tubelet)."""

    def __init__(
        self,
        image_size: int | tuple[int, int],
        patch_size: int,
        *,
        in_channels: int = 3,
        frames: int | None = None,
        tubelet: int = 2,
        dim: int = 192,
        depth: int = 4,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        decoder_dim: int = 96,
        decoder_depth: int = 3,
        decoder_heads: int = 3,
        num_mask_tokens: int = 2,
    ) -> None:
        super().__init__()
        self.encoder = ViTEncoder(image_size, patch_size, in_channels, dim, depth, heads, mlp_ratio, frames, tubelet)
        self.patch_size, self.tubelet = patch_size, (tubelet if frames is not None else None)
        self.patch_pixels = (self.tubelet or 1) * patch_size * patch_size * in_channels
        self.decoder = MaskedPredictor(
            self.encoder.num_patches,
            dim,
            dim=decoder_dim,
            depth=decoder_depth,
            heads=decoder_heads,
            mlp_ratio=mlp_ratio,
            out_dim=self.patch_pixels,
            num_mask_tokens=num_mask_tokens,
            grid=self.encoder.grid,
        )
        self.feature_dim = dim

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The input's patches [B, N, patch_pixels] in token order (the reconstruction targets, unnormalised)."""
        return patchify(x, self.patch_size, self.tubelet)

    def reconstruct(
        self, x: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor, mask_index: int = 0
    ) -> torch.Tensor:
        """Predicted pixels [B, Kt, patch_pixels] of the target patches from the context tokens."""
        context_idx, target_idx = context_idx.to(x.device), target_idx.to(x.device)
        return self.decoder(self.encoder(x, context_idx), context_idx, target_idx, mask_index)


class SALTStudent(VJEPA):
    """Stage-2 student: a :class:`VJEPA` whose predictor's last layer projects to ``teacher_dim``."""

    def __init__(self, image_size: int | tuple[int, int], patch_size: int, *, teacher_dim: int, **kwargs) -> None:
        super().__init__(image_size, patch_size, target_dim=teacher_dim, **kwargs)
