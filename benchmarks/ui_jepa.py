"""UI-JEPA vs a frame-averaged baseline encoder: few-shot and zero-shot intent metrics on UI activity clips.

    python -m benchmarks.ui_jepa --seeds 0 1 -- train.steps=400

Runs ``python -m agents.pretrain objective=ui_jepa data=ui_activity <variant> <overrides> seed=<s>`` for
UI-JEPA (video encoder JEPA-tuned with short + long + temporal masks; the decoder reads its hyper-frame tokens in
temporal order), the frame-averaged baseline (the same ViT trained on single frames for the same updates and
tokens per update; the decoder reads the time-averaged embedding), and both encoders left at random
initialisation (references), and a supervised reference: the video encoder trained with the decoder on the intent
texts (the probe's ceiling). Each run trains the same intent decoder on the frozen encoder (the supervised
reference: together with it) and scores greedy intents on held-out clips of the train intents (few-shot) and on
clips of held-out intents (zero-shot) (``agents/pretrain_ui.py``); on the generated intents also the few-shot
family accuracy (right up to the argument: which contact, place or hour). ``--supervised-steps`` sets the supervised
reference's updates (600 by default). Overrides after ``--`` reach every variant, e.g.
``objective.decoder.prefix=tokens objective.decoder.prefix_queries=16``: each decoder reads every encoder token,
resampled by 16 learned queries, instead of one spatial mean per hyper-frame. Writes
``benchmarks/results/ui_jepa_<label>.{md,json}``.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, run_variants, runs_root, split_overrides, variant_rows
from data.ui_activity import INTENTS

ROOT = Path(__file__).resolve().parents[1]
SUPERVISED = "supervised reference (encoder trained with the decoder)"
VARIANTS = {
    "UI-JEPA": ["objective.encoder=ui_jepa"],
    "frame-averaged baseline": ["objective.encoder=frame_averaged"],
    "UI-JEPA encoder, random init (reference)": ["objective.encoder=ui_jepa", "train.steps=0"],
    "frame-averaged, random init (reference)": ["objective.encoder=frame_averaged", "train.steps=0"],
    "UI-JEPA without temporal masks (ablation)": ["objective.encoder=ui_jepa", "objective.masks.temporal=false"],
    # the probe's ceiling: the same ViT and decoder trained end to end on the intent texts, no JEPA; the encoder's
    # backward makes an update ~4x dearer, so fewer, smaller batches (600 x 16 clips, 20 passes over the train clips)
    SUPERVISED: [
        "objective.encoder=ui_jepa",
        "train.steps=0",
        "objective.decoder.finetune_encoder=true",
        "objective.decoder.steps=600",
        "objective.decoder.batch_size=16",
    ],
}
METRICS = {"exact_accuracy": "exact acc.", "nearest_accuracy": "nearest-intent acc.", "intent_similarity": "intent similarity"}
FAMILY = {intent.text: intent.family for intent in INTENTS}  # of the generated intents: "call Bob" -> "call"


def family_accuracy(confusion: list[list]) -> float | None:
    """Share of clips whose nearest intent is of the true intent's family (toggle on, call, search, …): right up to
    the argument (which contact, place, hour). None unless every intent is a generated one."""
    if not confusion or any(true not in FAMILY or nearest not in FAMILY for true, nearest, _ in confusion):
        return None
    return sum(count for true, nearest, count in confusion if FAMILY[true] == FAMILY[nearest]) / sum(c for *_, c in confusion)


def selected_variants(names: list[str], supervised_steps: int | None = None) -> dict[str, list[str]]:
    """The named variants' overrides; ``supervised_steps`` replaces the supervised reference's update count (its own
    override comes after the shared ones, so ``-- objective.decoder.steps=…`` would not reach it)."""
    selected = {name: list(VARIANTS[name]) for name in names}
    if supervised_steps is not None and SUPERVISED in selected:
        if supervised_steps < 1:
            raise SystemExit(f"--supervised-steps {supervised_steps}: the supervised reference needs at least 1 update")
        kept = [o for o in selected[SUPERVISED] if not o.startswith("objective.decoder.steps=")]
        selected[SUPERVISED] = [*kept, f"objective.decoder.steps={supervised_steps}"]
    return selected


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "ui_jepa", seeds=[0, 1], variants=VARIANTS)
    parser.add_argument(
        "--supervised-steps", type=int, help="updates of the supervised reference (encoder and decoder; default 600)"
    )
    args = parser.parse_args(own)
    variants = selected_variants(args.variants, args.supervised_steps)
    root = runs_root(args)
    started = time.time()
    runs = run_variants(
        variants,
        ["objective=ui_jepa", "data=ui_activity", *overrides],
        args.seeds,
        root,
        reuse=bool(args.resume),
    )
    columns = [f"{split}_{key}" for split in ("fewshot", "zeroshot") for key in METRICS]
    for per_seed in runs.values():
        for result in per_seed.values():
            result["fewshot_family_accuracy"] = family_accuracy(result.get("fewshot_confusion", []))
    family = all(r["fewshot_family_accuracy"] is not None for per_seed in runs.values() for r in per_seed.values())
    lines = [
        f"# UI-JEPA vs a frame-averaged encoder: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.ui_jepa', argv)}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. Held-out clips; "
        "intent similarity = mean of ROUGE-1/2/L F1 against the intent's paraphrases (the paper also averages an "
        "SBERT cosine). Mean ± s.e. over seeds.",
        "",
        "| encoder | JEPA updates | "
        + " | ".join(f"{c.split('_')[0]}: {METRICS[c.split('_', 1)[1]]}" for c in columns)
        + (" | fewshot: family acc." if family else "")
        + " | pretraining s |",
        "|---" * (len(columns) + 3 + family) + "|",
    ]
    cells = [
        *((c, ".3f") for c in columns),
        *([("fewshot_family_accuracy", ".3f")] if family else []),
        ("training_seconds", ".0f"),
    ]
    rows, summary = variant_rows(runs, cells, lead=lambda first: [str(first["step"])])
    lines += rows
    write_report(args.out, f"ui_jepa_{args.label}", lines, {"runs": runs, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
