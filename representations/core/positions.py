"""Fixed sin-cos position embeddings (Transformer, Vaswani et al. 2017 §3.5; used by ACT/ACT-JEPA)."""

from __future__ import annotations

import torch


def sincos_1d(length: int, dim: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """[length, dim] embedding: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(same)."""
    if dim % 2:
        raise ValueError(f"sin-cos position embeddings need an even dimension, got {dim}")
    position = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    inv_freq = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim)
    angles = position * inv_freq  # [length, dim / 2]
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(length, dim)


def sincos_2d(height: int, width: int, dim: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """[height · width, dim] embedding of a grid (row-major): half the channels encode the row,
    half the column, each with :func:`sincos_1d` (MAE / I-JEPA's 2-D sin-cos)."""
    if dim % 4:
        raise ValueError(f"2-D sin-cos position embeddings need a dimension divisible by 4, got {dim}")
    rows = sincos_1d(height, dim // 2, device=device)[:, None, :].expand(height, width, dim // 2)
    cols = sincos_1d(width, dim // 2, device=device)[None, :, :].expand(height, width, dim // 2)
    return torch.cat([rows, cols], dim=-1).reshape(height * width, dim)


def sincos_3d(frames: int, height: int, width: int, dim: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """[frames · height · width, dim] embedding of a video grid, row-major (t, h, w).

    Channel split of V-JEPA's ``get_3d_sincos_pos_embed`` (default ``uniform_power=False``): the first
    half encodes the frame, the next quarter the row, the last quarter the column, each with
    :func:`sincos_1d` — so every part must be even, i.e. ``dim`` divisible by 8."""
    if dim % 8:
        raise ValueError(f"3-D sin-cos position embeddings need a dimension divisible by 8, got {dim}")
    shape = (frames, height, width)
    time = sincos_1d(frames, dim // 2, device=device)[:, None, None, :].expand(*shape, dim // 2)
    rows = sincos_1d(height, dim // 4, device=device)[None, :, None, :].expand(*shape, dim // 4)
    cols = sincos_1d(width, dim // 4, device=device)[None, None, :, :].expand(*shape, dim // 4)
    return torch.cat([time, rows, cols], dim=-1).reshape(frames * height * width, dim)
