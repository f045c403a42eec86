"""OGBench mazes with LiDAR observations (env.obs=lidar): suite, env, offline data with its LiDAR cache, goals."""

import os

import numpy as np
import pytest
import torch
from torchrl.envs.utils import check_env_specs

from envs import make_task_suite
from data.lidar import MAZE_GRID
from envs.ogbench import OGBenchTaskSuite, load_ogbench_dataset
from envs.ogbench.buffer import lidar_row_rng
from envs.ogbench.suite import GOAL_SCAN_SEED
from representations.encoders import PixelEncoder

SHAPE = (12, 32, 32)
MAX_HEIGHT = MAZE_GRID.z_bins + 1  # channel of the highest point's normalised height


@pytest.fixture(scope="module")
def lidar_suite():
    return OGBenchTaskSuite("pointmaze-medium-navigate", render_size=64, obs="lidar")


def _cfg(tmp_path, **kw):
    cfg = dict(
        name="pointmaze-medium-navigate",
        source="generated",
        data_dir=str(tmp_path / "data"),
        cache_dir=str(tmp_path / "cache"),
        num_episodes=2,
        episode_length=40,
        seed=0,
        batch_size=16,
        max_transitions=None,
        progress=False,
        obs="lidar",
    )
    cfg.update(kw)
    return cfg


def _has_wall(grid: torch.Tensor) -> bool:
    """Cells with returns whose highest point is well above the ground (walls are 2 m high, the ground ~0.08)."""
    return bool(((grid[0] > 0) & (grid[MAX_HEIGHT] > 0.5)).any())


def test_suite_key_shape_and_errors(lidar_suite, pointmaze_suite):
    assert (lidar_suite.observation_key, lidar_suite.observation_shape) == ("lidar", SHAPE)
    assert (pointmaze_suite.observation_key, pointmaze_suite.observation_shape) == ("observation", (2,))
    assert lidar_suite.observation_dim == 2  # the state is still there (relabelling, success)
    suite = make_task_suite({"family": "ogbench", "name": "pointmaze-medium-navigate", "obs": "lidar"})
    assert suite.observation_key == "lidar"
    with pytest.raises(ValueError, match="needs a maze environment.*env.obs=states"):
        OGBenchTaskSuite("cube-single-play", obs="lidar")
    with pytest.raises(ValueError, match="not known.*env.obs=states or env.obs=lidar"):
        make_task_suite({"family": "ogbench", "name": "pointmaze-medium-navigate", "obs": "pixels"})


def test_env_reset_and_step_carry_lidar(lidar_suite, pointmaze_suite):
    env = lidar_suite.make_env("task2", seed=3)
    check_env_specs(env)
    env = lidar_suite.make_env("task2", seed=3)
    td = env.reset()
    assert td["lidar"].shape == SHAPE and td["lidar"].dtype == torch.float32 and _has_wall(td["lidar"])
    # the first scan draws on a fresh generator seeded with the env seed
    first = env.lidar_scan(env.unwrapped.data.qpos[:2].reshape(1, 2), np.random.default_rng(3))[0]
    torch.testing.assert_close(td["lidar"], first, rtol=0, atol=0)
    ro = env.rollout(5, break_when_any_done=False)
    assert ro["next", "lidar"].shape == (5, *SHAPE)
    assert all(_has_wall(g) for g in ro["next", "lidar"])
    assert not torch.equal(ro["next", "lidar"][0], ro["next", "lidar"][1])  # fresh noise every step
    # same seed, same scans; and the scans never disturb the simulation (same states as obs=states)
    again = lidar_suite.make_env("task2", seed=3)
    states = pointmaze_suite.make_env("task2", seed=3)
    torch.manual_seed(0)
    actions = torch.rand(5, 2) * 2 - 1
    ro_a = again.rollout(5, policy=_replay(actions), break_when_any_done=False)
    ro_s = states.rollout(5, policy=_replay(actions), break_when_any_done=False)
    torch.testing.assert_close(ro_a["next", "qpos"], ro_s["next", "qpos"], rtol=0, atol=0)
    assert "lidar" not in ro_s["next"].keys()
    for e in (env, again, states):
        e.close()


def _replay(actions):
    step = iter(actions)

    def policy(td):
        td.set("action", next(step))
        return td

    return policy


