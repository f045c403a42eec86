"""The UI intent probe's ceiling, on pixels: what a linear classifier reads from the raw clips, and from the same
clips pooled the way the intent decoder's prefix pools an encoder's tokens (one spatial mean per hyper-frame).

    python -m benchmarks.ui_jepa_pixels

Fits a logistic regression (standardised inputs) on the train clips of the few-shot intents and scores intent
accuracy and family accuracy (right up to the argument: which contact, place or hour) on the few-shot test clips,
for three inputs: all pixels of all frames, the last frame, and the per-hyper-frame spatial mean colour
(``objective.tubelet`` frames per step). If the raw pixels separate intents that the pooled input cannot, the pooled
prefix caps every encoder below what the clips hold. Overrides after ``--`` go to ``data=ui_activity`` (e.g.
``data.image_size=32``). Writes ``benchmarks/results/ui_jepa_pixels_<label>.{md,json}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import agents.pretrain  # noqa: F401  (registers the pretrain config schema)
from benchmarks.report import command_line, write_report
from benchmarks.ui_jepa import family_accuracy
from benchmarks.zeroshot_quality import split_overrides
from data.ui_activity import load_ui_activity
from representations.ui_jepa.metrics import confusion_pairs

ROOT = Path(__file__).resolve().parents[1]


def hyperframe_means(video: torch.Tensor, tubelet: int) -> torch.Tensor:
    """uint8 clips [B, T, C, S, S] → the mean colour of each ``tubelet``-frame step, [B, T/tubelet · C]: the pixel
    analogue of UI-JEPA's decoder prefix (the spatial mean of each hyper-frame's tokens)."""
    b, t, c = video.shape[:3]
    steps = video.float().reshape(b, t // tubelet, tubelet, c, -1).mean(dim=(2, 4))
    return steps.reshape(b, -1)


def pixel_inputs(tubelet: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    return {
        "all pixels, all frames": lambda video: video.float().flatten(1),
        "last frame": lambda video: video[:, -1].float().flatten(1),
        "hyper-frame spatial means (the decoder prefix's pooling)": lambda video: hyperframe_means(video, tubelet),
    }


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, names: list[str], test_y: np.ndarray) -> dict:
    """Logistic regression on standardised inputs: test accuracy, family accuracy and the confusion pairs."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(train_x, train_y)
    predicted = model.predict(test_x)
    confusion = confusion_pairs([names[t] for t in test_y.tolist()], [names[p] for p in predicted.tolist()])
    return {
        "features": int(train_x.shape[1]),
        "accuracy": float((predicted == test_y).mean()),
        "family_accuracy": family_accuracy(confusion),
        "confusion": confusion,
    }


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    parser.add_argument("--label", default="cpu")
    args = parser.parse_args(own)
    started = time.time()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("pretrain", overrides=["objective=ui_jepa", "data=ui_activity", *overrides])
    splits, info = load_ui_activity(cfg.data, extra_keys=("kind", "name"))
    train, test = splits["train"], splits["fewshot_test"]
    results = {}
    for name, features in pixel_inputs(int(cfg.objective.tubelet)).items():
        results[name] = linear_probe(
            features(train.video).numpy(),
            train.intent.numpy(),
            features(test.video).numpy(),
            info["intents"],
            test.intent.numpy(),
        )
        print(f"{name}: accuracy {results[name]['accuracy']:.3f}", flush=True)
    chance = 1 / len(info["fewshot_intents"])
    lines = [
        f"# The UI intent probe on pixels: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.ui_jepa_pixels', argv)}`",
        "",
        f"Wall time {time.time() - started:.0f} s. Logistic regression (standardised inputs) fitted on the "
        f"{len(train.video)} train clips of the {len(info['fewshot_intents'])} few-shot intents, scored on their "
        f"{len(test.video)} few-shot test clips ({info['frames']} frames of {info['image_size']} px; chance {chance:.3f}). "
        "Family accuracy counts a clip right when the predicted intent is of the true one's family (toggle on, "
        "call, search, …), whatever its argument.",
        "",
        "| input | features | accuracy | family accuracy | confused pairs (true → predicted: clips) |",
        "|---|---|---|---|---|",
    ]
    for name, result in results.items():
        errors = "; ".join(f"{t} → {p}: {c}" for t, p, c in result["confusion"] if t != p) or "none"
        family = "–" if result["family_accuracy"] is None else f"{result['family_accuracy']:.3f}"
        lines.append(f"| {name} | {result['features']:,} | {result['accuracy']:.3f} | {family} | {errors} |")
    write_report(args.out, f"ui_jepa_pixels_{args.label}", lines, {"chance": chance, "inputs": results})
    return results


if __name__ == "__main__":
    main()
