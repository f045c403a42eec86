"""Tiny behaviour-cloning and seq-JEPA checkpoints shared by their tests and the encoder matrix."""
from __future__ import annotations

from pathlib import Path

import pytest
from tiny import TINY_SEQ_JEPA, TINY_TRAJECTORIES, bc_overrides, compose_bc, compose_pretrain


@pytest.fixture(scope="session")
def bc_checkpoint(tmp_path_factory) -> Path:
    """Run folder of a 4-update ACT-JEPA policy on pointmaze-medium demonstrations."""
    from agents.bc import train_bc

    root = tmp_path_factory.mktemp("bc-checkpoint")
    train_bc(compose_bc(bc_overrides("act_jepa", tmp_path_factory.getbasetemp() / "demo-cache")), root / "run")
    return root / "run"


@pytest.fixture(scope="session")
def seq_jepa_checkpoint(tmp_path_factory) -> Path:
    """Run folder of a 3-update seq-JEPA pretrained on pointmaze-medium state trajectories."""
    from agents.pretrain import pretrain

    root, cache = tmp_path_factory.mktemp("seq-jepa-checkpoint"), tmp_path_factory.getbasetemp() / "matrix-data"
    pretrain(compose_pretrain([*TINY_SEQ_JEPA, *TINY_TRAJECTORIES, f"dataset.cache_dir={cache}",
                               f"dataset.data_dir={cache / 'official'}", f"data.cache_dir={cache}"]), root / "run")
    return root / "run"
