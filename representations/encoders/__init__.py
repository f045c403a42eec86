"""Observation encoders that plug in front of any representation (``encoder=<name>``).

``make_encoder(encoder_cfg, obs_shape)`` returns (module, feature dim). ``auto`` (the default)
picks ``identity`` for flat observations and ``pixels`` for [C, H, W] frames.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from torch import nn

from representations.encoders.pixels import PixelEncoder, random_shift

ENCODERS = ("auto", "identity", "pixels", "act_jepa", "seq_jepa", "vjepa", "salt", "dmt_jepa", "t_jepa", "ad_l_jepa")


def make_encoder(encoder_cfg: Mapping, obs_shape: int | Sequence[int]) -> tuple[nn.Module, int]:
    """Returns (encoder module, output feature dim) for observations of shape ``obs_shape``."""
    shape = (obs_shape,) if isinstance(obs_shape, int) else tuple(int(d) for d in obs_shape)
    name = encoder_cfg["name"]
    if name == "auto":
        name = "pixels" if len(shape) == 3 else "identity"
    if name == "identity":
        if len(shape) != 1:
            raise ValueError(f"encoder=identity needs flat observations, got shape {shape}: use encoder=pixels (or auto) for images")
        if encoder_cfg.get("fourier_features") and not encoder_cfg.get("standardize", False):
            raise ValueError("encoder.fourier_features needs encoder.standardize=true (the frequencies are in units of the "
                             "data's standard deviation)")
        if encoder_cfg.get("standardize", False):
            from representations.encoders.standardize import ObservationStandardizer

            encoder = ObservationStandardizer(shape[0], fourier_features=int(encoder_cfg.get("fourier_features", 0) or 0),
                                              fourier_scale=float(encoder_cfg.get("fourier_scale", 1.0)))
            return encoder, encoder.feature_dim
        return nn.Identity(), shape[0]
    if name == "pixels":
        encoder = PixelEncoder(shape, **dict(encoder_cfg.get("pixels", {}) or {}))
        return encoder, encoder.feature_dim
    if name == "act_jepa":  # a trained behaviour-cloning policy's context encoder (agents.bc)
        from representations.act_jepa import BCPolicyEncoder

        if len(shape) != 1:
            raise ValueError(f"encoder=act_jepa encodes state vectors, got observations of shape {shape}")
        if not encoder_cfg.get("checkpoint"):
            raise ValueError("encoder=act_jepa needs encoder.checkpoint=<run folder of python -m agents.bc>")
        encoder = BCPolicyEncoder(encoder_cfg["checkpoint"], shape[0], frozen=bool(encoder_cfg.get("frozen", True)))
        return encoder, encoder.feature_dim
    if name == "seq_jepa":  # a pretrained seq-JEPA (agents.pretrain): aggregate or per-view features
        from representations.seq_jepa.encoder import SeqJEPAEncoder

        if not encoder_cfg.get("checkpoint"):
            raise ValueError("encoder=seq_jepa needs encoder.checkpoint=<run folder of python -m agents.pretrain>")
        encoder = SeqJEPAEncoder(encoder_cfg["checkpoint"], shape, features=str(encoder_cfg.get("features", "aggregate")),
                                 frozen=bool(encoder_cfg.get("frozen", True)))
        return encoder, encoder.feature_dim
    if name in ("vjepa", "salt", "dmt_jepa"):  # a vision JEPA pretrained on frames (agents.pretrain data=frames)
        from representations.encoders.vision import VisionJEPAEncoder

        if not encoder_cfg.get("checkpoint"):
            raise ValueError(f"encoder={name} needs encoder.checkpoint=<run folder of python -m agents.pretrain "
                             f"representation={name} data=frames>")
        encoder = VisionJEPAEncoder(encoder_cfg["checkpoint"], shape, part=encoder_cfg.get("part"),
                                    frozen=bool(encoder_cfg.get("frozen", True)))
        if encoder.model_name != name:
            raise ValueError(f"encoder={name} but {encoder_cfg['checkpoint']} holds a {encoder.model_name} checkpoint: "
                             f"use encoder={encoder.model_name}")
        return encoder, encoder.feature_dim
    if name == "t_jepa":  # a T-JEPA pretrained on the env's states (agents.pretrain data=table data.name=env_states)
        from representations.t_jepa.encoder import TJEPAEncoder

        if not encoder_cfg.get("checkpoint"):
            raise ValueError("encoder=t_jepa needs encoder.checkpoint=<run folder of python -m agents.pretrain "
                             "representation=t_jepa data=table data.name=env_states>")
        encoder = TJEPAEncoder(encoder_cfg["checkpoint"], shape, part=encoder_cfg.get("part"),
                               pool=str(encoder_cfg.get("pool", "mean")), frozen=bool(encoder_cfg.get("frozen", True)))
        return encoder, encoder.feature_dim
    if name == "ad_l_jepa":  # a LiDAR BEV encoder (agents.pretrain representation=ad_l_jepa|occupancy_mae data=lidar)
        from representations.ad_l_jepa.encoder import LidarEncoder

        if not encoder_cfg.get("checkpoint"):
            raise ValueError("encoder=ad_l_jepa needs encoder.checkpoint=<run folder of python -m agents.pretrain "
                             "representation=ad_l_jepa data=lidar data.source=maze env=ogbench>")
        encoder = LidarEncoder(encoder_cfg["checkpoint"], shape, part=encoder_cfg.get("part"),
                               frozen=bool(encoder_cfg.get("frozen", True)))
        return encoder, encoder.feature_dim
    raise ValueError(f"unknown encoder {name!r}; choose one of {list(ENCODERS)} (encoder=<name>)")


__all__ = ["ENCODERS", "PixelEncoder", "make_encoder", "random_shift"]
