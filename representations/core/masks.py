"""Token masks for masked-prediction JEPAs, as sorted index lists into a row-major patch grid.

* :func:`multiblock_masks_2d` — I-JEPA multi-block masks (Assran et al. 2023 §3, "context and targets").
* :func:`multiblock_masks_3d` — V-JEPA 3-D multi-block masks (Bardes et al. 2024 §3.2; ``multiblock3d.py``).
* :func:`random_tube_masks` — VideoMAE tube masking (Tong et al. 2022 §3.3).
* :func:`temporal_masks` — UI-JEPA temporal masks: whole tubelet time steps, "hyper-frames" (Fu et al. 2024 §3).
* :func:`feature_subset_masks` — T-JEPA context/target feature subsets of a table row (``src/mask.py``).

All randomness comes from the given ``torch.Generator`` (so masks are reproducible, e.g. in a collate
function); index tensors live on the CPU like the reference collators'. One block *size* is drawn per
batch and the *positions* per sample; index lists of unequal length are cut to the batch minimum
(keeping the lowest indices, as the reference collators do) so they stack into one tensor.
"""

from __future__ import annotations

import math

import torch

Range = float | tuple[float, float]


def _as_range(value: Range, name: str, *, upper: float | None = 1.0) -> tuple[float, float]:
    low, high = (value, value) if isinstance(value, (int, float)) else value
    if not (0 < low <= high and (upper is None or high <= upper)):
        bound = f"(0, {upper}]" if upper is not None else "(0, ∞)"
        raise ValueError(f"{name} must be a number or (low, high) range in {bound} with low ≤ high, got {value}")
    return float(low), float(high)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + torch.rand(1, generator=generator).item() * (high - low)


def _block_shape(generator: torch.Generator, height: int, width: int, scale: Range, aspect: Range, name: str) -> tuple[int, int]:
    """Block (h, w) covering ≈ scale · H · W patches with h / w ≈ aspect (I-JEPA ``_sample_block_size``)."""
    scale, aspect = _as_range(scale, name), _as_range(aspect, "aspect ratio", upper=None)
    if int(height * width * scale[0]) < 1:
        raise ValueError(f"{name} {scale} of a {height}×{width} grid gives blocks of zero patches")
    area = int(height * width * _uniform(generator, *scale))
    ratio = _uniform(generator, *aspect)
    h = min(height, max(1, round(math.sqrt(area * ratio))))
    w = min(width, max(1, round(math.sqrt(area / ratio))))
    return h, w


def _place_blocks(
    generator: torch.Generator, batch: int, count: int, grid: tuple[int, ...], block: tuple[int, ...]
) -> torch.Tensor:
    """Boolean [batch, count, *grid]: ``count`` blocks of shape ``block`` per sample, each at a uniformly random
    position (one ``randint`` per grid axis for the whole batch: no Python loop over samples)."""
    mask = torch.ones(batch, count, *([1] * len(grid)), dtype=torch.bool)
    for axis, (size, extent) in enumerate(zip(grid, block)):
        start = torch.randint(size - extent + 1, (batch, count), generator=generator)
        coords = torch.arange(size)
        inside = (coords >= start[..., None]) & (coords < start[..., None] + extent)  # [batch, count, size]
        shape = [batch, count] + [size if a == axis else 1 for a in range(len(grid))]
        mask = mask & inside.reshape(shape)
    return mask


def _stack_trimmed(masks: torch.Tensor) -> torch.Tensor:
    """Boolean masks [B, ...] → [B, K_min] sorted flat indices of their True entries, cut to the batch minimum."""
    flat = masks.reshape(len(masks), -1)
    keep = int(flat.sum(1).min())
    order = torch.argsort((~flat).to(torch.uint8), dim=1, stable=True)  # True entries first, in ascending order
    return order[:, :keep]


