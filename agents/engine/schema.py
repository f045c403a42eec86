"""Typed schemas of the entry points' configs (Hydra structured configs), registered in Hydra's ConfigStore.

Each primary config (``configs/zeroshot.yaml``, ``bc.yaml``, ``pretrain.yaml``, ``rollout.yaml``) lists its schema
first in its defaults, so Hydra checks types while composing: ``train.steps=abc`` stops with "Value 'abc' of type
'str' could not be converted to Integer, full_key: train.steps" before any work, and a misspelt key without ``+`` is
refused. The YAML files keep the values and their comments; the schemas declare only types and the rules below.

Each field's metadata may declare a ``min`` (integers), the ``choices`` (strings) and an ``example`` of a valid
override. :func:`agents.validation.validate_config` applies them, and the groups declared here are closed to ``+`` additions
(:func:`closed_groups`): Hydra's ``+key=value`` adds keys even to a schema, and a key nothing reads must not pass
silently. Environment, dataset, representation, objective, policy, encoder, actor and data groups stay open (``Any``): each group's
builder checks its own keys, and the losses reject unknown hyperparameters by name.

The schemas are registered when ``agents`` is imported (``agents/__init__.py``; ``benchmarks`` and the tests import it),
so a script that composes ``configs/`` with Hydra's ``compose`` API imports ``agents`` first.
"""

from __future__ import annotations

from dataclasses import MISSING as NO_DEFAULT
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Iterator, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from agents.engine.runtime import PRECISIONS


def _int(minimum: int, example: str) -> Any:
    return field(default=MISSING, metadata={"min": minimum, "example": example})


def _choice(choices: tuple[str, ...], example: str) -> Any:
    return field(default=MISSING, metadata={"choices": choices, "example": example})


def _shares(example: str) -> Any:
    return field(default=MISSING, metadata={"shares": True, "example": example})


def _device() -> Any:
    return field(default=MISSING, metadata={"device": True, "example": "device=auto"})


@dataclass
class LoggerConfig:
    backend: str = _choice(("wandb", "csv", "none"), "logger.backend=csv")
    mode: str = _choice(("auto", "online", "offline"), "logger.mode=offline")
    project: str = MISSING
    group: Optional[str] = None
    tags: List[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """What every entry point's training loop reads (:func:`agents.engine.run_updates`)."""

    steps: int = _int(0, "train.steps=3000")
    log_every: int = _int(1, "train.log_every=100")
    checkpoint_every: int = _int(0, "train.checkpoint_every=1000 (0: at the end only)")
    keep_checkpoints: int = _int(0, "train.keep_checkpoints=2 (0: keep all)")
    precision: str = _choice(PRECISIONS, "train.precision=auto (bf16 autocast on CUDA, fp32 elsewhere)")


@dataclass
class ZeroShotTrain(TrainConfig):
    eval_every: int = _int(0, "train.eval_every=0 (at the end only)")
    compile: bool = MISSING
    cudagraphs: bool = MISSING


@dataclass
class PretrainTrain(TrainConfig):
    flops: Optional[float] = None


@dataclass
class ZeroShotEval:
    episodes: int = _int(1, "eval.episodes=10")
    modes: List[str] = MISSING
    inference_samples: int = _int(1, "eval.inference_samples=10000")


@dataclass
class EpisodesEval:
    episodes: int = _int(1, "eval.episodes=10")


@dataclass
class ViewsEval:
    views: Optional[List[int]] = None


@dataclass
class BCProbe:
    steps: int = _int(0, "probe.steps=1000 (0: no probes)")
    lr: float = MISSING
    hidden_dim: int = _int(1, "probe.hidden_dim=256")


@dataclass
class PretrainProbe(BCProbe):
    windows: int = _int(1, "probe.windows=8000")
    frames: int = _int(1, "probe.frames=4000")
    heads: int = _int(1, "probe.heads=1")
    batch_size: int = _int(2, "probe.batch_size=256")
    label_fractions: List[float] = _shares("probe.label_fractions=[0.01,0.1,1.0]")


@dataclass
class Execution:
    mode: str = _choice(("chunk", "ensemble"), "execution.mode=chunk")
    action_steps: Optional[int] = None
    ensemble_coeff: float = MISSING


@dataclass
class RunConfig:
    seed: int = _int(0, "seed=0")
    device: str = _device()
    resume: Any = False  # false | true | a run or checkpoint folder


@dataclass
class ZeroShotConfig(RunConfig):
    env: Any = MISSING
    dataset: Any = MISSING
    representation: Any = MISSING
    encoder: Any = MISSING
    actor: Any = MISSING
    preset: Any = None
    experiment: Any = None
    note: Optional[str] = None
    train: ZeroShotTrain = field(default_factory=ZeroShotTrain)
    eval: ZeroShotEval = field(default_factory=ZeroShotEval)
    logger: LoggerConfig = field(default_factory=LoggerConfig)


@dataclass
class BCConfig(RunConfig):
    env: Any = MISSING
    dataset: Any = MISSING
    policy: Any = MISSING  # configs/policy/: ACT-JEPA, ACT, MLP-BC
    train: TrainConfig = field(default_factory=TrainConfig)
    execution: Execution = field(default_factory=Execution)
    eval: EpisodesEval = field(default_factory=EpisodesEval)
    probe: BCProbe = field(default_factory=BCProbe)
    logger: LoggerConfig = field(default_factory=LoggerConfig)


@dataclass
class PretrainConfig(RunConfig):
    data: Any = MISSING
    env: Any = MISSING
    dataset: Any = MISSING
    objective: Any = MISSING  # configs/objective/: seq-JEPA, the vision JEPAs, T-JEPA, AD-L-JEPA, UI-JEPA
    train: PretrainTrain = field(default_factory=PretrainTrain)
    eval: ViewsEval = field(default_factory=ViewsEval)
    probe: PretrainProbe = field(default_factory=PretrainProbe)
    logger: LoggerConfig = field(default_factory=LoggerConfig)


@dataclass
class RolloutConfig:
    checkpoint: str = MISSING
    task: Optional[str] = None
    z_from: str = _choice(("reward", "goal"), "z_from=reward")
    episodes: int = _int(1, "episodes=1")
    seed: int = _int(0, "seed=0")
    max_steps: Optional[int] = None
    video: bool = MISSING
    video_format: str = _choice(("mp4", "gif"), "video_format=mp4")
    video_size: Optional[int] = None
    fps: int = _int(1, "fps=30")
    device: str = _device()


# Rules for settings of the open groups (their YAML files differ per dataset kind, so they have no schema).
OPEN_GROUP_RULES = {"dataset.batch_size": {"min": 2, "example": "dataset.batch_size=256"}}

SCHEMAS = {"zeroshot": ZeroShotConfig, "bc": BCConfig, "pretrain": PretrainConfig, "rollout": RolloutConfig}
for _name, _schema in SCHEMAS.items():
    ConfigStore.instance().store(name=f"{_name}_schema", node=_schema)


def schema_fields(schema: type, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, dataclass field) of every leaf setting of ``schema``."""
    for f in fields(schema):
        if _is_group(f):
            yield from schema_fields(f.default_factory, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            yield f"{prefix}{f.name}", f


def closed_groups(schema: type) -> tuple[str, ...]:
    """The groups of ``schema`` declared field by field (``train``, ``eval``, ...): ``+`` additions there are refused."""
    return tuple(f.name for f in fields(schema) if _is_group(f))


def _is_group(f: Any) -> bool:
    return f.default_factory is not NO_DEFAULT and is_dataclass(f.default_factory)
