"""Observation encoders that plug in front of any representation (``encoder=<name>``).

``make_encoder(encoder_cfg, obs_shape)`` returns (module, feature dim). ``auto`` (the default)
picks ``identity`` for flat observations and ``pixels`` for [C, H, W] frames. Each encoder registers a builder in
:data:`BUILDERS`; the pretrained ones read a run folder of the entry point named in their error message.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from torch import nn

from representations.encoders.pixels import PixelEncoder, random_shift

Shape = tuple[int, ...]


def _identity(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:
    if len(shape) != 1:
        raise ValueError(f"encoder=identity needs flat observations, got shape {shape}: use encoder=pixels (or auto) for images")
    if cfg.get("fourier_features") and not cfg.get("standardize", False):
        raise ValueError(
            "encoder.fourier_features needs encoder.standardize=true (the frequencies are in units of the "
            "data's standard deviation)"
        )
    if cfg.get("standardize", False):
        from representations.encoders.standardize import ObservationStandardizer

        encoder = ObservationStandardizer(
            shape[0],
            fourier_features=int(cfg.get("fourier_features", 0) or 0),
            fourier_scale=float(cfg.get("fourier_scale", 1.0)),
        )
        return encoder, encoder.feature_dim
    return nn.Identity(), shape[0]


def _pixels(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:
    encoder = PixelEncoder(shape, **dict(cfg.get("pixels", {}) or {}))
    return encoder, encoder.feature_dim


def _checkpoint(cfg: Mapping, name: str, producer: str) -> str:
    if not cfg.get("checkpoint"):
        raise ValueError(f"encoder={name} needs encoder.checkpoint=<run folder of {producer}>")
    return cfg["checkpoint"]


def _act_jepa(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:  # a trained behaviour-cloning policy's context encoder
    from representations.act_jepa import BCPolicyEncoder

    if len(shape) != 1:
        raise ValueError(f"encoder=act_jepa encodes state vectors, got observations of shape {shape}")
    encoder = BCPolicyEncoder(_checkpoint(cfg, "act_jepa", "python -m agents.bc"), shape[0], frozen=bool(cfg.get("frozen", True)))
    return encoder, encoder.feature_dim


def _seq_jepa(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:  # aggregate or per-view features
    from representations.seq_jepa.encoder import SeqJEPAEncoder

    encoder = SeqJEPAEncoder(
        _checkpoint(cfg, "seq_jepa", "python -m agents.pretrain"),
        shape,
        features=str(cfg.get("features", "aggregate")),
        frozen=bool(cfg.get("frozen", True)),
    )
    return encoder, encoder.feature_dim


def _vision(name: str) -> Callable[[Mapping, Shape], tuple[nn.Module, int]]:  # a vision JEPA pretrained on frames
    def build(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:
        from representations.encoders.vision import VisionJEPAEncoder

        checkpoint = _checkpoint(cfg, name, f"python -m agents.pretrain representation={name} data=frames")
        encoder = VisionJEPAEncoder(checkpoint, shape, part=cfg.get("part"), frozen=bool(cfg.get("frozen", True)))
        if encoder.model_name != name:
            raise ValueError(
                f"encoder={name} but {checkpoint} holds a {encoder.model_name} checkpoint: use encoder={encoder.model_name}"
            )
        return encoder, encoder.feature_dim

    return build


def _t_jepa(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:  # a T-JEPA pretrained on the env's states
    from representations.t_jepa.encoder import TJEPAEncoder

    checkpoint = _checkpoint(cfg, "t_jepa", "python -m agents.pretrain objective=t_jepa data=table data.name=env_states")
    encoder = TJEPAEncoder(
        checkpoint, shape, part=cfg.get("part"), pool=str(cfg.get("pool", "mean")), frozen=bool(cfg.get("frozen", True))
    )
    return encoder, encoder.feature_dim


def _ad_l_jepa(cfg: Mapping, shape: Shape) -> tuple[nn.Module, int]:  # a LiDAR BEV encoder
    from representations.ad_l_jepa.encoder import LidarEncoder

    checkpoint = _checkpoint(
        cfg, "ad_l_jepa", "python -m agents.pretrain objective=ad_l_jepa data=lidar data.source=maze env=ogbench"
    )
    encoder = LidarEncoder(checkpoint, shape, part=cfg.get("part"), frozen=bool(cfg.get("frozen", True)))
    return encoder, encoder.feature_dim


BUILDERS: dict[str, Callable[[Mapping, Shape], tuple[nn.Module, int]]] = {
    "identity": _identity,
    "pixels": _pixels,
    "act_jepa": _act_jepa,
    "seq_jepa": _seq_jepa,
    **{name: _vision(name) for name in ("vjepa", "salt", "dmt_jepa")},
    "t_jepa": _t_jepa,
    "ad_l_jepa": _ad_l_jepa,
}
ENCODERS = ("auto", *BUILDERS)


def make_encoder(encoder_cfg: Mapping, obs_shape: int | Sequence[int]) -> tuple[nn.Module, int]:
    """Returns (encoder module, output feature dim) for observations of shape ``obs_shape``."""
    shape = (obs_shape,) if isinstance(obs_shape, int) else tuple(int(d) for d in obs_shape)
    name = encoder_cfg["name"]
    if name == "auto":
        name = "pixels" if len(shape) == 3 else "identity"
    if name not in BUILDERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {list(ENCODERS)} (encoder=<name>)")
    return BUILDERS[name](encoder_cfg, shape)


__all__ = ["BUILDERS", "ENCODERS", "PixelEncoder", "make_encoder", "random_shift"]
