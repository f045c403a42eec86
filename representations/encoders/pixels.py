"""Pixel observation encoder: the DrQ-v2 convolutional trunk (Yarats et al. 2021) with random-shift
augmentation, as TD-JEPA/FB/HILP use it from pixels (notes §1 "Networks"; official ``nn_models``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from representations.core.vit import pixels_to_float


def random_shift(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Shifts each image by an integer offset in [−pad, pad]² with edge replication (DrQ's augmentation).

    Implemented as replicate-padding followed by a per-sample crop, gathered with one index tensor.
    """
    b, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (b, 1, 1), device=images.device)
    dy = torch.randint(0, 2 * pad + 1, (b, 1, 1), device=images.device)
    rows = (torch.arange(h, device=images.device).view(1, h, 1) + dy).expand(b, h, w)
    cols = (torch.arange(w, device=images.device).view(1, 1, w) + dx).expand(b, h, w)
    flat = rows * (w + 2 * pad) + cols  # [B, H, W] indices into the padded image
    return padded.flatten(2).gather(2, flat.flatten(1).unsqueeze(1).expand(b, c, h * w)).view(b, c, h, w)


class PixelEncoder(nn.Module):
    """uint8 [.., C, H, W] frames → feature vector: /255 − 0.5, random shift (training only),
    4 conv layers (``channels``, 3×3, the first with stride 2), then Linear → LayerNorm → Tanh.

    Floating-point inputs (e.g. LiDAR BEV grids, channels already in about [0, 1]) are used as they
    are, without the uint8 rescaling."""

    def __init__(
        self, obs_shape: tuple[int, int, int], *, channels: int = 32, feature_dim: int = 256, shift_pad: int = 2
    ) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"the pixel encoder needs [C, H, W] observations, got shape {tuple(obs_shape)}")
        c, h, w = obs_shape
        self.obs_shape, self.shift_pad = tuple(obs_shape), shift_pad
        self.conv = nn.Sequential(
            nn.Conv2d(c, channels, 3, stride=2),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=1),
            nn.ReLU(),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, c, h, w)).numel()
        self.head = nn.Sequential(nn.Linear(flat, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.feature_dim = feature_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if tuple(obs.shape[-3:]) != self.obs_shape:
            raise ValueError(f"pixel encoder built for {self.obs_shape} frames, got a batch of shape {tuple(obs.shape)}")
        lead = obs.shape[:-3]
        x = pixels_to_float(obs.reshape(-1, *self.obs_shape)).float()
        if self.training and self.shift_pad > 0:
            x = random_shift(x, self.shift_pad)
        return self.head(self.conv(x).flatten(1)).reshape(*lead, self.feature_dim)
