"""Everything composes: every representation × observation encoder × environment trains, evaluates and
checkpoints through ``agents.zeroshot`` by config alone (tiny budgets, in-process).

Add every new representation, encoder or environment to the lists below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from agents.zeroshot import train_zeroshot
from tiny import TINY_REPRESENTATION
from representations import load_pretrained

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")

ENVIRONMENTS = {
    "ogbench-states": [
        "env=ogbench",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
    ],
    "dmc-states": [
        "env=dmc",
        "env.domain=walker",
        "env.max_episode_steps=8",
        "dataset.num_episodes=2",
        "dataset.episode_length=30",
    ],
    "dmc-pixels": [
        "env=dmc",
        "env.domain=point_mass_maze",
        "env.obs=pixels",
        "env.max_episode_steps=8",
        "dataset.num_episodes=2",
        "dataset.episode_length=30",
    ],
    # OGBench states through the frozen context encoder of an ACT-JEPA policy (agents.bc)
    "ogbench-states-bc-encoder": [
        "env=ogbench",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        "encoder=act_jepa",
    ],
    # OGBench states through the frozen aggregate of a seq-JEPA pretrained on the env's trajectories (agents.pretrain)
    "ogbench-states-seq-jepa-encoder": [
        "env=ogbench",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        "encoder=seq_jepa",
    ],
    # OGBench maze seen through LiDAR (12 x 32 x 32 BEV grids): the conv encoder end to end, and the frozen EMA
    # backbone of an AD-L-JEPA pretrained on the maze's scans (agents.pretrain data=lidar data.source=maze)
    "ogbench-lidar": [
        "env=ogbench",
        "env.obs=lidar",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
    ],
    "ogbench-lidar-adljepa-encoder": [
        "env=ogbench",
        "env.obs=lidar",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        "encoder=ad_l_jepa",
    ],
    # OGBench states through the frozen EMA encoder of a T-JEPA pretrained on the env's states (data.name=env_states)
    "ogbench-states-tjepa-encoder": [
        "env=ogbench",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        "encoder=t_jepa",
    ],
    # DMC pixels through frozen vision JEPAs pretrained on the env's frames (agents.pretrain data=frames); the
    # V-JEPA checkpoint reads the 3-frame stack as one clip, SALT and DMT-JEPA frame by frame
    **{
        f"dmc-pixels-{name}-encoder": [
            "env=dmc",
            "env.domain=point_mass_maze",
            "env.obs=pixels",
            "env.max_episode_steps=8",
            "dataset.num_episodes=2",
            "dataset.episode_length=30",
            f"encoder={encoder}",
        ]
        for name, encoder in (("vjepa", "vjepa"), ("salt", "salt"), ("dmt-jepa", "dmt_jepa"))
    },
}
PRETRAINED_ENCODERS = {
    "bc-encoder": "bc_checkpoint",
    "seq-jepa-encoder": "seq_jepa_checkpoint",  # env suffix → fixture
    "vjepa-encoder": "vjepa_checkpoint",
    "salt-encoder": "salt_checkpoint",
    "dmt-jepa-encoder": "dmt_jepa_checkpoint",
    "tjepa-encoder": "t_jepa_checkpoint",
    "adljepa-encoder": "ad_l_jepa_checkpoint",
}
COMMON = [
    "actor.hidden_dim=16",
    "train.steps=3",
    "train.log_every=3",
    "train.checkpoint_every=3",
    "dataset.batch_size=16",
    "eval.episodes=1",
    "eval.inference_samples=64",
    "logger.backend=none",
    "encoder.pixels.feature_dim=16",
    "encoder.pixels.channels=4",
]


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("representation", sorted(TINY_REPRESENTATION))
def test_every_combination_trains_evaluates_and_reloads(representation, environment, tmp_path_factory, request):
    cache = tmp_path_factory.getbasetemp() / "matrix-data"  # shared by the whole matrix
    run_dir = tmp_path_factory.mktemp(f"{representation}-{environment}")
    common = COMMON
    for suffix, fixture in PRETRAINED_ENCODERS.items():  # no pixel options; they need a pretrained checkpoint
        if environment.endswith(suffix):
            common = [o for o in COMMON if not o.startswith("encoder.")] + [
                f"encoder.checkpoint={request.getfixturevalue(fixture)}"
            ]
    overrides = [
        f"representation={representation}",
        *ENVIRONMENTS[environment],
        *TINY_REPRESENTATION[representation],
        *common,
        f"dataset.cache_dir={cache}",
        f"dataset.data_dir={cache / 'official'}",
    ]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("zeroshot", overrides=overrides)
    results = train_zeroshot(cfg, run_dir)
    saved = json.loads((run_dir / "eval.json").read_text())
    assert saved["results"] == results and results
    # every task of the family got a score, under every inference mode it supports
    for scores in results.values():
        assert len(scores) >= 4
    ckpt = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
    model, actor, config = load_pretrained(ckpt)
    assert type(model).__name__.lower().replace("_", "") == representation.replace("_", "")
    assert config["representation"]["name"] == representation


def test_state_encoder_on_pixels_fails_with_a_clear_message(tmp_path):
    common = [o for o in COMMON if not o.startswith("encoder.")]  # identity has no pixel options
    overrides = [
        "encoder=identity",
        *ENVIRONMENTS["dmc-pixels"],
        *common,
        f"dataset.cache_dir={tmp_path}",
        f"dataset.data_dir={tmp_path}",
    ]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("zeroshot", overrides=overrides)
    with pytest.raises(
        ValueError, match=r"encoder=identity needs flat observations, got shape \(9, 64, 64\): use encoder=pixels"
    ):
        train_zeroshot(cfg, tmp_path / "run")


def test_pixel_encoder_on_state_observations_fails_with_a_clear_message(tmp_path):
    overrides = ["encoder=pixels", *ENVIRONMENTS["ogbench-states"], *COMMON, f"dataset.cache_dir={tmp_path}"]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("zeroshot", overrides=overrides)
    with pytest.raises(ValueError, match=r"the pixel encoder needs \[C, H, W\] observations, got shape \(2,\)"):
        train_zeroshot(cfg, tmp_path / "run")


def bc_encoder_config(environment: str, bc_checkpoint, tmp_path, *extra: str):
    common = [o for o in COMMON if not o.startswith("encoder.")]  # the act_jepa encoder has no pixel options
    overrides = [
        "encoder=act_jepa",
        f"encoder.checkpoint={bc_checkpoint}",
        *ENVIRONMENTS[environment],
        *extra,
        *common,
        f"dataset.cache_dir={tmp_path}",
    ]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("zeroshot", overrides=overrides)


def test_bc_encoder_on_other_observations_fails_with_a_clear_message(tmp_path, bc_checkpoint):
    cfg = bc_encoder_config("dmc-states", bc_checkpoint, tmp_path)
    with pytest.raises(
        ValueError, match=r"reads 2-d states \(pointmaze-medium-navigate\) but this environment has 24-d observations"
    ):
        train_zeroshot(cfg, tmp_path / "run")


def test_frozen_bc_encoder_is_not_trained_by_the_zero_shot_agent(tmp_path, bc_checkpoint):
    from representations.act_jepa import load_bc_policy

    train_zeroshot(
        bc_encoder_config("ogbench-states", bc_checkpoint, tmp_path, *TINY_REPRESENTATION["td_jepa"]), tmp_path / "run"
    )
    model, _, _ = load_pretrained(tmp_path / "run" / "checkpoints" / "step000000003")
    original, _ = load_bc_policy(bc_checkpoint)
    for (name, trained), (_, before) in zip(model.obs_encoder.policy.state_dict().items(), original.state_dict().items()):
        torch.testing.assert_close(trained, before, msg=name)


def test_a_frozen_vision_encoder_encodes_the_dataset_once_and_its_features_match_the_frames(tmp_path, salt_checkpoint):
    from agents.update import cache_frozen_features
    from envs import make_dataset, make_task_suite
    from representations.encoders import make_encoder

    common = [o for o in COMMON if not o.startswith("encoder.")]
    overrides = [
        *ENVIRONMENTS["dmc-pixels-salt-encoder"],
        *common,
        f"encoder.checkpoint={salt_checkpoint}",
        f"dataset.cache_dir={tmp_path}",
        f"dataset.data_dir={tmp_path / 'official'}",
    ]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("zeroshot", overrides=overrides)
    suite = make_task_suite(cfg.env)
    train_rb, val_rb = make_dataset(cfg.dataset)
    encoder, feature_dim = make_encoder(cfg.encoder, suite.observation_shape)
    frames = train_rb.sample(8)
    pixel_encoder, _ = make_encoder({"name": "pixels"}, suite.observation_shape)
    assert not cache_frozen_features(pixel_encoder, (train_rb, val_rb), torch.device("cpu"))  # trained: nothing cached
    assert cache_frozen_features(encoder, (train_rb, val_rb), torch.device("cpu"))
    assert train_rb.frame_features is val_rb.frame_features  # the splits share frames: encoded once
    assert train_rb.frame_features.shape == (62, feature_dim)  # 2 episodes of 31 rows (the reset, then 30 steps)
    cached = train_rb.gather(frames["index"])
    torch.testing.assert_close(cached["pixels"], encoder(frames["pixels"]))
    torch.testing.assert_close(cached["next", "pixels"], encoder(frames["next", "pixels"]))
    assert encoder(cached["pixels"]) is cached["pixels"]  # features pass through the frozen encoder
    with pytest.raises(ValueError, match=r"reads observations of shape \[9, 64, 64\] \(or its cached 48-d features\)"):
        encoder(torch.zeros(2, 5))
    train_rb.use_frame_features(None)
    assert train_rb.gather(frames["index"])["pixels"].dtype == torch.uint8
