"""UI-JEPA (Fu et al. 2024, arXiv 2409.04081): a video JEPA JEPA-tuned on UI recordings with short-range,
long-range and temporal masks, then a text decoder on the frozen encoder that writes the user's intent."""

from representations.ui_jepa.decoder import HFIntentDecoder, IntentDecoder, WordTokenizer, default_lora_targets
from representations.ui_jepa.loss import EMA_START, UIJEPALoss
from representations.ui_jepa.metrics import (
    corpus_scores,
    intent_accuracy,
    intent_similarity,
    nearest_intent,
    normalize_text,
    rouge_l,
    rouge_n,
    rouge_scores,
)
from representations.ui_jepa.model import (
    UIJEPA,
    FrameAveragedEncoder,
    TemporalMasks,
    ui_jepa_mask_generators,
    video_to_clip,
)

__all__ = [
    "EMA_START",
    "FrameAveragedEncoder",
    "HFIntentDecoder",
    "IntentDecoder",
    "TemporalMasks",
    "UIJEPA",
    "UIJEPALoss",
    "WordTokenizer",
    "corpus_scores",
    "default_lora_targets",
    "intent_accuracy",
    "intent_similarity",
    "nearest_intent",
    "normalize_text",
    "rouge_l",
    "rouge_n",
    "rouge_scores",
    "ui_jepa_mask_generators",
    "video_to_clip",
]
