"""DMT-JEPA (Mo & Tong 2024, "Discriminative Masked Targets for Joint-Embedding Predictive Architecture",
arXiv 2405.17995; code DMTJEPA/DMTJEPA ``src/models/local_agg_head.py``, ``src/train.py``).

I-JEPA on images, except that each masked target is the aggregate of its *semantically similar neighbours*:

    features    h = LN(Ē(x))                                  all patches, EMA target encoder
    neighbours  S_n = top-k_{m ∈ 3×3 window(n) \\ n} cos(h_n, h_m)     (k = 4; §3.2 "semantic neighbours")
    targets     y_n = LN(CA(q = mean_m h_m ; kv = [q, h_{S_n}]))          (Ā: EMA head; §3.3 "cross-attention")

CA is CaiT class attention (Touvron et al. 2021 §3): per block q ← q + Attn(LN([q ‖ kv])), q ← q + MLP(LN(q)).
The context branch runs the *same* head over the visible tokens (mean of the visible tokens as the query, the
pooled vector added to every token, then a per-token MLP; ``loc=False`` in the code) before the predictor.
Windows wrap around the grid edges (indices modulo H and W), as the official ``get_local_index``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from representations.core.masks import Range, apply_masks, multiblock_masks_2d
from representations.core.vit import EncoderModel, MaskedPredictor, ViTEncoder, init_linear_trunc_normal


def window_indices(grid: tuple[int, int], window: int = 3, *, device: torch.device | str | None = None) -> torch.Tensor:
    """[H·W, window² − 1]: each patch's window neighbours (self excluded), wrapping modulo the grid."""
    height, width = grid
    if window % 2 == 0 or window > min(height, width):
        raise ValueError(f"window {window} must be odd and fit the {height}×{width} grid (else wrapped neighbours repeat)")
    r = window // 2
    offsets = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if (dy, dx) != (0, 0)]
    dy, dx = (torch.tensor(o, device=device) for o in zip(*offsets))
    rows = torch.arange(height, device=device).repeat_interleave(width)[:, None]
    cols = torch.arange(width, device=device).repeat(height)[:, None]
    return ((rows + dy) % height) * width + (cols + dx) % width


def topk_window_neighbours(features: torch.Tensor, grid: tuple[int, int], k: int = 4, window: int = 3) -> torch.Tensor:
    """features [B, H·W, D] → idx [B, H·W, k]: the k window neighbours of each patch with the highest cosine
    similarity to it (most similar first)."""
    table = window_indices(grid, window, device=features.device)  # [N, W]
    if not 1 <= k <= table.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the {table.shape[1]} neighbours of a {window}×{window} window")
    unit = F.normalize(features, dim=-1)
    similarity = (apply_masks(unit, table.expand(features.shape[0], -1, -1)) * unit.unsqueeze(2)).sum(-1)  # [B, N, W]
    best = similarity.topk(k, dim=-1).indices
    return table.expand(features.shape[0], -1, -1).gather(-1, best)


