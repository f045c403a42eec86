"""LiDAR BEV checkpoints (``python -m agents.pretrain objective=ad_l_jepa|occupancy_mae data=lidar``) as
observation encoders.

``encoder=ad_l_jepa encoder.checkpoint=<run>`` encodes an agent's LiDAR grid (``env=ogbench env.obs=lidar``,
pretrained with ``data.source=maze`` on the same maze) into ``encode_pooled`` features: the mean token over the
non-empty BEV cells ‖ the mean over all cells (2C wide). ``encoder.part``: ``target`` (AD-L-JEPA's EMA backbone,
the default) or ``online`` (the context encoder; the only one an Occupancy-MAE run has).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from representations.ad_l_jepa.model import ADLJEPA, BEVTokenEncoder, OccupancyMAE

OBJECTIVES = ("ad_l_jepa", "occupancy_mae")
PARTS = ("target", "online")


def build_lidar_model(rep_cfg: Mapping[str, Any], in_channels: int) -> ADLJEPA | OccupancyMAE:
    """The model of ``objective=ad_l_jepa|occupancy_mae`` for BEV grids with ``in_channels`` channels."""
    objective = str(rep_cfg["name"])
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective={objective!r} for LiDAR; choose one of {list(OBJECTIVES)}")
    kind = ADLJEPA if objective == "ad_l_jepa" else OccupancyMAE
    return kind(int(in_channels), **dict(rep_cfg["model"]))


def with_backbone(encoder: BEVTokenEncoder, backbone: nn.Module) -> BEVTokenEncoder:
    """A copy of ``encoder`` (tokens included) whose backbone carries ``backbone``'s weights and BN statistics."""
    out = copy.deepcopy(encoder)
    out.backbone.load_state_dict(backbone.state_dict())
    return out


def load_lidar_encoder(path: str | Path, part: str | None = None) -> tuple[BEVTokenEncoder, dict]:
    """(BEV token encoder in eval mode, its run config) from a LiDAR pretraining run or step folder."""
    from representations import load_weights, read_checkpoint

    path, config = read_checkpoint(path, "agents.pretrain objective=ad_l_jepa data=lidar")
    rep = config.get("objective", {})
    if rep.get("kind") != "lidar":
        raise ValueError(
            f"{path} is not a LiDAR checkpoint of agents.pretrain (objective.name={rep.get('name')!r}; "
            f"expected one of {list(OBJECTIVES)})"
        )
    objective = rep["name"]
    part = part or ("target" if objective == "ad_l_jepa" else "online")
    if part not in PARTS:
        raise ValueError(f"unknown encoder.part={part!r} for a LiDAR checkpoint; choose one of {list(PARTS)}")
    if part == "target" and objective != "ad_l_jepa":
        raise ValueError(f"{path} is an {objective} checkpoint, which has no EMA target: use encoder.part=online")
    model = build_lidar_model(rep, config["dims"]["in_channels"])
    load_weights(path, {"model": model})
    encoder = model.encoder
    if part == "target":
        target = copy.deepcopy(model.encoder.backbone)
        load_weights(path, {"target": target})
        encoder = with_backbone(model.encoder, target)
    return encoder.eval(), config


class LidarEncoder(nn.Module):
    """Frozen (by default) pooled BEV features of LiDAR grid observations [.., C, H, W] (module docstring)."""

    pretrained = True  # the representation's reference initialisation must not overwrite it

    def __init__(self, checkpoint: str | Path, obs_shape: Sequence[int], *, part: str | None = None, frozen: bool = True) -> None:
        super().__init__()
        self.encoder, config = load_lidar_encoder(checkpoint, part)
        self.model_name = config["objective"]["name"]
        grid = config["dims"]["grid_shape"]
        obs = tuple(int(d) for d in obs_shape)
        if obs != tuple(grid):
            raise ValueError(
                f"the LiDAR encoder at {checkpoint} reads BEV grids of shape {list(grid)} but this "
                f"environment's observations have shape {list(obs)}: use env.obs=lidar, and pretrain on "
                "the same env with data=lidar data.source=maze"
            )
        self.frozen, self.feature_dim = frozen, self.encoder.feature_dim
        if frozen:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> "LidarEncoder":
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # BatchNorm keeps its pretraining statistics
        return self

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        lead = observation.shape[:-3]
        grids = observation.reshape(-1, *observation.shape[-3:]).float()
        return self.encoder.encode_pooled(grids).reshape(*lead, self.feature_dim)
