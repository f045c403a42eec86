"""Family-independent pieces of the environment layer.

A :class:`TaskSuite` describes one environment family's *evaluation protocol* for
zero-shot RL: which tasks exist, how to build an evaluation environment for a task,
and how to relabel offline transitions with a task's reward.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase

__all__ = ["TaskSuite", "cfg_get", "cfg_options", "episode_last_rows", "sample_future_rows"]


def cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a dict / OmegaConf ``DictConfig`` / attribute object.

    Missing keys and ``None`` values both give ``default``.
    """
    if cfg is None:
        return default
    if isinstance(cfg, Mapping) or hasattr(cfg, "get") and not isinstance(cfg, type):
        try:
            value = cfg.get(key, default)
        except Exception:  # pragma: no cover - exotic config objects
            value = getattr(cfg, key, default)
    else:
        value = getattr(cfg, key, default)
    return default if value is None else value


def cfg_options(cfg: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """The entries of ``keys`` that ``cfg`` sets (not missing, not ``None``): optional constructor kwargs."""
    return {key: value for key in keys if (value := cfg_get(cfg, key)) is not None}


def episode_last_rows(terminals: torch.Tensor) -> torch.Tensor:
    """For every row of a flat trajectory store, the row index of the last step of its episode.

    ``terminals`` [N] bool marks each episode's last row (the final row always ends one).
    """
    ends = torch.nonzero(terminals.reshape(-1)).reshape(-1)
    n = terminals.numel()
    if ends.numel() == 0 or ends[-1] != n - 1:
        ends = torch.cat([ends, torch.tensor([n - 1])])
    return ends[torch.searchsorted(ends, torch.arange(n))]


def episode_bounds(terminals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(first row, row count) of each episode of a flat store whose ``terminals`` mark last rows."""
    terminals = terminals.reshape(-1)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), torch.nonzero(terminals).reshape(-1) + 1])
    starts = starts[starts < len(terminals)]
    return starts, episode_last_rows(terminals)[starts] - starts + 1


def kept_steps(
    starts: torch.Tensor, lengths: torch.Tensor, *, stride: int = 1, max_episodes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(row, episode, step) of every ``stride``-th step of the episodes (first row, row count)."""
    if max_episodes is not None:
        starts, lengths = starts[: int(max_episodes)], lengths[: int(max_episodes)]
    steps = [torch.arange(0, int(n), stride) for n in lengths.tolist()]
    step = torch.cat(steps)
    episode = torch.repeat_interleave(torch.arange(len(steps)), torch.tensor([len(s) for s in steps]))
    return starts.long()[episode] + step, episode, step


def sample_future_rows(
    index: torch.Tensor, last_rows: torch.Tensor, future: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Rows of future observations for transitions at rows ``index`` (observation row i, next row i+1).

    The offset k ≥ 1 is geometric with success probability 1 − ``future`` and clipped to the episode,
    so the future row is i + min(k, last − i): the next observation or a later one of the same
    trajectory (the official buffers' ``future`` sampling, used by HILP's goals).
    """
    if not 0.0 <= future < 1.0:
        raise ValueError(f"dataset.future must be in [0, 1), got {future}")
    u = torch.rand(index.shape, generator=generator, dtype=torch.float64).clamp_min(1e-12)
    # inverse CDF of the geometric distribution on {1, 2, ...}
    k = (
        1 + torch.floor(torch.log(u) / torch.log1p(torch.tensor(-(1.0 - future), dtype=torch.float64))).long()
        if future > 0
        else torch.ones_like(index)
    )
    return torch.minimum(index + k, last_rows[index])


class TaskSuite(abc.ABC):
    """An environment family's evaluation protocol for zero-shot RL."""

    name: str  #: e.g. ``"pointmaze-medium-navigate-v0"``
    task_names: list[str]  #: ogbench: ``["task1", ..., "task5"]``
    metric: str  #: ``"success"`` (ogbench) or ``"return"`` (DMC)
    observation_dim: int
    action_dim: int  #: actions live in ``[-1, 1]``
    max_episode_steps: int  #: official evaluation horizon

    @property
    def observation_key(self) -> str:
        """The TensorDict key the agent reads observations from (``"pixels"`` for image observations)."""
        return "observation"

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """Shape of one observation under :attr:`observation_key` (``(C, H, W)`` for pixels)."""
        return (self.observation_dim,)

    @abc.abstractmethod
    def make_env(self, task: str | None = None, *, seed: int = 0, render: bool = False) -> EnvBase:
        """A TorchRL environment that resets into ``task`` (the first task if ``None``)."""

    @abc.abstractmethod
    def relabel(self, task: str, batch: TensorDictBase) -> torch.Tensor:
        """Reward of each transition in ``batch`` for ``task``, computed at the *next* state.

        Returns a float32 tensor of shape ``[B]``.
        """

    @abc.abstractmethod
    def goal_observation(self, task: str) -> torch.Tensor | None:
        """The task's goal observation, shape ``(observation_dim,)``; ``None`` if the family has no goals."""

    def check_task(self, task: str | int | None) -> str:
        """Normalise ``task`` (``None`` -> first task, ``3`` -> ``"task3"``) and validate it."""
        if task is None:
            return self.task_names[0]
        if isinstance(task, int) or (isinstance(task, str) and task.isdigit()):
            task = f"task{int(task)}"
        if task not in self.task_names:
            raise ValueError(f"Unknown task {task!r} for {self.name}; valid tasks: {self.task_names}")
        return task

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, tasks={self.task_names}, metric={self.metric!r}, "
            f"obs_dim={self.observation_dim}, action_dim={self.action_dim}, horizon={self.max_episode_steps})"
        )
