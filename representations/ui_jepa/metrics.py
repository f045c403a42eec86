"""Intent metrics of UI-JEPA (Fu et al. 2024, arXiv 2409.04081 §5), written here without external packages.

Text normalisation (:func:`normalize_text`): lower case, every character that is not a letter or digit becomes
a space, words split on whitespace. All scores are on these word tokens.

* ROUGE-N F1 (Lin 2004): clipped n-gram overlap m; P = m / #candidate n-grams, R = m / #reference n-grams,
  F1 = 2PR / (P + R). ROUGE-L F1: the same with m = the longest common subsequence of the two word sequences
  and the sequence lengths as the counts. A side with no n-gram (an empty text, or one word for ROUGE-2) scores
  0 — the convention of Google's ``rouge-score`` package, so a correct one-word intent gets ROUGE-2 = 0.
* Intent similarity: the mean of ROUGE-1, ROUGE-2 and ROUGE-L F1, in [0, 1] (×100 for the paper's scale). The
  paper's "Intent Similarity" also averages a normalised SBERT cosine; that needs a downloaded sentence encoder,
  so it is left out here and our numbers are not directly comparable with the paper's.
* When an intent has several reference variants, a prediction is scored against the variant with the highest
  intent similarity (its ROUGE-1/2/L are reported together, from that one variant).
* Intent accuracy (:func:`intent_accuracy`), two readings:
  - ``exact``: the normalised prediction equals the normalised text of one of the true intent's variants;
  - ``nearest``: the prediction is assigned to the intent whose best variant has the highest ROUGE-L F1 with it
    (ties → the intent listed first), and counted correct when that is the true intent.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Hashable, Mapping, Sequence

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize_text(text: str) -> str:
    """Lower-cased words joined by single spaces, punctuation and other symbols removed."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def words(text: str) -> list[str]:
    return normalize_text(text).split()


def _f1(matches: int, candidate_count: int, reference_count: int) -> float:
    if matches == 0 or candidate_count == 0 or reference_count == 0:
        return 0.0
    precision, recall = matches / candidate_count, matches / reference_count
    return 2 * precision * recall / (precision + recall)


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(candidate: str, reference: str, n: int) -> float:
    """ROUGE-N F1 of two texts (clipped n-gram counts)."""
    cand, ref = _ngrams(words(candidate), n), _ngrams(words(reference), n)
    return _f1(sum((cand & ref).values()), sum(cand.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of two texts (sentence-level LCS)."""
    cand, ref = words(candidate), words(reference)
    return _f1(lcs_length(cand, ref), len(cand), len(ref))


def _as_variants(reference: str | Sequence[str]) -> list[str]:
    variants = [reference] if isinstance(reference, str) else list(reference)
    if not variants:
        raise ValueError("an intent needs at least one reference text")
    return variants


def rouge_scores(candidate: str, reference: str | Sequence[str]) -> dict[str, float]:
    """``{"rouge1", "rouge2", "rougeL", "intent_similarity"}`` (F1s in [0, 1]) against the best-matching variant."""
    best = None
    for variant in _as_variants(reference):
        scores = {
            "rouge1": rouge_n(candidate, variant, 1),
            "rouge2": rouge_n(candidate, variant, 2),
            "rougeL": rouge_l(candidate, variant),
        }
        scores["intent_similarity"] = (scores["rouge1"] + scores["rouge2"] + scores["rougeL"]) / 3
        if best is None or scores["intent_similarity"] > best["intent_similarity"]:
            best = scores
    return best


def intent_similarity(candidate: str, reference: str | Sequence[str]) -> float:
    """Mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 (the paper's metric without its SBERT term)."""
    return rouge_scores(candidate, reference)["intent_similarity"]


def corpus_scores(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> dict[str, float]:
    """Means over the examples of :func:`rouge_scores`."""
    if len(predictions) != len(references) or not predictions:
        raise ValueError(
            f"need as many predictions as references (and at least one), got {len(predictions)} and {len(references)}"
        )
    rows = [rouge_scores(p, r) for p, r in zip(predictions, references)]
    return {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}


def nearest_intent(text: str, intents: Mapping[Hashable, str | Sequence[str]]) -> Hashable:
    """The intent whose best variant has the highest ROUGE-L F1 with ``text`` (ties: the first listed)."""
    best_key, best_score = None, -1.0
    for key, variants in intents.items():
        score = max(rouge_l(text, variant) for variant in _as_variants(variants))
        if score > best_score:
            best_key, best_score = key, score
    return best_key


def intent_accuracy(
    predictions: Sequence[str], labels: Sequence[Hashable], intents: Mapping[Hashable, str | Sequence[str]]
) -> dict[str, float]:
    """``{"exact", "nearest"}`` accuracies of generated texts against their true intents ``labels`` (keys of
    ``intents``, which maps each intent to its reference text or texts)."""
    if len(predictions) != len(labels) or not predictions:
        raise ValueError(f"need as many predictions as labels (and at least one), got {len(predictions)} and {len(labels)}")
    normalised = {key: {normalize_text(v) for v in _as_variants(variants)} for key, variants in intents.items()}
    exact = sum(normalize_text(p) in normalised[label] for p, label in zip(predictions, labels))
    nearest = sum(nearest_intent(p, intents) == label for p, label in zip(predictions, labels))
    return {"exact": exact / len(predictions), "nearest": nearest / len(predictions)}


def confusion_pairs(true: Sequence[str], predicted: Sequence[str]) -> list[list]:
    """[true intent, predicted intent, clips] for every pair that occurs, sorted: a sparse confusion matrix."""
    pairs = Counter(zip(true, predicted))
    return [[t, p, count] for (t, p), count in sorted(pairs.items())]
