"""DMC evaluation protocol (TD-JEPA ``evaluations/dmc.py``): 4-8 reward tasks per domain, metric = return."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
import torch
from tensordict import TensorDictBase

from envs.common import TaskSuite, cfg_get, cfg_options
from envs.dmc.env import DMCEnv, check_obs_type
from envs.dmc.point_mass_maze import maze_reward
from envs.dmc.tasks import DomainSpec, get_domain, load_dmc, make_reward_physics

__all__ = ["DMCTaskSuite"]


class DMCTaskSuite(TaskSuite):
    """Zero-shot evaluation protocol of one DMC domain (walker, cheetah, quadruped, point_mass_maze).

    Construction is cheap (no simulator is built until :meth:`make_env` or :meth:`relabel`).
    :meth:`relabel` recomputes a task's reward at the *next* state of each transition as the
    official code does (``physics.set_state(next_physics)``, ``set_control(action)``, forward,
    ``task.get_reward``), reusing one physics per suite; point_mass_maze rewards are computed
    directly from the state arrays (:func:`envs.dmc.point_mass_maze.maze_reward`).
    """

    metric = "return"

    def __init__(
        self,
        domain: str = "walker",
        *,
        obs: str = "states",
        max_episode_steps: int | None = None,
        frame_stack: int = 3,
        render_size: int = 64,
        cheap_render: bool = True,
        video_size: int | None = None,
    ):
        self.spec: DomainSpec = get_domain(domain)
        self.domain = self.name = self.spec.name
        self.obs_type = check_obs_type(obs)
        self.task_names = list(self.spec.tasks)
        self.observation_dim = self.spec.observation_dim
        self.action_dim = self.spec.action_dim
        self.physics_dim = self.spec.physics_dim
        self.max_episode_steps = int(max_episode_steps or self.spec.max_episode_steps)
        self.frame_stack, self.render_size, self.cheap_render = int(frame_stack), int(render_size), bool(cheap_render)
        #: shape of the ``pixels`` key (``None`` for state observations)
        self.pixel_shape = (3 * self.frame_stack, self.render_size, self.render_size) if obs == "pixels" else None
        self._env_kwargs = dict(
            obs=obs,
            frame_stack=frame_stack,
            render_size=render_size,
            cheap_render=cheap_render,
            max_episode_steps=self.max_episode_steps,
            video_size=video_size,
        )
        self._physics = None  # relabelling physics, built lazily
        self._reward_tasks: dict[str, Any] = {}

    @classmethod
    def from_config(cls, env_cfg: Any) -> "DMCTaskSuite":
        """Build from the ``env`` sub-config (``domain``, ``obs`` and optional env options)."""
        domain = cfg_get(env_cfg, "domain")
        if domain is None:
            raise ValueError("env config for family 'dmc' needs a 'domain', e.g. 'walker' or 'point_mass_maze'")
        return cls(
            domain,
            **cfg_options(env_cfg, ("obs", "max_episode_steps", "frame_stack", "render_size", "cheap_render", "video_size")),
        )

    # ------------------------------------------------------------------ TaskSuite API
    @property
    def observation_key(self) -> str:
        """``"pixels"`` (u8 [3 * frame_stack, H, W]) with ``obs="pixels"``, else ``"observation"``."""
        return "pixels" if self.obs_type == "pixels" else "observation"

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return self.pixel_shape if self.obs_type == "pixels" else (self.observation_dim,)

    def make_env(self, task: str | None = None, *, seed: int = 0, render: bool = False) -> DMCEnv:
        """A fresh :class:`DMCEnv` for ``task``.

        Rendering is lazy, so ``render`` only documents intent: ``env.render()`` works either way.
        """
        return DMCEnv(self.domain, self.check_task(task), seed=seed, **self._env_kwargs)

    def goal_observation(self, task: str) -> None:
        """DMC tasks are reward-defined: no goal observation."""
        self.check_task(task)
        return None

    def relabel(self, task: str, batch: TensorDictBase) -> torch.Tensor:
        """Reward of ``task`` at ``batch["next", "physics"]`` with control ``batch["action"]``; f32, batch shape.

        ``action`` only matters for point_mass_maze's reach tasks (control cost); it is taken as
        zero if the batch has none.
        """
        task = self.check_task(task)
        physics = batch.get(("next", "physics"), None)
        if physics is None:
            raise KeyError(f"relabel needs batch[('next', 'physics')] (MuJoCo states); batch keys: {list(batch.keys(True))}")
        if physics.shape[-1] != self.physics_dim:
            raise ValueError(
                f"batch['next', 'physics'] has {physics.shape[-1]} columns but {self.name} states have {self.physics_dim}"
            )
        lead = physics.shape[:-1]
        states = physics.detach().reshape(-1, self.physics_dim).cpu().numpy().astype(np.float64, copy=False)
        action = batch.get("action", None)
        if action is None:
            actions = np.zeros((states.shape[0], self.action_dim))
        else:
            actions = action.detach().reshape(-1, self.action_dim).cpu().numpy().astype(np.float64)
        ctrl = self._ctrl(actions)
        if self.domain == "point_mass_maze":
            rewards = maze_reward(task, states[:, 0:2], states[:, 2:4], ctrl)
        else:
            rewards = self._relabel_with_physics(task, states, ctrl)
        return torch.as_tensor(rewards, dtype=torch.float32).reshape(lead)

    # ------------------------------------------------------------------ relabelling internals
    @property
    def reward_physics(self):
        if self._physics is None:
            self._physics = make_reward_physics(self.domain)
            lo, hi = self._physics.model.actuator_ctrlrange.T.copy()
            self._ctrl_lo, self._ctrl_scale = lo, (hi - lo) / 2.0
        return self._physics

    def _ctrl(self, actions: np.ndarray) -> np.ndarray:
        """[-1, 1] actions -> ctrl, the same arithmetic as dm_control's ``action_scale.Wrapper``."""
        _ = self.reward_physics
        return self._ctrl_lo + self._ctrl_scale * (actions - np.array(-1.0))

    def _reward_task(self, task: str):
        if task not in self._reward_tasks:
            # The task object of a real env of that task: same parameters as evaluation.
            self._reward_tasks[task] = load_dmc(self.domain, task, seed=0).task
        return self._reward_tasks[task]

    def _relabel_with_physics(self, task: str, states: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
        physics = self.reward_physics
        reward_task = self._reward_task(task)
        model, data = physics.model, physics.data
        nq, nv = model.nq, model.nv
        qpos, qvel, act, control = data.qpos, data.qvel, data.act, data.ctrl
        out = np.empty(states.shape[0], dtype=np.float64)
        for i, state in enumerate(states):
            qpos[:] = state[:nq]
            qvel[:] = state[nq : nq + nv]
            act[:] = state[nq + nv :]
            control[:] = ctrl[i]
            # forward == everything the env computes after a step (positions, velocities, sensors)
            mujoco.mj_forward(model.ptr, data.ptr)
            out[i] = reward_task.get_reward(physics)
        return out
