"""TorchRL environment around an OGBench (gymnasium) evaluation environment.

The wrapped env follows ogbench's *single-task* evaluation settings
(``ogbench/locomaze/__init__.py`` ``singletask_dict`` and
``ogbench/manipspace/__init__.py`` ``cube_singletask_dict``), which are the envs
TD-JEPA evaluates on: noise-free goals (mazes), no cube permutation, success
measured *before* the action (``success_timing='pre'``) and termination at the
goal.  Unlike the ``-singletask-taskN`` ids, the task is chosen at reset, so one
env serves all five tasks (``set_task``), and ``reward`` is ``float(success)``.

Observations: ``obs="states"`` (the official state vector only) or, for the mazes, ``obs="lidar"``:
every step also carries a bird's-eye-view LiDAR grid of the agent's surroundings
(:func:`data.lidar.maze_lidar_bev` with :data:`~data.lidar.MAZE_LIDAR` / :data:`~data.lidar.MAZE_GRID`).
"""

from __future__ import annotations

import warnings

import gymnasium
import mujoco
import numpy as np
import ogbench  # noqa: F401  (registers the gymnasium ids)
import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Bounded, Categorical, Composite, Unbounded
from torchrl.envs import EnvBase

from data.lidar import MAZE_GRID, MAZE_LIDAR, maze_lidar_bev
from envs.ogbench._rng import private_global_rng
from envs.render import apply_cheap_render_settings, guard_render

__all__ = ["OGBenchEnv", "task_index", "OBS_TYPES", "LIDAR_SHAPE", "check_obs"]

OBS_TYPES = ("states", "lidar")
#: shape of the ``lidar`` observation: MAZE_GRID's channels × rows × cols (12 × 32 × 32)
LIDAR_SHAPE = (MAZE_GRID.num_channels, *MAZE_GRID.shape)


def check_obs(obs: str, env_id: str) -> str:
    """Validate the ``obs`` option (``env.obs``) for ``env_id``; returns it."""
    if obs not in OBS_TYPES:
        raise ValueError(
            f"env.obs={obs!r} is not known for OGBench: use env.obs=states or env.obs=lidar (LiDAR grids, maze envs only)"
        )
    if obs == "lidar" and "maze" not in env_id:
        raise ValueError(
            f"env.obs=lidar needs a maze environment (pointmaze-*, antmaze-*), but {env_id} has no maze "
            f"to scan: use env.obs=states, or a maze, e.g. env.name=pointmaze-medium-navigate"
        )
    return obs


def task_index(task: str | int | None, num_tasks: int = 5) -> int:
    """``"task3"`` / ``3`` / ``"3"`` -> ``3``; ``None`` -> ``1``."""
    if task is None:
        return 1
    if isinstance(task, str):
        digits = task[4:] if task.startswith("task") else task
        if not digits.isdigit():
            raise ValueError(f"Invalid task {task!r}: expected 'task1'..'task{num_tasks}' or 1..{num_tasks}")
        task = int(digits)
    task = int(task)
    if not 1 <= task <= num_tasks:
        raise ValueError(f"Task id must be in [1, {num_tasks}], got {task}")
    return task


def pin_action_space(raw) -> gymnasium.spaces.Space:
    """Give this manipspace env instance one fixed, seedable action space (idempotent).

    manipspace's ``action_space`` is a property building a new *unseeded* Box on every access,
    and a task reset takes two ``action_space.sample()`` steps before reading the goal
    observation: its arm part then came from fresh OS entropy, so the same seed gave a
    different goal. Only this instance's class is swapped (no global patch).
    """
    pinned = getattr(type(raw), "_pinned_action_space", None)
    if pinned is not None:
        return pinned
    with warnings.catch_warnings():  # manipspace builds a float32 Box from float64 bounds
        warnings.filterwarnings("ignore", message=".*precision lowered.*")
        space = raw.action_space
    cls = type(raw)
    raw.__class__ = type(
        f"FixedActionSpace{cls.__name__}", (cls,), {"action_space": property(lambda self: space), "_pinned_action_space": space}
    )
    return space


def _bool1(value: bool) -> torch.Tensor:
    return torch.tensor([bool(value)], dtype=torch.bool)


