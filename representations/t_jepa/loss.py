"""T-JEPA objective (arXiv 2410.05016 §3; jose-melo/t-jepa ``src/train.py``) as a TorchRL LossModule.

    L = mean over the M target sets ‖P(E(x; reg ∪ ctx), δ_tgt) − Ē(x)[tgt]‖²        (``nn.MSELoss``)

Ē is an EMA copy of the encoder (tokenizer included) that embeds the full row; unlike I-JEPA its tokens are not
layer-normalised before the loss. The official EMA rises 0.996 → 1.0: step ``SoftUpdate(loss, eps=m)`` after
each optimiser step. Masks (:func:`~representations.core.masks.feature_subset_masks`) are sampled by the loss
each step with its own CPU generator. Keys: ``observation`` (numeric features) and, for tables with
categorical columns, ``categorical`` (codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torch import nn
from torchrl.objectives import LossModule

from representations.core.masks import Range, apply_masks, feature_subset_masks
from representations.core.targets import add_target_network
from representations.t_jepa.model import TJEPA
from representations.core.collapse import collapse_diagnostics


class _TargetEncoder(nn.Module):
    """Tokenizer + encoder: what the EMA copies (the predictor has no target)."""

    def __init__(self, model: TJEPA) -> None:
        super().__init__()
        self.tokenizer, self.encoder = model.tokenizer, model.encoder

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(self.tokenizer(numeric, categorical))


class TJEPALoss(LossModule):
    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        categorical: NestedKey = "categorical"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_prediction", "target_std"]

    encoder_params: TensorDictParams
    target_encoder_params: TensorDictParams

    def __init__(
        self,
        model: TJEPA,
        *,
        context_share: Range = (0.136, 0.368),
        target_share: Range = (0.156, 0.622),
        num_targets: int = 4,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.masks = dict(context_share=context_share, target_share=target_share, num_targets=num_targets)
        self.target_encoder = add_target_network(self, "encoder", _TargetEncoder(model))
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    @property
    def in_keys(self):  # noqa: D102
        return [self.tensor_keys.observation, self.tensor_keys.categorical]

    def _forward_value_estimator_keys(self, **kwargs) -> None:
        pass

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        numeric = tensordict.get(self.tensor_keys.observation)
        categorical = tensordict.get(self.tensor_keys.categorical, None)
        context_idx, target_idx = feature_subset_masks(
            numeric.shape[0], self.model.num_features, generator=self.generator, **self.masks
        )
        with torch.no_grad():
            tokens = self.target_encoder(numeric, categorical)  # Ē(x): the full row
            targets = apply_masks(tokens, self.model.token_index(target_idx.to(tokens.device)))  # [B, M, Kt, dim]
        predicted = self.model.predict(numeric, categorical, context_idx, target_idx)
        return TensorDict(
            {
                "loss_prediction": F.mse_loss(predicted, targets),
                # collapse watch (no grad): predictions and full-row targets pooled over tokens; target_std keeps its
                # per-token definition (spread over rows of each normalised token, 0 when every row looks alike)
                **collapse_diagnostics(predicted.detach().flatten(1, -2).mean(1), tokens.mean(1)),
                "target_std": F.normalize(tokens, dim=-1).std(dim=0).mean(),
            },
            batch_size=[],
        )
