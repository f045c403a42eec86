"""End-to-end runs of ``python -m agents.zeroshot`` as a user would type it (tiny budgets)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "env=ogbench",
    "env.max_episode_steps=30",
    "dataset.num_episodes=3",
    "dataset.episode_length=60",
    "dataset.batch_size=32",
    "representation.phi_encoder.hidden_dim=32",
    "representation.psi_encoder.hidden_dim=32",
    "representation.predictor.hidden_dim=32",
    "actor.hidden_dim=32",
    "train.log_every=5",
    "train.checkpoint_every=5",
    "eval.episodes=1",
    "eval.inference_samples=100",
    "logger.backend=csv",
]


def run(args, tmp_path, check=True):
    env = dict(os.environ, MUJOCO_GL="egl", WANDB_MODE="offline")
    cmd = [
        sys.executable,
        "-m",
        "agents.zeroshot",
        *TINY,
        f"dataset.cache_dir={tmp_path / 'cache'}",
        f"dataset.data_dir={tmp_path / 'official'}",
        *args,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-3000:]}")
    return proc


def test_smoke_run_trains_evaluates_and_checkpoints(tmp_path):
    run_dir = tmp_path / "runs" / "a"
    proc = run(["train.steps=10", "dataset.source=generated", f"hydra.run.dir={run_dir}"], tmp_path)
    assert "| task1 |" in proc.stdout and "| mean |" in proc.stdout  # per-task table on stdout
    assert "step 10:" in proc.stdout  # metric lines on stdout
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["step"] == 10 and set(results["results"]) == {"reward", "goal"}
    assert set(results["results"]["reward"]) == {f"task{i}" for i in range(1, 6)}
    assert all(0.0 <= v <= 1.0 for r in results["results"].values() for v in r.values())
    ckpt = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
    assert (ckpt / "config.json").exists() and (ckpt / "model.safetensors").exists()
    assert list((run_dir / "logs").rglob("*.csv"))  # CSV metrics

    # the trained checkpoint feeds the oracle-agreement diagnostic
    from benchmarks.oracle_agreement import main as oracle_agreement

    agreement = oracle_agreement([str(ckpt), "--states", "16", "--inference-samples", "50"])
    assert set(agreement) == {"reward", "goal"} and len(agreement["goal"]) == 5
    assert all(-1.0 <= v["mean_cosine"] <= 1.0 for r in agreement.values() for v in r.values())
    # the straight line's agreement is the no-learning reference: the same states whatever the policy or z mode
    assert all(
        agreement["goal"][t]["straight_line_cosine"] == agreement["reward"][t]["straight_line_cosine"] for t in agreement["goal"]
    )
    assert all(len(v["q_by_distance"]) == 7 for r in agreement.values() for v in r.values())

    # and the rollout / wall-leak diagnostic
    from benchmarks.maze_rollouts import main as maze_rollouts

    rollouts = maze_rollouts([str(ckpt), "--noise", "zero", "--directions", "8"])
    assert set(rollouts) == {f"task{i}" for i in range(1, 6)}
    assert all(r["min_distance"] <= min(r["start_distance"], r["final_distance"]) + 1e-6 for r in rollouts.values())
    assert all(0.0 <= r["q_argmax_within_45_of_oracle"] <= 1.0 for r in rollouts.values())
    assert (ckpt / "maze_rollouts_goal_zero.md").exists()
    assert (ckpt / "oracle_agreement.md").exists()


def test_resume_continues_from_the_latest_checkpoint(tmp_path):
    runs = tmp_path / "runs"
    run(["train.steps=5", "dataset.source=generated", f"hydra.run.dir={runs / 'first'}"], tmp_path)
    proc = run(["train.steps=10", "dataset.source=generated", "resume=true", f"hydra.run.dir={runs / 'second'}"], tmp_path)
    assert "resumed from" in proc.stdout and "step000000005" in proc.stdout
    assert json.loads((runs / "second" / "eval.json").read_text())["step"] == 10


def test_resume_is_exact(tmp_path):
    """A run stopped after its step-5 checkpoint and resumed ends with the weights of the uninterrupted run, bit for
    bit: the checkpoint holds the replay buffer's sampling stream as well as the global generators."""
    from safetensors.torch import load_file

    runs = tmp_path / "runs"
    common = ["dataset.source=generated", "eval.modes=[goal]", "train.checkpoint_every=5"]
    run(["train.steps=10", *common, f"hydra.run.dir={runs / 'whole'}"], tmp_path)
    run(["train.steps=5", *common, f"hydra.run.dir={runs / 'part'}"], tmp_path)
    resumed = run(["train.steps=10", *common, f"resume={runs / 'part'}", f"hydra.run.dir={runs / 'resumed'}"], tmp_path)
    assert "at step 5" in resumed.stdout
    whole = load_file(runs / "whole" / "checkpoints" / "step000000010" / "model.safetensors")
    again = load_file(runs / "resumed" / "checkpoints" / "step000000010" / "model.safetensors")
    assert whole.keys() == again.keys() and len(whole) > 10
    assert all(torch.equal(whole[k], again[k]) for k in whole), [k for k in whole if not torch.equal(whole[k], again[k])]


