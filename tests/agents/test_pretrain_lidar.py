"""python -m agents.pretrain objective=ad_l_jepa|occupancy_mae data=lidar: pretraining, downstream
segmentation and position probes, resume, and the LiDAR encoder for agents (issue #8)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny import TINY_LIDAR, TINY_MAZE_LIDAR, assert_same_weights, compose_pretrain, interrupted_copy

from agents.pretrain import pretrain
from agents.pretrain_lidar import collapse_checks, segmentation_iou
from representations.ad_l_jepa.encoder import load_lidar_encoder
from representations.encoders import make_encoder

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path, *extra, base=TINY_LIDAR):
    return compose_pretrain([*base, f"data.cache_dir={tmp_path / 'cache'}", f"dataset.cache_dir={tmp_path / 'cache'}", *extra])


def test_segmentation_iou_matches_a_hand_count():
    labels = torch.tensor([[[0, 1], [2, 2]]])  # one 2x2 scene
    predicted = torch.tensor([[[0, 1], [1, 2]]])
    logits = torch.nn.functional.one_hot(predicted, 4).permute(0, 3, 1, 2).float()
    iou = segmentation_iou(lambda bev: logits[: len(bev)], torch.zeros(1, 1, 2, 2), labels, 4)
    # class 0: 1 hit / 1; class 1: 1 hit / (1 label + 2 predicted - 1); class 2: 1 / (2 + 1 - 1); class 3: absent
    torch.testing.assert_close(iou[:3], torch.tensor([1.0, 0.5, 0.5], dtype=torch.float64))
    assert math.isnan(iou[3])


def test_collapse_checks_separate_a_line_from_a_cloud():
    line = torch.linspace(-1, 1, 100)[:, None] * torch.ones(1, 8)
    assert collapse_checks(line)["effective_rank"] == pytest.approx(1.0, abs=1e-3)
    cloud = collapse_checks(torch.randn(2000, 8, generator=torch.Generator().manual_seed(0)))
    assert 7.5 < cloud["effective_rank"] <= 8.0 and cloud["feature_std"] == pytest.approx(1.0, abs=0.05)
    assert collapse_checks(torch.ones(50, 8))["feature_std"] == 0.0


@pytest.mark.parametrize("representation", ["ad_l_jepa", "occupancy_mae"])
def test_lidar_pretraining_reports_segmentation_at_every_label_share(tmp_path, representation):
    results = pretrain(config(tmp_path, f"objective={representation}"), tmp_path / "run")
    assert {"miou_1pct", "miou_10pct", "miou_100pct", "feature_std", "effective_rank"} <= set(results)
    assert all(0.0 <= results[f"miou_{mode}{k}"] <= 1.0 for k in ("1pct", "10pct", "100pct") for mode in ("", "frozen_"))
    assert results["segmentation_frozen"]["100pct"]["train_scenes"] == 20
    segmentation = results["segmentation"]
    assert [segmentation[k]["train_scenes"] for k in ("1pct", "10pct", "100pct")] == [1, 2, 20]  # of 20 train scenes
    assert set(segmentation["100pct"]["iou"]) == {"background", "car", "pedestrian", "cyclist", "wall_pole"}
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["step"] == 4 and saved["data"]["source"] == "scenes"
    if representation == "ad_l_jepa":  # the JEPA logs collapse diagnostics; the reconstruction baseline has none
        assert saved["collapse"] and {"feature_rankme", "target_rankme", "prediction_std"} <= set(saved["collapse"][-1])
    weights = load_file(str(tmp_path / "run" / "checkpoints" / "step000000004" / "model.safetensors"))
    assert any(k.startswith("target.") for k in weights) is (representation == "ad_l_jepa")
    encoder, cfg = load_lidar_encoder(tmp_path / "run")
    assert cfg["dims"] == {"in_channels": 12, "grid_shape": [12, 16, 16]}
    assert encoder.encode_pooled(torch.rand(3, 12, 16, 16)).shape == (3, 16)


def test_the_ad_l_jepa_encoder_is_its_ema_target(tmp_path):
    pretrain(config(tmp_path, "objective=ad_l_jepa"), tmp_path / "run")
    weights = load_file(str(tmp_path / "run" / "checkpoints" / "step000000004" / "model.safetensors"))
    target, _ = load_lidar_encoder(tmp_path / "run")
    online, _ = load_lidar_encoder(tmp_path / "run", part="online")
    key = next(k for k in weights if k.startswith("target.") and k.endswith("conv.weight"))
    inner = key.removeprefix("target.")
    torch.testing.assert_close(target.backbone.state_dict()[inner], weights[key])
    assert not torch.equal(online.backbone.state_dict()[inner], weights[key])


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, capsys):
    extra = (
        "objective=ad_l_jepa",
        "train.steps=6",
        "train.checkpoint_every=2",
        "train.keep_checkpoints=10",
        "data.downstream.fractions=[1.0]",
    )
    pretrain(config(tmp_path, *extra), tmp_path / "full")
    interrupted = interrupted_copy(tmp_path / "full", tmp_path / "interrupted", at=2)
    capsys.readouterr()
    pretrain(config(tmp_path, *extra, "resume=true"), interrupted)
    assert "at step 2" in capsys.readouterr().out
    assert_same_weights(tmp_path / "full", interrupted, 6)


def test_maze_scans_pretrain_an_encoder_for_lidar_agents(tmp_path):
    results = pretrain(config(tmp_path, base=TINY_MAZE_LIDAR), tmp_path / "run")
    assert results["data"]["source"] == "maze" and math.isfinite(results["position_r2"])
    encoder, feature_dim = make_encoder({"name": "ad_l_jepa", "checkpoint": str(tmp_path / "run")}, (12, 32, 32))
    assert feature_dim == 16 and not any(p.requires_grad for p in encoder.parameters())
    grids = torch.rand(2, 5, 12, 32, 32)
    assert encoder(grids).shape == (2, 5, 16)
    encoder.train()
    assert not encoder.encoder.training  # frozen: BatchNorm keeps its pretraining statistics
    with pytest.raises(
        ValueError,
        match=r"reads BEV grids of shape \[12, 32, 32\] but this environment's observations "
        r"have shape \[2\]: use env.obs=lidar",
    ):
        make_encoder({"name": "ad_l_jepa", "checkpoint": str(tmp_path / "run")}, (2,))
    with pytest.raises(ValueError, match="encoder=ad_l_jepa needs encoder.checkpoint="):
        make_encoder({"name": "ad_l_jepa", "checkpoint": None}, (12, 32, 32))


def test_wrong_combinations_fail_with_clear_messages(tmp_path):
    with pytest.raises(ValueError, match="objective=ad_l_jepa pretrains on LiDAR BEV grids: use data=lidar"):
        pretrain(compose_pretrain(["objective=ad_l_jepa", "logger.backend=none"]), tmp_path / "run")
    with pytest.raises(ValueError, match=r"data=lidar is for objective=ad_l_jepa\|occupancy_mae"):
        pretrain(compose_pretrain(["objective=seq_jepa", "data=lidar", "logger.backend=none"]), tmp_path / "run")
    with pytest.raises(ValueError, match=r"unknown data.downstream.modes \['linear'\]"):
        pretrain(config(tmp_path, "data.downstream.modes=[linear]"), tmp_path / "run")
    with pytest.raises(ValueError, match="unknown data.source='street'"):
        pretrain(config(tmp_path, "data.source=street"), tmp_path / "run")
    with pytest.raises(ValueError, match="env.obs=lidar needs a maze environment"):
        pretrain(config(tmp_path, "env.name=cube-single-play", base=TINY_MAZE_LIDAR), tmp_path / "run")


def test_cli_runs_as_a_user_types_it(tmp_path):
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline"}
    cmd = [
        sys.executable,
        "-m",
        "agents.pretrain",
        "objective=ad_l_jepa",
        *TINY_LIDAR,
        "data.downstream.fractions=[1.0]",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ad_l_jepa on LiDAR scenes after 4 updates" in proc.stdout and "| miou_100pct |" in proc.stdout
