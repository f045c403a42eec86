"""One zero-shot agent with each issue-#8 observation encoder, beside the same agent without it.

    python -m benchmarks.encoder_agents --seeds 0 --agent train.steps=1000 --pretrain train.steps=1000

Pipelines (each run in its own folder under the benchmark's root):
- **T-JEPA on walker states**: ``agents.pretrain objective=t_jepa data=table data.name=env_states env=dmc
  env.domain=walker``, then ``agents.zeroshot env=dmc env.domain=walker encoder=t_jepa encoder.checkpoint=<run>``;
  reference: the agent on the raw states (``encoder=identity``). Metric: mean return over walker's 4 tasks.
- **AD-L-JEPA on pointmaze LiDAR**: ``agents.pretrain objective=ad_l_jepa data=lidar data.source=maze
  env=ogbench``, then ``agents.zeroshot env=ogbench env.obs=lidar encoder=ad_l_jepa encoder.checkpoint=<run>``;
  references: the conv encoder trained end to end on the LiDAR grids, and the agent on the 2-d states. Metrics:
  success over the 5 tasks and, because success is 0 at CPU budgets, the agreement of the policy's action with
  the maze oracle's direction (``benchmarks.oracle_agreement``; random policy 0, oracle 1).
Writes ``benchmarks/results/encoder_agents_<label>.{md,json}``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import command_line, write_report
from benchmarks.zeroshot_quality import benchmark_parser, entry_env, mean_se_cell, runs_root, split_overrides

ROOT = Path(__file__).resolve().parents[1]
WALKER = ["env=dmc", "env.domain=walker"]
MAZE = ["env=ogbench", "dataset.source=generated"]
# name: (pretraining overrides or None, agent overrides, metric)
PIPELINES = {
    "walker states, T-JEPA encoder (frozen)": (
        ["objective=t_jepa", "data=table", "data.name=env_states", *WALKER],
        [*WALKER, "encoder=t_jepa"],
        "return",
    ),
    "walker states, raw (identity)": (None, [*WALKER, "encoder=identity"], "return"),
    "pointmaze LiDAR, AD-L-JEPA encoder (frozen)": (
        ["objective=ad_l_jepa", "data=lidar", "data.source=maze", *MAZE],
        [*MAZE, "env.obs=lidar", "encoder=ad_l_jepa"],
        "oracle",
    ),
    "pointmaze LiDAR, conv encoder (end to end)": (None, [*MAZE, "env.obs=lidar", "encoder=pixels"], "oracle"),
    "pointmaze states, raw (identity)": (None, [*MAZE, "encoder=identity"], "oracle"),
}


def run(entry: list[str], run_dir: Path) -> dict | None:
    """Runs ``python -m <entry...> hydra.run.dir=<run_dir>`` (skipped when its eval.json exists); its eval.json."""
    if not (run_dir / "eval.json").exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / "stdout.log", "w") as log:
            proc = subprocess.run(
                [sys.executable, "-m", *entry, f"hydra.run.dir={run_dir}"],
                cwd=ROOT,
                env=entry_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        print(f"{run_dir}: {'ok' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})'}", flush=True)
        if proc.returncode != 0:
            return None
    return json.loads((run_dir / "eval.json").read_text())


def main(argv: list[str] | None = None) -> dict:
    argv, own, _ = split_overrides(argv)
    parser = benchmark_parser(__doc__, "encoder_agents", seeds=[0])
    parser.add_argument("--agent", default="", help="overrides of every agents.zeroshot run (one quoted string)")
    parser.add_argument("--pretrain", default="", help="overrides of every agents.pretrain run (one quoted string)")
    parser.add_argument("--walker", default="", help="overrides of the walker runs (dataset options)")
    parser.add_argument("--maze", default="", help="overrides of the pointmaze runs (dataset options)")
    parser.add_argument("--states", type=int, default=500, help="oracle agreement: dataset states per task")
    parser.add_argument("--pipelines", nargs="+", default=list(PIPELINES), choices=list(PIPELINES), metavar="PIPELINE")
    args = parser.parse_args(own)
    root = runs_root(args)
    started = time.time()
    results: dict = {}
    for index, name in enumerate(args.pipelines):
        pretrain, agent, metric = PIPELINES[name]
        family = shlex.split(args.walker if "walker" in name else args.maze)
        for seed in args.seeds:
            folder = root / f"pipeline{index}" / f"seed{seed}"
            agent_overrides = [*agent, *family, *shlex.split(args.agent), f"seed={seed}"]
            if pretrain is not None:
                if (
                    run(
                        [
                            "agents.pretrain",
                            *pretrain,
                            *family,
                            *shlex.split(args.pretrain),
                            f"seed={seed}",
                            "logger.backend=csv",
                        ],
                        folder / "pretrain",
                    )
                    is None
                ):
                    continue
                agent_overrides.append(f"encoder.checkpoint={folder / 'pretrain'}")
            saved = run(["agents.zeroshot", *agent_overrides, "logger.backend=csv"], folder / "agent")
            if saved is None:
                continue
            scores = saved["results"]["reward"]
            entry = {"reward_z": sum(scores.values()) / len(scores), "per_task": scores}
            if metric == "oracle":
                from benchmarks.oracle_agreement import main as oracle_agreement

                latest = (folder / "agent" / "checkpoints" / "latest").read_text().strip()
                agreement = oracle_agreement(
                    [str(folder / "agent" / "checkpoints" / latest), "--states", str(args.states), "--modes", "reward"]
                )["reward"]
                entry["oracle_cosine"] = sum(v["mean_cosine"] for v in agreement.values()) / len(agreement)
            results.setdefault(name, {})[seed] = entry
    lines = [
        f"# One zero-shot agent with each observation encoder: {args.label}",
        "",
        f"Command: `{command_line('benchmarks.encoder_agents', argv)}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. TD-JEPA (default "
        "config), z inferred from relabelled rewards. Walker: mean return over stand / walk / run / spin; pointmaze: "
        "success % over the 5 tasks and the mean cosine between the policy's action and the maze oracle's "
        "direction on dataset states (random 0, oracle 1). Mean ± s.e. over seeds.",
        "",
        "| agent | walker return | pointmaze success % | oracle agreement |",
        "|---|---|---|---|",
    ]
    summary: dict = {}
    for name, per_seed in results.items():
        value, summary[name] = mean_se_cell([r["reward_z"] for r in per_seed.values()], ".1f")
        oracle = "–"
        if "oracle_cosine" in next(iter(per_seed.values())):
            oracle, summary[f"{name} oracle"] = mean_se_cell([r["oracle_cosine"] for r in per_seed.values()], "+.2f", ".2f")
        walker = "walker" in name
        lines.append(f"| {name} | {value if walker else '–'} | {'–' if walker else value} | {oracle} |")
    write_report(args.out, f"encoder_agents_{args.label}", lines, {"runs": results, "summary": summary})
    return summary


if __name__ == "__main__":
    main()
