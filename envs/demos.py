"""Family-independent behaviour-cloning demonstrations sampled as action chunks.

A demonstration set is a *flat* TensorDict of steps, batch size ``[N]``, whose rows are grouped
in contiguous episodes:

=================== ============= ==========================================================
key                 dtype / shape meaning
=================== ============= ==========================================================
observation         f32 [N, D]    state s_t before the action
action              f32 [N, A]    action a_t
episode             i64 [N]       episode id (each id one contiguous block of rows)
next_observation    f32 [N, D]    s_{t+1}; optional (derived: the next row, or s_t at an end)
step                i64 [N]       t within the episode; optional (derived)
goal / task / ...   any [N, ...]  optional, passed through (value at the window start)
=================== ============= ==========================================================

:class:`DemoBuffer` samples windows of ``H = chunk`` actions for ACT-style policies.  A window
starts at a real step ``t`` drawn uniformly over all steps and returns ``actions`` a_t..a_{t+H-1}
and ``states`` s_t..s_{t+H}; entries past the episode end are masked (``*_is_pad``) and repeat
the last real value (the last real state is the final step's ``next_observation``).

Why not ``SliceSampler(span=(False, True), pad_output=True)``: in torchrl 0.14.1 it (a) pads only
when *some* stored episode is shorter than ``slice_len`` -- otherwise the batch is ragged with no
mask -- and (b) with a right span it also draws slices that start one step *past* the episode
end (zero real steps, index pointing into the next episode: ~20% of windows on short episodes).
:class:`EpisodeChunkSampler` is a TorchRL ``Sampler`` with the same output convention as
``SliceSampler(pad_output=True)`` (flat ``[B * T]`` index, padded positions repeat the episode's
last row, real-step mask under ``("collector", "mask")``) without these two problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.data import TensorStorage
from torchrl.data.replay_buffers.samplers import Sampler
from torchrl.data.replay_buffers.writers import ImmutableDatasetWriter

from envs.buffer import OfflineDataset
from envs.common import episode_last_rows

__all__ = [
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "MASK_KEY",
    "DemoBuffer",
    "EpisodeChunkSampler",
    "chunk_index",
    "build_windows",
    "split_by_episode",
]

REQUIRED_KEYS = ("observation", "action", "episode")
OPTIONAL_KEYS = ("next_observation", "step", "goal", "task", "success", "pixels")
MASK_KEY = ("collector", "mask")  # where SliceSampler(pad_output=True) writes its real-step mask
# Per-window values read at the window start (when present in the data).
_START_KEYS = ("goal", "task", "episode", "step", "index", "pixels")


# ---------------------------------------------------------------------------------------- windows
def chunk_index(start: torch.Tensor, last_row: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Storage rows ``[B, length]`` of windows starting at rows ``start``, and their real-step mask.

    Rows past the episode's last row (``last_row[start]``) are replaced by that last row (the
    padding repeats the last real step) and flagged ``False`` in the mask.
    """
    raw = start.unsqueeze(1) + torch.arange(length, dtype=start.dtype, device=start.device)
    last = last_row[start].unsqueeze(1)
    mask = raw <= last
    return torch.minimum(raw, last), mask


def build_windows(rows: TensorDictBase, mask: torch.Tensor, chunk: int) -> TensorDict:
    """Turn ``chunk + 1`` consecutive rows per window (``[B, chunk + 1]``) into ACT training windows.

    ``rows`` must hold ``observation``, ``action``, ``next_observation``; padded rows (``mask``
    False) must repeat the episode's last row, as :func:`chunk_index` produces.  Returns a
    ``[B]`` TensorDict with ``observation`` (s_t), ``actions`` [B, H, A], ``action_is_pad``
    [B, H], ``states`` [B, H + 1, D] (s_t..s_{t+H}), ``state_is_pad`` [B, H + 1], and the
    start-row value of ``goal``, ``task``, ``episode``, ``step``, ``index`` when present.
    """
    B, T = rows.shape[:2]
    if T != chunk + 1:
        raise ValueError(f"build_windows needs chunk + 1 = {chunk + 1} rows per window, got {T}")
    obs = rows.get("observation")
    # s_{t+k}: row t+k's observation while real; past the end, the padded rows repeat the last
    # step, whose next_observation is the episode's final state s_L (then repeated).
    m = mask.reshape(B, T, *([1] * (obs.ndim - 2)))
    states = torch.where(m, obs, rows.get("next_observation"))
    # s_{t+k} is real iff t+k <= L, i.e. iff row t+k-1 is a real step (k >= 1); s_t always is.
    state_is_pad = torch.cat([torch.zeros(B, 1, dtype=torch.bool, device=mask.device), ~mask[:, :chunk]], dim=1)
    out = {
        "observation": obs[:, 0],
        "actions": rows.get("action")[:, :chunk],
        "action_is_pad": ~mask[:, :chunk],
        "states": states,
        "state_is_pad": state_is_pad,
    }
    for key in _START_KEYS:
        if key in rows.keys():
            out[key] = rows.get(key)[:, 0]
    return TensorDict(out, batch_size=[B], device=rows.device)


