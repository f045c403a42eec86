"""DMC domains and tasks: relabelling == live reward for every task, maze geometry and rewards."""

import numpy as np
import pytest
import torch
from dm_control import suite as dm_suite
from tensordict import TensorDict

from envs.dmc import DOMAINS, DMCTaskSuite, load_dmc
from envs.dmc.point_mass_maze import TARGETS, maze_reward

ALL_TASKS = [(domain, task) for domain, spec in DOMAINS.items() for task in spec.tasks]

# Start states (x, y, vx, vy) inside each maze task's rewarding region, so that rollouts see
# non-trivial rewards (random actions from the default start rarely do).
MAZE_STARTS = {
    **{task: (*xy, 0.0, 0.0) for task, xy in TARGETS.items()},
    "reach_bottom_left_long": (0.0, 0.25, 0.08, 0.0),
    "loop": (-0.12, 0.12, 0.08, 0.08),
    "square": (0.0, 0.25, 0.08, 0.0),
    "fast_slow": (0.0, 0.24, -0.045, 0.0),
}


@pytest.fixture(scope="module")
def suites():
    return {domain: DMCTaskSuite(domain) for domain in DOMAINS}


def _set_state(env, state):
    with env.physics.reset_context():
        env.physics.set_state(np.asarray(state, dtype=np.float64))


def test_task_lists_and_suite_facts(suites):
    assert {d: s.task_names for d, s in suites.items()} == {
        "walker": ["stand", "walk", "run", "spin"],
        "cheetah": ["walk", "walk_backward", "run", "run_backward"],
        "quadruped": ["stand", "walk", "run", "jump"],
        "point_mass_maze": [
            "reach_top_left",
            "reach_top_right",
            "reach_bottom_left",
            "reach_bottom_right",
            "reach_bottom_left_long",
            "loop",
            "square",
            "fast_slow",
        ],
    }
    for domain, s in suites.items():
        assert (s.metric, s.max_episode_steps, s.name) == ("return", 1000, domain)
        assert s.goal_observation(s.task_names[0]) is None
        env = load_dmc(domain, s.task_names[-1], seed=0)
        # the official horizon is dm_control's own step limit: time_limit / control_timestep
        assert env._step_limit == 1000
        assert env.observation_spec()["observations"].shape == (s.observation_dim,)
        assert env.physics.get_state().shape == (s.physics_dim,)
    assert (suites["walker"].observation_dim, suites["quadruped"].action_dim, suites["point_mass_maze"].observation_dim) == (
        24,
        12,
        4,
    )
    assert DMCTaskSuite("pointmass").name == "point_mass_maze"  # TD-JEPA's name for the domain


def test_builtin_tasks_come_from_dm_control():
    for domain, task in [("walker", "walk"), ("cheetah", "run"), ("quadruped", "run")]:
        ours = load_dmc(domain, task, seed=0)
        assert (domain, task) in dm_suite.ALL_TASKS
        assert type(ours.task).__module__ == f"dm_control.suite.{domain}"
    assert type(load_dmc("walker", "spin", 0).task).__module__ == "envs.dmc.tasks"


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(domain="humanoid", task="run"), "valid domains: \\['walker', 'cheetah', 'quadruped', 'point_mass_maze'\\]"),
        (dict(domain="walker", task="flip"), "valid tasks: \\['stand', 'walk', 'run', 'spin'\\]"),
    ],
)
def test_unknown_domain_or_task(bad, match):
    with pytest.raises(ValueError, match=match):
        load_dmc(**bad)
    with pytest.raises(ValueError, match=match):
        DMCTaskSuite(bad["domain"]).make_env(bad["task"])


@pytest.mark.parametrize("domain, task", ALL_TASKS)
def test_relabel_equals_live_reward(suites, domain, task):
    """suite.relabel(task, rollout) reproduces the env's own rewards from ("next", "physics") + action."""
    s = suites[domain]
    env = s.make_env(task, seed=3)
    td = env.reset()
    scale = 1.0
    if domain == "point_mass_maze":
        _set_state(env, MAZE_STARTS[task])
        scale = 0.05  # small pushes keep the mass in the rewarding region
    gen = torch.Generator().manual_seed(0)

    def policy(tensordict):
        return tensordict.set("action", scale * (2 * torch.rand(s.action_dim, generator=gen) - 1))

    ro = env.rollout(100, policy, auto_reset=False, tensordict=td)
    live = ro["next", "reward"][:, 0]
    relabelled = s.relabel(task, ro)
    assert relabelled.dtype == torch.float32 and relabelled.shape == (100,)
    torch.testing.assert_close(relabelled, live, atol=1e-6, rtol=0)
    assert (live != 0).any(), f"{domain}/{task}: rollout never rewarded; the comparison is vacuous"
    # batched [B] of shuffled transitions too (one physics reused, order-independent)
    perm = torch.randperm(100, generator=gen)
    torch.testing.assert_close(s.relabel(task, ro[perm]), live[perm], atol=1e-6, rtol=0)
    env.close()


