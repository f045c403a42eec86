"""Parity with the official code: the official TD-JEPA / FB / HILP agent and ours, trained on the same data
with the same settings, scored by the same evaluation loop, over several seeds. The actor follows ours:
``actor=flow_bc`` (the OGBench default) runs the official *FlowBCAgent, ``actor=td3`` its TD3-style agent
(e.g. ``experiment=pointmaze_cpu``); see ``benchmarks/parity_official.py`` for the mapping.

    python -m benchmarks.parity --official-path ~/td_jepa_public --seeds 0 1 2 --updates 20000 --eval-every 5000 \
        --parallel 2 -- env=ogbench representation=td_jepa dataset.num_episodes=100 eval.episodes=10

For each seed it runs ``python -m agents.zeroshot <overrides> train.steps=N train.eval_every=M seed=<s>`` (ours)
and ``python -m benchmarks.parity_official ... -- <overrides> seed=<s>`` (the official agent on our data,
evaluated by ``agents.evaluation.evaluate``), one CPU thread each, ``--parallel`` runs at a time. It writes
``benchmarks/results/parity_<env>[_<label>].{md,json,png}``: per-task success (mean ± s.e. over seeds) for every
z mode, the learning curves of both codes, their update rates and the exact command. ``--ours-only`` runs
our half alone (no checkout needed).
"""

from __future__ import annotations

import math
import sys
import textwrap
import time
from pathlib import Path

from benchmarks.parity_official import add_shared_arguments, check_official_path, compose_config
from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, mean_se_cell, run_seeds, split_overrides

OURS, OFFICIAL = "jepa-rl", "official"
# Overrides the harness sets itself (per side and per seed).
_OWN_KEYS = ("seed=", "train.steps=", "train.eval_every=", "hydra.run.dir=")


def _scale(metric: str) -> tuple[float, str]:
    return (100.0, "success %") if metric == "success" else (1.0, "return")


def _task_mean(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores)


def _cell(summary: list | None, fmt: str = ".1f") -> str:
    """ "mean ± s.e." of a [mean, s.e., n] summary (the mean alone for one seed, – for none)."""
    if summary is None:
        return "–"
    mu, se, n = summary
    return f"{mu:{fmt}} ± {se:{fmt}}" if n > 1 else f"{mu:{fmt}}"


def updates_per_second(run: dict) -> float | None:
    """Updates per training second of one run (evaluations excluded): the official runs record it, for ours it
    is step / train_seconds (which also counts the validation losses and checkpoints of agents.zeroshot)."""
    if run.get("updates_per_second"):
        return float(run["updates_per_second"])
    seconds = run.get("train_seconds") or 0.0
    return run["step"] / seconds if seconds > 0 else None


def summarise(runs: dict[str, dict[int, dict]]) -> dict:
    """{side: {seed: eval.json}} -> per-task finals, curves (mean over tasks) and update rates, each as
    [mean, s.e., n] over seeds, in table units (success in %)."""
    first = next(run for per_seed in runs.values() for run in per_seed.values())
    scale, _ = _scale(first["metric"])
    modes = list(dict.fromkeys(m for per_seed in runs.values() for run in per_seed.values() for m in run["results"]))
    tasks = sorted({t for per_seed in runs.values() for run in per_seed.values() for r in run["results"].values() for t in r})
    final: dict = {}
    curves: dict = {}
    rates: dict = {}
    for side, per_seed in runs.items():
        for mode in modes:
            scored = [run["results"][mode] for run in per_seed.values() if mode in run["results"]]
            if not scored:
                continue
            by_task = final.setdefault(side, {}).setdefault(mode, {})
            for task in tasks:
                by_task[task] = mean_se_cell([scale * r[task] for r in scored if task in r])[1]
            by_task["mean"] = mean_se_cell([scale * _task_mean(r) for r in scored])[1]
        steps = sorted({p["step"] for run in per_seed.values() for p in run.get("curve", [])})
        for step in steps:
            points = [p for run in per_seed.values() for p in run.get("curve", []) if p["step"] == step]
            row: dict = {"step": step, "train_seconds": mean_se_cell([p["train_seconds"] for p in points])[1]}
            for mode in modes:
                values = [scale * _task_mean(p["results"][mode]) for p in points if mode in p["results"]]
                if values:
                    row[mode] = mean_se_cell(values)[1]
            curves.setdefault(side, []).append(row)
        values = [v for v in (updates_per_second(run) for run in per_seed.values()) if v is not None]
        rates[side] = mean_se_cell(values, ".2f")[1] if values else None
    return {
        "env": first["env"],
        "metric": first["metric"],
        "modes": modes,
        "tasks": tasks,
        "final": final,
        "curve": curves,
        "updates_per_second": rates,
    }


