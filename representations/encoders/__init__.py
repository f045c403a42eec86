"""Observation encoders that plug in front of any representation (``encoder=<name>``)."""
from __future__ import annotations

from typing import Mapping

from torch import nn


def make_encoder(encoder_cfg: Mapping, obs_dim: int) -> tuple[nn.Module, int]:
    """Returns (encoder module, output feature dim) for flat observations of size ``obs_dim``."""
    name = encoder_cfg["name"]
    if name == "identity":
        return nn.Identity(), obs_dim
    raise ValueError(f"unknown encoder {name!r}; choose one of ['identity'] (encoder=<name>)")
