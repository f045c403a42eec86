"""The recipes' claims, run as a user runs them (``pytest -m slow``; minutes each, so not in the default run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_solves_the_straight_line_tasks(tmp_path):
    """`make demo` (HILP, 20k updates, ≈ 12 min on 2 cores with the dataset cached): RESULTS §3.1 measured 40 % goal-z
    success in each of 3 seeds, tasks 1 and 2 solved; the floor asserted here is one solved task."""
    env = dict(os.environ, MUJOCO_GL="egl", WANDB_MODE="offline", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents.zeroshot",
            "env=ogbench",
            "experiment=demo",
            "logger.backend=csv",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    goal = report["results"]["goal"]
    assert report["step"] == 20000 and max(goal.values()) >= 0.5, goal
    assert "What this means" in proc.stdout  # the honest line on what longer runs reach
