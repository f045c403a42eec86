"""DMC TorchRL env + task suite: specs, pixels and frame stacking, horizon, seeding, configs, dispatch."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from torchrl.envs.utils import check_env_specs

from envs import make_task_suite
from envs.dmc import DMCEnv, DMCTaskSuite

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def _compose(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="zeroshot", overrides=overrides, return_hydra_config=False)


@pytest.mark.parametrize("domain, obs", [("walker", "states"), ("point_mass_maze", "pixels"), ("quadruped", "pixels")])
def test_check_env_specs_and_keys(domain, obs):
    suite = DMCTaskSuite(domain, obs=obs)
    env = suite.make_env(seed=1)
    check_env_specs(env)
    td = env.rollout(3)
    assert td["observation"].dtype == torch.float32 and td["observation"].shape == (3, suite.observation_dim)
    assert td["physics"].dtype == torch.float64 and td["next", "physics"].shape == (3, suite.physics_dim)
    assert td["next", "reward"].shape == (3, 1) and td["next", "reward"].dtype == torch.float32
    for key in ("done", "terminated", "truncated"):
        assert td["next", key].dtype == torch.bool and not td["next", key].any()
    assert suite.observation_key == ("pixels" if obs == "pixels" else "observation")
    assert td[suite.observation_key].shape[1:] == suite.observation_shape
    if obs == "pixels":
        assert suite.pixel_shape == (9, 64, 64)
        assert td["pixels"].shape == (3, 9, 64, 64) and td["pixels"].dtype == torch.uint8
        assert td["pixels"].float().std() > 5  # a real image, not a blank frame
    else:
        assert "pixels" not in td.keys() and suite.pixel_shape is None
    env.close()


def test_pixel_frame_stacking():
    env = DMCTaskSuite("point_mass_maze", obs="pixels").make_env("reach_top_left", seed=0)
    td = env.reset()
    px = td["pixels"]
    assert torch.equal(px[0:3], px[3:6]) and torch.equal(px[3:6], px[6:9])  # first frame repeated at reset
    np.testing.assert_array_equal(env.render().transpose(2, 0, 1), px[6:9].numpy())
    frames = [px[6:9]]
    for _ in range(4):
        td = env.step(td.set("action", torch.ones(2)))
        nxt = td["next", "pixels"]
        assert torch.equal(nxt[0:6], td["pixels"][3:9])  # shifted by one frame, oldest first
        frames.append(nxt[6:9])
        td = td["next"]
    # the mass moved, so the newest frame differs from the reset frame; the camera is top-down (id 0)
    assert not torch.equal(frames[0], frames[-1])
    assert env._render.camera_id == 0 and DMCTaskSuite("quadruped", obs="pixels").make_env()._render.camera_id == 2
    env.close()


def test_horizon_and_truncation():
    suite = DMCTaskSuite("point_mass_maze")
    ro = suite.make_env("loop", seed=0).rollout(1100, break_when_any_done=True)
    assert ro.shape[0] == 1000 == suite.max_episode_steps
    assert ro[-1]["next", "truncated"].item() and ro[-1]["next", "done"].item()
    assert not ro["next", "terminated"].any() and not ro[:-1]["next", "done"].any()
    short = DMCTaskSuite("walker", max_episode_steps=5)
    ro = short.make_env("walk").rollout(20, break_when_any_done=True)
    assert ro.shape[0] == 5 and ro[-1]["next", "truncated"].item()


def test_seeding():
    suite = DMCTaskSuite("quadruped")
    a, b, c = suite.make_env("walk", seed=7), suite.make_env("walk", seed=7), suite.make_env("walk", seed=8)
    torch.manual_seed(0)
    ra = a.rollout(10)
    torch.manual_seed(0)
    rb = b.rollout(10)
    assert torch.equal(ra["observation"], rb["observation"]) and torch.equal(ra["next", "reward"], rb["next", "reward"])
    assert not torch.equal(c.reset()["physics"], ra[0]["physics"])
    # set_seed re-seeds the initial-state RNG
    a.set_seed(8)
    assert torch.equal(a.reset()["physics"], suite.make_env("walk", seed=8).reset()["physics"])
    # the process-wide NumPy RNG is not used
    np.random.seed(123)
    x = np.random.rand()
    np.random.seed(123)
    a.reset()
    assert np.random.rand() == x


def test_actions_are_rescaled_to_ctrl_ranges():
    env = DMCEnv("quadruped", "walk", seed=0)
    td = env.reset()
    env.step(td.set("action", torch.ones(12)))
    lo, hi = env.physics.model.actuator_ctrlrange.T
    np.testing.assert_allclose(env.physics.data.ctrl, hi)  # +1 -> upper bound (quadruped's are not [-1, 1])
    assert not np.allclose(hi, 1.0)


def test_suite_is_cheap_and_validates():
    import time

    t0 = time.perf_counter()
    suite = DMCTaskSuite("quadruped", obs="pixels")
    assert time.perf_counter() - t0 < 0.05 and suite._physics is None
    with pytest.raises(ValueError, match="valid choices: \\['states', 'pixels'\\]"):
        DMCTaskSuite("walker", obs="rgb")
    with pytest.raises(ValueError, match="valid domains"):
        DMCTaskSuite("hopper")
    with pytest.raises(ValueError, match="valid tasks"):
        suite.check_task("task1")


def test_configs_compose_and_dispatch():
    cfg = _compose(["env=dmc"])
    assert (cfg.env.family, cfg.env.domain, cfg.env.name, cfg.env.obs) == ("dmc", "walker", "walker", "states")
    assert (cfg.dataset.family, cfg.dataset.domain, cfg.dataset.obs, cfg.dataset.batch_size) == ("dmc", "walker", "states", 1024)
    assert cfg.dataset.source == "auto" and cfg.dataset.algo == "rnd"
    assert cfg.env.discount == 0.98 == cfg.representation.loss.gamma  # official γ, read by the method presets
    cfg = _compose(["env=dmc", "env.domain=point_mass_maze", "env.obs=pixels"])
    assert (cfg.dataset.domain, cfg.dataset.obs, cfg.env.name) == ("point_mass_maze", "pixels", "point_mass_maze")
    assert cfg.env.discount == 0.99  # pointmass: 0.99 in the official launchers
    suite = make_task_suite(cfg.env)
    assert isinstance(suite, DMCTaskSuite) and suite.name == "point_mass_maze" and suite.pixel_shape == (9, 64, 64)
    with pytest.raises(ValueError, match="valid domains"):
        make_task_suite(_compose(["env=dmc", "env.domain=acrobot"]).env)
    with pytest.raises(ValueError, match="needs a 'domain'"):
        make_task_suite({"family": "dmc"})
