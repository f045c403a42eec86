"""Offline RL trajectories as seq-JEPA sequences (``data=trajectories``): views are the agent's
observations (``data.views=states``) or rendered frames (``data.views=pixels``), and the action
between two views is what the agent did in between.

With ``data.stride`` = s, views are every s-th step of an episode and the action between two views is
the s actions taken in between, concatenated ([s · A]).  Each view also carries the agent's position
(``qpos[:2]``, its xy in OGBench's navigation envs), the target of the path-integration probe.

The dataset is a flat TensorDict [N] over the kept steps: ``views`` (f32 [N, D] or u8 [N, 3, S, S]),
``action`` [N, s · A] (zero on an episode's last kept step), ``position`` [N, 2], ``episode`` [N]
(train/val/test split by episode).  Pixel views are rendered once (state set from ``qpos``/``qvel``,
the cheap render settings) and cached as a memory-mapped TensorDict.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from tensordict import TensorDict
from tqdm.auto import tqdm

from envs.buffer import cached_tensordict, params_digest
from envs.common import cfg_get, episode_bounds, kept_steps
from envs.ogbench.names import parse_name
from envs.buffer import SeededBatchSampler

__all__ = [
    "VIEW_KINDS",
    "TrajectoryWindowSampler",
    "render_ogbench_frames",
    "trajectory_steps",
    "split_episodes",
    "window_batch",
    "valid_window_starts",
    "load_trajectories",
]

log = logging.getLogger(__name__)

VIEW_KINDS = ("states", "pixels")
TRAJECTORIES_VERSION = 1


def trajectory_steps(
    observations: torch.Tensor,
    actions: torch.Tensor,
    qpos: torch.Tensor,
    terminals: torch.Tensor,
    *,
    stride: int = 1,
    max_episodes: int | None = None,
) -> tuple[TensorDict, torch.Tensor]:
    """Every ``stride``-th step of each episode of flat rows (``terminals`` marks each episode's last
    row), with the concatenated actions up to the next kept step.  Returns (TensorDict [N] of
    ``views`` (the observations), ``action``, ``position``, ``episode``; the source row of each step)."""
    if stride < 1:
        raise ValueError(f"data.stride must be >= 1, got {stride}")
    starts, lengths = episode_bounds(terminals)
    rows_t, episode_t, step = kept_steps(starts, lengths, stride=stride, max_episodes=max_episodes)
    has_next = step + stride < lengths[episode_t]  # the s actions to the next kept step exist
    offsets = rows_t[:, None] + torch.arange(stride)[None, :]
    chunk = actions[offsets.clamp(max=len(actions) - 1)]  # [N, s, A]
    action = torch.where(has_next[:, None, None], chunk, torch.zeros_like(chunk)).reshape(len(rows_t), -1)
    data = TensorDict(
        {
            "views": observations[rows_t].float(),
            "action": action.float(),
            "position": qpos[rows_t, :2].float(),
            "episode": episode_t,
        },
        batch_size=[len(rows_t)],
    )
    return data, rows_t


def valid_window_starts(episode: torch.Tensor, length: int) -> torch.Tensor:
    """Steps i whose ``length`` steps i … i + length − 1 all lie in i's episode."""
    n = len(episode)
    if n < length:
        return torch.zeros(0, dtype=torch.long)
    i = torch.arange(n - length + 1)
    return i[episode[i] == episode[i + length - 1]]


def window_batch(data: TensorDict, starts: torch.Tensor, length: int) -> TensorDict:
    """Windows of ``length`` consecutive steps from ``starts``: ``views`` [B, L, …], ``actions`` [B, L − 1, s·A]
    (action i leads from view i to view i + 1), ``position`` [B, L, 2]."""
    index = starts[:, None] + torch.arange(length)[None, :]
    return TensorDict(
        {"views": data["views"][index], "actions": data["action"][index[:, :-1]], "position": data["position"][index]},
        batch_size=[len(starts)],
    )


class TrajectoryWindowSampler(SeededBatchSampler):
    """Batches of M + 1 consecutive views and the M actions between them (seq-JEPA's input)."""

    def __init__(self, data: TensorDict, *, observed_views: int, batch_size: int, seed: int = 0) -> None:
        if observed_views < 1:
            raise ValueError(f"observed views M={observed_views} must be >= 1")
        self.data, self.length, self.batch_size = data, observed_views + 1, batch_size
        self.starts = valid_window_starts(data["episode"], self.length)
        if not len(self.starts):
            raise ValueError(f"no episode has {self.length} kept steps (M + 1 views): lower objective.views or data.stride")
        self.set_rng(torch.Generator().manual_seed(seed))

    def sample(self) -> TensorDict:
        pick = torch.randint(len(self.starts), (self.batch_size,), generator=self.generator)
        return window_batch(self.data, self.starts[pick], self.length)


