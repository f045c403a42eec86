"""Batch statistics across data-parallel ranks, so that losses coupling the samples of a batch
(orthonormality Gram, FB's successor-measure matrix, running feature covariances) see the *global*
batch under ``torchrun``. Every helper is the identity in a single process.

Convention: each rank holds an equal shard of the global batch, rank r owning rows
[r·b, (r+1)·b). A loss on rank r is written so that the mean over ranks of the per-rank losses equals
the single-process loss on the global batch, and gradients are averaged over ranks after backward.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0


class _GatherRows(torch.autograd.Function):
    """Concatenate every rank's rows; the backward sends each rank the sum over ranks of the
    gradients of its own rows (every rank's loss may depend on them)."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:
        ctx.rows = local.shape[0]
        out = local.new_empty((world_size() * local.shape[0], *local.shape[1:]))
        dist.all_gather_single(out, local.contiguous())
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather_rows(local: torch.Tensor) -> torch.Tensor:
    """All ranks' rows of ``local`` [b, ...] → [world·b, ...] in rank order, differentiable."""
    if world_size() == 1:
        return local
    return _GatherRows.apply(local)


def row_offset(local_rows: int) -> int:
    """Index of this rank's first row in the gathered batch."""
    return rank() * local_rows


@torch.no_grad()
def mean_over_ranks_(value: torch.Tensor) -> torch.Tensor:
    """In-place mean over ranks of a statistic (e.g. a batch covariance of equal-size shards)."""
    if world_size() > 1:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= world_size()
    return value