class ClassAttentionBlock(nn.Module):
    """CaiT class-attention block (qkv with biases, LayerNorm eps 1e-6, GELU MLP, no layer scale — as DMT-JEPA)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def attend(self, query: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """query [*, 1, D] attending over [query ‖ tokens [*, L, D]] (all normalised) → [*, 1, D]."""
        u = self.norm1(torch.cat([query, tokens], dim=1))
        return self.attention(u[:, :1], u, u, need_weights=False)[0]

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.norm2(x))

    def forward(self, query: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        query = query + self.attend(query, tokens)
        return query + self.feed_forward(query)


class LocalAggregationHead(nn.Module):
    """DMT-JEPA's ``LocalAggHead``: :meth:`targets` for the (EMA) target branch, :meth:`context` for the context."""

    def __init__(
        self,
        dim: int,
        grid: tuple[int, int],
        *,
        heads: int = 3,
        depth: int = 2,
        k: int = 4,
        window: int = 3,
        mlp_ratio: float = 4.0,
        query: str = "image",
    ) -> None:
        super().__init__()
        window_indices(grid, window)  # validate the window against the grid now
        if query not in QUERIES:
            raise ValueError(f"unknown objective.model.query={query!r}; choose one of {list(QUERIES)}")
        self.grid, self.k, self.window, self.query = tuple(grid), k, window, query
        self.blocks = nn.ModuleList(ClassAttentionBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(init_linear_trunc_normal)

    def queries(self, features: torch.Tensor) -> torch.Tensor:
        """[B, N, D] → [B·N, 1, D]: every patch of image b starts from image b's mean token (``query="image"``). The
        released code uses ``.repeat(N, 1, 1)``, which tiles the batch so that patch n of image b gets image
        (b·N + n) mod B's mean (``query="released"``, kept to measure its effect). ``query="patch"`` starts each
        patch from its own feature h_n, so the targets of one image stay distinct (our fix for the collapse: docs/RESULTS.md §15.3.1)."""
        if self.query == "patch":
            return features.reshape(-1, 1, features.shape[-1])
        means = features.mean(dim=1, keepdim=True)
        if self.query == "released":
            return means.repeat(features.shape[1], 1, 1)
        return means.repeat_interleave(features.shape[1], dim=0)

    def targets(self, features: torch.Tensor) -> torch.Tensor:
        """Aggregated targets [B, N, D] of all patches from their top-k window neighbours."""
        batch, num, dim = features.shape
        neighbours = apply_masks(features, topk_window_neighbours(features, self.grid, self.k, self.window))
        query, neighbours = self.queries(features), neighbours.reshape(batch * num, self.k, dim)
        for block in self.blocks:
            query = block(query, neighbours)
        return self.norm(query).reshape(batch, num, dim)

    def context(self, tokens: torch.Tensor) -> torch.Tensor:
        """Visible tokens [B, K, D] → [B, K, D]: each block adds the class-attention pooling (query: the mean
        visible token) to every token, then a per-token MLP (the official ``loc=False`` cross-attn path)."""
        for block in self.blocks:
            tokens = tokens + block.attend(tokens.mean(dim=1, keepdim=True), tokens)
            tokens = tokens + block.feed_forward(tokens)
        return self.norm(tokens)


QUERIES = ("image", "released", "patch")


@dataclass
class IJEPAMasks:
    """I-JEPA / DMT-JEPA masks (``configs/in1k_vitb16_ep600.yaml``): ``(batch_size, generator) ->
    (context_idx [B, Kc], target_idx [B, num_targets, Kt])`` on an (H, W) grid."""

    grid: tuple[int, int]
    num_targets: int = 4
    target_scale: Range = (0.15, 0.2)
    target_aspect: Range = (0.75, 1.5)
    context_scale: Range = (0.85, 1.0)
    min_keep: int = 4  # official: 10 on a 14 × 14 grid

    def __call__(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return multiblock_masks_2d(
            batch_size,
            tuple(self.grid),
            generator=generator,
            num_targets=self.num_targets,
            target_scale=self.target_scale,
            target_aspect=self.target_aspect,
            context_scale=self.context_scale,
            min_keep=self.min_keep,
        )


class DMTJEPA(EncoderModel):
    """Image ViT encoder, local aggregation head and predictor. ``encode`` (frozen use) reads the encoder only."""

    def __init__(
        self,
        image_size: int | tuple[int, int],
        patch_size: int,
        *,
        in_channels: int = 3,
        dim: int = 192,
        depth: int = 4,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        predictor_dim: int = 96,
        predictor_depth: int = 3,
        predictor_heads: int = 3,
        head_depth: int = 2,
        head_heads: int | None = None,
        k: int = 4,
        window: int = 3,
        query: str = "image",
        aggregate: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = ViTEncoder(image_size, patch_size, in_channels, dim, depth, heads, mlp_ratio)
        self.head = LocalAggregationHead(
            dim,
            self.encoder.grid,
            heads=head_heads or heads,
            depth=head_depth,
            k=k,
            window=window,
            mlp_ratio=mlp_ratio,
            query=query,
        )
        self.aggregate = aggregate  # False: I-JEPA, the paper's baseline (no head on either branch)
        self.predictor = MaskedPredictor(
            self.encoder.num_patches,
            dim,
            dim=predictor_dim,
            depth=predictor_depth,
            heads=predictor_heads,
            mlp_ratio=mlp_ratio,
            grid=self.encoder.grid,
        )
        self.feature_dim = dim

    def predict(self, x: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
        """context_idx [B, Kc], target_idx [B, M, Kt] → predictions [B, M, Kt, dim] (the M blocks folded into the
        batch for the predictor, as I-JEPA repeats the context once per target block)."""
        context_idx, target_idx = context_idx.to(x.device), target_idx.to(x.device)
        batch, blocks, kt = target_idx.shape
        context = self.encoder(x, context_idx)
        if self.aggregate:
            context = self.head.context(context)
        predicted = self.predictor(
            context.repeat_interleave(blocks, dim=0),
            context_idx.repeat_interleave(blocks, dim=0),
            target_idx.reshape(batch * blocks, kt),
        )
        return predicted.reshape(batch, blocks, kt, -1)
