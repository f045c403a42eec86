"""Executing action-chunk policies step by step (for a batch of environments in lock-step).

- ``chunk``: open loop, as ACT-JEPA's ``ActionChunkingPolicy``: predict H actions, execute the first
  ``action_steps`` of them (default all H), then predict again.
- ``ensemble``: ACT's temporal ensembling (Zhao et al. 2023, §3.3): predict a chunk at every step;
  the action for step t is the weighted mean of every stored chunk's prediction for t, with weights
  exp(−k·j) where j = 0 is the oldest prediction (ACT's ``temporal_agg``, k = 0.01).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import torch

EXECUTION_MODES = ("chunk", "ensemble")


class ChunkExecutor:
    def __init__(self, chunk: int, *, mode: str = "chunk", action_steps: int | None = None, ensemble_coeff: float = 0.01) -> None:
        if mode not in EXECUTION_MODES:
            raise ValueError(f"unknown execution mode {mode!r}; use one of {list(EXECUTION_MODES)} (execution.mode)")
        action_steps = chunk if action_steps is None else int(action_steps)
        if not 1 <= action_steps <= chunk:
            raise ValueError(f"execution.action_steps must be in [1, chunk={chunk}], got {action_steps}")
        self.chunk, self.mode, self.action_steps, self.coeff = chunk, mode, action_steps, ensemble_coeff
        self.reset()

    def reset(self) -> None:
        self._chunks: deque[tuple[int, torch.Tensor]] = deque(maxlen=self.chunk)  # (start step, [N, H, A])

    def __call__(self, t: int, predict: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Actions [N, A] for step ``t`` (steps run 0, 1, 2, ...); ``predict()`` returns a fresh
        chunk [N, H, A] for the current observations and is only called when one is needed."""
        if self.mode == "chunk":
            if not self._chunks or t - self._chunks[-1][0] >= self.action_steps:
                self._chunks.append((t, predict()))
            start, chunk = self._chunks[-1]
            return chunk[:, t - start]
        self._chunks.append((t, predict()))
        live = [(start, chunk) for start, chunk in self._chunks if t - start < self.chunk]  # oldest first
        weights = torch.tensor([math.exp(-self.coeff * j) for j in range(len(live))])
        actions = torch.stack([chunk[:, t - start] for start, chunk in live])  # [J, N, A]
        weights = (weights / weights.sum()).to(actions)
        return (weights[:, None, None] * actions).sum(0)