def report_lines(
    summary: dict,
    command: str,
    *,
    seeds: dict[str, list[int]],
    failed: dict[str, list[int]],
    updates: int,
    eval_every: int,
    official: dict | None,
) -> list[str]:
    """The markdown report of :func:`summarise`'s numbers."""
    sides = list(summary["final"])
    _, unit = _scale(summary["metric"])
    lines = [
        f"# Parity with the official code on {summary['env']}",
        "",
        f"Command: `{command}`",
        "",
        f"{updates} updates, evaluated every {eval_every or updates}; seeds per code: "
        + ", ".join(f"{s} {seeds[s]} (failed: {failed.get(s) or 'none'})" for s in seeds)
        + ".",
        "Both codes train on the same dataset (ours, `envs.make_dataset`, same sampling stream) and are scored by "
        "the same loop (`agents.evaluation.evaluate`, same tasks, episodes and seeds).",
    ]
    if official:
        lines += [
            "",
            f"Official: `{official['agent']}` from `{official['official_path']}` (commit "
            f"{official.get('official_commit') or 'unknown: not a git work tree'}), imported at run time.",
        ]
        lines += [f"- {note}" for note in official.get("notes", [])]
    for mode in summary["modes"]:
        present = [s for s in sides if mode in summary["final"][s]]
        lines += [
            "",
            f"## {mode}-inferred z: {unit} (mean ± s.e. over seeds)",
            "",
            "| task | " + " | ".join(present) + " |",
            "|---" + "|---:" * len(present) + "|",
        ]
        for task in summary["tasks"] + ["mean"]:
            lines.append(f"| {task} | " + " | ".join(_cell(summary["final"][s][mode].get(task)) for s in present) + " |")
    columns = [(s, m) for m in summary["modes"] for s in sides]
    lines += [
        "",
        f"## Learning curves: {unit}, mean over tasks (mean ± s.e. over seeds)",
        "",
        "| updates | " + " | ".join(f"{s} {m} z" for s, m in columns) + " |",
        "|---:" * (len(columns) + 1) + "|",
    ]
    steps = sorted({row["step"] for s in sides for row in summary["curve"].get(s, [])})
    for step in steps:
        rows = {s: next((r for r in summary["curve"].get(s, []) if r["step"] == step), {}) for s in sides}
        lines.append(f"| {step} | " + " | ".join(_cell(rows[s].get(m)) for s, m in columns) + " |")
    lines += [
        "",
        "## Update rate (training only, evaluations excluded; one CPU thread per run)",
        "",
        "| code | updates/s (mean ± s.e.) |",
        "|---|---:|",
    ]
    for side in sides:
        lines.append(f"| {side} | {_cell(summary['updates_per_second'].get(side), '.2f')} |")
    lines += [
        "",
        "jepa-rl's rate is updates / train_seconds of its eval.json, which also counts its periodic "
        "validation losses and checkpoints; the official rate counts `agent.update` calls only.",
    ]
    return lines


