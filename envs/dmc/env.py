"""TorchRL environment around a DMC task (state and/or pixel observations).

Follows TD-JEPA's evaluation env (``metamotivo/envs/dmc.py`` + ``dmc_tasks/dmc.py``): flattened
dm_control observations, actions in [-1, 1] rescaled to the actuators' ctrl ranges with
dm_control's ``action_scale.Wrapper``, 1000-step episodes that end by time limit only, and for
pixels 64x64 RGB frames from camera 2 (quadruped) or 0 (others), 3 frames stacked on channels.

Rendering uses cheap settings (no MSAA, shadows or reflections; ~5x faster on CPU with Mesa,
see the project's environment notes), so frames differ slightly from TD-JEPA's pixel data,
which was rendered with dm_control's defaults.  ``cheap_render=False`` restores the defaults.
"""

from __future__ import annotations

import collections

import mujoco
import numpy as np
import torch
from dm_control.rl import control
from dm_control.suite.wrappers import action_scale
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Bounded, Categorical, Composite, Unbounded
from torchrl.envs import EnvBase

from envs.dmc.tasks import get_domain, load_dmc
from envs.render import apply_cheap_render_settings, make_renderer

__all__ = ["DMCEnv", "PixelRenderer", "make_scaled_env", "OBS_TYPES"]

OBS_TYPES = ("states", "pixels")


def make_scaled_env(domain: str, task: str, seed: int | None = 0, *, time_limit: float | None = float("inf")):
    """``load_dmc`` wrapped so that actions live in [-1, 1] (``time_limit=inf``: we truncate ourselves)."""
    return action_scale.Wrapper(load_dmc(domain, task, seed, time_limit=time_limit), minimum=-1.0, maximum=1.0)


def check_obs_type(obs: str) -> str:
    if obs not in OBS_TYPES:
        raise ValueError(f"Unknown DMC observation type {obs!r}; valid choices: {list(OBS_TYPES)}")
    return obs


class PixelRenderer:
    """RGB ``uint8`` frames ``(H, W, 3)`` of a dm_control physics from one camera, renderer reused."""

    def __init__(self, physics, size: int | tuple[int, int] = 64, camera_id: int = 0, *, cheap: bool = True):
        self.height, self.width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.camera_id = int(camera_id)
        self._physics = physics
        self._renderer: mujoco.Renderer | None = None
        if cheap:
            apply_cheap_render_settings(physics.model)

    def __call__(self) -> np.ndarray:
        if self._renderer is None:
            self._renderer = make_renderer(self._physics.model.ptr, self.height, self.width)
        self._renderer.update_scene(self._physics.data.ptr, camera=self.camera_id)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _bool1(value: bool) -> torch.Tensor:
    return torch.tensor([bool(value)], dtype=torch.bool)


