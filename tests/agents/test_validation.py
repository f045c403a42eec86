"""Bad command-line values get one message naming the key, the problem and an example, before any work."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from agents.validation import validate_config

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"seed": 0, "device": "auto", "train": {"steps": 10, "log_every": 5, "eval_every": 0, "checkpoint_every": 5,
                                               "keep_checkpoints": 2},
        "dataset": {"batch_size": 32}, "eval": {"episodes": 1, "inference_samples": 100}, "env": {"family": "ogbench"}}


def with_value(key: str, value):
    cfg = OmegaConf.create(GOOD)
    OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def test_good_config_passes():
    validate_config(OmegaConf.create(GOOD))
    validate_config(with_value("device", "cuda:1"))
    validate_config(OmegaConf.create({"train": {"steps": 0}}))  # absent keys are not checked; 0 steps = evaluate only


@pytest.mark.parametrize("key, value, message", [
    ("train.steps", "abc", r"train.steps must be an integer >= 0, got 'abc'; e.g. train.steps=3000"),
    ("train.steps", -5, r"train.steps must be >= 0, got -5"),
    ("dataset.batch_size", -1, r"dataset.batch_size must be >= 2, got -1"),
    ("eval.episodes", 0, r"eval.episodes must be >= 1, got 0"),
    ("device", "tpu", r"device must be auto, cpu, cuda or cuda:<index>, got 'tpu'"),
    ("train.log_every", True, r"train.log_every must be an integer"),
])
def test_bad_values_name_key_problem_and_fix(key, value, message):
    with pytest.raises(ValueError, match=message):
        validate_config(with_value(key, value))


def test_unknown_dmc_domain_is_named_before_its_discount_is_looked_up():
    cfg = OmegaConf.create({"env": {"family": "dmc", "domain": "hopper", "discount": "${.discounts.${.domain}}",
                                    "discounts": {"walker": 0.98}}})
    with pytest.raises(ValueError, match=r"env.domain='hopper' is not a DMC domain.*point_mass_maze.*env.domain=walker"):
        validate_config(cfg)


def test_entry_point_prints_one_line_and_exits_2(tmp_path):
    env = dict(os.environ, MUJOCO_GL="egl", WANDB_MODE="offline")
    proc = subprocess.run([sys.executable, "-m", "agents.zeroshot", "train.steps=abc", f"hydra.run.dir={tmp_path / 'r'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: train.steps must be an integer >= 0, got 'abc'" in proc.stderr and "Traceback" not in proc.stderr


def test_plus_additions_to_closed_groups_are_rejected():
    from agents.validation import validate_overrides

    cfg = OmegaConf.create({**GOOD, "representation": {"loss": {"gamma": 0.9}}})
    OmegaConf.update(cfg, "train.stepz", 10, force_add=True)
    with pytest.raises(ValueError, match=r"train.stepz is not a setting of train .*\['checkpoint_every', 'eval_every', "
                                         r"'keep_checkpoints', 'log_every', 'steps'\]"):
        validate_overrides(["seed=1", "+train.stepz=10"], cfg)
    validate_overrides(["+representation.loss.new_term=1.0", "++train.steps=5", "train.steps=5"], cfg)  # open / forced
