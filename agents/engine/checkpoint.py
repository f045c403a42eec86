"""Atomic checkpoints: ``config.json`` + ``model.safetensors`` (loadable with
``representations.load_pretrained``) and ``training_state.pt`` (optimiser, targets, RNG) for resuming.

Each checkpoint is written into a temporary folder and renamed into place; the ``latest`` pointer is
replaced atomically afterwards, so an interruption at any moment leaves the previous one intact.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import save_file
from torch import nn

from agents.engine.runtime import rng_state, set_rng_state

LATEST = "latest"


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class NonFiniteCheckpointError(FloatingPointError):
    """Raised instead of writing a checkpoint whose weights are not finite."""


def save_checkpoint(
    ckpt_root: Path,
    *,
    step: int,
    config: dict[str, Any],
    weights: dict[str, nn.Module],
    training_state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Writes ``ckpt_root/step<step>/`` atomically and points ``ckpt_root/latest`` at it.

    Weights with a NaN or an infinity are never written: :class:`NonFiniteCheckpointError` names the tensors and the
    last good checkpoint, which stays ``latest``."""
    # Clone: safetensors refuses tensors sharing storage (e.g. ψ ≡ φ in the symmetric variant).
    tensors = {
        f"{prefix}.{k}": v.detach().cpu().clone().contiguous()
        for prefix, mod in weights.items()
        for k, v in mod.state_dict().items()
    }
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        last = latest_checkpoint(ckpt_root)
        raise NonFiniteCheckpointError(
            f"not saving step {step}: {len(bad)} of {len(tensors)} weight tensors hold NaN/inf (e.g. {', '.join(bad[:3])}). "
            + (
                f"The last good checkpoint is {last}; resume from it with resume={last} and lower the learning rates."
                if last is not None
                else "No earlier checkpoint exists; lower the learning rates and start again."
            )
        )
    try:
        return _write_checkpoint(ckpt_root, step, config, tensors, training_state, keep)
    except OSError as err:  # read-only folder, full disk, ...: keep the trained run somewhere else
        fallback = rescue_root(ckpt_root)
        try:
            path = _write_checkpoint(fallback, step, config, tensors, training_state, keep)
        except OSError as err2:
            raise OSError(
                f"could not write the step-{step} checkpoint to {ckpt_root} ({err.strerror or err}) nor to "
                f"{fallback} ({err2.strerror or err2}); free disk space or make the folder writable"
            ) from None
        warnings.warn(
            f"could not write the checkpoint to {ckpt_root} ({err.strerror or err}); wrote it to {path} instead", stacklevel=2
        )
        return path


def rescue_root(ckpt_root: Path) -> Path:
    """Where checkpoints go when their folder cannot be written: ``~/.cache/jepa_rl/rescued/<run folder name>/checkpoints``."""
    return Path.home() / ".cache" / "jepa_rl" / "rescued" / Path(ckpt_root).resolve().parent.name / "checkpoints"


