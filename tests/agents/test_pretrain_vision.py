"""python -m agents.pretrain objective=vjepa|salt|dmt_jepa data=frames: stages, FLOP counts and budgets,
state probes, checkpoints usable as frozen encoders, resuming, and clear errors (tiny budgets)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny import TINY_SEQ_JEPA, compose_pretrain, vision_overrides

from agents.pretrain import pretrain
from agents.pretrain_vision import FlopCounter
from representations.encoders import make_encoder
from representations.encoders.vision import VisionJEPAEncoder, load_vision_jepa

ROOT = Path(__file__).resolve().parents[2]
PROBES = {f"{quantity}_r2_{probe}" for quantity in ("orientations", "height", "velocity") for probe in ("linear", "attentive")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vision-data")


def run(representation: str, cache: Path, run_dir: Path, *extra: str) -> dict:
    return pretrain(compose_pretrain(vision_overrides(representation, cache, *extra)), run_dir)


@pytest.mark.parametrize("representation", ["vjepa", "dmt_jepa", "salt"])
def test_pretrains_on_frames_counts_flops_probes_and_checkpoints_an_encoder(representation, cache, tmp_path):
    results = run(representation, cache, tmp_path / "run")
    stages = results["stages"]
    assert list(stages) == (["teacher", "student"] if representation == "salt" else ["pretrain"])
    if representation == "salt":  # teacher_fraction 0.2 of 6 updates
        assert stages["teacher"]["updates"] == 1 and stages["student"]["updates"] == 5
        assert {f"teacher_{k}" for k in PROBES} <= set(results)
    assert sum(s["updates"] for s in stages.values()) == results["step"] == 6
    assert all(s["flops_per_update"] > 0 and s["flops"] == s["flops_per_update"] * s["updates"] for s in stages.values())
    assert results["pretrain_flops"] == sum(s["flops"] for s in stages.values())
    assert PROBES <= set(results) and all(math.isfinite(results[k]) for k in PROBES)  # walker's observation groups
    assert [len(v) for v in results["r2_per_column"].values()] == [24] * len(results["r2_per_column"])
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["pretrain_flops"] == results["pretrain_flops"]
    # collapse diagnostics of every stage that predicts latents, at every log step, in the report
    collapse = results["collapse"]
    assert collapse and all(c["step"] <= results["step"] for c in collapse)
    assert all({"feature_rankme", "target_rankme"} <= set(c) for c in collapse if c["stage"] != "teacher")
    # the checkpoint rebuilds without the training code; the agent's encoder is its frozen encode()
    model, config = load_vision_jepa(tmp_path / "run")
    assert config["dims"] == {"image_size": 32, "frames": 1, "state_dim": 18}
    encoder, feature_dim = make_encoder({"name": representation, "checkpoint": str(tmp_path / "run")}, (9, 32, 32))
    assert feature_dim == 3 * model.feature_dim == 48
    frames = torch.randint(0, 256, (2, 9, 32, 32), dtype=torch.uint8)
    expected = torch.cat([model.encode(frames[:, 3 * i : 3 * i + 3]) for i in range(3)], dim=1)
    torch.testing.assert_close(encoder(frames), expected)
    assert not any(p.requires_grad for p in encoder.parameters())


def test_a_flop_budget_sets_the_updates_of_each_stage(cache, tmp_path):
    per_update = run("vjepa", cache, tmp_path / "steps")["stages"]["pretrain"]["flops_per_update"]
    budget = run("vjepa", cache, tmp_path / "budget", f"train.flops={3.5 * per_update}")
    assert budget["stages"]["pretrain"]["updates"] == 3 and budget["pretrain_flops"] == 3 * per_update
    salt = run("salt", cache, tmp_path / "salt", "train.flops=1e9", "objective.teacher_fraction=0.5")["stages"]
    for stage in ("teacher", "student"):
        assert salt[stage]["updates"] == int(0.5e9 // salt[stage]["flops_per_update"]) > 0


def test_flop_counter_matches_a_hand_count():
    layer, x = torch.nn.Linear(4, 3), torch.randn(5, 4)
    with FlopCounter() as counter:
        layer(x).sum().backward()
    assert counter.total == 2 * (2 * 5 * 4 * 3)  # forward product, gradient of the weight
    with FlopCounter() as counter:
        layer(x.requires_grad_()).sum().backward()
    assert counter.total == 3 * (2 * 5 * 4 * 3)  # and of the input


def test_salt_teacher_does_not_change_in_stage_two_and_the_student_does(cache, tmp_path):
    run("salt", cache, tmp_path / "run", "train.checkpoint_every=1", "train.keep_checkpoints=10")
    end_of_teacher = load_file(str(tmp_path / "run" / "checkpoints" / "step000000001" / "model.safetensors"))
    final = load_file(str(tmp_path / "run" / "checkpoints" / "step000000006" / "model.safetensors"))
    start = load_file(str(tmp_path / "run" / "checkpoints" / "step000000002" / "model.safetensors"))
    for key, value in final.items():
        if key.startswith("teacher."):
            torch.testing.assert_close(value, end_of_teacher[key], msg=key)
    assert any(not torch.equal(final[k], start[k]) for k in final if k.startswith("student."))


def test_salt_teacher_encoder_is_selectable(cache, tmp_path):
    run("salt", cache, tmp_path / "run", "objective.teacher.dim=8", "objective.teacher.heads=1")
    teacher = VisionJEPAEncoder(tmp_path / "run", (3, 32, 32), part="teacher")
    student = VisionJEPAEncoder(tmp_path / "run", (3, 32, 32))
    assert teacher.feature_dim == 8 and student.feature_dim == 16  # independent sizes
    with pytest.raises(ValueError, match=r"has no part 'predictor'; choose one of \['teacher', 'student'\]"):
        VisionJEPAEncoder(tmp_path / "run", (3, 32, 32), part="predictor")


@pytest.mark.parametrize("cut", [2, 4])  # inside the teacher stage / inside the student stage
def test_an_interrupted_run_resumes_to_the_same_weights(cache, tmp_path, capsys, cut):
    extra = ("train.checkpoint_every=2", "train.keep_checkpoints=10", "objective.teacher_fraction=0.5")
    run("salt", cache, tmp_path / "full", *extra)
    interrupted = tmp_path / "interrupted"
    shutil.copytree(tmp_path / "full", interrupted)
    for step in range(cut + 1, 7):
        shutil.rmtree(interrupted / "checkpoints" / f"step{step:09d}", ignore_errors=True)
    (interrupted / "checkpoints" / "latest").write_text(f"step{cut:09d}")
    capsys.readouterr()
    resumed = run("salt", cache, interrupted, *extra, "resume=true")
    out = capsys.readouterr().out
    assert f"at update {cut}" in out and resumed["step"] == 6
    assert ("teacher step 3:" in out) is (cut < 3)  # the teacher is not trained again once finished
    full = load_file(str(tmp_path / "full" / "checkpoints" / "step000000006" / "model.safetensors"))
    again = load_file(str(interrupted / "checkpoints" / "step000000006" / "model.safetensors"))
    for key in full:
        torch.testing.assert_close(again[key], full[key], msg=key)


def test_clips_pretrain_and_encode_a_frame_stack_as_one_clip(cache, tmp_path):
    results = run("vjepa", cache, tmp_path / "run", "data.clip_length=3", "objective.tubelet=3")
    assert results["data"]["clip_length"] == 3 and math.isfinite(results["velocity_r2_attentive"])
    model, _ = load_vision_jepa(tmp_path / "run")
    encoder = VisionJEPAEncoder(tmp_path / "run", (9, 32, 32))
    frames = torch.randint(0, 256, (2, 9, 32, 32), dtype=torch.uint8)
    assert encoder.feature_dim == 16
    torch.testing.assert_close(encoder(frames), model.encode(frames.reshape(2, 3, 3, 32, 32).transpose(1, 2)))
    with pytest.raises(ValueError, match=r"pretrained on clips of 3 frames but observations stack 2: set env.frame_stack=3"):
        VisionJEPAEncoder(tmp_path / "run", (6, 32, 32))
    with pytest.raises(ValueError, match=r"reads 32x32 RGB frames, but this environment's observations have shape \[9, 64, 64\]"):
        VisionJEPAEncoder(tmp_path / "run", (9, 64, 64))
    with pytest.raises(ValueError, match=r"encoder=salt but .* holds a vjepa checkpoint: use encoder=vjepa"):
        make_encoder({"name": "salt", "checkpoint": str(tmp_path / "run")}, (9, 32, 32))


def test_wrong_combinations_fail_with_clear_messages(cache, tmp_path):
    with pytest.raises(ValueError, match="DMT-JEPA is an image method"):
        run("dmt_jepa", cache, tmp_path / "a", "data.clip_length=2")
    with pytest.raises(ValueError, match=r"pretrains on environment frames: use data=frames \(got data=views3d\)"):
        pretrain(compose_pretrain(["objective=vjepa", "data=views3d"]), tmp_path / "b")
    with pytest.raises(ValueError, match="data=frames is for the vision JEPAs"):
        pretrain(compose_pretrain([*TINY_SEQ_JEPA, "data=frames"]), tmp_path / "c")
    with pytest.raises(ValueError, match=r"teacher_fraction=1.0 must be in \(0, 1\)"):
        run("salt", cache, tmp_path / "d", "objective.teacher_fraction=1.0")
    with pytest.raises(ValueError, match=r"the val split has no frames \(clips\): use more episodes"):
        run("vjepa", cache, tmp_path / "e", "dataset.num_episodes=2")
    with pytest.raises(ValueError, match="encoder=vjepa needs encoder.checkpoint="):
        make_encoder({"name": "vjepa", "checkpoint": None}, (9, 64, 64))


def test_cli_runs_as_a_user_types_it(cache, tmp_path):
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline"}
    cmd = [sys.executable, "-m", "agents.pretrain", *vision_overrides("salt", cache), f"hydra.run.dir={tmp_path / 'run'}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stage teacher: 1 updates" in proc.stdout and "student step 5: loss_prediction=" in proc.stdout
    assert "| orientations_r2_attentive |" in proc.stdout and "| teacher_velocity_r2_linear |" in proc.stdout