class EpisodeChunkSampler(Sampler):
    """Windows of ``slice_len`` consecutive steps starting at a uniformly drawn real step.

    Output convention of ``SliceSampler(pad_output=True)``: ``sample(storage, B * slice_len)``
    returns a flat index ``[B * slice_len]`` (window by window) whose positions past the
    episode end repeat the episode's last row, and ``info[("collector", "mask")]`` marking the
    real steps.  Every window starts at a real step and never crosses into another episode.
    """

    def __init__(self, last_row: torch.Tensor, slice_len: int):
        super().__init__()
        if slice_len < 1:
            raise ValueError(f"slice_len must be >= 1, got {slice_len}")
        self.last_row = last_row.to(torch.long)
        self.slice_len = int(slice_len)

    def sample(self, storage, batch_size: int) -> tuple[torch.Tensor, dict]:
        if batch_size % self.slice_len:
            raise ValueError(f"batch_size ({batch_size}) must be a multiple of slice_len ({self.slice_len})")
        n = batch_size // self.slice_len
        start = torch.randint(self.last_row.shape[0], (n,), generator=self._rng)
        index, mask = chunk_index(start, self.last_row, self.slice_len)
        return index.reshape(-1), {MASK_KEY: mask.reshape(-1)}

    # stateless: nothing to save or restore
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        return None

    def _empty(self) -> None:
        return None

    def dumps(self, path) -> None:
        return None

    def loads(self, path) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(slice_len={self.slice_len}, steps={self.last_row.shape[0]})"


# ---------------------------------------------------------------------------------------- data prep
def _episode_ends(episode: torch.Tensor) -> torch.Tensor:
    """Bool [N]: True at the last row of each contiguous episode block."""
    ends = torch.zeros(episode.shape[0], dtype=torch.bool)
    if episode.shape[0]:
        ends[:-1] = episode[1:] != episode[:-1]
        ends[-1] = True
    return ends


def _prepare(data: TensorDictBase) -> TensorDictBase:
    """Validate a flat demo TensorDict; add ``next_observation``/``step`` when missing (shallow copy)."""
    missing = [k for k in REQUIRED_KEYS if k not in data.keys()]
    if missing:
        raise ValueError(f"demonstrations lack key(s) {missing}; need {list(REQUIRED_KEYS)}, have {sorted(data.keys())}")
    if data.batch_dims != 1:
        raise ValueError(f"demonstrations must be a flat TensorDict of steps (batch size [N]), got {tuple(data.batch_size)}")
    n = data.batch_size[0]
    if n == 0:
        raise ValueError("demonstrations are empty (0 steps)")
    episode = data.get("episode")
    if episode.shape != (n,):
        raise ValueError(f"'episode' must have shape [N] = [{n}], got {tuple(episode.shape)}")
    ends = _episode_ends(episode)
    n_blocks, n_ids = int(ends.sum()), int(torch.unique(episode).numel())
    if n_blocks != n_ids:
        raise ValueError(
            f"the rows of each episode must be contiguous: {n_ids} episode ids form {n_blocks} blocks of rows. "
            f"Fix: sort the rows by (episode, step) first."
        )
    if "next_observation" in data.keys() and "step" in data.keys():
        return data
    data = data.clone(recurse=False)
    if "next_observation" not in data.keys():
        # s_{t+1} is the next row of the same episode; at an episode end nothing follows, so the
        # final state is the last observation itself (documented; datasets with true final
        # states should pass next_observation).
        obs = data.get("observation")
        nxt = obs.clone()
        nxt[:-1] = torch.where(ends[:-1].reshape(-1, *([1] * (obs.ndim - 1))), obs[:-1], obs[1:])
        data.set("next_observation", nxt)
    if "step" not in data.keys():
        starts = torch.ones(n, dtype=torch.bool)
        starts[1:] = ends[:-1]
        first = torch.cummax(torch.where(starts, torch.arange(n), torch.zeros(n, dtype=torch.long)), 0).values
        data.set("step", torch.arange(n) - first)
    return data


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(np.asarray(value))