def test_evaluating_and_logging_more_often_leaves_the_weights_unchanged(tmp_path):
    from safetensors.torch import load_file

    runs = tmp_path / "runs"
    common = ["dataset.source=generated", "eval.modes=[goal]", "train.steps=10", "train.checkpoint_every=10"]
    run([*common, "train.eval_every=0", "train.log_every=10", f"hydra.run.dir={runs / 'quiet'}"], tmp_path)
    run([*common, "train.eval_every=3", "train.log_every=2", f"hydra.run.dir={runs / 'busy'}"], tmp_path)
    quiet = load_file(runs / "quiet" / "checkpoints" / "step000000010" / "model.safetensors")
    busy = load_file(runs / "busy" / "checkpoints" / "step000000010" / "model.safetensors")
    assert all(torch.equal(quiet[k], busy[k]) for k in quiet)
    # and the final evaluation, a function of the weights and the seed, is the same too
    assert (
        json.loads((runs / "quiet" / "eval.json").read_text())["results"]
        == json.loads((runs / "busy" / "eval.json").read_text())["results"]
    )


def test_interrupt_saves_a_checkpoint_and_resume_continues(tmp_path):
    import signal
    import time

    run_dir = tmp_path / "runs" / "interrupted"
    env = dict(os.environ, MUJOCO_GL="egl", WANDB_MODE="offline", PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "agents.zeroshot",
        *TINY,
        f"dataset.cache_dir={tmp_path / 'cache'}",
        "dataset.source=generated",
        "train.steps=100000",
        "train.checkpoint_every=100000",
        f"hydra.run.dir={run_dir}",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    deadline = time.time() + 240
    for line in proc.stdout:  # wait until training is under way
        lines.append(line)
        if line.startswith("step 10:") or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out = "".join(lines) + proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted at step" in out and "resume=true" in out
    saved = (run_dir / "checkpoints" / "latest").read_text().strip()
    step = int(saved.replace("step", ""))
    assert step >= 10
    import torch

    state = torch.load(run_dir / "checkpoints" / saved / "training_state.pt", weights_only=False)
    assert state["step"] == step
    assert int(state["optimizer"]["state"][0]["step"]) == step  # saved step == updates actually applied
    resumed = run(
        [
            "train.steps=" + str(step + 5),
            "dataset.source=generated",
            "resume=true",
            f"hydra.run.dir={tmp_path / 'runs' / 'resumed'}",
        ],
        tmp_path,
    )
    assert f"at step {step}" in resumed.stdout


def test_missing_official_dataset_gives_one_clear_error(tmp_path, monkeypatch):
    proc = run(["train.steps=2", "dataset.source=official", f"hydra.run.dir={tmp_path / 'r'}"], tmp_path, check=False)
    assert proc.returncode != 0
    assert "source=generated" in proc.stderr  # names the fix


def test_corrupt_dataset_gives_one_clear_error(tmp_path):
    official = tmp_path / "official"
    official.mkdir()
    bad = official / "pointmaze-medium-navigate-v0.npz"
    np.savez(
        bad,
        observations=np.full((10, 2), np.nan, np.float32),
        actions=np.zeros((10, 2), np.float32),
        terminals=np.zeros(10, bool),
        qpos=np.zeros((10, 2), np.float32),
        qvel=np.zeros((10, 2), np.float32),
    )
    np.savez(official / "pointmaze-medium-navigate-v0-val.npz", observations=np.zeros((10, 2), np.float32))
    proc = run(["train.steps=2", "dataset.source=official", f"hydra.run.dir={tmp_path / 'r'}"], tmp_path, check=False)
    assert proc.returncode != 0
    assert str(bad) in proc.stderr or bad.name in proc.stderr


def test_unknown_option_is_rejected_before_any_work(tmp_path):
    proc = run(["train.stepz=3", f"hydra.run.dir={tmp_path / 'r'}"], tmp_path, check=False)
    assert proc.returncode != 0 and "stepz" in proc.stderr


def test_resume_with_other_settings_is_refused_by_name(tmp_path):
    runs = tmp_path / "runs"
    run(["train.steps=5", "dataset.source=generated", "eval.modes=[goal]", f"hydra.run.dir={runs / 'a'}"], tmp_path)
    proc = run(
        [
            "train.steps=10",
            "dataset.source=generated",
            "eval.modes=[goal]",
            "representation.z_dim=8",
            f"resume={runs / 'a'}",
            f"hydra.run.dir={runs / 'b'}",
        ],
        tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "representation.z_dim: 50 → 8" in proc.stderr and "resume=false" in proc.stderr
    assert "size mismatch" not in proc.stderr
