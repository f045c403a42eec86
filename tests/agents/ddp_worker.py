"""Worker of tests/agents/test_distributed.py: a few zero-shot updates of every representation on
fixed global batches, built with the training code's own pieces.

    torchrun --standalone --nproc_per_node=2 tests/agents/ddp_worker.py <cache_dir> <out_dir>

Each rank trains on its shard of the same global batches; ``run_updates`` with one process is the
single-process reference. The random draws (z, target and actor noise, HILP's random goals) are
taken out — z is given in the batch, noise is zero — so the two must agree up to float rounding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import save_file
from torchrl.objectives import SoftUpdate

from agents.actor import ZeroShotActorLoss, make_actor
from agents.engine import make_optimizer, seed_everything
from agents.update import make_update
from agents.distributed import broadcast_from_main, init_data_parallel, shutdown_data_parallel
from envs import make_dataset, make_task_suite
from representations import make_representation, make_representation_loss
from representations.encoders import make_encoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny import TINY_REPRESENTATION  # noqa: E402

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")
REPRESENTATIONS = ("td_jepa", "fb", "hilp")
# HILP's random goals are a random draw too: off here
TINY = {**TINY_REPRESENTATION, "hilp": [*TINY_REPRESENTATION["hilp"], "representation.loss.random_goal_ratio=0"]}
GLOBAL_BATCH, STEPS = 16, 3


def config(representation: str, cache_dir: str):
    overrides = [
        f"representation={representation}",
        *TINY[representation],
        "env=ogbench",
        "dataset.source=generated",
        "dataset.num_episodes=2",
        "dataset.episode_length=40",
        f"dataset.cache_dir={cache_dir}",
        f"dataset.data_dir={cache_dir}/official",
        f"dataset.batch_size={GLOBAL_BATCH}",
        "actor=td3",
        "actor.hidden_dim=16",
        "actor.noise_std=0",
        "representation.loss.target_noise_std=0",
        "actor.bc_coeff=0.5",
    ]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("zeroshot", overrides=overrides)


def run_updates(representation: str, cache_dir: str, rank: int = 0, world_size: int = 1):
    """Returns (per-step losses of this rank's shard, final weights)."""
    cfg = config(representation, cache_dir)
    seed_everything(0)
    suite = make_task_suite(cfg.env)
    train_rb, _ = make_dataset(cfg.dataset)
    encoder, feature_dim = make_encoder(cfg.encoder, suite.observation_shape)
    model = make_representation(cfg.representation, feature_dim, suite.action_dim, encoder)
    actor = make_actor(cfg.actor, model, suite.action_dim)
    rep_loss = make_representation_loss(cfg.representation, model, actor)
    actor_loss = ZeroShotActorLoss(actor, model, noise_std=0.0, noise_clip=0.0, bc_coeff=cfg.actor.bc_coeff)
    updater = SoftUpdate(rep_loss, tau=cfg.representation.optim.tau)
    if world_size > 1:
        broadcast_from_main([model, actor, rep_loss])
    optimizer = make_optimizer(cfg.representation.optim, cfg.actor.lr, model, actor)
    update = make_update(rep_loss, actor_loss, optimizer, updater, average_grads=world_size > 1)

    train_rb.reseed(123)  # the same global batches on every rank
    z_rng = torch.Generator().manual_seed(7)
    shard = GLOBAL_BATCH // world_size
    losses = []
    for _ in range(STEPS):
        batch = train_rb.sample(GLOBAL_BATCH)
        batch["z"] = (
            torch.nn.functional.normalize(torch.randn(GLOBAL_BATCH, model.z_dim, generator=z_rng), dim=-1) * model.z_dim**0.5
        )
        metrics = update(batch[rank * shard : (rank + 1) * shard])
        losses.append({k: v.item() for k, v in metrics.items() if k.startswith("loss_")})
    weights = {f"representation.{k}": v for k, v in model.state_dict().items()}
    weights.update({f"actor.{k}": v for k, v in actor.state_dict().items()})
    weights.update({f"target.{k}": v for k, v in rep_loss.state_dict().items() if k.startswith("target_")})
    return losses, {k: v.detach().clone().contiguous() for k, v in weights.items()}


def main(cache_dir: str, out_dir: str) -> None:
    import json

    dp, _ = init_data_parallel("cpu")
    out = Path(out_dir)
    for representation in REPRESENTATIONS:
        losses, weights = run_updates(representation, cache_dir, dp.rank, dp.world_size)
        (out / f"{representation}-losses-rank{dp.rank}.json").write_text(json.dumps(losses))
        save_file(weights, str(out / f"{representation}-weights-rank{dp.rank}.safetensors"))
    shutdown_data_parallel()


if __name__ == "__main__":
    main(*sys.argv[1:3])
