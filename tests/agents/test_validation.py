"""Bad command-line values get one message naming the key, the problem and an example, before any work."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from agents.validation import validate_config

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "seed": 0,
    "device": "auto",
    "train": {"steps": 10, "log_every": 5, "eval_every": 0, "checkpoint_every": 5, "keep_checkpoints": 2},
    "dataset": {"batch_size": 32},
    "eval": {"episodes": 1, "inference_samples": 100},
    "env": {"family": "ogbench"},
}


def with_value(key: str, value):
    cfg = OmegaConf.create(GOOD)
    OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def test_good_config_passes():
    validate_config(OmegaConf.create(GOOD))
    validate_config(with_value("device", "cuda:1"))
    validate_config(OmegaConf.create({"train": {"steps": 0}}))  # absent keys are not checked; 0 steps = evaluate only


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("train.steps", "abc", r"train.steps must be an integer >= 0, got 'abc'; e.g. train.steps=3000"),
        ("train.steps", -5, r"train.steps must be >= 0, got -5"),
        ("dataset.batch_size", -1, r"dataset.batch_size must be >= 2, got -1"),
        ("eval.episodes", 0, r"eval.episodes must be >= 1, got 0"),
        ("device", "tpu", r"device must be auto, cpu, cuda or cuda:<index>, got 'tpu'"),
        ("train.log_every", True, r"train.log_every must be an integer"),
    ],
)
def test_bad_values_name_key_problem_and_fix(key, value, message):
    with pytest.raises(ValueError, match=message):
        validate_config(with_value(key, value))


def test_unknown_dmc_domain_is_named_before_its_discount_is_looked_up():
    cfg = OmegaConf.create(
        {"env": {"family": "dmc", "domain": "hopper", "discount": "${.discounts.${.domain}}", "discounts": {"walker": 0.98}}}
    )
    with pytest.raises(ValueError, match=r"env.domain='hopper' is not a DMC domain.*point_mass_maze.*env.domain=walker"):
        validate_config(cfg)


def run_cli(module: str, *args: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MUJOCO_GL="egl", WANDB_MODE="offline")
    return subprocess.run(
        [sys.executable, "-m", module, *args, f"hydra.run.dir={tmp_path / 'r'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_entry_point_prints_one_line_and_exits_2(tmp_path):
    proc = run_cli("agents.zeroshot", "train.steps=-5", tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "error: train.steps must be >= 0, got -5; e.g. train.steps=3000" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "module, override, schema",
    [
        ("agents.zeroshot", "train.steps=abc", "ZeroShotTrain"),
        ("agents.bc", "eval.episodes=many", "EpisodesEval"),
        ("agents.pretrain", "train.log_every=1.5", "PretrainTrain"),
    ],
)
def test_wrong_types_stop_while_composing(tmp_path, module, override, schema):
    """The schemas (agents/engine/schema.py) make Hydra refuse a value of the wrong type before the run starts."""
    proc = run_cli(module, override, tmp_path=tmp_path)
    key, value = override.split("=")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (
        f"Value '{value}' of type 'str' could not be converted to Integer" in proc.stderr
        or "could not be converted" in proc.stderr
    )
    assert f"full_key: {key}" in proc.stderr and f"object_type={schema}" in proc.stderr
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_misspelt_keys_stop_while_composing(tmp_path):
    proc = run_cli("agents.bc", "train.stepz=10", tmp_path=tmp_path)
    assert proc.returncode == 1 and "Key 'stepz' not in 'TrainConfig'" in proc.stderr and "Traceback" not in proc.stderr


def test_choices_are_checked_by_name():
    from agents.engine.schema import BCConfig, PretrainConfig, ZeroShotConfig

    with pytest.raises(
        ValueError,
        match=r"logger.backend must be one of \['wandb', 'csv', 'none'\], got 'tensorboard'; "
        r"e.g. logger.backend=csv",
    ):
        validate_config(with_value("logger.backend", "tensorboard"))
    for schema in (ZeroShotConfig, BCConfig, PretrainConfig):  # one precision knob, with the same values everywhere
        with pytest.raises(ValueError, match=r"train.precision must be one of \['auto', 'fp32', 'bf16'\], got 'fp16'"):
            validate_config(with_value("train.precision", "fp16"), schema)
        validate_config(with_value("train.precision", "auto"), schema)


def test_plus_additions_to_closed_groups_are_rejected():
    from agents.validation import validate_overrides

    cfg = OmegaConf.create({**GOOD, "representation": {"loss": {"gamma": 0.9}}})
    OmegaConf.update(cfg, "train.stepz", 10, force_add=True)
    with pytest.raises(
        ValueError,
        match=r"train.stepz is not a setting of train .*\['checkpoint_every', 'eval_every', "
        r"'keep_checkpoints', 'log_every', 'steps'\]",
    ):
        validate_overrides(["seed=1", "+train.stepz=10"], cfg)
    validate_overrides(["+representation.loss.new_term=1.0", "++train.steps=5", "train.steps=5"], cfg)  # open / forced


@pytest.mark.parametrize(
    "entry, arg, fix",
    [
        ("pretrain", "representation=seq_jepa", "write objective=seq_jepa"),
        ("pretrain", "representation.action_conditioning=false", "write objective.action_conditioning=false"),
        ("bc", "+representation.chunk=4", "write policy.chunk=4"),
    ],
)
def test_groups_under_their_old_name_get_the_new_name(entry, arg, fix, capsys):
    from agents.engine import refuse_moved_groups

    with pytest.raises(SystemExit) as exit_info:
        refuse_moved_groups(entry, ["prog", "seed=1", arg])
    assert exit_info.value.code == 2 and fix in capsys.readouterr().err
    refuse_moved_groups(entry, ["prog", "objective=t_jepa", "policy=act", "data.representation=x"])  # nothing moved
    refuse_moved_groups("zeroshot", ["prog", arg])  # zero-shot representations keep their group


@pytest.mark.parametrize("shares", ["[0.0,1.0]", "[1.5]", "[]"])
def test_label_fractions_must_be_shares(shares):
    from tiny import compose_pretrain

    from agents.engine.schema import PretrainConfig

    validate_config(compose_pretrain(["objective=t_jepa", "data=table", "probe.label_fractions=[0.01,1.0]"]), PretrainConfig)
    with pytest.raises(ValueError, match=r"probe.label_fractions must be a list of shares in \(0, 1\]"):
        validate_config(compose_pretrain(["objective=t_jepa", "data=table", f"probe.label_fractions={shares}"]), PretrainConfig)