# ---------------------------------------------------------------------------------------- buffer
class DemoBuffer(OfflineDataset):
    """Read-only TorchRL replay buffer of demonstrations, sampled as action-chunk windows.

    ``data``: flat TensorDict of steps (see module docstring); a memory-mapped TensorDict
    (``TensorDict.load_memmap``) is used in place, without a copy.  ``sample(B)`` returns a
    ``[B]`` TensorDict (see :func:`build_windows`): ``observation``, ``actions``,
    ``action_is_pad``, ``states``, ``state_is_pad`` (+ ``goal``, ``task``, ``episode``,
    ``step``, ``index`` of the start row).  ``len(buffer)`` is the number of steps, which are
    also the possible window starts (drawn uniformly).
    """

    def __init__(
        self,
        data: TensorDictBase,
        *,
        chunk: int,
        batch_size: int = 128,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ):
        chunk = int(chunk)
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        data = _prepare(data)
        self.data = data
        self.chunk = chunk
        self.slice_len = chunk + 1  # s_t..s_{t+H} need H + 1 rows
        self.last_row = episode_last_rows(_episode_ends(data.get("episode")))
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        sampler = EpisodeChunkSampler(self.last_row, self.slice_len)
        super().__init__(
            storage=TensorStorage(data),
            sampler=sampler,
            writer=ImmutableDatasetWriter(),
            batch_size=None,  # rows per sample vary with chunk; we pass them explicitly (no warning)
            generator=generator,
        )
        self.set_rng(generator)  # one stream for the sampler, writer and storage (and it initialises the buffer)
        self._window_batch_size = int(batch_size)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        data: Mapping[str, Any],
        *,
        chunk: int,
        batch_size: int = 128,
        keys: Mapping[str, str] | None = None,
        seed: int | None = None,
    ) -> "DemoBuffer":
        """Build from flat per-step arrays of an external dataset (the one adapter for all of them).

        ``keys`` maps our names to the dataset's, e.g. LeRobot ``{"observation": "observation.state",
        "action": "action", "episode": "episode_index"}`` or Minari-style ``{"observation":
        "observations", "action": "actions", "episode": "episode_id"}``; unmapped names are looked
        up as themselves.  Required: ``observation``, ``action``, ``episode``; optional:
        ``next_observation``, ``step``, ``goal``, ``task``, ``success``.  Values: numpy arrays,
        tensors or nested lists with one row per step (e.g. ``hf_dataset.with_format("numpy")[:]``).
        """
        keys = dict(keys or {})
        known = (*REQUIRED_KEYS, *OPTIONAL_KEYS)
        unknown = sorted(set(keys) - set(known))
        if unknown:
            raise ValueError(f"keys= maps unknown name(s) {unknown}; our names are {list(known)}")
        mapping = {name: keys.get(name, name) for name in known}
        available = list(data.keys())
        missing = [name for name in REQUIRED_KEYS if mapping[name] not in data]
        if missing:
            hint = ", ".join(f"{name!r}: '<your key>'" for name in missing)
            raise ValueError(
                f"DemoBuffer.from_arrays: missing required key(s) {missing} "
                f"(looked up as {[mapping[m] for m in missing]}); the data has keys {available}. "
                f"Fix: map our names to yours with keys={{{hint}}}, e.g. LeRobot: keys={{'observation': "
                f"'observation.state', 'action': 'action', 'episode': 'episode_index'}}."
            )
        tensors = {name: _as_tensor(data[theirs]) for name, theirs in mapping.items() if theirs in data}
        n = tensors["observation"].shape[0] if tensors["observation"].ndim else 0
        for name, value in tensors.items():
            rows = value.shape[0] if value.ndim else 0
            if rows != n:
                raise ValueError(
                    f"DemoBuffer.from_arrays: '{name}' (key {mapping[name]!r}) has {rows} rows but 'observation' "
                    f"(key {mapping['observation']!r}) has {n}; every array needs one row per step."
                )
        for name in ("observation", "action", "next_observation", "goal"):
            if name in tensors:
                value = tensors[name]
                if value.ndim == 1:  # scalar features -> [N, 1]
                    value = value.unsqueeze(-1)
                tensors[name] = value.to(torch.float32) if value.is_floating_point() else value
        for name in ("episode", "step", "task"):
            if name in tensors:
                value = tensors[name]
                if value.ndim == 2 and value.shape[1] == 1:
                    value = value.squeeze(1)
                if value.ndim != 1:
                    raise ValueError(f"DemoBuffer.from_arrays: '{name}' must have shape [N], got {tuple(value.shape)}")
                if value.is_floating_point() and not torch.equal(value, value.round()):
                    raise ValueError(f"DemoBuffer.from_arrays: '{name}' must hold integers")
                tensors[name] = value.to(torch.int64)
        if "success" in tensors:
            tensors["success"] = tensors["success"].reshape(n).to(torch.bool)
        if "next_observation" in tensors and tensors["next_observation"].shape != tensors["observation"].shape:
            raise ValueError(
                f"DemoBuffer.from_arrays: 'next_observation' has shape {tuple(tensors['next_observation'].shape)}, "
                f"'observation' {tuple(tensors['observation'].shape)}"
            )
        td = TensorDict(tensors, batch_size=[n])
        return cls(td, chunk=chunk, batch_size=batch_size, seed=seed)

    # ---------------------------------------------------------------- sampling
    def sample(self, batch_size: int | None = None, return_info: bool = False):
        """``batch_size`` windows (default: the buffer's); see :func:`build_windows` for the keys."""
        b = int(batch_size or self._window_batch_size)
        rows, info = super().sample(b * self.slice_len, return_info=True)
        rows = rows.reshape(b, self.slice_len)
        windows = build_windows(rows, rows.get(MASK_KEY), self.chunk)
        return (windows, info) if return_info else windows

    def windows_at(self, start: torch.Tensor) -> TensorDict:
        """Deterministic windows starting at storage rows ``start`` (e.g. to evaluate on every step)."""
        start = torch.as_tensor(start, dtype=torch.long).reshape(-1)
        index, mask = chunk_index(start, self.last_row, self.slice_len)
        rows = self.data[index.reshape(-1)].reshape(start.shape[0], self.slice_len)
        rows.set("index", index)
        return build_windows(rows, mask, self.chunk)

    # ---------------------------------------------------------------- info
    @property
    def batch_size(self) -> int:
        """Windows per :meth:`sample` (each window reads ``chunk + 1`` rows)."""
        return self._window_batch_size

    @property
    def num_steps(self) -> int:
        return int(self.data.batch_size[0])

    @property
    def num_episodes(self) -> int:
        return int(_episode_ends(self.data.get("episode")).sum())

    @property
    def obs_dim(self) -> int:
        return int(self.data.get("observation").shape[-1])

    @property
    def action_dim(self) -> int:
        return int(self.data.get("action").shape[-1])

    def extend(self, *args, **kwargs):  # pragma: no cover - explicit error
        raise RuntimeError("DemoBuffer is read-only (offline demonstrations)")

    add = extend

    def __repr__(self) -> str:
        return (
            f"DemoBuffer(episodes={self.num_episodes}, steps={self.num_steps}, chunk={self.chunk}, "
            f"batch_size={self._window_batch_size}, keys={sorted(self.data.keys())})"
        )


