"""OGBench TorchRL env + task suite: specs, tasks, success parity with ogbench, relabelling."""

import gymnasium
import mujoco
import numpy as np
import pytest
import torch
from tensordict import TensorDict
from torchrl.envs.utils import check_env_specs

from envs import make_task_suite
from envs.ogbench import OGBenchTaskSuite, parse_name
from envs.ogbench.env import OGBenchEnv


def _maze_oracle_action(raw, rng, noise=0.2):
    xy = raw.get_xy()
    sub, _ = raw.get_oracle_subgoal(xy, raw.cur_goal_xy)
    d = sub - xy
    d = d / (np.linalg.norm(d) + 1e-6)
    return np.clip(d + rng.normal(0, noise, 2), -1, 1).astype(np.float32)


def test_names_and_dispatch(pointmaze_suite):
    assert parse_name("pointmaze-medium-navigate").dataset_name == "pointmaze-medium-navigate-v0"
    assert parse_name("cube-single-play-v0").env_id == "cube-single-v0"
    # an environment name stands for its default dataset (python -m agents.bc env.name=cube-single)
    assert parse_name("cube-single").dataset_name == "cube-single-play-v0"
    assert parse_name("pointmaze-large-v0").dataset_name == "pointmaze-large-navigate-v0"
    with pytest.raises(ValueError, match="Supported"):
        parse_name("humanoidmaze-medium-navigate")
    with pytest.raises(ValueError, match="valid families"):
        make_task_suite({"family": "nope", "name": "x"})
    suite = make_task_suite({"family": "ogbench", "name": "pointmaze-medium-navigate-v0"})
    assert isinstance(suite, OGBenchTaskSuite)
    assert suite.task_names == [f"task{i}" for i in range(1, 6)]
    assert (suite.metric, suite.observation_dim, suite.action_dim, suite.max_episode_steps) == ("success", 2, 2, 1000)


@pytest.mark.parametrize("fixture", ["pointmaze_suite", "cube_suite"])
def test_check_env_specs_and_render(fixture, request):
    suite = request.getfixturevalue(fixture)
    env = suite.make_env("task2", seed=3, render=True)
    check_env_specs(env)
    td = env.reset()
    for key in ("observation", "goal", "qpos", "qvel"):
        assert td[key].dtype == torch.float32
    assert td["success"].shape == (1,) and td["success"].dtype == torch.bool
    assert td["goal"].shape == (suite.observation_dim,)
    frame = env.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    env.close()


def test_horizon(cube_suite):
    assert cube_suite.max_episode_steps == 200 == gymnasium.spec("cube-single-v0").max_episode_steps
    env = cube_suite.make_env("task1", seed=0)
    env.rand_step  # noqa: B018
    ro = env.rollout(250, break_when_any_done=True)
    assert ro.shape[0] <= 200
    if not ro["next", "terminated"].any():
        assert ro.shape[0] == 200 and ro[-1]["next", "truncated"].item()


def test_reset_into_each_task_gives_goal(pointmaze_suite, cube_suite):
    env = pointmaze_suite.make_env(seed=0)
    raw = env.unwrapped
    for k in range(1, 6):
        env.set_task(k)
        td = env.reset()
        goal_xy = np.asarray(raw.task_infos[k - 1]["goal_xy"], dtype=np.float32)
        np.testing.assert_allclose(td["goal"].numpy(), goal_xy, atol=1e-6)
        np.testing.assert_allclose(pointmaze_suite.goal_observation(f"task{k}").numpy(), goal_xy, atol=1e-6)
    cenv = cube_suite.make_env(seed=0)
    for k in (1, 4):
        cenv.set_task(f"task{k}")
        td = cenv.reset()
        goal_xyz = cenv.unwrapped.task_infos[k - 1]["goal_xyzs"][0]
        # observation layout (cube_env.compute_observation): cube xyz at 19:22, (xyz - center) * 10
        np.testing.assert_allclose(td["goal"][19:22].numpy() / 10 + np.array([0.425, 0, 0]), goal_xyz, atol=0.01)


def test_success_matches_raw_ogbench_pointmaze(pointmaze_suite):
    """Same seed + same actions: our success/termination/qpos equal ogbench's singletask env."""
    rng = np.random.default_rng(0)
    for task in (3, 5):
        ours = pointmaze_suite.make_env(f"task{task}", seed=11)
        raw_env = gymnasium.make(f"pointmaze-medium-singletask-task{task}-v0")
        np.random.seed(11)  # ogbench draws maze start noise from the global NumPy RNG
        raw_env.reset(seed=11)
        td = ours.reset()
        np.testing.assert_allclose(td["qpos"].numpy(), raw_env.unwrapped.data.qpos, atol=1e-6)
        n_success = 0
        for _ in range(300):
            a = _maze_oracle_action(ours.unwrapped, rng)
            td = ours.step(td.set("action", torch.from_numpy(a)))["next"]
            _, r, term, trunc, info = raw_env.step(a)
            assert bool(td["success"]) == bool(info["success"])
            assert bool(td["terminated"]) == bool(term)
            assert td["reward"].item() == r + 1.0  # singletask reward is success - 1
            np.testing.assert_allclose(td["qpos"].numpy(), raw_env.unwrapped.data.qpos, atol=1e-5)
            n_success += bool(info["success"])
            if term:
                break
        assert n_success == 1, "oracle should reach the goal and terminate there"


