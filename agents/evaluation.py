"""Zero-shot evaluation: infer z per task, roll the latent policy out, score with the family's metric.

Two z-inference modes: ``reward`` — z from rewards relabelled against each task on dataset samples
(the official TD-JEPA/FB protocol), and ``goal`` — z from the task's goal observation (once per episode, or at
every step for representations with ``goal_z_per_step``, HILP's directional goals).

:func:`evaluate` runs every (mode, task, episode) at once: one TorchRL ``SerialEnv`` holds all the
episodes, each with its own z, and one batched policy call per step acts in all of them (the
official code loops over tasks and episodes; ``benchmarks/eval_speed.py`` compares the two).
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Callable

import torch
from tensordict import TensorDictBase
from torchrl.envs import SerialEnv
from torchrl.envs.utils import ExplorationType, set_exploration_type

from envs.common import TaskSuite
from representations.base import ZeroShotRepresentation
from representations.policy import GoalPolicy, LatentPolicy


@torch.no_grad()
def infer_task_latent(
    representation: ZeroShotRepresentation, suite: TaskSuite, task: str, mode: str, inference_batch: TensorDictBase
) -> torch.Tensor | None:
    device = next(representation.parameters()).device
    if mode == "reward":
        rewards = suite.relabel(task, inference_batch).to(device)
        if not torch.any(rewards != 0):
            warnings.warn(f"task {task}: no non-zero reward among {rewards.numel()} inference samples; z will be 0")
        return representation.infer_z_from_rewards(inference_batch["next", suite.observation_key].to(device), rewards)
    if mode == "goal":
        goal = suite.goal_observation(task)
        return None if goal is None else representation.infer_z_from_goal(goal.to(device))
    raise ValueError(f"unknown eval mode {mode!r}; use 'reward' or 'goal' (eval.modes)")


def task_policy(
    representation: ZeroShotRepresentation, actor: torch.nn.Module, suite: TaskSuite, task: str, mode: str, z: torch.Tensor
) -> LatentPolicy | GoalPolicy:
    """The policy that ``evaluate`` runs for (task, mode): π(·, z), or, in goal mode for a representation with
    ``goal_z_per_step``, π(·, z(s, goal)) re-inferred at every state."""
    if mode == "goal" and representation.goal_z_per_step:
        return GoalPolicy(representation, actor, suite.goal_observation(task).to(z.device))
    return LatentPolicy(representation, actor, z)


@torch.no_grad()
def rollout_episodes(
    suite: TaskSuite,
    tasks: list[str],
    seeds: list[int],
    act: Callable[[TensorDictBase, int], torch.Tensor],
    *,
    max_steps: int | None = None,
    render: bool = False,
) -> tuple[TensorDictBase, torch.Tensor, list | None]:
    """The one rollout engine (evaluation, behaviour cloning, the Python API, the rollout CLI, the notebook): one
    episode per (task, seed) row, stepped together by TorchRL's ``EnvBase.rollout`` over a ``SerialEnv``;
    ``act(td, t)`` returns the actions [N, A] of every row at step t in one call.

    A row that ends is stepped no more (TorchRL's partial steps with ``break_when_all_done``): its later entries
    repeat its last one, and ``valid`` [N, T] masks them out. The rollout stops when every row has ended, or after
    ``max_steps`` (default: the suite's horizon). ``render=True`` (one row only) also returns the frames, the start
    state's first. Returns (rollout [N, T], valid [N, T], frames or None).
    """
    if render and len(tasks) != 1:
        raise ValueError("render=True records one episode at a time")
    horizon = max_steps or suite.max_episode_steps
    steps = iter(range(horizon))
    if render:  # the env itself, so that it can render; its tensordicts get the row dimension for ``act``
        env = suite.make_env(tasks[0], seed=seeds[0], render=True)

        def policy(td: TensorDictBase) -> TensorDictBase:
            return td.set("action", act(td.unsqueeze(0), next(steps))[0].to("cpu"))
    else:
        env = SerialEnv(len(tasks), [partial(suite.make_env, task, seed=seed) for task, seed in zip(tasks, seeds)])

        def policy(td: TensorDictBase) -> TensorDictBase:
            return td.set("action", act(td, next(steps)).to("cpu"))  # one call for all rows

    td = env.reset()
    frames = [env.render()] if render else None
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        rollout = env.rollout(
            horizon,
            policy,
            tensordict=td,
            auto_reset=False,
            break_when_any_done=False,
            break_when_all_done=True,
            callback=(lambda env_, _: frames.append(env_.render())) if render else None,
        )
    if render:
        rollout = rollout.unsqueeze(0)
        if len(frames) < rollout.shape[-1] + 1:  # TorchRL calls back after every step but the last
            frames.append(env.render())
    env.close()
    done = rollout["next", "done"].reshape(rollout.shape).long()
    valid = (done.cumsum(-1) - done) == 0  # up to and including each row's first done
    return rollout, valid, frames


def score_episodes(suite: TaskSuite, tasks: list[str], rollout: TensorDictBase, valid: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each row's ``score`` [N] (success: any valid step succeeded; return: the valid steps' reward sum) and, on suites
    with goals in state space (OGBench), its ``final_distance`` to the goal at the row's last valid step."""
    nxt = rollout["next"]
    if suite.metric == "success":
        scores = {"score": (nxt["success"].reshape(valid.shape).bool() & valid).any(-1).float()}
    else:
        scores = {"score": (nxt["reward"].reshape(valid.shape) * valid).sum(-1)}
    if hasattr(suite, "goal_distance") and "qpos" in nxt.keys():
        last = valid.long().sum(-1) - 1
        final_qpos = nxt["qpos"][torch.arange(len(tasks)), last]
        scores["final_distance"] = torch.stack([suite.goal_distance(task, q) for task, q in zip(tasks, final_qpos)]).float()
    return scores


def rollout_batch(
    suite: TaskSuite, tasks: list[str], seeds: list[int], act: Callable[[TensorDictBase, int], torch.Tensor]
) -> torch.Tensor:
    """Each (task, seed) row's score [N] after :func:`rollout_episodes` of ``act``."""
    return score_episodes(suite, tasks, *rollout_episodes(suite, tasks, seeds, act)[:2])["score"]


@torch.no_grad()
def run_episode(suite: TaskSuite, task: str, policy: torch.nn.Module, *, seed: int, device: torch.device | str = "cpu") -> float:
    """One evaluation episode of ``policy`` (one observation → its action, run on ``device``); returns its score."""
    act = lambda td, t: policy(td.get(suite.observation_key)[0].to(device)).reshape(1, -1)  # noqa: E731  (the one row)
    return rollout_batch(suite, [task], [seed], act).item()


def rollout_all(
    suite: TaskSuite,
    representation: ZeroShotRepresentation,
    actor: torch.nn.Module,
    tasks: list[str],
    latents: torch.Tensor,
    seeds: list[int],
    goals: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """:func:`score_episodes` of the latent policy, row i acting with z = ``latents[i]``; rows whose ``goals[i]``
    is not NaN re-infer z from the current state and that goal at every step (``infer_z_toward_goal``)."""
    device = latents.device
    per_step = None if goals is None else ~goals.flatten(1).isnan().any(-1)

    def act(td: TensorDictBase, t: int) -> torch.Tensor:
        obs = td.get(suite.observation_key).to(device)
        z = latents
        if per_step is not None and per_step.any():
            z = latents.clone()
            z[per_step] = representation.infer_z_toward_goal(obs[per_step], goals[per_step])
        return actor(representation.actor_input(obs), z)

    return score_episodes(suite, tasks, *rollout_episodes(suite, tasks, seeds, act)[:2])


def evaluate(
    representation: ZeroShotRepresentation,
    actor: torch.nn.Module,
    suite: TaskSuite,
    inference_batch: TensorDictBase,
    *,
    episodes: int,
    modes: list[str],
    seed: int = 0,
    final_distances: dict[str, dict[str, float]] | None = None,
) -> dict[str, dict[str, float]]:
    """Returns {mode: {task: mean score over episodes}}; modes without z (no goals) are skipped. On suites with goals
    in state space, ``final_distances`` (if given) receives {mode: {task: mean distance to the goal at the end}}."""
    was_training = representation.training
    representation.eval()
    actor.eval()
    jobs: list[tuple[str, str]] = []
    latents, goals = [], []
    for mode in modes:
        for task in suite.task_names:
            z = infer_task_latent(representation, suite, task, mode, inference_batch)
            if z is not None:
                jobs.append((mode, task))
                latents.append(z)
                goals.append(suite.goal_observation(task) if mode == "goal" and representation.goal_z_per_step else None)
    results: dict[str, dict[str, float]] = {}
    if jobs:  # row = (job, episode), episodes of a job adjacent
        z_rows = torch.stack(latents).repeat_interleave(episodes, dim=0)
        goal_rows = None
        if any(g is not None for g in goals):
            shape = next(g for g in goals if g is not None).shape
            goal_rows = torch.stack([torch.full(shape, torch.nan) if g is None else g.float() for g in goals])
            goal_rows = goal_rows.to(z_rows.device).repeat_interleave(episodes, dim=0)
        tasks = [task for _, task in jobs for _ in range(episodes)]
        scores = rollout_all(
            suite, representation, actor, tasks, z_rows, [seed * 1000 + ep for ep in range(episodes)] * len(jobs), goals=goal_rows
        )
        for i, (mode, task) in enumerate(jobs):
            rows = slice(i * episodes, (i + 1) * episodes)
            results.setdefault(mode, {})[task] = scores["score"][rows].mean().item()
            if final_distances is not None and "final_distance" in scores:
                final_distances.setdefault(mode, {})[task] = scores["final_distance"][rows].mean().item()
    representation.train(was_training)
    actor.train(was_training)
    return results


def format_table(
    results: dict[str, dict[str, float]], metric: str, final_distances: dict[str, dict[str, float]] | None = None
) -> str:
    """Markdown table: one row per task, one column per inference mode (success in %); with ``final_distances``, one
    more column per mode: the mean distance to the goal at the episodes' end."""
    modes = list(results)
    distance_modes = [m for m in modes if final_distances and m in final_distances]
    tasks = sorted({t for r in results.values() for t in r})
    scale = 100.0 if metric == "success" else 1.0
    unit = "success %" if metric == "success" else "return"
    header = [f"{m} z ({unit})" for m in modes] + [f"{m} z final distance" for m in distance_modes]
    lines = ["| task | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]

    def cell(values: dict[str, float], task: str, fmt: str) -> str:
        vals = values if task == "mean" else {task: values.get(task, math.nan)}
        return format(sum(vals.values()) / max(len(vals), 1), fmt)

    for task in tasks + ["mean"]:
        cells = [cell({t: scale * v for t, v in results[m].items()}, task, ".1f") for m in modes]
        cells += [cell(final_distances[m], task, ".2f") for m in distance_modes]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
