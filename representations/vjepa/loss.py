"""V-JEPA objective (Bardes et al. 2024, eq. 1; facebookresearch/jepa ``app/vjepa/train.py``) as a TorchRL LossModule.

    L = 1/G · Σ_i mean |P(E(x; c_i), δ_i) − LN(Ē(x))[t_i]|          (``loss_exp: 1`` → L1)

over the G mask generators (context c_i, targets t_i; mask token i). Ē is an EMA copy of E that sees the
full input; its tokens are layer-normalised without affine (``F.layer_norm``) before gathering. The official
momentum rises linearly 0.998 → 1.0 (``core.targets.linear_momentum(..., start=0.998)``): step torchrl's
``SoftUpdate(loss, eps=m)`` after each optimiser step.

Masks are not read from the tensordict: the loss samples them each step from its mask generators with its
own CPU ``torch.Generator`` (``seed``), as V-JEPA's collator does per batch. The only key read is the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torchrl.objectives import LossModule

from representations.core.masks import apply_masks
from representations.core.targets import add_target_network
from representations.vjepa.model import VJEPA, default_mask_generators
from representations.core.collapse import collapse_diagnostics

MaskGenerator = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class MaskedLatentLoss(LossModule):
    """Shared plumbing of the masked-prediction losses: the pixels key and per-step mask sampling."""

    @dataclass
    class _AcceptedKeys:
        pixels: NestedKey = "pixels"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys

    def __init__(self, mask_generators: Sequence[MaskGenerator], num_mask_tokens: int, seed: int | None) -> None:
        super().__init__()
        self.mask_generators = list(mask_generators)
        if not 1 <= len(self.mask_generators) <= num_mask_tokens:
            raise ValueError(
                f"{len(self.mask_generators)} mask generators need as many mask tokens (1 or more); "
                f"the predictor has {num_mask_tokens} (num_mask_tokens)"
            )
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    @property
    def in_keys(self):  # noqa: D102
        return [self.tensor_keys.pixels]

    def _forward_value_estimator_keys(self, **kwargs) -> None:
        pass

    def sample_masks(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(context_idx [B, Kc], target_idx [B, Kt]) per generator], on the CPU."""
        return [make(batch_size, self.generator) for make in self.mask_generators]


class VJEPALoss(MaskedLatentLoss):
    out_keys = ["loss_prediction"]

    encoder_params: TensorDictParams
    target_encoder_params: TensorDictParams

    def __init__(self, model: VJEPA, *, mask_generators: Sequence[MaskGenerator] | None = None, seed: int | None = None) -> None:
        generators = default_mask_generators(model.grid) if mask_generators is None else mask_generators
        super().__init__(generators, len(model.predictor.mask_tokens), seed)
        self.model = model
        self.target_encoder = add_target_network(self, "encoder", model.encoder)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        x = tensordict.get(self.tensor_keys.pixels)
        with torch.no_grad():
            targets = self.target_encoder(x)
            targets = F.layer_norm(targets, targets.shape[-1:])  # V-JEPA forward_target
        errors, context, pooled = [], [], []
        for i, (context_idx, target_idx) in enumerate(self.sample_masks(x.shape[0])):
            predicted = self.model.predict(x, context_idx, target_idx, mask_index=i)
            errors.append((predicted - apply_masks(targets, target_idx)).abs().mean())  # L1 (loss_exp = 1)
            context.append(context_idx.shape[1] / self.model.encoder.num_patches)
            pooled.append(predicted.detach().flatten(1, -2).mean(1))
        return TensorDict(
            {
                "loss_prediction": torch.stack(errors).mean(),
                **collapse_diagnostics(torch.stack(pooled).mean(0), targets.mean(1)),  # collapse watch (no grad)
                "context_fraction": torch.tensor(sum(context) / len(context)),
            },
            batch_size=[],
        )