def split_episodes(
    episode: torch.Tensor, *, val_fraction: float, test_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Row indices (train, val, test) of a seeded split of the episodes (at least one stays in train)."""
    episodes = torch.unique(episode)
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction and test_fraction must be >= 0 with a sum < 1, got {val_fraction}, {test_fraction}")
    order = episodes[torch.randperm(len(episodes), generator=torch.Generator().manual_seed(int(seed)))]
    n_val = min(int(round(val_fraction * len(order))), len(order) - 1)
    n_test = min(int(round(test_fraction * len(order))), len(order) - 1 - n_val)
    groups = (order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test])
    return tuple(torch.nonzero(torch.isin(episode, g)).reshape(-1) for g in groups)


def render_ogbench_frames(env_name: str, qpos: torch.Tensor, qvel: torch.Tensor, size: int, progress: bool) -> torch.Tensor:
    from envs.ogbench.env import OGBenchEnv

    # rendered at twice the size and area-downsampled, so that small bodies (pointmaze's ball) stay visible
    env = OGBenchEnv(parse_name(env_name).env_id, pixels=size, render_size=2 * size)
    frames = torch.empty(len(qpos), 3, size, size, dtype=torch.uint8)
    try:
        for i in tqdm(range(len(qpos)), desc="render frames", unit="frame", disable=not progress, mininterval=5):
            env._env.set_state(qpos[i].double().numpy(), qvel[i].double().numpy())
            frames[i] = env.pixel_observation()
    finally:
        env.close()
    return frames


def load_trajectories(data_cfg: Any, dataset_cfg: Any) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """``(train, val, test, info)`` steps of the offline dataset named by ``dataset_cfg`` (an OGBench
    navigation dataset), as configured by ``data_cfg`` (``configs/data/trajectories.yaml``)."""
    from envs import make_dataset

    family = cfg_get(dataset_cfg, "family")
    if family != "ogbench":
        raise ValueError(f"data=trajectories reads OGBench datasets (env=ogbench), got dataset family {family!r}")
    name = str(cfg_get(dataset_cfg, "name"))
    if parse_name(name).kind != "maze":
        raise ValueError(
            f"data=trajectories probes path integration, which needs a navigation env whose qpos[:2] is the "
            f"agent's xy (pointmaze/antmaze/humanoidmaze), got env.name={name}"
        )
    kind = str(cfg_get(data_cfg, "views", "states"))
    if kind not in VIEW_KINDS:
        raise ValueError(f"unknown data.views={kind!r}; choose one of {list(VIEW_KINDS)}")
    stride, size = int(cfg_get(data_cfg, "stride", 1)), int(cfg_get(data_cfg, "image_size", 64))
    max_episodes = cfg_get(data_cfg, "max_episodes")
    t0 = time.perf_counter()
    buffer, _ = make_dataset(dataset_cfg)
    cols = buffer.columns
    observations, actions = buffer.rows[:, cols["observations"]], buffer.rows[:, cols["actions"]]
    qpos, qvel = buffer.rows[:, cols["qpos"]], buffer.rows[:, cols["qvel"]]
    data, rows = trajectory_steps(observations, actions, qpos, buffer.terminals, stride=stride, max_episodes=max_episodes)
    cached = None
    if kind == "pixels":
        params = dict(
            source=buffer.layout.get("cache_dir"),
            rows=params_digest({"rows": rows.tolist()}),
            size=size,
            version=TRAJECTORIES_VERSION,
        )
        cache_dir = Path(str(cfg_get(data_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
        frames, cached = cached_tensordict(
            cache_dir / "trajectory_frames" / params_digest(params),
            lambda: TensorDict(
                {"pixels": render_ogbench_frames(name, qpos[rows], qvel[rows], size, bool(cfg_get(data_cfg, "progress", True)))},
                batch_size=[len(rows)],
            ),
            marker="frames.json",
            describe=params,
        )
        data["views"] = frames["pixels"].clone()
    train, val, test = (
        data[i]
        for i in split_episodes(
            data["episode"],
            val_fraction=float(cfg_get(data_cfg, "val_fraction", 0.1)),
            test_fraction=float(cfg_get(data_cfg, "test_fraction", 0.1)),
            seed=int(cfg_get(data_cfg, "seed", 0)),
        )
    )
    info = dict(
        env=name,
        views=kind,
        stride=stride,
        steps=len(data),
        episodes=int(data["episode"].max()) + 1,
        view_shape=list(data["views"].shape[1:]),
        action_dim=int(data["action"].shape[-1]),
        train_steps=len(train),
        val_steps=len(val),
        test_steps=len(test),
        frames_cached=cached,
        seconds=time.perf_counter() - t0,
    )
    log.info(
        "trajectories %s: %d episodes, %d steps (stride %d, %s views %s); train %d / val %d / test %d steps",
        name,
        info["episodes"],
        info["steps"],
        stride,
        kind,
        info["view_shape"],
        len(train),
        len(val),
        len(test),
    )
    return train, val, test, info
