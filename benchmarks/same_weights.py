"""Does a change keep a run's numbers? Runs one entry point with the same arguments in this checkout and in a reference
checkout (e.g. a ``git worktree`` of the commit before a refactor) and compares every checkpoint's weights and the report.

    git worktree add /tmp/before <commit>
    python -m benchmarks.same_weights --reference /tmp/before --label engine -- agents.zeroshot env=ogbench \
        experiment=pointmaze_cpu train.steps=2000 train.checkpoint_every=1000 logger.backend=csv

Writes ``benchmarks/results/same_weights_<label>.{json,md}``: per checkpoint, the number of tensors and the largest
absolute difference (0.0: bit-identical), and whether every number of the reference's ``eval.json`` (wall-clock times aside) is the same in ours (numbers
that only ours reports are listed as added).
Both runs use this checkout's Python environment and one thread each, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(checkout: Path, module: str, args: list[str], run_dir: Path) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), WANDB_MODE="offline")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", module, *args, f"hydra.run.dir={run_dir}"], cwd=checkout, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{module} failed in {checkout} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def compare(ours: Path, reference: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    steps = sorted(p.name for p in (reference / "checkpoints").glob("step*"))
    if steps != sorted(p.name for p in (ours / "checkpoints").glob("step*")):
        raise SystemExit(
            f"the runs kept different checkpoints: {steps} vs {sorted(p.name for p in (ours / 'checkpoints').glob('step*'))}"
        )
    checkpoints = {}
    for step in steps:
        a, b = (load_file(str(run / "checkpoints" / step / "model.safetensors")) for run in (ours, reference))
        if a.keys() != b.keys():
            raise SystemExit(f"{step}: the tensors differ by name: {sorted(a.keys() ^ b.keys())[:5]}")
        worst = max(((a[k].double() - b[k].double()).abs().max().item() if a[k].numel() else 0.0) for k in a)
        checkpoints[step] = {"tensors": len(a), "max_abs_difference": worst, "identical": all(torch.equal(a[k], b[k]) for k in a)}
    ours_numbers, reference_numbers = (_numbers(json.loads((run / "eval.json").read_text())) for run in (ours, reference))
    differing = sorted(k for k, v in reference_numbers.items() if ours_numbers.get(k) != v)
    added = sorted(ours_numbers.keys() - reference_numbers.keys())  # numbers the change adds to the report
    return {
        "checkpoints": checkpoints,
        "report_numbers": len(reference_numbers),
        "report_differing": differing,
        "report_added": added,
        "report_equal": not differing,
    }


def _numbers(report: object, prefix: str = "") -> dict[str, float]:
    """Every number of a report by its dotted key, wall-clock times left out (they differ between any two runs)."""
    if isinstance(report, dict):
        return {
            k: v
            for key, value in report.items()
            if "seconds" not in str(key) and "time" not in str(key)
            for k, v in _numbers(value, f"{prefix}{key}.").items()
        }
    if isinstance(report, list):
        return {k: v for i, value in enumerate(report) for k, v in _numbers(value, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): report} if isinstance(report, (int, float)) and not isinstance(report, bool) else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, help="the other checkout (a git worktree)")
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- <module> <overrides>")
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    if not command or not (args.reference / command[0].replace(".", "/")).with_suffix(".py").exists():
        raise SystemExit(
            f"--reference {args.reference} must be a checkout holding the entry point {command[:1]} "
            "(pass it after --, e.g. -- agents.zeroshot env=ogbench)"
        )
    module, overrides = command[0], command[1:]
    with tempfile.TemporaryDirectory() as tmp:
        seconds = {
            name: run(checkout, module, overrides, Path(tmp) / name)
            for name, checkout in (("reference", args.reference.resolve()), ("ours", ROOT))
        }
        result = compare(Path(tmp) / "ours", Path(tmp) / "reference")

    def commit(path: Path) -> str:  # HEAD, marked when the tree had uncommitted changes
        git = lambda *a: subprocess.run(["git", *a], cwd=path, capture_output=True, text=True).stdout.strip()  # noqa: E731
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")  # results aside
        return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")

    result.update(
        command=" ".join(
            ["python -m benchmarks.same_weights", "--reference <checkout>", f"--label {args.label}", "--", *command]
        ),
        ours=commit(ROOT),
        reference=commit(args.reference),
        seconds=seconds,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"same_weights_{args.label}.json").write_text(json.dumps(result, indent=2))
    rows = [
        f"| {step} | {r['tensors']} | {r['max_abs_difference']:.3g} | {'yes' if r['identical'] else 'no'} |"
        for step, r in result["checkpoints"].items()
    ]
    table = "\n".join(
        [
            f"`{result['command']}` (ours {result['ours']}, reference {result['reference']})",
            "",
            "| checkpoint | tensors | max abs difference | bit-identical |",
            "|---|---:|---:|---|",
            *rows,
            "",
            f"report: the reference's {result['report_numbers']} numbers equal: {result['report_equal']}"
            + (f" (differing: {', '.join(result['report_differing'][:10])})" if result["report_differing"] else "")
            + (
                f"; {len(result['report_added'])} numbers added (e.g. {result['report_added'][0]})"
                if result["report_added"]
                else ""
            ),
        ]
    )
    (args.out / f"same_weights_{args.label}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
