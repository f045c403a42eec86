"""Dataset-name parsing for the OGBench datasets this project supports.

Naming follows ogbench (``ogbench/utils.py:make_env_and_datasets``): a dataset
``<env>-<size>-<dataset_type>-v0`` is collected in the gymnasium env
``<env>-<size>-v0``.
"""

from __future__ import annotations

import dataclasses

__all__ = ["DatasetSpec", "SUPPORTED_DATASETS", "parse_name"]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    dataset_name: str  #: e.g. "pointmaze-medium-navigate-v0"
    env_id: str  #: registered gymnasium id, e.g. "pointmaze-medium-v0"
    kind: str  #: "maze" or "cube"
    agent: str  #: "point", "ant" or "arm"
    dataset_type: str  #: "navigate", "stitch", "explore", "play"
    # Official collection recipe (seohongpark/ogbench data_gen_scripts/commands.sh).
    official_episodes: int
    official_episode_length: int

    @property
    def can_generate(self) -> bool:
        return self.agent in ("point", "arm")

    @property
    def generation_error(self) -> str:
        return (
            f"Generating {self.dataset_name} is not supported: ogbench collects it with a pretrained "
            f"{self.agent} SAC expert that is not shipped with the pip package. Provide the official file "
            f"({self.dataset_name}.npz and {self.dataset_name}-val.npz) and use dataset.source=official."
        )


def _build() -> dict[str, DatasetSpec]:
    specs: dict[str, DatasetSpec] = {}
    for size in ("medium", "large", "giant"):
        nav = (500, 2001) if size == "giant" else (1000, 1001)
        for dtype, (eps, length) in {"navigate": nav, "stitch": (5000, 201)}.items():
            name = f"pointmaze-{size}-{dtype}-v0"
            specs[name] = DatasetSpec(name, f"pointmaze-{size}-v0", "maze", "point", dtype, eps, length)
        for dtype in ("navigate", "stitch", "explore"):
            name = f"antmaze-{size}-{dtype}-v0"
            eps, length = {"navigate": (1000, 1001), "stitch": (5000, 201), "explore": (10000, 501)}[dtype]
            if size == "giant" and dtype == "explore":
                continue  # not an official dataset
            if size == "giant" and dtype == "navigate":
                eps, length = 500, 2001
            specs[name] = DatasetSpec(name, f"antmaze-{size}-v0", "maze", "ant", dtype, eps, length)
    for n in ("single", "double"):
        name = f"cube-{n}-play-v0"
        specs[name] = DatasetSpec(name, f"cube-{n}-v0", "cube", "arm", "play", 1000, 1001)
    return specs


SUPPORTED_DATASETS: dict[str, DatasetSpec] = _build()
# env id -> its default dataset: "navigate" for mazes, "play" for manipulation
_DEFAULT_DATASET = {
    spec.env_id: name for name, spec in reversed(SUPPORTED_DATASETS.items()) if spec.dataset_type in ("navigate", "play")
}


def parse_name(name: str) -> DatasetSpec:
    """Normalise a dataset name (with or without ``-v0``) and return its spec.

    An environment name (``cube-single``, ``pointmaze-medium``) stands for its default dataset
    (``play`` / ``navigate``). Raises ``ValueError`` listing the supported names for anything else.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"OGBench dataset name must be a non-empty string, got {name!r}")
    key = name.strip()
    if key.startswith("visual-"):
        raise ValueError(
            f"Pixel-based OGBench dataset {name!r} is not supported (state-based only). Supported: {sorted(SUPPORTED_DATASETS)}"
        )
    if not key.endswith("-v0"):
        key = f"{key}-v0"
    if key not in SUPPORTED_DATASETS and key in _DEFAULT_DATASET:  # an env name, e.g. "cube-single"
        key = _DEFAULT_DATASET[key]
    if key not in SUPPORTED_DATASETS:
        raise ValueError(
            f"Unsupported OGBench dataset name {name!r}. Supported (the '-v0' suffix is optional): {sorted(SUPPORTED_DATASETS)}"
        )
    return SUPPORTED_DATASETS[key]
