"""Scripted-oracle demonstrations of the OGBench *evaluation* tasks (behaviour cloning).

For each of the five evaluation tasks the evaluation env (:class:`~envs.ogbench.env.OGBenchEnv`:
noise-free maze goals, no cube permutation) is reset into the task with a fresh seed and an
oracle drives it toward the task's goal until success or the horizon; only successful episodes
are kept, each ending at its first success step (inclusive: ``success`` is True on the last step,
the one after which the goal is reached).

* pointmaze: unit direction to ogbench's BFS subgoal (``get_oracle_subgoal``) + N(0, noise),
  clipped to [-1, 1] (as in :func:`envs.ogbench.dataset._generate_pointmaze`).
* cube-single: ogbench's ``CubePlanOracle(noise, noise_smoothing=0.5)``.  It reads the target
  from ``info['privileged/target_block*']``, which the env only provides in
  ``mode='data_collection'``; in the evaluation (``'task'``) mode we add those entries from the
  task definition (block 0, the task's ``goal_xyzs[0]``, yaw 0: task goals have the identity
  orientation).  When a plan ends without success (e.g. a missed grasp) the oracle re-plans from
  the current state.

Steps are timed with ``success_timing='post'`` (success of the state *after* the action) and
without ``terminate_at_goal``; ogbench's global NumPy RNG (oracle noise) is isolated per attempt.

Cache (``<cache_dir>/ogbench/demos/<env id>-<hash>/``): ``data/`` a memory-mapped TensorDict
(``TensorDict.memmap``) of all steps, ``demos.json`` the generation parameters; keyed by
(env id, episodes_per_task, seed, noise, horizon, :data:`DEMOS_VERSION`).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from tensordict import TensorDict
from tqdm import tqdm

from envs.buffer import DatasetError, cached_tensordict, params_digest
from envs.common import cfg_get
from envs.demos import DemoBuffer, split_by_episode
from envs.ogbench._rng import private_global_rng
from envs.ogbench.env import pin_action_space
from envs.ogbench.names import SUPPORTED_DATASETS, parse_name

__all__ = ["DEMOS_VERSION", "SUPPORTED_DEMO_ENVS", "collect_demonstrations", "load_demonstrations", "demo_env_id"]

log = logging.getLogger(__name__)

DEMOS_VERSION = 1
NUM_TASKS = 5
# Envs with an offline scripted oracle (antmaze needs ogbench's unshipped SAC expert; cube-double
# tasks need multi-step plans).
SUPPORTED_DEMO_ENVS = ("pointmaze-medium-v0", "pointmaze-large-v0", "pointmaze-giant-v0", "cube-single-v0")
_MARKER = "demos.json"


def demo_env_id(name: str) -> str:
    """Evaluation env id for a dataset or env name (``pointmaze-medium-navigate`` -> ``pointmaze-medium-v0``)."""
    key = str(name).strip()
    key = key if key.endswith("-v0") else f"{key}-v0"
    try:
        env_id = parse_name(key).env_id
    except ValueError:
        env_id = key if key in {s.env_id for s in SUPPORTED_DATASETS.values()} else None
    if env_id not in SUPPORTED_DEMO_ENVS:
        raise ValueError(
            f"No scripted-oracle demonstrations for {name!r}: supported are pointmaze-{{medium,large,giant}}-* and "
            f"cube-single-* (dataset or env names, e.g. 'pointmaze-medium-navigate', 'cube-single-play', "
            f"'cube-single-v0'); envs: {list(SUPPORTED_DEMO_ENVS)}"
        )
    return env_id


def _attempt_seed(seed: int, task: int, attempt: int) -> int:
    """Independent seed per (seed, task, attempt): tasks do not influence each other."""
    return int(np.random.SeedSequence([int(seed), int(task), int(attempt)]).generate_state(1)[0])


# ---------------------------------------------------------------------------------------- oracles
class _MazeOracle:
    """Unit direction to ogbench's BFS subgoal + Gaussian noise (np.random: run under a private RNG)."""

    def __init__(self, raw, noise: float):
        self.raw, self.noise = raw, float(noise)

    def before_reset(self, seed: int) -> None:
        pass  # the maze reset's random steps use the env's action space, seeded by OGBenchEnv

    def reset(self) -> None:
        pass

    def act(self) -> np.ndarray:
        xy = self.raw.get_xy()
        subgoal_xy, _ = self.raw.get_oracle_subgoal(xy, self.raw.cur_goal_xy)
        direction = subgoal_xy - xy
        direction = direction / (np.linalg.norm(direction) + 1e-6)
        return np.clip(direction + np.random.normal(0.0, self.noise, direction.shape), -1.0, 1.0)

    def observe(self, info: dict) -> None:
        pass


