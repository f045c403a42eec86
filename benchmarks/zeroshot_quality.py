"""Zero-shot quality: per-task success over several seeds, through the real entry point.

    python -m benchmarks.zeroshot_quality --seeds 0 1 2 --parallel 3 -- env.name=pointmaze-medium-navigate \
        dataset.num_episodes=1000 train.steps=200000 eval.episodes=10 device=cuda

Each seed runs ``python -m agents.zeroshot <overrides> seed=<s>`` in its own process (``--parallel``
at a time); their ``eval.json`` files are aggregated into
``benchmarks/results/zeroshot_quality_<env>.{md,json}`` (mean ± standard error over seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from benchmarks.report import command_line, write_report

ROOT = Path(__file__).resolve().parents[1]


def mean_se(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1)
    return m, math.sqrt(var / len(values))


def gap_in_se(values: list[float], reference: list[float]) -> dict[str, float]:
    """mean(values) − mean(reference), the standard error of that difference (√(s.e.² + s.e._ref²) over seeds),
    and the gap in those standard errors (±inf for a gap with no spread)."""
    mu, se = mean_se(values)
    mu_ref, se_ref = mean_se(reference)
    gap, se_diff = mu - mu_ref, math.sqrt(se**2 + se_ref**2)
    ratio = gap / se_diff if se_diff > 0 else math.copysign(math.inf, gap) if gap != 0 else 0.0
    return {"gap": gap, "se": se_diff, "gap_in_se": ratio}


def mean_se_cell(values: list[float], fmt: str = ".1f", se_fmt: str | None = None) -> tuple[str, list]:
    """A table cell "mean ± s.e." (the mean alone for one value) and [mean, s.e., n] for the JSON summary."""
    mu, se = mean_se(values)
    cell = f"{mu:{fmt}} ± {se:{se_fmt or fmt}}" if len(values) > 1 else f"{mu:{fmt}}"
    return cell, [mu, se, len(values)]


def split_overrides(argv: list[str] | None) -> tuple[list[str], list[str], list[str]]:
    """(all args, this script's own args, the agent overrides after ``--``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        return argv, argv, []
    cut = argv.index("--")
    return argv, argv[:cut], argv[cut + 1 :]


def entry_env(threads: int = 0) -> dict[str, str]:
    """Environment of an entry-point subprocess: headless MuJoCo, offline wandb, and ``threads`` CPU threads
    (0: the default) so that parallel runs do not oversubscribe the cores."""
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), WANDB_MODE=os.environ.get("WANDB_MODE", "offline"))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_seeds(
    overrides: list[str],
    seeds: list[int],
    runs_dir: Path,
    *,
    parallel: int = 1,
    threads: int = 0,
    entry: str = "agents.zeroshot",
    result_key: str | None = "results",
    reuse: bool = False,
) -> tuple[dict, list[int]]:
    """Runs ``python -m <entry> <overrides> seed=<s>`` for every seed (``parallel`` at a time), each in
    ``runs_dir/seed<s>``; returns ({seed: eval.json[result_key] (whole file if None)}, failed seeds).
    ``reuse``: seeds whose folder already holds an eval.json (an interrupted benchmark) are not rerun."""
    env = entry_env(threads)
    pending = [s for s in seeds if not (reuse and (runs_dir / f"seed{s}" / "eval.json").exists())]
    running: list[tuple[int, subprocess.Popen, Path]] = []
    started = time.time()
    failures = []
    while pending or running:
        while pending and len(running) < parallel:
            seed = pending.pop(0)
            run_dir = runs_dir / f"seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", entry, *overrides, f"seed={seed}", f"hydra.run.dir={run_dir}"]
            log = open(run_dir / "stdout.log", "w")
            running.append((seed, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), run_dir))
        time.sleep(2)
        for item in list(running):
            seed, proc, run_dir = item
            if proc.poll() is not None:
                running.remove(item)
                status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see {run_dir / 'stdout.log'})"
                print(f"{runs_dir.name} seed {seed}: {status} after {time.time() - started:.0f} s", flush=True)
                if proc.returncode != 0:
                    failures.append(seed)
    per_seed = {}
    for seed in seeds:
        path = runs_dir / f"seed{seed}" / "eval.json"
        if path.exists():
            saved = json.loads(path.read_text())
            per_seed[seed] = saved if result_key is None else saved[result_key]
    return per_seed, failures


