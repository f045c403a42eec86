"""Data-parallel (torchrun) update throughput at a fixed global batch, 1 vs N processes.

    python -m benchmarks.data_parallel [--procs 1 2] [--representations td_jepa fb hilp] [--updates 20] [--device cpu]

For each process count k, launches ``torchrun --standalone --nproc_per_node=k`` on this module's
worker, which times the real update (``agents.update.make_update`` with gradient averaging and the
global-batch gathers) at the official DMC-proprio configuration on synthetic walker batches of
``global batch / k`` per process. On CPU the machine's cores are split evenly between the processes
(``torch.set_num_threads``), so the table shows what data parallelism costs or gains on the same
hardware. Writes ``benchmarks/results/data_parallel_<device>.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def worker(args) -> None:
    from agents.distributed import init_data_parallel, local_batch_size, shutdown_data_parallel
    from benchmarks.td_jepa_throughput import rate
    from benchmarks.update_throughput import dmc_config, make_ours, synthetic_batches

    dp, device_name = init_data_parallel(args.device)
    device = torch.device(device_name)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dp.world_size))
    result = {}
    for name in args.representations:
        cfg = dmc_config(name)
        torch.manual_seed(0)
        update = make_ours(cfg, device, data_parallel=dp.enabled)
        global_batch = int(cfg.dataset.batch_size)
        batches = synthetic_batches(local_batch_size(global_batch, dp), device)
        rate(update, batches, args.warmup, device)
        rounds = [rate(update, batches, args.updates, device) for _ in range(args.rounds)]
        result[name] = {"global_batch": global_batch, "updates_per_s": statistics.median(rounds), "rounds": rounds}
    if dp.is_main:
        Path(args.result).write_text(json.dumps({"world_size": dp.world_size, "threads": torch.get_num_threads(), **result}))
    shutdown_data_parallel()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--representations", nargs="+", default=["td_jepa", "fb", "hilp"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    parser.add_argument("--worker-result", dest="result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.result:  # inside torchrun
        worker(args)
        return {}
    runs = {}
    passthrough = [
        "--representations",
        *args.representations,
        "--device",
        args.device,
        "--updates",
        str(args.updates),
        "--rounds",
        str(args.rounds),
        "--warmup",
        str(args.warmup),
    ]
    for k in args.procs:
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "result.json"
            cmd = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc_per_node={k}",
                "-m",
                "benchmarks.data_parallel",
                *passthrough,
                "--worker-result",
                str(result),
            ]
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // k))}
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"torchrun with {k} processes failed:\n{proc.stderr[-3000:]}")
            runs[k] = json.loads(result.read_text())
        print(
            f"{k} process(es): " + ", ".join(f"{n} {runs[k][n]['updates_per_s']:.2f} updates/s" for n in args.representations),
            flush=True,
        )

    from benchmarks.report import command_line, write_report

    command = command_line("benchmarks.data_parallel", argv if argv is not None else sys.argv[1:])
    hardware = (
        next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
        if args.device == "cpu"
        else torch.cuda.get_device_name(0)
    )
    lines = [
        f"# Data-parallel update throughput ({args.device})",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Hardware: {hardware}; {os.cpu_count()} cores; torch {torch.__version__}. Official DMC-proprio configurations, "
        f"synthetic walker batches; the global batch is fixed and split over the processes. "
        f"{args.rounds} rounds × {args.updates} updates per setting; medians.",
        "",
        "| representation | processes | threads/process | global batch | updates/s | vs 1 process |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.representations:
        base = runs[args.procs[0]][name]["updates_per_s"]
        for k in args.procs:
            r = runs[k][name]
            lines.append(
                f"| {name} | {k} | {runs[k]['threads']} | {r['global_batch']} | {r['updates_per_s']:.2f} | {r['updates_per_s'] / base:.2f}× |"
            )
    write_report(args.out, f"data_parallel_{args.device}", lines, {"command": command.strip(), "runs": runs})
    return runs


if __name__ == "__main__":
    main()