class _CubeOracle:
    """ogbench's CubePlanOracle aimed at the evaluation task's goal (see module docstring)."""

    def __init__(self, raw, noise: float):
        from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle

        self.raw = raw
        self.oracle = CubePlanOracle(env=raw, noise=float(noise), noise_smoothing=0.5)
        self.info: dict = {}
        self.action_space = pin_action_space(raw)

    def before_reset(self, seed: int) -> None:
        self.action_space.seed(int(seed))

    def _with_target(self, info: dict) -> dict:
        # 'task' mode has no privileged/target_* entries; the single cube (block 0) goes to the task goal.
        info = dict(info)
        info["privileged/target_block"] = 0
        info["privileged/target_block_pos"] = np.asarray(self.raw.cur_task_info["goal_xyzs"][0], dtype=np.float64)
        info["privileged/target_block_yaw"] = np.zeros(1)
        return info

    def reset(self) -> None:
        self.info = self._with_target(self.raw.compute_ob_info())
        self.oracle.reset(None, self.info)

    def act(self) -> np.ndarray:
        return np.clip(np.asarray(self.oracle.select_action(None, self.info)), -1.0, 1.0)

    def observe(self, info: dict) -> None:
        self.info = self._with_target(info)
        if self.oracle.done:  # plan over without success (e.g. missed grasp): plan again from here
            self.oracle.reset(None, self.info)


# ---------------------------------------------------------------------------------------- collection
def _run_episode(env, oracle, horizon: int) -> dict[str, np.ndarray] | None:
    """One oracle episode from the env's current reset; arrays up to the first success, or None."""
    raw = env.unwrapped
    td = env.reset()
    ob = td["observation"].numpy()
    goal = td["goal"].numpy()
    oracle.reset()
    obs, acts, nxts, frames = [], [], [], []
    for _ in range(horizon):
        if env.pixel_size is not None:  # the frame the policy sees before acting
            frames.append(env.pixel_observation().numpy())
        action = oracle.act().astype(np.float32)
        next_ob, _, _, _, info = raw.step(action)  # success_timing='post': success of next_ob
        next_ob = np.asarray(next_ob, dtype=np.float32)
        obs.append(ob)
        acts.append(action)
        nxts.append(next_ob)
        if info["success"]:
            n = len(obs)
            success = np.zeros(n, dtype=bool)
            success[-1] = True
            episode = dict(
                observation=np.stack(obs),
                action=np.stack(acts),
                next_observation=np.stack(nxts),
                goal=np.broadcast_to(goal, (n, goal.shape[0])),
                success=success,
            )
            if frames:
                episode["pixels"] = np.stack(frames)
            return episode
        oracle.observe(info)
        ob = next_ob
    return None


