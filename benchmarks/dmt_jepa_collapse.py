"""Why DMT-JEPA collapses: its collapse curves against I-JEPA (its paper's baseline: the same model without the local
aggregation head), the released code's query tiling, V-JEPA, and our fix (each patch's query is its own feature), at
one setting.

    python -m benchmarks.dmt_jepa_collapse --seeds 0 -- data=frames env=dmc env.domain=walker train.steps=800
    python -m benchmarks.dmt_jepa_collapse --label views3d_cpu --variants DMT-JEPA ... -- data=views3d data.part_maps=true

Runs ``python -m agents.pretrain <variant> <overrides> seed=<s>`` for each variant and reads the collapse
diagnostics every run logs (``target_std``: the spread over the batch of the pooled targets; RankMe of the pooled
targets and predictions) and its frozen probes. Writes ``benchmarks/results/dmt_jepa_collapse_<label>.{md,json}``
with the curves in the JSON.
"""

from __future__ import annotations

import time

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, run_variants, runs_root, split_overrides, variant_rows

VARIANTS = {
    "DMT-JEPA": ["objective=dmt_jepa"],
    "I-JEPA (DMT-JEPA without its head)": ["objective=dmt_jepa", "objective.model.aggregate=false"],
    "DMT-JEPA, released query tiling": ["objective=dmt_jepa", "objective.model.query=released"],
    "V-JEPA (images)": ["objective=vjepa"],
    "DMT-JEPA, per-patch query (fix)": ["objective=dmt_jepa", "objective.model.query=patch"],
}
COLLAPSE = {"target_std": ".4f", "target_rankme": ".2f", "feature_rankme": ".2f"}
# the frozen probes of the data: walker frames (state), or rendered object views (data=views3d data.part_maps=true:
# class, and the per-patch part probe of local semantics, DMT-JEPA's claim)
PROBES = {
    "orientations_r2_attentive": ".2f",
    "height_r2_linear": ".2f",
    "class_top1_linear": ".3f",
    "part_miou_linear": ".3f",
    "part_accuracy_linear": ".3f",
}


def curve_cell(history: list[dict], key: str) -> str:
    """The first, middle and last logged value of ``key``: the shape of the curve in one cell."""
    values = [h[key] for h in history if key in h]
    picks = [values[0], values[len(values) // 2], values[-1]] if values else []
    return " → ".join(f"{v:.4f}" for v in picks)


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "dmt_jepa_collapse", seeds=[0], label="walker_cpu", variants=VARIANTS)
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    runs = run_variants({name: VARIANTS[name] for name in args.variants}, overrides, args.seeds, root, reuse=bool(args.resume))
    final = {name: {s: {**r, **r["collapse"][-1]} for s, r in per_seed.items()} for name, per_seed in runs.items()}
    first = next(iter(next(iter(final.values())).values()))
    probes = {key: fmt for key, fmt in PROBES.items() if key in first}
    rows, summary = variant_rows(
        final,
        [*COLLAPSE.items(), *probes.items()],
        lead=lambda first: [str(first["step"]), curve_cell(first["collapse"], "target_std")],
    )
    lines = [
        f"# DMT-JEPA's collapse: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.dmt_jepa_collapse', argv)}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. Collapse diagnostics at the "
        "end of pretraining (the `target_std` curve: first → middle → last logged value, seed "
        f"{args.seeds[0]}); frozen probes on held-out frames. Mean ± s.e. over seeds.",
        "",
        "| variant | updates | target_std curve | " + " | ".join([*COLLAPSE, *probes]) + " |",
        "|---" * (len(COLLAPSE) + len(probes) + 3) + "|",
        *rows,
    ]
    write_report(args.out, f"dmt_jepa_collapse_{args.label}", lines, {"runs": runs, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
