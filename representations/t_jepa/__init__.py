"""T-JEPA (arXiv 2410.05016): a JEPA over the features of a table row or a proprioceptive state."""

from representations.t_jepa.loss import TJEPALoss
from representations.t_jepa.model import FeatureTokenizer, TJEPA

__all__ = ["FeatureTokenizer", "TJEPA", "TJEPALoss"]
