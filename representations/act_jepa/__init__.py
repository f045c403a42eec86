"""ACT-JEPA (arXiv 2501.14622) and its behaviour-cloning baselines ACT and MLP-BC.

``make_bc_policy(rep_cfg, state_dim, action_dim)`` builds any of them from the ``representation``
config group (``name``: act_jepa | act | mlp_bc).
"""
from __future__ import annotations

from typing import Any, Mapping

from omegaconf import OmegaConf
from torch import nn

from representations.act_jepa.loss import ActionChunkLoss, masked_l1
from representations.act_jepa.model import ACTJEPA, MLPBC

BC_POLICIES = ("act_jepa", "act", "mlp_bc")
_NON_MODEL_KEYS = {"name", "kind", "loss", "optim", "ema"}


def _plain(cfg: Any) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)  # type: ignore[return-value]


def make_bc_policy(rep_cfg: Mapping, state_dim: int, action_dim: int) -> nn.Module:
    cfg = _plain(rep_cfg)
    name = cfg["name"]
    if name not in BC_POLICIES:
        raise ValueError(f"representation={name} is not a behaviour-cloning policy; agents.bc trains {list(BC_POLICIES)} "
                         "(zero-shot representations train with python -m agents.zeroshot)")
    kwargs = {k: v for k, v in cfg.items() if k not in _NON_MODEL_KEYS}
    try:
        if name == "mlp_bc":
            return MLPBC(state_dim, action_dim, **kwargs)
        return ACTJEPA(state_dim, action_dim, jepa=name == "act_jepa", **kwargs)
    except TypeError as err:
        raise ValueError(f"bad option for representation {name!r}: {err}") from None


__all__ = ["ACTJEPA", "ActionChunkLoss", "BC_POLICIES", "MLPBC", "make_bc_policy", "masked_l1"]
