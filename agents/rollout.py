"""Roll a trained zero-shot agent out on its tasks and write videos.

    python -m agents.rollout checkpoint=outputs/zeroshot/walker/fb/seed0/<time> task=walk video=true

Recipe: load agent → infer z per task (reward or goal) → one rendered episode per seed → videos,
scores (``rollout.json``) in the Hydra run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig

from agents.api import ZeroShotAgent
from agents.engine import resolve_device, run_entry_point
from agents.video import VIDEO_FORMATS

Z_SOURCES = ("reward", "goal")


def run_rollouts(cfg: DictConfig, run_dir: Path) -> dict[str, list[float]]:
    if cfg.z_from not in Z_SOURCES:
        raise ValueError(f"z_from={cfg.z_from!r} is not known; use one of {list(Z_SOURCES)}")
    if cfg.video and cfg.video_format not in VIDEO_FORMATS:
        raise ValueError(f"video_format={cfg.video_format!r} is not known; use one of {list(VIDEO_FORMATS)}")
    env_overrides = {"video_size": cfg.video_size} if cfg.video_size else None
    agent = ZeroShotAgent.from_checkpoint(cfg.checkpoint, device=resolve_device(cfg.device), env=env_overrides)
    tasks = [agent.suite.check_task(cfg.task)] if cfg.task is not None else agent.task_names
    print(f"{agent.name}: {len(tasks)} task(s), z from {cfg.z_from}, run folder {run_dir}")
    scores: dict[str, list[float]] = {}
    for task in tasks:
        z = agent.infer_z(task=task) if cfg.z_from == "reward" else agent.goal_policy(task)  # HILP: z every step
        for episode in range(cfg.episodes):
            result = agent.rollout(z, task=task, seed=cfg.seed + episode, max_steps=cfg.max_steps, render=cfg.video)
            scores.setdefault(task, []).append(result.score)
            line = f"{task} episode {episode}: {result.metric} {result.score:.3g} after {len(result.actions)} steps"
            if cfg.video:
                path = result.save_video(run_dir / f"{task}_ep{episode}.{cfg.video_format}", fps=cfg.fps)
                line += f", video {path}"
            print(line)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "rollout.json").write_text(
        json.dumps(
            {"checkpoint": str(cfg.checkpoint), "z_from": cfg.z_from, "metric": agent.suite.metric, "scores": scores}, indent=2
        )
    )
    return scores


@hydra.main(version_base="1.3", config_path="../configs", config_name="rollout")
def main(cfg: DictConfig) -> None:
    run_entry_point(run_rollouts, cfg)


if __name__ == "__main__":
    main()