class DMCEnv(EnvBase):
    """A DMC task as a TorchRL ``EnvBase`` (CPU, unbatched).

    Keys: ``observation`` f32 [obs_dim] (dm_control's observation dict flattened in its key order),
    ``physics`` f64 [physics_dim] (``physics.get_state()`` = qpos | qvel | act, what relabelling
    needs), with ``obs="pixels"`` also ``pixels`` uint8 [3 * frame_stack, H, W] (oldest frame
    first; at reset the first frame is repeated), ``reward`` f32 [1], ``done``/``terminated``/
    ``truncated`` bool [1] (DMC episodes only end by truncation at ``max_episode_steps``).
    Actions are f32 in [-1, 1].

    Args:
        domain, task: see :data:`envs.dmc.tasks.DOMAINS`.
        seed: seed of the task's RNG (initial states); :meth:`set_seed` re-seeds it.
        obs: ``"states"`` or ``"pixels"``.
        frame_stack, render_size, camera_id: pixel settings (defaults: 3, 64, the domain's camera).
        max_episode_steps: horizon; defaults to the official one (1000).
        cheap_render: render without MSAA/shadows/reflections (see module docstring).
        video_size: side of :meth:`render` frames (videos); default: ``render_size``.
    """

    def __init__(
        self,
        domain: str,
        task: str,
        *,
        seed: int | None = 0,
        obs: str = "states",
        frame_stack: int = 3,
        render_size: int | tuple[int, int] = 64,
        camera_id: int | None = None,
        max_episode_steps: int | None = None,
        cheap_render: bool = True,
        video_size: int | None = None,
        device: str | torch.device = "cpu",
    ):
        super().__init__(device=device, batch_size=torch.Size([]))
        spec = get_domain(domain)
        self.domain, self.task = spec.name, task
        self.obs_type = check_obs_type(obs)
        self._env = make_scaled_env(spec.name, task, seed)
        self.max_episode_steps = int(max_episode_steps or spec.max_episode_steps)
        self.frame_stack = int(frame_stack)
        if self.frame_stack < 1:
            raise ValueError(f"frame_stack must be >= 1, got {frame_stack}")
        camera = spec.camera_id if camera_id is None else camera_id
        self._render = PixelRenderer(self.physics, render_size, camera, cheap=cheap_render)
        # Frames for videos: the observation renderer unless another size is asked for.
        self._video_render = self._render
        if video_size is not None and (int(video_size), int(video_size)) != (self._render.height, self._render.width):
            self._video_render = PixelRenderer(self.physics, int(video_size), camera, cheap=cheap_render)
        self._frames: collections.deque[np.ndarray] = collections.deque(maxlen=self.frame_stack)
        self._t = 0

        obs_dim = int(self._env.observation_spec()["observations"].shape[0])
        act_dim = int(self._env.action_spec().shape[0])
        phys_dim = int(self.physics.get_state().shape[0])
        if (obs_dim, act_dim, phys_dim) != (spec.observation_dim, spec.action_dim, spec.physics_dim):
            raise RuntimeError(  # the DomainSpec table is stale (e.g. a different dm_control version)
                f"{spec.name}: env has (obs, action, physics) dims {(obs_dim, act_dim, phys_dim)}, DomainSpec says "
                f"{(spec.observation_dim, spec.action_dim, spec.physics_dim)}"
            )
        self.observation_dim, self.action_dim, self.physics_dim = obs_dim, act_dim, phys_dim

        bool1 = Categorical(2, shape=(1,), dtype=torch.bool, device=self.device)
        obs_specs = dict(
            observation=Unbounded((obs_dim,), dtype=torch.float32, device=self.device),
            physics=Unbounded((phys_dim,), dtype=torch.float64, device=self.device),
        )
        if self.obs_type == "pixels":
            shape = (3 * self.frame_stack, self._render.height, self._render.width)
            obs_specs["pixels"] = Bounded(0, 255, shape=shape, dtype=torch.uint8, device=self.device)
        self.observation_spec = Composite(**obs_specs, shape=(), device=self.device)
        self.action_spec = Bounded(-1.0, 1.0, shape=(act_dim,), dtype=torch.float32, device=self.device)
        self.reward_spec = Unbounded((1,), dtype=torch.float32, device=self.device)
        self.done_spec = Composite(
            done=bool1.clone(), terminated=bool1.clone(), truncated=bool1.clone(), shape=(), device=self.device
        )

    # ------------------------------------------------------------------ accessors
    @property
    def dm_env(self) -> control.Environment:
        """The dm_control environment (physical action ranges)."""
        return self._env._env

    @property
    def physics(self):
        return self._env.physics

    def _set_seed(self, seed: int | None) -> None:
        # dm_control draws initial states from the task's RandomState.
        self.dm_env.task._random = np.random.RandomState(seed)

    # ------------------------------------------------------------------ core
    def _state_td(self, ts, *, reward: float | None, terminated: bool, truncated: bool) -> TensorDict:
        out = {
            "observation": torch.from_numpy(np.asarray(ts.observation["observations"], dtype=np.float32)),
            "physics": torch.from_numpy(self.physics.get_state()),
            "done": _bool1(terminated or truncated),
            "terminated": _bool1(terminated),
            "truncated": _bool1(truncated),
        }
        if self.obs_type == "pixels":
            out["pixels"] = torch.from_numpy(np.concatenate(self._frames, axis=0))
        if reward is not None:
            out["reward"] = torch.tensor([reward], dtype=torch.float32)
        return TensorDict(out, batch_size=self.batch_size, device=self.device)

    def _push_frame(self) -> None:
        frame = np.ascontiguousarray(self._render().transpose(2, 0, 1))  # CHW
        if not self._frames:
            self._frames.extend([frame] * self.frame_stack)
        else:
            self._frames.append(frame)

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs) -> TensorDictBase:
        ts = self._env.reset()
        self._t = 0
        if self.obs_type == "pixels":
            self._frames.clear()
            self._push_frame()
        return self._state_td(ts, reward=None, terminated=False, truncated=False)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        action = tensordict.get("action").detach().cpu().numpy().astype(np.float64)
        ts = self._env.step(action)
        self._t += 1
        # discount 0 would be a true terminal; none of these domains has one.
        terminated = bool(ts.last() and ts.discount == 0)
        truncated = self._t >= self.max_episode_steps or (ts.last() and not terminated)
        if self.obs_type == "pixels":
            self._push_frame()
        return self._state_td(ts, reward=float(ts.reward), terminated=terminated, truncated=bool(truncated))

    # ------------------------------------------------------------------ extras
    def render(self) -> np.ndarray:
        """RGB ``uint8`` frame of the current state from the pixel-observation camera, ``video_size``
        pixels square (default: the observation size)."""
        return self._video_render()

    def close(self, *, raise_if_closed: bool = True):
        try:
            self._render.close()
            self._video_render.close()
        finally:
            super().close(raise_if_closed=raise_if_closed)
