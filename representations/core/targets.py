"""Target networks that torchrl's ``SoftUpdate``/``HardUpdate`` can drive.

TorchRL's updaters look for ``<name>_params`` / ``target_<name>_params`` pairs on a ``LossModule``.
We keep each target as a frozen deep copy of the online module (so forward passes need no parameter
swapping) and register both parameter sets under those names.
"""

from __future__ import annotations

import copy

from tensordict import TensorDict
from tensordict.nn import TensorDictParams
from torch import nn


def add_target_network(loss_module: nn.Module, name: str, module: nn.Module) -> nn.Module:
    """Registers ``module``'s parameters and a frozen copy's on ``loss_module``; returns the copy."""
    target = copy.deepcopy(module).requires_grad_(False)
    setattr(loss_module, f"{name}_params", TensorDictParams(TensorDict.from_module(module), no_convert=True))
    setattr(loss_module, f"target_{name}_params", TensorDictParams(TensorDict.from_module(target), no_convert=True))
    # Keep the target module itself out of the registered children: its tensors are already the
    # ``target_<name>_params`` above, and listing them twice would confuse optimisers and state dicts.
    loss_module.__dict__[f"target_{name}"] = target
    # LossModule bookkeeping: "this network has a target that an updater must step".
    getattr(loss_module, "_has_update_associated", {})[name] = False
    return target


def linear_momentum(step: int, total_steps: int, start: float = 0.996, end: float = 1.0) -> float:
    """EMA momentum rising linearly from ``start`` to ``end`` over training (I-JEPA, ACT-JEPA's
    EmaUpdateCallback): m_k = start + (end − start)·k/K, held at ``end`` after K steps."""
    progress = min(max(step, 0), total_steps) / max(total_steps, 1)
    return start + (end - start) * progress


class ScheduledSoftUpdate:
    """torchrl's ``SoftUpdate(loss, eps=m)`` with m = :func:`linear_momentum` (start → end over ``total_steps``)
    set before each ``step()``; ``done`` counts the steps taken (set it when resuming)."""

    def __init__(self, loss_module, total_steps: int, start: float = 0.996, end: float = 1.0, done: int = 0) -> None:
        from torchrl.objectives import SoftUpdate

        self.updater = SoftUpdate(loss_module, eps=start)
        self.total_steps, self.start, self.end, self.done = total_steps, start, end, done

    def step(self) -> None:
        self.done += 1
        self.updater.eps = linear_momentum(self.done, self.total_steps, self.start, self.end)
        self.updater.step()
