"""Data-pipeline benchmark: OGBench npz -> TorchRL replay buffer -> sampling.

    python -m benchmarks.data_pipeline [--transitions 1000000] [--synthetic] [--cache-dir DIR]

Uses (or generates, ~9 min for 1M on a 2-core CPU) a pointmaze-medium-navigate dataset in
the official OGBench npz format.  ``--synthetic`` instead writes a random-walk file with the
same keys/dtypes/shapes in seconds (load/sample numbers are the same; say so in the table).
Measures npz->buffer time cold (cache removed) and cached, sampling batches/s of 256
(fast path and TorchRL's generic path), and peak RSS above the post-import baseline vs
the raw array bytes; each load runs in a fresh subprocess.  Writes
``benchmarks/results/data_pipeline.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import command_line

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("WANDB_MODE", "offline")

NAME = "pointmaze-medium-navigate-v0"
EPISODE_LENGTH = 1001
RESULTS = Path(__file__).resolve().parent / "results"


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _synthetic(path: Path, episodes: int, seed: int = 0) -> None:
    """Random-walk pointmaze-like data with the official keys, dtypes and shapes."""
    import numpy as np

    from envs.ogbench.dataset import val_path_for, write_npz

    def make(n_ep, rng):
        n = n_ep * EPISODE_LENGTH
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        steps = 0.2 * actions.reshape(n_ep, EPISODE_LENGTH, 2)
        qpos = (np.cumsum(steps, axis=1) + rng.uniform(0, 20, (n_ep, 1, 2))).reshape(n, 2).astype(np.float32)
        terminals = np.zeros(n, bool)
        terminals[EPISODE_LENGTH - 1 :: EPISODE_LENGTH] = True
        return dict(observations=qpos.copy(), actions=actions, terminals=terminals, qpos=qpos, qvel=np.zeros_like(qpos))

    rng = np.random.default_rng(seed)
    write_npz(val_path_for(path), make(max(1, episodes // 10), rng))
    write_npz(path, make(episodes, rng))


def worker(args) -> None:
    """Run in a fresh process: one load (cold or cached) + sampling; print JSON."""
    import torch

    from envs.ogbench import OGBenchTaskSuite
    from envs.ogbench.buffer import build_buffer

    suite = OGBenchTaskSuite(NAME)
    base = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    rb = build_buffer(args.npz, suite, cache_dir=args.cache_dir, batch_size=256, seed=0)
    load_s = time.perf_counter() - t0
    peak_load = _rss_kb("VmHWM")
    out = dict(
        load_seconds=load_s,
        cached=bool(rb.layout["cached"]),
        transitions=len(rb),
        rss_baseline_mb=base / 1024,
        peak_rss_load_mb=peak_load / 1024,
    )
    if args.sample_seconds > 0:
        for label, fn in (("fast", rb.sample), ("generic", rb.sample_generic)):
            for _ in range(50):
                fn()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < args.sample_seconds:
                for _ in range(100):
                    fn()
                n += 100
            out[f"batches_per_s_{label}"] = n / (time.perf_counter() - t0)
        out["torch_threads"] = torch.get_num_threads()
    out["peak_rss_mb"] = _rss_kb("VmHWM") / 1024
    print("RESULT " + json.dumps(out))


def _run_worker(npz: Path, cache_dir: Path, sample_seconds: float) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.data_pipeline",
        "--_worker",
        "--npz",
        str(npz),
        "--cache-dir",
        str(cache_dir),
        "--sample-seconds",
        str(sample_seconds),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed:\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transitions", type=int, default=1_000_000)
    p.add_argument("--synthetic", action="store_true", help="write a synthetic-but-valid npz instead of generating")
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/jepa_rl").expanduser())
    p.add_argument("--sample-seconds", type=float, default=3.0)
    p.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--npz", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._worker:
        return worker(args)

    import numpy as np

    from envs.ogbench.buffer import _buffer_dir, file_hash, resolve_dataset_files

    episodes = math.ceil(args.transitions / (EPISODE_LENGTH - 1))
    gen_seconds = None
    if args.synthetic:
        npz = args.cache_dir / "ogbench" / "synthetic" / f"{NAME}-synthetic-ep{episodes}.npz"
        kind = "synthetic random walk (official format)"
        if not npz.is_file():
            t0 = time.perf_counter()
            _synthetic(npz, episodes)
            gen_seconds = time.perf_counter() - t0
    else:
        cfg = dict(
            name=NAME,
            source="generated",
            cache_dir=str(args.cache_dir),
            num_episodes=episodes,
            episode_length=EPISODE_LENGTH,
            seed=0,
        )
        gen_file = args.cache_dir / "ogbench" / "generated" / f"{NAME}-ep{episodes}-len{EPISODE_LENGTH}-seed0.npz"
        existed = gen_file.is_file()
        t0 = time.perf_counter()
        npz, _, _ = resolve_dataset_files(cfg)
        if not existed:
            gen_seconds = time.perf_counter() - t0
        kind = "generated with the ogbench oracle recipe (navigate, noise 0.5)"

    with np.load(npz) as f:
        raw_bytes = sum(f[k].nbytes for k in f.files)
    buf_dir = _buffer_dir(args.cache_dir, npz, file_hash(npz))
    shutil.rmtree(buf_dir, ignore_errors=True)
    cold = _run_worker(npz, args.cache_dir, 0.0)
    cached = _run_worker(npz, args.cache_dir, args.sample_seconds)
    assert not cold["cached"] and cached["cached"]

    raw_mb = raw_bytes / 2**20
    res = dict(
        command=command_line("benchmarks.data_pipeline", sys.argv[1:]),
        dataset=NAME,
        data=kind,
        npz=str(npz),
        npz_file_mb=npz.stat().st_size / 2**20,
        rows=int(episodes * EPISODE_LENGTH),
        transitions=cached["transitions"],
        raw_array_mb=raw_mb,
        generation_seconds=gen_seconds,
        cold_load_seconds=cold["load_seconds"],
        cached_load_seconds=cached["load_seconds"],
        cold_peak_rss_above_baseline_mb=cold["peak_rss_load_mb"] - cold["rss_baseline_mb"],
        cached_peak_rss_above_baseline_mb=cached["peak_rss_mb"] - cached["rss_baseline_mb"],
        batches_per_s_fast=cached["batches_per_s_fast"],
        batches_per_s_generic=cached["batches_per_s_generic"],
        batch_size=256,
        torch_threads=cached["torch_threads"],
        hardware=dict(nproc=os.cpu_count(), cpu=_cpu_model(), python=platform.python_version()),
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    res["cold_peak_rss_ratio"] = res["cold_peak_rss_above_baseline_mb"] / raw_mb
    res["cached_peak_rss_ratio"] = res["cached_peak_rss_above_baseline_mb"] / raw_mb
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "data_pipeline.json").write_text(json.dumps(res, indent=2) + "\n")
    gen = "reused existing file" if gen_seconds is None else f"{gen_seconds:.1f} s"
    md = f"""# Data pipeline benchmark (OGBench npz -> TorchRL replay buffer)

