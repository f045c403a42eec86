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
from tensordict.nn import TensorDictModule
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


def task_policy(representation: ZeroShotRepresentation, actor: torch.nn.Module, suite: TaskSuite, task: str, mode: str,
                z: torch.Tensor) -> LatentPolicy | GoalPolicy:
    """The policy that ``evaluate`` runs for (task, mode): π(·, z), or, in goal mode for a representation with
    ``goal_z_per_step``, π(·, z(s, goal)) re-inferred at every state."""
    if mode == "goal" and representation.goal_z_per_step:
        return GoalPolicy(representation, actor, suite.goal_observation(task).to(z.device))
    return LatentPolicy(representation, actor, z)


@torch.no_grad()
def run_episode(suite: TaskSuite, task: str, policy: torch.nn.Module, *, seed: int, device: torch.device | str = "cpu") -> float:
    """One evaluation episode of ``policy`` (observation → action, run on ``device``); returns its score."""
    env = suite.make_env(task, seed=seed)
    module = TensorDictModule(policy, in_keys=[suite.observation_key], out_keys=["action"])
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        rollout = env.rollout(suite.max_episode_steps, policy=lambda td: module(td.to(device)).to("cpu"), break_when_any_done=True)
    env.close()
    if suite.metric == "success":
        return float(rollout["next", "success"].any())
    return float(rollout["next", "reward"].sum())


@torch.no_grad()
def rollout_batch(
    suite: TaskSuite,
    tasks: list[str],
    seeds: list[int],
    act: Callable[[TensorDictBase, int], torch.Tensor],
) -> torch.Tensor:
    """One episode per (task, seed) row, all stepped together in one TorchRL ``SerialEnv``;
    ``act(td, t)`` returns the actions [N, A] of every env at step t. Returns each episode's score [N].

    Envs that finish early are auto-reset by TorchRL; their later steps are masked out, so every
    score is that of the first episode (success: any step succeeded; return: sum of rewards).
    """
    env = SerialEnv(len(tasks), [partial(suite.make_env, task, seed=seed) for task, seed in zip(tasks, seeds)])
    running = torch.ones(len(tasks), dtype=torch.bool)
    score = torch.zeros(len(tasks))
    td = env.reset()
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        for t in range(suite.max_episode_steps):
            td.set("action", act(td, t).to("cpu"))  # one call for all envs
            out, td = env.step_and_maybe_reset(td)
            nxt = out["next"]
            if suite.metric == "success":
                score = torch.where(running & nxt["success"].reshape(-1).bool(), 1.0, score)
            else:
                score = score + running * nxt["reward"].reshape(-1)
            running &= ~nxt["done"].reshape(-1).bool()
            if not running.any():
                break
    env.close()
    return score


def rollout_all(
    suite: TaskSuite,
    representation: ZeroShotRepresentation,
    actor: torch.nn.Module,
    tasks: list[str],
    latents: torch.Tensor,
    seeds: list[int],
    goals: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`rollout_batch` of the latent policy, row i acting with z = ``latents[i]``; rows whose ``goals[i]``
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

    return rollout_batch(suite, tasks, seeds, act)


def evaluate(
    representation: ZeroShotRepresentation,
    actor: torch.nn.Module,
    suite: TaskSuite,
    inference_batch: TensorDictBase,
    *,
    episodes: int,
    modes: list[str],
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Returns {mode: {task: mean score over episodes}}; modes without z (no goals) are skipped."""
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
        scores = rollout_all(suite, representation, actor, tasks, z_rows, [seed * 1000 + ep for ep in range(episodes)] * len(jobs),
                             goals=goal_rows)
        for (mode, task), ep_scores in zip(jobs, scores.split(episodes)):
            results.setdefault(mode, {})[task] = ep_scores.mean().item()
    representation.train(was_training)
    actor.train(was_training)
    return results


def format_table(results: dict[str, dict[str, float]], metric: str) -> str:
    """Markdown table: one row per task, one column per inference mode (success in %)."""
    modes = list(results)
    tasks = sorted({t for r in results.values() for t in r})
    scale = 100.0 if metric == "success" else 1.0
    unit = "success %" if metric == "success" else "return"
    lines = ["| task | " + " | ".join(f"{m} z ({unit})" for m in modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for task in tasks + ["mean"]:
        cells = []
        for m in modes:
            vals = results[m] if task == "mean" else {task: results[m].get(task, math.nan)}
            v = sum(vals.values()) / max(len(vals), 1)
            cells.append(f"{scale * v:.1f}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
