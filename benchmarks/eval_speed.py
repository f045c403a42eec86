"""Wall time of a full zero-shot evaluation of one DMC domain: batched vs one-sample-at-a-time.

    python -m benchmarks.eval_speed [--domain walker] [--representation fb] [--episodes 3] [--samples 10000]

Two ways of doing the same evaluation of every task of the domain (same z inference, same episodes):
  * ``jepa-rl``: rewards relabelled for the whole inference sample at once (``suite.relabel``), and all
    (task, episode) rollouts stepped together in one TorchRL ``SerialEnv`` with one batched policy call
    per step (``agents.evaluation.evaluate``);
  * ``per-sample loop``: the way users report the official code being slow (metamotivo #10/#22):
    relabel one transition at a time, then roll the episodes out one after the other.
The representation is untrained (its DMC configuration); only the time is measured. Writes
``benchmarks/results/eval_speed_<domain>.{md,json}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from agents.actor import make_actor
from agents.evaluation import evaluate, run_episode
from benchmarks.report import command_line, write_report
from envs import make_dataset, make_task_suite
from representations import make_representation
from representations.encoders import make_encoder
from representations.policy import LatentPolicy

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="walker")
    parser.add_argument("--representation", default="fb")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10000, help="inference transitions relabelled per task")
    parser.add_argument("--dataset-episodes", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = parser.parse_args(argv)
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "zeroshot",
            overrides=[
                f"representation={args.representation}",
                "env=dmc",
                f"env.domain={args.domain}",
                f"dataset.num_episodes={args.dataset_episodes}",
            ],
        )
    torch.manual_seed(0)
    suite = make_task_suite(cfg.env)
    train_rb, _ = make_dataset(cfg.dataset)
    encoder, feature_dim = make_encoder(cfg.encoder, suite.observation_shape)
    model = make_representation(cfg.representation, feature_dim, suite.action_dim, encoder).eval()
    actor = make_actor(cfg.actor, model, suite.action_dim).eval()
    batch = train_rb.sample(args.samples)

    # jepa-rl: batched relabelling + one vectorised rollout of every (task, episode)
    start = time.perf_counter()
    relabelled = {task: suite.relabel(task, batch) for task in suite.task_names}
    batched_relabel = time.perf_counter() - start
    start = time.perf_counter()
    evaluate(model, actor, suite, batch, episodes=args.episodes, modes=["reward"])
    batched_rollouts = time.perf_counter() - start - batched_relabel  # evaluate relabels (again) inside

    # per-sample loop: relabel one transition at a time, episodes one after the other
    start = time.perf_counter()
    looped = {task: torch.cat([suite.relabel(task, batch[i : i + 1]) for i in range(len(batch))]) for task in suite.task_names}
    loop_relabel = time.perf_counter() - start
    start = time.perf_counter()
    for task in suite.task_names:
        z = model.infer_z_from_rewards(batch["next", suite.observation_key], looped[task])
        for ep in range(args.episodes):
            run_episode(suite, task, LatentPolicy(model, actor, z), seed=ep)
    loop_rollouts = time.perf_counter() - start
    assert all(torch.allclose(relabelled[t], looped[t], atol=1e-5) for t in suite.task_names), "relabel paths disagree"

    tasks, steps = len(suite.task_names), suite.max_episode_steps
    command = command_line("benchmarks.eval_speed", argv if argv is not None else sys.argv[1:])
    lines = [
        f"# Full zero-shot evaluation of {args.domain}: wall time",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"{tasks} tasks × {args.episodes} episodes × {steps} steps; z from {args.samples} relabelled transitions per task; "
        f"{args.representation} at its DMC configuration (untrained); {os.cpu_count()} CPU cores, torch {torch.__version__}.",
        "",
        "| way | relabelling (s) | rollouts (s) | total (s) |",
        "|---|---:|---:|---:|",
        f"| jepa-rl (batched relabel, vectorised rollouts) | {batched_relabel:.1f} | {batched_rollouts:.1f} | {batched_relabel + batched_rollouts:.1f} |",
        f"| per-sample loop | {loop_relabel:.1f} | {loop_rollouts:.1f} | {loop_relabel + loop_rollouts:.1f} |",
        "",
        f"Speed-up: relabelling {loop_relabel / batched_relabel:.1f}×, rollouts {loop_rollouts / batched_rollouts:.1f}×, "
        f"total {(loop_relabel + loop_rollouts) / (batched_relabel + batched_rollouts):.1f}×. Both relabel paths give the same rewards.",
    ]
    result = {
        "command": command.strip(),
        "batched": {"relabel_s": batched_relabel, "rollouts_s": batched_rollouts},
        "per_sample_loop": {"relabel_s": loop_relabel, "rollouts_s": loop_rollouts},
    }
    write_report(args.out, f"eval_speed_{args.domain}", lines, result)
    return result


if __name__ == "__main__":
    main()
