"""AD-L-JEPA (Zhu et al., arXiv 2501.04969): a JEPA on LiDAR bird's-eye-view pillar grids, with an
Occupancy-MAE baseline on the same encoder."""

from representations.ad_l_jepa.loss import ADLJEPALoss, OccupancyMAELoss, jepa_cosine_loss, variance_hinge
from representations.ad_l_jepa.model import (
    ADLJEPA,
    BEVEncoder,
    BEVPredictor,
    BEVTokenEncoder,
    MaskedBatchNorm2d,
    OccupancyDecoder,
    OccupancyMAE,
    bev_masks,
    cell_occupancy,
    expand_cells,
    input_occupancy,
    split_points,
)

__all__ = [
    "ADLJEPA",
    "ADLJEPALoss",
    "BEVEncoder",
    "BEVPredictor",
    "BEVTokenEncoder",
    "MaskedBatchNorm2d",
    "OccupancyDecoder",
    "OccupancyMAE",
    "OccupancyMAELoss",
    "bev_masks",
    "cell_occupancy",
    "expand_cells",
    "input_occupancy",
    "jepa_cosine_loss",
    "split_points",
    "variance_hinge",
]
