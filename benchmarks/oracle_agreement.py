"""How often a trained zero-shot policy heads where the maze oracle would (pointmaze/antmaze).

    python -m benchmarks.oracle_agreement <checkpoint folder> [--states 500] [--modes reward goal]

A dense progress signal that is still informative long before episodes succeed. For each
evaluation task it infers z (from relabelled rewards and/or the goal), samples dataset states, and
compares the policy's action with the direction to ogbench's BFS oracle subgoal
(``get_oracle_subgoal``): it reports the mean cosine (a random policy scores 0, the oracle 1) and the
fraction of states with cosine > 0.5. Writes ``<checkpoint>/oracle_agreement.{md,json}``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from agents.evaluation import infer_task_latent
from envs import make_dataset, make_task_suite
from representations import load_pretrained
from representations.policy import LatentPolicy

from benchmarks.report import write_report


def oracle_directions(suite, task: str, xy: np.ndarray) -> np.ndarray:
    env = suite.make_env(task, seed=0)
    env.reset()
    maze = env.unwrapped
    if not hasattr(maze, "get_oracle_subgoal"):
        raise ValueError(f"{suite.name} has no maze oracle; this benchmark is for pointmaze/antmaze")
    goal = np.asarray(maze.cur_goal_xy)
    dirs = []
    for p in xy:
        sub = np.asarray(maze.get_oracle_subgoal(p, goal)[0]) - p
        dirs.append(sub / (np.linalg.norm(sub) + 1e-8))
    env.close()
    return np.stack(dirs)


def measure(checkpoint: str, *, states: int = 500, modes: tuple[str, ...] | list[str] = ("reward", "goal"),
            inference_samples: int = 10000) -> dict[str, dict[str, dict[str, float]]]:
    """{mode: {task: {mean_cosine, frac_cos_gt_0.5}}} of the policy in ``checkpoint`` (seeded: the same states
    for every checkpoint of a dataset)."""
    torch.manual_seed(0)
    rep, actor, config = load_pretrained(checkpoint)
    suite = make_task_suite(config["env"])
    train_rb, _ = make_dataset(config["dataset"])
    inference_batch = train_rb.sample(inference_samples)
    sampled = train_rb.sample(states)
    obs = sampled[suite.observation_key]  # the policy's input: state vectors, or LiDAR grids (env.obs=lidar)
    xy = sampled["qpos"][:, :2].numpy()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for task in suite.task_names:
        oracle = oracle_directions(suite, task, xy)
        for mode in modes:
            z = infer_task_latent(rep, suite, task, mode, inference_batch)
            if z is None:
                continue
            action = LatentPolicy(rep, actor, z)(obs).numpy()
            cos = (action * oracle).sum(-1) / (np.linalg.norm(action, axis=-1) + 1e-8)
            results.setdefault(mode, {})[task] = {"mean_cosine": float(cos.mean()), "frac_cos_gt_0.5": float((cos > 0.5).mean())}
    return results


def mean_cosine(results: dict[str, dict[str, dict[str, float]]], mode: str) -> float | None:
    """The task-mean cosine of one mode of :func:`measure`'s result."""
    tasks = results.get(mode)
    return float(np.mean([v["mean_cosine"] for v in tasks.values()])) if tasks else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--states", type=int, default=500)
    parser.add_argument("--modes", nargs="+", default=["reward", "goal"])
    parser.add_argument("--inference-samples", type=int, default=10000)
    args = parser.parse_args(argv)
    results = measure(args.checkpoint, states=args.states, modes=args.modes, inference_samples=args.inference_samples)
    lines = [f"# Oracle-direction agreement: {args.checkpoint}", "",
             f"Command: `python -m benchmarks.oracle_agreement {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             "| task | " + " | ".join(f"{m} z: mean cos / frac > 0.5" for m in results) + " |", "|---" * (len(results) + 1) + "|"]
    tasks = list(next(iter(results.values()), {}))
    for task in tasks + ["mean"]:
        cells = []
        for m, r in results.items():
            vals = list(r.values()) if task == "mean" else [r[task]]
            cells.append(f"{np.mean([v['mean_cosine'] for v in vals]):+.2f} / {np.mean([v['frac_cos_gt_0.5'] for v in vals]):.2f}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    write_report(args.checkpoint, "oracle_agreement", lines, results)
    return results


if __name__ == "__main__":
    main()
