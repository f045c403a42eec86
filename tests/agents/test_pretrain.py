"""python -m agents.pretrain: seq-JEPA on rendered views pretrains, probes and checkpoints (tiny budgets)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny import TINY_SEQ_JEPA, TINY_TRAJECTORIES, assert_same_weights, compose_pretrain, interrupted_copy

from agents.pretrain import pretrain

ROOT = Path(__file__).resolve().parents[2]
VIEWS3D = ["data.instances_per_class=6", "data.views_per_instance=4", "data.image_size=32", "eval.views=[1,2]"]


def config(tmp_path, *extra, data=tuple(VIEWS3D)):
    return compose_pretrain([*TINY_SEQ_JEPA, *data, f"data.cache_dir={tmp_path / 'cache'}", *extra])


@pytest.mark.parametrize("conditioning", [True, False])
def test_seq_jepa_pretrains_and_reports_every_probe(tmp_path, conditioning):
    results = pretrain(config(tmp_path, f"objective.action_conditioning={str(conditioning).lower()}"), tmp_path / "run")
    assert set(results) >= {"top1_views1", "top1_views2", "relative_rotation_r2", "rotation_r2", "training_seconds"}
    assert {"relative_rotation_r2_train", "rotation_r2_train"} <= set(results)
    assert all(0.0 <= results[k] <= 1.0 for k in ("top1_views1", "top1_views2"))
    assert math.isfinite(results["relative_rotation_r2"]) and results["action_conditioning"] is conditioning
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["step"] == 3
    # collapse diagnostics of every log step are in the report (log_every=3: one entry)
    assert [c["step"] for c in saved["collapse"]] == [3] and 1.0 <= saved["collapse"][0]["target_rankme"] <= 8.0
    assert {"feature_std", "feature_rankme", "target_std"} <= set(saved["collapse"][0])
    assert (tmp_path / "run" / "checkpoints" / "step000000003" / "model.safetensors").exists()


def test_too_many_views_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="objective.views must be < 4"):
        pretrain(config(tmp_path, "objective.views=4"), tmp_path / "run")


def test_cli_runs_as_a_user_types_it(tmp_path):
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline"}
    cmd = [
        sys.executable,
        "-m",
        "agents.pretrain",
        "objective=seq_jepa",
        "data=views3d",
        *TINY_SEQ_JEPA,
        *VIEWS3D,
        f"data.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| top1_views2 |" in proc.stdout and "| relative_rotation_r2 |" in proc.stdout


@pytest.mark.parametrize("views", ["states", "pixels"])
def test_seq_jepa_pretrains_on_offline_trajectories_and_probes_path_integration(tmp_path, views):
    cfg = config(
        tmp_path,
        f"data.views={views}",
        "data.image_size=16",
        f"dataset.cache_dir={tmp_path / 'cache'}",
        f"dataset.data_dir={tmp_path / 'data'}",
        data=TINY_TRAJECTORIES,
    )
    results = pretrain(cfg, tmp_path / "run")
    assert set(results) >= {"position_r2_views1", "position_r2_views3", "displacement_r2_views3", "action_r2"}
    assert "displacement_r2_views1" not in results  # no displacement after a single view
    assert all(math.isfinite(v) for k, v in results.items() if k.endswith(tuple("0123456789")) or k == "action_r2")
    assert results["data"]["view_shape"] == ([3, 16, 16] if views == "pixels" else [2])
    assert results["data"]["action_dim"] == 2 * 2  # stride 2 × pointmaze's 2-d action
    saved = json.loads((tmp_path / "run" / "checkpoints" / "step000000003" / "config.json").read_text())
    assert saved["dims"]["view_shape"] == results["data"]["view_shape"]


def test_supervised_rotation_reference_needs_rotation_labels(tmp_path):
    results = pretrain(config(tmp_path, "objective.loss=supervised_rotation"), tmp_path / "run")
    assert results["objective"] == "supervised_rotation" and math.isfinite(results["relative_rotation_r2"])
    with pytest.raises(ValueError, match="needs rotation labels"):
        pretrain(config(tmp_path, "objective.loss=supervised_rotation", data=TINY_TRAJECTORIES), tmp_path / "run2")
    with pytest.raises(ValueError, match="unknown objective.loss='mae'"):
        pretrain(config(tmp_path, "objective.loss=mae"), tmp_path / "run3")


@pytest.mark.parametrize("data", [tuple(VIEWS3D), tuple(TINY_TRAJECTORIES)], ids=["views3d", "trajectories"])
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, capsys, data):
    extra = ("train.steps=5", "train.log_every=1", "train.checkpoint_every=2", "train.keep_checkpoints=10")
    cache = (f"dataset.cache_dir={tmp_path / 'cache'}", f"dataset.data_dir={tmp_path / 'official'}")
    pretrain(config(tmp_path, *extra, *cache, data=data), tmp_path / "full")
    interrupted = interrupted_copy(tmp_path / "full", tmp_path / "interrupted", at=2)
    capsys.readouterr()
    pretrain(config(tmp_path, *extra, *cache, "resume=true", data=data), interrupted)
    out = capsys.readouterr().out
    assert "step000000002 at step 2" in out
    assert "step 3:" in out and "step 2:" not in out.split("resumed from")[1]  # continues, does not start over
    assert_same_weights(tmp_path / "full", interrupted, 5)  # the batch stream continues too (its generator is saved)


def test_resume_refuses_other_settings(tmp_path):
    pretrain(config(tmp_path, "train.checkpoint_every=3"), tmp_path / "run")
    with pytest.raises(ValueError, match=r"cannot resume .*objective.views: 2 → 1"):
        pretrain(config(tmp_path, "train.steps=5", "objective.views=1", "resume=true"), tmp_path / "run")
