"""SALT vs V-JEPA vs DMT-JEPA at matched pretraining FLOPs on environment frames, plus SALT's teacher-size
robustness (two teacher sizes): frozen state probes and, with ``--downstream``, the zero-shot return of an
agent on each frozen encoder against the end-to-end DrQ conv encoder.

    python -m benchmarks.vision_jepa --flops 2e15 --parallel 3 --label walker_gpu \
        --downstream "train.steps=3000 eval.episodes=2" -- env=dmc env.domain=walker env.obs=pixels \
        dataset.num_episodes=40 dataset.batch_size=256 device=cuda

On rendered objects, where the probes read class and orientation (``agents.pretrain_vision``):

    python -m benchmarks.vision_jepa --flops 1e13 --vit 96 4 3 2 --seeds 0 1 2 --label views3d_cpu -- \
        data=views3d data.instances_per_class=400 data.part_maps=true dataset.batch_size=64

Every variant runs ``python -m agents.pretrain data=frames <overrides> <variant> train.flops=<FLOPs> seed=<s>``
(``agents.pretrain`` counts each update's FLOPs and sets the updates from the budget); the random-init
reference runs first and alone, so the dataset is collected and its frames cached once before the variants
run ``--parallel`` at a time. Downstream: ``python -m agents.zeroshot env=... encoder=<method>
encoder.checkpoint=<pretrain run> <downstream overrides>``, and ``encoder=pixels`` for DrQ. Writes
``benchmarks/results/vision_jepa_<label>.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.report import write_report
from benchmarks.zeroshot_quality import entry_env, mean_se_cell, split_overrides

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name: (encoder=, overrides)
    "random init (reference)": ("vjepa", ["objective=vjepa", "train.steps=0", "train.flops=null"]),
    "V-JEPA": ("vjepa", ["objective=vjepa"]),
    "DMT-JEPA": ("dmt_jepa", ["objective=dmt_jepa"]),
    "SALT (teacher = student size)": ("salt", ["objective=salt"]),
    "SALT (small teacher)": ("salt", ["objective=salt"]),  # half the student's width and depth
}


def size_overrides(name: str, dim: int, depth: int, heads: int, predictor_depth: int) -> list[str]:
    """One ViT size for every variant (the configs' own when ``dim`` is 0), under each method's config keys."""
    if not dim:
        dim, depth, heads = 192, 6, 3  # configs/objective/*.yaml
        sized = []
    else:
        vit = {"dim": dim, "depth": depth, "heads": heads}
        groups = {
            "salt": {"student": {**vit, "predictor_depth": predictor_depth}, "teacher": {**vit, "decoder_depth": predictor_depth}}
        }
        sized = [
            f"objective.{group}.{k}={v}"
            for group, values in groups.get(VARIANTS[name][0], {"model": {**vit, "predictor_depth": predictor_depth}}).items()
            for k, v in values.items()
        ]
    if name == "SALT (small teacher)":
        sized += [f"objective.teacher.dim={dim // 2}", f"objective.teacher.depth={max(1, depth // 2)}"]
    return sized


DRQ = "DrQ conv encoder (end-to-end, reference)"


def folder(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "_", name).strip("_")


def run(entry: str, overrides: list[str], run_dir: Path, threads: int = 0) -> dict | None:
    """``python -m <entry> <overrides>`` in ``run_dir`` (its stdout.log); its eval.json, or None if it failed.
    A folder that already holds an eval.json (an interrupted benchmark) is not run again. ``threads``: CPU
    threads per run (parallel runs that each take every core slow one another down)."""
    result = run_dir / "eval.json"
    if not result.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        env = entry_env(threads)
        with open(run_dir / "stdout.log", "w") as log:
            code = subprocess.run(
                [sys.executable, "-m", entry, *overrides, f"hydra.run.dir={run_dir}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ).returncode
        print(
            f"{run_dir.relative_to(run_dir.parents[1])}: {'ok' if code == 0 else f'FAILED (exit {code}), see {run_dir}/stdout.log'}",
            flush=True,
        )
    return json.loads(result.read_text()) if result.exists() else None


def mean_return(zeroshot_eval: dict) -> float:
    """Mean over tasks of the return with reward-inferred z (the official protocol)."""
    scores = zeroshot_eval["results"]["reward"]
    return sum(scores.values()) / len(scores)


def main(argv: list[str] | None = None) -> dict:
    argv, own, overrides = split_overrides(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flops", type=float, required=True, help="pretraining FLOP budget of every variant")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        metavar="VARIANT",
        help=f"any of {list(VARIANTS)}",
    )
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (after the first)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per run (default: cores // parallel)")
    parser.add_argument(
        "--downstream",
        default=None,
        help="agents.zeroshot overrides: also train a zero-shot agent on each frozen encoder and on the DrQ encoder",
    )
    parser.add_argument(
        "--vit",
        type=int,
        nargs=4,
        default=[0, 0, 0, 0],
        metavar=("DIM", "DEPTH", "HEADS", "PREDICTOR_DEPTH"),
        help="ViT size of every variant (default: the configs' ViT-tiny, 192 wide, 6 deep, 3 heads)",
    )
    parser.add_argument("--label", default="walker")
    parser.add_argument("--runs-dir", default=str(ROOT / "outputs/benchmarks/vision_jepa"))
    parser.add_argument(
        "--resume", metavar="RUNS_ROOT", help="the run folder root of an interrupted call: finished runs are kept"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = parser.parse_args(own)
    if args.downstream is not None and "data=views3d" in overrides:
        parser.error("--downstream trains an agent in the env the frames come from; data=views3d has no env")
    root = Path(args.resume) if args.resume else Path(args.runs_dir) / f"{args.label}-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.time()
    jobs = [(name, seed) for name in args.variants for seed in args.seeds]
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.parallel))

    def pretrain(job: tuple[str, int]) -> dict | None:
        name, seed = job
        return run(
            "agents.pretrain",
            [
                *([] if any(o.startswith("data=") for o in overrides) else ["data=frames"]),
                *overrides,
                f"train.flops={args.flops:g}",
                *VARIANTS[name][1],
                *size_overrides(name, *args.vit),
                f"seed={seed}",
            ],
            root / folder(name) / f"seed{seed}",
            threads,
        )

    pretrained = {jobs[0]: pretrain(jobs[0])}  # alone: collects the dataset and caches its frames
    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        pretrained.update(zip(jobs[1:], pool.map(pretrain, jobs[1:])))
    downstream: dict = {}
    if args.downstream is not None:
        env_overrides = [
            o
            for o in overrides
            if o.split("=", 1)[0].split(".")[0] in ("env", "dataset", "device") and not o.startswith("dataset.batch_size")
        ]
        extra = shlex.split(args.downstream)
        agent_jobs = {
            (name, seed): ["encoder=" + VARIANTS[name][0], f"encoder.checkpoint={root / folder(name) / f'seed{seed}'}"]
            for (name, seed), result in pretrained.items()
            if result is not None
        }
        agent_jobs.update({(DRQ, seed): ["encoder=pixels"] for seed in args.seeds})

        def zeroshot(job: tuple[str, int]) -> dict | None:
            return run(
                "agents.zeroshot",
                [*env_overrides, *agent_jobs[job], *extra, f"seed={job[1]}"],
                root / "downstream" / folder(job[0]) / f"seed{job[1]}",
                threads,
            )

        with ThreadPoolExecutor(max(1, args.parallel)) as pool:
            downstream = {job: result for job, result in zip(agent_jobs, pool.map(zeroshot, agent_jobs)) if result is not None}

    command = "python -m benchmarks.vision_jepa " + " ".join(shlex.quote(a) for a in argv)
    first = next((r for r in pretrained.values() if r is not None), {})
    probes = [
        k
        for suffix in (
            "_r2_linear",
            "_r2_attentive",
            "_top1_linear",
            "_top1_attentive",
            "part_miou_linear",
            "part_accuracy_linear",
        )
        for k in first
        if k.endswith(suffix) and not k.startswith("teacher_")
    ]
    header = ["variant", "updates (teacher + student)", "pretraining FLOPs", *probes]
    if args.downstream is not None:
        header.append("zero-shot return (mean over tasks)")
    lines = [
        f"# Vision JEPAs at matched pretraining FLOPs: {args.label}",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds: {args.seeds}; wall time {time.time() - started:.0f} s; run folders `{root}`. Frozen encoders; probes "
        "fit on train episodes, selected on val, R² on test episodes (mean ± s.e. over seeds where there are several).",
        "",
        "| " + " | ".join(header) + " |",
        "|---" * len(header) + "|",
    ]
    summary: dict = {"command": command, "flops": args.flops, "variants": {}}
    for name in [*args.variants, *([DRQ] if args.downstream is not None else [])]:
        results = [r for (n, _), r in pretrained.items() if n == name and r is not None]
        returns = [mean_return(r) for (n, _), r in downstream.items() if n == name]
        if not results and not returns:
            continue
        row, entry = [name], {}
        if results:
            updates = [" + ".join(str(s["updates"]) for s in r["stages"].values()) for r in results]
            row += [updates[0], f"{sum(r['pretrain_flops'] for r in results) / len(results):.3g}"]
            for key in probes:
                cell, entry[key] = mean_se_cell([r[key] for r in results], ".3f")
                row.append(cell)
            entry.update(
                updates=updates, pretrain_flops=[r["pretrain_flops"] for r in results], stages=[r["stages"] for r in results]
            )
        else:
            row += ["–", "–", *("–" for _ in probes)]
        if args.downstream is not None:
            cell, entry["zero_shot_return"] = mean_se_cell(returns, ".1f") if returns else ("–", None)
            row.append(cell)
        summary["variants"][name] = entry
        lines.append("| " + " | ".join(row) + " |")
    summary["downstream"] = {f"{n} seed{s}": r["results"] for (n, s), r in downstream.items()}
    write_report(args.out, f"vision_jepa_{args.label}", lines, summary)
    return summary


if __name__ == "__main__":
    main()
