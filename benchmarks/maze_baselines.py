"""What a policy with no learning reaches on a point maze: the straight line to the goal.

    python -m benchmarks.maze_baselines --env pointmaze-medium-navigate --episodes 10 --seed 0

The point mass is steered by its velocity, so ``a = (g − s) / ‖g − s‖`` walks straight at the goal and slides
along any wall in the way. A task it solves needs no knowledge of the maze, so a learned agent's goal-reaching
is only evidence of learning on the tasks this baseline fails (and where it beats it). The episodes, start
states and success rule are those of ``agents.evaluation.evaluate`` (seeds ``seed * 1000 + episode``). Writes
``benchmarks/results/maze_baselines_<env>.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tensordict import TensorDictBase

from agents.evaluation import rollout_batch
from benchmarks.report import command_line, write_report
from envs.common import TaskSuite


def straight_line_success(suite: TaskSuite, *, episodes: int = 10, seed: int = 0) -> dict[str, float]:
    """Success rate per task of the straight-line policy, over the evaluation's episodes."""
    if not suite.name.startswith("pointmaze"):
        raise ValueError(
            f"env.name={suite.name!r}: the straight-line baseline steers a point mass by its velocity; "
            "use a pointmaze-* environment"
        )
    tasks = [task for task in suite.task_names for _ in range(episodes)]
    goals = torch.stack([suite.goal_observation(task)[:2].float() for task in tasks])

    def act(td: TensorDictBase, t: int) -> torch.Tensor:
        offset = goals - td.get(suite.observation_key)[:, :2]
        return offset / offset.norm(dim=-1, keepdim=True).clamp_min(1e-6)

    scores = rollout_batch(suite, tasks, [seed * 1000 + ep for ep in range(episodes)] * len(suite.task_names), act)
    return {task: row.mean().item() for task, row in zip(suite.task_names, scores.split(episodes))}


def main(argv: list[str] | None = None) -> dict:
    from envs import make_task_suite

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="pointmaze-medium-navigate", help="a pointmaze-* OGBench environment")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per task (default 10, as eval.episodes)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (the agent's seed)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        suite = make_task_suite({"family": "ogbench", "name": args.env})
        per_task = straight_line_success(suite, episodes=args.episodes, seed=args.seed)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    mean = sum(per_task.values()) / len(per_task)
    command = command_line("benchmarks.maze_baselines", argv if argv is not None else sys.argv[1:])
    lines = [
        f"# Straight-line baseline on {suite.name}",
        "",
        f"Command: `{command}`",
        "",
        f"a = (g − s) / ‖g − s‖ at every step; {args.episodes} episodes per task (seed {args.seed}), success = any "
        "step's `success`.",
        "",
        "| task | success % |",
        "|---|---:|",
    ]
    lines += [f"| {task} | {100 * value:.0f} |" for task, value in per_task.items()]
    lines.append(f"| mean | {100 * mean:.1f} |")
    result = {
        "env": suite.name,
        "policy": "straight_line",
        "episodes": args.episodes,
        "seed": args.seed,
        "per_task": per_task,
        "success": mean,
        "command": command,
    }
    write_report(Path(args.out), f"maze_baselines_{suite.name.removesuffix('-v0')}", lines, result)
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
