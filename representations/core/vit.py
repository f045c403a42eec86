"""Small Vision Transformer pieces shared by V-JEPA, SALT and DMT-JEPA.

* :class:`PatchEmbed` / :class:`TubeletEmbed` — ViT patchify (Dosovitskiy et al. 2021 §3.1) and its
  video version, non-overlapping t × p × p tubelets (ViViT / V-JEPA).
* :class:`ViTEncoder` — fixed sin-cos positions + pre-norm blocks; encodes only the kept tokens.
* :class:`MaskedPredictor` — the narrow I-JEPA / V-JEPA predictor (``src/models/predictor.py``).
* :class:`AttentivePooler` — one learned query cross-attending to tokens (V-JEPA's frozen-probe pooler).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from representations.core.masks import apply_masks
from representations.core.positions import sincos_1d, sincos_2d, sincos_3d


def pixels_to_float(pixels: torch.Tensor) -> torch.Tensor:
    # uint8 frames as stored by the replay buffers: [0, 255] → [-0.5, 0.5] (the project's pixel convention);
    # float inputs are taken as already normalised.
    return pixels.float() / 255.0 - 0.5 if pixels.dtype == torch.uint8 else pixels


def _positions(grid: tuple[int, ...], dim: int) -> torch.Tensor:
    """[1, prod(grid), dim] fixed sin-cos table for a 1-, 2- or 3-D grid."""
    table = {1: sincos_1d, 2: sincos_2d, 3: sincos_3d}[len(grid)](*grid, dim)
    return table.unsqueeze(0)


def transformer_blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.Sequential:
    # independent layers (nn.TransformerEncoder would deep-copy one, starting every layer from the same weights)
    if dim % heads:
        raise ValueError(f"width {dim} is not divisible by {heads} attention heads")
    return nn.Sequential(
        *[
            nn.TransformerEncoderLayer(
                dim, heads, int(dim * mlp_ratio), dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(depth)
        ]
    )


def init_linear_trunc_normal(module: nn.Module) -> None:
    # I-JEPA / V-JEPA ``_init_weights``: truncated normal (std 0.02) linear weights, zero biases
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class _ConvTokenizer(nn.Module):
    """Non-overlapping convolution (kernel = stride) → tokens [B, N, D] and the token grid shape."""

    def __init__(self, conv: nn.Module, kernel: tuple[int, ...]) -> None:
        super().__init__()
        self.proj, self.kernel = conv, kernel

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        sizes = tuple(pixels.shape[2:])
        if len(sizes) != len(self.kernel) or any(s % k for s, k in zip(sizes, self.kernel)):
            raise ValueError(f"input of shape {tuple(pixels.shape)} does not split into {self.kernel} patches")
        features = self.proj(pixels_to_float(pixels))  # [B, D, *grid]
        return features.flatten(2).transpose(1, 2), tuple(features.shape[2:])


class PatchEmbed(_ConvTokenizer):
    """Images [B, C, H, W] (uint8 or normalised float) → (tokens [B, H/p · W/p, dim], (H/p, W/p))."""

    def __init__(self, patch_size: int, in_channels: int = 3, dim: int = 192) -> None:
        super().__init__(nn.Conv2d(in_channels, dim, patch_size, stride=patch_size), (patch_size, patch_size))


class TubeletEmbed(_ConvTokenizer):
    """Clips [B, C, T, H, W] (uint8 or normalised float) → (tokens [B, T/t · H/p · W/p, dim], (T/t, H/p, W/p))."""

    def __init__(self, patch_size: int, tubelet: int = 2, in_channels: int = 3, dim: int = 192) -> None:
        kernel = (tubelet, patch_size, patch_size)
        super().__init__(nn.Conv3d(in_channels, dim, kernel, stride=kernel), kernel)


class ViTEncoder(nn.Module):
    """ViT over images (``frames=None``) or clips of ``frames`` frames cut into ``tubelet``-frame tubelets.

    ``forward(x, keep_idx=None)`` → [B, N or K, dim]: positions are added to all tokens, then only
    ``keep_idx`` [B, K] are kept *before* attention (I-JEPA's context encoder sees the context only).
    """

    def __init__(
        self,
        image_size: int | tuple[int, int],
        patch_size: int,
        in_channels: int = 3,
        dim: int = 192,
        depth: int = 4,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        frames: int | None = None,
        tubelet: int = 2,
    ) -> None:
        super().__init__()
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        if height % patch_size or width % patch_size:
            raise ValueError(f"image size {height}×{width} is not divisible by patch size {patch_size}")
        spatial = (height // patch_size, width // patch_size)
        if frames is None:
            self.patch_embed: _ConvTokenizer = PatchEmbed(patch_size, in_channels, dim)
            self.grid: tuple[int, ...] = spatial
        else:
            if frames % tubelet:
                raise ValueError(f"{frames} frames are not divisible into tubelets of {tubelet}")
            self.patch_embed = TubeletEmbed(patch_size, tubelet, in_channels, dim)
            self.grid = (frames // tubelet, *spatial)
        self.num_patches, self.dim = math.prod(self.grid), dim
        self.register_buffer("pos_embed", _positions(self.grid, dim), persistent=False)
        self.blocks = transformer_blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.apply(init_linear_trunc_normal)

    def forward(self, x: torch.Tensor, keep_idx: torch.Tensor | None = None) -> torch.Tensor:
        tokens, grid = self.patch_embed(x)
        if grid != self.grid:
            raise ValueError(f"encoder built for a {self.grid} token grid, got {grid} from input {tuple(x.shape)}")
        tokens = tokens + self.pos_embed
        if keep_idx is not None:
            tokens = apply_masks(tokens, keep_idx)
        return self.norm(self.blocks(tokens))


class MaskedPredictor(nn.Module):
    """V-JEPA predictor: [context tokens ‖ mask tokens at the target positions] → blocks → target predictions.

    Context tokens are projected to the narrow width ``dim``; both streams get fixed sin-cos positions of
    their grid indices (``grid`` of the encoder, or 1-D over ``num_patches`` when None). Each mask generator
    has its own zero-initialised learned mask token, picked by ``mask_index`` (V-JEPA ``multimask``). The
    output width is ``out_dim`` (e.g. a differently sized SALT teacher) or ``encoder_dim``. For I-JEPA's
    per-block targets [B, M, Kt], fold the M blocks into the batch.
    """

    def __init__(
        self,
        num_patches: int,
        encoder_dim: int,
        *,
        dim: int = 96,
        depth: int = 3,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        out_dim: int | None = None,
        num_mask_tokens: int = 1,
        grid: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        grid = tuple(grid) if grid is not None else (num_patches,)
        if math.prod(grid) != num_patches:
            raise ValueError(f"grid {grid} has {math.prod(grid)} positions, not num_patches={num_patches}")
        if num_mask_tokens < 1:
            raise ValueError(f"num_mask_tokens must be at least 1, got {num_mask_tokens}")
        self.embed = nn.Linear(encoder_dim, dim)
        self.register_buffer("pos_embed", _positions(grid, dim), persistent=False)
        self.mask_tokens = nn.Parameter(torch.zeros(num_mask_tokens, dim))
        self.blocks = transformer_blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, out_dim or encoder_dim)
        self.apply(init_linear_trunc_normal)

    def forward(
        self, context_tokens: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor, mask_index: int = 0
    ) -> torch.Tensor:
        """context_tokens [B, Kc, encoder_dim], context_idx [B, Kc], target_idx [B, Kt] → [B, Kt, out_dim]."""
        if not 0 <= mask_index < len(self.mask_tokens):
            raise ValueError(f"mask_index {mask_index} out of range for {len(self.mask_tokens)} mask tokens")
        context = self.embed(context_tokens) + apply_masks(self.pos_embed, context_idx)
        queries = self.mask_tokens[mask_index] + apply_masks(self.pos_embed, target_idx)
        hidden = self.blocks(torch.cat([context, queries], dim=1))
        return self.proj(self.norm(hidden[:, context.shape[1] :]))


class AttentivePooler(nn.Module):
    """Tokens [B, N, dim] → [B, dim] (or [B, out_dim] with a linear head): one learned query attends over
    the tokens, then LayerNorm — the attentive probe used on frozen V-JEPA features.

    With ``queries`` > 1, :meth:`pool_tokens` gives one pooled token per learned query, [B, queries, dim] (a
    one-layer resampler of a long token sequence into a short one, as the Perceiver Resampler of Flamingo)."""

    def __init__(self, dim: int, *, heads: int = 1, out_dim: int | None = None, queries: int = 1) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} attention heads")
        if queries < 1:
            raise ValueError(f"an attentive pooler needs at least 1 query, got queries={queries}")
        self.query = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, queries, dim), std=0.02))
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_dim) if out_dim is not None else nn.Identity()

    def pool_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, N, dim] → [B, queries, dim or out_dim]: each learned query's attention-weighted token, normalised."""
        pooled, _ = self.attention(self.query.expand(tokens.shape[0], -1, -1), tokens, tokens, need_weights=False)
        return self.head(self.norm(pooled))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The first query's pooled token [B, dim or out_dim] (the probe's one query)."""
        return self.pool_tokens(tokens)[:, 0]


class EncoderModel(nn.Module):
    """Base of the masked-prediction models: ``self.encoder`` is a :class:`ViTEncoder`; frozen use reads
    :meth:`encode`."""

    encoder: ViTEncoder

    @property
    def grid(self) -> tuple[int, ...]:
        return self.encoder.grid

    def encode(self, x: torch.Tensor, *, pool: bool = True) -> torch.Tensor:
        """Features of the full input: mean of the encoder's tokens [B, dim], or the tokens [B, N, dim]."""
        tokens = self.encoder(x)
        return tokens.mean(dim=1) if pool else tokens
