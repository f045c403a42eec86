"""UI-JEPA (Fu, Anantha, Vashisht, Cheng, Littwin 2024, "UI-JEPA: Towards Active Perception of User Intent
through Onscreen User Activity", arXiv 2409.04081): a video JEPA "JEPA-tuned" on unlabelled UI recordings.

It is V-JEPA (:class:`representations.vjepa.VJEPA`) with one more mask generator: besides V-JEPA's short-range
(8 blocks, spatial 0.15) and long-range (2 blocks, spatial 0.7) multi-block masks, *temporal* masks hide whole
"hyper-frames" (all tokens of a tubelet time step; :class:`TemporalMasks`). The paper's best masking is
short + long + temporal, so the predictor has three mask tokens, one per generator.

Videos follow the UI-activity data contract: uint8 ``[B, T, C, S, S]`` (time, then channels; default 16 frames
of 64 px). The inherited ``encode``/``predict`` keep V-JEPA's channels-first clips ``[B, C, T, S, S]``;
:meth:`UIJEPA.encode_video` and :class:`FrameAveragedEncoder` take the data-contract layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from representations.core.masks import Range, temporal_masks
from representations.core.vit import ViTEncoder
from representations.vjepa.model import VJEPA, default_mask_generators


def video_to_clip(video: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """Data-contract video [B, T, C, H, W] → V-JEPA clip [B, C, T, H, W] (a view)."""
    if video.dim() != 5 or video.shape[2] != channels:
        raise ValueError(f"expected a video [B, T, {channels}, H, W], got shape {tuple(video.shape)}")
    return video.transpose(1, 2)


@dataclass
class TemporalMasks:
    """UI-JEPA temporal mask generator: ``(batch_size, generator) -> (context_idx, target_idx)`` hiding whole
    time steps of the (T, H, W) token ``grid`` (``core.masks.temporal_masks``): ``num_masked`` of them, or
    ``round(ratio · T)`` clipped to [1, T − 1].

    Default ratio 0.75 = 6 of the 8 hyper-frames of a 16-frame, tubelet-2 clip: the notes on the paper give its
    best setting as "6 discrete hyper-frames", which we read as 6 masked, non-adjacent time steps (our reading).
    """

    grid: tuple[int, int, int]
    num_masked: int | None = None
    ratio: Range | None = 0.75

    def __call__(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        ratio = None if self.num_masked is not None else self.ratio
        return temporal_masks(batch_size, tuple(self.grid), generator=generator, num_masked=self.num_masked, ratio=ratio)


def ui_jepa_mask_generators(
    grid: tuple[int, int, int],
    *,
    temporal_ratio: Range | None = 0.75,
    temporal_num_masked: int | None = None,
    temporal: bool = True,
) -> list:
    """The paper's best masking: V-JEPA short-range + long-range multi-blocks, then temporal masks (``temporal=False``:
    the ablation without them, the spatial multi-blocks only)."""
    if len(grid) != 3:
        raise ValueError(f"UI-JEPA masks need a (T, H, W) video token grid, got {tuple(grid)}")
    spatial = default_mask_generators(tuple(grid))
    if not temporal:
        return spatial
    return [*spatial, TemporalMasks(tuple(grid), num_masked=temporal_num_masked, ratio=temporal_ratio)]


class UIJEPA(VJEPA):
    """V-JEPA video model with CPU-sized defaults for 64 px UI videos: 16 frames, tubelet 2, patch 8 → an
    8 × 8 × 8 token grid; ViT width 128, depth 4 (paper: a pretrained ViT-H/16 at 384 px, further JEPA-tuned);
    predictor width 64, depth 2; three mask tokens (short, long, temporal).

    The training objective is :class:`representations.ui_jepa.UIJEPALoss` (EMA target, layer-normed targets,
    L1). Frozen use: :meth:`encode_video` (tokens or mean-pooled) and :meth:`hyperframe_embeddings`.
    """

    def __init__(
        self,
        image_size: int | tuple[int, int] = 64,
        patch_size: int = 8,
        *,
        in_channels: int = 3,
        frames: int = 16,
        tubelet: int = 2,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        predictor_dim: int = 64,
        predictor_depth: int = 2,
        predictor_heads: int = 4,
        num_mask_tokens: int = 3,
    ) -> None:
        if frames is None or frames // tubelet < 2:
            raise ValueError(f"UI-JEPA needs videos of at least 2 tubelet time steps (frames={frames}, tubelet={tubelet})")
        super().__init__(
            image_size,
            patch_size,
            in_channels=in_channels,
            frames=frames,
            tubelet=tubelet,
            dim=dim,
            depth=depth,
            heads=heads,
            mlp_ratio=mlp_ratio,
            predictor_dim=predictor_dim,
            predictor_depth=predictor_depth,
            predictor_heads=predictor_heads,
            num_mask_tokens=num_mask_tokens,
        )
        self.in_channels = in_channels

    def encode_video(self, video: torch.Tensor, *, pool: bool = False) -> torch.Tensor:
        """Video [B, T, C, S, S] → encoder tokens [B, T/t · (S/p)², dim] (raster order: time, row, column), or
        their mean [B, dim] with ``pool=True``."""
        return self.encode(video_to_clip(video, self.in_channels), pool=pool)

    def hyperframe_embeddings(self, video: torch.Tensor) -> torch.Tensor:
        """One vector per hyper-frame, [B, T/t, dim]: the spatial mean of each time step's tokens — a short decoder
        prefix that keeps the temporal order (512 tokens → 8 at the defaults)."""
        tokens = self.encode_video(video)
        return tokens.reshape(tokens.shape[0], self.grid[0], -1, tokens.shape[-1]).mean(dim=2)


class FrameAveragedEncoder(nn.Module):
    """The frame-averaged baseline: an *image* encoder applied to each frame (or to each ``tubelet``-frame time
    step) independently, its tokens averaged over time — no temporal modelling at all.

    ``encoder`` is a :class:`ViTEncoder` over images (``frames=None``: one step per frame) or over single
    tubelets (``frames == tubelet``: one step per tubelet), e.g. the encoder of a V-JEPA trained on frames of
    the same videos. Same frozen interface as :class:`UIJEPA`: ``encode_video(video, pool=...)``.
    """

    def __init__(self, encoder: ViTEncoder) -> None:
        super().__init__()
        if len(encoder.grid) == 3 and encoder.grid[0] != 1:
            raise ValueError(f"the per-step encoder must see one time step, its token grid is {encoder.grid}")
        self.encoder = encoder
        self.tubelet = 1 if len(encoder.grid) == 2 else encoder.patch_embed.kernel[0]
        self.in_channels = encoder.patch_embed.proj.in_channels
        self.dim = self.feature_dim = encoder.dim

    @classmethod
    def build(
        cls,
        image_size: int | tuple[int, int] = 64,
        patch_size: int = 8,
        *,
        tubelet: int = 1,
        in_channels: int = 3,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 4.0,
    ) -> "FrameAveragedEncoder":
        """A fresh per-frame (``tubelet=1``) or per-tubelet ViT of the shared core."""
        frames = None if tubelet == 1 else tubelet
        return cls(ViTEncoder(image_size, patch_size, in_channels, dim, depth, heads, mlp_ratio, frames, tubelet))

    def step_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """Video [B, T, C, S, S] → per-step tokens [B, T/tubelet, (S/p)², dim], each step encoded on its own."""
        clip = video_to_clip(video, self.in_channels)
        batch, channels, frames = clip.shape[:3]
        if frames % self.tubelet:
            raise ValueError(f"{frames} frames do not split into steps of {self.tubelet}")
        steps = frames // self.tubelet
        if self.tubelet == 1:
            inputs = video.reshape(batch * frames, *video.shape[2:])  # [B·T, C, S, S]
        else:  # [B, C, steps, t, S, S] → [B·steps, C, t, S, S]
            inputs = clip.reshape(batch, channels, steps, self.tubelet, *clip.shape[3:]).transpose(1, 2)
            inputs = inputs.reshape(batch * steps, channels, self.tubelet, *clip.shape[3:])
        tokens = self.encoder(inputs)
        return tokens.reshape(batch, steps, *tokens.shape[1:])

    def encode_video(self, video: torch.Tensor, *, pool: bool = False) -> torch.Tensor:
        """Time-averaged tokens [B, (S/p)², dim], or their mean [B, dim] with ``pool=True``."""
        tokens = self.step_tokens(video).mean(dim=1)
        return tokens.mean(dim=1) if pool else tokens

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.encode_video(video)
