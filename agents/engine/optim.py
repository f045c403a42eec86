"""Optimisers: the zero-shot agent's one Adam over its network groups, and AdamW with warm-up + cosine for pretraining."""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from representations.base import ZeroShotRepresentation


def make_optimizer(
    optim_cfg: Mapping,
    actor_lr: float,
    representation: ZeroShotRepresentation,
    actor: nn.Module,
    *,
    capturable: bool = False,
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
        raise ValueError(
            f"representation.optim.lr must set exactly {sorted(groups)}; unknown {sorted(unknown)}, missing {sorted(missing)}"
        )
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
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": optim_cfg["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=optim_cfg["lr"],
    )
    warmup = max(1, int(optim_cfg["warmup_fraction"] * steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