class OGBenchEnv(EnvBase):
    """OGBench evaluation env as a TorchRL ``EnvBase`` (CPU, unbatched).

    Keys: ``observation`` f32 [obs_dim], ``goal`` f32 [obs_dim] (goal observation of the
    current task), ``success`` bool [1] (ogbench's ``info['success']``), ``qpos`` f32 [nq],
    ``qvel`` f32 [nv], ``reward`` f32 [1] (= success), ``done``/``terminated``/``truncated``
    bool [1].  Actions are f32 in [-1, 1].

    Args:
        env_id: registered ogbench id, e.g. ``"pointmaze-medium-v0"`` or ``"cube-single-v0"``.
        task_id: evaluation task 1..5 used at the next reset (see :meth:`set_task`).
        seed: seed of the env, its action space and the private global-NumPy RNG.
        render_size: ``(height, width)`` (or an int) of :meth:`render` frames.
        max_episode_steps: horizon; defaults to the registered (official) one.
        success_timing / terminate_at_goal: ogbench options; defaults are the official
            single-task evaluation settings.
        cheap_render: render frames without MSAA, shadows or reflections.
        pixels: also return the rendered frame, area-downsampled to ``pixels`` × ``pixels``, as
            ``pixels`` uint8 [3, pixels, pixels] (image observations for ACT-JEPA's image tokens).
        obs: ``"states"``, or ``"lidar"`` (mazes only) to also return ``lidar`` f32 [12, 32, 32]: a
            :func:`data.lidar.maze_lidar_bev` scan at the agent's current xy (range noise and dropout drawn
            from a generator seeded with the env seed, re-seeded with it; scanned on a private ``MjData``,
            so the simulation is untouched).
    """

    def __init__(
        self,
        env_id: str,
        task_id: int | str = 1,
        *,
        seed: int = 0,
        render_size: int | tuple[int, int] = 200,
        max_episode_steps: int | None = None,
        success_timing: str = "pre",
        terminate_at_goal: bool = True,
        cheap_render: bool = True,
        pixels: int | None = None,
        obs: str = "states",
        device: str | torch.device = "cpu",
    ):
        super().__init__(device=device, batch_size=torch.Size([]))
        self.obs_type = check_obs(obs, env_id)
        if isinstance(render_size, int):
            render_size = (render_size, render_size)
        height, width = int(render_size[0]), int(render_size[1])
        self.env_id = env_id
        self._is_maze = "maze" in env_id
        kwargs = dict(success_timing=success_timing, terminate_at_goal=terminate_at_goal, width=width, height=height)
        if self._is_maze:
            kwargs["add_noise_to_goal"] = False
        else:
            kwargs["permute_blocks"] = False
        spec = gymnasium.spec(env_id)
        self.max_episode_steps = int(max_episode_steps or spec.max_episode_steps)
        # The unwrapped env: we do time-limit truncation ourselves (cheaper than gymnasium's wrappers).
        self._env = gymnasium.make(env_id, **kwargs).unwrapped
        if isinstance(getattr(type(self._env), "action_space", None), property):
            pin_action_space(self._env)  # manipspace: one seedable action space, so seeded goals repeat
        self.num_tasks = 5
        self._task_id = task_index(task_id, self.num_tasks)
        self._np_rng = np.random.RandomState(seed)
        self._lidar_rng = np.random.default_rng(seed)
        self._pending_seed: int | None = seed
        self._t = 0
        self._goal: torch.Tensor | None = None

        # One reset to build the model (manipspace compiles lazily) and read the dimensions.
        with private_global_rng(self._np_rng):
            ob, info = self._env.reset(seed=seed, options=dict(task_id=self._task_id))
        # Re-arm the seed so the first user reset equals a fresh `np.random.seed(s); env.reset(seed=s)`.
        self._set_seed(seed)
        self.num_tasks = int(self._env.num_tasks)
        if cheap_render:  # videos only (state observations); set before the first render makes the GL context
            apply_cheap_render_settings(self._env.model)
        obs_dim = int(np.asarray(ob).shape[-1])
        nq, nv = int(self._env.model.nq), int(self._env.model.nv)
        with warnings.catch_warnings():  # manipspace builds a float32 Box from float64 bounds
            warnings.filterwarnings("ignore", message=".*precision lowered.*")
            act_dim = int(self._env.action_space.shape[0])
        self.observation_dim, self.action_dim, self.nq, self.nv = obs_dim, act_dim, nq, nv

        f32 = torch.float32
        bool1 = Categorical(2, shape=(1,), dtype=torch.bool, device=self.device)
        self.observation_spec = Composite(
            observation=Unbounded((obs_dim,), dtype=f32, device=self.device),
            goal=Unbounded((obs_dim,), dtype=f32, device=self.device),
            success=bool1.clone(),
            qpos=Unbounded((nq,), dtype=f32, device=self.device),
            qvel=Unbounded((nv,), dtype=f32, device=self.device),
            shape=(),
            device=self.device,
        )
        self.pixel_size = None if pixels is None else int(pixels)
        if self.pixel_size is not None:
            self.observation_spec["pixels"] = Bounded(
                0, 255, shape=(3, self.pixel_size, self.pixel_size), dtype=torch.uint8, device=self.device
            )
        self._scan_data = None
        if self.obs_type == "lidar":
            self._scan_data = mujoco.MjData(self._env.model)  # scans move the agent: never in the live sim
            self.observation_spec["lidar"] = Unbounded(LIDAR_SHAPE, dtype=f32, device=self.device)
        self.action_spec = Bounded(-1.0, 1.0, shape=(act_dim,), dtype=f32, device=self.device)
        self.reward_spec = Unbounded((1,), dtype=f32, device=self.device)
        self.done_spec = Composite(
            done=bool1.clone(), terminated=bool1.clone(), truncated=bool1.clone(), shape=(), device=self.device
        )

    # ------------------------------------------------------------------ task / seed
    @property
    def task_id(self) -> int:
        return self._task_id

    @property
    def unwrapped(self):
        """The underlying ogbench gymnasium env (unwrapped)."""
        return self._env

    def set_task(self, task: int | str) -> None:
        """Select the evaluation task (1..5 or ``"taskK"``) used from the next reset on."""
        self._task_id = task_index(task, self.num_tasks)

    def _seed_action_space(self, seed: int | None) -> None:
        space = getattr(type(self._env), "_pinned_action_space", None) or self._env.__dict__.get("action_space")
        if space is not None and seed is not None:
            space.seed(int(seed))

    def _set_seed(self, seed: int | None) -> None:
        self._pending_seed = None if seed is None else int(seed)
        self._np_rng = np.random.RandomState(seed)
        self._lidar_rng = np.random.default_rng(seed)
        self._seed_action_space(seed)

    # ------------------------------------------------------------------ core
    def _state_td(self, ob, *, success: bool, reward: float | None, terminated: bool, truncated: bool) -> TensorDict:
        data = self._env.data
        out = {
            "observation": torch.as_tensor(np.asarray(ob, dtype=np.float32)),
            "goal": self._goal.clone(),
            "success": _bool1(success),
            "qpos": torch.as_tensor(np.asarray(data.qpos, dtype=np.float32)),
            "qvel": torch.as_tensor(np.asarray(data.qvel, dtype=np.float32)),
            "done": _bool1(terminated or truncated),
            "terminated": _bool1(terminated),
            "truncated": _bool1(truncated),
        }
        if self.pixel_size is not None:
            out["pixels"] = self.pixel_observation()
        if self.obs_type == "lidar":
            out["lidar"] = self.lidar_observation()
        if reward is not None:
            out["reward"] = torch.tensor([reward], dtype=torch.float32)
        return TensorDict(out, batch_size=self.batch_size, device=self.device)

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs) -> TensorDictBase:
        seed, self._pending_seed = self._pending_seed, None
        with private_global_rng(self._np_rng):
            ob, info = self._env.reset(seed=seed, options=dict(task_id=self._task_id))
        self._goal = torch.as_tensor(np.asarray(info["goal"], dtype=np.float32))
        self._t = 0
        return self._state_td(ob, success=False, reward=None, terminated=False, truncated=False)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        action = tensordict.get("action").detach().cpu().numpy()
        ob, _, terminated, _, info = self._env.step(action)
        self._t += 1
        success = bool(info["success"])
        truncated = self._t >= self.max_episode_steps
        return self._state_td(ob, success=success, reward=float(success), terminated=bool(terminated), truncated=truncated)

    # ------------------------------------------------------------------ extras
    def goal_observation(self) -> torch.Tensor | None:
        """Goal observation of the current episode (``None`` before the first reset)."""
        return None if self._goal is None else self._goal.clone()

    def pixel_observation(self) -> torch.Tensor:
        """The current frame as uint8 [3, pixels, pixels] (area-downsampled from ``render_size``)."""
        frame = torch.from_numpy(self.render()).permute(2, 0, 1).float().unsqueeze(0)
        small = torch.nn.functional.interpolate(frame, size=(self.pixel_size, self.pixel_size), mode="area")
        return small.squeeze(0).round().clamp(0, 255).to(torch.uint8)

    def lidar_scan(self, positions: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """BEV LiDAR grids f32 [N, 12, 32, 32] with the agent moved to each xy of ``positions`` [N, 2] (the rest
        of the state as now); ``rng``: noise and dropout (None: ``default_rng(0)``). Mazes only."""
        if self._scan_data is None:
            check_obs("lidar", self.env_id)
            self._scan_data = mujoco.MjData(self._env.model)
        self._scan_data.qpos[:] = self._env.data.qpos
        return maze_lidar_bev(self._env.model, self._scan_data, positions, MAZE_LIDAR, MAZE_GRID, rng)

    def lidar_observation(self) -> torch.Tensor:
        """The ``lidar`` observation f32 [12, 32, 32]: a scan at the agent's current xy, drawing on the env's
        seeded LiDAR generator."""
        return self.lidar_scan(np.asarray(self._env.data.qpos[:2]).reshape(1, 2), self._lidar_rng)[0]

    def render(self) -> np.ndarray:
        """RGB ``uint8`` frame of shape ``(H, W, 3)`` of the current state."""
        frame = guard_render(self._env.render)
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)

    def close(self, *, raise_if_closed: bool = True):
        try:
            for attr in ("custom_renderer", "_renderer"):  # free EGL contexts now, not at interpreter exit
                renderer = self._env.__dict__.get(attr)
                if renderer is not None:
                    try:
                        renderer.close()
                    except Exception:
                        pass
                    self._env.__dict__[attr] = None
            self._env.close()
        finally:
            super().close(raise_if_closed=raise_if_closed)
