"""Representations for RL. Each ``representations/<method>/`` holds one paper's model and loss.

``make_representation``/``make_representation_loss`` build them from the ``representation`` config
group; ``load_pretrained`` rebuilds a trained representation and policy from a checkpoint folder
(``config.json`` + ``model.safetensors``) without any training code.
"""

from __future__ import annotations

import envs.gl_backend  # noqa: F401  (first: a missing MUJOCO_GL backend matters only when rendering)

import json
from pathlib import Path
from typing import Any, Mapping

from omegaconf import OmegaConf
from torch import nn

from representations.base import ZeroShotRepresentation
from representations.fb import FB, FBLoss
from representations.hilp import HILP, HILPLoss
from representations.td_jepa import TDJEPA, TDJEPALoss

# name -> (model class, loss class)
REGISTRY: dict[str, tuple[type[ZeroShotRepresentation], type]] = {
    "td_jepa": (TDJEPA, TDJEPALoss),
    "td_jepa_sym": (TDJEPA, TDJEPALoss),  # symmetric=true preset (configs/representation/td_jepa_sym.yaml)
    "fb": (FB, FBLoss),
    "hilp": (HILP, HILPLoss),
}
_NON_MODEL_KEYS = {"name", "loss", "optim", "data"}  # data: what the method needs from the dataset


def _plain(cfg: Any) -> dict:
    if OmegaConf.is_config(cfg):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def _lookup(name: str) -> tuple[type[ZeroShotRepresentation], type]:
    if name not in REGISTRY:
        from representations.act_jepa import BC_POLICIES

        if name in BC_POLICIES:
            raise ValueError(
                f"representation={name} is a behaviour-cloning policy: train it with python -m agents.bc policy={name}"
            )
        raise ValueError(f"unknown representation {name!r}; choose one of {sorted(REGISTRY)} (representation=<name>)")
    return REGISTRY[name]


def model_kwargs(rep_cfg: Mapping) -> dict:
    """The constructor arguments of the representation model (the config minus name/loss/optim)."""
    return {k: v for k, v in _plain(rep_cfg).items() if k not in _NON_MODEL_KEYS}


def make_representation(
    rep_cfg: Mapping, obs_dim: int, action_dim: int, obs_encoder: nn.Module | None = None
) -> ZeroShotRepresentation:
    model_cls, _ = _lookup(_plain(rep_cfg)["name"])
    kwargs = model_kwargs(rep_cfg)
    try:
        return model_cls(obs_dim, action_dim, obs_encoder=obs_encoder, **kwargs)
    except TypeError as err:
        raise ValueError(f"bad option for representation {rep_cfg['name']!r}: {err}") from None


def make_representation_loss(rep_cfg: Mapping, model: ZeroShotRepresentation, actor: nn.Module):
    _, loss_cls = _lookup(_plain(rep_cfg)["name"])
    loss_kwargs = _plain(rep_cfg).get("loss", {}) or {}
    try:
        return loss_cls(model, actor, **loss_kwargs)
    except TypeError as err:
        raise ValueError(f"bad option in representation.loss for {rep_cfg['name']!r}: {err}") from None


# Before 2026-12-06 the BC policies and the pretraining objectives were written under "representation"; they have
# groups of their own now (policy=, objective=). read_checkpoint moves such old entries to their group.
RENAMED_GROUPS = {
    "policy": ("act_jepa", "act", "mlp_bc"),
    "objective": ("seq_jepa", "vjepa", "salt", "dmt_jepa", "t_jepa", "ad_l_jepa", "occupancy_mae", "ui_jepa"),
}


def migrate_config(config: dict) -> dict:
    """``config`` with an old checkpoint's ``representation`` entry moved to the group its method now lives in."""
    old = config.get("representation")
    name = old.get("name") if isinstance(old, dict) else None
    group = next((g for g, names in RENAMED_GROUPS.items() if name in names), None)
    if group is None or group in config:
        return config
    settings = dict(old)
    if group == "objective" and "objective" in settings:  # seq-JEPA's loss; the LiDAR configs' copy of their name
        inner = settings.pop("objective")
        if name == "seq_jepa":
            settings["loss"] = inner
    return {**{k: v for k, v in config.items() if k != "representation"}, group: settings}


def read_checkpoint(path: str | Path, producer: str) -> tuple[Path, dict]:
    """(checkpoint folder, its config.json) of a run folder (its latest checkpoint) or a
    ``checkpoints/step*`` folder; ``producer`` names the command that writes such checkpoints. Configs written
    before the ``policy``/``objective`` groups are migrated (:func:`migrate_config`)."""
    path = Path(path).expanduser()
    if (path / "checkpoints" / "latest").exists():  # a run folder
        path = path / "checkpoints" / (path / "checkpoints" / "latest").read_text().strip()
    if not (path / "config.json").exists() or not (path / "model.safetensors").exists():
        raise FileNotFoundError(
            f"{path} is not a checkpoint of {producer}: expected config.json and model.safetensors "
            "(pass its run folder or a checkpoints/step* folder)"
        )
    return path, migrate_config(json.loads((path / "config.json").read_text()))


def load_weights(path: str | Path, modules: Mapping[str, nn.Module], device: str = "cpu") -> None:
    """Loads ``<path>/model.safetensors`` (keys ``<prefix>.<param>``) into ``{prefix: module}``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = Path(path) / "model.safetensors"
    try:
        tensors = load_file(str(file), device=device)
    except (SafetensorError, OSError) as err:
        raise ValueError(
            f"{file} is corrupt or truncated ({err}); use an earlier checkpoint of the run (checkpoints/step*) or train again"
        ) from None
    for prefix, module in modules.items():
        module.load_state_dict({k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")})


def load_pretrained(path: str | Path, device: str = "cpu") -> tuple[ZeroShotRepresentation, nn.Module, dict]:
    """Rebuilds (representation, actor, config) from a checkpoint folder written by the agents."""
    from representations.core.networks import build_actor

    path = Path(path)
    if not (path / "config.json").exists() or not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"{path} is not a checkpoint folder: expected config.json and model.safetensors in it")
    config = json.loads((path / "config.json").read_text())
    from representations.encoders import make_encoder

    dims = config["dims"]
    obs_shape = dims.get("obs_shape", dims.get("obs_dim"))  # obs_dim: checkpoints before pixel support
    encoder, feature_dim = make_encoder(config.get("encoder", {"name": "identity"}), obs_shape)
    model = make_representation(config["representation"], feature_dim, dims["action_dim"], encoder)
    net = dict(config["actor_net"])
    actor = build_actor(net.pop("name", "td3"), model.actor_input_dim, model.z_dim, dims["action_dim"], **net)
    load_weights(path, {"representation": model, "actor": actor}, device=device)
    return model.eval().requires_grad_(False), actor.eval().requires_grad_(False), config


__all__ = [
    "REGISTRY",
    "ZeroShotRepresentation",
    "load_pretrained",
    "load_weights",
    "make_representation",
    "make_representation_loss",
    "model_kwargs",
]
