"""Environment families for zero-shot RL evaluation.

``make_task_suite(env_cfg)`` and ``make_dataset(dataset_cfg)`` are the entry points used by the
agents: both dispatch on the sub-config's ``family``.
"""

from __future__ import annotations

import envs.gl_backend  # noqa: F401  (first: a missing MUJOCO_GL backend matters only when rendering)

import importlib
from typing import Any

from envs.common import TaskSuite, cfg_get

__all__ = ["DATASETS", "FAMILIES", "TaskSuite", "dataset_class", "make_dataset", "make_demonstrations", "make_task_suite"]

# family → (task suite class, offline dataset loader), as "module:attribute" (imported on use: each family has heavy
# dependencies of its own). A new family registers here; the agents never name one.
FAMILIES: dict[str, tuple[str, str]] = {
    "ogbench": ("envs.ogbench:OGBenchTaskSuite", "envs.ogbench:load_ogbench_dataset"),
    "dmc": ("envs.dmc:DMCTaskSuite", "envs.dmc:load_dmc_dataset"),
}
# dataset family → demonstration loader (behaviour cloning)
DEMONSTRATIONS: dict[str, str] = {"ogbench_demos": "envs.ogbench.demos:load_demonstrations"}
# dataset name → its TorchRL dataset class (every one an ``envs.buffer.OfflineDataset``, i.e. a TorchRL
# ``BaseDatasetExperienceReplay``): what ``make_dataset`` / ``make_demonstrations`` return, by family.
DATASETS: dict[str, str] = {
    "ogbench": "envs.ogbench.buffer:OGBenchReplayBuffer",
    "exorl": "envs.dmc.buffer:DMCReplayBuffer",
    "ogbench_demos": "envs.demos:DemoBuffer",
}


def dataset_class(name: str) -> type:
    """The TorchRL dataset class registered as ``name`` in :data:`DATASETS`."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; registered: {list(DATASETS)}")
    return _load(DATASETS[name])


def _load(target: str) -> Any:
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


def _family(cfg: Any, group: str) -> tuple[str, str]:
    family = cfg_get(cfg, "family")
    if family not in FAMILIES:
        raise ValueError(f"unknown {group}.family {family!r}; valid families: {list(FAMILIES)} ({group}=<family>)")
    return FAMILIES[family]


def make_task_suite(env_cfg: Any) -> TaskSuite:
    """Build the :class:`TaskSuite` described by the ``env`` sub-config (needs ``family``)."""
    return _load(_family(env_cfg, "env")[0]).from_config(env_cfg)


def make_dataset(dataset_cfg: Any) -> tuple[Any, Any]:
    """Build the (train, validation) replay buffers described by the ``dataset`` sub-config."""
    return _load(_family(dataset_cfg, "dataset")[1])(dataset_cfg)


def make_demonstrations(dataset_cfg: Any) -> tuple[Any, Any, dict]:
    """(train, validation, info) demonstration buffers of action-chunk windows (``dataset=demos``)."""
    family = cfg_get(dataset_cfg, "family")
    if family not in DEMONSTRATIONS:
        raise ValueError(
            f"dataset family {family!r} has no demonstrations; behaviour cloning uses dataset=demos "
            "(scripted-oracle OGBench demonstrations)"
        )
    return _load(DEMONSTRATIONS[family])(dataset_cfg)
