"""AD-L-JEPA and its Occupancy-MAE baseline on LiDAR BEV grids
(``python -m agents.pretrain objective=ad_l_jepa|occupancy_mae data=lidar [data.source=scenes|maze]``).

Recipe: BEV grids ray-cast here (data/lidar.py: procedural street scenes with per-cell labels, or the OGBench
maze at the offline dataset's positions) → model + objective (AD-L-JEPA: cosine loss to an EMA target on the
masked points + variance hinge; Occupancy-MAE: occupancy of the masked cells) → AdamW with warm-up + cosine →
train loop with progress → checkpoint → downstream:
- scenes: BEV segmentation (background, car, pedestrian, cyclist, wall/pole) with a small head on 1 / 10 / 100 %
  of the labelled train scenes (``data.downstream.fractions``), the pretrained encoder fine-tuned with it
  and/or frozen (``data.downstream.modes``), model selected on the val scenes, mIoU over the four object
  classes on the test scenes; ``train.steps=0`` is the same backbone trained from scratch (the paper's
  "scratch" row; frozen, a random-feature probe);
- maze: the scans an ``env.obs=lidar`` agent sees (the offline dataset's cached scans); ridge probe of the
  agent's xy position from the frozen pooled features (R²).
Both report collapse checks of the frozen features: their spread (std) and effective rank.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from tensordict import TensorDict
from torch import nn

from agents.engine.checkpoint import PretrainCheckpoints
from agents.engine import (
    MultiLogger,
    make_adamw_schedule,
    gradient_step,
    resolve_device,
    run_updates,
    seed_everything,
    write_report,
    to_plain,
    train_stage,
)
from envs.buffer import epoch_sampler
from agents.probes import class_iou, ridge_r2_per_dim
from representations.ad_l_jepa import ADLJEPALoss, OccupancyMAELoss
from representations.ad_l_jepa.encoder import build_lidar_model
from representations.ad_l_jepa.model import BEVTokenEncoder
from representations.core.targets import ScheduledSoftUpdate

SOURCES = ("scenes", "maze")


# ----------------------------------------------------------------------------------------------------- data
def maze_scans(data_cfg: DictConfig, env_cfg: DictConfig, dataset_cfg: DictConfig):
    """(train, val, test, info) of the LiDAR grids an ``env.obs=lidar`` agent sees in the OGBench maze: the offline
    dataset's own cached scans (``envs/ogbench/buffer.py``) at ``data.positions`` rows of its train split (val /
    test: a sixth each from its validation split), with the agent's xy as the probe target."""
    from omegaconf import OmegaConf

    from envs import make_dataset
    from data.lidar import MAZE_GRID
    from envs.ogbench.env import check_obs

    if env_cfg.get("family") != "ogbench":
        raise ValueError(f"data.source=maze scans an OGBench maze: use env=ogbench (got env={env_cfg.get('family')})")
    check_obs("lidar", str(env_cfg.name))
    dataset_cfg = OmegaConf.merge(dataset_cfg, {"obs": "lidar"})
    train_rb, val_rb = make_dataset(dataset_cfg)
    n = int(data_cfg.positions)

    def scans(buffer, count: int) -> TensorDict:
        batch = buffer.sample(count)
        return TensorDict({"bev": batch["lidar"].float(), "xy": batch["qpos"][:, :2].float()}, batch_size=[count])

    held_out = scans(val_rb, 2 * max(n // 6, 1))
    half = len(held_out) // 2
    info = {"source": "maze", "env": str(env_cfg.name), "channels": list(MAZE_GRID.channels)}
    return scans(train_rb, n), held_out[:half], held_out[half:], info


def load_lidar(cfg: DictConfig) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    source = str(cfg.data.get("source", "scenes"))
    if source not in SOURCES:
        raise ValueError(f"unknown data.source={source!r} for data=lidar; choose one of {list(SOURCES)}")
    if source == "maze":
        return maze_scans(cfg.data, cfg.env, cfg.dataset)
    from data.lidar import make_lidar_scenes

    train, val, test, info = make_lidar_scenes(cfg.data)
    return train, val, test, {"source": "scenes", **info}


# ---------------------------------------------------------------------------------------------- downstream
@torch.no_grad()
def pooled_features(encoder: BEVTokenEncoder, bev: torch.Tensor, device: torch.device, chunk: int = 256) -> torch.Tensor:
    encoder.eval()
    return torch.cat([encoder.encode_pooled(bev[i : i + chunk].to(device)).float().cpu() for i in range(0, len(bev), chunk)])


def collapse_checks(features: torch.Tensor) -> dict[str, float]:
    """Spread of frozen features over samples (mean per-dimension std) and their effective rank
    (exp of the entropy of the normalised singular values; 1 = collapsed to a line)."""
    centred = features - features.mean(0)
    singular = torch.linalg.svdvals(centred.double())
    p = singular / singular.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return {"feature_std": features.std(0).mean().item(), "effective_rank": math.exp(entropy.item())}


class SegmentationHead(nn.Module):
    """BEV token map [B, C, H/s, W/s] → per-cell class logits [B, K, H, W]: a transposed conv back to the input
    grid, BN + ReLU, 1×1 conv."""

    def __init__(self, channels: int, downsample: int, num_classes: int, hidden: int = 32) -> None:
        super().__init__()
        up = (
            nn.ConvTranspose2d(channels, hidden, downsample, stride=downsample)
            if downsample > 1
            else nn.Conv2d(channels, hidden, 1)
        )
        self.net = nn.Sequential(up, nn.BatchNorm2d(hidden), nn.ReLU(), nn.Conv2d(hidden, num_classes, 1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net(tokens)


def segmentation_iou(logits_fn, bev: torch.Tensor, labels: torch.Tensor, num_classes: int, chunk: int = 128) -> torch.Tensor:
    """IoU per class [K] over all cells of the given scenes (NaN for a class absent from labels and predictions)."""
    with torch.no_grad():
        predicted = torch.cat([logits_fn(bev[i : i + chunk]).argmax(1).cpu() for i in range(0, len(bev), chunk)])
    return class_iou(predicted, labels, num_classes)


@torch.no_grad()
def token_maps(encoder: BEVTokenEncoder, bev: torch.Tensor, device: torch.device, chunk: int = 128) -> torch.Tensor:
    """The frozen encoder's token maps [N, C, H/s, W/s] of BEV grids, stored as float16 on the CPU."""
    encoder.eval()
    return torch.cat([encoder.encode(bev[i : i + chunk].to(device)).half().cpu() for i in range(0, len(bev), chunk)])


def finetune_segmentation(
    encoder: BEVTokenEncoder,
    splits: dict[str, TensorDict],
    fraction: float,
    cfg: DictConfig,
    classes: list[str],
    device: torch.device,
    seed: int,
    *,
    frozen_tokens: dict[str, torch.Tensor] | None = None,
    logger: MultiLogger | None = None,
) -> dict[str, Any]:
    """Trains :class:`SegmentationHead` on ``fraction`` of the train scenes — with a copy of ``encoder`` fine-tuned
    alongside, or on its frozen token maps (``frozen_tokens`` of every split, :func:`token_maps`: a probe of the
    representation itself) — with class-balanced cross-entropy (weights ∝ 1/√frequency), keeps the state with the
    best val mIoU (checked every ``eval_every`` steps) and returns its test IoUs."""
    down = cfg.data.downstream
    frozen = frozen_tokens is not None
    generator = torch.Generator().manual_seed(seed)
    train = splits["train"]
    count = max(1, round(fraction * len(train)))
    chosen = torch.randperm(len(train), generator=generator)[:count]
    subset = train[chosen]
    num_classes = len(classes)
    model = nn.ModuleDict({"head": SegmentationHead(encoder.channels, encoder.downsample, num_classes)})
    if not frozen:  # the copy that is fine-tuned
        model["encoder"] = copy.deepcopy(encoder)
    model = model.to(device)
    frequency = torch.bincount(subset["segmentation"].reshape(-1), minlength=num_classes).double() + 1.0
    weight = (frequency.sum() / frequency).sqrt()
    weight = (weight / weight.mean()).float().to(device)
    trained = model["head"] if frozen else model
    optimizer = torch.optim.AdamW(trained.parameters(), lr=float(down.lr), weight_decay=1e-4)
    if frozen:  # the head reads the stored token maps
        inputs = {"train": frozen_tokens["train"][chosen], "val": frozen_tokens["val"], "test": frozen_tokens["test"]}
    else:
        inputs = {"train": subset["bev"], "val": splits["val"]["bev"], "test": splits["test"]["bev"]}

    def logits(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device)
        return model["head"](x.float() if frozen else model["encoder"].encode(x))

    def foreground_miou(name: str, labels: torch.Tensor) -> tuple[float, torch.Tensor]:
        trained.eval()
        iou = segmentation_iou(logits, inputs[name], labels, num_classes)
        trained.train()
        return torch.nanmean(iou[1:]).item(), iou  # class 0 (background / ground) is most of the grid

    best = {"miou": -math.inf, "state": copy.deepcopy(model.state_dict())}
    steps, batch, every = int(down.steps), min(int(down.batch_size), count), int(down.eval_every)

    def losses_of_batch() -> TensorDict:
        index = torch.randint(0, count, (batch,), generator=generator)
        return TensorDict(
            {
                "loss_segmentation": F.cross_entropy(
                    logits(inputs["train"][index]), subset["segmentation"][index].to(device), weight=weight
                )
            },
            [],
        )

    def select(step: int) -> None:  # keep the state with the best val mIoU
        nonlocal best
        miou, _ = foreground_miou("val", splits["val"]["segmentation"])
        if miou > best["miou"]:
            best = {"miou": miou, "state": copy.deepcopy(model.state_dict()), "step": step}

    trained.train()
    run_updates(
        gradient_step(losses_of_batch, optimizer),
        start=0,
        steps=steps,
        log_every=every,
        logger=logger,
        evaluate=select,
        eval_every=every,
        stage=f"finetune_{'frozen' if frozen else 'encoder'}_{fraction:g}",
    )
    if steps:
        select(steps)  # the loop evaluates every `every` updates but leaves the last to the recipe
    model.load_state_dict(best["state"])
    test_miou, iou = foreground_miou("test", splits["test"]["segmentation"])
    return {
        "miou": test_miou,
        "val_miou": best["miou"],
        "best_step": best.get("step", 0),
        "train_scenes": count,
        "iou": {name: (None if math.isnan(v) else v) for name, v in zip(classes, iou.tolist())},
    }


def downstream(
    encoder: BEVTokenEncoder,
    splits: dict[str, TensorDict],
    info: dict,
    cfg: DictConfig,
    device: torch.device,
    logger: MultiLogger | None = None,
) -> dict[str, Any]:
    if info["source"] == "maze":
        x = {k: pooled_features(encoder, s["bev"], device) for k, s in splits.items()}
        results: dict[str, Any] = collapse_checks(x["test"])
        r2 = ridge_r2_per_dim(
            x["train"], splits["train"]["xy"], x["test"], splits["test"]["xy"], val_x=x["val"], val_y=splits["val"]["xy"]
        )
        results.update(position_r2=r2.mean().item(), position_r2_x=r2[0].item(), position_r2_y=r2[1].item())
        return results
    results = collapse_checks(pooled_features(encoder, splits["test"]["bev"], device))
    modes = list(cfg.data.downstream.get("modes", ["finetune"]))
    unknown = sorted(set(modes) - {"finetune", "frozen"})
    if unknown:
        raise ValueError(f"unknown data.downstream.modes {unknown}; use finetune and/or frozen")
    for mode in modes:
        # frozen: every scene is encoded once, and each label share trains a head on its token maps
        tokens = {k: token_maps(encoder, s["bev"], device) for k, s in splits.items()} if mode == "frozen" else None
        per_fraction = {}
        for fraction in cfg.data.downstream.fractions:
            scores = finetune_segmentation(
                encoder, splits, float(fraction), cfg, info["classes"], device, cfg.seed, frozen_tokens=tokens, logger=logger
            )
            key = f"{float(fraction) * 100:g}pct"
            per_fraction[key] = scores
            results[f"miou_{key}" if mode == "finetune" else f"miou_frozen_{key}"] = scores["miou"]
            print(
                f"segmentation ({'encoder fine-tuned' if mode == 'finetune' else 'frozen encoder'}) on "
                f"{scores['train_scenes']} scenes ({key}): test mIoU {scores['miou']:.3f}"
            )
        results["segmentation" if mode == "finetune" else "segmentation_frozen"] = per_fraction
    return results


# ------------------------------------------------------------------------------------------------- recipe
def pretrain_lidar(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)
    rep = cfg.objective
    if cfg.data.get("kind") != "lidar":
        raise ValueError(f"objective={rep.name} pretrains on LiDAR BEV grids: use data=lidar (got data={cfg.data.name})")

    # 1. Data: BEV grids (and labels), split by scene.
    train, val, test, info = load_lidar(cfg)
    if min(len(train), len(val), len(test)) == 0:
        raise ValueError(
            f"data=lidar has an empty split (train/val/test {len(train)}/{len(val)}/{len(test)}): use more "
            "data.scenes (data.positions) or larger data.val_fraction / data.test_fraction"
        )
    in_channels, grid_shape = train["bev"].shape[1], list(train["bev"].shape[1:])
    sampler = epoch_sampler(train.select("bev"), cfg.dataset.batch_size)  # epochs over the train scenes

    # 2. Model, objective (AD-L-JEPA with its EMA target, or Occupancy-MAE), optimiser.
    model = build_lidar_model(rep, in_channels).to(device)
    if rep.name == "ad_l_jepa":
        loss_module = ADLJEPALoss(model, seed=cfg.seed, **dict(rep.loss)).to(device)
        loss_key, weights = ("loss_jepa", "loss_variance"), {"model": model, "target": loss_module.target_encoder}
    else:
        loss_module = OccupancyMAELoss(model, seed=cfg.seed, **dict(rep.loss)).to(device)
        loss_key, weights = ("loss_occupancy",), {"model": model}
    steps = int(cfg.train.steps)
    # AD-L-JEPA's EMA momentum rises 0.996 → 1 over training (official); Occupancy-MAE has no target
    updater = ScheduledSoftUpdate(loss_module, steps, *(float(m) for m in rep.ema)) if rep.get("ema") else None
    optimizer, scheduler = make_adamw_schedule(rep.optim, model, max(steps, 1))
    dims = {"in_channels": in_channels, "grid_shape": grid_shape}
    checkpoint_config = {**config, "dims": dims, "data_info": {k: v for k, v in info.items() if k != "cache_dir"}}

    checkpoints = PretrainCheckpoints(
        run_dir,
        cfg.train,
        config=checkpoint_config,
        weights=weights,
        optimizer=optimizer,
        loss_module=loss_module,
        scheduler=scheduler,
        sampler=sampler,
    )
    start = checkpoints.resume(
        cfg, run_dir, {"seed": cfg.seed, "data.source": info["source"], "objective.name": rep.name}, device
    )
    if updater is not None:
        updater.done = start

    # 3. Train loop (both losses of AD-L-JEPA are summed for the backward; each is logged).
    source = info["source"] if info["source"] == "scenes" else f"maze-{info['env']}"
    exp_name = f"pretrain-{rep.name}-lidar-{source}-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger,
        run_dir,
        exp_name,
        config,
        group=f"pretrain-{rep.name}-lidar-{source}",
        tags=[rep.name, "lidar", source, "pretrain"],
    )
    print(
        f"{exp_name}: BEV grids {grid_shape}, train/val/test {len(train)}/{len(val)}/{len(test)} scenes, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.3f}M parameters"
    )

    def losses_of_batch() -> TensorDict:
        losses = loss_module(sampler.sample().to(device))
        losses["loss"] = sum(losses[k] for k in loss_key)
        return losses

    model.train()
    collapse: list[dict] = []
    seconds = train_stage(
        cfg.train,
        losses_of_batch,
        optimizer,
        device=device,
        start=start,
        steps=steps,
        logger=logger,
        loss_key="loss",
        scheduler=scheduler,
        target_updater=updater,
        checkpoint=checkpoints.save,
        history=collapse,
    ).seconds
    final = checkpoints.save(steps)

    # 4. Downstream (AD-L-JEPA: its EMA target backbone, as the frozen encoder of agents), 5. results.
    encoder = loss_module.ema_encoder() if rep.name == "ad_l_jepa" else copy.deepcopy(model.encoder)
    scores = downstream(encoder, {"train": train, "val": val, "test": test}, info, cfg, device, logger)
    logger.log({f"downstream/{k}": v for k, v in scores.items() if isinstance(v, float)}, steps)
    logger.close()
    results = {
        "step": steps,
        "training_seconds": seconds,
        "collapse": collapse,
        **scores,
        "data": {k: v for k, v in info.items() if k != "cache_dir"},
    }
    rows = [f"| {k} | {v:.4f} |" for k, v in scores.items() if isinstance(v, float)]
    table = "\n".join(["| downstream (test scenes) | score |", "|---|---|", *rows])
    print(f"\n{rep.name} on LiDAR {source} after {steps} updates:\n{table}\ncheckpoint: {final}")
    write_report(run_dir, results, table)
    return results
