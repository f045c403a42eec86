"""AD-L-JEPA (Zhu et al., arXiv 2501.04969, AAAI 2026): a JEPA on the bird's-eye-view (BEV) map of a LiDAR
sweep, plus the pieces of its Occupancy-MAE baseline, on a dense CPU-sized stand-in for the sparse backbone.

Input: pillar grids ``bev`` f32 [B, C_in, H, W] (``data/lidar.py``). Channel 0 is log1p(point count), so an
input cell is *non-empty* iff ``bev[:, 0] > 0``; empty cells are all zeros.

    backbone   f = E(bev)                 [B, C, H/s, W/s]; zero at BEV cells with no points (sparse-conv-like)
    tokens     t = norm(f) | mask_token | empty_token          L2-normalised over channels (paper §3, "Tokens")
    predictor  p = norm(P(t_context))     3 × [Conv3×3(C→C) + BN + ReLU], then L2 norm (paper §3, "Predictor")

The paper's VoxelBackBone8x is a sparse 3-D conv net. :class:`BEVEncoder` keeps what matters for the method:
the activations of a cell are zero unless it holds points (``MaskedBatchNorm2d`` + re-masking after each block:
a dense 3×3 conv on zeroed inputs, evaluated only at active cells, *is* a submanifold conv), a stride-2 stage
activates an output cell when any input cell of its 2×2 block is active, and BatchNorm statistics are taken
over active cells only, as sparse BN does over active voxels. So masked-out points are truly invisible.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------------------
# Cells and masks
# ---------------------------------------------------------------------------------------------------------


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """x / max(‖x‖₂, 1e-12) over dim 1 (channels): ``F.normalize`` with a broadcast multiply, ~3× cheaper on CPU."""
    return x * torch.rsqrt((x * x).sum(dim=1, keepdim=True).clamp_min(1e-24))


def input_occupancy(bev: torch.Tensor) -> torch.Tensor:
    """bool [B, H, W]: input cells holding points (channel 0 = log1p(count) > 0)."""
    return bev[:, 0] > 0


def cell_occupancy(bev: torch.Tensor, downsample: int) -> torch.Tensor:
    """bool [B, H/s, W/s]: a BEV cell is non-empty when any input cell of its s×s block is (paper: voxel
    coords ÷ 8 = BEV cells)."""
    occupied = input_occupancy(bev)
    if downsample == 1:
        return occupied
    return F.max_pool2d(occupied[:, None].float(), downsample)[:, 0] > 0


def expand_cells(cells: torch.Tensor, downsample: int) -> torch.Tensor:
    """bool [B, Hc, Wc] per BEV cell → bool [B, Hc·s, Wc·s] per input cell (each cell's s×s block)."""
    if downsample == 1:
        return cells
    return cells.repeat_interleave(downsample, dim=1).repeat_interleave(downsample, dim=2)


def bev_masks(
    occupancy: torch.Tensor, ratio: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked_nonempty, masked_empty), bool like ``occupancy`` [B, Hc, Wc] (paper §3, "BEV masking").

    Non-empty cells of each sample are shuffled and exactly ⌊ratio·n_b + ½⌋ of its n_b non-empty cells are
    masked (round half up; the released code shuffles the cells of the whole batch at once, so per-sample shares
    vary there). Empty cells are masked by independent Bernoulli(ratio) draws. The random numbers are
    drawn on the generator's device (CPU by default) and moved to ``occupancy``'s, so a seeded generator gives
    the same masks on any device.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"mask ratio must lie in [0, 1], got {ratio}")
    batch, cells = occupancy.shape[0], occupancy[0].numel()
    gen_device = generator.device if generator is not None else torch.device("cpu")
    scores = torch.rand(batch, cells, generator=generator, device=gen_device).to(occupancy.device)
    coins = torch.rand(batch, cells, generator=generator, device=gen_device).to(occupancy.device)
    occupied = occupancy.reshape(batch, cells)
    # Empty cells get score 2 > any uniform draw: the first n_b ranks are then a random order of the n_b
    # non-empty cells, and masking ranks < k_b masks exactly k_b of them.
    ranks = torch.where(occupied, scores, torch.full_like(scores, 2.0)).argsort(dim=1).argsort(dim=1)
    keep_count = torch.floor(ratio * occupied.sum(dim=1, keepdim=True) + 0.5)
    masked_nonempty = occupied & (ranks < keep_count)
    masked_empty = ~occupied & (coins < ratio)
    return masked_nonempty.reshape(occupancy.shape), masked_empty.reshape(occupancy.shape)


