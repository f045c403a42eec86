"""The equivariance probe's ceiling across scales: how far an encoder trained *with* rotation labels
(``objective.loss=supervised_rotation``) gets on seq-JEPA's relative-rotation probe as training length, encoder
width and the number of training objects grow. seq-JEPA's claim (relative-rotation R² 0.71 with action
conditioning vs 0.29 without) can only show where this ceiling is well above 0.29.

    python -m benchmarks.seq_jepa_ceiling --seeds 0 -- dataset.batch_size=64 probe.steps=2000

Runs ``python -m agents.pretrain objective=seq_jepa objective.loss=supervised_rotation <size> <overrides>`` for
each size and tables the frozen probes, with each probe's R² on its own training rows beside the test R² (a low
train R² says the features lack the rotation; a high one over a low test R² says the probe or the encoder
overfits the training objects). Writes ``benchmarks/results/seq_jepa_ceiling_<label>.{md,json}``.
"""

from __future__ import annotations

import time

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, run_variants, runs_root, split_overrides, variant_rows

SUPERVISED = ["objective=seq_jepa", "objective.loss=supervised_rotation"]
NARROW = ["objective.channels=[16,32,64]", "objective.feature_dim=128"]
WIDE = ["objective.channels=[64,128,256]", "objective.feature_dim=512"]
# Three axes through the default (1,000 updates, 256-d, 200 objects per class): training length, encoder width and
# the number of training objects (the probes must generalise to unseen objects).
SIZES = {
    "500 updates": ["train.steps=500"],
    "1,000 updates": ["train.steps=1000"],
    "2,000 updates": ["train.steps=2000"],
    "narrow encoder (128-d), 1,000 updates": [*NARROW, "train.steps=1000"],
    "wide encoder (512-d), 1,000 updates": [*WIDE, "train.steps=1000"],
    "100 objects per class, 1,000 updates": ["data.instances_per_class=100", "train.steps=1000"],
    "400 objects per class, 1,000 updates": ["data.instances_per_class=400", "train.steps=1000"],
    "800 objects per class, 1,000 updates": ["data.instances_per_class=800", "train.steps=1000"],
    "1,600 objects per class, 1,000 updates": ["data.instances_per_class=1600", "train.steps=1000"],
}
COLUMNS = ["relative_rotation_r2", "relative_rotation_r2_train", "rotation_r2", "rotation_r2_train", "top1_views1"]


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "seq_jepa_ceiling", seeds=[0], label="views3d_cpu", variants=SIZES)
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    runs = run_variants(
        {name: SIZES[name] for name in args.variants}, [*SUPERVISED, *overrides], args.seeds, root, reuse=bool(args.resume)
    )
    rows, summary = variant_rows(runs, [(key, ".3f") for key in [*COLUMNS, "training_seconds"]])
    lines = [
        f"# seq-JEPA's equivariance probe: the supervised ceiling across scales ({args.label})",
        "",
        f"Command: `{command_line('benchmarks.seq_jepa_ceiling', argv)}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. Every row is the "
        "rotation-supervised encoder; test split unless the column says train. Mean ± s.e. over seeds where there are several.",
        "",
        "| size | " + " | ".join(COLUMNS) + " | training s |",
        "|---" * (len(COLUMNS) + 2) + "|",
        *rows,
    ]
    write_report(args.out, f"seq_jepa_ceiling_{args.label}", lines, {"runs": runs, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
