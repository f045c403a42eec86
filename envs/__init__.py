"""Environment families for zero-shot RL evaluation.

``make_task_suite(env_cfg)`` and ``make_dataset(dataset_cfg)`` are the entry points used by the
agents: both dispatch on the sub-config's ``family``.
"""

from __future__ import annotations

import envs.gl_backend  # noqa: F401  (first: a missing MUJOCO_GL backend matters only when rendering)

from typing import Any

from envs.common import TaskSuite, cfg_get

__all__ = ["TaskSuite", "make_task_suite", "make_dataset", "make_demonstrations", "FAMILIES"]

FAMILIES = ("ogbench", "dmc")


def make_task_suite(env_cfg: Any) -> TaskSuite:
    """Build the :class:`TaskSuite` described by the ``env`` sub-config (needs ``family``)."""
    family = cfg_get(env_cfg, "family")
    if family == "ogbench":
        from envs.ogbench import OGBenchTaskSuite

        return OGBenchTaskSuite.from_config(env_cfg)
    if family == "dmc":
        from envs.dmc import DMCTaskSuite

        return DMCTaskSuite.from_config(env_cfg)
    raise ValueError(f"Unknown environment family {family!r}; valid families: {list(FAMILIES)}")


def make_dataset(dataset_cfg: Any) -> tuple[Any, Any]:
    """Build the (train, validation) replay buffers described by the ``dataset`` sub-config."""
    family = cfg_get(dataset_cfg, "family")
    if family == "ogbench":
        from envs.ogbench import load_ogbench_dataset

        return load_ogbench_dataset(dataset_cfg)
    if family == "dmc":
        from envs.dmc import load_dmc_dataset

        return load_dmc_dataset(dataset_cfg)
    raise ValueError(f"Unknown dataset family {family!r}; valid families: {list(FAMILIES)}")


def make_demonstrations(dataset_cfg: Any) -> tuple[Any, Any, dict]:
    """(train, validation, info) demonstration buffers of action-chunk windows (``dataset=demos``)."""
    family = cfg_get(dataset_cfg, "family")
    if family == "ogbench_demos":
        from envs.ogbench.demos import load_demonstrations

        return load_demonstrations(dataset_cfg)
    raise ValueError(f"dataset family {family!r} has no demonstrations; behaviour cloning uses dataset=demos "
                     "(scripted-oracle OGBench demonstrations)")
