"""seq-JEPA (arXiv 2505.03176): aggregate-invariant, view-equivariant representations of view sequences."""

from representations.seq_jepa.loss import SeqJEPALoss, SupervisedRotationLoss
from representations.seq_jepa.model import ActionEmbedding, ConvViewEncoder, MLPViewEncoder, SeqJEPA, make_view_encoder

__all__ = [
    "ActionEmbedding",
    "ConvViewEncoder",
    "MLPViewEncoder",
    "make_view_encoder",
    "SeqJEPA",
    "SeqJEPALoss",
    "SupervisedRotationLoss",
]