# ---------------------------------------------------------------------------------------- splits
def split_by_episode(
    td: TensorDictBase,
    *,
    val_episodes_per_task: int | None = None,
    val_fraction: float | None = None,
    seed: int = 0,
) -> tuple[TensorDictBase, TensorDictBase]:
    """Split flat demo steps into ``(train, val)`` with whole episodes on each side.

    Give exactly one of ``val_episodes_per_task`` (needs a ``task`` key: that many random
    episodes of every task go to val) or ``val_fraction`` (that fraction of all episodes,
    rounded, at least one when > 0).  Each side keeps the original row order; every task keeps
    at least one training episode.  An empty val side is a ``[0]``-sized TensorDict.
    """
    if (val_episodes_per_task is None) == (val_fraction is None):
        raise ValueError("split_by_episode: pass exactly one of val_episodes_per_task or val_fraction")
    episode = td.get("episode")
    ends = _episode_ends(episode)
    ep_ids = episode[ends]  # one id per episode, in row order
    gen = torch.Generator().manual_seed(int(seed))
    if val_episodes_per_task is not None:
        k = int(val_episodes_per_task)
        if k < 0:
            raise ValueError(f"val_episodes_per_task must be >= 0, got {k}")
        if "task" not in td.keys():
            raise ValueError("split_by_episode(val_episodes_per_task=...) needs a 'task' key; use val_fraction instead")
        ep_task = td.get("task")[ends]
        chosen = []
        for task in torch.unique(ep_task).tolist():
            ids = ep_ids[ep_task == task]
            if k >= ids.numel() and k > 0:
                raise ValueError(
                    f"task {task} has only {ids.numel()} episode(s): cannot hold out {k} for validation and keep one for "
                    f"training. Fix: raise episodes_per_task or lower val_episodes_per_task."
                )
            chosen.append(ids[torch.randperm(ids.numel(), generator=gen)[:k]])
        val_ids = torch.cat(chosen) if chosen else ep_ids[:0]
    else:
        f = float(val_fraction)
        if not 0.0 <= f < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {f}")
        n = ep_ids.numel()
        n_val = 0 if f == 0 else min(max(1, round(f * n)), n - 1)
        val_ids = ep_ids[torch.randperm(n, generator=gen)[:n_val]]
    is_val = torch.isin(episode, val_ids)
    return td[~is_val], td[is_val]
