"""ACT-JEPA vs ACT vs MLP-BC at equal budget on the same demonstrations, several seeds.

    python -m benchmarks.bc_comparison --label pointmaze \\
        --policies act_jepa:policy.d_model=128 act:policy.d_model=128 mlp_bc \\
        --seeds 0 1 2 -- env.name=pointmaze-medium-navigate train.steps=1000

Every (policy, seed) runs ``python -m agents.bc policy=<p> <p's overrides> <overrides>
seed=<s>`` through the real entry point. A method is ``name`` or ``name:override:override...`` (for
options only that method has). Reports, as mean ± standard error over seeds: task success, the
frozen-encoder probes (world model: RMSE and ATE of the next H states; action head: L1) and the
training time, then the first method's gap to each other one in standard errors of the difference.
Writes ``benchmarks/results/bc_comparison_<label>.{md,json}``. ``--parallel N`` runs N seeds at a time,
one CPU thread each; ``--resume <run folder root>`` finishes an interrupted call, keeping its finished runs.
"""

from __future__ import annotations

import time

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, gap_in_se, mean_se_cell, run_seeds, runs_root, split_overrides

COLUMNS = [  # (eval.json key, title, scale, cell format)
    ("mean", "success %", 100.0, ".1f"),
    ("probe_state_rmse", "probe RMSE", 1.0, ".4f"),
    ("probe_state_ate", "probe ATE", 1.0, ".3f"),
    ("probe_action_l1", "probe action L1", 1.0, ".4f"),
    ("training_seconds", "training s", 1.0, ".0f"),
]


def summary_rows(per_method: dict[str, dict[int, dict]]) -> tuple[list[str], dict]:
    lines = ["| method | seeds | " + " | ".join(title for _, title, _, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    numbers: dict = {}
    for method, runs in per_method.items():
        cells = []
        for key, _, scale, fmt in COLUMNS:
            values = [scale * r[key] for r in runs.values() if key in r]
            if not values:
                cells.append("–")
                continue
            cell, numbers.setdefault(method, {})[key] = mean_se_cell(values, fmt)
            cells.append(cell)
        lines.append(f"| {method} | {len(runs)} | " + " | ".join(cells) + " |")
    tasks = sorted({t for runs in per_method.values() for r in runs.values() for t in r["success"]})
    lines += [
        "",
        "Success % per task (mean ± s.e.):",
        "",
        "| task | " + " | ".join(per_method) + " |",
        "|---" * (len(per_method) + 1) + "|",
    ]
    for task in tasks:
        cells = []
        for runs in per_method.values():
            cells.append(mean_se_cell([100.0 * r["success"][task] for r in runs.values()])[0])
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines, numbers


def gap_rows(per_method: dict[str, dict[int, dict]]) -> tuple[list[str], dict]:
    """The first method minus each other one, per column but training time: the gap, the standard error of the
    difference over seeds and the gap in those standard errors. Lower is better for the probe errors."""
    first, *others = per_method
    keys = [(key, title, scale) for key, title, scale, _ in COLUMNS if key != "training_seconds"]
    lines = [
        "",
        f"**{first} minus each other method** (gap / s.e. of the difference / gap in s.e.)",
        "",
        "| method | " + " | ".join(title for _, title, _ in keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    gaps: dict[str, dict[str, dict[str, float]]] = {}
    for method in others:
        cells = []
        for key, _, scale in keys:
            ours = [scale * r[key] for r in per_method[first].values() if key in r]
            theirs = [scale * r[key] for r in per_method[method].values() if key in r]
            if not ours or not theirs:
                cells.append("–")
                continue
            gap = gaps.setdefault(method, {})[key] = gap_in_se(ours, theirs)
            cells.append(f"{gap['gap']:+.3g} / {gap['se']:.2g} / {gap['gap_in_se']:+.1f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines, gaps


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "bc_comparison", seeds=[0, 1, 2], label="bc")
    parser.add_argument("--policies", "--representations", dest="policies", nargs="+", default=["act_jepa", "act", "mlp_bc"])
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (one CPU thread each when above 1)")
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    per_method, failed = {}, {}
    for spec in args.policies:
        method, *own_overrides = spec.split(":")
        runs, failures = run_seeds(
            [f"policy={method}", *own_overrides, *overrides],
            args.seeds,
            root / method,
            entry="agents.bc",
            result_key=None,
            parallel=args.parallel,
            threads=1 if args.parallel > 1 else 0,
            reuse=bool(args.resume),
        )
        per_method[method], failed[method] = runs, failures
    per_method = {m: r for m, r in per_method.items() if r}
    if not per_method:
        raise SystemExit(f"no run finished; logs under {root}")
    command = command_line("benchmarks.bc_comparison", argv)
    lines, numbers = summary_rows(per_method)
    gaps = {}
    if len(per_method) > 1:
        gap_lines, gaps = gap_rows(per_method)
        lines += gap_lines
    header = [
        f"# Behaviour cloning comparison: {args.label}",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds per method: {args.seeds}; failed: {({m: f for m, f in failed.items() if f}) or 'none'}; "
        f"wall time {time.time() - started:.0f} s. Run folders: `{root}`. Mean ± standard error over seeds.",
        "",
    ]
    write_report(
        args.out,
        f"bc_comparison_{args.label}",
        header + lines,
        {"command": command, "per_method": per_method, "summary": numbers, "gaps": gaps, "failed": failed},
    )
    return numbers


if __name__ == "__main__":
    main()