def _write_checkpoint(
    ckpt_root: Path,
    step: int,
    config: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    training_state: dict[str, Any],
    keep: int,
) -> Path:
    final = ckpt_root / f"step{step:09d}"
    tmp = ckpt_root / f".tmp-{final.name}-{os.getpid()}"
    try:
        ckpt_root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str))
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"step": str(step)})
        torch.save(training_state, tmp / "training_state.pt")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        write_text_atomic(ckpt_root / LATEST, final.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # no half-written folder is left behind
        raise
    for old in sorted(ckpt_root.glob("step*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_step(ckpt: Path) -> int:
    """The step a ``step<N>`` checkpoint folder was written at."""
    return int(Path(ckpt).name.removeprefix("step"))


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    pointer = ckpt_root / LATEST
    if not pointer.exists():
        return None
    path = ckpt_root / pointer.read_text().strip()
    return path if (path / "training_state.pt").exists() else None


# What may change between a run and its resumption: the budget, logging, evaluation (and how BC executes chunks),
# device and data locations, and UI-JEPA's intent decoder (a probe trained after the JEPA stage, so a finished run
# can be resumed to decode with another one).
RESUMABLE_KEYS = (
    "train.steps",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "logger",
    "eval",
    "execution",
    "resume",
    "note",
    "device",
    "dataset.cache_dir",
    "dataset.data_dir",
    "probe",
    "objective.decoder",
)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, Mapping):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_differences(
    saved: Mapping[str, Any], current: Mapping[str, Any], ignore: tuple[str, ...] = RESUMABLE_KEYS
) -> list[str]:
    """``"key: saved → current"`` for every setting of ``current`` that differs from the checkpoint's ``saved`` config
    (keys under ``ignore`` excepted; keys only the checkpoint has, such as its dims, are not compared)."""
    old, new = _flatten(saved), _flatten(current)
    skip = lambda key: any(key == k or key.startswith(k + ".") for k in ignore)  # noqa: E731
    return [
        f"{key}: {old.get(key, '(absent)')!r} → {value!r}"
        for key, value in sorted(new.items())
        if not skip(key) and old.get(key, "(absent)") != value
    ]


def check_resume_compatible(ckpt: Path, config: Mapping[str, Any], steps: int, step: int) -> None:
    """Refuses to resume ``ckpt`` (at ``step``) under a config that differs in anything but budget and logging, or with a
    budget ``steps`` it has already passed; the message names the differing keys."""
    diffs = config_differences(_saved_config(ckpt), config)
    if diffs:
        shown = "; ".join(diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
        raise ValueError(
            f"cannot resume {ckpt}: it was trained with other settings ({shown}). Resume with its settings, "
            "or start a new run with resume=false"
        )
    if steps < step:
        raise ValueError(
            f"cannot resume {ckpt}: it is already at step {step}, past train.steps={steps}; pass train.steps >= {step}"
        )


def _saved_config(ckpt: Path) -> dict:
    """A checkpoint's config.json, with a layout from before the policy / objective groups migrated."""
    from representations import migrate_config

    return migrate_config(json.loads((ckpt / "config.json").read_text()))


def _config_matches(ckpt: Path, same: Mapping[str, Any]) -> bool:
    config = _saved_config(ckpt)
    for dotted, value in same.items():
        node: Any = config
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != value:
            return False
    return True


def find_resume_checkpoint(resume: bool | str, run_dir: Path, same: Mapping[str, Any] | None = None) -> Path | None:
    """``resume=true``: this run folder's own latest checkpoint (a re-queued cluster job), else the
    newest sibling run with a checkpoint whose config agrees on ``same`` (dotted keys, e.g.
    ``{"seed": 0}``; sweep folders hold other configurations side by side);
    ``resume=<folder>``: that run folder or checkpoint folder. Returns None when starting fresh."""
    if resume is False or resume is None or str(resume).lower() == "false":
        return None
    if str(resume).lower() == "true":
        own = latest_checkpoint(run_dir / "checkpoints")
        if own is not None:
            return own
        siblings = sorted(run_dir.parent.iterdir()) if run_dir.parent.exists() else []
        candidates = [latest_checkpoint(d / "checkpoints") for d in siblings if d.is_dir() and d != run_dir]
        candidates = [c for c in candidates if c is not None and _config_matches(c, same or {})]
        if not candidates:
            raise FileNotFoundError(
                f"resume=true but no earlier run with a checkpoint under {run_dir.parent}"
                + (f" with the same {', '.join(sorted(same))}" if same else "")
                + "; start without resume, or pass resume=<run folder>"
            )
        return max(candidates, key=lambda c: c.stat().st_mtime)
    path = Path(str(resume)).expanduser()
    for candidate in (path, *([latest_checkpoint(path / "checkpoints")] if (path / "checkpoints").exists() else [])):
        if candidate is not None and (candidate / "training_state.pt").exists():
            return candidate
    raise FileNotFoundError(
        f"resume={resume}: no checkpoint found there (expected a run folder with checkpoints/ or a step* folder)"
    )


def training_state(
    step: int,
    optimizer: torch.optim.Optimizer,
    loss_module: nn.Module,
    scheduler: Any | None = None,
    samplers: Mapping[str, Any] | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
) -> dict[str, Any]:
    """What resuming needs besides the weights: step, optimiser (and scheduler), the loss's target
    networks, every global RNG, the sampling streams of the replay buffers in ``samplers`` and the states of the
    recipe's own ``generators`` (batch samplers, masks), by name."""
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "rng": rng_state(),
        "targets": {k: v for k, v in loss_module.state_dict().items() if k.startswith("target_")},
    }
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if samplers:
        state["samplers"] = {name: rb.sampler_state() for name, rb in samplers.items()}
    if generators:
        state["generators"] = {name: generator.get_state() for name, generator in generators.items()}
    return state


def restore_training_state(
    ckpt: Path,
    weights: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    loss_module: nn.Module,
    *,
    scheduler: Any | None = None,
    device: Any = "cpu",
    samplers: Mapping[str, Any] | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
) -> int:
    """Loads a checkpoint written with :func:`training_state` back into place (including the sampling streams of
    ``samplers`` and the states of ``generators``, by name); returns its step."""
    from representations import load_weights

    load_weights(ckpt, weights)
    try:
        state = torch.load(ckpt / "training_state.pt", weights_only=False, map_location=device)
    except (RuntimeError, EOFError, OSError) as err:  # truncated or overwritten file
        raise ValueError(
            f"{ckpt / 'training_state.pt'} is corrupt or truncated ({err}); resume from an earlier "
            "checkpoint of the run (resume=<run>/checkpoints/step*)"
        ) from None
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    loss_module.load_state_dict(state["targets"], strict=False)
    set_rng_state(state["rng"])
    for name, rb in (samplers or {}).items():
        rb.set_sampler_state(state.get("samplers", {}).get(name))
    for name, generator in (generators or {}).items():
        if name not in state.get("generators", {}):
            raise ValueError(
                f"{ckpt} holds no state of the {name!r} random generator (written by an older version); "
                "resume would not continue the same batches: start a new run with resume=false"
            )
        generator.set_state(state["generators"][name])
    return int(state["step"])


class PretrainCheckpoints:
    """Checkpoints of a one-stage pretraining run (``agents.pretrain`` on tables, LiDAR, UI recordings): the weights
    and config, :func:`training_state`, the loss's mask generator and, if given, the batch sampler's position in
    its epoch, so that :meth:`resume` continues to the same weights."""

    def __init__(
        self,
        run_dir: Path,
        train_cfg: Mapping,
        *,
        config: dict,
        weights: dict[str, nn.Module],
        optimizer: torch.optim.Optimizer,
        loss_module: nn.Module,
        scheduler: Any,
        sampler: Any = None,
    ) -> None:
        self.root, self.keep, self.steps = Path(run_dir) / "checkpoints", train_cfg["keep_checkpoints"], int(train_cfg["steps"])
        self.config, self.weights, self.optimizer, self.loss_module = config, weights, optimizer, loss_module
        self.scheduler, self.sampler = scheduler, sampler

    def save(self, step: int, extra_weights: dict[str, nn.Module] | None = None) -> Path:
        state = training_state(
            step, self.optimizer, self.loss_module, self.scheduler, generators={"mask": self.loss_module.generator}
        )
        if self.sampler is not None:
            state["sampler"] = self.sampler.sampler.state_dict()  # the rest of the epoch, in the same order
        return save_checkpoint(
            self.root,
            step=step,
            keep=self.keep,
            config=self.config,
            weights={**self.weights, **(extra_weights or {})},
            training_state=state,
        )

    def resume(self, cfg: Mapping[str, Any], run_dir: Path, same: Mapping[str, Any], device: Any = "cpu") -> int:
        """The step to start from: 0, or that of the checkpoint ``cfg.resume`` selects (:func:`find_resume_checkpoint`),
        whose weights, optimiser, schedule, targets, RNGs, masks and sampler are restored. A checkpoint trained with
        other settings than the run config ``cfg`` (budget and logging aside) is refused."""
        from omegaconf import OmegaConf

        resume_from = find_resume_checkpoint(cfg["resume"], run_dir, same=same)
        if resume_from is None:
            return 0
        settings = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg
        check_resume_compatible(resume_from, settings, self.steps, checkpoint_step(resume_from))
        start = restore_training_state(
            resume_from,
            self.weights,
            self.optimizer,
            self.loss_module,
            scheduler=self.scheduler,
            device=device,
            generators={"mask": self.loss_module.generator},
        )
        state = torch.load(resume_from / "training_state.pt", weights_only=False)
        if self.sampler is not None:
            self.sampler.sampler.load_state_dict(state["sampler"])
        print(f"resumed from {resume_from} at step {start}")
        return start
