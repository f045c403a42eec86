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
from collections import deque

import numpy as np
import torch
from scipy.stats import spearmanr

from agents.evaluation import infer_task_latent, task_policy
from envs import make_dataset, make_task_suite
from representations import load_pretrained

from benchmarks.report import write_report


def oracle_directions(suite, task: str, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit direction to the BFS oracle's subgoal, maze distance to the goal in cells, straight-line distance to
    the goal) for each position."""
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
    cells = cell_distances(np.asarray(maze.maze_map), tuple(maze.xy_to_ij(goal)))
    distance = np.array([cells[tuple(maze.xy_to_ij(p))] for p in xy])
    env.close()
    return np.stack(dirs), distance, np.linalg.norm(xy - goal, axis=-1)


# Maze-distance bins (cells) of the value and reward profiles: at the goal, near it, and ever further away.
DISTANCE_BINS = (0, 1, 2, 3, 4, 6, 9, float("inf"))


def distance_profile(values: np.ndarray, distance: np.ndarray, bins: tuple[float, ...] = DISTANCE_BINS) -> list[float | None]:
    """Mean of ``values``, standardised over all the states (zero mean, unit std), in each maze-distance bin
    [bins[i], bins[i+1]); None for an empty bin. A signal the policy can follow from afar falls across every bin;
    one with local support is flat (about 0) beyond the first bins."""
    z = (values - values.mean()) / (values.std() + 1e-8)
    return [
        float(z[(distance >= lo) & (distance < hi)].mean()) if ((distance >= lo) & (distance < hi)).any() else None
        for lo, hi in zip(bins[:-1], bins[1:])
    ]


def cell_distances(maze_map: np.ndarray, goal_cell: tuple[int, int]) -> np.ndarray:
    """Breadth-first distance (in cells, 4-connected) from every free cell (0) to ``goal_cell``; inf for walls."""
    dist = np.full(maze_map.shape, np.inf)
    dist[goal_cell] = 0
    frontier = deque([goal_cell])
    while frontier:
        i, j = frontier.popleft()
        for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
            if 0 <= a < maze_map.shape[0] and 0 <= b < maze_map.shape[1] and maze_map[a, b] == 0 and dist[a, b] == np.inf:
                dist[a, b] = dist[i, j] + 1
                frontier.append((a, b))
    return dist


def measure(
    checkpoint: str, *, states: int = 500, modes: tuple[str, ...] | list[str] = ("reward", "goal"), inference_samples: int = 10000
) -> dict[str, dict[str, dict[str, float]]]:
    """{mode: {task: {mean_cosine, frac_cos_gt_0.5, q_distance_rho, reward_distance_rho, q_euclidean_rho,
    reward_euclidean_rho, straight_line_cosine, q_by_distance, reward_by_distance}}} of the
    policy in ``checkpoint`` (the same states for every checkpoint of a dataset). The rho are Spearman correlations,
    over the states, of Q(s, π(s, z), z) and of ψ(s)·z with minus the maze distance to the goal (in cells), and of
    both with minus the straight-line distance; ``straight_line_cosine`` is the mean cosine of the straight line to the
    goal with the oracle direction (no learning), the reference for ``mean_cosine``."""
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
        oracle, distance, euclidean = oracle_directions(suite, task, xy)
        # The reference a policy with no learning gets: walking straight at the goal (benchmarks.maze_baselines).
        straight = suite.goal_observation(task)[:2].numpy() - xy
        straight_cos = (straight * oracle).sum(-1) / (np.linalg.norm(straight, axis=-1) + 1e-8)
        for mode in modes:
            z = infer_task_latent(rep, suite, task, mode, inference_batch)
            if z is None:
                continue
            policy = task_policy(rep, actor, suite, task, mode, z)
            action = policy(obs)
            cos = (action.numpy() * oracle).sum(-1) / (np.linalg.norm(action.numpy(), axis=-1) + 1e-8)
            with torch.no_grad():  # the z each state acts with (HILP's goal z depends on the state)
                zs = policy.latents(obs)
                q = rep.q_value(obs, action, zs).numpy()
                reward = (rep.goal_features(obs) * zs).sum(-1).numpy()
            # Does the value (and the implicit reward ψ(s)·z) fall with the maze distance to the goal?
            results.setdefault(mode, {})[task] = {
                "mean_cosine": float(cos.mean()),
                "frac_cos_gt_0.5": float((cos > 0.5).mean()),
                "q_distance_rho": float(spearmanr(q, -distance)[0]),
                "reward_distance_rho": float(spearmanr(reward, -distance)[0]),
                # A value that ranks states by straight-line rather than maze distance leaks through walls.
                "q_euclidean_rho": float(spearmanr(q, -euclidean)[0]),
                "reward_euclidean_rho": float(spearmanr(reward, -euclidean)[0]),
                "straight_line_cosine": float(straight_cos.mean()),
                "q_by_distance": distance_profile(q, distance),
                "reward_by_distance": distance_profile(reward, distance),
            }
    return results


def task_mean(results: dict[str, dict[str, dict[str, float]]], mode: str, key: str = "mean_cosine") -> float | None:
    """The mean over tasks of one metric of one mode of :func:`measure`'s result."""
    tasks = results.get(mode)
    return float(np.mean([v[key] for v in tasks.values()])) if tasks else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--states", type=int, default=500)
    parser.add_argument("--modes", nargs="+", default=["reward", "goal"])
    parser.add_argument("--inference-samples", type=int, default=10000)
    args = parser.parse_args(argv)
    results = measure(args.checkpoint, states=args.states, modes=args.modes, inference_samples=args.inference_samples)
    lines = [
        f"# Oracle-direction agreement: {args.checkpoint}",
        "",
        f"Command: `python -m benchmarks.oracle_agreement {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        "Cells: mean cosine with the oracle direction / fraction of states above 0.5 / Spearman rho of "
        "Q(s, π(s, z), z) with minus the maze distance to the goal / with minus the straight-line distance.",
        "",
        "| task | " + " | ".join(f"{m} z: cos / frac > 0.5 / rho(Q, −dist) / rho(Q, −euclid)" for m in results) + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    tasks = list(next(iter(results.values()), {}))
    for task in tasks + ["mean"]:
        cells = []
        for m, r in results.items():
            vals = list(r.values()) if task == "mean" else [r[task]]
            cells.append(
                f"{np.mean([v['mean_cosine'] for v in vals]):+.2f} / {np.mean([v['frac_cos_gt_0.5'] for v in vals]):.2f}"
                f" / {np.mean([v['q_distance_rho'] for v in vals]):+.2f} / {np.mean([v['q_euclidean_rho'] for v in vals]):+.2f}"
            )
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    edges = [
        f"≥ {lo:g}" if hi == float("inf") else f"{lo:g}" if hi - lo == 1 else f"{lo:g}–{hi - 1:g}"
        for lo, hi in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:])
    ]
    lines += [
        "",
        "Q(s, π(s, z), z) and the implicit reward ψ(s)·z by maze distance to the goal (cells), standardised over the "
        "states, mean over tasks: a signal that the policy can follow from afar falls across every bin.",
        "",
        "| mode | signal | " + " | ".join(edges) + " |",
        "|---|---" + "|---:" * len(edges) + "|",
    ]
    for m, r in results.items():
        for key, name in (("q_by_distance", "Q"), ("reward_by_distance", "ψ(s)·z")):
            cells = []
            for i in range(len(edges)):
                vals = [v[key][i] for v in r.values() if v[key][i] is not None]
                cells.append(f"{np.mean(vals):+.2f}" if vals else "–")
            lines.append(f"| {m} z | {name} | " + " | ".join(cells) + " |")
    write_report(args.checkpoint, "oracle_agreement", lines, results)
    return results


if __name__ == "__main__":
    main()
