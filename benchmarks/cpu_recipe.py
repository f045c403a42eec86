"""The CPU recipe: zero-shot success per seed, its learning curve, and the training wall time.

    python -m benchmarks.cpu_recipe --seeds 0 1 2 --parallel 2 -- env=ogbench experiment=pointmaze_cpu

Each seed runs ``python -m agents.zeroshot <overrides> seed=<s>`` (one CPU thread each, ``--parallel`` at a
time, see :func:`benchmarks.zeroshot_quality.run_seeds`). From their ``eval.json`` files it writes
``benchmarks/results/cpu_recipe_<env without -v0>.{md,json}`` — per-seed goal-z and reward-z success (mean over
tasks), training seconds, updates, hardware and the exact command — and ``cpu_recipe_<env>.png``, the
success curves against updates and against training wall time (evaluations excluded).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, mean_se_cell, run_seeds, runs_root, split_overrides


def hardware() -> str:
    cpu = (
        next(
            (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.machine()
        )
        if Path("/proc/cpuinfo").exists()
        else platform.machine()
    )
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread per run"


def task_mean(results: dict[str, dict[str, float]], mode: str) -> float | None:
    scores = results.get(mode)
    return sum(scores.values()) / len(scores) if scores else None


def curve_rows(per_seed: dict[int, dict]) -> list[dict]:
    """Per evaluation step: the mean over seeds of goal/reward success and of the training seconds."""
    steps = sorted({point["step"] for run in per_seed.values() for point in run.get("curve", [])})
    rows = []
    for step in steps:
        points = [p for run in per_seed.values() for p in run.get("curve", []) if p["step"] == step]
        row = {"step": step, "seeds": len(points), "train_seconds": sum(p["train_seconds"] for p in points) / len(points)}
        for mode in ("goal", "reward"):
            values = [v for v in (task_mean(p["results"], mode) for p in points) if v is not None]
            if values:
                row[f"{mode}_success"] = mean_se_cell([100 * v for v in values])[1]
            for key, name in (("oracle", "oracle"), ("q_distance_rho", "q_rho")):
                values = [p[key][mode] for p in points if p.get(key, {}).get(mode) is not None]
                if values:
                    row[f"{mode}_{name}"] = mean_se_cell(values)[1]
        rows.append(row)
    return rows


def plot_curves(per_seed: dict[int, dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for seed, run in sorted(per_seed.items()):
        curve = run.get("curve", [])
        for mode, style in (("goal", "-"), ("reward", "--")):
            if not any(mode in p["results"] for p in curve):
                continue
            ys = [100 * (task_mean(p["results"], mode) or 0.0) for p in curve]
            axes[0].plot([p["step"] for p in curve], ys, style, marker="o", ms=3, label=f"seed {seed}, {mode} z")
            axes[1].plot([p["train_seconds"] / 60 for p in curve], ys, style, marker="o", ms=3)
            oracle = [(p["step"], p["oracle"][mode]) for p in curve if p.get("oracle", {}).get(mode) is not None]
            if oracle:
                axes[2].plot(*zip(*oracle), style, marker="o", ms=3)
    for ax in (axes[0], axes[2]):
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    axes[0].set_xlabel("updates")
    axes[1].set_xlabel("training wall time (min, evaluations excluded)")
    axes[2].set_xlabel("updates")
    axes[0].set_ylabel("success (%), mean over tasks")
    axes[1].set_ylabel("success (%)")
    axes[2].set_ylabel("oracle agreement (mean cosine)")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_oracle_agreement(per_seed: dict[int, dict], root: Path, states: int) -> None:
    """Adds ``oracle`` {mode: mean cosine with the oracle direction} and ``q_distance_rho`` {mode: Spearman rho of Q
    with minus the maze distance to the goal} to every curve point whose checkpoint was kept (mazes only)."""
    from benchmarks.oracle_agreement import measure, task_mean as oracle_mean

    for seed, run in per_seed.items():
        for point in run.get("curve", []):
            ckpt = root / f"seed{seed}" / "checkpoints" / f"step{point['step']:09d}"
            if ckpt.exists():
                measured = measure(str(ckpt), states=states)
                point["oracle"] = {mode: oracle_mean(measured, mode) for mode in measured}
                point["q_distance_rho"] = {mode: oracle_mean(measured, mode, "q_distance_rho") for mode in measured}
                point["straight_line_cosine"] = oracle_mean(measured, next(iter(measured)), "straight_line_cosine")


def summarise(
    per_seed: dict[int, dict], env: str, command: str, straight_line: dict[str, float] | None = None
) -> tuple[list[str], dict]:
    seeds = sorted(per_seed)
    goal = [task_mean(per_seed[s]["results"], "goal") for s in seeds]
    reward = [task_mean(per_seed[s]["results"], "reward") for s in seeds]
    result = {
        "env": env,
        "seeds": seeds,
        "goal_success": goal,
        "reward_success": reward,
        "train_seconds": [per_seed[s].get("train_seconds") for s in seeds],
        "updates": [per_seed[s]["step"] for s in seeds],
        "per_task": {s: per_seed[s]["results"] for s in seeds},
        "curve": curve_rows(per_seed),
        "per_seed_curve": {s: per_seed[s].get("curve", []) for s in seeds},
        "hardware": hardware(),
        "command": command,
    }
    if straight_line is not None:  # what a policy with no learning gets on the same tasks (benchmarks.maze_baselines)
        result["straight_line"] = {"per_task": straight_line, "success": sum(straight_line.values()) / len(straight_line)}
    lines = [
        f"# CPU recipe on {env} ({len(seeds)} seeds)",
        "",
        f"Command: `{command}`",
        "",
        f"Hardware: {result['hardware']}.",
        "",
        "| seed | updates | train time (min) | goal z success % | reward z success % |",
        "|---|---:|---:|---:|---:|",
    ]
    for s, g, r in zip(seeds, goal, reward):
        secs = per_seed[s].get("train_seconds") or float("nan")
        lines.append(
            f"| {s} | {per_seed[s]['step']} | {secs / 60:.1f} | "
            f"{'–' if g is None else f'{100 * g:.1f}'} | {'–' if r is None else f'{100 * r:.1f}'} |"
        )
    cells = [
        mean_se_cell([100 * v for v in vals if v is not None])[0] if any(v is not None for v in vals) else "–"
        for vals in (goal, reward)
    ]
    lines.append(f"| mean ± s.e. | | | {cells[0]} | {cells[1]} |")
    if straight_line is not None:
        solved = ", ".join(t for t, v in straight_line.items() if v > 0) or "none"
        lines.append(f"| straight line to the goal (no learning) | | | {100 * result['straight_line']['success']:.1f} | – |")
        cosines = [
            p["straight_line_cosine"] for run in per_seed.values() for p in run.get("curve", []) if "straight_line_cosine" in p
        ]
        reference = f" Its oracle cos is {cosines[0]:+.2f} on the same states." if cosines else ""
        lines += [
            "",
            f"The straight line (a = (g − s)/‖g − s‖, `benchmarks.maze_baselines`) solves {solved}: goal-reaching "
            f"counts as learned only on the other tasks.{reference}",
        ]
    if result["curve"]:
        lines += [
            "",
            "Learning curve (mean ± s.e. over seeds; oracle: mean cosine between the policy's action and the "
            "direction to the BFS oracle's subgoal, random policy 0, oracle 1):",
            "",
            "| updates | train time (min) | goal z success % | reward z success % | goal z oracle cos | reward z oracle cos "
            "| goal z rho(Q, −dist) | reward z rho(Q, −dist) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        columns = (
            ("goal_success", ".1f"),
            ("reward_success", ".1f"),
            ("goal_oracle", "+.2f"),
            ("reward_oracle", "+.2f"),
            ("goal_q_rho", "+.2f"),
            ("reward_q_rho", "+.2f"),
        )
        for row in result["curve"]:
            cells = [
                f"{row[m][0]:{f}} ± {row[m][1]:{f}}" if m in row and row[m][2] > 1 else f"{row[m][0]:{f}}" if m in row else "–"
                for m, f in columns
            ]
            lines.append(f"| {row['step']} | {row['train_seconds'] / 60:.1f} | " + " | ".join(cells) + " |")
    return lines, result


def main(argv: list[str] | None = None) -> dict:
    all_args, own, overrides = split_overrides(argv)
    parser = benchmark_parser(__doc__, "cpu_recipe", seeds=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (one CPU thread each)")
    parser.add_argument(
        "--straight-line-episodes",
        type=int,
        default=10,
        help="episodes per task of the straight-line baseline (pointmaze; 0: skip)",
    )
    parser.add_argument(
        "--oracle-states",
        type=int,
        default=300,
        help="dataset states for the oracle agreement of each kept checkpoint (mazes; 0: skip)",
    )
    args = parser.parse_args(own)
    root = runs_root(args)
    env = next((o.split("=", 1)[1] for o in overrides if o.startswith("env.name=")), None)
    per_seed, failed = run_seeds(
        overrides, args.seeds, root, parallel=args.parallel, threads=1, result_key=None, reuse=bool(args.resume)
    )
    if not per_seed:
        raise SystemExit(f"no seed finished; logs under {root}")
    env = env or next(iter(per_seed.values())).get("env") or "pointmaze-medium-navigate"
    if args.oracle_states and "maze" in env:
        add_oracle_agreement(per_seed, root, args.oracle_states)
    command = command_line("benchmarks.cpu_recipe", all_args)
    straight_line = None
    if args.straight_line_episodes and env.startswith("pointmaze"):
        from benchmarks.maze_baselines import straight_line_success
        from benchmarks.parity_official import compose_config
        from envs import make_task_suite

        suite = make_task_suite(compose_config(overrides).env)  # the runs' env settings (horizon included)
        straight_line = straight_line_success(suite, episodes=args.straight_line_episodes, seed=min(per_seed))
    lines, result = summarise(per_seed, env, command, straight_line)
    if failed:
        lines.append(f"\nFailed seeds: {failed} (logs under {root})")
    stem = f"cpu_recipe_{env.removesuffix('-v0')}" + ("" if args.label == "cpu" else f"_{args.label}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(per_seed, out / f"{stem}.png", f"{env}: " + " ".join(overrides))
    lines += ["", f"Curves: `{stem}.png`. Runs: `{root}`."]
    write_report(out, stem, lines, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
