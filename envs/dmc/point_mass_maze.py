"""``point_mass_maze``: ExoRL's four-room point-mass maze as a dm_control domain.

The domain is not part of dm_control.  The model below is our own MJCF, written from the
geometric facts of the official files (ExoRL ``custom_dmc_tasks/point_mass_maze_*.xml`` and
TD-JEPA ``metamotivo/envs/dmc_tasks/pointmass_nogoal.xml``, both derived from dm_control's
Apache-2.0 ``point_mass.xml``):

* a 0.6 x 0.6 arena (ground plane half-size 0.3) bounded by four inward-facing planes at
  ``|x| = 0.3`` and ``|y| = 0.3``;
* two boxes crossing at the origin (half-sizes 0.18 along their length, 0.02 thick) that split
  the arena into four rooms joined by the 0.1-wide gaps between the box ends and the border;
* a sphere (radius 0.01, mass 0.3) on two damped (damping 1) slide joints limited to
  ``[-0.29, 0.29]``, driven through two fixed tendons by motors with gear 0.1, ctrl in [-1, 1];
* physics timestep 0.02 s = control timestep; 20 s episodes -> 1000 steps;
* camera 0 ``fixed`` looks straight down from 0.75 m (the camera used for pixels);
* the target sphere sits off the arena at (-1, -1) so pixels never show the task, as in
  TD-JEPA's ``pointmass_nogoal.xml`` (ExoRL's per-task XMLs drew it at the target instead).

Tasks (TD-JEPA ``metamotivo/envs/dmc_tasks/pointmass.py``, ``PointMassMaze.get_reward``):
``reach_{top_left,top_right,bottom_left,bottom_right}`` (targets at (+-0.15, +-0.15), z = 0.01 as
the mass), ``reach_bottom_left_long`` (reach, plus a shaped reward for circling the border
clockwise while far from the target), ``loop``, ``square`` and ``fast_slow`` (velocity-tracking tasks from Touati
et al. 2023).  The reach reward follows TD-JEPA: Gaussian tolerance of the distance with
``bounds=(0, 0.015)`` and ``margin=6 * 0.015``, times ``(control_reward + 4) / 5``; ExoRL's original
used ``margin=0.015``.  Episodes start uniformly in the top-left room
(``x ~ U(-0.29, -0.15)``, ``y ~ U(0.15, 0.29)``), drawn from the task's own RNG.

:func:`maze_reward` computes every task's reward from arrays (batched), so relabelling needs no
physics; the env's :meth:`PointMassMaze.get_reward` calls the same function on the live state.
"""

from __future__ import annotations

import collections

import numpy as np
from dm_control import mujoco
from dm_control.suite import base, common
from dm_control.suite.utils import randomizers
from dm_control.utils import rewards

__all__ = ["MAZE_XML", "MAZE_TASKS", "TARGETS", "PointMassMazePhysics", "PointMassMaze", "maze_reward", "make_physics"]