def plot(summary: dict, path: Path, title: str) -> None:
    """Success (or return) against updates, one panel per z mode, both codes (s.e. bands); and the update rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes, sides = summary["modes"], list(summary["curve"])
    fig, axes = plt.subplots(1, len(modes) + 1, figsize=(4.2 * (len(modes) + 1), 3.6))
    _, unit = _scale(summary["metric"])
    for ax, mode in zip(axes, modes):
        for side in sides:
            rows = [r for r in summary["curve"][side] if mode in r]
            if not rows:
                continue
            xs = [r["step"] for r in rows]
            mu = [r[mode][0] for r in rows]
            se = [0.0 if math.isnan(r[mode][1]) else r[mode][1] for r in rows]
            ax.plot(xs, mu, marker="o", ms=3, label=side)
            ax.fill_between(xs, [m - s for m, s in zip(mu, se)], [m + s for m, s in zip(mu, se)], alpha=0.2)
        ax.set_title(f"{mode} z")
        ax.set_xlabel("updates")
        ax.set_ylabel(f"{unit}, mean over tasks")
        ax.legend(fontsize=8)
    rates = [summary["updates_per_second"].get(s) for s in sides]
    axes[-1].bar(
        sides, [r[0] if r else 0.0 for r in rates], yerr=[0.0 if not r or math.isnan(r[1]) else r[1] for r in rates], capsize=4
    )
    axes[-1].set_title("updates / s (training only)")
    fig.suptitle(textwrap.fill(title, 180), fontsize=7)  # the overrides can be long
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    all_args, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "parity", seeds=[0, 1, 2], label="")
    add_shared_arguments(parser)
    parser.add_argument("--ours-only", action="store_true", help="run the jepa-rl half only (no checkout needed)")
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (one CPU thread each)")
    args = parser.parse_args(own)
    official_root = None
    if not args.ours_only:
        if not args.official_path:
            raise SystemExit(
                "--official-path is missing: pass a checkout of the official TD-JEPA code (`git clone "
                "https://github.com/marbaga/td_jepa_public <dir>`), or --ours-only to run the jepa-rl half alone"
            )
        official_root = check_official_path(args.official_path)
    base = [o for o in overrides if not o.startswith(_OWN_KEYS)]
    cfg = compose_config(base)  # checks the overrides before any run starts
    updates = int(cfg.train.steps if args.updates is None else args.updates)
    eval_every = int((cfg.train.eval_every if args.eval_every is None else args.eval_every) or 0)
    root = Path(args.resume) if args.resume else Path(args.runs_dir) / f"{args.label or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.time()
    runs, failed, seeds = {}, {}, {}
    jobs = {OURS: ("agents.zeroshot", [*base, f"train.steps={updates}", f"train.eval_every={eval_every}"])}
    if official_root is not None:
        jobs[OFFICIAL] = (
            "benchmarks.parity_official",
            [
                "--official-path",
                str(official_root),
                "--updates",
                str(updates),
                "--eval-every",
                str(eval_every),
                "--official-goal-z",
                args.official_goal_z,
                "--",
                *base,
            ],
        )
    for side, (entry, side_args) in jobs.items():
        # run_seeds appends seed=<s> hydra.run.dir=<folder>; parity_official reads both from its overrides.
        per_seed, failed[side] = run_seeds(
            side_args,
            args.seeds,
            root / side,
            parallel=args.parallel,
            threads=1,
            entry=entry,
            result_key=None,
            reuse=bool(args.resume),
        )
        if per_seed:
            runs[side], seeds[side] = per_seed, sorted(per_seed)
    if not runs:
        raise SystemExit(f"no run finished; logs under {root}")
    official = None
    if OFFICIAL in runs:
        import json

        official = json.loads((root / OFFICIAL / f"seed{seeds[OFFICIAL][0]}" / "official_config.json").read_text())
    summary = summarise(runs)
    command = command_line("benchmarks.parity", all_args)
    lines = report_lines(summary, command, seeds=seeds, failed=failed, updates=updates, eval_every=eval_every, official=official)
    stem = f"parity_{summary['env']}" + (f"_{args.label}" if args.label else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(summary, out / f"{stem}.png", f"{summary['env']}: " + " ".join(base))
    lines += ["", f"Curves: `{stem}.png`. Runs: `{root}` ({time.time() - started:.0f} s wall time)."]
    result = {
        "command": command,
        **summary,
        "seeds": seeds,
        "failed": failed,
        "updates": updates,
        "eval_every": eval_every,
        "official": official and {k: official[k] for k in ("agent", "official_path", "official_commit", "config", "notes")},
        "per_seed": runs,
        "runs_root": str(root),
    }
    write_report(out, stem, lines, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
