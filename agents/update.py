"""The zero-shot agent's gradient step (representation, then actor, then targets) and what it reads: the observation key
and, for frozen pixel encoders, features cached once."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from agents.distributed import average_gradients
from agents.engine.runtime import autocast as precision_autocast


def use_observation_key(loss: nn.Module, key: str) -> None:
    """Points a loss's observation entries (current, next and — if it reads them — future) at ``key``.

    Families with image observations store them under their own key (``"pixels"``) next to the state
    vector; TorchRL's ``set_keys`` lets the same losses read either.
    """
    wanted = {"observation": key, "next_observation": ("next", key), "future_observation": f"future_{key}"}
    loss.set_keys(**{name: value for name, value in wanted.items() if hasattr(loss.tensor_keys, name)})


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


def make_update(
    rep_loss: nn.Module,
    actor_loss: nn.Module,
    optimizer: torch.optim.Optimizer,
    target_updater,
    *,
    compile: bool = False,
    cudagraphs: bool = False,
    precision: str = "fp32",
    average_grads: bool = False,
):
    """The gradient step of the zero-shot agent, in the official agents' order: the representation step, then
    the actor step against the updated networks (its state features recomputed), then the target EMA.

    Both steps use the one Adam: each backward leaves the other group's gradients unset, and Adam skips
    parameters without a gradient. Acting on the updated critic matters: against the pre-step critic the
    actor's first update differs from the official one by 60–79 % of its size (RESULTS §3.1).

    ``compile`` wraps it in ``torch.compile``; ``cudagraphs`` (CUDA only, needs a capturable
    optimiser) replays the whole step as one CUDA graph via tensordict's ``CudaGraphModule``.
    ``precision="bf16"`` runs the forward passes under bf16 autocast (fp32 weights, Adam state and
    losses); matmuls then run at the bf16 rate, at the cost of bf16 rounding in activations (``auto``: bf16 on CUDA,
    :func:`agents.engine.runtime.autocast`).
    ``average_grads`` (data-parallel runs) averages the gradients over ranks before the Adam step.
    """
    if average_grads and (compile or cudagraphs):
        raise ValueError(
            "train.compile / train.cudagraphs are not supported with torchrun data parallelism yet; set them to false"
        )
    device_type = next(rep_loss.parameters()).device.type
    params = [p for group in optimizer.param_groups for p in group["params"]]

    features_key = actor_loss.tensor_keys.state_features
    autocast = precision_autocast(precision, device_type)

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
