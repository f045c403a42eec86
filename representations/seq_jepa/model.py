"""seq-JEPA (arXiv 2505.03176; official code hafezgh/seq-jepa ``src/models.py``): a world model over a
sequence of views and the actions between them.

Each observed view v_i is encoded, e_i = f(v_i), and paired with an embedding of the relative action
a_i that leads to the next view; the last observed view's action slot is zero. A transformer over
[agg, (e_1, α(a_1)), …, (e_M, 0)] gives the aggregate representation c = x[agg] (invariant: it
should identify the object), and a predictor maps [c ‖ α(a_M)] to the target encoder's f̄(v_{M+1})
of the held-out next view (the EMA copy, in the loss). The view encodings e_i stay equivariant: a
pair (e_i, e_j) must still tell the action between them.

    α(a)     = BN_no-affine(W a)                       action embedding
    ẑ        = MLP([c ‖ α(a_M)])                       Linear(no bias) → BN → ReLU → Linear
    loss     = 1 − cos(ẑ, sg f̄(v_{M+1}))

``action_conditioning=False`` is the paper's ablation: zero actions everywhere.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvViewEncoder(nn.Module):
    """A small residual-free conv net for 64 px views (the paper uses ResNet-18 without its fc):
    stride-2 conv/BN/ReLU blocks then global average pooling to ``feature_dim``."""

    def __init__(self, feature_dim: int = 256, *, channels: tuple[int, ...] = (32, 64, 128), in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for out in (*channels, feature_dim):
            layers += [nn.Conv2d(width, out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            width = out
        self.net = nn.Sequential(*layers)
        self.feature_dim = feature_dim

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 [..., 3, S, S] → [..., feature_dim]."""
        lead = pixels.shape[:-3]
        x = pixels.reshape(-1, *pixels.shape[-3:]).float() / 255.0 - 0.5
        return self.net(x).mean(dim=(-2, -1)).reshape(*lead, self.feature_dim)


class MLPViewEncoder(nn.Module):
    """State-vector views (``data=trajectories data.views=states``): Linear/BN/ReLU blocks of widths
    ``channels`` then ``feature_dim``, mirroring the conv encoder's normalisation."""

    def __init__(self, in_dim: int, feature_dim: int = 256, *, channels: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for out in (*channels, feature_dim):
            layers += [nn.Linear(width, out, bias=False), nn.BatchNorm1d(out), nn.ReLU()]
            width = out
        self.net = nn.Sequential(*layers)
        self.in_dim, self.feature_dim = in_dim, feature_dim

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """[..., D] → [..., feature_dim]."""
        if states.shape[-1] != self.in_dim:
            raise ValueError(f"view encoder built for {self.in_dim}-d states, got views of shape {tuple(states.shape)}")
        lead = states.shape[:-1]
        return self.net(states.reshape(-1, self.in_dim).float()).reshape(*lead, self.feature_dim)


def make_view_encoder(view_shape: int | tuple[int, ...], feature_dim: int, channels: tuple[int, ...]) -> nn.Module:
    """Conv encoder for [3, S, S] frames, MLP encoder for [D] state vectors."""
    shape = (view_shape,) if isinstance(view_shape, int) else tuple(int(d) for d in view_shape)
    if len(shape) == 3:
        return ConvViewEncoder(feature_dim, channels=channels, in_channels=shape[0])
    if len(shape) == 1:
        return MLPViewEncoder(shape[0], feature_dim, channels=channels)
    raise ValueError(f"seq-JEPA views must be [C, H, W] frames or [D] state vectors, got shape {shape}")


class ActionEmbedding(nn.Module):
    """α(a) = BatchNorm(W a) without affine parameters (official: Linear(act_dim → 128, no bias) + BN)."""

    def __init__(self, action_dim: int, embed_dim: int = 128) -> None:
        super().__init__()
        self.linear = nn.Linear(action_dim, embed_dim, bias=False)
        self.norm = nn.BatchNorm1d(embed_dim, affine=False)
        self.embed_dim = embed_dim

    def forward(self, action: torch.Tensor) -> torch.Tensor:
        lead = action.shape[:-1]
        return self.norm(self.linear(action.reshape(-1, action.shape[-1]))).reshape(*lead, self.embed_dim)


class SeqJEPA(nn.Module):
    def __init__(
        self,
        action_dim: int,
        *,
        feature_dim: int = 256,
        channels: tuple[int, ...] = (32, 64, 128),
        action_embed_dim: int = 128,
        layers: int = 3,
        heads: int = 4,
        mlp_ratio: int = 4,
        predictor_hidden_dim: int = 1024,
        action_conditioning: bool = True,
        view_shape: int | tuple[int, ...] = (3, 64, 64),
    ) -> None:
        super().__init__()
        self.action_dim, self.action_conditioning = action_dim, action_conditioning
        self.view_shape = (view_shape,) if isinstance(view_shape, int) else tuple(int(d) for d in view_shape)
        self.encoder = make_view_encoder(self.view_shape, feature_dim, tuple(channels))
        self.action_embedding = ActionEmbedding(action_dim, action_embed_dim)
        token_dim = feature_dim + action_embed_dim
        self.agg_token = nn.Parameter(torch.zeros(1, 1, token_dim))
        nn.init.trunc_normal_(self.agg_token, std=0.02)
        layer = nn.TransformerEncoderLayer(
            token_dim, heads, mlp_ratio * token_dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=False
        )
        self.aggregator = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(token_dim), enable_nested_tensor=False)
        self.predictor = nn.Sequential(
            nn.Linear(token_dim + action_embed_dim, predictor_hidden_dim, bias=False),
            nn.BatchNorm1d(predictor_hidden_dim),
            nn.ReLU(),
            nn.Linear(predictor_hidden_dim, feature_dim),
        )
        self.feature_dim, self.aggregate_dim = feature_dim, token_dim

    def _actions(self, actions: torch.Tensor) -> torch.Tensor:
        return actions if self.action_conditioning else torch.zeros_like(actions)

    def aggregate(self, views: torch.Tensor, actions: torch.Tensor, view_features: torch.Tensor | None = None) -> torch.Tensor:
        """Aggregate representation c [B, token_dim] of M views [B, M, *view_shape] and the M − 1 actions
        between them [B, M − 1, A] (``view_features``: their encodings, when already computed)."""
        features = self.encoder(views) if view_features is None else view_features  # [B, M, F]
        batch, m = features.shape[:2]
        if actions.shape[1] != m - 1:
            raise ValueError(f"{m} views need {m - 1} actions between them, got {actions.shape[1]}")
        slots = torch.zeros(batch, m, self.action_embedding.embed_dim, dtype=features.dtype, device=features.device)
        if m > 1:  # the last observed view's action slot stays zero
            slots[:, :-1] = self.action_embedding(self._actions(actions))
        tokens = torch.cat([self.agg_token.expand(batch, -1, -1), torch.cat([features, slots], dim=-1)], dim=1)
        return self.aggregator(tokens)[:, 0]

    def predict(self, aggregate: torch.Tensor, next_action: torch.Tensor) -> torch.Tensor:
        """ẑ [B, F]: the predicted target encoding of the view that ``next_action`` leads to."""
        return self.predictor(torch.cat([aggregate, self.action_embedding(self._actions(next_action))], dim=-1))