def split_points(bev: torch.Tensor, masked_cells: torch.Tensor, downsample: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(context_bev, target_bev): the complementary split of the paper's encoders. The context keeps the points
    of unmasked BEV cells, the target only those of masked cells (a point is masked when its cell is); each
    input is zero wherever the other has points."""
    masked = expand_cells(masked_cells, downsample)[:, None]
    return bev.masked_fill(masked, 0.0), bev.masked_fill(~masked, 0.0)


# ---------------------------------------------------------------------------------------------------------
# Backbone
# ---------------------------------------------------------------------------------------------------------


class MaskedBatchNorm2d(nn.Module):
    """BatchNorm over the *active* cells only (sparse BN sees active voxels only); the output is zero at
    inactive cells. eps 1e-3 as OpenPCDet's sparse backbones (momentum 0.1 rather than their 0.01, for short
    runs). Float buffers only (no ``num_batches_tracked``)."""

    def __init__(self, channels: int, eps: float = 1e-3, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W], mask float [B, 1, H, W] of 0/1."""
        x = x * mask
        if self.training:
            # One fused pass over all cells (zeros at inactive ones), rescaled to the active cells:
            # Σx = N·mean_all, Σx² = N·(var_all + mean_all²); mean = Σx/n, var = Σx²/n − mean².
            total = x.shape[0] * x.shape[2] * x.shape[3]
            var_all, mean_all = torch.var_mean(x, dim=(0, 2, 3), correction=0)
            count = mask.sum()
            n = count.clamp_min(1.0)
            mean = mean_all * (total / n)
            var = ((var_all + mean_all * mean_all) * (total / n) - mean * mean).clamp_min(0.0)
            with torch.no_grad():  # running stats for eval mode: unbiased variance, skipped without 2 cells
                step = self.momentum * (count > 1).to(x.dtype)
                self.running_mean.lerp_(mean.detach(), step)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1.0), step)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight * torch.rsqrt(var + self.eps)
        shift = self.bias - mean * scale
        return torch.addcmul(shift[:, None, None], x, scale[:, None, None]) * mask