Command: `{res["command"]}` (run from the repository root)

Hardware: {res["hardware"]["nproc"]} CPU cores, {res["hardware"]["cpu"]}, Python {res["hardware"]["python"]}, torch threads {res["torch_threads"]}. Date: {res["date"]}.

Data: `{NAME}`, **{kind}**; {res["rows"]:,} rows = {res["transitions"]:,} transitions; npz {res["npz_file_mb"]:.1f} MiB on disk, raw arrays {raw_mb:.1f} MiB.

| measurement | value | target |
|---|---|---|
| dataset creation | {gen} | - |
| npz -> buffer, cold (hash + decompress + write memmap cache) | {res["cold_load_seconds"]:.2f} s | - |
| npz -> buffer, cached (hash + memory-map) | {res["cached_load_seconds"]:.2f} s | <= 10 s |
| sampling, `rb.sample()` fast path, batch 256 | {res["batches_per_s_fast"]:,.0f} batches/s | >= 5000 |
| sampling, TorchRL generic `TensorDictReplayBuffer.sample` | {res["batches_per_s_generic"]:,.0f} batches/s | - |
| peak RSS above post-import baseline, cold load | {res["cold_peak_rss_above_baseline_mb"]:.1f} MiB ({res["cold_peak_rss_ratio"]:.2f}x raw) | <= 1.5x |
| peak RSS above baseline, cached load + {args.sample_seconds:.0f}+{args.sample_seconds:.0f} s sampling | {res["cached_peak_rss_above_baseline_mb"]:.1f} MiB ({res["cached_peak_rss_ratio"]:.2f}x raw) | <= 1.5x |

Each load runs in a fresh Python process; RSS is `VmHWM` minus `VmRSS` after importing
torch/torchrl/ogbench and building the task suite. The cache stores the file's rows once
(`observation` and `("next", "observation")` are views of the same memory-mapped matrix),
so the buffer needs ~1x the raw arrays; the sampler draws only valid (within-episode) rows.
"""
    (RESULTS / "data_pipeline.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