def collect_demonstrations(
    name: str,
    *,
    episodes_per_task: int,
    seed: int = 0,
    noise: float = 0.1,
    max_episode_steps: int | None = None,
    progress: bool = True,
    max_attempts_per_task: int | None = None,
    pixels: int | None = None,
) -> TensorDict:
    """Successful scripted-oracle episodes for each of the 5 evaluation tasks of ``name``.

    ``name``: a pointmaze or cube-single dataset/env name (see :func:`demo_env_id`).  Returns a
    flat TensorDict ``[N]`` ordered by task then episode: ``observation``/``next_observation``
    f32 [N, D], ``action`` f32 [N, A] in [-1, 1], ``goal`` f32 [N, D] (the episode's goal
    observation), ``task`` i64 (0-based), ``episode`` i64 (unique), ``step`` i64, ``success``
    bool (True on each episode's last step only).  ``max_episode_steps`` defaults to the official
    horizon. With ``pixels`` = S also ``pixels`` uint8 [N, 3, S, S], the frame before each action.
    Deterministic for a given ``seed``.  Raises :class:`DatasetError` (with the success
    rate) when a task yields fewer than ``episodes_per_task`` successes in
    ``max_attempts_per_task`` (default ``max(10, 4 * episodes_per_task)``) attempts.
    """
    from envs.ogbench.env import OGBenchEnv

    env_id = demo_env_id(name)
    episodes_per_task = int(episodes_per_task)
    if episodes_per_task < 1:
        raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}")
    max_attempts = int(max_attempts_per_task or max(10, 4 * episodes_per_task))
    horizon = int(max_episode_steps or gymnasium.spec(env_id).max_episode_steps)
    with warnings.catch_warnings():  # manipspace builds a float32 Box from float64 bounds
        warnings.filterwarnings("ignore", message=".*precision lowered.*")
        env = OGBenchEnv(
            env_id, 1, seed=int(seed), success_timing="post", terminate_at_goal=False, max_episode_steps=horizon, pixels=pixels
        )
    raw = env.unwrapped
    oracle = _MazeOracle(raw, noise) if env_id.startswith("pointmaze") else _CubeOracle(raw, noise)

    episodes: list[dict[str, np.ndarray]] = []
    bar = tqdm(total=NUM_TASKS * episodes_per_task, desc=f"demos {env_id}", disable=not progress)
    try:
        for task in range(NUM_TASKS):
            env.set_task(task + 1)
            kept, attempt = 0, 0
            while kept < episodes_per_task:
                if attempt >= max_attempts:
                    raise DatasetError(
                        f"{env_id} task{task + 1}: only {kept}/{episodes_per_task} successful oracle demonstrations after "
                        f"{attempt} attempts (success rate {kept / attempt:.0%}, horizon {horizon}, noise {noise}). Fix: "
                        f"raise max_episode_steps, lower noise, or allow more attempts (max_attempts_per_task)."
                    )
                s = _attempt_seed(seed, task, attempt)
                attempt += 1
                env.set_seed(s)  # the next reset draws the start state from s
                oracle.before_reset(s)
                with private_global_rng(np.random.RandomState(s)):  # oracle noise (np.random.*)
                    ep = _run_episode(env, oracle, horizon)
                if ep is None:
                    continue
                n = ep["observation"].shape[0]
                ep["task"] = np.full(n, task, dtype=np.int64)
                ep["episode"] = np.full(n, len(episodes), dtype=np.int64)
                ep["step"] = np.arange(n, dtype=np.int64)
                episodes.append(ep)
                kept += 1
                bar.update(1)
            bar.set_postfix_str(f"task{task + 1}: {kept}/{attempt} succeeded")
            log.info("%s task%d: %d/%d oracle episodes succeeded", env_id, task + 1, kept, attempt)
    finally:
        bar.close()
        env.close()

    arrays = {k: np.concatenate([ep[k] for ep in episodes]) for k in episodes[0]}
    n = arrays["observation"].shape[0]
    return TensorDict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}, batch_size=[n])


# ---------------------------------------------------------------------------------------- loading
def _params(dataset_cfg: Any) -> dict[str, Any]:
    name = cfg_get(dataset_cfg, "name")
    if name is None:
        raise ValueError("dataset config for family 'ogbench_demos' needs a 'name', e.g. 'pointmaze-medium-navigate'")
    env_id = demo_env_id(name)
    max_steps = cfg_get(dataset_cfg, "max_episode_steps")
    return dict(
        env_id=env_id,
        episodes_per_task=int(cfg_get(dataset_cfg, "episodes_per_task", 20)),
        seed=int(cfg_get(dataset_cfg, "seed", 0)),
        noise=float(cfg_get(dataset_cfg, "noise", 0.1)),
        # None and the official value are the same demos
        max_episode_steps=int(max_steps or gymnasium.spec(env_id).max_episode_steps),
        version=DEMOS_VERSION,
        **(
            {"pixels": int(cfg_get(dataset_cfg, "pixels"))} if cfg_get(dataset_cfg, "pixels") else {}
        ),  # states-only keys unchanged
    )


