"""Self-supervised pretraining of a representation on its own data, then frozen probes.

    python -m agents.pretrain representation=seq_jepa data=views3d [representation.action_conditioning=false]
        [representation.views=3] [train.steps=2000] [eval.views=[1,3,5]] [seed=1]

Recipe (seq-JEPA on rendered object views): views dataset (generated once, cached) → sequences of
M + 1 views and the relative rotations between them → model + 1 − cos loss with an EMA target →
AdamW with warm-up + cosine → train loop with progress → probes on the frozen model:
invariance (linear top-1 of the aggregate of M_val views), equivariance (R² of the relative rotation
from a pair of view encodings; R² of the individual rotation from one) → checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate
from tqdm.auto import tqdm

from agents.checkpoint import save_checkpoint, training_state
from agents.common import (
    USER_ERRORS, MultiLogger, check_finite, exit_with_user_error, make_adamw_schedule, resolve_device, seed_everything,
    to_plain,
)
from agents.probes import linear_probe_accuracy, regression_r2
from envs.view_sequences import ViewSequenceSampler, action_dim, sequence_batch
from envs.views3d import load_views3d, relative_rotation
from representations.seq_jepa import SeqJEPA, SeqJEPALoss

MODEL_KEYS = ("feature_dim", "channels", "action_embed_dim", "layers", "heads", "mlp_ratio", "predictor_hidden_dim",
              "action_conditioning")


@torch.no_grad()
def frozen_features(model: SeqJEPA, data: TensorDict, m_views: int, device: torch.device, chunk: int = 256) -> dict[str, torch.Tensor]:
    """Probe inputs and targets on the frozen model: per instance, the aggregate of its first
    ``m_views`` views (with its label); per pair of views (0, 1), (2, 3), ... the concatenated pair
    of encodings (with their relative rotation); per view its encoding (with its rotation)."""
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("aggregate", "pair", "single")}
    total = data["pixels"].shape[1]
    pairs = total // 2
    for start in range(0, len(data), chunk):
        part = data[start:start + chunk]
        seq = sequence_batch(part, torch.arange(len(part)), torch.arange(total).expand(len(part), -1)).to(device)
        encodings = model.encoder(seq["views"])  # [B, V, F], views in stored order
        out["aggregate"].append(model.aggregate(seq["views"][:, :m_views], seq["actions"][:, :m_views - 1],
                                                view_features=encodings[:, :m_views]).cpu())
        out["pair"].append(encodings[:, : 2 * pairs].reshape(len(part) * pairs, -1).cpu())
        out["single"].append(encodings.reshape(-1, encodings.shape[-1]).cpu())
    rotation = data["rotation"]
    return {
        **{k: torch.cat(v) for k, v in out.items()},
        "label": data["label"],
        "relative_rotation": relative_rotation(rotation[:, 0:2 * pairs:2], rotation[:, 1:2 * pairs:2]).reshape(-1, 4),
        "rotation": rotation.reshape(-1, 4),
    }


def seq_jepa_probes(model: SeqJEPA, train: TensorDict, val: TensorDict, test: TensorDict, eval_views: list[int], probe_cfg,
               device) -> dict[str, float]:
    """Probes fit on the train split, selected on the validation split (regressors), scored on the test split."""
    model.eval()
    results = {}
    for m in eval_views:
        tr, te = frozen_features(model, train, m, device), frozen_features(model, test, m, device)
        results[f"top1_views{m}"] = linear_probe_accuracy(tr["aggregate"], tr["label"], te["aggregate"], te["label"],
                                                          steps=probe_cfg.steps)
    va = frozen_features(model, val, 1, device) if len(val) else None  # tiny datasets may have no validation split
    for name, x, y in (("relative_rotation_r2", "pair", "relative_rotation"), ("rotation_r2", "single", "rotation")):
        results[name] = regression_r2(tr[x], tr[y], te[x], te[y], val_x=va[x] if va else None, val_y=va[y] if va else None,
                                      hidden_dim=probe_cfg.hidden_dim, steps=probe_cfg.steps)
    return results


def pretrain(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)
    rep = cfg.representation
    if rep.name != "seq_jepa":
        raise ValueError(f"agents.pretrain trains representation=seq_jepa; got {rep.name!r}")
    if cfg.data.name != "views3d":
        raise ValueError(f"data={cfg.data.name} is not available yet for seq-JEPA pretraining; use data=views3d")
    total_views = cfg.data.views_per_instance
    if max(cfg.eval.views) > total_views or rep.views >= total_views:
        raise ValueError(f"instances have data.views_per_instance={total_views} views: representation.views must be "
                         f"< {total_views} and eval.views <= {total_views}")

    # 1. Data: instances of rendered views, split by instance; sequences of M + 1 views.
    train, val, test, info = load_views3d(cfg.data)
    sampler = ViewSequenceSampler(train, observed_views=rep.views, batch_size=cfg.train.batch_size, seed=cfg.seed)

    # 2. Model, objective (EMA target encoder driven by SoftUpdate), optimiser.
    model = SeqJEPA(action_dim(train), **{k: (tuple(rep[k]) if k == "channels" else rep[k]) for k in MODEL_KEYS}).to(device)
    loss_module = SeqJEPALoss(model)
    target_updater = SoftUpdate(loss_module, eps=rep.ema)
    steps = cfg.train.steps
    optimizer, scheduler = make_adamw_schedule(rep.optim, model, steps)
    checkpoint_config = {**config, "dims": {"action_dim": action_dim(train)}}

    def checkpoint(step: int) -> Path:
        return save_checkpoint(run_dir / "checkpoints", step=step, keep=cfg.train.keep_checkpoints, config=checkpoint_config,
                               weights={"model": model}, training_state=training_state(step, optimizer, loss_module, scheduler))

    # 3. Train loop.
    exp_name = f"pretrain-{rep.name}-{cfg.data.name}-seed{cfg.seed}"
    logger = MultiLogger(cfg.logger, run_dir, exp_name, config, group=f"pretrain-{rep.name}-{cfg.data.name}",
                         tags=[rep.name, cfg.data.name, "pretrain"])
    print(f"{exp_name}: {info['instances']} instances x {total_views} views ({len(train)} train), M={rep.views}, "
          f"action conditioning {rep.action_conditioning}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    model.train()
    progress = tqdm(range(steps), desc="pretrain", unit="update", dynamic_ncols=True)
    for step in progress:
        losses = loss_module(sampler.sample().to(device))
        optimizer.zero_grad(set_to_none=True)
        losses["loss_prediction"].backward()
        optimizer.step()
        scheduler.step()
        target_updater.step()
        done = step + 1
        if done % cfg.train.log_every == 0 or done == steps:
            check_finite(losses, done, "lower representation.optim.lr")
            logger.log({f"train/{k}": v.item() for k, v in losses.items()}, done)
            tqdm.write(f"step {done}: " + " ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
                       + f" ({progress.format_dict.get('rate') or 0.0:.1f} updates/s)")
        if cfg.train.checkpoint_every and done % cfg.train.checkpoint_every == 0:
            checkpoint(done)
    progress.close()
    training_seconds = progress.format_dict.get("elapsed", 0.0)

    # 4. Frozen probes on the test split, 5. checkpoint and results.
    final = checkpoint(steps)
    probes = seq_jepa_probes(model, train, val, test, list(cfg.eval.views), cfg.probe, device)
    logger.log({f"probe/{k}": v for k, v in probes.items()}, steps)
    logger.close()
    results = {"step": steps, **probes, "training_seconds": training_seconds, "views": rep.views,
               "action_conditioning": rep.action_conditioning, "data": info}
    lines = [f"| {k} | {v:.3f} |" for k, v in probes.items()]
    table = "\n".join(["| probe | value |", "|---|---|", *lines])
    print(f"\nseq-JEPA probes after {steps} updates (test split, {len(test)} instances):\n{table}\ncheckpoint: {final}")
    (run_dir / "eval.json").write_text(json.dumps(results, indent=2, default=str))
    (run_dir / "eval.md").write_text(table + "\n")
    return results


@hydra.main(version_base="1.3", config_path="../configs", config_name="pretrain")
def main(cfg: DictConfig) -> None:
    try:
        pretrain(cfg, Path(HydraConfig.get().runtime.output_dir))
    except USER_ERRORS as err:
        exit_with_user_error(err)


if __name__ == "__main__":
    main()
