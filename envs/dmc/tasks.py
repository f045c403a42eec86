"""DMC domains and tasks of the zero-shot RL benchmark (ExoRL data, TD-JEPA / FB evaluation).

Task lists follow TD-JEPA (``metamotivo/envs/dmc_tasks/__init__.py``).  As in TD-JEPA's
``dmc_tasks/dmc.py:_make_dmc``, a task that dm_control ships is loaded from dm_control itself
(walker stand/walk/run, cheetah run, quadruped walk/run); the others are defined here after the
official files, reusing dm_control's models and task classes:

=============== ============== ===========================================================
domain          task           definition (official file in ``metamotivo/envs/dmc_tasks/``)
=============== ============== ===========================================================
walker          spin           ``walker.py`` ``spin``: linear tolerance of the torso's angular
                               momentum about y, 1 above 10, 0 at 0 and below
cheetah         walk           ``cheetah.py``: forward speed >= 2 (linear, margin 2)
cheetah         walk_backward  ``cheetah.py``: backward speed >= 2
cheetah         run_backward   ``cheetah.py``: backward speed >= 10 (margin 10)
quadruped       stand          ``quadruped.py`` ``Stand``: dm_control's upright reward
quadruped       jump           ``quadruped.py`` ``Jump``: upright x tolerance(COM height >= 1,
                               margin 1, 0.5 at the margin, linear)
point_mass_maze all 8          ``pointmass.py``; see :mod:`envs.dmc.point_mass_maze`
=============== ============== ===========================================================

Custom tasks use the official time limits and control timesteps (walker 25 s / 0.025 s, cheetah
10 s / 0.01 s, quadruped 20 s / 0.02 s, maze 20 s / 0.02 s: 1000 steps each) and the official
models: dm_control's ``walker.xml``; dm_control's ``cheetah.xml`` with the ground plane
lengthened to 200 m (``cheetah.xml`` of TD-JEPA/ExoRL; planes collide as infinite, so only the
rendered floor changes); dm_control's quadruped model with a 10 m floor and no walls/ball.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from dm_control import mujoco, suite
from dm_control.rl import control
from dm_control.suite import cheetah, common, quadruped, walker
from dm_control.utils import rewards
from lxml import etree

from envs.dmc import point_mass_maze

__all__ = ["DomainSpec", "DOMAINS", "DOMAIN_ALIASES", "get_domain", "load_dmc", "make_reward_physics"]


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    """Static facts of a domain (so that building a task suite needs no simulator)."""

    name: str
    tasks: tuple[str, ...]
    observation_dim: int  #: flattened dm_control observation
    action_dim: int
    physics_dim: int  #: ``physics.get_state()`` = qpos | qvel | act
    camera_id: int  #: camera of the 64x64 pixel observations (TD-JEPA ``envs/dmc.py:CAMERA_IDS``)
    time_limit: float  #: seconds (official)
    control_timestep: float  #: seconds per agent step
    collection_task: str  #: reward stored in collected episodes (TD-JEPA ``update_data.py``)

    @property
    def max_episode_steps(self) -> int:
        return int(round(self.time_limit / self.control_timestep))


DOMAINS: dict[str, DomainSpec] = {
    "walker": DomainSpec("walker", ("stand", "walk", "run", "spin"), 24, 6, 18, 0, 25.0, 0.025, "stand"),
    "cheetah": DomainSpec("cheetah", ("walk", "walk_backward", "run", "run_backward"), 17, 6, 18, 0, 10.0, 0.01, "run"),
    "quadruped": DomainSpec("quadruped", ("stand", "walk", "run", "jump"), 78, 12, 57, 2, 20.0, 0.02, "run"),
    "point_mass_maze": DomainSpec("point_mass_maze", point_mass_maze.MAZE_TASKS, 4, 2, 4, 0, 20.0, 0.02, "reach_top_left"),
}
#: TD-JEPA calls the maze domain "pointmass".
DOMAIN_ALIASES = {"pointmass": "point_mass_maze"}


def get_domain(domain: str) -> DomainSpec:
    """The :class:`DomainSpec` of ``domain`` (ValueError listing the valid domains otherwise)."""
    key = DOMAIN_ALIASES.get(domain, domain) if isinstance(domain, str) else domain
    if key not in DOMAINS:
        raise ValueError(f"Unknown DMC domain {domain!r}; valid domains: {list(DOMAINS)}")
    return DOMAINS[key]


# ------------------------------------------------------------------------------------ walker
class WalkerPhysics(walker.Physics):
    def angmomentum(self) -> float:
        """Angular momentum of the torso's subtree about the world y axis."""
        return self.named.data.subtree_angmom["torso"][1]


class WalkerSpin(walker.PlanarWalker):
    """``walker.py`` ``spin`` (TD-JEPA): ``PlanarWalker(spin=True)`` returns the spin term only."""

    def __init__(self, random=None):
        super().__init__(move_speed=8, random=random)

    def get_reward(self, physics: WalkerPhysics) -> float:
        return rewards.tolerance(physics.angmomentum(), bounds=(10, float("inf")), margin=10, value_at_margin=0, sigmoid="linear")