def benchmark_parser(
    doc: str, name: str, *, seeds: list[int], label: str = "cpu", variants: dict | None = None
) -> argparse.ArgumentParser:
    """The options every multi-run benchmark shares: ``--seeds``, ``--label``, ``--runs-dir``
    (``outputs/benchmarks/<name>``), ``--out``, ``--resume`` (see :func:`runs_root`) and, given ``variants``,
    ``--variants`` (any of their names; default all)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=seeds)
    if variants is not None:
        parser.add_argument(
            "--variants",
            nargs="+",
            default=list(variants),
            choices=list(variants),
            metavar="VARIANT",
            help=f"any of {list(variants)}",
        )
    parser.add_argument("--label", default=label)
    parser.add_argument("--runs-dir", default=str(ROOT / "outputs/benchmarks" / name))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    parser.add_argument(
        "--resume", metavar="RUNS_ROOT", help="the run folder root of an interrupted call: finished runs are kept"
    )
    return parser


def runs_root(args: argparse.Namespace) -> Path:
    """The run folder root: ``--resume``'s, or a new ``<runs-dir>/<label>-<time>``."""
    return Path(args.resume) if args.resume else Path(args.runs_dir) / f"{args.label}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_variants(
    variants: dict[str, list[str]],
    base: list[str],
    seeds: list[int],
    root: Path,
    *,
    parallel: int = 1,
    entry: str = "agents.pretrain",
    reuse: bool = False,
) -> dict[str, dict[int, dict]]:
    """:func:`run_seeds` of ``<base> <variant overrides>`` for each named variant, in ``root/<variant slug>``;
    returns {variant: {seed: eval.json}} for the variants with a finished seed (exits when none has one)."""
    runs = {}
    for name, extra in variants.items():
        per_seed, _ = run_seeds(
            [*base, *extra],
            seeds,
            root / re.sub(r"[^A-Za-z0-9-]+", "_", name).strip("_"),
            parallel=parallel,
            entry=entry,
            result_key=None,
            reuse=reuse,
        )
        if per_seed:
            runs[name] = per_seed
    if not runs:
        raise SystemExit(f"no run finished; logs under {root}")
    return runs


def variant_rows(
    runs: dict[str, dict[int, dict]], columns: list[tuple[str, str]], lead: Callable[[dict], list[str]] = lambda first: []
) -> tuple[list[str], dict]:
    """One markdown row per variant: ``lead(first seed's results)`` cells, then a mean ± s.e. cell per
    (results key, format) of ``columns``; and the JSON summary {variant: {key: [mean, s.e., n]}}."""
    lines, summary = [], {}
    for name, per_seed in runs.items():
        cells = lead(next(iter(per_seed.values())))
        for key, fmt in columns:
            cell, summary.setdefault(name, {})[key] = mean_se_cell([r[key] for r in per_seed.values()], fmt)
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines, summary


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--runs-dir", default=str(ROOT / "outputs/benchmarks/zeroshot_quality"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    parser.add_argument("--label", default="", help="appended to the result file name")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run (0: leave default)")
    args = parser.parse_args(own)
    runs_dir = Path(args.runs_dir) / time.strftime("%Y%m%d-%H%M%S")
    started = time.time()
    per_seed, failures = run_seeds(overrides, args.seeds, runs_dir, parallel=args.parallel, threads=args.threads)
    if not per_seed:
        raise SystemExit(f"no seed finished; logs under {runs_dir}")
    agreement = {}
    for seed in per_seed:
        ckpt_root = runs_dir / f"seed{seed}" / "checkpoints"
        try:
            from benchmarks.oracle_agreement import main as oracle_agreement

            ckpt = ckpt_root / (ckpt_root / "latest").read_text().strip()
            agreement[seed] = oracle_agreement([str(ckpt), "--states", "500"])
        except (ValueError, FileNotFoundError) as err:  # not a maze task, or no checkpoint
            print(f"seed {seed}: no oracle agreement ({err})")
    modes = list(next(iter(per_seed.values())))
    tasks = sorted(next(iter(per_seed.values()))[modes[0]])
    env_name = next((o.split("=", 1)[1] for o in overrides if o.startswith("env.name=")), "pointmaze-medium-navigate")
    command = command_line("benchmarks.zeroshot_quality", argv)
    lines = [
        f"# Zero-shot success on {env_name}",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds: {sorted(per_seed)} (failed: {failures or 'none'}); wall time {time.time() - started:.0f} s.",
        "",
        "| task | " + " | ".join(f"{m}-inferred z: success % (mean ± s.e.)" for m in modes) + " |",
        "|---" * (len(modes) + 1) + "|",
    ]
    summary: dict = {"command": command, "seeds": sorted(per_seed), "failed": failures, "per_seed": per_seed, "mean": {}}
    for task in tasks + ["mean"]:
        cells = []
        for m in modes:
            vals = [sum(r[m].values()) / len(r[m]) if task == "mean" else r[m][task] for r in per_seed.values()]
            mu, se = mean_se([100 * v for v in vals])
            summary["mean"].setdefault(m, {})[task] = [mu, se]
            cells.append(f"{mu:.1f} ± {se:.1f}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    if agreement:
        lines += [
            "",
            "Oracle-direction agreement of the final policies (mean cosine over tasks and 500 dataset "
            "states; random 0, oracle 1; `benchmarks/oracle_agreement.py`):",
            "",
            "| seed | " + " | ".join(f"{m} z" for m in modes) + " |",
            "|---" * (len(modes) + 1) + "|",
        ]
        for seed, res in agreement.items():
            cells = [f"{sum(v['mean_cosine'] for v in res[m].values()) / len(res[m]):+.2f}" if m in res else "–" for m in modes]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
        summary["oracle_agreement"] = agreement
    write_report(args.out, f"zeroshot_quality_{env_name}{('_' + args.label) if args.label else ''}", lines, summary)
    return summary


if __name__ == "__main__":
    main()
