"""A tiny behaviour-cloning checkpoint shared by the BC tests and the encoder matrix."""
from __future__ import annotations

from pathlib import Path

import pytest
from tiny import bc_overrides, compose_bc


@pytest.fixture(scope="session")
def bc_checkpoint(tmp_path_factory) -> Path:
    """Run folder of a 4-update ACT-JEPA policy on pointmaze-medium demonstrations."""
    from agents.bc import train_bc

    root = tmp_path_factory.mktemp("bc-checkpoint")
    train_bc(compose_bc(bc_overrides("act_jepa", tmp_path_factory.getbasetemp() / "demo-cache")), root / "run")
    return root / "run"
