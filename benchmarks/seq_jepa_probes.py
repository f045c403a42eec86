"""seq-JEPA's claims at small scale: action conditioning lifts equivariance while top-1 holds, and
more views at evaluation raise top-1.

    python -m benchmarks.seq_jepa_probes --seeds 0 -- train.steps=1500 dataset.batch_size=64
    python -m benchmarks.seq_jepa_probes --label trajectories_pixels_cpu --variants "seq-JEPA" \
        "seq-JEPA w/o action conditioning" "random init (reference)" -- data=trajectories data.views=pixels

Runs ``python -m agents.pretrain objective=seq_jepa <overrides> <variant> seed=<s>`` for the
variants "action conditioning" and "no action conditioning" (the paper's ablation), plus two
references for the probes (a rotation-supervised encoder, a random-init encoder), and tables the
frozen probes of each: linear top-1 of the aggregate of M_val views, R² of the relative rotation
(pair of view encodings) and of the individual rotation (one encoding). Writes
``benchmarks/results/seq_jepa_probes_<label>.{md,json}``. With ``data=trajectories`` the probes are
path integration (position and displacement after k views) and the action between two views.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, run_variants, runs_root, split_overrides, variant_rows

ROOT = Path(__file__).resolve().parents[1]
# The last two are references for the probes, not seq-JEPA: the same encoder trained with rotation
# labels (what the equivariance probe can reach here) and left at its random initialisation.
VARIANTS = {
    "seq-JEPA": ["objective.action_conditioning=true"],
    "seq-JEPA w/o action conditioning": ["objective.action_conditioning=false"],
    "supervised rotation (reference)": ["objective.loss=supervised_rotation"],
    "random init (reference)": ["train.steps=0"],
}


PROBES = ("top1", "relative_rotation", "rotation", "position", "displacement", "action_r2")  # views3d, trajectories


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "seq_jepa_probes", seeds=[0], label="views3d_cpu", variants=VARIANTS)
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    runs = run_variants(
        {name: VARIANTS[name] for name in args.variants},
        ["objective=seq_jepa", *overrides],
        args.seeds,
        root,
        reuse=bool(args.resume),
    )
    keys = [k for k in next(iter(next(iter(runs.values())).values())) if k.startswith(PROBES)]
    lines = [
        f"# seq-JEPA probes: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.seq_jepa_probes', argv)}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. "
        "Test split; mean ± s.e. over seeds where there are several.",
        "",
        "| variant | " + " | ".join(keys) + " | training s |",
        "|---" * (len(keys) + 2) + "|",
    ]
    rows, summary = variant_rows(runs, [(key, ".3f") for key in [*keys, "training_seconds"]])
    lines += rows
    write_report(args.out, f"seq_jepa_probes_{args.label}", lines, {"runs": runs, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