def multiblock_masks_2d(
    batch_size: int,
    grid: tuple[int, int],
    *,
    generator: torch.Generator,
    num_targets: int = 4,
    target_scale: Range = (0.15, 0.2),
    target_aspect: Range = (0.75, 1.5),
    context_scale: Range = (0.85, 1.0),
    min_keep: int = 4,
    max_tries: int = 20,
) -> tuple[torch.Tensor, torch.Tensor]:
    """I-JEPA masks on an (H, W) patch grid.

    Returns ``(context_idx [B, Kc], target_idx [B, num_targets, Kt])``: every target block has the same
    h × w size within a batch (so ``Kt = h · w`` needs no trimming); the context is a square-ish block
    *minus the union of that sample's targets*, re-placed up to ``max_tries`` times until it keeps
    ``min_keep`` patches, else widened to every non-target patch (I-JEPA likewise relaxes its constraint).
    """
    height, width = grid
    if num_targets < 1:
        raise ValueError(f"num_targets must be at least 1, got {num_targets}")
    target_block = _block_shape(generator, height, width, target_scale, target_aspect, "target_scale")
    context_block = _block_shape(generator, height, width, context_scale, 1.0, "context_scale")
    blocks = _place_blocks(generator, batch_size, num_targets, grid, target_block)  # [B, M, H, W]
    free = ~blocks.any(1)
    context = torch.zeros_like(free)
    pending = torch.arange(batch_size)
    for _ in range(max_tries):  # re-place the context block of the samples that kept too few patches
        context[pending] = _place_blocks(generator, len(pending), 1, grid, context_block)[:, 0] & free[pending]
        pending = pending[context[pending].flatten(1).sum(1) < min_keep]
        if not len(pending):
            break
    context[pending] = free[pending]
    if (context.flatten(1).sum(1) < min_keep).any():
        raise ValueError(
            f"{num_targets} targets of {target_block[0]}×{target_block[1]} patches leave fewer than "
            f"min_keep={min_keep} context patches on a {height}×{width} grid; use fewer or smaller targets"
        )
    targets = _stack_trimmed(blocks.flatten(0, 1)).reshape(batch_size, num_targets, -1)
    return _stack_trimmed(context), targets


def multiblock_masks_3d(
    batch_size: int,
    grid: tuple[int, int, int],
    *,
    generator: torch.Generator,
    num_blocks: int,
    spatial_scale: Range,
    temporal_scale: Range = 1.0,
    aspect: Range = (0.75, 1.5),
    min_keep: int = 1,
    max_tries: int = 20,
) -> tuple[torch.Tensor, torch.Tensor]:
    """V-JEPA masks on a (T, H, W) tubelet grid: ``num_blocks`` blocks of one t × h × w size per batch.

    Returns ``(context_idx [B, Kc], target_idx [B, Kt])``: target = union of the blocks, context = its
    complement, each cut to the batch minimum. V-JEPA's vitl16 config uses two generators:
    short-range (8 blocks, spatial 0.15) and long-range (2 blocks, spatial 0.7), both temporal 1.0.
    """
    frames, height, width = grid
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
    t = max(1, int(frames * _uniform(generator, *_as_range(temporal_scale, "temporal_scale"))))
    block = (t, *_block_shape(generator, height, width, spatial_scale, aspect, "spatial_scale"))
    if block == tuple(grid):
        raise ValueError(f"one {block} block covers the whole {tuple(grid)} grid, so the context would be empty")
    covered = torch.ones(batch_size, *grid, dtype=torch.bool)
    pending = torch.arange(batch_size)
    for _ in range(max_tries):  # V-JEPA re-draws the blocks until enough context is left
        covered[pending] = _place_blocks(generator, len(pending), num_blocks, tuple(grid), block).any(1)
        pending = pending[(~covered[pending]).flatten(1).sum(1) < min_keep]
        if not len(pending):
            break
    else:
        raise ValueError(
            f"{num_blocks} blocks of {block} left fewer than min_keep={min_keep} context tokens "
            f"on a {tuple(grid)} grid in {max_tries} tries"
        )
    return _stack_trimmed(~covered), _stack_trimmed(covered)


