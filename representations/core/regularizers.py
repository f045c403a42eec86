"""Regularisers shared by representations."""

from __future__ import annotations

import torch

from representations.core.distributed import gather_rows


def orthonormality_loss(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Orthonormality regulariser on a batch of features E ∈ R^{B×d} (TD-JEPA Eq. 10; FB's B-ortho).

    With C = E Eᵀ:  L = −mean_i C_ii + ½ Σ_{i≠j} C_ij² / (B(B−1)).
    Returns (loss, diagonal term, off-diagonal term). Under data parallelism B is the global batch:
    every rank computes the same loss on the gathered features.
    """
    features = gather_rows(features)
    batch = features.shape[0]
    if batch < 2:
        raise ValueError("orthonormality_loss needs a batch of at least 2 feature vectors")
    # fp32 even under bf16 autocast: ‖C‖_F² − Σ C_ii² below cancels badly in bf16.
    with torch.autocast(features.device.type, enabled=False):
        features = features.float()
        gram = features @ features.T
    diag = torch.diagonal(gram)
    diag_term = -diag.mean()
    # Σ_{i≠j} C_ij² = ‖C‖_F² − Σ_i C_ii², which avoids materialising an off-diagonal mask.
    off_diag_term = 0.5 * (gram.square().sum() - diag.square().sum()) / (batch * (batch - 1))
    return diag_term + off_diag_term, diag_term, off_diag_term
