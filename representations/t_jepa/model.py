"""T-JEPA (Thimonier, De Melo Costa et al., ICLR 2025, arXiv 2410.05016; code jose-melo/t-jepa ``src/encoder.py``,
``src/predictors.py``): a JEPA over the features of a table row — or of a proprioceptive state, which is a row
of heterogeneous features.

    tokens   t = [r_1..r_R ‖ x_j · W_j + b_j (numeric) ‖ E_j[c_j] + b_j (categorical)] + PE     R regularisation tokens
    context  z = E(t; reg tokens ∪ context features)                                        transformer encoder
    predict  ẑ = P([z ‖ mask_token @ target features])                                     narrow predictor
    targets  h = Ē(t)[target features]                                                      EMA encoder, full row (loss)

The regularisation ("[CLS]") tokens are constant-one inputs with learned weights, i.e. learned vectors; the
paper reports them essential against collapse. They are always visible to the context encoder.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from representations.core.masks import apply_masks
from representations.core.positions import sincos_1d
from representations.core.vit import MaskedPredictor, init_linear_trunc_normal, transformer_blocks


class FeatureTokenizer(nn.Module):
    """Row → tokens [B, R + D, dim]: R learned regularisation tokens, then one token per numeric feature
    (value × weight + bias) and per categorical feature (its column's embedding + bias), plus fixed sin-cos
    positions (FT-Transformer tokenisation, as T-JEPA's ``Tokenizer``)."""

    def __init__(self, num_numeric: int, cardinalities: Sequence[int] = (), *, dim: int = 64, reg_tokens: int = 1) -> None:
        super().__init__()
        if num_numeric + len(cardinalities) < 1:
            raise ValueError("a row needs at least one numeric or categorical feature")
        if reg_tokens < 0:  # 0: the ablation without them, which the paper reports to collapse
            raise ValueError(f"objective.model.reg_tokens must be >= 0, got reg_tokens={reg_tokens}")
        self.num_numeric, self.cardinalities, self.reg = num_numeric, tuple(int(c) for c in cardinalities), reg_tokens
        self.num_features = num_numeric + len(self.cardinalities)
        self.reg_tokens = nn.Parameter(torch.randn(reg_tokens, dim) * 0.02)
        self.numeric_weight = nn.Parameter(torch.randn(num_numeric, dim) * 0.02)
        self.numeric_bias = nn.Parameter(torch.zeros(num_numeric, dim))
        self.embedding = nn.Embedding(max(1, sum(self.cardinalities)), dim)
        self.register_buffer(
            "offsets",
            torch.tensor([0, *self.cardinalities[:-1]]).cumsum(0) if self.cardinalities else torch.zeros(0, dtype=torch.long),
            persistent=False,
        )
        self.categorical_bias = nn.Parameter(torch.zeros(len(self.cardinalities), dim))
        self.register_buffer("pos_embed", sincos_1d(reg_tokens + self.num_features, dim).unsqueeze(0), persistent=False)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor | None = None) -> torch.Tensor:
        """numeric [B, D_num] float, categorical [B, D_cat] long (codes < cardinality) → [B, R + D, dim]."""
        if numeric.shape[-1] != self.num_numeric:
            raise ValueError(f"expected {self.num_numeric} numeric features, got rows of shape {tuple(numeric.shape)}")
        parts = [
            self.reg_tokens.expand(numeric.shape[0], -1, -1),
            numeric.unsqueeze(-1) * self.numeric_weight + self.numeric_bias,
        ]
        if self.cardinalities:
            if categorical is None or categorical.shape[-1] != len(self.cardinalities):
                raise ValueError(
                    f"expected {len(self.cardinalities)} categorical columns (codes), got "
                    f"{None if categorical is None else tuple(categorical.shape)}"
                )
            parts.append(self.embedding(categorical.long() + self.offsets) + self.categorical_bias)
        return torch.cat(parts, dim=1) + self.pos_embed


class TJEPA(nn.Module):
    """Tokenizer + transformer encoder (the context and, as an EMA copy, the target encoder) + predictor.

    ``encode`` (frozen use) embeds the full row: the mean of its tokens (``pool="mean"``) or all tokens
    flattened (``pool="flatten"``, the official downstream input, (R + D) · dim wide)."""

    def __init__(
        self,
        num_numeric: int,
        cardinalities: Sequence[int] = (),
        *,
        dim: int = 64,
        depth: int = 4,
        heads: int = 2,
        mlp_ratio: float = 1.0,
        reg_tokens: int = 1,
        predictor_dim: int = 16,
        predictor_depth: int = 2,
        predictor_heads: int = 2,
    ) -> None:
        super().__init__()
        self.tokenizer = FeatureTokenizer(num_numeric, cardinalities, dim=dim, reg_tokens=reg_tokens)
        self.encoder = nn.Sequential(transformer_blocks(dim, depth, heads, mlp_ratio), nn.LayerNorm(dim))
        self.encoder.apply(init_linear_trunc_normal)
        self.num_tokens = reg_tokens + self.tokenizer.num_features
        self.predictor = MaskedPredictor(
            self.num_tokens, dim, dim=predictor_dim, depth=predictor_depth, heads=predictor_heads, mlp_ratio=mlp_ratio
        )
        self.dim, self.reg = dim, reg_tokens

    @property
    def num_features(self) -> int:
        return self.tokenizer.num_features

    def token_index(self, feature_idx: torch.Tensor) -> torch.Tensor:
        """Feature indices (0..D-1) → token indices (after the regularisation tokens)."""
        return feature_idx + self.reg

    def context_index(self, context_features: torch.Tensor) -> torch.Tensor:
        """[B, Kc] features → [B, R + Kc] visible tokens: the regularisation tokens always, then the context."""
        reg = torch.arange(self.reg, device=context_features.device).expand(len(context_features), -1)
        return torch.cat([reg, self.token_index(context_features)], dim=1)

    def embed(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None, keep_idx: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Encoder tokens [B, K, dim] of the whole row, or of the tokens ``keep_idx`` [B, K] only."""
        tokens = self.tokenizer(numeric, categorical)
        if keep_idx is not None:
            tokens = apply_masks(tokens, keep_idx)
        return self.encoder(tokens)

    def predict(
        self,
        numeric: torch.Tensor,
        categorical: torch.Tensor | None,
        context_features: torch.Tensor,
        target_features: torch.Tensor,
    ) -> torch.Tensor:
        """context_features [B, Kc], target_features [B, M, Kt] → predictions [B, M, Kt, dim] (the M target sets
        folded into the batch of the predictor, as I-JEPA does)."""
        context_features, target_features = context_features.to(numeric.device), target_features.to(numeric.device)
        batch, sets, kt = target_features.shape
        keep = self.context_index(context_features)
        context = self.embed(numeric, categorical, keep)
        predicted = self.predictor(
            context.repeat_interleave(sets, dim=0),
            keep.repeat_interleave(sets, dim=0),
            self.token_index(target_features).reshape(batch * sets, kt),
        )
        return predicted.reshape(batch, sets, kt, -1)

    def encode(self, numeric: torch.Tensor, categorical: torch.Tensor | None = None, *, pool: str = "mean") -> torch.Tensor:
        tokens = self.embed(numeric, categorical)
        if pool == "mean":
            return tokens.mean(dim=1)
        if pool == "flatten":
            return tokens.flatten(1)
        raise ValueError(f"unknown pool={pool!r}; choose mean or flatten")