def random_tube_masks(
    batch_size: int, grid: tuple[int, int, int], *, generator: torch.Generator, ratio: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """VideoMAE tube masks: ``round(ratio · H · W)`` spatial positions masked per sample, the same in every
    frame. Returns ``(context_idx [B, T · (H·W − M)], target_idx [B, T · M])`` — equal lengths, no trimming."""
    frames, height, width = grid
    num_masked = round(ratio * height * width)
    if not 0 < num_masked < height * width:
        raise ValueError(
            f"ratio {ratio} masks {num_masked} of {height * width} positions; need at least one masked and one visible"
        )
    picked = torch.rand(batch_size, height * width, generator=generator).argsort(dim=1)[:, :num_masked]  # a random subset
    masked = torch.zeros(batch_size, height * width, dtype=torch.bool).scatter_(1, picked, True)
    tubes = masked[:, None, :].expand(batch_size, frames, height * width)
    return _stack_trimmed(~tubes), _stack_trimmed(tubes)


def temporal_masks(
    batch_size: int,
    grid: tuple[int, int, int],
    *,
    generator: torch.Generator,
    num_masked: int | None = None,
    ratio: Range | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """UI-JEPA temporal masks (Fu et al. 2024, arXiv 2409.04081 §3): hide every spatial token of some whole
    time steps of the (T, H, W) tubelet grid — 2-frame "hyper-frames" with tubelet 2 — chosen at random and
    not necessarily adjacent, independently per sample.

    The number masked is ``num_masked`` (1 ≤ k < T), or ``round(ratio · T)`` with the ratio drawn once per
    batch from ``ratio`` (a number or a (low, high) range) and clipped to [1, T − 1] so that one time step is
    always masked and one visible. Returns ``(context_idx [B, (T − k)·H·W], target_idx [B, k·H·W])``: sorted
    flat indices, complementary, equal lengths across the batch (no trimming).
    """
    frames, height, width = grid
    if frames < 2:
        raise ValueError(f"temporal masks need at least 2 time steps (one masked, one visible), got grid {tuple(grid)}")
    if (num_masked is None) == (ratio is None):
        raise ValueError("give exactly one of num_masked and ratio")
    if num_masked is not None:
        if not 1 <= num_masked < frames:
            raise ValueError(f"num_masked={num_masked} must be in [1, {frames - 1}] for {frames} time steps")
        count = int(num_masked)
    else:
        count = min(frames - 1, max(1, round(frames * _uniform(generator, *_as_range(ratio, "ratio")))))
    picked = torch.rand(batch_size, frames, generator=generator).argsort(dim=1)[:, :count]  # a random subset per row
    masked = torch.zeros(batch_size, frames, dtype=torch.bool).scatter_(1, picked, True)
    steps = masked[:, :, None].expand(batch_size, frames, height * width)
    return _stack_trimmed(~steps), _stack_trimmed(steps)


def feature_subset_masks(
    batch_size: int,
    num_features: int,
    *,
    generator: torch.Generator,
    context_share: Range = (0.136, 0.368),
    target_share: Range = (0.156, 0.622),
    num_targets: int = 4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """T-JEPA masks over the D features of a row: per batch, the context size in ``context_share`` · D and the
    target size in ``target_share`` · D (at least 1 each); per sample, a random context subset and
    ``num_targets`` random target subsets of the *remaining* features (disjoint from the context, possibly
    overlapping each other). Returns ``(context_idx [B, Kc], target_idx [B, num_targets, Kt])``, sorted
    feature indices. Defaults: the official Jannis configuration."""
    if num_features < 2:
        raise ValueError(f"T-JEPA masks need at least 2 features (a context and a target), got {num_features}")
    if num_targets < 1:
        raise ValueError(f"num_targets must be at least 1, got {num_targets}")
    ctx_low, ctx_high = _as_range(context_share, "context_share")
    tgt_low, tgt_high = _as_range(target_share, "target_share")
    num_context = min(num_features - 1, max(1, int(num_features * _uniform(generator, ctx_low, ctx_high))))
    num_target = min(num_features - num_context, max(1, int(num_features * _uniform(generator, tgt_low, tgt_high))))
    order = torch.rand(batch_size, num_features, generator=generator).argsort(dim=1)
    context = order[:, :num_context].sort(dim=1).values
    remaining = order[:, num_context:]  # [B, D − Kc], the features a target may use
    picks = torch.rand(batch_size, num_targets, remaining.shape[1], generator=generator).argsort(dim=2)[..., :num_target]
    targets = remaining[:, None, :].expand(-1, num_targets, -1).gather(2, picks).sort(dim=2).values
    return context, targets


def apply_masks(tokens: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Gathers tokens [B or 1, N, D] at idx [B, *S] → [B, *S, D] (a batch of 1, e.g. a position table, broadcasts)."""
    flat = idx.reshape(idx.shape[0], -1).to(tokens.device)
    tokens = tokens.expand(idx.shape[0], -1, -1)
    gathered = tokens.gather(1, flat.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    return gathered.reshape(*idx.shape, tokens.shape[-1])


def scatter_tokens(base: torch.Tensor, idx: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`apply_masks`: a copy of base [B, N, D] with rows idx [B, *S] set to values [B, *S, D]."""
    flat = idx.reshape(idx.shape[0], -1).to(base.device)
    values = values.reshape(flat.shape[0], flat.shape[1], base.shape[-1])
    return base.scatter(1, flat.unsqueeze(-1).expand_as(values), values)
