"""Tiny behaviour-cloning, seq-JEPA, vision-JEPA, T-JEPA and AD-L-JEPA checkpoints shared by their tests and the encoder matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny import (
    TINY_ENV_STATES,
    TINY_MAZE_LIDAR,
    TINY_SEQ_JEPA,
    TINY_T_JEPA,
    TINY_TRAJECTORIES,
    bc_overrides,
    compose_bc,
    compose_pretrain,
    vision_overrides,
)


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
    pretrain(
        compose_pretrain(
            [
                *TINY_SEQ_JEPA,
                *TINY_TRAJECTORIES,
                f"dataset.cache_dir={cache}",
                f"dataset.data_dir={cache / 'official'}",
                f"data.cache_dir={cache}",
            ]
        ),
        root / "run",
    )
    return root / "run"


def _vision_checkpoint(tmp_path_factory, representation: str, *extra: str) -> Path:
    """Run folder of a 6-update vision JEPA pretrained on 64 px point_mass_maze frames (the matrix's dmc-pixels env)."""
    from agents.pretrain import pretrain

    root, cache = tmp_path_factory.mktemp(f"{representation}-checkpoint"), tmp_path_factory.getbasetemp() / "matrix-data"
    pretrain(
        compose_pretrain(
            vision_overrides(representation, cache, "env.domain=point_mass_maze", "env.obs=pixels", "data.image_size=64", *extra)
        ),
        root / "run",
    )
    return root / "run"


@pytest.fixture(scope="session")
def vjepa_checkpoint(tmp_path_factory) -> Path:
    """V-JEPA on clips of 3 frames: the agent's 3-frame stack is encoded as one clip."""
    return _vision_checkpoint(tmp_path_factory, "vjepa", "objective.patch_size=16", "data.clip_length=3", "objective.tubelet=3")


@pytest.fixture(scope="session")
def salt_checkpoint(tmp_path_factory) -> Path:
    return _vision_checkpoint(tmp_path_factory, "salt", "objective.patch_size=16")


@pytest.fixture(scope="session")
def dmt_jepa_checkpoint(tmp_path_factory) -> Path:
    return _vision_checkpoint(tmp_path_factory, "dmt_jepa", "objective.patch_size=8")


@pytest.fixture(scope="session")
def t_jepa_checkpoint(tmp_path_factory) -> Path:
    """Run folder of a 4-update T-JEPA pretrained on pointmaze-medium states (the matrix's ogbench-states env)."""
    from agents.pretrain import pretrain

    root, cache = tmp_path_factory.mktemp("t-jepa-checkpoint"), tmp_path_factory.getbasetemp() / "matrix-data"
    pretrain(
        compose_pretrain(
            [*TINY_T_JEPA, *TINY_ENV_STATES, f"dataset.cache_dir={cache}", f"dataset.data_dir={cache / 'official'}"]
        ),
        root / "run",
    )
    return root / "run"


@pytest.fixture(scope="session")
def ad_l_jepa_checkpoint(tmp_path_factory) -> Path:
    """Run folder of a 4-update AD-L-JEPA pretrained on pointmaze-medium LiDAR scans (the matrix's ogbench-lidar env)."""
    from agents.pretrain import pretrain

    root, cache = tmp_path_factory.mktemp("ad-l-jepa-checkpoint"), tmp_path_factory.getbasetemp() / "matrix-data"
    pretrain(
        compose_pretrain([*TINY_MAZE_LIDAR, f"dataset.cache_dir={cache}", f"dataset.data_dir={cache / 'official'}"]), root / "run"
    )
    return root / "run"