MAZE_XML = """
<mujoco model="point_mass_maze">
  <include file="./common/skybox.xml"/>
  <include file="./common/visual.xml"/>
  <include file="./common/materials.xml"/>

  <option timestep="0.02"/>

  <default>
    <joint type="slide" limited="true" range="-.29 .29" damping="1"/>
    <motor gear=".1" ctrlrange="-1 1" ctrllimited="true"/>
    <default class="maze_wall">
      <geom type="box" material="site"/>
    </default>
  </default>

  <worldbody>
    <light name="light" pos="0 0 1"/>
    <camera name="fixed" pos="0 0 .75" quat="1 0 0 0"/>
    <geom name="ground" type="plane" pos="0 0 0" size=".3 .3 .1" material="grid"/>
    <!-- arena border: planes whose normals point into the arena -->
    <geom name="wall_x" type="plane" pos="-.3 0 .02" zaxis="1 0 0" size=".02 .3 .02" material="decoration"/>
    <geom name="wall_y" type="plane" pos="0 -.3 .02" zaxis="0 1 0" size=".3 .02 .02" material="decoration"/>
    <geom name="wall_neg_x" type="plane" pos=".3 0 .02" zaxis="-1 0 0" size=".02 .3 .02" material="decoration"/>
    <geom name="wall_neg_y" type="plane" pos="0 .3 .02" zaxis="0 -1 0" size=".3 .02 .02" material="decoration"/>
    <!-- the maze: a horizontal and a vertical box crossing at the origin -->
    <geom name="maze_y" class="maze_wall" pos="0 0 .02" zaxis="0 1 0" size=".18 .02 .02"/>
    <geom name="maze_x" class="maze_wall" pos="0 0 .02" zaxis="1 0 0" size=".02 .18 .02"/>

    <body name="pointmass" pos="0 0 .01">
      <camera name="cam0" pos="0 -.3 .3" xyaxes="1 0 0 0 .7 .7"/>
      <joint name="root_x" axis="1 0 0"/>
      <joint name="root_y" axis="0 1 0"/>
      <geom name="pointmass" type="sphere" size=".01" material="self" mass=".3"/>
    </body>

    <!-- kept off the arena: the task is not visible in pixels -->
    <geom name="target" pos="-1 -1 .01" type="sphere" size=".015" material="target" contype="0" conaffinity="0"/>
  </worldbody>

  <tendon>
    <fixed name="t1">
      <joint joint="root_x" coef="1"/>
      <joint joint="root_y" coef="0"/>
    </fixed>
    <fixed name="t2">
      <joint joint="root_x" coef="0"/>
      <joint joint="root_y" coef="1"/>
    </fixed>
  </tendon>

  <actuator>
    <motor name="t1" tendon="t1"/>
    <motor name="t2" tendon="t2"/>
  </actuator>
</mujoco>
"""

MAZE_TASKS = (
    "reach_top_left",
    "reach_top_right",
    "reach_bottom_left",
    "reach_bottom_right",
    "reach_bottom_left_long",
    "loop",
    "square",
    "fast_slow",
)
TARGETS = {
    "reach_top_left": (-0.15, 0.15),
    "reach_top_right": (0.15, 0.15),
    "reach_bottom_left": (-0.15, -0.15),
    "reach_bottom_right": (0.15, -0.15),
    "reach_bottom_left_long": (-0.15, -0.15),
}
_TARGET_SIZE = 0.015


def make_physics() -> "PointMassMazePhysics":
    return PointMassMazePhysics.from_xml_string(MAZE_XML, common.ASSETS)


class PointMassMazePhysics(mujoco.Physics):
    """Physics of the maze (observations are ``position()`` = qpos and ``velocity()`` = qvel)."""


def _band(x: np.ndarray, lo: float, hi: float, margin: float = 0.01) -> np.ndarray:
    """1 inside [lo, hi], falling linearly to 0 at ``margin`` outside (the velocity-task shaping)."""
    return rewards.tolerance(x, bounds=(lo, hi), margin=margin, value_at_margin=0, sigmoid="linear")


def _one_side_only(up, right, left, down, up_r, right_r, left_r, down_r) -> np.ndarray:
    """Sum of the side rewards, but 0 in the corners where two side regions overlap (official rule)."""
    count = up.astype(np.int64) + right + left + down
    return np.where(count > 1, 0.0, up_r + right_r + left_r + down_r)


