"""ACT-JEPA (arXiv 2501.14622) and its behaviour-cloning baselines ACT and MLP-BC.

``make_bc_policy(rep_cfg, state_dim, action_dim)`` builds any of them from the ``representation``
config group (``name``: act_jepa | act | mlp_bc).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
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
        raise ValueError(
            f"policy={name} is not a behaviour-cloning policy; agents.bc trains {list(BC_POLICIES)} "
            "(zero-shot representations train with python -m agents.zeroshot)"
        )
    kwargs = {k: v for k, v in cfg.items() if k not in _NON_MODEL_KEYS}
    if "image_size" in kwargs:  # the model only needs to know whether frames come; their size is the env's
        kwargs["image_tokens"] = kwargs.pop("image_size") is not None
    try:
        if name == "mlp_bc":
            return MLPBC(state_dim, action_dim, **kwargs)
        return ACTJEPA(state_dim, action_dim, jepa=name == "act_jepa", **kwargs)
    except TypeError as err:
        raise ValueError(f"bad option for policy {name!r}: {err}") from None


def load_bc_policy(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuilds a trained policy of ``agents.bc`` from its checkpoint folder (config.json + model.safetensors)."""
    from representations import load_weights, read_checkpoint

    path, config = read_checkpoint(path, "agents.bc")
    if "state_dim" not in config.get("dims", {}):
        raise ValueError(f"{path} is not a behaviour-cloning checkpoint (no dims.state_dim in its config.json)")
    policy = make_bc_policy(config["policy"], config["dims"]["state_dim"], config["dims"]["action_dim"])
    load_weights(path, {"policy": policy})
    return policy.eval(), config


class BCPolicyEncoder(nn.Module):
    """The context encoder of a trained ACT-JEPA/ACT/MLP-BC policy as an observation encoder for the
    zero-shot agent (``encoder=act_jepa encoder.checkpoint=<bc run>``). The zero-shot agent has no
    goal, so the condition token is that of a zero goal (or task 0). Frozen by default."""

    pretrained = True  # the representation's reference initialisation must not overwrite it

    def __init__(self, checkpoint: str | Path, obs_dim: int, *, frozen: bool = True) -> None:
        super().__init__()
        self.policy, config = load_bc_policy(checkpoint)
        if self.policy.image_tokens:
            raise ValueError(f"the policy at {checkpoint} reads image tokens; encoder=act_jepa encodes state vectors only")
        if self.policy.state_dim != obs_dim:
            raise ValueError(
                f"the behaviour-cloning policy at {checkpoint} reads {self.policy.state_dim}-d states "
                f"({config['env'].get('name')}) but this environment has {obs_dim}-d observations"
            )
        self.frozen = frozen
        self.feature_dim = self.policy.feature_dim
        if frozen:
            self.policy.requires_grad_(False)

    def train(self, mode: bool = True) -> "BCPolicyEncoder":
        super().train(mode)
        if self.frozen:
            self.policy.eval()  # no dropout in a frozen encoder
        return self

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        flat = observation.reshape(-1, observation.shape[-1])
        condition = self.policy.condition
        goal = torch.zeros_like(flat) if condition == "goal" else None
        task = torch.zeros(flat.shape[0], dtype=torch.long, device=flat.device) if condition == "task" else None
        return self.policy.features(flat, goal, task).reshape(*observation.shape[:-1], -1)


__all__ = [
    "ACTJEPA",
    "ActionChunkLoss",
    "BCPolicyEncoder",
    "BC_POLICIES",
    "MLPBC",
    "load_bc_policy",
    "make_bc_policy",
    "masked_l1",
]
