"""AD-L-JEPA vs Occupancy-MAE vs scratch on LiDAR BEV segmentation at 1 / 10 / 100 % of the labels.

    python -m benchmarks.ad_l_jepa --seeds 0 1 -- data.scenes=3000 train.steps=1000

Runs ``python -m agents.pretrain data=lidar <variant> <overrides> seed=<s>`` for each variant: AD-L-JEPA, the
Occupancy-MAE-style baseline on the same encoder and masks, and the same encoder with no pretraining
("scratch": ``train.steps=0``). Each run fine-tunes its encoder with a segmentation head on 1 / 10 / 100 % of the
labelled train scenes and reports the test mIoU over car / pedestrian / cyclist / wall-pole, plus collapse checks
of the frozen features (``agents/pretrain_lidar.py``). Writes ``benchmarks/results/ad_l_jepa_<label>.{md,json}``.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, run_variants, runs_root, split_overrides, variant_rows

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "AD-L-JEPA": ["objective=ad_l_jepa"],
    "Occupancy-MAE": ["objective=occupancy_mae"],
    "scratch (no pretraining)": ["objective=ad_l_jepa", "train.steps=0"],
}
COLUMNS = {"feature_std": ".4f", "effective_rank": ".1f", "training_seconds": ".0f"}


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "ad_l_jepa", seeds=[0, 1], variants=VARIANTS)
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    runs = run_variants(
        {name: VARIANTS[name] for name in args.variants},
        ["data=lidar", *overrides],
        args.seeds,
        root,
        parallel=args.parallel,
        reuse=bool(args.resume),
    )
    first = next(iter(next(iter(runs.values())).values()))
    fractions = [k for k in first if k.startswith("miou_")]
    lines = [
        f"# AD-L-JEPA on LiDAR BEV segmentation: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.ad_l_jepa', argv)}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. Test scenes: mIoU over "
        "car / pedestrian / cyclist / wall-pole after fine-tuning the encoder + a head on the given share of the "
        "labelled train scenes (with the encoder fine-tuned, or frozen: a probe of the representation); collapse "
        "checks of the frozen pooled features. Mean ± s.e. over seeds.",
        "",
        "| variant | pretraining updates | "
        + " | ".join(f"mIoU {k.removeprefix('miou_').replace('frozen_', 'frozen, ').replace('pct', ' %')}" for k in fractions)
        + " | feature std | effective rank | pretraining s |",
        "|---" * (len(fractions) + 5) + "|",
    ]
    rows, summary = variant_rows(
        runs, [*((k, ".3f") for k in fractions), *COLUMNS.items()], lead=lambda first: [str(first["step"])]
    )
    lines += rows
    write_report(args.out, f"ad_l_jepa_{args.label}", lines, {"runs": runs, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