# ------------------------------------------------------------------------------------ cheetah
class CheetahMove(cheetah.Cheetah):
    """``cheetah.py`` ``Cheetah(move_speed, forward)``: speed tolerance in the chosen direction."""

    def __init__(self, move_speed: float, forward: bool, random=None):
        self._move_speed = move_speed
        self._direction = 1.0 if forward else -1.0
        super().__init__(random=random)

    def get_reward(self, physics: cheetah.Physics) -> float:
        return rewards.tolerance(
            self._direction * physics.speed(),
            bounds=(self._move_speed, float("inf")),
            margin=self._move_speed,
            value_at_margin=0,
            sigmoid="linear",
        )


def _cheetah_xml() -> bytes:
    xml, _ = cheetah.get_model_and_assets()
    root = etree.XML(xml, etree.XMLParser(remove_blank_text=True))
    root.find(".//geom[@name='ground']").set("size", "200 .8 .5")
    return etree.tostring(root)


# ------------------------------------------------------------------------------------ quadruped
class QuadrupedPhysics(quadruped.Physics):
    def com_height(self) -> float:
        """Height of the centre of mass (the model's ``center_of_mass`` subtreecom sensor)."""
        return self.named.data.sensordata["center_of_mass"][2]


def _upright(physics: quadruped.Physics) -> float:
    # dm_control quadruped's upright reward with deviation_angle=0: linear from 0 (upside down) to 1.
    return rewards.tolerance(physics.torso_upright(), bounds=(1.0, float("inf")), sigmoid="linear", margin=2.0, value_at_margin=0)


class QuadrupedStand(quadruped.Move):
    """``quadruped.py`` ``Stand``: random orientation at reset (as ``Move``), upright reward."""

    def __init__(self, random=None):
        super().__init__(desired_speed=0.0, random=random)

    def get_reward(self, physics: quadruped.Physics) -> float:
        return _upright(physics)


class QuadrupedJump(quadruped.Move):
    """``quadruped.py`` ``Jump``: upright x tolerance(COM height >= 1, margin 1, 0.5 at margin, linear)."""

    def __init__(self, desired_height: float = 1.0, random=None):
        self._desired_height = desired_height
        super().__init__(desired_speed=0.0, random=random)

    def get_reward(self, physics: QuadrupedPhysics) -> float:
        jump_up = rewards.tolerance(
            physics.com_height(),
            bounds=(self._desired_height, float("inf")),
            margin=self._desired_height,
            value_at_margin=0.5,
            sigmoid="linear",
        )
        return _upright(physics) * jump_up


_QUADRUPED_FLOOR = 10  # official: _DEFAULT_TIME_LIMIT * _WALK_SPEED = 20 * 0.5


# ------------------------------------------------------------------------------------ builders
def _physics_factories() -> dict[str, Callable[[], mujoco.Physics]]:
    return {
        "walker": lambda: WalkerPhysics.from_xml_string(*walker.get_model_and_assets()),
        "cheetah": lambda: cheetah.Physics.from_xml_string(_cheetah_xml(), common.ASSETS),
        "quadruped": lambda: QuadrupedPhysics.from_xml_string(quadruped.make_model(floor_size=_QUADRUPED_FLOOR), common.ASSETS),
        "point_mass_maze": point_mass_maze.make_physics,
    }


def _custom_task(domain: str, task: str, random) -> object:
    if domain == "walker":
        return WalkerSpin(random=random)  # the only custom walker task
    if domain == "cheetah":
        speed = {"walk": 2.0, "walk_backward": 2.0, "run_backward": 10.0}[task]
        return CheetahMove(speed, forward=not task.endswith("backward"), random=random)
    if domain == "quadruped":
        return QuadrupedStand(random=random) if task == "stand" else QuadrupedJump(random=random)
    return point_mass_maze.PointMassMaze(task, random=random)


def make_reward_physics(domain: str) -> mujoco.Physics:
    """A fresh physics of ``domain`` whose class supports every task's ``get_reward`` (for relabelling)."""
    return _physics_factories()[get_domain(domain).name]()


def load_dmc(
    domain: str,
    task: str,
    seed: int | np.random.RandomState | None = 0,
    *,
    time_limit: float | None = None,
    environment_kwargs: dict | None = None,
) -> control.Environment:
    """The dm_control environment of ``domain``/``task``, seeded with ``seed`` (the task's RNG).

    ``time_limit`` defaults to the official one (``float('inf')``: never ends by itself).
    Observations are flattened (``flat_observation=True``, key ``"observations"``) unless
    ``environment_kwargs`` says otherwise.  Actions use the physical ctrl ranges (see
    :class:`envs.dmc.env.DMCEnv` for the [-1, 1] rescaling).
    """
    spec = get_domain(domain)
    if task not in spec.tasks:
        raise ValueError(f"Unknown task {task!r} for DMC domain {spec.name!r}; valid tasks: {list(spec.tasks)}")
    time_limit = spec.time_limit if time_limit is None else float(time_limit)
    env_kwargs = {"flat_observation": True, **(environment_kwargs or {})}
    if (spec.name, task) in suite.ALL_TASKS:
        return suite.load(spec.name, task, task_kwargs=dict(random=seed, time_limit=time_limit), environment_kwargs=env_kwargs)
    physics = _physics_factories()[spec.name]()
    return control.Environment(
        physics,
        _custom_task(spec.name, task, seed),
        time_limit=time_limit,
        control_timestep=spec.control_timestep,
        **env_kwargs,
    )
