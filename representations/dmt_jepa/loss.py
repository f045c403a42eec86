"""DMT-JEPA objective (arXiv 2405.17995; ``src/train.py``) as a TorchRL LossModule.

    L = smooth_L1( P(A(E(x; c)), t),  Ā(LN(Ē(x)))[t] )          (``F.smooth_l1_loss``, β = 1, as released)

With ``aggregate=False`` the head is skipped on both branches: y = LN(Ē(x))[t], I-JEPA (the paper's baseline).
Ē and Ā are EMA copies of the encoder E and the local aggregation head A (momentum 0.996 → 1.0 in the
official configs): both are registered target networks, so one ``SoftUpdate(loss, eps=m)`` steps both.
The online head learns only through the context branch; its EMA builds the targets. Masks: I-JEPA's four
target blocks and one context block, sampled each step by :class:`IJEPAMasks` with the loss's generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams

from representations.core.masks import apply_masks
from representations.core.targets import add_target_network
from representations.dmt_jepa.model import DMTJEPA, IJEPAMasks
from representations.vjepa.loss import MaskedLatentLoss, MaskGenerator
from representations.core.collapse import collapse_diagnostics


class DMTJEPALoss(MaskedLatentLoss):
    out_keys = ["loss_prediction"]

    encoder_params: TensorDictParams
    target_encoder_params: TensorDictParams
    head_params: TensorDictParams
    target_head_params: TensorDictParams

    def __init__(self, model: DMTJEPA, *, masks: MaskGenerator | None = None, seed: int | None = None) -> None:
        super().__init__([masks if masks is not None else IJEPAMasks(model.grid)], 1, seed)
        self.model = model
        self.target_encoder = add_target_network(self, "encoder", model.encoder)
        self.target_head = add_target_network(self, "head", model.head)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        x = tensordict.get(self.tensor_keys.pixels)
        ((context_idx, target_idx),) = self.sample_masks(x.shape[0])  # target_idx [B, M, Kt]
        with torch.no_grad():
            features = self.target_encoder(x)
            features = F.layer_norm(features, features.shape[-1:])
            if self.model.aggregate:
                features = self.target_head.targets(features)
            targets = apply_masks(features, target_idx)  # [B, M, Kt, D]
        predicted = self.model.predict(x, context_idx, target_idx)
        return TensorDict(
            {
                "loss_prediction": F.smooth_l1_loss(predicted, targets),
                **collapse_diagnostics(predicted.detach().flatten(1, 2).mean(1), targets.flatten(1, 2).mean(1)),  # collapse watch
                "context_fraction": torch.tensor(context_idx.shape[1] / self.model.encoder.num_patches),
            },
            batch_size=[],
        )
