"""Zero-shot RL: train a representation + latent-conditioned actor offline, evaluate on every task.

    python -m agents.zeroshot env=ogbench [representation=td_jepa] [env.name=cube-single-play] \
        [representation.z_dim=50] [train.steps=200000] [seed=3] [resume=true]
    torchrun --standalone --nproc_per_node=2 -m agents.zeroshot ...   # data-parallel (agents/distributed.py)

Recipe: env/tasks → offline data → representation + actor → losses → optimiser → train loop with
progress → zero-shot evaluation (z from relabelled rewards, and from the goal) → checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm
from torchrl.objectives import SoftUpdate

from agents.actor import ACTOR_NET_KEYS, make_actor, make_actor_loss, resolve_actor_config
from agents.distributed import any_rank, broadcast_from_main, init_data_parallel, local_batch_size, shared_run_dir
from agents.engine import (
    MultiLogger,
    check_resume_compatible,
    checkpoint_step,
    find_resume_checkpoint,
    latest_checkpoint,
    make_optimizer,
    resolve_device,
    restore_training_state,
    run_entry_point,
    run_updates,
    save_checkpoint,
    seed_everything,
    to_plain,
    training_state,
    write_report,
)
from agents.update import cache_frozen_features, make_update, use_observation_key
from agents.evaluation import evaluate, format_table
from envs import make_dataset, make_task_suite
from representations import make_representation, make_representation_loss
from representations.core.distributed import mean_over_ranks_
from representations.encoders import make_encoder
from representations.encoders.standardize import ObservationStandardizer, fit_standardizer


def train_zeroshot(cfg: DictConfig, run_dir: Path) -> dict[str, dict[str, float]]:
    """Trains and evaluates; returns {mode: {task: score}} (on data-parallel ranks other than 0: {})."""
    seed_everything(cfg.seed)
    dp, device_name = init_data_parallel(cfg.device)  # one process unless launched by torchrun
    device = resolve_device(device_name)
    run_dir = shared_run_dir(run_dir, dp)
    config = to_plain(cfg)

    # 1. Environment family and its evaluation tasks.
    suite = make_task_suite(cfg.env)

    # 2. Offline data: a TorchRL replay buffer of transitions (and a validation split).
    train_rb, val_rb = make_dataset(cfg.dataset)
    batch_size = local_batch_size(cfg.dataset.batch_size, dp)  # this process's share of the global batch

    # 3. Representation (with its observation encoder) and the generic latent-conditioned actor.
    encoder, feature_dim = make_encoder(cfg.encoder, suite.observation_shape)
    representation = make_representation(cfg.representation, feature_dim, suite.action_dim, encoder).to(device)
    actor_cfg = resolve_actor_config(cfg.actor, cfg.env)
    actor = make_actor(actor_cfg, representation, suite.action_dim).to(device)
    if isinstance(encoder, ObservationStandardizer):  # dataset statistics (a resumed run restores its own)
        fit_standardizer(encoder, train_rb, suite.observation_key)
    if cfg.encoder.get("cache_features", False) and cache_frozen_features(encoder, (train_rb, val_rb), device):
        print(
            f"encoder={cfg.encoder.name} is frozen: its features of the {train_rb.arrays['pixels'].shape[0]} "
            f"dataset frames were computed once (encoder.cache_features=false to encode every batch)"
        )

    # 4. Objectives, target networks and one optimiser.
    rep_loss = make_representation_loss(cfg.representation, representation, actor)
    actor_loss = make_actor_loss(actor_cfg, actor, representation)
    for loss in (rep_loss, actor_loss):
        use_observation_key(loss, suite.observation_key)
    target_updater = SoftUpdate(rep_loss, tau=cfg.representation.optim.tau)
    if dp.enabled:  # every rank starts from the same weights
        broadcast_from_main([representation, actor, rep_loss])
    use_cudagraphs = bool(cfg.train.cudagraphs) and device.type == "cuda"
    optimizer = make_optimizer(
        cfg.representation.optim,
        actor_cfg["lr"],
        representation,
        actor,
        capturable=use_cudagraphs,
        flow_lr=actor_cfg.get("flow_lr", 3e-4),
    )

    start_step = 0
    same_run = {"env.name": cfg.env.name, "representation.name": cfg.representation.name, "seed": cfg.seed}
    resume_from = find_resume_checkpoint(cfg.resume, run_dir, same=same_run)
    if resume_from is not None:
        check_resume_compatible(resume_from, config, cfg.train.steps, checkpoint_step(resume_from))
        start_step = restore_training_state(
            resume_from,
            {"representation": representation, "actor": actor},
            optimizer,
            rep_loss,
            device=device,
            samplers={"train": train_rb, "val": val_rb},
        )
        if dp.is_main:
            print(f"resumed from {resume_from} at step {start_step}")
    if dp.enabled:  # one random stream (data, z, noise) per rank, a fresh one after a resume
        stream = hash((cfg.seed, dp.rank, start_step)) % 2**31  # int tuples hash deterministically
        seed_everything(stream)
        train_rb.reseed(stream)

    update = make_update(
        rep_loss,
        actor_loss,
        optimizer,
        target_updater,
        compile=cfg.train.compile,
        cudagraphs=use_cudagraphs,
        precision=cfg.train.precision,
        average_grads=dp.enabled,
    )

    # What `representations.load_pretrained` needs to rebuild the networks without this script.
    checkpoint_config = {
        **config,
        "dims": {"obs_shape": list(suite.observation_shape), "action_dim": suite.action_dim},
        "actor_net": {k: actor_cfg[k] for k in ACTOR_NET_KEYS if k in actor_cfg},
    }

    def checkpoint(step: int) -> Path | None:
        if not dp.is_main:
            return None
        return save_checkpoint(
            run_dir / "checkpoints",
            step=step,
            keep=cfg.train.keep_checkpoints,
            config=checkpoint_config,
            weights={"representation": representation, "actor": actor},
            training_state=training_state(step, optimizer, rep_loss, samplers={"train": train_rb, "val": val_rb}),
        )

    def inference_batch():
        return train_rb.sample(cfg.eval.inference_samples)

    # The learning curve: every evaluation with the training wall time so far (evaluations excluded),
    # kept in curve.json so that a resumed run continues it.
    curve_path = run_dir / "curve.json"
    curve: list[dict] = json.loads(curve_path.read_text()) if resume_from is not None and curve_path.exists() else []
    curve = [point for point in curve if point["step"] <= start_step]
    clock = {"train_seconds": curve[-1]["train_seconds"] if curve else 0.0, "since": time.perf_counter()}

    def train_seconds() -> float:
        return clock["train_seconds"] + time.perf_counter() - clock["since"]

    def own_rng():
        """Random draws inside leave the training stream where it was (the global CPU and, on CUDA, device generators)."""
        return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])

    def run_eval(step: int) -> dict[str, dict[str, float]]:
        seconds = train_seconds()
        # Own generators (z-inference batch, policy noise): how often a run evaluates does not change its weights,
        # and an evaluation depends only on the weights and the seed.
        with own_rng(), train_rb.separate_stream(cfg.seed):
            torch.manual_seed(cfg.seed)
            distances: dict[str, dict[str, float]] = {}
            results = evaluate(
                representation,
                actor,
                suite,
                inference_batch(),
                episodes=cfg.eval.episodes,
                modes=list(cfg.eval.modes),
                seed=cfg.seed,
                final_distances=distances,
            )
        logger.log({f"eval/{mode}/{task}": v for mode, r in results.items() for task, v in r.items()}, step)
        logger.log({f"eval/{mode}/mean": sum(r.values()) / len(r) for mode, r in results.items()}, step)
        logger.log({f"eval/{mode}/final_distance": sum(d.values()) / len(d) for mode, d in distances.items()}, step)
        curve.append(
            {
                "step": step,
                "train_seconds": round(seconds, 3),  # ms: a tiny run must not read 0 s (0 updates/s)
                "results": results,
                **({"final_distance": distances} if distances else {}),
            }
        )
        if dp.is_main:
            curve_path.write_text(json.dumps(curve, indent=1))
        clock["train_seconds"], clock["since"] = seconds, time.perf_counter()  # the evaluation is not training time
        return results

    # 5. Train loop.
    exp_name = f"zeroshot-{cfg.representation.name}-{suite.name}-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger,
        run_dir,
        exp_name,
        config,
        enabled=dp.is_main,
        group=f"zeroshot-{cfg.representation.name}-{suite.name}",
        tags=[cfg.representation.name, cfg.env.family, suite.name, cfg.encoder.name],
    )
    if dp.is_main:
        print(
            f"{exp_name}: observations {suite.observation_key} {list(suite.observation_shape)}, {suite.action_dim}-d actions, "
            f"{len(train_rb)} transitions, device {device}, run folder {run_dir}"
            + (f", {dp.world_size} data-parallel processes x {batch_size} samples" if dp.enabled else "")
        )
    steps = cfg.train.steps

    def validate(metrics):
        """At log steps: the validation losses (their z draws leave training's stream alone); data-parallel runs
        report both over the global batch."""
        rep_loss.eval()
        with torch.no_grad(), own_rng():
            val = rep_loss(val_rb.sample(batch_size).to(device))
        rep_loss.train()
        if dp.enabled:
            metrics, val = metrics.apply(mean_over_ranks_), val.apply(mean_over_ranks_)
        return metrics, {f"val/{k}": v.item() for k, v in val.items() if k.startswith("loss_")}

    def evaluate_and_print(step: int) -> None:
        results = run_eval(step)
        scale, unit = (100.0, "% success") if suite.metric == "success" else (1.0, " mean return")
        tqdm.write(
            f"step {step}: " + ", ".join(f"{m} z {scale * sum(r.values()) / len(r):.1f}{unit}" for m, r in results.items())
        )

    clock["since"] = time.perf_counter()
    run_updates(
        lambda: update(train_rb.sample(batch_size).to(device, non_blocking=True)),
        start=start_step,
        steps=steps,
        log_every=cfg.train.log_every,
        logger=logger,
        checkpoint=checkpoint,
        checkpoint_every=cfg.train.checkpoint_every,
        evaluate=evaluate_and_print,
        eval_every=cfg.train.eval_every,
        validate=validate,
        resume_hint=lambda: (
            f"resume from the last good checkpoint ({latest_checkpoint(run_dir / 'checkpoints')}) with resume=true"
        ),
        is_main=dp.is_main,
        any_rank=lambda flag: any_rank(flag, dp),
    )

    # 6. Final zero-shot evaluation, table, checkpoint (rank 0 only).
    final_ckpt = checkpoint(steps)
    if not dp.is_main:
        return {}
    results = run_eval(steps)
    logger.close()  # before the table, so that wandb's run summary does not bury it
    table = format_table(results, suite.metric, curve[-1].get("final_distance"))
    print(
        f"\nZero-shot evaluation of {cfg.representation.name} on {suite.name} after {steps} updates "
        f"({cfg.eval.episodes} episodes per task):\n{table}\n"
    )
    write_report(
        run_dir,
        {
            "env": suite.name,
            "step": steps,
            "metric": suite.metric,
            "results": results,
            **({"final_distance": curve[-1]["final_distance"]} if "final_distance" in curve[-1] else {}),
            "train_seconds": curve[-1]["train_seconds"],
            "curve": curve,
        },
        table,
    )
    print(f"checkpoint: {final_ckpt}")
    if cfg.get("note"):  # what the recipe is known to reach (an experiment's measured numbers)
        print(cfg.note)
    return results


@hydra.main(version_base="1.3", config_path="../configs", config_name="zeroshot")
def main(cfg: DictConfig) -> None:
    run_entry_point(train_zeroshot, cfg)


if __name__ == "__main__":
    main()