def test_relabel_equals_success_on_rollouts(pointmaze_suite):
    """relabel(s_{t+1}) == 1  iff  ogbench reports success at s_{t+1} (pre timing: at step t+1)."""
    rng = np.random.default_rng(1)
    env = pointmaze_suite.make_env("task3", seed=5)

    def policy(td):
        return td.set("action", torch.from_numpy(_maze_oracle_action(env.unwrapped, rng, 0.8)))

    ro = env.rollout(300, policy=policy)
    steps = ro
    r = pointmaze_suite.relabel("task3", ro)
    assert r.dtype == torch.float32 and r.shape == (len(steps),)
    # success reported at step t+1 is about the state after step t
    assert torch.equal(r[:-1] == 1, ro["next", "success"][1:, 0])
    assert r[-1] == 1 and set(r.unique().tolist()) <= {0.0, 1.0}


def test_relabel_matches_ogbench_success_check_pointmaze(pointmaze_suite):
    env = pointmaze_suite.make_env("task1", seed=0)
    env.reset()
    raw = env.unwrapped
    goal = np.asarray(raw.task_infos[0]["goal_xy"])
    rng = np.random.default_rng(0)
    qpos = (goal + rng.uniform(-1.5, 1.5, (400, 2))).astype(np.float32)
    expected = []
    for q in qpos:
        raw.set_xy(q.astype(np.float64))
        expected.append(raw.compute_success())
    td = TensorDict({("next", "qpos"): torch.from_numpy(qpos)}, batch_size=[400])
    r = pointmaze_suite.relabel("task1", td)
    assert torch.equal(r == 1, torch.tensor(expected))
    assert 0 < sum(expected) < 400


def test_relabel_matches_ogbench_success_check_cube(cube_suite):
    env = cube_suite.make_env("task2", seed=0)
    env.reset()
    raw = env.unwrapped
    goal = raw.task_infos[1]["goal_xyzs"][0]
    adr = raw.model.jnt_qposadr[raw.model.joint("object_joint_0").id]
    rng = np.random.default_rng(0)
    qposes, expected = [], []
    for _ in range(200):
        raw.data.qpos[adr : adr + 3] = goal + rng.uniform(-0.05, 0.05, 3)
        mujoco.mj_forward(raw.model, raw.data)
        raw.post_step()
        qposes.append(raw.data.qpos.astype(np.float32).copy())
        expected.append(bool(raw._success))
    td = TensorDict({("next", "qpos"): torch.from_numpy(np.stack(qposes))}, batch_size=[200])
    r = cube_suite.relabel("task2", td)
    assert torch.equal(r == 1, torch.tensor(expected))
    assert 0 < sum(expected) < 200 and set(r.unique().tolist()) <= {0.0, 1.0}
    # the cube-single env's success flag agrees on a real rollout too
    ro = cube_suite.make_env("task2", seed=1).rollout(30)
    rr = cube_suite.relabel("task2", ro)
    assert torch.equal(rr[:-1] == 1, ro["next", "success"][1:, 0])


def test_seeded(pointmaze_suite):
    a = pointmaze_suite.make_env("task1", seed=7)
    b = pointmaze_suite.make_env("task1", seed=7)
    torch.manual_seed(0)
    ra = a.rollout(20)
    torch.manual_seed(0)
    rb = b.rollout(20)
    assert torch.equal(ra["observation"], rb["observation"])
    c = pointmaze_suite.make_env("task1", seed=8)
    assert not torch.equal(c.reset()["observation"], pointmaze_suite.make_env("task1", seed=7).reset()["observation"])
    # global NumPy RNG untouched by env resets
    np.random.seed(123)
    x = np.random.rand()
    np.random.seed(123)
    a.reset()
    assert np.random.rand() == x


def test_cube_goal_observation_repeats_with_the_seed():
    """manipspace's action space is re-created on every access; pinned, a seeded reset repeats its goal."""
    goals = []
    for _ in range(2):
        env = OGBenchEnv("cube-single-v0", task_id=2, seed=11)
        goals.append(env.reset()["goal"])
        env.close()
    torch.testing.assert_close(goals[0], goals[1])


def test_pixel_observations_are_downsampled_frames():
    env = OGBenchEnv("pointmaze-medium-v0", task_id=1, seed=0, pixels=20, render_size=40)
    td = env.reset()
    frame = torch.from_numpy(env.render()).permute(2, 0, 1).float()
    expected = frame.reshape(3, 20, 2, 20, 2).mean(dim=(2, 4)).round().to(torch.uint8)  # 2 x 2 area average
    assert td["pixels"].shape == (3, 20, 20) and td["pixels"].dtype == torch.uint8
    assert (td["pixels"].int() - expected.int()).abs().max() <= 1
    check_env_specs(env)
    env.close()
