"""Data-parallel training with torchrun (2 CPU processes, gloo) equals one process on the global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1].parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ddp_worker import REPRESENTATIONS, run_updates  # noqa: E402
from tiny import TINY_REPRESENTATION  # noqa: E402


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    cache, out = tmp_path_factory.mktemp("ddp-cache"), tmp_path_factory.mktemp("ddp-out")
    references = {rep: run_updates(rep, str(cache)) for rep in REPRESENTATIONS}  # also generates the dataset
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "tests" / "agents" / "ddp_worker.py"),
        str(cache),
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return references, out


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_two_processes_match_one_process_on_the_global_batch(two_process_run, representation):
    references, out = two_process_run
    ref_losses, ref_weights = references[representation]
    ranks = [json.loads((out / f"{representation}-losses-rank{r}.json").read_text()) for r in range(2)]
    for step, ref in enumerate(ref_losses):
        for name, value in ref.items():  # the mean of the ranks' shard losses is the global-batch loss
            mean = (ranks[0][step][name] + ranks[1][step][name]) / 2
            assert mean == pytest.approx(value, rel=1e-4, abs=1e-5), (step, name)
    assert ranks[0][0] != ranks[1][0]  # the shards really differ
    for rank in range(2):
        weights = load_file(str(out / f"{representation}-weights-rank{rank}.safetensors"))
        assert set(weights) == set(ref_weights)
        for key, value in ref_weights.items():
            torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_torchrun_trains_the_zeroshot_agent_with_two_processes(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "agents.zeroshot",
        "env=ogbench",
        "env.max_episode_steps=8",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        "dataset.batch_size=32",
        f"dataset.cache_dir={tmp_path / 'cache'}",
        f"dataset.data_dir={tmp_path / 'official'}",
        *TINY_REPRESENTATION["td_jepa"],
        "actor.hidden_dim=16",
        "train.steps=6",
        "train.log_every=3",
        "eval.episodes=1",
        "eval.inference_samples=64",
        "logger.backend=csv",
        f"hydra.run.dir={run_dir}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 data-parallel processes x 16 samples" in proc.stdout
    assert proc.stdout.count("Zero-shot evaluation of td_jepa") == 1  # rank 0 only
    assert json.loads((run_dir / "eval.json").read_text())["step"] == 6
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == "step000000006"


def test_global_batch_must_divide_over_the_processes():
    from agents.distributed import DataParallel, local_batch_size

    assert local_batch_size(1024, DataParallel(rank=1, world_size=4)) == 256
    with pytest.raises(ValueError, match="dataset.batch_size=30 is the global batch and must divide evenly over 4 processes"):
        local_batch_size(30, DataParallel(rank=0, world_size=4))
