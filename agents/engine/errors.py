"""Bad input ends a run with one message (key, problem, fix), never a traceback from deep inside."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from envs.render import RenderBackendError


# Errors that describe bad input (config, dataset, checkpoint, diverged run, no OpenGL): shown as one message.
USER_ERRORS = (ValueError, OSError, FloatingPointError, RenderBackendError)  # OSError: full disk, read-only folder, missing file


def exit_with_user_error(err: BaseException) -> None:
    """Prints ``err`` as one line (the full traceback stays behind JEPA_RL_TRACEBACK=1) and exits 2."""
    if os.environ.get("JEPA_RL_TRACEBACK") == "1":
        raise err
    print(f"error: {err}\n(set JEPA_RL_TRACEBACK=1 for the full traceback)", file=sys.stderr)
    raise SystemExit(2)


# Groups renamed on 2026-12-06, per entry point: Hydra's own message for the old name would advise "+representation=…"
MOVED_GROUPS = {"bc": {"representation": "policy"}, "pretrain": {"representation": "objective"}}


def refuse_moved_groups(config_name: str, argv: list[str] | None = None) -> None:
    """Exits with one message when the command line uses a group under its old name (before Hydra parses it)."""
    moved = MOVED_GROUPS.get(config_name, {})
    for arg in (sys.argv if argv is None else argv)[1:]:
        group = arg.lstrip("+~").split("=", 1)[0].split(".", 1)[0]
        if group in moved:
            new = arg.replace(group, moved[group], 1).lstrip("+")
            exit_with_user_error(
                ValueError(f"{arg}: agents.{config_name} has no {group} group; its methods are under {moved[group]}: write {new}")
            )


def run_entry_point(train: Callable[[DictConfig, Path], Any], cfg: DictConfig) -> Any:
    """What every ``@hydra.main`` of this suite does: check the values and ``+`` additions against the config's schema
    (:mod:`agents.engine.schema`) before any work, run ``train(cfg, run folder)``, and turn bad input into one
    message (exit 2)."""
    from hydra.core.hydra_config import HydraConfig

    from agents.distributed import shutdown_data_parallel
    from agents.engine.schema import SCHEMAS
    from agents.validation import validate_config, validate_overrides

    try:
        schema = SCHEMAS[HydraConfig.get().job.config_name]
        validate_config(cfg, schema)
        validate_overrides(list(HydraConfig.get().overrides.task), cfg, schema)
        return train(cfg, Path(HydraConfig.get().runtime.output_dir))
    except USER_ERRORS as err:
        exit_with_user_error(err)
    finally:
        shutdown_data_parallel()  # a no-op unless torchrun started this process
