"""Where scalars go: CSV always, wandb (offline unless logged in) unless disabled."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from torchrl.record.loggers import CSVLogger, Logger


WANDB_MODES = ("auto", "online", "offline")


def wandb_logged_in() -> bool:
    """True when wandb has credentials: WANDB_API_KEY, or the netrc entry ``wandb login`` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def resolve_wandb_mode(mode: str) -> str:
    """``auto``: $WANDB_MODE if set, else online when logged in to wandb and offline otherwise."""
    if mode not in WANDB_MODES:
        raise ValueError(f"unknown logger.mode {mode!r}; use one of {list(WANDB_MODES)}")
    if mode != "auto":
        return mode
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode:
        return "offline" if env_mode in ("offline", "dryrun", "disabled") else "online"
    return "online" if wandb_logged_in() else "offline"


class MultiLogger:
    """Fans scalars out to torchrl loggers (CSV always, wandb unless disabled).

    The wandb run is named ``exp_name`` and grouped by ``group`` (e.g. all seeds of one method on
    one environment), so sweeps line up in the wandb UI.
    """

    def __init__(
        self,
        logger_cfg: Mapping,
        run_dir: Path,
        exp_name: str,
        config: dict,
        *,
        enabled: bool = True,
        group: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.loggers: list[Logger] = [CSVLogger(exp_name, log_dir=str(run_dir / "logs"))] if enabled else []
        if not enabled:  # e.g. data-parallel ranks other than 0
            return
        if logger_cfg["backend"] == "wandb":
            from torchrl.record.loggers.wandb import WandbLogger

            self.wandb_mode = resolve_wandb_mode(logger_cfg["mode"])
            wandb_logger = WandbLogger(
                exp_name,
                offline=self.wandb_mode == "offline",
                save_dir=str(run_dir),
                project=logger_cfg["project"],
                config=config,
                log_env_packages=False,
                group=logger_cfg.get("group") or group,
                tags=[*(tags or []), *(logger_cfg.get("tags") or [])],
                job_type="train",
            )
            self.loggers.append(wandb_logger)
        elif logger_cfg["backend"] not in ("csv", "none"):
            raise ValueError(f"unknown logger.backend {logger_cfg['backend']!r}; use wandb, csv or none")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for name, value in metrics.items():
            for logger in self.loggers:
                logger.log_scalar(name, float(value), step=step)

    def close(self) -> None:
        for logger in self.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "finish"):
                experiment.finish()
