"""seq-JEPA (arXiv 2505.03176): aggregate-invariant, view-equivariant representations of view sequences."""
from representations.seq_jepa.loss import SeqJEPALoss
from representations.seq_jepa.model import ActionEmbedding, ConvViewEncoder, SeqJEPA

__all__ = ["ActionEmbedding", "ConvViewEncoder", "SeqJEPA", "SeqJEPALoss"]