def _cache_dir_for(cache_dir: Path, params: dict[str, Any]) -> Path:
    return cache_dir / "ogbench" / "demos" / f"{params['env_id']}-{params_digest(params)}"


def load_demonstrations(cfg: Any) -> tuple[DemoBuffer, DemoBuffer | None, dict[str, Any]]:
    """``(train, val, info)`` demo buffers for the ``dataset`` config (``configs/dataset/demos.yaml``).

    ``cfg``: the dataset sub-config (or a root config holding one under ``dataset``).  Generates
    the demonstrations once and caches them (atomic directory, memory-mapped); later calls load
    the cache.  Train/val hold ``val_episodes_per_task`` whole episodes per task out (split seeded
    by ``seed``; ``val`` is None when that is 0); both sample ``batch_size`` windows of
    ``chunk`` actions.  ``info``: episodes, steps, episodes_per_task, obs_dim, action_dim,
    mean_episode_length, train/val episodes, cached, cache_dir.
    """
    dataset_cfg = cfg_get(cfg, "dataset") if cfg_get(cfg, "dataset") is not None else cfg
    params = _params(dataset_cfg)
    cache_dir = Path(str(cfg_get(dataset_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
    out_dir = _cache_dir_for(cache_dir, params)
    t0 = time.perf_counter()
    log.info(
        "demos %s: %s %s", params["env_id"], "loading" if (out_dir / _MARKER).is_file() else f"generating {params} ->", out_dir
    )
    data, cached = cached_tensordict(
        out_dir,
        lambda: collect_demonstrations(
            params["env_id"],
            episodes_per_task=params["episodes_per_task"],
            seed=params["seed"],
            noise=params["noise"],
            max_episode_steps=params["max_episode_steps"],
            progress=bool(cfg_get(dataset_cfg, "progress", True)),
            pixels=params.get("pixels"),
        ),
        marker=_MARKER,
        describe=params,
    )

    chunk = int(cfg_get(dataset_cfg, "chunk", 30))
    batch_size = int(cfg_get(dataset_cfg, "batch_size", 128))
    seed = params["seed"]
    k_val = int(cfg_get(dataset_cfg, "val_episodes_per_task", 2))
    if k_val > 0:
        train_td, val_td = split_by_episode(data, val_episodes_per_task=k_val, seed=seed)
        val = DemoBuffer(val_td, chunk=chunk, batch_size=batch_size, seed=seed + 1)
    else:
        train_td, val = data, None  # the memory-mapped data itself, no copy
    train = DemoBuffer(train_td, chunk=chunk, batch_size=batch_size, seed=seed)
    for buffer in (train, val):
        if buffer is not None:
            buffer.source = str(out_dir)  # the memory-mapped demonstrations (OfflineDataset.data_path)

    n_steps = int(data.batch_size[0])
    n_episodes = int(torch.unique(data.get("episode")).numel())
    info = dict(
        episodes=n_episodes,
        steps=n_steps,
        episodes_per_task=params["episodes_per_task"],
        obs_dim=int(data.get("observation").shape[-1]),
        action_dim=int(data.get("action").shape[-1]),
        mean_episode_length=n_steps / n_episodes,
        train_episodes=train.num_episodes,
        val_episodes=0 if val is None else val.num_episodes,
        cached=cached,
        cache_dir=str(out_dir),
        load_seconds=time.perf_counter() - t0,
    )
    log.info(
        "demos %s (%s): %d episodes, %d steps (mean length %.1f); train %d / val %d episodes",
        params["env_id"],
        "cached" if cached else "generated",
        n_episodes,
        n_steps,
        info["mean_episode_length"],
        info["train_episodes"],
        info["val_episodes"],
    )
    return train, val, info
