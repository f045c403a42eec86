"""Checks on the command-line values every entry point reads, before any work starts.

Types are checked by Hydra while composing (the schemas of :mod:`agents.engine.schema`); this module adds what a type
cannot say: ranges (steps ≥ 0, batch ≥ 2, episodes ≥ 1), the allowed choices, the device, the DMC domain, and
``+`` additions to the declared groups. A bad value gets one message that names the key, the problem and a valid
example, instead of a traceback from deep inside tqdm, the sampler or an interpolation.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from agents.engine.schema import OPEN_GROUP_RULES, ZeroShotConfig, closed_groups, schema_fields


def _problem(value: Any, rules: dict[str, Any]) -> str | None:
    if "min" in rules:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer >= {rules['min']}, got {value!r}"
        return None if value >= rules["min"] else f"must be >= {rules['min']}, got {value}"
    if rules.get("shares"):
        values = list(value)  # the schema types it as a list of floats
        if not values or any(not 0 < v <= 1 for v in values):
            return f"must be a list of shares in (0, 1], got {value!r}"
    if "choices" in rules and value not in rules["choices"]:
        return f"must be one of {list(rules['choices'])}, got {value!r}"
    if rules.get("device"):
        text = str(value)
        if not (text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit())):
            return f"must be auto, cpu, cuda or cuda:<index>, got {value!r}"
    return None


def validate_overrides(overrides: list[str], cfg: DictConfig, schema: type = ZeroShotConfig) -> None:
    """Rejects ``+group.key=value`` additions to the groups ``schema`` declares (a typo such as ``+train.stepz=10``
    would otherwise be accepted without a word: Hydra's ``+`` adds keys even to a structured config). Objective
    hyperparameters (``+representation.loss.x``) stay open: the loss constructor rejects unknown ones by name."""
    closed = closed_groups(schema)
    for override in overrides:
        if not override.startswith("+") or override.startswith("++"):
            continue
        key = override[1:].split("=", 1)[0]
        group = key.split(".", 1)[0]
        if group in closed and "." in key:
            parent = OmegaConf.select(cfg, key.rsplit(".", 1)[0], default=None)
            known = sorted(k for k in parent if k != key.rsplit(".", 1)[1]) if isinstance(parent, DictConfig) else []
            raise ValueError(
                f"{key} is not a setting of {key.rsplit('.', 1)[0]} ('+' adds a key that nothing reads); its settings are {known}"
            )


def validate_config(cfg: DictConfig, schema: type = ZeroShotConfig) -> None:
    """Raises ``ValueError`` on the first value that breaks a rule of ``schema`` (keys absent from ``cfg`` are not
    checked), and on a DMC domain that does not exist."""
    from envs.dmc.tasks import DOMAIN_ALIASES, DOMAINS

    declared = [(key, dict(spec.metadata)) for key, spec in schema_fields(schema) if spec.metadata]
    for key, rules in [*declared, *OPEN_GROUP_RULES.items()]:
        node = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        if node is None:
            continue
        problem = _problem(node, rules)
        if problem:
            raise ValueError(f"{key} {problem}; e.g. {rules['example']}")
    family = OmegaConf.select(cfg, "env.family", default=None)
    domain = OmegaConf.select(cfg, "env.domain", default=None) if family == "dmc" else None
    if domain is not None and domain not in DOMAINS and domain not in DOMAIN_ALIASES:
        raise ValueError(
            f"env.domain={domain!r} is not a DMC domain of this suite; choose one of {sorted(DOMAINS)} (e.g. env.domain=walker)"
        )
