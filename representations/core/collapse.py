"""Collapse diagnostics shared by the JEPA objectives (logged every log step and kept in the run's report).

- ``spread``: the mean over dimensions of the per-dimension standard deviation, over the batch, of the L2-normalised
  embeddings. About 1/√D for embeddings spread over the sphere, 0 when every sample maps to the same point.
- ``rankme``: the effective rank of a batch of embeddings (Garrido et al. 2023, RankMe): exp of the entropy of the
  normalised singular values. D (or the batch size, if smaller) for isotropic embeddings, 1 for rank-one ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def spread(embeddings: torch.Tensor) -> torch.Tensor:
    """[B, D] → scalar: mean per-dimension std over the batch of the L2-normalised rows."""
    return F.normalize(embeddings.float(), dim=-1).std(dim=0).mean()


@torch.no_grad()
def rankme(embeddings: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """[B, D] → scalar: exp(−Σ p_k log p_k), p_k = σ_k / Σσ (+ eps) over the singular values σ of the batch."""
    singular = torch.linalg.svdvals(embeddings.float())
    p = singular / singular.sum().clamp_min(eps) + eps
    return torch.exp(-(p * p.log()).sum())


@torch.no_grad()
def collapse_diagnostics(features: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """``feature_std`` and ``feature_rankme`` of the online side (predictions or context features, pooled to [B, D]),
    ``target_std`` and ``target_rankme`` of the targets (pooled to [B, D])."""
    return {
        "feature_std": spread(features),
        "feature_rankme": rankme(features),
        "target_std": spread(targets),
        "target_rankme": rankme(targets),
    }
