"""Sequences of views and the actions between them (seq-JEPA's input) drawn from a views dataset.

The dataset is a TensorDict [N] of instances with ``pixels`` uint8 [N, V, 3, S, S], ``rotation``
[N, V, 4] (absolute orientation of each view), optionally ``color`` [N, V, 3], and ``label`` [N].
A sequence takes M + 1 distinct views of one instance in random order; action i is the relative
rotation from view i to view i + 1 (quaternion), followed by the colour change when present.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict

from data.views3d import relative_rotation
from envs.buffer import SeededBatchSampler


def view_actions(rotation: torch.Tensor, color: torch.Tensor | None = None) -> torch.Tensor:
    """[..., K, 4] orientations (and [..., K, 3] colours) → the K − 1 actions between consecutive views."""
    actions = relative_rotation(rotation[..., :-1, :], rotation[..., 1:, :])
    if color is not None:
        actions = torch.cat([actions, color[..., 1:, :] - color[..., :-1, :]], dim=-1)
    return actions


def action_dim(data: TensorDict) -> int:
    return 4 + (3 if "color" in data.keys() else 0)


class ViewSequenceSampler(SeededBatchSampler):
    """Batches of ``views`` [B, M + 1, 3, S, S], ``actions`` [B, M, A] and ``label`` [B]."""

    def __init__(self, data: TensorDict, *, observed_views: int, batch_size: int, seed: int = 0) -> None:
        total = data["pixels"].shape[1]
        if not 1 <= observed_views < total:
            raise ValueError(
                f"observed views M={observed_views} must be in [1, {total - 1}]: each sequence also needs "
                f"a held-out target view, and instances have {total} views"
            )
        self.data, self.m, self.batch_size = data, observed_views, batch_size
        self.set_rng(torch.Generator().manual_seed(seed))

    def sample(self) -> TensorDict:
        n, total = self.data["pixels"].shape[:2]
        instances = torch.randint(n, (self.batch_size,), generator=self.generator)
        order = torch.rand(self.batch_size, total, generator=self.generator).argsort(dim=1)[:, : self.m + 1]
        return sequence_batch(self.data, instances, order)


def sequence_batch(data: TensorDict, instances: torch.Tensor, order: torch.Tensor) -> TensorDict:
    """The views ``order`` [B, K] (indices into each instance's views) of ``instances`` [B], with the
    K − 1 actions between them."""
    rows = instances[:, None]
    color = data["color"][rows, order] if "color" in data.keys() else None
    return TensorDict(
        {
            "views": data["pixels"][rows, order],
            "actions": view_actions(data["rotation"][rows, order], color),
            "rotation": data["rotation"][rows, order],
            "label": data["label"][instances],
        },
        batch_size=[len(instances)],
    )
