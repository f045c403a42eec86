"""OGBench evaluation protocol: 5 goal-reaching tasks per environment, metric = success."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tensordict import TensorDictBase

from envs.common import TaskSuite, cfg_get, cfg_options
from envs.ogbench.env import LIDAR_SHAPE, OGBenchEnv, check_obs, task_index
from envs.ogbench.names import DatasetSpec, parse_name

__all__ = ["OGBenchTaskSuite", "CUBE_SUCCESS_TOL", "GOAL_SCAN_SEED"]

# ogbench/manipspace/envs/cube_env.py:_compute_successes: ||cube_xyz - target_xyz|| <= 0.04.
CUBE_SUCCESS_TOL = 0.04
#: seed of the noise/dropout generator of the goal LiDAR scans (obs=lidar): the same goal grid every time
GOAL_SCAN_SEED = 0


class OGBenchTaskSuite(TaskSuite):
    """Zero-shot evaluation protocol of one OGBench dataset/environment.

    Rewards for relabelling follow TD-JEPA's OGBench evaluation: ``-(number of unmet goal
    conditions) + 1``, where "met" is exactly ogbench's own success test on the next state's
    ``qpos`` (maze: ``||xy - goal_xy|| <= goal_tol`` with goal_tol 1.0 for point, 0.5 for ant;
    cube: ``||cube_xyz - goal_xyz|| <= 0.04`` for every cube).  So for pointmaze and cube-single
    the relabelled reward is 1 iff ogbench would report ``info['success']`` in that state.

    ``obs="lidar"`` (mazes only): the agent observes ``lidar`` f32 [12, 32, 32] bird's-eye-view LiDAR
    grids (:attr:`observation_key`, :attr:`observation_shape`) instead of the state; relabelling and
    success still use ``qpos``.
    """

    metric = "success"

    def __init__(
        self,
        name: str,
        *,
        render_size: int | tuple[int, int] = 200,
        max_episode_steps: int | None = None,
        success_timing: str = "pre",
        terminate_at_goal: bool = True,
        cheap_render: bool = True,
        pixels: int | None = None,
        obs: str = "states",
    ):
        self.spec: DatasetSpec = parse_name(name)
        self.obs_type = check_obs(obs, self.spec.env_id)
        self.name = self.spec.dataset_name
        self.env_id = self.spec.env_id
        self._env_kwargs = dict(
            render_size=render_size,
            max_episode_steps=max_episode_steps,
            success_timing=success_timing,
            terminate_at_goal=terminate_at_goal,
            cheap_render=cheap_render,
            pixels=pixels,
            obs=obs,
        )
        probe = OGBenchEnv(self.env_id, 1, seed=0, **self._env_kwargs)
        self._probe = probe
        raw = probe.unwrapped
        # Canonical names "task1".."task5" (= ogbench's task_id / "-singletask-taskN"); ogbench's own
        # descriptive names (e.g. cube "task1_horizontal") are kept in task_descriptions.
        self.task_names = [f"task{i + 1}" for i in range(len(raw.task_infos))]
        self.task_descriptions = {f"task{i + 1}": info["task_name"] for i, info in enumerate(raw.task_infos)}
        self.observation_dim = probe.observation_dim
        self.action_dim = probe.action_dim
        self.nq, self.nv = probe.nq, probe.nv
        self.max_episode_steps = probe.max_episode_steps
        self._goal_obs: dict[str, torch.Tensor] = {}

        # Relabelling targets, read from ogbench's task definitions (cur_task_info of each task).
        if self.spec.kind == "maze":
            self.goal_tol = float(raw._goal_tol)
            self._targets = {
                f"task{i + 1}": torch.tensor(np.asarray(info["goal_xy"], dtype=np.float64)).view(1, 2)
                for i, info in enumerate(raw.task_infos)
            }
            self._qpos_slices = [slice(0, 2)]
        else:
            self.goal_tol = CUBE_SUCCESS_TOL
            self._targets = {
                f"task{i + 1}": torch.tensor(np.asarray(info["goal_xyzs"], dtype=np.float64))
                for i, info in enumerate(raw.task_infos)
            }
            model = raw.model
            n_cubes = next(iter(self._targets.values())).shape[0]
            adrs = [int(model.jnt_qposadr[model.joint(f"object_joint_{i}").id]) for i in range(n_cubes)]
            self._qpos_slices = [slice(a, a + 3) for a in adrs]

    @classmethod
    def from_config(cls, env_cfg: Any) -> "OGBenchTaskSuite":
        """Build from the ``env`` sub-config (``name`` and optional env options)."""
        name = cfg_get(env_cfg, "name")
        if name is None:
            raise ValueError("env config for family 'ogbench' needs a 'name', e.g. 'pointmaze-medium-navigate'")
        kwargs = cfg_options(
            env_cfg, ("render_size", "max_episode_steps", "success_timing", "terminate_at_goal", "cheap_render", "pixels", "obs")
        )
        if "render_size" in kwargs and not isinstance(kwargs["render_size"], int):
            kwargs["render_size"] = tuple(kwargs["render_size"])  # (height, width)
        return cls(name, **kwargs)

    # ------------------------------------------------------------------ TaskSuite API
    @property
    def observation_key(self) -> str:
        """``"lidar"`` (f32 [12, 32, 32]) with ``obs="lidar"``, else ``"observation"``."""
        return "lidar" if self.obs_type == "lidar" else "observation"

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return LIDAR_SHAPE if self.obs_type == "lidar" else (self.observation_dim,)

    def lidar_scan(self, positions: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """LiDAR grids f32 [N, 12, 32, 32] with the agent at each xy of ``positions`` [N, 2] (the ``lidar``
        observation there; ``rng``: noise and dropout, None: ``default_rng(0)``). Maze suites only."""
        return self._probe.lidar_scan(positions, rng)

    def make_env(self, task: str | None = None, *, seed: int = 0, render: bool = False) -> OGBenchEnv:
        """A fresh :class:`OGBenchEnv` that resets into ``task``.

        Rendering is lazy, so ``render`` only documents intent: ``env.render()`` works either way.
        """
        task = self.check_task(task)
        return OGBenchEnv(self.env_id, task_index(task), seed=seed, **self._env_kwargs)

    def relabel(self, task: str, batch: TensorDictBase) -> torch.Tensor:
        """Reward at the next state: ``1 - #unmet goal conditions`` (pointmaze / cube-single: {0, 1})."""
        task = self.check_task(task)
        qpos = batch.get(("next", "qpos"))
        target = self._targets[task].to(qpos.device)
        q = qpos.to(torch.float64)
        unmet = torch.zeros(qpos.shape[:-1], dtype=torch.float64, device=qpos.device)
        for i, sl in enumerate(self._qpos_slices):
            dist = torch.linalg.vector_norm(q[..., sl] - target[i], dim=-1)
            unmet += (dist > self.goal_tol).to(torch.float64)
        return (1.0 - unmet).to(torch.float32)

    def goal_observation(self, task: str) -> torch.Tensor:
        """Goal observation ogbench returns at reset (``info['goal']``) for ``task``, seed 0.

        Mazes: exactly the goal position.  Cube: the arm part depends on the reset seed.
        ``obs="lidar"``: the LiDAR grid f32 [12, 32, 32] with the agent at the goal xy, its noise and
        dropout drawn from ``default_rng(GOAL_SCAN_SEED)`` (deterministic: the same grid every call).
        """
        task = self.check_task(task)
        if task not in self._goal_obs:
            self._probe.set_task(task)
            self._probe.set_seed(0)
            self._probe.reset()
            if self.obs_type == "lidar":
                goal_xy = self._targets[task][0].numpy().reshape(1, 2)
                self._goal_obs[task] = self.lidar_scan(goal_xy, np.random.default_rng(GOAL_SCAN_SEED))[0]
            else:
                self._goal_obs[task] = self._probe.goal_observation()
        return self._goal_obs[task].clone()

    def goal_distance(self, task: str, qpos: torch.Tensor) -> torch.Tensor:
        """Distance to ``task``'s goal of states with the given ``qpos`` (``[..., nq]``): mazes ``||xy - goal_xy||``,
        cubes the largest ``||cube_xyz - goal_xyz||`` (success is this distance <= ``goal_tol``)."""
        q = qpos.to(torch.float64)
        target = self._targets[task].to(q.device)
        return torch.stack([(q[..., sl] - target[i]).norm(dim=-1) for i, sl in enumerate(self._qpos_slices)]).amax(0)

    def success(self, task: str, qpos: torch.Tensor) -> torch.Tensor:
        """Boolean ogbench success of states with the given ``qpos`` (``[..., nq]``)."""
        from tensordict import TensorDict

        td = TensorDict({("next", "qpos"): qpos}, batch_size=qpos.shape[:-1])
        return self.relabel(task, td) >= 1.0