class _SparseBlock(nn.Module):
    """Conv3×3 (stride 1: submanifold-like; stride 2: a downsampling stage) + masked BN + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.norm = MaskedBatchNorm2d(cout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x), mask))


class BEVEncoder(nn.Module):
    """Dense 2-D conv stand-in for VoxelBackBone8x on a pillar grid: an optional submanifold-like stem block at
    input resolution (``stem_channels``; off by default: the pillar channels already are per-pillar features,
    and PointPillars' 2-D backbone starts with a stride-2 conv too), then log2(``downsample``) stages of
    [stride-2 block, block] with widths doubling up to ``channels`` (the paper's 16→32→64→64, 8× downsampled
    and flattened to a 256-channel BEV map, scaled down). Output [B, channels, H/s, W/s], exactly zero at BEV
    cells without points."""

    def __init__(self, in_channels: int = 12, channels: int = 64, downsample: int = 2, stem_channels: int | None = None) -> None:
        super().__init__()
        if downsample < 1 or downsample & (downsample - 1):
            raise ValueError(f"downsample must be a power of 2, got {downsample}")
        stages = int(math.log2(downsample))
        widths = [max(channels // 2 ** (stages - 1 - i), 8) for i in range(stages)] or [channels]
        self.in_channels, self.channels, self.downsample = in_channels, channels, downsample
        self.stem = _SparseBlock(in_channels, stem_channels, 1) if stem_channels else None
        blocks, cin = [], stem_channels or in_channels
        for width in widths:  # downsample 1: one stride-1 stage
            stride = 2 if stages else 1
            blocks.append(nn.ModuleList([_SparseBlock(cin, width, stride), _SparseBlock(width, width, 1)]))
            cin = width
        self.stages = nn.ModuleList(blocks)

    def forward(self, bev: torch.Tensor) -> torch.Tensor:
        mask = (bev[:, :1] > 0).to(bev.dtype)
        x = bev * mask  # an input cell without points contributes nothing, whatever its other channels hold
        if self.stem is not None:
            x = self.stem(x, mask)
        for stage in self.stages:
            if stage[0].conv.stride[0] == 2:
                mask = F.max_pool2d(mask, 2)  # active where any of the 2×2 finer cells is
            for block in stage:
                x = block(x, mask)
        return x


class BEVTokenEncoder(nn.Module):
    """The backbone with AD-L-JEPA's learnable ``mask_token`` and ``empty_token`` [1, C, 1, 1] (standard-normal
    init, as the released code; only their direction matters): the object downstream code uses (``encode`` /
    ``encode_pooled``), whichever objective — AD-L-JEPA, Occupancy-MAE or none ("scratch") — trained it."""

    def __init__(self, in_channels: int = 12, channels: int = 64, downsample: int = 2, stem_channels: int | None = None) -> None:
        super().__init__()
        self.backbone = BEVEncoder(in_channels, channels, downsample, stem_channels)
        self.mask_token = nn.Parameter(torch.randn(1, channels, 1, 1))
        self.empty_token = nn.Parameter(torch.randn(1, channels, 1, 1))
        self.in_channels, self.channels, self.downsample = in_channels, channels, downsample

    def check(self, bev: torch.Tensor) -> torch.Tensor:
        """Validates a pillar grid [B, C_in, H, W] (H, W multiples of ``downsample``)."""
        if not isinstance(bev, torch.Tensor) or bev.dim() != 4:
            shape = tuple(bev.shape) if isinstance(bev, torch.Tensor) else type(bev).__name__
            raise ValueError(f"AD-L-JEPA expects BEV pillar grids of shape [B, C_in, H, W]; got {shape}")
        if bev.shape[1] != self.in_channels:
            raise ValueError(
                f"AD-L-JEPA expects {self.in_channels} BEV channels (in_channels); got a grid of shape {tuple(bev.shape)}"
            )
        if bev.shape[-2] % self.downsample or bev.shape[-1] % self.downsample:
            raise ValueError(f"BEV grid {tuple(bev.shape[-2:])} is not divisible by downsample={self.downsample}")
        if not bev.is_floating_point():
            raise ValueError(f"AD-L-JEPA expects a float BEV grid; got {bev.dtype}")
        return bev

    def cell_occupancy(self, bev: torch.Tensor) -> torch.Tensor:
        return cell_occupancy(bev, self.downsample)

    def expand_cells(self, cells: torch.Tensor) -> torch.Tensor:
        return expand_cells(cells, self.downsample)

    def features(self, bev: torch.Tensor) -> torch.Tensor:
        """Raw backbone map [B, C, Hc, Wc] (zero at cells without points)."""
        return self.backbone(self.check(bev))

    def tokenize(self, features: torch.Tensor, occupancy: torch.Tensor, masked: torch.Tensor | None = None) -> torch.Tensor:
        """Token map [B, C, Hc, Wc], every token L2-normalised over channels (paper §3, "Tokens"): ``masked``
        cells → mask_token; other cells without points (``~occupancy``) → empty_token; the rest → features.
        Normalising a sparse backbone's near-zero empty-cell vectors would be meaningless: hence the token."""
        tokens = l2_normalize(features)
        empty = l2_normalize(self.empty_token).to(tokens.dtype)
        tokens = torch.where(occupancy[:, None], tokens, empty)
        if masked is not None:
            tokens = torch.where(masked[:, None], l2_normalize(self.mask_token).to(tokens.dtype), tokens)
        return tokens

    def encode(self, bev: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Downstream features [B, C, Hc, Wc] of the full grid. With ``normalize`` (default) they are the tokens
        the predictor reads and the target space the JEPA loss shapes: the L2-normalised backbone vector at each
        non-empty cell and the L2-normalised empty token elsewhere, so empty cells carry a learned constant
        rather than an arbitrary direction. ``normalize=False``: the raw backbone map (zero at empty cells)."""
        features = self.features(bev)
        if not normalize:
            return features
        return self.tokenize(features, self.cell_occupancy(bev))

    def encode_pooled(self, bev: torch.Tensor) -> torch.Tensor:
        """[B, 2C] for agents: [mean of ``encode`` over the non-empty cells ‖ mean over all cells]. The first half
        describes what was hit; the second also weighs how much of the grid is empty. A grid with no points gives
        zeros for the first half."""
        tokens = self.encode(bev)
        occupied = self.cell_occupancy(bev)[:, None].to(tokens.dtype)
        nonempty = (tokens * occupied).sum(dim=(2, 3)) / occupied.sum(dim=(2, 3)).clamp_min(1.0)
        return torch.cat([nonempty, tokens.mean(dim=(2, 3))], dim=1)

    def forward(self, bev: torch.Tensor) -> torch.Tensor:
        return self.encode(bev)

    @property
    def feature_dim(self) -> int:
        """Width of ``encode_pooled``."""
        return 2 * self.channels


# ---------------------------------------------------------------------------------------------------------
# AD-L-JEPA and the Occupancy-MAE baseline
# ---------------------------------------------------------------------------------------------------------


class BEVPredictor(nn.Module):
    """AD-L-JEPA predictor: ``depth`` × [Conv3×3(C→C) + BN + ReLU] over the whole BEV map, then L2
    normalisation over channels (paper: 3 layers at 256 channels)."""

    def __init__(self, channels: int, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.net(tokens))


class _BEVModel(nn.Module):
    """A :class:`BEVTokenEncoder` (``self.encoder``) plus an objective's head; the downstream interface
    (``encode`` / ``encode_pooled``) is the encoder's, whichever objective trained it."""

    encoder: BEVTokenEncoder

    @property
    def feature_dim(self) -> int:
        return self.encoder.feature_dim

    def cell_occupancy(self, bev: torch.Tensor) -> torch.Tensor:
        return self.encoder.cell_occupancy(bev)

    def expand_cells(self, cells: torch.Tensor) -> torch.Tensor:
        return self.encoder.expand_cells(cells)

    def split(self, bev: torch.Tensor, masked_cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(context_bev, target_bev): see :func:`split_points`."""
        return split_points(bev, masked_cells, self.encoder.downsample)

    def encode(self, bev: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.encoder.encode(bev, normalize)

    def encode_pooled(self, bev: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode_pooled(bev)

    def forward(self, bev: torch.Tensor) -> torch.Tensor:
        return self.encode(bev)


class ADLJEPA(_BEVModel):
    """Context encoder (with tokens) + predictor; the EMA target encoder lives in :class:`ADLJEPALoss`.

    Defaults are CPU-sized (C = 64 on a 32×32 BEV map from a 64×64 grid); the paper uses C = 256 at 8×
    downsampling. ``encode`` / ``encode_pooled`` are the downstream interface (see :class:`BEVTokenEncoder`).
    """

    def __init__(
        self,
        in_channels: int = 12,
        *,
        channels: int = 64,
        downsample: int = 2,
        stem_channels: int | None = None,
        predictor_depth: int = 3,
    ) -> None:
        super().__init__()
        self.encoder = BEVTokenEncoder(in_channels, channels, downsample, stem_channels)
        self.predictor = BEVPredictor(channels, predictor_depth)
        self.in_channels, self.channels, self.downsample = in_channels, channels, downsample

    @property
    def mask_token(self) -> nn.Parameter:
        return self.encoder.mask_token

    @property
    def empty_token(self) -> nn.Parameter:
        return self.encoder.empty_token


class OccupancyDecoder(nn.Module):
    """Occupancy-MAE-style head: Conv3×3(C→C)+BN+ReLU on the token map, a transposed conv back to input
    resolution (``hidden`` channels), BN+ReLU, and a 1×1 conv to one occupancy logit per input cell."""

    def __init__(self, channels: int, downsample: int, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, hidden, downsample, stride=downsample, bias=False)
            if downsample > 1
            else nn.Conv2d(channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, C, Hc, Wc] → logits [B, Hc·s, Wc·s]."""
        return self.net(tokens)[:, 0]


class OccupancyMAE(_BEVModel):
    """The Occupancy-MAE baseline on the same :class:`BEVTokenEncoder` (so ``encode`` is identical) plus an
    :class:`OccupancyDecoder`."""

    def __init__(
        self,
        in_channels: int = 12,
        *,
        channels: int = 64,
        downsample: int = 2,
        stem_channels: int | None = None,
        decoder_hidden: int = 16,
    ) -> None:
        super().__init__()
        self.encoder = BEVTokenEncoder(in_channels, channels, downsample, stem_channels)
        self.decoder = OccupancyDecoder(channels, downsample, decoder_hidden)
        self.in_channels, self.channels, self.downsample = in_channels, channels, downsample
