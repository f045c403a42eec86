"""python -m agents.pretrain objective=vjepa|salt|dmt_jepa data=frames: stages, FLOP counts and budgets,
state probes, checkpoints usable as frozen encoders, resuming, and clear errors (tiny budgets)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file
from tensordict import TensorDict
from tiny import TINY_SEQ_JEPA, compose_pretrain, vision_overrides

from agents.pretrain import pretrain
from agents.pretrain_vision import FlopCounter, state_probes
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
    with pytest.raises(ValueError, match=r"pretrains on images: use data=frames .* or data=views3d .*, got data=lidar"):
        pretrain(compose_pretrain(["objective=vjepa", "data=lidar"]), tmp_path / "b")
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


TINY_VIEWS3D = [
    "data=views3d",
    "data.classes=[l_shape,mug,chair]",
    "data.instances_per_class=4",
    "data.views_per_instance=3",
    "data.image_size=32",
    "data.val_fraction=0.25",
    "data.test_fraction=0.25",
    "data.part_maps=true",
]


@pytest.mark.parametrize("representation", ["vjepa", "salt"])
def test_pretrains_on_rendered_object_views_and_probes_class_and_orientation(representation, cache, tmp_path):
    results = run(representation, cache, tmp_path / "run", *TINY_VIEWS3D)
    assert results["data"]["env"] == "views3d" and results["data"]["class_columns"] == [0, 3]
    assert (results["data"]["train_steps"], results["data"]["test_steps"]) == (18, 9)  # 6 / 3 objects × 3 views
    for probe in ("linear", "attentive"):
        assert math.isfinite(results[f"rotation_r2_{probe}"])
        correct = 9 * results[f"class_top1_{probe}"]  # a share of the 9 test views
        assert correct == pytest.approx(round(correct), abs=1e-5) and 0 <= correct <= 9
    assert 0 <= results["part_miou_linear"] <= 1 and 0 <= results["part_accuracy_linear"] <= 1  # local semantics
    assert [len(v) for v in results["r2_per_column"].values()] == [7] * len(results["r2_per_column"])
    _, config = load_vision_jepa(tmp_path / "run")
    assert config["dims"] == {"image_size": 32, "frames": 1, "state_dim": 7}
    assert ("teacher_class_top1_linear" in results) is (representation == "salt")


class TokensArePixels(torch.nn.Module):
    """A stand-in encoder: one token, the frame's first pixel row."""

    def encode(self, pixels: torch.Tensor, pool: bool = False) -> torch.Tensor:
        return pixels[:, 0, 0, :].float()[:, None, :]


def labelled_split(labels: list[int], generator: torch.Generator) -> TensorDict:
    """Frames whose first pixel is the label and the rest noise; targets: one-hot of 2 classes, then 4 noise columns."""
    n = len(labels)
    pixels = torch.randint(0, 256, (n, 3, 4, 4), generator=generator, dtype=torch.uint8)
    pixels[:, 0, 0, 0] = torch.tensor(labels, dtype=torch.uint8) * 100
    target = torch.cat([torch.nn.functional.one_hot(torch.tensor(labels), 2).float(), torch.randn(n, 4, generator=generator)], 1)
    return TensorDict(
        {
            "pixels": pixels,
            "state": target,
            "target": target,
            "episode": torch.arange(n),
            "step": torch.zeros(n, dtype=torch.long),
        },
        batch_size=[n],
    )


def test_class_top1_is_the_argmax_of_the_class_columns_against_the_true_label():
    g = torch.Generator().manual_seed(0)
    info = {"clip_length": 1, "class_columns": [0, 2], "target_columns": {"rotation": [2, 6]}}
    probe = OmegaConf.create({"frames": 200, "heads": 1, "steps": 300, "lr": 1e-2, "batch_size": 64})
    splits = {name: labelled_split([i % 2 for i in range(200)], g) for name in ("train", "val", "test")}
    results, _ = state_probes(TokensArePixels(), splits, info, probe, torch.device("cpu"), contextlib.nullcontext)
    assert results["class_top1_linear"] == 1.0 and results["class_top1_attentive"] == 1.0
    assert results["rotation_r2_linear"] < 0.1  # the noise columns are not readable
    # the same features with the test labels swapped: every prediction is now wrong
    swapped = labelled_split([i % 2 for i in range(200)], g)
    swapped["target"][:, :2] = swapped["target"][:, :2].flip(1)
    results, _ = state_probes(
        TokensArePixels(), {**splits, "test": swapped}, info, probe, torch.device("cpu"), contextlib.nullcontext
    )
    assert results["class_top1_linear"] == 0.0 and results["class_top1_attentive"] == 0.0
