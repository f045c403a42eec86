"""Vision JEPAs pretrained on environment frames (``python -m agents.pretrain objective=vjepa|salt|dmt_jepa
data=frames``), built from their ``objective`` sub-config and used frozen in front of any agent
(``encoder=vjepa|salt|dmt_jepa encoder.checkpoint=<pretrain run>``).

The frozen feature of a frame is the mean of the encoder's output tokens (``EncoderModel.encode``). An
observation stacking k frames on its channels ([3k, H, W], oldest first — DMC's frame stack) is encoded
either as a clip (a checkpoint pretrained on clips of k frames, ``data.clip_length=k``: one feature) or
frame by frame (an image checkpoint: the k features concatenated). A frozen encoder also accepts its own
precomputed features ([.., feature_dim] floats, e.g. from a replay buffer's feature cache) and returns them as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from representations.core.vit import EncoderModel

METHODS = ("vjepa", "salt", "dmt_jepa")
PARTS = {"vjepa": ("model",), "dmt_jepa": ("model",), "salt": ("teacher", "student")}  # checkpoint weight groups


def _grid_kwargs(rep_cfg: Mapping, image_size: int, clip_length: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"image_size": int(image_size), "patch_size": int(rep_cfg["patch_size"])}
    if clip_length > 1:
        kwargs.update(frames=int(clip_length), tubelet=int(rep_cfg["tubelet"]))
    return kwargs


def build_vision_models(rep_cfg: Mapping, *, image_size: int, clip_length: int = 1) -> dict[str, EncoderModel]:
    """The networks of ``objective=<method>`` for S × S frames (``clip_length`` 1) or clips of T frames:
    ``{"model": VJEPA | DMTJEPA}`` or, for SALT, ``{"teacher": PixelTeacher, "student": SALTStudent}``."""
    name = rep_cfg["name"]
    grid = _grid_kwargs(rep_cfg, image_size, clip_length)
    if name == "vjepa":
        from representations.vjepa import VJEPA

        return {"model": VJEPA(**grid, **dict(rep_cfg["model"]))}
    if name == "dmt_jepa":
        from representations.dmt_jepa import DMTJEPA

        if clip_length > 1:
            raise ValueError(
                "DMT-JEPA is an image method (I-JEPA masks on a 2-D grid): use data.clip_length=1, or "
                "objective=vjepa|salt for clips"
            )
        return {"model": DMTJEPA(**grid, **dict(rep_cfg["model"]))}
    if name == "salt":
        from representations.salt import PixelTeacher, SALTStudent

        teacher = PixelTeacher(**grid, **dict(rep_cfg["teacher"]))
        return {"teacher": teacher, "student": SALTStudent(**grid, teacher_dim=teacher.feature_dim, **dict(rep_cfg["student"]))}
    raise ValueError(f"unknown vision objective {name!r}; choose one of {list(METHODS)}")


def frozen_part(name: str, part: str | None = None) -> str:
    """The network whose encoder is the method's output: the model, or SALT's student (``part=teacher`` for its
    stage-1 teacher)."""
    part = part or ("student" if name == "salt" else "model")
    if part not in PARTS[name]:
        raise ValueError(f"objective={name} has no part {part!r}; choose one of {list(PARTS[name])}")
    return part


def load_vision_jepa(path: str | Path, part: str | None = None) -> tuple[EncoderModel, dict]:
    """The frozen-use network of a vision-JEPA checkpoint (a pretrain run folder or a step folder), in eval mode."""
    from representations import load_weights, read_checkpoint

    path, config = read_checkpoint(path, "agents.pretrain")
    name = config.get("objective", {}).get("name")
    if name not in METHODS or "frames" not in config.get("dims", {}):
        raise ValueError(
            f"{path} is not a vision-JEPA checkpoint of agents.pretrain (objective.name={name!r}; "
            f"expected one of {list(METHODS)})"
        )
    dims = config["dims"]
    models = build_vision_models(config["objective"], image_size=dims["image_size"], clip_length=dims["frames"])
    load_weights(path, models)
    return models[frozen_part(name, part)].eval(), config


class VisionJEPAEncoder(nn.Module):
    """Frozen (by default) mean-pooled ViT features of [3k, S, S] uint8 observations (see the module docstring)."""

    pretrained = True  # the representation's reference initialisation must not overwrite it
    accepts_features = True  # frozen: forward passes cached features through (agents.update.cache_frozen_features)

    def __init__(self, checkpoint: str | Path, obs_shape: Sequence[int], *, part: str | None = None, frozen: bool = True) -> None:
        super().__init__()
        self.model, config = load_vision_jepa(checkpoint, part)
        dims, obs = config["dims"], tuple(int(d) for d in obs_shape)
        size, frames = int(dims["image_size"]), int(dims["frames"])
        if len(obs) != 3 or obs[1:] != (size, size) or obs[0] % 3:
            raise ValueError(
                f"the {config['objective']['name']} encoder at {checkpoint} reads {size}x{size} RGB frames, "
                f"but this environment's observations have shape {list(obs)}: use env.obs=pixels with "
                f"env.render_size={size}, or pretrain with data.image_size={obs[-1]}"
            )
        stacked = obs[0] // 3
        if frames > 1 and stacked != frames:
            raise ValueError(
                f"the encoder at {checkpoint} was pretrained on clips of {frames} frames but observations stack "
                f"{stacked}: set env.frame_stack={frames}, or pretrain with data.clip_length={stacked}"
            )
        self.model_name = config["objective"]["name"]
        self.obs_shape, self.stacked, self.clip = obs, stacked, frames > 1
        self.feature_dim = self.model.feature_dim * (1 if self.clip else stacked)
        self.frozen = frozen
        if frozen:
            self.model.requires_grad_(False)

    def train(self, mode: bool = True) -> "VisionJEPAEncoder":
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        if tuple(observation.shape[-3:]) != self.obs_shape:
            if self.frozen and observation.shape[-1] == self.feature_dim and observation.is_floating_point():
                return observation  # already encoded (cached features of the frozen encoder)
            raise ValueError(
                f"the {self.model_name} encoder reads observations of shape {list(self.obs_shape)}"
                f"{' (or its cached ' + str(self.feature_dim) + '-d features)' if self.frozen else ''}, "
                f"got a batch of shape {list(observation.shape)}"
            )
        lead, (h, w) = observation.shape[:-3], observation.shape[-2:]
        frames = observation.reshape(-1, self.stacked, 3, h, w)  # [B, k, 3, H, W], oldest first
        if self.clip:
            features = self.model.encode(frames.transpose(1, 2))  # clips are [B, C, T, H, W]
        else:
            features = self.model.encode(frames.flatten(0, 1)).reshape(len(frames), -1)
        return features.reshape(*lead, self.feature_dim)
