"""The training engine every entry point (zeroshot, bc, every pretraining kind) runs on.

- :mod:`runtime`: seeding, device, random-generator state;
- :mod:`loop`: the update loop (progress, logging, non-finite check, evaluation, checkpoints, Ctrl-C);
- :mod:`checkpoint`: atomic checkpoints and exact resume;
- :mod:`loggers`: CSV and wandb;
- :mod:`optim`: optimisers and schedules;
- :mod:`report`: ``eval.json`` / ``eval.md``;
- :mod:`errors`: bad input as one message, and the ``@hydra.main`` body of every entry point.
"""

from agents.engine.checkpoint import (
    PretrainCheckpoints,
    check_resume_compatible,
    checkpoint_step,
    find_resume_checkpoint,
    latest_checkpoint,
    restore_training_state,
    save_checkpoint,
    training_state,
)
from agents.engine.errors import USER_ERRORS, exit_with_user_error, refuse_moved_groups, run_entry_point
from agents.engine.loggers import MultiLogger, resolve_wandb_mode
from agents.engine.loop import COLLAPSE_KEYS, LoopResult, check_finite, gradient_step, run_updates, train_stage
from agents.engine.optim import make_adamw_schedule, make_optimizer
from agents.engine.report import write_report
from agents.engine.runtime import resolve_device, rng_state, seed_everything, set_rng_state, to_plain

__all__ = [
    "COLLAPSE_KEYS",
    "LoopResult",
    "MultiLogger",
    "PretrainCheckpoints",
    "USER_ERRORS",
    "check_finite",
    "check_resume_compatible",
    "checkpoint_step",
    "exit_with_user_error",
    "find_resume_checkpoint",
    "gradient_step",
    "latest_checkpoint",
    "make_adamw_schedule",
    "make_optimizer",
    "resolve_device",
    "resolve_wandb_mode",
    "restore_training_state",
    "rng_state",
    "refuse_moved_groups",
    "run_entry_point",
    "run_updates",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "to_plain",
    "train_stage",
    "training_state",
    "write_report",
]
