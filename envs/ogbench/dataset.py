"""OGBench ``.npz`` datasets: writing, generating and validating them.

File format (what ``ogbench/utils.py:load_dataset`` reads and the upstream
``data_gen_scripts`` write): one ``np.savez_compressed``-style zip per split,
``<name>.npz`` and ``<name>-val.npz``, with

=============== ============== ===============================================
key             dtype / shape  meaning
=============== ============== ===============================================
observations    f32 (N, obs)   observation *before* the action
actions         f32 (N, act)   action in [-1, 1]
terminals       bool (N,)      True at the last step of each episode
qpos            f32 (N, nq)    MuJoCo qpos of the observation (``info['prev_qpos']``)
qvel            f32 (N, nv)    MuJoCo qvel of the observation
button_states   i64 (N, nb)    scene / puzzle only
=============== ============== ===============================================

Our writer (:func:`envs.buffer.write_npz`) produces exactly these arrays; it only pins the zip
member timestamps so that the same seed gives byte-identical files.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import ogbench  # noqa: F401
from tqdm import trange

from envs.buffer import DatasetError, npz_key_shapes, write_npz
from envs.ogbench._rng import private_global_rng
from envs.ogbench.names import DatasetSpec, parse_name

__all__ = [
    "DatasetError",
    "REQUIRED_KEYS",
    "val_path_for",
    "write_npz",
    "generate_dataset",
    "check_maze_positions",
    "validate_dataset",
    "check_dataset_header",
]

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("observations", "actions", "terminals", "qpos", "qvel")
OPTIONAL_KEYS = ("button_states",)


def val_path_for(path: str | os.PathLike) -> Path:
    """``x/name.npz`` -> ``x/name-val.npz`` (ogbench's convention)."""
    path = Path(path)
    return path.with_name(path.name[: -len(".npz")] + "-val.npz" if path.name.endswith(".npz") else path.name + "-val")


# ---------------------------------------------------------------------------------------- generation
class _Buffers:
    """Preallocated per-key arrays for ``n`` rows."""

    def __init__(self, n: int, obs_dim: int, act_dim: int, nq: int, nv: int):
        self.data = {
            "observations": np.empty((n, obs_dim), np.float32),
            "actions": np.empty((n, act_dim), np.float32),
            "terminals": np.zeros((n,), bool),
            "qpos": np.empty((n, nq), np.float32),
            "qvel": np.empty((n, nv), np.float32),
        }

    def put(self, i: int, ob, action, done: bool, qpos, qvel) -> None:
        d = self.data
        d["observations"][i] = ob
        d["actions"][i] = action
        d["terminals"][i] = done
        d["qpos"][i] = qpos
        d["qvel"][i] = qvel

    def split(self, n_train_rows: int) -> tuple[dict, dict]:
        train = {k: v[:n_train_rows] for k, v in self.data.items()}
        val = {k: v[n_train_rows:] for k, v in self.data.items()}
        return train, val


def _maze_cells(maze_map: np.ndarray) -> tuple[list, list]:
    """Free cells, and free cells that are not straight hallway cells (goal candidates).

    Same cell sets as ogbench's ``data_gen_scripts/generate_locomaze.py``.
    """
    all_cells, vertex_cells = [], []
    h, w = maze_map.shape
    for i in range(h):
        for j in range(w):
            if maze_map[i, j] != 0:
                continue
            all_cells.append((i, j))
            vertical_hall = (
                maze_map[i - 1, j] == 0 and maze_map[i + 1, j] == 0 and maze_map[i, j - 1] == 1 and maze_map[i, j + 1] == 1
            )
            horizontal_hall = (
                maze_map[i, j - 1] == 0 and maze_map[i, j + 1] == 0 and maze_map[i - 1, j] == 1 and maze_map[i + 1, j] == 1
            )
            if not (vertical_hall or horizontal_hall):
                vertex_cells.append((i, j))
    return all_cells, vertex_cells


def _cells_at_distance(maze_map: np.ndarray, start: tuple[int, int], steps: int) -> list:
    """Free cells exactly ``steps`` BFS moves away from ``start`` (the 'stitch' goal rule)."""
    dist = np.full(maze_map.shape, -1, dtype=np.int64)
    dist[start] = 0
    queue, out, head = [start], [], 0
    while head < len(queue):
        i, j = queue[head]
        head += 1
        for di, dj in ((-1, 0), (0, -1), (1, 0), (0, 1)):
            ni, nj = i + di, j + dj
            if 0 <= ni < maze_map.shape[0] and 0 <= nj < maze_map.shape[1] and maze_map[ni, nj] == 0 and dist[ni, nj] < 0:
                dist[ni, nj] = dist[i, j] + 1
                queue.append((ni, nj))
                if dist[ni, nj] == steps:
                    out.append((ni, nj))
    return out


def _generate_pointmaze(spec: DatasetSpec, bufs: _Buffers, n_episodes: int, length: int, seed: int, noise: float, progress: bool):
    # Recipe re-derived from ogbench data_gen_scripts/generate_locomaze.py (navigate / stitch): the
    # "expert" for the point mass is the unit direction to the BFS subgoal plus N(0, noise) noise.
    env = gymnasium.make(spec.env_id, terminate_at_goal=False).unwrapped
    maze_map = env.maze_map
    all_cells, vertex_cells = _maze_cells(maze_map)
    row = 0
    for ep in trange(n_episodes, desc=f"generate {spec.dataset_name}", disable=not progress):
        init_ij = all_cells[np.random.randint(len(all_cells))]
        if spec.dataset_type == "navigate":
            goal_ij = vertex_cells[np.random.randint(len(vertex_cells))]
        else:  # stitch: a goal 4 cells away
            near = _cells_at_distance(maze_map, init_ij, 4)
            goal_ij = near[np.random.randint(len(near))] if near else init_ij
        ob, _ = env.reset(seed=seed if ep == 0 else None, options=dict(task_info=dict(init_ij=init_ij, goal_ij=goal_ij)))
        if ep == 0:
            env.action_space.seed(seed)
        for t in range(length):
            xy = env.get_xy()
            subgoal_xy, _ = env.get_oracle_subgoal(xy, env.cur_goal_xy)
            direction = subgoal_xy - xy
            direction = direction / (np.linalg.norm(direction) + 1e-6)
            action = np.clip(direction + np.random.normal(0, noise, direction.shape), -1, 1)
            next_ob, _, _, _, info = env.step(action)
            if info["success"] and spec.dataset_type == "navigate":
                # Reached: draw a new goal and keep going (the 'navigate' behaviour).
                env.set_goal(vertex_cells[np.random.randint(len(vertex_cells))])
            bufs.put(row, ob, action, t == length - 1, info["prev_qpos"], info["prev_qvel"])
            ob = next_ob
            row += 1
    env.close()


def _generate_cube(spec: DatasetSpec, bufs: _Buffers, n_episodes: int, length: int, seed: int, noise: float, progress: bool):
    # Recipe re-derived from ogbench data_gen_scripts/generate_manipspace.py ('play'): the shipped
    # CubePlanOracle(noise=0.1, noise_smoothing=0.5) in 'data_collection' mode, new target when done.
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle

    env = gymnasium.make(spec.env_id, terminate_at_goal=False, mode="data_collection")
    raw = env.unwrapped
    oracle = CubePlanOracle(env=env, noise=noise, noise_smoothing=0.5)
    p_stack_range = {"cube-single-v0": (0.0, 0.0), "cube-double-v0": (0.0, 0.25)}[spec.env_id]
    row = 0
    for ep in trange(n_episodes, desc=f"generate {spec.dataset_name}", disable=not progress):
        ob, info = raw.reset(seed=seed if ep == 0 else None)
        p_stack = 0.0 if p_stack_range[1] == 0.0 else np.random.uniform(*p_stack_range)
        oracle.reset(ob, info)
        for t in range(length):
            action = np.clip(np.asarray(oracle.select_action(ob, info)), -1, 1)
            next_ob, _, _, _, info = raw.step(action)
            if oracle.done:
                agent_ob, agent_info = raw.set_new_target(p_stack=p_stack)
                oracle.reset(agent_ob, agent_info)
            bufs.put(row, ob, action, t == length - 1, info["prev_qpos"], info["prev_qvel"])
            ob = next_ob
            row += 1
    env.close()


def generate_dataset(
    name: str,
    path: str | os.PathLike,
    *,
    num_episodes: int,
    episode_length: int | None = None,
    seed: int = 0,
    val_episodes: int | None = None,
    noise: float | None = None,
    progress: bool = True,
) -> tuple[Path, Path]:
    """Collect ``name`` with ogbench's scripted oracle and write ``path`` and its ``-val.npz``.

    * pointmaze navigate/stitch: BFS-subgoal direction + Gaussian action noise (0.5); navigate
      resamples a goal among the maze's non-hallway cells each time the goal is reached.
    * cube-single/double play: ``CubePlanOracle(noise=0.1, noise_smoothing=0.5)`` in
      ``mode='data_collection'`` with ``terminate_at_goal=False``.
    * antmaze: not possible offline (needs ogbench's pretrained SAC expert) -> ``ValueError``.

    ``episode_length=None`` uses the official length (1001 navigate/play, 2001 giant navigate,
    201 stitch). ``val_episodes`` defaults to ``max(1, num_episodes // 10)`` as upstream; the val
    episodes are collected after the train ones from the same RNG stream.  Deterministic for a
    given seed (the process-wide NumPy RNG is left untouched).  Returns ``(train_path, val_path)``.
    """
    spec = parse_name(name)
    if not spec.can_generate:
        raise ValueError(spec.generation_error)
    num_episodes = int(num_episodes)
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    length = int(episode_length or spec.official_episode_length)
    if length < 2:
        raise ValueError(f"episode_length must be >= 2 (one transition needs two steps), got {length}")
    n_val = max(1, num_episodes // 10) if val_episodes is None else int(val_episodes)
    n_total = num_episodes + n_val
    if noise is None:
        noise = 0.5 if spec.kind == "maze" else 0.1

    probe = gymnasium.make(spec.env_id).unwrapped
    if spec.kind == "cube":
        probe.reset(seed=0)
    with warnings.catch_warnings():  # manipspace builds a float32 Box from float64 bounds
        warnings.filterwarnings("ignore", message=".*precision lowered.*")
        obs_dim = int(probe.observation_space.shape[0])
        act_dim = int(probe.action_space.shape[0])
    nq, nv = int(probe.model.nq), int(probe.model.nv)
    probe.close()

    bufs = _Buffers(n_total * length, obs_dim, act_dim, nq, nv)
    rng = np.random.RandomState(seed)
    gen = _generate_pointmaze if spec.kind == "maze" else _generate_cube
    with private_global_rng(rng):
        gen(spec, bufs, n_total, length, seed, noise, progress)

    train, val = bufs.split(num_episodes * length)
    train_path = Path(path).expanduser()
    val_path = val_path_for(train_path)
    write_npz(val_path, val)
    write_npz(train_path, train)  # train last: its presence marks a complete pair
    log.info("wrote %s (%d transitions) and %s", train_path, len(train["terminals"]), val_path)
    return train_path, val_path


# ---------------------------------------------------------------------------------------- validation
def _fix_hint(path: Path) -> str:
    return (
        f"Fix: delete {path} and re-create it (dataset.source=generated regenerates it; for official data "
        f"re-download {path.name} from ogbench's server into dataset.data_dir)."
    )


def check_dataset_header(path: str | os.PathLike, suite) -> dict[str, tuple[int, ...]]:
    """Cheap checks (no array data read): existence, readability, keys, dims, row counts.

    Returns ``{key: shape}``; raises :class:`DatasetError` otherwise.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(
            f"Dataset file {path} does not exist. Fix: put the official file there, or set "
            f"dataset.source=generated (or auto) to generate one."
        )
    shapes = npz_key_shapes(
        path,
        REQUIRED_KEYS,
        OPTIONAL_KEYS,
        label="Dataset file",
        hint=_fix_hint(path),
        missing_message=lambda missing, keys: (
            f"Dataset file {path} lacks key(s) {missing} (has {sorted(keys)}); an OGBench "
            f"file needs {list(REQUIRED_KEYS)}. {_fix_hint(path)}"
        ),
    )

    n = shapes["terminals"][0] if shapes["terminals"] else 0
    if n == 0:
        raise DatasetError(f"Dataset file {path} contains zero transitions. {_fix_hint(path)}")
    expected = {
        "observations": suite.observation_dim,
        "actions": suite.action_dim,
        "qpos": getattr(suite, "nq", None),
        "qvel": getattr(suite, "nv", None),
    }
    for key, dim in expected.items():
        shape = shapes[key]
        if len(shape) != 2 or (dim is not None and shape[1] != dim):
            raise DatasetError(
                f"Dataset file {path}: '{key}' has shape {shape} but {suite.name} needs (N, {dim}); the file "
                f"belongs to a different environment. Fix: point dataset.name/data_dir at the file for "
                f"{suite.name}, or regenerate it with dataset.source=generated."
            )
    for key, shape in shapes.items():
        if shape[0] != n:
            raise DatasetError(f"Dataset file {path}: '{key}' has {shape[0]} rows but 'terminals' has {n}. {_fix_hint(path)}")
    return shapes


def check_maze_positions(
    qpos: np.ndarray, suite, path: str | os.PathLike, *, min_free: float = 0.99, samples: int = 20000
) -> None:
    """Maze datasets: the agent's x-y positions must lie in the free cells of the suite's maze.

    Raises :class:`DatasetError` when more than ``1 − min_free`` of ``samples`` evenly spaced rows fall on walls or
    outside the maze, as for the file of another maze under this maze's name. Other datasets are not checked."""
    if getattr(getattr(suite, "spec", None), "kind", None) != "maze" or len(qpos) == 0:
        return
    env = suite.make_env(suite.task_names[0], seed=0)
    maze = env.unwrapped
    xy = np.asarray(qpos[:: max(1, len(qpos) // samples), :2], dtype=np.float64)
    unit = maze._maze_unit
    i = np.floor((xy[:, 1] + maze._offset_y + 0.5 * unit) / unit).astype(int)  # the maze's own xy_to_ij, vectorised
    j = np.floor((xy[:, 0] + maze._offset_x + 0.5 * unit) / unit).astype(int)
    grid = np.asarray(maze.maze_map)
    env.close()
    inside = (i >= 0) & (i < grid.shape[0]) & (j >= 0) & (j < grid.shape[1])
    free = np.zeros(len(xy), dtype=bool)
    free[inside] = grid[i[inside], j[inside]] == 0
    if free.mean() < min_free:
        raise DatasetError(
            f"Dataset file {path}: {100 * (1 - free.mean()):.1f}% of the sampled agent positions lie on walls or outside "
            f"the {suite.spec.env_id} maze, so it holds another maze's data. Use the file of this dataset, or "
            f"{_fix_hint(Path(path))}"
        )


def validate_dataset(path: str | os.PathLike, suite, *, check_finite: bool = True) -> dict[str, tuple[int, ...]]:
    """Check an OGBench ``.npz`` against ``suite``; returns ``{key: shape}``.

    Raises :class:`DatasetError` (one message naming the file and the fix) if the file is
    missing, empty, unreadable/corrupted, lacks a key, has zero transitions, has
    observation/action/qpos/qvel dims that do not match the environment, inconsistent row
    counts, or NaN/inf values.  Arrays are read one at a time (bounded memory).
    """
    path = Path(path).expanduser()
    shapes = check_dataset_header(path, suite)
    if check_finite:
        with np.load(path, allow_pickle=False) as npz:
            for key in ("observations", "actions", "qpos", "qvel"):
                try:
                    arr = npz[key]
                except Exception as exc:
                    raise DatasetError(
                        f"Dataset file {path} is corrupted: reading '{key}' failed ({type(exc).__name__}: {exc}). "
                        f"{_fix_hint(path)}"
                    ) from exc
                if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                    bad = int((~np.isfinite(arr)).reshape(len(arr), -1).any(axis=1).sum())
                    raise DatasetError(f"Dataset file {path}: '{key}' contains NaN/inf values in {bad} rows. {_fix_hint(path)}")
                if key == "qpos":
                    check_maze_positions(arr, suite, path)
    return shapes
