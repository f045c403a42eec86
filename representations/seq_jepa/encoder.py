"""A pretrained seq-JEPA (``python -m agents.pretrain``) as the zero-shot agent's observation or
history encoder: ``encoder=seq_jepa encoder.checkpoint=<pretrain run>``.

``encoder.features``:
- ``aggregate`` (default): the aggregate token over the views in the observation. One view (a state
  vector, or a frame) gives the aggregate of a single view, whose action slot is zero by construction,
  so any checkpoint works. An observation that stacks k frames on its channels ([3k, H, W], DMC's
  frame stack) is a history of k views; the zero-shot agent's observations do not carry the actions
  between them, so it needs a checkpoint pretrained without action conditioning.
- ``view``: the per-view encoding (the equivariant one); a stack of k frames gives the k encodings
  concatenated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from representations.seq_jepa.model import SeqJEPA

FEATURES = ("aggregate", "view")
MODEL_KEYS = (
    "feature_dim",
    "channels",
    "action_embed_dim",
    "layers",
    "heads",
    "mlp_ratio",
    "predictor_hidden_dim",
    "action_conditioning",
)


def build_seq_jepa(rep_cfg, dims) -> SeqJEPA:
    """The model described by an ``objective`` sub-config and the data's ``dims`` (action_dim, view_shape)."""
    return SeqJEPA(
        int(dims["action_dim"]),
        view_shape=tuple(dims["view_shape"]),
        **{k: (tuple(rep_cfg[k]) if k == "channels" else rep_cfg[k]) for k in MODEL_KEYS},
    )


def load_seq_jepa(path: str | Path) -> tuple[SeqJEPA, dict]:
    """Rebuilds a pretrained seq-JEPA from its checkpoint (a pretrain run folder or a step folder)."""
    from representations import load_weights, read_checkpoint

    path, config = read_checkpoint(path, "agents.pretrain")
    if config.get("objective", {}).get("name") != "seq_jepa" or "view_shape" not in config.get("dims", {}):
        raise ValueError(
            f"{path} is not a seq-JEPA checkpoint of agents.pretrain (objective.name={config.get('objective', {}).get('name')!r})"
        )
    model = build_seq_jepa(config["objective"], config["dims"])
    load_weights(path, {"model": model})
    return model.eval(), config


class SeqJEPAEncoder(nn.Module):
    """Frozen (by default) seq-JEPA features of observations of shape ``obs_shape`` (see module docstring)."""

    pretrained = True  # the representation's reference initialisation must not overwrite it

    def __init__(
        self, checkpoint: str | Path, obs_shape: Sequence[int], *, features: str = "aggregate", frozen: bool = True
    ) -> None:
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"unknown encoder.features={features!r}; choose one of {list(FEATURES)}")
        self.model, config = load_seq_jepa(checkpoint)
        view, obs = tuple(self.model.view_shape), tuple(int(d) for d in obs_shape)
        stacked = len(view) == 3 and len(obs) == 3 and obs[1:] == view[1:] and obs[0] % view[0] == 0
        if obs != view and not stacked:
            raise ValueError(
                f"the seq-JEPA at {checkpoint} was pretrained on views of shape {list(view)} "
                f"({config.get('data', {}).get('name')}), but this environment's observations have shape "
                f"{list(obs)}: pretrain on this environment's observations"
            )
        self.views = obs[0] // view[0] if stacked else 1
        if features == "aggregate" and self.views > 1 and self.model.action_conditioning:
            raise ValueError(
                f"observations stack {self.views} frames, and the zero-shot agent does not see the actions "
                "between them, but this seq-JEPA was pretrained with action conditioning: pretrain with "
                "objective.action_conditioning=false, or use encoder.features=view"
            )
        self.features, self.frozen = features, frozen
        self.feature_dim = self.model.aggregate_dim if features == "aggregate" else self.views * self.model.feature_dim
        if frozen:
            self.model.requires_grad_(False)

    def train(self, mode: bool = True) -> "SeqJEPAEncoder":
        super().train(mode)
        if self.frozen:
            self.model.eval()  # a frozen encoder keeps its BatchNorm statistics
        return self

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        view = self.model.view_shape
        lead = observation.shape[: -len(view)]
        views = observation.reshape(-1, self.views, *view)  # [B, k, *view], oldest view first
        encodings = self.model.encoder(views)
        if self.features == "view":
            out = encodings.flatten(1)
        else:
            no_actions = encodings.new_zeros(len(views), self.views - 1, self.model.action_dim)
            out = self.model.aggregate(views, no_actions, view_features=encodings)
        return out.reshape(*lead, self.feature_dim)
