"""Hydra multirun sweeps: the SLURM launcher config composes; the same submitit path runs locally."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from tiny import TINY_REPRESENTATION

ROOT = Path(__file__).resolve().parents[2]


def compose_with_hydra(overrides):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("zeroshot", overrides=overrides, return_hydra_config=True)


def test_slurm_launcher_config_composes_with_our_defaults_and_cli_overrides():
    cfg = compose_with_hydra(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=600"])
    launcher = cfg.hydra.launcher
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.gpus_per_node, launcher.tasks_per_node) == ("gpu", 600, 1, 1)
    assert launcher.max_num_timeout == 3 and launcher.submitit_folder.startswith("multirun/zeroshot/")
    # the plugin's own config, as in `-m hydra/launcher=submitit_slurm`, is available too
    plain = compose_with_hydra(["hydra/launcher=submitit_slurm"]).hydra.launcher
    assert get_class(plain._target_) is get_class(launcher._target_) and plain.timeout_min == 60


def test_submitit_sweep_runs_each_seed_in_its_own_folder(tmp_path):
    sweep = tmp_path / "sweep"
    tiny = [
        "env=ogbench",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        "dataset.batch_size=16",
        f"dataset.cache_dir={tmp_path / 'cache'}",
        f"dataset.data_dir={tmp_path / 'official'}",
        *TINY_REPRESENTATION["td_jepa"],
        "actor.hidden_dim=16",
        "train.steps=3",
        "train.log_every=3",
        "eval.episodes=1",
        "eval.inference_samples=64",
        "logger.backend=csv",
    ]
    cmd = [
        sys.executable,
        "-m",
        "agents.zeroshot",
        "-m",
        "hydra/launcher=submitit_local",
        "seed=0,1",
        *tiny,
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for job, seed in ((0, 0), (1, 1)):
        assert json.loads((sweep / str(job) / "eval.json").read_text())["step"] == 3
        config = json.loads(next((sweep / str(job) / "checkpoints").glob("step*/config.json")).read_text())
        assert config["seed"] == seed
    assert list((sweep / ".submitit").iterdir())  # submitted through submitit, as on SLURM
