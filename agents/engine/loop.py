"""The one update loop every entry point runs (zero-shot, behaviour cloning, every pretraining stage).

It owns what a long run needs around its gradient step, so that each recipe only says what one update is:
- the progress bar (updates/s) and a line on stdout every ``log_every`` updates, the same scalars to the loggers;
- a non-finite check at every update, on the losses already computed (a diverged update never reaches a checkpoint);
- periodic evaluation and checkpoints;
- Ctrl-C: the current update finishes, a checkpoint is written and the run exits with 130 (a second Ctrl-C quits at
  once), so that ``resume=true`` continues it exactly.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from contextlib import nullcontext
from typing import Callable, ContextManager, Mapping

import torch
from tensordict import TensorDictBase
from tqdm.auto import tqdm

# Logged by the JEPA objectives (representations/core/collapse.py), printed and kept in the pretraining reports.
COLLAPSE_KEYS = ("feature_std", "feature_rankme", "target_std", "target_rankme", "prediction_std")


def check_finite(metrics: Mapping[str, torch.Tensor], step: int, hint: str | Callable[[], str]) -> None:
    """Raises when a ``loss*`` entry is NaN/inf. Cheap enough for every step: one host sync for all losses; ``hint``
    (the fix to suggest, or a function building it) is only evaluated on failure."""
    losses = [v.detach().float().reshape(-1) for k, v in metrics.items() if k.startswith("loss")]
    if not losses or bool(torch.isfinite(torch.cat(losses)).all()):
        return
    bad = [k for k, v in metrics.items() if k.startswith("loss") and not torch.isfinite(v).all()]
    if bad:
        raise FloatingPointError(
            f"non-finite loss ({', '.join(bad)}) at step {step}. Lower the learning rates "
            f"(representation.optim.lr.*, actor.lr), check the dataset for NaNs, or {hint() if callable(hint) else hint}"
        )


def gradient_step(
    losses_of_batch: Callable[[], TensorDictBase],
    optimizer: torch.optim.Optimizer,
    *,
    loss_key: str | None = None,
    scheduler=None,
    target_updater=None,
    autocast: Callable[[], ContextManager] = nullcontext,
) -> Callable[[], TensorDictBase]:
    """One update of a single-objective recipe: ``losses_of_batch()`` (under ``autocast()``: ``train.precision``, see
    :func:`agents.engine.runtime.autocast`) → backward of ``loss_key`` (default: the sum of the ``loss_*`` entries) →
    optimiser, schedule and target-EMA steps. Returns the losses, detached."""

    def update() -> TensorDictBase:
        with autocast():
            losses = losses_of_batch()
        total = losses[loss_key] if loss_key is not None else sum(v for k, v in losses.items() if k.startswith("loss_"))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if target_updater is not None:
            target_updater.step()
        return losses.detach()

    return update


@dataclass
class LoopResult:
    losses: TensorDictBase | None  # the last update's (None when no update ran)
    seconds: float  # spent in this call's updates, logging and checkpoints


def _printed(losses: TensorDictBase) -> dict[str, float]:
    return {k: v.item() for k, v in losses.items() if k.startswith("loss") or k in COLLAPSE_KEYS}


def run_updates(
    update: Callable[[], TensorDictBase],
    *,
    start: int,
    steps: int,
    log_every: int,
    logger,
    checkpoint: Callable[[int], Path | None] | None = None,
    checkpoint_every: int = 0,
    evaluate: Callable[[int], None] | None = None,
    eval_every: int = 0,
    validate: Callable[[TensorDictBase], tuple[TensorDictBase, dict[str, float]]] | None = None,
    stage: str = "train",
    offset: int = 0,
    history: list[dict] | None = None,
    resume_hint: str | Callable[[], str] = "resume from the last checkpoint with resume=true",
    is_main: bool = True,
    any_rank: Callable[[bool], bool] = bool,
) -> LoopResult:
    """Runs updates ``start`` .. ``steps`` − 1 of one stage; update numbers seen by the loggers, the non-finite check
    and ``checkpoint_every`` are ``offset + done`` (stages after the first continue the run's count), while
    ``checkpoint(done)`` and ``evaluate(done)`` receive the stage's own count.

    ``logger`` (None: stdout only) receives ``<stage>/<key>`` scalars. ``validate(losses)`` runs at log steps on every process (data-parallel runs average there) and returns the losses to
    log and extra scalars (e.g. ``{"val/loss_x": v}``). ``history`` receives ``{step, stage, collapse diagnostics}`` at
    every log step. ``evaluate`` runs every ``eval_every`` updates, not at the last (the recipe evaluates its final
    weights itself). ``is_main`` / ``any_rank`` let data-parallel ranks print once and stop after the same update.
    """
    desc = "train" if stage == "train" else stage
    label = "" if stage == "train" else f"{stage} "
    progress = tqdm(
        range(start, steps), initial=start, total=steps, desc=desc, unit="update", dynamic_ncols=True, disable=not is_main
    )
    interrupted: list[int] = []
    handle_sigint = threading.current_thread() is threading.main_thread()

    def on_sigint(signum, frame):  # finish this update, checkpoint, exit; a second Ctrl-C quits at once
        interrupted.append(signum)
        signal.signal(signal.SIGINT, previous_handler)

    previous_handler = signal.signal(signal.SIGINT, on_sigint) if handle_sigint else None
    losses, done = None, start
    try:
        for step in progress:
            losses = update()
            done = step + 1
            check_finite(losses, offset + done, resume_hint)
            if done % log_every == 0 or done == steps:
                extra: dict[str, float] = {}
                if validate is not None:
                    losses, extra = validate(losses)
                if is_main:
                    if logger is not None:
                        logger.log({f"{stage}/{k}": v.item() for k, v in losses.items()} | extra, offset + done)
                    if history is not None:
                        history.append(
                            {
                                "step": offset + done,
                                "stage": stage,
                                **{k: losses[k].item() for k in COLLAPSE_KEYS if k in losses.keys()},
                            }
                        )
                    shown = _printed(losses)
                    progress.set_postfix(
                        {k.removeprefix("loss_"): f"{v:.3g}" for k, v in shown.items() if k.startswith("loss")}, refresh=False
                    )
                    tqdm.write(
                        f"{label}step {done}: "
                        + " ".join(f"{k}={v:.4g}" for k, v in (shown | extra).items())
                        + f" ({progress.format_dict.get('rate') or 0.0:.1f} updates/s)"
                    )
            if evaluate is not None and eval_every and done % eval_every == 0 and done != steps and is_main:
                evaluate(done)
            if checkpoint is not None and checkpoint_every and (offset + done) % checkpoint_every == 0:
                checkpoint(done)
            if any_rank(bool(interrupted)):  # every rank stops after the same update
                break
    finally:
        if handle_sigint:
            signal.signal(signal.SIGINT, previous_handler)
        progress.close()
    if done < steps:  # interrupted (on this or another rank)
        path = checkpoint(done) if checkpoint is not None else None
        if is_main:
            print(
                f"\ninterrupted at {label}step {offset + done}; "
                + (f"saved {path}. Continue with the same command plus resume=true" if path else "no checkpoint written")
            )
        if logger is not None:
            logger.close()
        raise SystemExit(130)
    return LoopResult(losses, progress.format_dict.get("elapsed", 0.0))


def train_stage(
    train_cfg: Mapping,
    losses_of_batch: Callable[[], TensorDictBase],
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    start: int,
    steps: int,
    logger,
    loss_key: str | None = None,
    scheduler=None,
    target_updater=None,
    checkpoint: Callable[[int], Path | None] | None = None,
    **loop: object,
) -> LoopResult:
    """One training stage of a single-objective recipe with the run's ``train`` settings: :func:`gradient_step` under
    ``train.precision``, then :func:`run_updates` logging every ``train.log_every`` and checkpointing every
    ``train.checkpoint_every`` updates. ``loop`` passes the rest to :func:`run_updates` (``stage``, ``offset``,
    ``history``, ``validate``, ...)."""
    from agents.engine.runtime import autocast

    update = gradient_step(
        losses_of_batch,
        optimizer,
        loss_key=loss_key,
        scheduler=scheduler,
        target_updater=target_updater,
        autocast=autocast(train_cfg["precision"], device),
    )
    return run_updates(
        update,
        start=start,
        steps=steps,
        log_every=train_cfg["log_every"],
        logger=logger,
        checkpoint=checkpoint,
        checkpoint_every=train_cfg["checkpoint_every"],
        **loop,
    )
