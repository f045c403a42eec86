"""TD-JEPA vs FB vs HILP at equal budget, several seeds, through the real entry point, against the untrained policy.

    python -m benchmarks.zeroshot_comparison --untrained --label walker_cpu \\
        --representations td_jepa:experiment=dmc_cpu fb:experiment=dmc_cpu_fb hilp:experiment=dmc_cpu_hilp -- \\
        env=dmc env.domain=walker

Every (representation, seed) runs ``python -m agents.zeroshot representation=<r> [<r's overrides>] <overrides>
seed=<s>``; a representation is given as ``name`` or ``name:override:override`` (one at a time by default: on a
2-core machine parallel runs only share the cores). ``--untrained`` adds the reference the issue asks for: the
first representation's run with ``train.steps=0`` (its randomly initialised actor, z inferred from its untrained
features), per seed. The final table has one row per task and one column per method: mean ± standard error over
seeds of the per-task score (return on DMC, success % on OGBench), for each z-inference mode; with the reference,
also each method's gap to it in standard errors of the difference, and the learning curve of every method.
Writes ``benchmarks/results/zeroshot_comparison_<label>.{md,json}``.
"""

from __future__ import annotations

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import (
    benchmark_parser,
    gap_in_se,
    mean_se_cell,
    run_seeds,
    runs_root,
    split_overrides,
)

UNTRAINED = "untrained"


def task_mean(results: dict[str, float]) -> float:
    return sum(results.values()) / len(results)


def comparison_table(per_method: dict[str, dict[int, dict]], metric: str) -> tuple[list[str], dict]:
    """Markdown rows (task × method, per mode) and the numbers behind them."""
    scale = 100.0 if metric == "success" else 1.0
    first = next(iter(next(iter(per_method.values())).values()))
    modes, tasks = list(first), sorted(first[next(iter(first))])
    methods = list(per_method)
    lines, numbers = [], {}
    for mode in modes:
        lines += [
            "",
            f"**z inferred from: {mode}** ({'success %' if metric == 'success' else 'episode return'}, mean ± s.e. over seeds)",
            "",
            "| task | " + " | ".join(methods) + " |",
            "|---" * (len(methods) + 1) + "|",
        ]
        for task in tasks + ["mean"]:
            cells = []
            for method in methods:
                runs = [r[mode] for r in per_method[method].values() if mode in r]
                vals = [scale * (task_mean(r) if task == "mean" else r[task]) for r in runs]
                if not vals:
                    cells.append("–")
                    continue
                cell, numbers.setdefault(mode, {}).setdefault(method, {})[task] = mean_se_cell(vals)
                cells.append(cell)
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines, numbers


