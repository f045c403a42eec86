"""Where a trained maze agent goes, and where its value points: the wall-leak diagnostic (pointmaze/antmaze).

    python -m benchmarks.maze_rollouts <checkpoint folder> [--mode goal] [--noise sample|zero] [--directions 16]

For each evaluation task it rolls one episode out with the goal- (or reward-) inferred z and reports the distance
to the goal at the start, its minimum, at the end, and how far the agent moved over the last 100 steps (an agent
that is stuck or dithering moves little). Then, along the episode's states, it takes the argmax of
Q(s, a, z) over ``--directions`` unit actions and compares it with two directions: the BFS oracle's (the way
round the walls) and the straight line to the goal. A value that prefers the straight line where the two disagree
leaks through walls. ``--noise zero`` runs a flow-BC policy with ε = 0 instead of a fresh ε per step (the
official way). Writes ``<checkpoint>/maze_rollouts.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from tensordict.nn import TensorDictModule

from agents.evaluation import infer_task_latent, task_policy
from benchmarks.report import write_report
from envs import make_dataset, make_task_suite
from representations import load_pretrained


class ZeroNoise(torch.nn.Module):
    """A noise-conditioned actor run with ε = 0 (its noise-free action)."""

    def __init__(self, actor: torch.nn.Module) -> None:
        super().__init__()
        self.actor = actor

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.actor(x, z, torch.zeros(*x.shape[:-1], self.actor.policy.action_dim, dtype=x.dtype, device=x.device))


def unit_directions(n: int) -> torch.Tensor:
    angles = torch.arange(n, dtype=torch.float32) * (2 * torch.pi / n)
    return torch.stack([angles.cos(), angles.sin()], dim=-1)


def angle_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angles in degrees between rows of u and v."""
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-8)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def diagnose(
    checkpoint: str,
    *,
    mode: str = "goal",
    noise: str = "sample",
    directions: int = 16,
    seed: int = 0,
    inference_samples: int = 10000,
) -> dict[str, dict[str, float]]:
    torch.manual_seed(seed)
    rep, actor, config = load_pretrained(checkpoint)
    suite = make_task_suite(config["env"])
    batch = make_dataset(config["dataset"])[0].sample(inference_samples) if mode == "reward" else None
    if noise == "zero":
        if not getattr(actor, "noise_conditioned", False):
            raise ValueError("--noise zero is for noise-conditioned (flow-BC) actors")
        actor = ZeroNoise(actor)
    dirs = unit_directions(directions)
    results = {}
    for task in suite.task_names:
        z = infer_task_latent(rep, suite, task, mode, batch)
        env = suite.make_env(task, seed=seed)
        maze = env.unwrapped
        task_pi = task_policy(rep, actor, suite, task, mode, z)
        policy = TensorDictModule(task_pi, in_keys=[suite.observation_key], out_keys=["action"])
        with torch.no_grad():
            rollout = env.rollout(suite.max_episode_steps, policy=policy, break_when_any_done=True)
        xy = (
            rollout["next", "qpos"][:, :2].numpy()
            if ("next", "qpos") in rollout.keys(True)
            else rollout["next", "observation"][:, :2].numpy()
        )
        goal = np.asarray(maze.cur_goal_xy)
        start = rollout["observation"][0, :2].numpy()
        xy = np.concatenate([start[None], xy])  # the whole path, from the start position on
        distance = np.linalg.norm(xy - goal, axis=-1)
        # Q's preferred direction at (up to) 50 states of the episode vs the oracle's and the straight line.
        states = rollout["observation"][:: max(1, len(rollout) // 50)]
        with torch.no_grad():  # the z each state acts with (HILP's goal z depends on the state)
            zs = task_pi.latents(states)
            q = rep.q_value(
                states.repeat_interleave(directions, 0), dirs.repeat(len(states), 1), zs.repeat_interleave(directions, 0)
            ).reshape(len(states), directions)
        best = dirs[q.argmax(-1)].numpy()
        pos = states[:, :2].numpy()
        oracle = np.stack([np.asarray(maze.get_oracle_subgoal(p, goal)[0]) - p for p in pos])
        straight = goal - pos
        disagree = angle_between(oracle, straight) > 45.0  # states where the way round differs from the straight line
        to_oracle, to_straight = angle_between(best, oracle), angle_between(best, straight)
        results[task] = {
            "success": float(rollout["next", "success"].any()),
            "start_distance": float(np.linalg.norm(start - goal)),
            "min_distance": float(distance.min()),
            "final_distance": float(distance[-1]),
            "moved_last_100": float(np.linalg.norm(xy[-1] - xy[max(0, len(xy) - 101)])),
            "q_argmax_within_45_of_oracle": float((to_oracle < 45).mean()),
            "states_where_oracle_and_straight_line_differ": int(disagree.sum()),
            "there_q_argmax_nearer_straight_line": float((to_straight < to_oracle)[disagree].mean())
            if disagree.any()
            else float("nan"),
        }
        env.close()
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--mode", choices=["goal", "reward"], default="goal")
    parser.add_argument("--noise", choices=["sample", "zero"], default="sample")
    parser.add_argument("--directions", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = diagnose(args.checkpoint, mode=args.mode, noise=args.noise, directions=args.directions, seed=args.seed)
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        f"# Maze rollouts and Q's preferred direction: {args.checkpoint}",
        "",
        f"Command: `python -m benchmarks.maze_rollouts {argv_text}`",
        "",
        f"z from: {args.mode}; policy noise: {args.noise}. Distances in maze units (cells are 4 wide); "
        "'Q → oracle': fraction of the episode's states where argmax_a Q(s, a, z) over unit actions is within 45° of "
        "the BFS oracle's direction; 'leak': among the states where the oracle's way and the straight line to the goal "
        "differ by > 45°, the fraction where Q's argmax is nearer the straight line.",
        "",
        "| task | success | start dist | min dist | final dist | moved, last 100 steps | Q → oracle | leak (states) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for task, r in results.items():
        lines.append(
            f"| {task} | {r['success']:.0f} | {r['start_distance']:.1f} | {r['min_distance']:.1f} | {r['final_distance']:.1f} | "
            f"{r['moved_last_100']:.2f} | {r['q_argmax_within_45_of_oracle']:.2f} | "
            f"{r['there_q_argmax_nearer_straight_line']:.2f} ({r['states_where_oracle_and_straight_line_differ']}) |"
        )
    write_report(args.checkpoint, f"maze_rollouts_{args.mode}_{args.noise}", lines, results)
    return results


if __name__ == "__main__":
    main()
