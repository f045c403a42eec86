"""Checkpoints written before the ``policy`` and ``objective`` groups (2026-12-06) kept the BC policy's and the
pretraining objective's settings under ``representation``; they still load, with the same weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from representations import migrate_config, read_checkpoint
from representations.act_jepa import load_bc_policy
from representations.ad_l_jepa.encoder import load_lidar_encoder
from representations.encoders.vision import load_vision_jepa
from representations.seq_jepa.encoder import load_seq_jepa
from representations.t_jepa.encoder import load_t_jepa


def as_old_checkpoint(run: Path, old: Path, group: str) -> Path:
    """A copy of ``run`` whose config.json files have the old layout: ``group`` written as ``representation``,
    with the inner ``objective`` field the seq-JEPA and LiDAR configs had then."""
    shutil.copytree(run, old)
    for path in old.rglob("config.json"):
        config = json.loads(path.read_text())
        settings = config.pop(group)
        if settings["name"] == "seq_jepa":
            settings["objective"] = settings.pop("loss")
        elif settings.get("kind") == "lidar":
            settings["objective"] = settings["name"]
        config["representation"] = settings
        path.write_text(json.dumps(config))
    return old


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


LOADERS = {
    "bc_checkpoint": ("policy", load_bc_policy),
    "seq_jepa_checkpoint": ("objective", load_seq_jepa),
    "t_jepa_checkpoint": ("objective", load_t_jepa),
    "ad_l_jepa_checkpoint": ("objective", load_lidar_encoder),
    "vjepa_checkpoint": ("objective", load_vision_jepa),
}


@pytest.mark.parametrize("fixture", sorted(LOADERS))
def test_an_old_checkpoint_loads_the_same_weights_under_its_new_group(fixture, request, tmp_path):
    group, load = LOADERS[fixture]
    run = request.getfixturevalue(fixture)
    new_model, new_config = load(run)
    old_model, old_config = load(as_old_checkpoint(run, tmp_path / "old", group))
    assert "representation" not in old_config and old_config[group] == new_config[group]
    assert same_state(old_model, new_model)


def test_migration_leaves_zero_shot_configs_and_new_configs_alone(bc_checkpoint):
    zeroshot = {"representation": {"name": "td_jepa", "z_dim": 8}, "seed": 0}
    assert migrate_config(zeroshot) == zeroshot
    _, config = read_checkpoint(bc_checkpoint, "agents.bc")
    assert migrate_config(config) == config and config["policy"]["name"] == "act_jepa"
    old_seq = {"representation": {"name": "seq_jepa", "objective": "supervised_rotation", "views": 3}}
    assert migrate_config(old_seq) == {"objective": {"name": "seq_jepa", "loss": "supervised_rotation", "views": 3}}
