"""T-JEPA checkpoints (``python -m agents.pretrain objective=t_jepa data=table``) as frozen encoders.

``encoder=t_jepa encoder.checkpoint=<run>`` encodes an agent's proprioceptive state (a row of numeric features,
pretrained with ``data.name=env_states`` on the same env) with the EMA target encoder, as the official
downstream code does: the row is standardised with the pretraining statistics, tokenised, encoded, and pooled
(``encoder.pool``: mean → dim features; flatten → (R + D) · dim).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from representations.t_jepa.model import TJEPA

PARTS = ("target", "online")


def build_t_jepa(rep_cfg: Mapping[str, Any], dims: Mapping[str, Any]) -> TJEPA:
    """The T-JEPA of ``objective=t_jepa`` for a table with ``dims`` (num_numeric, cardinalities)."""
    return TJEPA(int(dims["num_numeric"]), [int(c) for c in dims["cardinalities"]], **dict(rep_cfg["model"]))


def embedding_model(model: TJEPA, target_encoder: nn.Module) -> TJEPA:
    """A copy of ``model`` whose tokenizer and encoder carry the EMA target's weights (the frozen embedder)."""
    embedder = copy.deepcopy(model)
    embedder.tokenizer.load_state_dict(target_encoder.tokenizer.state_dict())
    embedder.encoder.load_state_dict(target_encoder.encoder.state_dict())
    return embedder.eval()


def load_t_jepa(path: str | Path, part: str = "target") -> tuple[TJEPA, dict]:
    """(frozen T-JEPA in eval mode, its config) from a pretrain run folder or step folder; ``part=target``: the
    EMA target encoder (official downstream input), ``online``: the trained context encoder."""
    from representations import load_weights, read_checkpoint

    if part not in PARTS:
        raise ValueError(f"unknown encoder.part={part!r} for t_jepa; choose one of {list(PARTS)}")
    path, config = read_checkpoint(path, "agents.pretrain objective=t_jepa data=table")
    if config.get("objective", {}).get("name") != "t_jepa":
        raise ValueError(f"{path} is not a T-JEPA checkpoint (objective.name={config.get('objective', {}).get('name')!r})")
    model = build_t_jepa(config["objective"], config["dims"])
    load_weights(path, {"model": model})
    if part == "target":
        target = nn.Module()
        target.tokenizer, target.encoder = copy.deepcopy(model.tokenizer), copy.deepcopy(model.encoder)
        load_weights(path, {"target": target})
        model = embedding_model(model, target)
    return model.eval(), config


class TJEPAEncoder(nn.Module):
    """Frozen (by default) T-JEPA features of flat state observations [.., D] (see the module docstring)."""

    pretrained = True  # the representation's reference initialisation must not overwrite it

    def __init__(
        self,
        checkpoint: str | Path,
        obs_shape: Sequence[int],
        *,
        part: str | None = None,
        pool: str = "mean",
        frozen: bool = True,
    ) -> None:
        super().__init__()
        self.model, config = load_t_jepa(checkpoint, part or "target")
        dims = config["dims"]
        obs = tuple(int(d) for d in obs_shape)
        if dims["cardinalities"]:
            raise ValueError(
                f"the T-JEPA at {checkpoint} has categorical columns; agents' states are numeric: pretrain "
                "with data.name=env_states"
            )
        if len(obs) != 1 or obs[0] != int(dims["num_numeric"]):
            table = config.get("table", {}).get("name", "?")
            raise ValueError(
                f"the T-JEPA at {checkpoint} reads rows of {dims['num_numeric']} numeric features (table "
                f"{table}) but this environment's observations have shape {list(obs)}: pretrain it with "
                "data=table data.name=env_states on the same env"
            )
        if pool not in ("mean", "flatten"):
            raise ValueError(f"unknown encoder.pool={pool!r}; choose mean or flatten")
        self.pool, self.frozen = pool, frozen
        self.register_buffer("mean", torch.tensor(dims["numeric_mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(dims["numeric_std"], dtype=torch.float32))
        self.feature_dim = self.model.dim * (1 if pool == "mean" else self.model.num_tokens)
        if frozen:
            self.model.requires_grad_(False)

    def train(self, mode: bool = True) -> "TJEPAEncoder":
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        lead = observation.shape[:-1]
        rows = (observation.reshape(-1, observation.shape[-1]).float() - self.mean) / self.std
        return self.model.encode(rows, pool=self.pool).reshape(*lead, self.feature_dim)
