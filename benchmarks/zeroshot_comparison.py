"""TD-JEPA vs FB vs HILP at equal budget, several seeds, through the real entry point.

    python -m benchmarks.zeroshot_comparison --representations td_jepa fb hilp --seeds 0 1 2 --label walker -- \
        env=dmc env.domain=walker train.steps=20000 eval.episodes=5

Every (representation, seed) runs ``python -m agents.zeroshot representation=<r> <overrides> seed=<s>``
(one at a time by default: on a 2-core machine parallel runs only share the cores). The final table
has one row per task and one column per representation: mean ± standard error over seeds of the
per-task score (return on DMC, success % on OGBench), for each z-inference mode. Writes
``benchmarks/results/zeroshot_comparison_<label>.{md,json}``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.report import write_report
from benchmarks.zeroshot_quality import mean_se_cell, run_seeds, split_overrides

ROOT = Path(__file__).resolve().parents[1]


def comparison_table(per_method: dict[str, dict[int, dict]], metric: str) -> tuple[list[str], dict]:
    """Markdown rows (task × method, per mode) and the numbers behind them."""
    scale = 100.0 if metric == "success" else 1.0
    first = next(iter(next(iter(per_method.values())).values()))
    modes, tasks = list(first), sorted(first[next(iter(first))])
    methods = list(per_method)
    lines, numbers = [], {}
    for mode in modes:
        lines += ["", f"**z inferred from: {mode}** ({'success %' if metric == 'success' else 'episode return'}, mean ± s.e. over seeds)", "",
                  "| task | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        for task in tasks + ["mean"]:
            cells = []
            for method in methods:
                runs = [r[mode] for r in per_method[method].values() if mode in r]
                vals = [scale * (sum(r.values()) / len(r) if task == "mean" else r[task]) for r in runs]
                if not vals:
                    cells.append("–")
                    continue
                cell, numbers.setdefault(mode, {}).setdefault(method, {})[task] = mean_se_cell(vals)
                cells.append(cell)
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines, numbers


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--representations", nargs="+", default=["td_jepa", "fb", "hilp"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--label", default="comparison")
    parser.add_argument("--runs-dir", default=str(ROOT / "outputs/benchmarks/zeroshot_comparison"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = parser.parse_args(own)
    root = Path(args.runs_dir) / f"{args.label}-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.time()
    per_method, failed, metric = {}, {}, "return"
    for method in args.representations:
        per_seed, failures = run_seeds([f"representation={method}", *overrides], args.seeds, root / method, parallel=args.parallel)
        per_method[method], failed[method] = per_seed, failures
        for seed in per_seed:
            metric = json.loads((root / method / f"seed{seed}" / "eval.json").read_text())["metric"]
    if not any(per_method.values()):
        raise SystemExit(f"no run finished; logs under {root}")
    per_method = {m: r for m, r in per_method.items() if r}
    command = "python -m benchmarks.zeroshot_comparison " + " ".join(argv)
    lines, numbers = comparison_table(per_method, metric)
    header = [f"# Zero-shot comparison: {args.label}", "", f"Command: `{command}`", "",
              f"Seeds per method: {args.seeds}; failed: {({m: f for m, f in failed.items() if f}) or 'none'}; "
              f"wall time {time.time() - started:.0f} s. Run folders: `{root}`."]
    write_report(args.out, f"zeroshot_comparison_{args.label}", header + lines,
                 {"command": command, "metric": metric, "per_method": per_method, "summary": numbers, "failed": failed})
    return numbers


if __name__ == "__main__":
    main()
