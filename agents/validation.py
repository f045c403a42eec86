"""Checks on the command-line values every training entry point reads, before any work starts.

A bad value gets one message that names the key, the problem and a valid example, instead of a traceback from
deep inside tqdm, the sampler or an interpolation. Only keys present in the config are checked, so one rule set
serves every entry point.
"""
from __future__ import annotations

from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf


def _integer(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer >= {minimum}, got {value!r}"
        return None if value >= minimum else f"must be >= {minimum}, got {value}"
    return check


def _device(value: Any) -> str | None:
    text = str(value)
    if text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return None
    return f"must be auto, cpu, cuda or cuda:<index>, got {value!r}"


# key: (check, a valid example)
RULES: dict[str, tuple[Callable[[Any], str | None], str]] = {
    "seed": (_integer(0), "seed=0"),
    "device": (_device, "device=auto"),
    "train.steps": (_integer(0), "train.steps=3000"),
    "train.log_every": (_integer(1), "train.log_every=100"),
    "train.eval_every": (_integer(0), "train.eval_every=0 (end only)"),
    "train.checkpoint_every": (_integer(0), "train.checkpoint_every=1000"),
    "train.keep_checkpoints": (_integer(0), "train.keep_checkpoints=2 (0: keep all)"),
    "dataset.batch_size": (_integer(2), "dataset.batch_size=256"),
    "eval.episodes": (_integer(1), "eval.episodes=10"),
    "eval.inference_samples": (_integer(1), "eval.inference_samples=10000"),
}


# Groups whose keys are all declared in their YAML: a `+key=...` there adds a setting nothing reads.
CLOSED_GROUPS = ("train", "eval", "logger", "dataset", "env", "probe")


def validate_overrides(overrides: list[str], cfg: DictConfig) -> None:
    """Rejects ``+group.key=value`` additions to :data:`CLOSED_GROUPS` (a typo such as ``+train.stepz=10`` would
    otherwise be accepted without a word). Objective hyperparameters (``+representation.loss.x``) stay open: the
    loss constructor rejects unknown ones by name."""
    for override in overrides:
        if not override.startswith("+") or override.startswith("++"):
            continue
        key = override[1:].split("=", 1)[0]
        group = key.split(".", 1)[0]
        if group in CLOSED_GROUPS and "." in key:
            parent = OmegaConf.select(cfg, key.rsplit(".", 1)[0], default=None)
            known = sorted(k for k in parent if k != key.rsplit(".", 1)[1]) if isinstance(parent, DictConfig) else []
            raise ValueError(f"{key} is not a setting of {key.rsplit('.', 1)[0]} ('+' adds a key that nothing reads); "
                             f"its settings are {known}")


def validate_config(cfg: DictConfig) -> None:
    """Raises ``ValueError`` on the first bad value among :data:`RULES`, and on a DMC domain that does not exist."""
    from envs.dmc.tasks import DOMAIN_ALIASES, DOMAINS

    for key, (check, example) in RULES.items():
        node = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        if node is None:
            continue
        problem = check(node)
        if problem:
            raise ValueError(f"{key} {problem}; e.g. {example}")
    family = OmegaConf.select(cfg, "env.family", default=None)
    domain = OmegaConf.select(cfg, "env.domain", default=None) if family == "dmc" else None
    if domain is not None and domain not in DOMAINS and domain not in DOMAIN_ALIASES:
        raise ValueError(f"env.domain={domain!r} is not a DMC domain of this suite; choose one of {sorted(DOMAINS)} "
                         f"(e.g. env.domain=walker)")
