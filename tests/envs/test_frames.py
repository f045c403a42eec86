"""Frames / clips of offline datasets (data=frames): layout, rendering round trip, cache, clips, splits, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from tensordict import TensorDict

from envs import make_dataset
from data.frames import FrameSampler, clip_starts, frame_batch, kept_steps, load_frames

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")
DATASETS = {  # tiny datasets, collected / generated into the test's cache
    "walker": ["env=dmc", "env.domain=walker", "dataset.num_episodes=3", "dataset.episode_length=30"],
    "maze-pixels": [
        "env=dmc",
        "env.domain=point_mass_maze",
        "env.obs=pixels",
        "dataset.num_episodes=2",
        "dataset.episode_length=10",
    ],
    "pointmaze": ["env=ogbench", "dataset.source=generated", "dataset.num_episodes=2", "dataset.episode_length=40"],
}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    cache = tmp_path_factory.mktemp("frames")

    def make(dataset: str, *data: str):
        overrides = [
            "data=frames",
            *DATASETS[dataset],
            f"dataset.cache_dir={cache}",
            f"dataset.data_dir={cache / 'official'}",
            f"data.cache_dir={cache}",
            "data.progress=false",
            *data,
        ]
        with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
            return compose("pretrain", overrides=overrides)

    return make


def never_render(*args, **kwargs):
    raise AssertionError("rendered again although the frames are cached")


def test_dmc_frames_are_renders_of_the_physics_state_cached_and_split_by_episode(config, monkeypatch):
    from envs.dmc.env import DMCEnv

    cfg = config("walker", "data.stride=2", "data.val_fraction=0.3", "data.test_fraction=0.3")
    train, val, test, info = load_frames(cfg.data, cfg.dataset, cfg.env)
    assert info["pixels"] == "rendered" and info["frames_cached"] is False and info["episodes"] == 3
    assert info["steps"] == 3 * 16 and info["state_columns"] == {"qpos": [0, 9], "qvel": [9, 18]}
    assert train["pixels"].shape[1:] == (3, 64, 64) and train["pixels"].dtype == torch.uint8
    assert train["state"].shape[1:] == (18,) and train["state"].dtype == torch.float32
    episodes = [set(d["episode"].tolist()) for d in (train, val, test)]
    assert all(len(e) == 1 for e in episodes) and set.union(*episodes) == {0, 1, 2}
    assert (train["step"] % 2 == 0).all() and train["pixels"].float().std() > 0
    # round trip: the frame of a row is a fresh env's render of that row's physics state
    buffer, _ = make_dataset(cfg.dataset)
    row = int(train["row"][5])
    env = DMCEnv("walker", "stand")
    env.physics.set_state(buffer.arrays["physics"][row].numpy())
    env.physics.forward()
    assert torch.equal(train["pixels"][5], torch.from_numpy(env._render()).permute(2, 0, 1))
    torch.testing.assert_close(train["state"][5], buffer.arrays["physics"][row, :18].float())
    # probe targets: walker's egocentric state observation; its height column is the torso's height
    assert info["target_columns"] == {"orientations": [0, 14], "height": [14, 15], "velocity": [15, 24]}
    assert train["target"][5, 14].item() == pytest.approx(env.physics.named.data.xpos["torso", "z"], abs=1e-5)
    torch.testing.assert_close(train["target"][5, 15:], torch.from_numpy(env.physics.velocity()).float())
    # second call: the cache, no rendering (also for clips of the same kept steps)
    monkeypatch.setattr("data.frames.render_dmc_frames", never_render)
    cfg = config("walker", "data.stride=2", "data.val_fraction=0.3", "data.test_fraction=0.3", "data.clip_length=4")
    train2, _, _, info2 = load_frames(cfg.data, cfg.dataset, cfg.env)
    assert info2["frames_cached"] is True and torch.equal(train2["pixels"], train["pixels"]) and info2["train_clips"] == 16 - 3
    batch = FrameSampler(train2, batch_size=8, seed=0, clip_length=4).sample()
    assert batch["clips"].shape == (8, 4, 3, 64, 64) and batch["state"].shape == (8, 4, 18)
    assert (batch["step"].diff(dim=1) == 2).all()  # consecutive kept steps of one episode
    frames = FrameSampler(train2, batch_size=5, seed=1).sample()
    assert frames["pixels"].shape == (5, 3, 64, 64) and frames["state"].shape == (5, 18)


def test_dmc_pixel_datasets_use_their_own_frames_which_renders_reproduce(config, monkeypatch):
    cfg = config("maze-pixels", "data.val_fraction=0", "data.test_fraction=0")
    monkeypatch.setattr("data.frames.render_dmc_frames", never_render)
    stored, _, _, info = load_frames(cfg.data, cfg.dataset)
    assert info["pixels"] == "dataset" and stored["pixels"].shape == (2 * 11, 3, 64, 64)
    monkeypatch.undo()
    cfg = config("maze-pixels", "data.val_fraction=0", "data.test_fraction=0", "data.pixels_from=render")
    rendered, _, _, info = load_frames(cfg.data, cfg.dataset)
    assert info["pixels"] == "rendered" and torch.equal(rendered["pixels"], stored["pixels"])
    cfg = config("maze-pixels", "data.image_size=32", "data.pixels_from=dataset")
    with pytest.raises(ValueError, match=r"has \(64, 64\) frames, not 32x32: set data.pixels_from=auto"):
        load_frames(cfg.data, cfg.dataset)


def test_ogbench_frames_render_qpos_qvel_and_are_cached(config, monkeypatch):
    from envs.ogbench.env import OGBenchEnv
    from envs.ogbench.names import parse_name

    cfg = config("pointmaze", "data.stride=4", "data.max_episodes=2")
    train, val, test, info = load_frames(cfg.data, cfg.dataset, cfg.env)
    assert info["episodes"] == 2 and info["steps"] == 2 * 10 and info["state_columns"] == {"qpos": [0, 2], "qvel": [2, 4]}
    assert info["target_columns"] == info["state_columns"] and torch.equal(
        train["target"], train["state"]
    )  # OGBench: qpos | qvel
    assert train["pixels"].shape[1:] == (3, 64, 64) and train["state"].shape[1:] == (4,) and len(val) + len(test) == 0
    buffer, _ = make_dataset(cfg.dataset)
    row, cols = int(train["row"][3]), buffer.columns
    env = OGBenchEnv(parse_name(cfg.dataset.name).env_id, pixels=64, render_size=128)
    env._env.set_state(buffer.rows[row, cols["qpos"]].double().numpy(), buffer.rows[row, cols["qvel"]].double().numpy())
    assert torch.equal(train["pixels"][3], env.pixel_observation())
    env.close()
    monkeypatch.setattr("data.frames.render_ogbench_frames", never_render)
    again, _, _, info = load_frames(cfg.data, cfg.dataset, cfg.env)
    assert info["frames_cached"] is True and torch.equal(again["pixels"], train["pixels"])


def test_kept_steps_and_clips_stay_inside_episodes():
    rows, episode, step = kept_steps(torch.tensor([0, 7]), torch.tensor([7, 5]), stride=3)
    assert rows.tolist() == [0, 3, 6, 7, 10] and episode.tolist() == [0, 0, 0, 1, 1] and step.tolist() == [0, 3, 6, 0, 3]
    assert clip_starts(episode, 2).tolist() == [0, 1, 3] and clip_starts(episode, 3).tolist() == [0]
    td = torch.arange(5)
    data = TensorDict(
        {
            "pixels": td[:, None, None, None].expand(5, 3, 2, 2).to(torch.uint8),
            "state": td[:, None].float(),
            "target": -td[:, None].float(),
            "episode": episode,
            "step": step,
        },
        batch_size=[5],
    )
    clip = frame_batch(data, torch.tensor([3]), 2)
    assert clip["clips"][0, :, 0, 0, 0].tolist() == [3, 4] and clip["step"].tolist() == [[0, 3]]
    assert clip["target"][0, :, 0].tolist() == [-3, -4]
    with pytest.raises(ValueError, match="no episode of this split has 4 kept steps"):
        FrameSampler(data, batch_size=2, clip_length=4)


@pytest.mark.parametrize(
    "dataset, data, message",
    [
        ({"family": "ogbench_demos"}, {}, "data=frames reads DMC or OGBench datasets"),
        ({"family": "dmc", "domain": "walker"}, {"pixels_from": "camera"}, r"unknown data.pixels_from='camera'; choose one of"),
        ({"family": "dmc", "domain": "walker"}, {"stride": 0}, "data.stride must be >= 1"),
    ],
)
def test_bad_options_are_clear_errors(dataset, data, message):
    with pytest.raises(ValueError, match=message):
        load_frames(OmegaConf.create(data), OmegaConf.create(dataset))
    with pytest.raises(ValueError, match="env family 'ogbench' and dataset family 'dmc' differ"):
        load_frames(OmegaConf.create({}), OmegaConf.create({"family": "dmc"}), OmegaConf.create({"family": "ogbench"}))


def test_clips_longer_than_every_episode_and_missing_frames_are_clear_errors(config):
    cfg = config("walker", "data.stride=2", "data.clip_length=17")
    with pytest.raises(ValueError, match=r"data.clip_length=17 is longer than every episode \(at most 16 kept steps"):
        load_frames(cfg.data, cfg.dataset, cfg.env)
    cfg = config("walker", "data.pixels_from=dataset")
    with pytest.raises(ValueError, match="data.pixels_from=dataset but the dataset has no frames"):
        load_frames(cfg.data, cfg.dataset)
