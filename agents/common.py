"""Small pieces every entry point shares: device, seeding, loggers, optimiser, finiteness checks."""
from __future__ import annotations

import math
import os
import random
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tensordict import TensorDict
from torch import nn
from torchrl.data import LazyTensorStorage, SamplerWithoutReplacement, TensorDictReplayBuffer
from torchrl.record.loggers import CSVLogger, Logger

from agents.distributed import average_gradients
from envs.render import RenderBackendError
from representations.base import ZeroShotRepresentation


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={name} requested but CUDA is not available; use device=cpu or device=auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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

    def __init__(self, logger_cfg: Mapping, run_dir: Path, exp_name: str, config: dict, *, enabled: bool = True,
                 group: str | None = None, tags: list[str] | None = None) -> None:
        self.loggers: list[Logger] = [CSVLogger(exp_name, log_dir=str(run_dir / "logs"))] if enabled else []
        if not enabled:  # e.g. data-parallel ranks other than 0
            return
        if logger_cfg["backend"] == "wandb":
            from torchrl.record.loggers.wandb import WandbLogger

            self.wandb_mode = resolve_wandb_mode(logger_cfg["mode"])
            wandb_logger = WandbLogger(
                exp_name, offline=self.wandb_mode == "offline", save_dir=str(run_dir), project=logger_cfg["project"],
                config=config, log_env_packages=False, group=logger_cfg.get("group") or group,
                tags=[*(tags or []), *(logger_cfg.get("tags") or [])], job_type="train",
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


def make_optimizer(
    optim_cfg: Mapping, actor_lr: float, representation: ZeroShotRepresentation, actor: nn.Module, *, capturable: bool = False,
    flow_lr: float = 3e-4,
) -> torch.optim.Adam:
    """One Adam over every trainable tensor, one parameter group (and lr) per network group.

    A single multi-tensor Adam replaces the reference's five per-network optimisers.
    ``capturable=True`` keeps its step counters on the device, as CUDA-graph capture requires.
    """
    lrs = dict(optim_cfg["lr"])
    groups = representation.parameter_groups()
    unknown = set(lrs) - set(groups)
    missing = set(groups) - set(lrs)
    if unknown or missing:
        raise ValueError(f"representation.optim.lr must set exactly {sorted(groups)}; unknown {sorted(unknown)}, missing {sorted(missing)}")
    param_groups = [{"params": params, "lr": lrs[name], "name": name} for name, params in groups.items() if params]
    flow = getattr(actor, "flow", None)  # flow-BC's behaviour flow has a learning rate of its own
    policy_params = [p for name, p in actor.named_parameters() if flow is None or not name.startswith("flow.")]
    param_groups.append({"params": policy_params, "lr": actor_lr, "name": "actor"})
    if flow is not None:
        param_groups.append({"params": list(flow.parameters()), "lr": flow_lr, "name": "actor_flow"})
    device = param_groups[0]["params"][0].device
    # fused kernels on both CPU and CUDA in torch>=2.4; fall back to foreach elsewhere.
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(param_groups, fused=fused, foreach=None if fused else True, capturable=capturable)


def make_adamw_schedule(optim_cfg: Mapping, module: nn.Module, steps: int):
    """AdamW (no weight decay on biases and norms) with linear warm-up then cosine decay to 0."""
    decay = [p for p in module.parameters() if p.dim() >= 2]
    no_decay = [p for p in module.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": optim_cfg["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=optim_cfg["lr"])
    warmup = max(1, int(optim_cfg["warmup_fraction"] * steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def use_observation_key(loss: nn.Module, key: str) -> None:
    """Points a loss's observation entries (current, next and — if it reads them — future) at ``key``.

    Families with image observations store them under their own key (``"pixels"``) next to the state
    vector; TorchRL's ``set_keys`` lets the same losses read either.
    """
    wanted = {"observation": key, "next_observation": ("next", key), "future_observation": f"future_{key}"}
    loss.set_keys(**{name: value for name, value in wanted.items() if hasattr(loss.tensor_keys, name)})


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def cache_frozen_features(encoder: nn.Module, buffers: Sequence, device: torch.device) -> bool:
    """Encodes every frame stack of the offline data once with a frozen observation encoder, so that updates
    read features instead of running the encoder twice per transition. Returns whether it did: the encoder
    must be frozen and accept its own features, and the buffers must offer a feature cache (DMC pixels)."""
    if not (getattr(encoder, "frozen", False) and getattr(encoder, "accepts_features", False)):
        return False
    if not all(hasattr(rb, "use_frame_features") and rb.has_pixels for rb in buffers):
        return False
    done: list[tuple[Any, torch.Tensor]] = []  # splits of one dataset share their frames: encode them once
    for rb in buffers:
        features = next((f for frames, f in done if frames is rb.arrays["pixels"]), None)
        if features is None:
            features = rb.encode_frame_stacks(lambda stacks: encoder(stacks.to(device)))
            done.append((rb.arrays["pixels"], features))
        rb.use_frame_features(features)
    return True


def make_update(rep_loss: nn.Module, actor_loss: nn.Module, optimizer: torch.optim.Optimizer, target_updater,
                *, compile: bool = False, cudagraphs: bool = False, precision: str = "fp32", average_grads: bool = False):
    """The gradient step of the zero-shot agent, in the official agents' order: the representation step, then
    the actor step against the updated networks (its state features recomputed), then the target EMA.

    Both steps use the one Adam: each backward leaves the other group's gradients unset, and Adam skips
    parameters without a gradient. Acting on the updated critic matters: against the pre-step critic the
    actor's first update differs from the official one by 60–79 % of its size (RESULTS §3.1).

    ``compile`` wraps it in ``torch.compile``; ``cudagraphs`` (CUDA only, needs a capturable
    optimiser) replays the whole step as one CUDA graph via tensordict's ``CudaGraphModule``.
    ``precision="bf16"`` runs the forward passes under bf16 autocast (fp32 weights, Adam state and
    losses); matmuls then run at the bf16 rate, at the cost of bf16 rounding in activations.
    ``average_grads`` (data-parallel runs) averages the gradients over ranks before the Adam step.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision={precision!r} is not known: use one of {sorted(PRECISIONS)}")
    if average_grads and (compile or cudagraphs):
        raise ValueError("train.compile / train.cudagraphs are not supported with torchrun data parallelism yet; set them to false")
    autocast_dtype = PRECISIONS[precision]
    device_type = next(rep_loss.parameters()).device.type
    params = [p for group in optimizer.param_groups for p in group["params"]]

    features_key = actor_loss.tensor_keys.state_features
    autocast = partial(torch.autocast, device_type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None)

    def descend(losses) -> None:
        total = sum(v.float() for k, v in losses.items() if k.startswith("loss_"))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if average_grads:
            average_gradients(params)
        optimizer.step()

    def update(batch):
        batch = batch.copy()  # the losses add z / features to it; leave the caller's batch as it was
        with autocast():
            losses = rep_loss(batch)
        descend(losses)
        batch.pop(features_key, None)  # φ(s) before the step: the actor reads the updated encoder's
        with autocast():
            actor_losses = actor_loss(batch)  # same z as the representation step
        descend(actor_losses)
        target_updater.step()
        losses.update(actor_losses)
        return losses.apply(lambda value: value.detach().float())

    if compile:
        update = torch.compile(update)
    if cudagraphs:
        from tensordict.nn import CudaGraphModule

        update = CudaGraphModule(update, in_keys=[], out_keys=[], warmup=10)
    return update


def to_plain(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


# Errors that describe bad input (config, dataset, checkpoint, diverged run, no OpenGL): shown as one message.
USER_ERRORS = (ValueError, OSError, FloatingPointError, RenderBackendError)  # OSError: full disk, read-only folder, missing file


def exit_with_user_error(err: BaseException) -> None:
    """Prints ``err`` as one line (the full traceback stays behind JEPA_RL_TRACEBACK=1) and exits 2."""
    if os.environ.get("JEPA_RL_TRACEBACK") == "1":
        raise err
    print(f"error: {err}\n(set JEPA_RL_TRACEBACK=1 for the full traceback)", file=sys.stderr)
    raise SystemExit(2)


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


def epoch_sampler(data: TensorDict, batch_size: int) -> TensorDictReplayBuffer:
    """Batches of ``batch_size`` (at most ``len(data)``) rows of ``data``, in epochs: every row once per epoch in a
    new random order (the last partial batch dropped). Its ``sampler.state_dict()`` is its place in the epoch."""
    sampler = TensorDictReplayBuffer(storage=LazyTensorStorage(len(data)), sampler=SamplerWithoutReplacement(drop_last=True),
                                     batch_size=min(int(batch_size), len(data)))
    sampler.extend(data)
    return sampler


# Logged by the JEPA objectives (representations/core/collapse.py) and kept in the pretraining reports.
COLLAPSE_KEYS = ("feature_std", "feature_rankme", "target_std", "target_rankme", "prediction_std")


def pretrain_updates(losses_of_batch, loss_key: str, optimizer: torch.optim.Optimizer, scheduler, target_updater, *,
                     start: int, steps: int, log_every: int, checkpoint_every: int, checkpoint, logger, stage: str = "train",
                     offset: int = 0, history: list[dict] | None = None):
    """The self-supervised update loop of ``agents.pretrain``: ``losses_of_batch()`` → backward of ``loss_key``
    → optimiser, schedule and (optional) EMA step, from update ``start`` to ``steps`` with a progress bar.
    Every ``log_every`` updates the losses are checked for NaN, logged as ``<stage>/<key>`` at update
    ``offset + done`` and printed; every ``checkpoint_every`` updates (counted from ``offset``) calls
    ``checkpoint(done)``. ``history``, if given, receives {step, stage, the collapse diagnostics} at every log step
    (the run's report keeps it). Returns (the last losses or None, seconds spent)."""
    from tqdm.auto import tqdm

    label = "" if stage == "train" else f"{stage} "
    losses = None
    progress = tqdm(range(start, steps), initial=start, total=steps, desc=stage if stage != "train" else "pretrain",
                    unit="update", dynamic_ncols=True)
    for step in progress:
        losses = losses_of_batch()
        optimizer.zero_grad(set_to_none=True)
        losses[loss_key].backward()
        optimizer.step()
        scheduler.step()
        if target_updater is not None:
            target_updater.step()
        done = step + 1
        check_finite(losses, offset + done, "lower representation.optim.lr, or resume from the last checkpoint with resume=true")
        if done % log_every == 0 or done == steps:
            logger.log({f"{stage}/{k}": v.item() for k, v in losses.items()}, offset + done)
            if history is not None:
                history.append({"step": offset + done, "stage": stage,
                                **{k: losses[k].item() for k in COLLAPSE_KEYS if k in losses.keys()}})
            tqdm.write(f"{label}step {done}: " + " ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
                       + f" ({progress.format_dict.get('rate') or 0.0:.1f} updates/s)")
        if checkpoint_every and (offset + done) % checkpoint_every == 0:
            checkpoint(done)
    progress.close()
    return losses, progress.format_dict.get("elapsed", 0.0)
