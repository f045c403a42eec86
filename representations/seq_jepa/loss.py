"""seq-JEPA objective: 1 − cos(predicted, EMA-target encoding of the held-out next view).

Input per sample: ``views`` [M + 1, 3, S, S] — M observed views then the target view — and
``actions`` [M, A], action i leading from view i to view i + 1 (the last one leads to the target).
The target encoder is an EMA copy of the view encoder (official: fixed decay 0.996, torchrl's
``SoftUpdate``). As in the official code it runs in the loss's mode: during training its BatchNorm
normalises with the batch's statistics (as BYOL's target does), which is part of what keeps the
encodings from collapsing to one point.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torchrl.objectives import LossModule

from representations.core.targets import add_target_network
from representations.seq_jepa.model import SeqJEPA
from representations.core.collapse import collapse_diagnostics


class _ViewSequenceLoss(LossModule):
    """Common keys of the objectives on sequences of views and the actions between them."""

    @dataclass
    class _AcceptedKeys:
        views: NestedKey = "views"
        actions: NestedKey = "actions"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_prediction"]

    @property
    def in_keys(self):  # noqa: D102
        return [self.tensor_keys.views, self.tensor_keys.actions]

    def _forward_value_estimator_keys(self, **kwargs) -> None:
        pass


class SeqJEPALoss(_ViewSequenceLoss):
    encoder_params: TensorDictParams
    target_encoder_params: TensorDictParams

    def __init__(self, model: SeqJEPA) -> None:
        super().__init__()
        self.model = model
        self.target_encoder = add_target_network(self, "encoder", model.encoder)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        views, actions = tensordict.get(self.tensor_keys.views), tensordict.get(self.tensor_keys.actions)
        observed, target_view = views[:, :-1], views[:, -1]
        aggregate = self.model.aggregate(observed, actions[:, :-1])
        predicted = self.model.predict(aggregate, actions[:, -1])
        with torch.no_grad():
            target = self.target_encoder.train(self.training)(target_view)  # not a registered child: follow our mode
        cosine = F.cosine_similarity(predicted, target, dim=-1)
        return TensorDict(
            {
                "loss_prediction": (1.0 - cosine).mean(),
                **collapse_diagnostics(predicted.detach(), target),  # collapse watch
            },
            batch_size=[],
        )


class SupervisedRotationLoss(_ViewSequenceLoss):
    """Reference objective for the equivariance probe (not part of seq-JEPA): the same view encoder
    trained with labels to regress the relative rotation between consecutive views from the pair of
    their encodings (MSE on the quaternion, an MLP head on [e_i ‖ e_{i+1}]). The frozen probe's R² on
    this encoder is what the probe can reach at this data and encoder size."""

    def __init__(self, model: SeqJEPA, *, hidden_dim: int = 512) -> None:
        super().__init__()
        self.model = model
        self.head = torch.nn.Sequential(
            torch.nn.Linear(2 * model.feature_dim, hidden_dim), torch.nn.ReLU(), torch.nn.Linear(hidden_dim, 4)
        )

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        views, actions = tensordict.get(self.tensor_keys.views), tensordict.get(self.tensor_keys.actions)
        encodings = self.model.encoder(views)  # [B, M + 1, F]
        pairs = torch.cat([encodings[:, :-1], encodings[:, 1:]], dim=-1)
        error = F.mse_loss(self.head(pairs), actions[..., :4])  # the rotation part of each action
        return TensorDict({"loss_prediction": error}, batch_size=[])
