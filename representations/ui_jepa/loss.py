"""UI-JEPA objective (Fu et al. 2024, arXiv 2409.04081 §3): V-JEPA's loss (:class:`representations.vjepa.VJEPALoss`)
with the temporal mask generator added — short-range + long-range multi-block + temporal masks, one mask token each:

    L = 1/3 · Σ_i mean |P(E(x; c_i), δ_i) − LN(Ē(x))[t_i]|

Ē is the EMA copy of the encoder, momentum 0.998 → 1 linearly over training (the paper's JEPA-tuning): after each
optimiser step set ``SoftUpdate(loss, eps=m).eps = core.targets.linear_momentum(step, total, 0.998)`` and step it.

Reads ``video``: the data contract's uint8 [B, T, C, S, S] (time before channels), transposed to V-JEPA's clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tensordict import TensorDict, TensorDictBase
from tensordict.utils import NestedKey

from representations.core.masks import Range
from representations.ui_jepa.model import UIJEPA, ui_jepa_mask_generators, video_to_clip
from representations.vjepa.loss import MaskGenerator, VJEPALoss

EMA_START = 0.998  # UI-JEPA / V-JEPA: linear momentum 0.998 → 1.0


class UIJEPALoss(VJEPALoss):
    """``UIJEPALoss(model, seed=...)``: outputs ``loss_prediction`` (train on it), ``target_std`` (collapse watch)
    and ``context_fraction``. ``temporal_ratio`` / ``temporal_num_masked`` size the temporal masks; pass
    ``mask_generators`` to replace all three (e.g. an ablation without temporal masks)."""

    @dataclass
    class _AcceptedKeys(VJEPALoss._AcceptedKeys):
        video: NestedKey = "video"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys

    def __init__(
        self,
        model: UIJEPA,
        *,
        mask_generators: Sequence[MaskGenerator] | None = None,
        temporal_ratio: Range | None = 0.75,
        temporal_num_masked: int | None = None,
        seed: int | None = None,
    ) -> None:
        if mask_generators is None:
            mask_generators = ui_jepa_mask_generators(
                model.grid, temporal_ratio=temporal_ratio, temporal_num_masked=temporal_num_masked
            )
        super().__init__(model, mask_generators=mask_generators, seed=seed)

    @property
    def in_keys(self):  # noqa: D102
        return [self.tensor_keys.video]

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        video = tensordict.get(self.tensor_keys.video)
        clip = video_to_clip(video, getattr(self.model, "in_channels", 3))
        return super().forward(TensorDict({self.tensor_keys.pixels: clip}, batch_size=[video.shape[0]]))