def test_goal_observation_is_the_scan_at_the_goal(lidar_suite):
    goals = []
    for k in (1, 3):
        goal = lidar_suite.goal_observation(f"task{k}")
        goal_xy = np.asarray(lidar_suite._probe.unwrapped.task_infos[k - 1]["goal_xy"], dtype=np.float64).reshape(1, 2)
        expected = lidar_suite.lidar_scan(goal_xy, np.random.default_rng(GOAL_SCAN_SEED))[0]
        assert goal.shape == SHAPE and _has_wall(goal)
        torch.testing.assert_close(goal, expected, rtol=0, atol=0)
        torch.testing.assert_close(lidar_suite.goal_observation(f"task{k}"), goal, rtol=0, atol=0)  # deterministic
        goals.append(goal)
    assert not torch.equal(goals[0], goals[1])


def test_dataset_serves_lidar_of_each_row(tmp_path, lidar_suite):
    train, val = load_ogbench_dataset(_cfg(tmp_path, future=0.9), suite=lidar_suite)
    assert train.lidar.shape == (80, *SHAPE) and train.lidar.dtype == torch.float16
    assert val.lidar.shape == (40, *SHAPE)
    td = train.sample()
    for key in ("lidar", ("next", "lidar"), "future_lidar"):
        assert td[key].shape == (16, *SHAPE) and td[key].dtype == torch.float32
    index = td["index"]
    for b in range(4):
        i = int(index[b])
        # row i: the scan at its qpos with its own generator, rounded to float16
        scan = lidar_suite.lidar_scan(td["qpos"][b, :2].numpy().reshape(1, 2), lidar_row_rng(i))[0]
        torch.testing.assert_close(td["lidar"][b], scan.half().float(), rtol=0, atol=0)
        nxt = lidar_suite.lidar_scan(td["next", "qpos"][b, :2].numpy().reshape(1, 2), lidar_row_rng(i + 1))[0]
        torch.testing.assert_close(td["next", "lidar"][b], nxt.half().float(), rtol=0, atol=0)
        torch.testing.assert_close(td["next", "lidar"][b], train.lidar[i + 1].float(), rtol=0, atol=0)
        # future_lidar is the grid of the row whose observation is future_observation (same episode, later)
        episode_end = (i // 40 + 1) * 40
        rows = [j for j in range(i + 1, episode_end) if torch.equal(train.rows[j, :2], td["future_observation"][b])]
        assert rows and any(torch.equal(train.lidar[j].float(), td["future_lidar"][b]) for j in rows)
    assert all(_has_wall(g) for g in td["lidar"])
    generic = train.sample_generic()  # TorchRL's path: the float16 storage as is
    assert generic["lidar"].shape == (16, *SHAPE) and generic["next", "lidar"].shape == (16, *SHAPE)
    # relabelling still reads the state
    assert lidar_suite.relabel("task1", td).shape == (16,)


def test_lidar_cache_is_built_once(tmp_path, lidar_suite, pointmaze_suite):
    cfg = _cfg(tmp_path)
    train, _ = load_ogbench_dataset(cfg, suite=lidar_suite)
    info = train.layout["lidar"]
    assert not info["cached"]
    path = info["path"]
    assert os.path.basename(path).startswith("lidar-") and path.endswith(".npy")
    mtime, size = os.stat(path).st_mtime_ns, os.path.getsize(path)
    assert 80 * 12 * 32 * 32 * 2 <= size < 80 * 12 * 32 * 32 * 2 + 4096  # float16 + the .npy header
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.endswith(".tmp")]

    train2, val2 = load_ogbench_dataset(cfg, suite=lidar_suite)
    assert train2.layout["lidar"]["cached"] and val2.layout["lidar"]["cached"]
    assert train2.layout["lidar"]["seconds"] < 0.5 and os.stat(path).st_mtime_ns == mtime
    assert torch.equal(train2.lidar, train.lidar)

    # states: the same buffer cache, no LiDAR, and no key in the batches
    states, _ = load_ogbench_dataset(_cfg(tmp_path, obs=None), suite=pointmaze_suite)
    assert states.layout["cached"] and states.lidar is None and "lidar" not in states.layout
    batch = states.sample()
    assert "lidar" not in batch.keys() and "lidar" not in batch["next"].keys()
    with pytest.raises(ValueError, match="dataset.obs='lidar' but the suite observes 'states'"):
        load_ogbench_dataset(cfg, suite=pointmaze_suite)


def test_pixel_encoder_takes_float_grids():
    encoder = PixelEncoder(SHAPE, channels=4, feature_dim=8).eval()
    grids = torch.rand(3, *SHAPE)
    ref = encoder.head(encoder.conv(grids).flatten(1))  # floats go in unscaled
    torch.testing.assert_close(encoder(grids), ref)
    frames = torch.randint(0, 256, (2, *SHAPE), dtype=torch.uint8)
    torch.testing.assert_close(encoder(frames), encoder(frames.float() / 255.0 - 0.5))  # uint8 as before
