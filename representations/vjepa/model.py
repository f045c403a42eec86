"""V-JEPA (Bardes et al. 2024, "Revisiting Feature Prediction for Learning Visual Representations from
Video"; facebookresearch/jepa ``app/vjepa``): a ViT context encoder and a narrow masked predictor.

    context tokens  z = E(x; context_idx)                      E sees the visible tokens only
    predictions     ẑ = P([z ‖ mask_token_i @ target_idx])     one mask token per mask generator i
    targets         h = LN(Ē(x))[target_idx]                   Ē: EMA copy of E (in the loss)

Inputs are images [B, C, H, W] (``frames=None``) or clips [B, C, T, H, W] — channels first, then time:
the layout of V-JEPA's video loader and of ``Conv3d`` tubelets. A frame stack stored as [B, T, C, H, W]
must be passed as ``x.transpose(1, 2)``. Pixels are uint8 (scaled by the encoder) or normalised floats.

Masks come from :class:`MultiblockMasks` callables (V-JEPA's ``MaskCollator``, one per generator) that the
loss samples each step with its own ``torch.Generator``; images use the same 3-D masks on a (1, H, W) grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from representations.core.masks import Range, multiblock_masks_3d
from representations.core.vit import EncoderModel, MaskedPredictor, ViTEncoder


@dataclass
class MultiblockMasks:
    """One V-JEPA mask generator: ``(batch_size, generator) -> (context_idx [B, Kc], target_idx [B, Kt])`` on a
    token ``grid`` ((H, W) for images, read as (1, H, W); (T, H, W) for clips). Target = union of ``num_blocks``
    t × h × w blocks, context = the rest (``multiblock_masks_3d``)."""

    grid: tuple[int, ...]
    num_blocks: int = 8
    spatial_scale: Range = 0.15
    temporal_scale: Range = 1.0
    aspect: Range = (0.75, 1.5)
    min_keep: int = 1

    def __call__(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        grid = tuple(self.grid) if len(self.grid) == 3 else (1, *self.grid)
        return multiblock_masks_3d(
            batch_size,
            grid,
            generator=generator,
            num_blocks=self.num_blocks,
            spatial_scale=self.spatial_scale,
            temporal_scale=self.temporal_scale,
            aspect=self.aspect,
            min_keep=self.min_keep,
        )


def default_mask_generators(grid: tuple[int, ...]) -> list[MultiblockMasks]:
    """V-JEPA ``configs/pretrain/vitl16.yaml``: short-range (8 blocks, spatial scale 0.15) and long-range
    (2 blocks, spatial scale 0.7), both spanning the whole clip (temporal scale 1.0), aspect 0.75–1.5."""
    return [
        MultiblockMasks(tuple(grid), num_blocks=8, spatial_scale=0.15),
        MultiblockMasks(tuple(grid), num_blocks=2, spatial_scale=0.7),
    ]


class VJEPA(EncoderModel):
    """Context encoder + predictor. ``target_dim`` sets the predictor's output width (default: the encoder's;
    SALT's student predicts a teacher of another width). ``num_mask_tokens`` ≥ the number of mask generators."""

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
        predictor_dim: int = 96,
        predictor_depth: int = 3,
        predictor_heads: int = 3,
        num_mask_tokens: int = 2,
        target_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder = ViTEncoder(image_size, patch_size, in_channels, dim, depth, heads, mlp_ratio, frames, tubelet)
        self.predictor = MaskedPredictor(
            self.encoder.num_patches,
            dim,
            dim=predictor_dim,
            depth=predictor_depth,
            heads=predictor_heads,
            mlp_ratio=mlp_ratio,
            out_dim=target_dim,
            num_mask_tokens=num_mask_tokens,
            grid=self.encoder.grid,
        )
        self.feature_dim = dim
        self.target_dim = target_dim or dim

    def predict(self, x: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor, mask_index: int = 0) -> torch.Tensor:
        """Predicted target tokens [B, Kt, target_dim] from the context tokens of ``x``."""
        context_idx, target_idx = context_idx.to(x.device), target_idx.to(x.device)
        return self.predictor(self.encoder(x, context_idx), context_idx, target_idx, mask_index)
