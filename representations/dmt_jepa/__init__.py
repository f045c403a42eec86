"""DMT-JEPA (arXiv 2405.17995): I-JEPA with targets aggregated from each patch's most similar neighbours."""

from representations.dmt_jepa.loss import DMTJEPALoss
from representations.dmt_jepa.model import (
    DMTJEPA,
    ClassAttentionBlock,
    IJEPAMasks,
    LocalAggregationHead,
    topk_window_neighbours,
    window_indices,
)

__all__ = [
    "ClassAttentionBlock",
    "DMTJEPA",
    "DMTJEPALoss",
    "IJEPAMasks",
    "LocalAggregationHead",
    "topk_window_neighbours",
    "window_indices",
]