def gap_to_reference(per_method: dict[str, dict[int, dict]], reference: str = UNTRAINED) -> tuple[list[str], dict]:
    """Per method and mode: the mean-over-tasks score minus the reference's, in standard errors of the difference
    (√(s.e.² + s.e._ref²) over seeds) — the issue's "≥ 3 s.e. above the untrained policy" test."""
    ref_runs = per_method[reference]
    modes = list(next(iter(ref_runs.values())))
    lines = [
        "",
        f"**Gap to the {reference} policy** (mean over tasks; s.e. of the difference over seeds)",
        "",
        "| method | " + " | ".join(f"{m} z: gap / s.e. / gap in s.e." for m in modes) + " |",
        "|---" * (len(modes) + 1) + "|",
    ]
    gaps: dict[str, dict[str, dict[str, float]]] = {}
    for method, runs in per_method.items():
        if method == reference:
            continue
        cells = []
        for mode in modes:
            gap = gap_in_se([task_mean(r[mode]) for r in runs.values()], [task_mean(r[mode]) for r in ref_runs.values()])
            gaps.setdefault(method, {})[mode] = gap
            cells.append(f"{gap['gap']:+.1f} / {gap['se']:.1f} / {gap['gap_in_se']:+.1f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines, gaps


def curve_table(runs_by_method: dict[str, dict[int, dict]]) -> tuple[list[str], dict]:
    """The learning curve of each method (mean ± s.e. over seeds of the mean-over-tasks score per evaluation)."""
    lines = [
        "",
        "**Learning curves** (mean over tasks, mean ± s.e. over seeds; training minutes exclude evaluations)",
        "",
        "| method | updates | train time (min) | " + "score by mode |",
        "|---|---:|---:|---|",
    ]
    curves: dict[str, list[dict]] = {}
    for method, runs in runs_by_method.items():
        steps = sorted({p["step"] for run in runs.values() for p in run.get("curve", [])})
        for step in steps:
            points = [p for run in runs.values() for p in run.get("curve", []) if p["step"] == step]
            row = {"step": step, "seeds": len(points), "train_seconds": sum(p["train_seconds"] for p in points) / len(points)}
            for mode in points[0]["results"]:
                row[mode] = mean_se_cell([task_mean(p["results"][mode]) for p in points if mode in p["results"]])[1]
            curves.setdefault(method, []).append(row)
            scores = ", ".join(f"{m} {row[m][0]:.1f} ± {row[m][1]:.1f}" for m in points[0]["results"])
            lines.append(f"| {method} | {step} | {row['train_seconds'] / 60:.1f} | {scores} |")
    return lines, curves


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "zeroshot_comparison", seeds=[0, 1, 2], label="comparison")
    parser.add_argument(
        "--representations",
        nargs="+",
        default=["td_jepa", "fb", "hilp"],
        help="name or name:override:override (e.g. fb:experiment=dmc_cpu_fb)",
    )
    parser.add_argument(
        "--untrained",
        action="store_true",
        help="also run the first representation with train.steps=0 (the untrained-policy reference)",
    )
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (one CPU thread each when > 1)")
    args = parser.parse_args(own)
    root = runs_root(args)
    specs = [(spec.split(":")[0], spec.split(":")[1:]) for spec in args.representations]
    if args.untrained:
        specs.append((UNTRAINED, [f"representation={specs[0][0]}", *specs[0][1], "train.steps=0"]))
    per_method, runs_by_method, failed, metric = {}, {}, {}, "return"
    for method, extra in specs:
        run_overrides = extra if method == UNTRAINED else [f"representation={method}", *extra]
        runs, failures = run_seeds(
            [*run_overrides, *overrides],
            args.seeds,
            root / method,
            parallel=args.parallel,
            threads=1 if args.parallel > 1 else 0,
            result_key=None,
            reuse=bool(args.resume),
        )
        failed[method] = failures
        if runs:
            runs_by_method[method] = runs
            per_method[method] = {seed: run["results"] for seed, run in runs.items()}
            metric = next(iter(runs.values()))["metric"]
    if not per_method:
        raise SystemExit(f"no run finished; logs under {root}")
    command = command_line("benchmarks.zeroshot_comparison", argv)
    lines, numbers = comparison_table(per_method, metric)
    result = {
        "command": command,
        "metric": metric,
        "seeds": args.seeds,
        "per_method": per_method,
        "summary": numbers,
        "failed": failed,
        "train_seconds": {m: {s: r.get("train_seconds") for s, r in runs.items()} for m, runs in runs_by_method.items()},
    }
    if UNTRAINED in per_method and len(per_method) > 1:
        gap_lines, result["gap_to_untrained"] = gap_to_reference(per_method)
        lines += gap_lines
    curve_lines, result["curves"] = curve_table({m: r for m, r in runs_by_method.items() if m != UNTRAINED})
    if result["curves"]:
        lines += curve_lines
    header = [
        f"# Zero-shot comparison: {args.label}",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds per method: {args.seeds}; failed: {({m: f for m, f in failed.items() if f}) or 'none'}. Run folders: `{root}`.",
    ]
    write_report(args.out, f"zeroshot_comparison_{args.label}", header + lines, result)
    return result


if __name__ == "__main__":
    main()
