"""Python API over trained zero-shot agents: load a checkpoint, ask it for a task, watch it act.

    from agents.api import ZeroShotAgent
    agent = ZeroShotAgent.from_checkpoint("outputs/zeroshot/.../checkpoints/latest")  # or a run folder
    z = agent.infer_z(task="task1")                       # from that task's relabelled rewards
    z = agent.infer_z(goal="task1")                       # from the task's goal observation
    z = agent.infer_z(reward_fn=lambda s: -s[:, :2].norm(dim=-1))  # any reward of the next state
    episode = agent.rollout(z, task="task1", render=True)
    episode.save_video("task1.mp4"); episode.score

``train(...)`` runs ``agents.zeroshot`` in-process with command-line style overrides and returns the
final checkpoint folder, so a notebook can make its own small agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tensordict import TensorDictBase

from agents.engine.checkpoint import latest_checkpoint
from agents.evaluation import rollout_episodes
from agents.video import write_video
from envs import TaskSuite, make_dataset, make_task_suite
from representations import load_pretrained
from representations.base import ZeroShotRepresentation
from representations.policy import GoalPolicy, LatentPolicy

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

RewardFn = Callable[[torch.Tensor], torch.Tensor]  # next states [B, state_dim] -> rewards [B]


@dataclass
class Rollout:
    """One episode of the latent policy. ``rewards``: the env's task reward, or ``reward_fn`` of each
    next state when the rollout was given one; ``frames`` [T+1, H, W, 3] when rendered."""

    task: str
    z: torch.Tensor
    metric: str
    actions: torch.Tensor  # [T, action_dim]
    states: torch.Tensor  # [T + 1, state_dim] (the state vector, also for pixel agents)
    rewards: torch.Tensor  # [T]
    success: torch.Tensor | None  # [T] bool, goal-reaching families only
    frames: np.ndarray | None

    @property
    def score(self) -> float:
        """The family's evaluation score: success (any step) or the return (sum of ``rewards``)."""
        if self.metric == "success" and self.success is not None:
            return float(self.success.any())
        return float(self.rewards.sum())

    def save_video(self, path: str | Path, *, fps: int = 30) -> Path:
        if self.frames is None:
            raise ValueError("this rollout has no frames: call rollout(..., render=True)")
        return write_video(self.frames, path, fps=fps)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a step folder, a ``checkpoints/`` folder, ``.../latest`` or a run folder."""
    path = Path(path).expanduser()
    if path.name == "latest" and path.is_file():
        path = path.parent / path.read_text().strip()
    for candidate in (path, path / "checkpoints"):
        if (candidate / "model.safetensors").exists():
            return candidate
        if (candidate / "latest").exists():
            found = latest_checkpoint(candidate)
            if found is not None:
                return found
    raise FileNotFoundError(
        f"no checkpoint at {path}: pass a run folder of agents.zeroshot, its checkpoints/ folder or a step* folder"
    )


class ZeroShotAgent:
    """A trained representation + latent-conditioned actor, with the environment family it was trained on."""

    def __init__(
        self, representation: ZeroShotRepresentation, actor: torch.nn.Module, config: dict, *, device: str | torch.device = "cpu"
    ) -> None:
        self.device = torch.device(device)
        self.representation = representation.to(self.device).eval()
        self.actor = actor.to(self.device).eval()
        self.config = config
        self.suite: TaskSuite = make_task_suite(config["env"])
        self._dataset = None  # the training replay buffer, loaded on first use
        self._batches: dict[int, TensorDictBase] = {}  # one fixed batch per size: the same z for the same request

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | torch.device = "cpu", env: dict | None = None) -> "ZeroShotAgent":
        """Loads a checkpoint of ``agents.zeroshot``; ``env`` overrides env options (e.g. ``{"video_size": 128}``)."""
        representation, actor, config = load_pretrained(resolve_checkpoint(path))
        if env:
            config = {**config, "env": {**config["env"], **env}}
        return cls(representation, actor, config, device=device)

    @property
    def name(self) -> str:
        return f"{self.config['representation']['name']} on {self.suite.name}"

    @property
    def task_names(self) -> list[str]:
        return list(self.suite.task_names)

    def inference_batch(self, samples: int | None = None) -> TensorDictBase:
        """Dataset transitions that rewards are evaluated on for z inference (loaded once, from the
        checkpoint's dataset config; ``samples`` defaults to the training run's ``eval.inference_samples``)."""
        samples = samples or self.config["eval"]["inference_samples"]
        if samples not in self._batches:
            if self._dataset is None:
                self._dataset, _ = make_dataset(self.config["dataset"])
            self._batches[samples] = self._dataset.sample(samples)
        return self._batches[samples]

    @torch.no_grad()
    def infer_z(
        self,
        *,
        task: str | None = None,
        goal: str | torch.Tensor | None = None,
        reward_fn: RewardFn | None = None,
        samples: int | None = None,
    ) -> torch.Tensor:
        """The task latent z for exactly one of: a named ``task`` (its reward, relabelled on dataset
        samples), a ``goal`` (a task name or an observation) or ``reward_fn`` (next states [B, D] → [B])."""
        if sum(x is not None for x in (task, goal, reward_fn)) != 1:
            raise ValueError("infer_z needs exactly one of task=, goal= or reward_fn=")
        rep, suite = self.representation, self.suite
        if goal is not None:
            if isinstance(goal, str):
                goal_obs = suite.goal_observation(suite.check_task(goal))
                if goal_obs is None:
                    raise ValueError(f"{suite.name} tasks have no goal observation; use task= or reward_fn=")
                goal = goal_obs
            return rep.infer_z_from_goal(torch.as_tensor(goal, dtype=torch.float32).to(self.device))
        batch = self.inference_batch(samples)
        if task is not None:
            rewards = suite.relabel(suite.check_task(task), batch)
        else:
            rewards = torch.as_tensor(reward_fn(batch["next", "observation"])).float().reshape(-1)
            if rewards.shape[0] != batch.shape[0]:
                raise ValueError(
                    f"reward_fn must return one reward per state: got shape {tuple(rewards.shape)} for {batch.shape[0]} states"
                )
        next_obs = batch["next", suite.observation_key].to(self.device)
        return rep.infer_z_from_rewards(next_obs, rewards.to(self.device))

    def policy(self, z: torch.Tensor) -> LatentPolicy:
        """π(·, z) as a module: observation(s) → deterministic action(s), on ``self.device``."""
        return LatentPolicy(self.representation, self.actor, z.to(self.device))

    def goal_policy(self, goal: str | torch.Tensor) -> LatentPolicy | GoalPolicy:
        """The policy for reaching ``goal`` (a task name or an observation), as ``evaluate`` runs it: π(·, z(s, g))
        re-inferred at every state for representations with ``goal_z_per_step`` (HILP), else π(·, infer_z(goal=))."""
        if not self.representation.goal_z_per_step:
            return self.policy(self.infer_z(goal=goal))
        if isinstance(goal, str):
            goal = self.suite.goal_observation(self.suite.check_task(goal))
        return GoalPolicy(self.representation, self.actor, torch.as_tensor(goal, dtype=torch.float32).to(self.device))

    @torch.no_grad()
    def rollout(
        self,
        z: torch.Tensor | LatentPolicy | GoalPolicy,
        *,
        task: str | None = None,
        seed: int = 0,
        max_steps: int | None = None,
        render: bool = False,
        reward_fn: RewardFn | None = None,
    ) -> Rollout:
        """One deterministic episode of π(·, z) (or of a :meth:`goal_policy`) in ``task``'s environment (its start
        state and, for goal tasks, its goal); stops at termination or after ``max_steps`` (default: the official
        horizon). ``Rollout.z`` of a per-step goal policy is the z at the start state."""
        suite = self.suite
        task = suite.check_task(task)
        key = suite.observation_key
        policy = z if isinstance(z, (LatentPolicy, GoalPolicy)) else self.policy(z)
        start: dict[str, torch.Tensor] = {}

        def act(td, t: int) -> torch.Tensor:
            obs = td.get(key).to(self.device)
            if t == 0:
                start["z"] = policy.latents(obs)[0]  # a goal policy's z at the start state
            return policy(obs)

        rollout, valid, frames = rollout_episodes(suite, [task], [seed], act, max_steps=max_steps, render=render)
        steps = rollout[0, : int(valid[0].sum())]  # the episode, up to its end
        states = torch.cat([steps["observation"][:1], steps["next", "observation"]])
        rewards = steps["next", "reward"].reshape(-1)
        if reward_fn is not None:
            rewards = torch.as_tensor(reward_fn(states[1:])).float().reshape(-1)
        success = steps["next", "success"].reshape(-1).bool() if "success" in steps["next"].keys() else None
        return Rollout(  # with a custom reward the score is its return
            task=task,
            z=start["z"].detach().cpu(),
            metric="return" if reward_fn is not None else suite.metric,
            actions=steps["action"],
            states=states,
            rewards=rewards,
            success=success,
            frames=np.stack(frames[: len(steps) + 1]) if frames else None,
        )


def train(*overrides: str, run_dir: str | Path) -> Path:
    """Runs ``python -m agents.zeroshot <overrides>`` in this process, writing into ``run_dir``;
    returns the final checkpoint folder."""
    from hydra import compose, initialize_config_dir

    from agents.zeroshot import train_zeroshot

    run_dir = Path(run_dir)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("zeroshot", overrides=list(overrides))
    train_zeroshot(cfg, run_dir)
    return resolve_checkpoint(run_dir)
