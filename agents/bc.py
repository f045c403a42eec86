"""Behaviour cloning with action chunks: ACT-JEPA, ACT or MLP-BC on scripted-oracle demonstrations.

    python -m agents.bc env=ogbench env.name=cube-single policy=act_jepa   # or act, mlp_bc
        [dataset.episodes_per_task=20] [train.steps=4000] [execution.mode=ensemble] [seed=1]

Recipe: env/tasks → demonstrations (generated once, cached) → policy → loss (+ EMA target encoder)
→ AdamW with warm-up + cosine → train loop with progress → success on the evaluation tasks →
frozen-encoder probes (world model RMSE/ATE, action predictor) → checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from tensordict import TensorDictBase

from agents.chunking import ChunkExecutor
from agents.engine import (
    MultiLogger,
    check_resume_compatible,
    checkpoint_step,
    find_resume_checkpoint,
    make_adamw_schedule,
    resolve_device,
    restore_training_state,
    refuse_moved_groups,
    run_entry_point,
    save_checkpoint,
    seed_everything,
    to_plain,
    training_state,
    write_report,
    train_stage,
)
from agents.evaluation import rollout_batch
from agents.probes import run_probes
from envs import make_demonstrations, make_task_suite
from envs.common import TaskSuite
from representations.act_jepa import ActionChunkLoss, make_bc_policy
from representations.core.targets import ScheduledSoftUpdate


@torch.no_grad()
def evaluate_bc(
    policy: torch.nn.Module, suite: TaskSuite, execution_cfg, *, episodes: int, seed: int, device: torch.device
) -> dict[str, float]:
    """Success (or return) per evaluation task, all (task, episode) rollouts stepped together."""
    was_training = policy.training
    policy.eval()
    tasks = [task for task in suite.task_names for _ in range(episodes)]
    task_index = torch.tensor([suite.task_names.index(task) for task in tasks], device=device)
    executor = ChunkExecutor(
        policy.chunk,
        mode=execution_cfg.mode,
        action_steps=execution_cfg.action_steps,
        ensemble_coeff=execution_cfg.ensemble_coeff,
    )

    def act(td: TensorDictBase, t: int) -> torch.Tensor:
        obs = td.get("observation").to(device)
        goal = td.get("goal").to(device) if "goal" in td.keys() else None
        pixels = td.get("pixels").to(device) if policy.image_tokens else None
        return executor(t, lambda: policy.predict_actions(obs, goal, task_index, pixels).clamp(-1.0, 1.0)).cpu()

    scores = rollout_batch(suite, tasks, [seed * 1000 + ep for ep in range(episodes)] * len(suite.task_names), act)
    policy.train(was_training)
    return {task: s.mean().item() for task, s in zip(suite.task_names, scores.split(episodes))}


def train_bc(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)

    # 1. Evaluation tasks, the policy (bad options fail here, before any data work) and demonstrations
    #    (windows of H actions / H + 1 states, padded at episode ends).
    suite = make_task_suite(cfg.env)
    policy = make_bc_policy(cfg.policy, suite.observation_dim, suite.action_dim).to(device)
    ChunkExecutor(policy.chunk, mode=cfg.execution.mode, action_steps=cfg.execution.action_steps)  # checks the options
    if not cfg.dataset.get("val_episodes_per_task"):
        raise ValueError(
            "dataset.val_episodes_per_task must be at least 1: validation losses and the probes use held-out demonstrations"
        )
    train_demos, val_demos, demo_info = make_demonstrations(cfg.dataset)

    # 2. Objective; ACT-JEPA's target encoder is an EMA copy stepped by SoftUpdate.
    loss_module = ActionChunkLoss(policy, **(cfg.policy.get("loss") or {}))
    ema = cfg.policy.get("ema")
    steps = cfg.train.steps
    target_updater = ScheduledSoftUpdate(loss_module, steps, ema.start, ema.end) if policy.jepa else None  # m: start → end
    optimizer, scheduler = make_adamw_schedule(cfg.policy.optim, policy, steps)

    start_step = 0
    resume_from = find_resume_checkpoint(
        cfg.resume, run_dir, same={"env.name": cfg.env.name, "seed": cfg.seed, "policy.name": cfg.policy.name}
    )
    if resume_from is not None:
        check_resume_compatible(resume_from, config, steps, checkpoint_step(resume_from))
        start_step = restore_training_state(
            resume_from,
            {"policy": policy},
            optimizer,
            loss_module,
            scheduler=scheduler,
            device=device,
            samplers={"train": train_demos, "val": val_demos},
        )
        print(f"resumed from {resume_from} at step {start_step}")
    if target_updater is not None:
        target_updater.done = start_step

    checkpoint_config = {**config, "dims": {"state_dim": suite.observation_dim, "action_dim": suite.action_dim}}

    def checkpoint(step: int) -> Path:
        return save_checkpoint(
            run_dir / "checkpoints",
            step=step,
            keep=cfg.train.keep_checkpoints,
            config=checkpoint_config,
            weights={"policy": policy},
            training_state=training_state(
                step, optimizer, loss_module, scheduler, samplers={"train": train_demos, "val": val_demos}
            ),
        )

    # 3. Train loop.
    exp_name = f"bc-{cfg.policy.name}-{suite.name}-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger,
        run_dir,
        exp_name,
        config,
        group=f"bc-{cfg.policy.name}-{suite.name}",
        tags=[cfg.policy.name, "bc", suite.name],
    )
    print(
        f"{exp_name}: {demo_info['episodes']} demonstrations ({demo_info['steps']} steps), chunk {policy.chunk}, "
        f"{sum(p.numel() for p in policy.parameters()) / 1e6:.2f}M parameters, device {device}, run folder {run_dir}"
    )

    def validate(losses):
        policy.eval()
        with torch.no_grad():
            val = loss_module(val_demos.sample().to(device))
        policy.train()
        return losses, {f"val/{k}": v.item() for k, v in val.items() if k.startswith("loss_")}

    policy.train()
    training_seconds = train_stage(
        cfg.train,
        lambda: loss_module(train_demos.sample().to(device)),
        optimizer,
        device=device,
        start=start_step,
        steps=steps,
        logger=logger,
        scheduler=scheduler,
        target_updater=target_updater,
        checkpoint=checkpoint,
        validate=validate,
    ).seconds

    # 4. Task success, 5. frozen-encoder probes, 6. checkpoint and tables.
    final_ckpt = checkpoint(steps)
    success = evaluate_bc(policy, suite, cfg.execution, episodes=cfg.eval.episodes, seed=cfg.seed, device=device)
    policy.eval()
    probes = {}
    if cfg.probe.steps > 0:
        probes = run_probes(
            lambda b: policy.features(b["observation"], b.get("goal", None), b.get("task", None), b.get("pixels", None)),
            policy.feature_dim,
            train_demos,
            val_demos,
            steps=cfg.probe.steps,
            lr=cfg.probe.lr,
            hidden_dim=cfg.probe.hidden_dim,
            device=device,
        )
    mean = sum(success.values()) / len(success)
    logger.log({f"eval/{task}": v for task, v in success.items()} | {"eval/mean": mean} | probes, steps)
    logger.close()
    results = {
        "step": steps,
        "metric": suite.metric,
        "success": success,
        "mean": mean,
        **probes,
        "training_seconds": training_seconds,
        "execution": cfg.execution.mode,
        "demonstrations": demo_info,
    }
    scale = 100.0 if suite.metric == "success" else 1.0
    table = "\n".join(
        ["| task | " + ("success %" if suite.metric == "success" else "return") + " |", "|---|---|"]
        + [f"| {task} | {scale * v:.1f} |" for task, v in success.items()]
        + [f"| mean | {scale * mean:.1f} |"]
    )
    probe_lines = "".join(f"\n{k}: {v:.4g}" for k, v in probes.items())
    print(
        f"\n{cfg.policy.name} on {suite.name} after {steps} updates ({cfg.eval.episodes} episodes per task, "
        f"{cfg.execution.mode} execution):\n{table}{probe_lines}\ncheckpoint: {final_ckpt}"
    )
    write_report(run_dir, results, table + probe_lines)
    return results


@hydra.main(version_base="1.3", config_path="../configs", config_name="bc")
def main(cfg: DictConfig) -> None:
    run_entry_point(train_bc, cfg)


if __name__ == "__main__":
    refuse_moved_groups("bc")
    main()