def test_relabel_input_checks(suites):
    s = suites["walker"]
    with pytest.raises(KeyError, match="next', 'physics'"):
        s.relabel("stand", TensorDict({"observation": torch.zeros(2, 24)}, batch_size=[2]))
    with pytest.raises(ValueError, match="18"):
        s.relabel("stand", TensorDict({("next", "physics"): torch.zeros(2, 5)}, batch_size=[2]))
    with pytest.raises(ValueError, match="valid tasks"):
        s.relabel("fly", TensorDict({("next", "physics"): torch.zeros(2, 18)}, batch_size=[2]))


# ------------------------------------------------------------------------------------ maze
def _push(env, start_xy, action, steps):
    """Positions of the mass pushed with a constant action from rest at ``start_xy``."""
    env.reset()
    _set_state(env, (*start_xy, 0.0, 0.0))
    xs = []
    for _ in range(steps):
        env.dm_env.step(np.asarray(action, dtype=np.float64))  # maze ctrl range is [-1, 1] already
        xs.append(env.physics.data.qpos[:2].copy())
    return np.stack(xs)


def test_maze_walls_block_the_mass(suites):
    env = suites["point_mass_maze"].make_env("reach_top_right", seed=0)
    # pushing right from the top-left room: the vertical wall (|x| < 0.02) plus the radius (0.01)
    # stop it at x = -0.03 (soft contacts: ~1 mm penetration)
    blocked = _push(env, (-0.1, 0.1), (1.0, 0.0), 150)
    assert blocked[:, 0].max() < -0.027 and blocked[-1, 0] > -0.031
    # the same push above the wall's end (|y| > 0.18 + radius) passes into the top-right room
    free = _push(env, (-0.1, 0.25), (1.0, 0.0), 150)
    assert free[-1, 0] > 0.05
    # pushing down from the top-right room: the horizontal wall stops it; beside its end it passes
    assert _push(env, (0.1, 0.1), (0.0, -1.0), 150)[:, 1].min() > 0.027
    assert _push(env, (0.25, 0.1), (0.0, -1.0), 150)[-1, 1] < -0.05
    # the arena border (joint limit 0.29) holds too
    assert np.abs(_push(env, (-0.2, 0.2), (-1.0, 1.0), 150)).max() < 0.292  # soft limit: < 2 mm overshoot
    env.close()


@pytest.mark.parametrize("task", list(TARGETS))
def test_reach_reward_is_one_at_target(suites, task):
    s = suites["point_mass_maze"]
    env = s.make_env(task, seed=0)
    td = env.reset()
    _set_state(env, (*TARGETS[task], 0.0, 0.0))
    out = env.step(td.set("action", torch.zeros(2)))["next"]
    assert out["reward"].item() == pytest.approx(1.0, abs=1e-6)
    # relabelling: 1 at the target with zero control, ~0 in the opposite room, control cost 0.8x at |a| = 1
    tx, ty = TARGETS[task]
    states = torch.tensor([[tx, ty, 0, 0], [-tx, -ty, 0, 0], [tx, ty, 0, 0]], dtype=torch.float64)
    actions = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    r = s.relabel(task, TensorDict({("next", "physics"): states, "action": actions}, batch_size=[3]))
    assert r[0] == pytest.approx(1.0) and r[1] < 1e-6 and r[2] == pytest.approx(0.8)
    env.close()


@pytest.mark.parametrize(
    "task, state, expected",
    [
        # loop: on the diamond |x| + |y| = 0.24, moving clockwise at 0.08 per axis -> 1
        ("loop", (-0.12, 0.12, 0.08, 0.08), 1.0),
        ("loop", (0.12, -0.12, -0.08, -0.08), 1.0),
        ("loop", (-0.12, 0.12, -0.08, -0.08), 1 / 3),  # on the path, wrong direction
        # square: clockwise along the outer ring, 10 x speed up to 0.1; corners give 0
        ("square", (0.0, 0.25, 0.1, 0.0), 1.0),
        ("square", (0.0, 0.25, 0.05, 0.0), 0.5),
        ("square", (0.25, 0.25, 0.1, 0.0), 0.0),
        # fast_slow: slow leftwards on top, fast upwards on the right
        ("fast_slow", (0.0, 0.24, -0.045, 0.0), 1.0),
        ("fast_slow", (0.24, 0.0, 0.0, 0.095), 1.0),
        ("fast_slow", (0.0, 0.24, -0.1, 0.0), 0.0),
        # reach_bottom_left_long: far from the target, +5x for clockwise, -100x for anticlockwise
        ("reach_bottom_left_long", (0.0, 0.25, 0.1, 0.0), 0.5),
        ("reach_bottom_left_long", (0.0, 0.25, -0.1, 0.0), -10.0),
        ("reach_bottom_left_long", (-0.15, -0.15, 0.0, 0.0), 1.0),
    ],
)
def test_maze_reward_values(task, state, expected):
    q, v = np.array(state[:2]), np.array(state[2:])
    assert float(maze_reward(task, q, v, np.zeros(2))) == pytest.approx(expected, abs=1e-6)
