"""T-JEPA embeddings vs raw features on tables: the downstream MLP on each input, and a GBDT on the raw columns.

    python -m benchmarks.t_jepa_tables --seeds 0 1 2 -- train.steps=1500

Runs ``python -m agents.pretrain objective=t_jepa data=table data.name=<table> <overrides> seed=<s>`` for
every table and seed. Each run scores, on the table's test rows, an MLP on the raw features, on the frozen
T-JEPA (EMA target) embeddings and on a random-init encoder's embeddings, and a HistGradientBoosting model on
the raw columns (``agents/pretrain_table.py``). Classification reports accuracy (↑), regression RMSE in the
target's units (↓). Writes ``benchmarks/results/t_jepa_tables_<label>.{md,json}``.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, mean_se_cell, run_seeds, runs_root, split_overrides

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("breast_cancer", "wine", "digits", "diabetes", "synthetic_mixed")
MODELS = {
    "MLP on raw features": "mlp_raw",
    "MLP on T-JEPA embeddings": "mlp_t_jepa",
    "MLP on random-init embeddings": "mlp_random_init",
    "GBDT on raw features": "gbdt_raw",
}


def label_shares(per_seed: dict[int, dict]) -> list[str]:
    """The key suffixes of the runs' labelled shares (``probe.label_fractions``): "" for all labels, "_1pct", ..."""
    first = next(iter(per_seed.values()))
    suffixes = [k.removeprefix("labelled_train_rows") for k in first if k.startswith("labelled_train_rows")]
    return sorted(suffixes, key=lambda s: -float(s.strip("_").removesuffix("pct") or 100))  # most labels first


def score_cells(per_seed: dict[int, dict], suffix: str = "") -> tuple[str, list[str], dict]:
    """(metric name, one "mean ± s.e." cell per model, JSON summary) of one table's runs at one labelled share."""
    first = next(iter(per_seed.values()))
    metric = "accuracy" if first["task"] == "classification" else "rmse"
    cells, summary = [], {}
    for name, prefix in MODELS.items():
        cell, summary[name] = mean_se_cell(
            [r[f"{prefix}_{metric}{suffix}"] for r in per_seed.values()], ".3f" if metric == "accuracy" else ".1f"
        )
        cells.append(cell)
    return metric, cells, summary


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "t_jepa_tables", seeds=[0, 1, 2])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    lines = [
        f"# T-JEPA vs raw features: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.t_jepa_tables', argv)}`",
        "",
        f"Seeds: {args.seeds} (pretraining and downstream models; one row split per table); wall time WALL s; run "
        f"folders `{root}`. Test rows; accuracy ↑ (classification) or RMSE in the target's units ↓ (regression); "
        "mean ± s.e. over seeds.",
        "",
        "| table | rows (train/val/test) | labelled train rows | metric | " + " | ".join(MODELS) + " | pretraining s |",
        "|---" * (len(MODELS) + 5) + "|",
    ]
    runs, summary = {}, {}
    for table in args.tables:
        per_seed, failed = run_seeds(
            ["objective=t_jepa", "data=table", f"data.name={table}", *overrides],
            args.seeds,
            root / table,
            parallel=args.parallel,
            entry="agents.pretrain",
            result_key=None,
            reuse=bool(args.resume),
        )
        if not per_seed:
            lines.append(f"| {table} | – | – | – | " + " | ".join("failed" for _ in MODELS) + " | – |")
            continue
        runs[table] = per_seed
        first = next(iter(per_seed.values()))
        sizes = first["sizes"]
        seconds, _ = mean_se_cell([r["training_seconds"] for r in per_seed.values()], ".0f")
        for suffix in label_shares(per_seed) or [""]:
            metric, cells, summary[table + suffix] = score_cells(per_seed, suffix)
            lines.append(
                f"| {table} | {sizes['train']}/{sizes['val']}/{sizes['test']} | "
                f"{first.get('labelled_train_rows' + suffix, sizes['train'])} | {metric} | "
                + " | ".join(cells)
                + f" | {seconds} |"
                + (f" (seeds {failed} failed)" if failed else "")
            )
    if not runs:
        raise SystemExit(f"no run finished; logs under {root}")
    lines[4] = lines[4].replace("WALL", f"{time.time() - started:.0f}")
    write_report(args.out, f"t_jepa_tables_{args.label}", lines, {"runs": runs, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