def maze_reward(task: str, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """Reward of ``task`` for states ``qpos``/``qvel`` [..., 2] and controls ``ctrl`` [..., 2] (float64 [...]).

    Vectorised transcription of TD-JEPA ``pointmass.py`` ``PointMassMaze.get_reward`` (the env's
    reward).  Note: TD-JEPA's separate torch version (``rewards.py:pointmass_reward``) differs from
    it for ``reach_bottom_left_long`` (the ``down`` branch tests ``vx >= 0``); we follow the env.
    """
    qpos, qvel, ctrl = (np.asarray(a, dtype=np.float64) for a in (qpos, qvel, ctrl))
    x, y = qpos[..., 0], qpos[..., 1]
    vx, vy = qvel[..., 0], qvel[..., 1]

    if task in TARGETS:
        control_reward = rewards.tolerance(ctrl, margin=1, value_at_margin=0, sigmoid="quadratic").mean(axis=-1)
        small_control = (control_reward + 4) / 5
        dist = np.linalg.norm(np.asarray(TARGETS[task]) - qpos[..., :2], axis=-1)
        near_target = rewards.tolerance(dist, bounds=(0, _TARGET_SIZE), margin=6 * _TARGET_SIZE)
        reward = near_target * small_control
        if task != "reach_bottom_left_long":
            return reward
        # Far from the target: reward moving clockwise along the border (x5), punish the
        # opposite direction (x100).
        up, right, left, down = y > 0.15, x > 0.15, x < -0.15, y < -0.15
        cvx, cvy = np.clip(vx, -0.1, 0.1), np.clip(vy, -0.1, 0.1)
        path = _one_side_only(
            up,
            right,
            left,
            down,
            cvx * up * np.where(vx >= 0, 5, 100),
            -cvy * right * np.where(vy <= 0, 5, 100),
            cvy * left * np.where(vy >= 0, 5, 100),
            -cvx * down * np.where(vx <= 0, 5, 100),
        )
        return np.where(reward < 0.01, path, reward)

    if task == "loop":
        # Follow the diamond |x| + |y| = 0.24 clockwise at speed 0.06-0.1 per axis.
        top, right = y >= 0, x > 0
        vx_r = np.where(top, _band(vx, 0.06, 0.1), _band(vx, -0.1, -0.06))
        vy_r = np.where(right, _band(vy, -0.1, -0.06), _band(vy, 0.06, 0.1))
        a = np.where(top == right, -1.0, 1.0)  # tl: 1, tr: -1, bl: -1, br: 1
        c = np.where(top, 0.24, -0.24)
        dist = np.abs(a * x - y + c) / np.sqrt(2)
        dist_r = rewards.tolerance(dist, bounds=(0, 0.02), margin=0.02, value_at_margin=0, sigmoid="linear")
        return (dist_r + vx_r + vy_r) / 3

    if task == "square":
        # Move clockwise along the outer ring (beyond |0.2|), rewarded by speed up to 0.1.
        up, right, left, down = y > 0.2, x > 0.2, x < -0.2, y < -0.2
        return _one_side_only(
            up,
            right,
            left,
            down,
            np.abs(np.clip(vx, 0, 0.1) * 10 * up),
            np.abs(np.clip(vy, -0.1, 0) * 10 * right),
            np.abs(np.clip(vy, 0, 0.1) * 10 * left),
            np.abs(np.clip(vx, -0.1, 0) * 10 * down),
        )

    if task == "fast_slow":
        # In 0.08-wide lanes: slow (0.04-0.05) on top/bottom, fast (0.09-0.1) on the sides.
        up, right = (y > 0.2) & (y < 0.28), (x > 0.2) & (x < 0.28)
        left, down = (x < -0.2) & (x > -0.28), (y < -0.2) & (y > -0.28)
        return _one_side_only(
            up,
            right,
            left,
            down,
            _band(vx, -0.05, -0.04) * up,
            _band(vy, 0.09, 0.1) * right,
            _band(vy, -0.1, -0.09) * left,
            _band(vx, 0.04, 0.05) * down,
        )
    raise ValueError(f"Unknown point_mass_maze task {task!r}; valid tasks: {list(MAZE_TASKS)}")


class PointMassMaze(base.Task):
    """One point-mass-maze task; start in the top-left room, reward :func:`maze_reward`."""

    def __init__(self, task: str, random=None):
        if task not in MAZE_TASKS:
            raise ValueError(f"Unknown point_mass_maze task {task!r}; valid tasks: {list(MAZE_TASKS)}")
        self.task_name = task
        super().__init__(random=random)

    def initialize_episode(self, physics) -> None:
        # Same draws as the official task: joint randomisation, then the top-left start.
        randomizers.randomize_limited_and_rotational_joints(physics, self.random)
        physics.data.qpos[0] = self.random.uniform(-0.29, -0.15)
        physics.data.qpos[1] = self.random.uniform(0.15, 0.29)
        super().initialize_episode(physics)

    def get_observation(self, physics) -> collections.OrderedDict:
        obs = collections.OrderedDict()
        obs["position"] = physics.position()
        obs["velocity"] = physics.velocity()
        return obs

    def get_reward(self, physics) -> float:
        return float(maze_reward(self.task_name, physics.data.qpos, physics.data.qvel, physics.data.ctrl))
