"""T-JEPA on tables (``python -m agents.pretrain objective=t_jepa data=table data.name=breast_cancer``).

Recipe: table (split, standardised) → T-JEPA + MSE loss to an EMA target on the full row (momentum rising
0.996 → 1.0) → AdamW with warm-up + cosine → train loop with progress → downstream models on the test rows:
an MLP on the raw features, on the frozen embeddings of the EMA encoder (the official downstream input), and
on a random-init encoder's embeddings (reference), plus a GBDT (scikit-learn HistGradientBoosting) on the
raw features (early-stopped on the val rows) → checkpoint (``encoder=t_jepa encoder.checkpoint=<run>`` reads it).
Classification reports accuracy, regression RMSE in the target's units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tensordict import TensorDict
from torch import nn

from agents.engine.checkpoint import PretrainCheckpoints
from agents.engine import (
    MultiLogger,
    make_adamw_schedule,
    resolve_device,
    seed_everything,
    write_report,
    to_plain,
    train_stage,
)
from envs.buffer import epoch_sampler
from agents.probes import accuracy, fit_regressor, mlp_head
from data.tables import load_table, raw_features
from representations.core.targets import ScheduledSoftUpdate
from representations.t_jepa import TJEPA, TJEPALoss
from representations.t_jepa.encoder import build_t_jepa, embedding_model


@torch.no_grad()
def embed(model: nn.Module, split: TensorDict, pool: str, device: torch.device, chunk: int = 1024) -> torch.Tensor:
    """Frozen embeddings [N, F] of a split's rows (``pool``: mean | flatten of the tokens)."""
    model.eval()
    out = []
    for start in range(0, len(split), chunk):
        part = split[start : start + chunk].to(device)
        out.append(model.encode(part["observation"], part.get("categorical", None), pool=pool).float().cpu())
    return torch.cat(out)


def mlp_score(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    info: dict[str, Any],
    probe_cfg: DictConfig,
) -> float:
    """Test accuracy (classification) or RMSE in target units (regression) of an MLP selected on the val rows."""
    if info["task"] == "classification":
        head = mlp_head(train_x.shape[1], info["num_classes"], probe_cfg.hidden_dim)
        predict = fit_regressor(
            head,
            train_x,
            train_y,
            val_x=val_x,
            val_y=val_y,
            steps=probe_cfg.steps,
            loss_fn=nn.functional.cross_entropy,
            score_fn=accuracy,
        )
        return accuracy(predict(test_x), test_y)
    head = mlp_head(train_x.shape[1], 1, probe_cfg.hidden_dim)
    predict = fit_regressor(head, train_x, train_y[:, None], val_x=val_x, val_y=val_y[:, None], steps=probe_cfg.steps)
    return rmse(predict(test_x)[:, 0], test_y, info)


def rmse(prediction: torch.Tensor, target: torch.Tensor, info: dict[str, Any]) -> float:
    """Root mean squared error in the target's units (targets are standardised with the train statistics)."""
    return ((prediction - target).square().mean().sqrt() * info["target_std"]).item()


def gbdt_score(train: TensorDict, val: TensorDict, test: TensorDict, info: dict[str, Any], seed: int) -> float:
    """HistGradientBoosting on the raw columns (categorical codes as native categories), early-stopped on the
    val rows (up to 500 iterations; stops after 20 without improvement)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    def columns(split: TensorDict):
        parts = [split["observation"].double()] + ([split["categorical"].double()] if "categorical" in split.keys() else [])
        return torch.cat(parts, dim=1).numpy()

    n_num = train["observation"].shape[1]
    categorical = [n_num + j for j in range(len(info["cardinalities"]))] or None
    classify = info["task"] == "classification"
    kind = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    model = kind(max_iter=500, categorical_features=categorical, early_stopping=True, n_iter_no_change=20, random_state=seed)
    model.fit(columns(train), train["target"].numpy(), X_val=columns(val), y_val=val["target"].numpy())
    predicted = torch.as_tensor(model.predict(columns(test)))
    if classify:
        return (predicted == test["target"]).double().mean().item()
    return rmse(predicted.float(), test["target"], info)


def labelled_subset(train: TensorDict, fraction: float, task: str, seed: int) -> TensorDict:
    """The train rows whose labels the downstream models see (a ``probe.label_fractions`` share), with their indices
    in ``row``: a seeded draw, stratified by class for classification, at least one row per class. Pretraining uses
    every train row."""
    every = train.clone(False)
    every["row"] = torch.arange(len(train))
    if fraction >= 1:
        return every
    generator = torch.Generator().manual_seed(seed)
    if task != "classification":
        rows = torch.randperm(len(train), generator=generator)[: max(round(fraction * len(train)), 2)]
    else:  # per class: its share, at least one row
        labels = train["target"]
        rows = torch.cat(
            [
                members[torch.randperm(len(members), generator=generator)[: max(round(fraction * len(members)), 1)]]
                for members in (torch.nonzero(labels == c).flatten() for c in labels.unique())
            ]
        )
    return every[rows.sort().values]


def downstream(
    model: TJEPA, random_model: TJEPA, splits: dict[str, TensorDict], info: dict[str, Any], cfg: DictConfig, device: torch.device
) -> dict[str, float]:
    """The downstream table: every model scored on the test rows (accuracy ↑ or RMSE ↓), fitted on each labelled
    share of the train rows (``probe.label_fractions``; model selection on the whole val split, for every model
    alike). Keys of a share below 1 end in ``_<percent>pct``."""
    metric = "accuracy" if info["task"] == "classification" else "rmse"
    pool = cfg.objective.pool
    y = {k: s["target"] for k, s in splits.items()}
    inputs = {  # every row's inputs of each model, computed once
        "mlp_raw": {k: raw_features(s, info["cardinalities"]) for k, s in splits.items()},
        "mlp_t_jepa": {k: embed(model, s, pool, device) for k, s in splits.items()},
        "mlp_random_init": {k: embed(random_model, s, pool, device) for k, s in splits.items()},
    }
    scores: dict[str, float] = {}
    for fraction in sorted(set(cfg.probe.label_fractions), reverse=True):
        suffix = "" if fraction >= 1 else f"_{fraction * 100:g}pct"
        rows = labelled_subset(splits["train"], fraction, info["task"], cfg.seed)
        chosen = rows["row"]
        scores[f"labelled_train_rows{suffix}"] = len(rows)
        for name, x in inputs.items():
            scores[f"{name}_{metric}{suffix}"] = mlp_score(
                x["train"][chosen], y["train"][chosen], x["val"], y["val"], x["test"], y["test"], info, cfg.probe
            )
        scores[f"gbdt_raw_{metric}{suffix}"] = gbdt_score(rows, splits["val"], splits["test"], info, cfg.seed)
    return scores


def pretrain_table(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)
    rep = cfg.objective
    if cfg.data.get("kind") != "table":
        raise ValueError(f"objective={rep.name} pretrains on tables: use data=table (got data={cfg.data.name})")

    # 1. Data: a table split into train / val / test rows, numeric columns standardised, categories coded.
    train, val, test, info = load_table(cfg.data, cfg.get("dataset"))
    if min(len(train), len(val), len(test)) == 0:
        raise ValueError(
            f"table {info['name']} has an empty split ({info['sizes']}): use a bigger table or other "
            "data.val_fraction / data.test_fraction"
        )
    sampler = epoch_sampler(train.exclude("target"), cfg.dataset.batch_size)  # epochs over the train rows

    # 2. Model, objective with its EMA target, optimiser (a random-init twin is kept as the reference).
    dims = {
        "num_numeric": train["observation"].shape[1],
        "cardinalities": info["cardinalities"],
        "numeric_mean": info["numeric_mean"],
        "numeric_std": info["numeric_std"],
    }
    model = build_t_jepa(rep, dims).to(device)
    random_model = build_t_jepa(rep, dims).to(device)
    random_model.load_state_dict(model.state_dict())
    masks = rep.masks
    loss_module = TJEPALoss(
        model,
        context_share=tuple(masks.context_share),
        target_share=tuple(masks.target_share),
        num_targets=masks.num_targets,
        seed=cfg.seed,
    ).to(device)
    steps = int(cfg.train.steps)
    updater = ScheduledSoftUpdate(loss_module, steps, *(float(m) for m in rep.ema))  # 0.996 → 1.0 (official)
    optimizer, scheduler = make_adamw_schedule(rep.optim, model, steps)
    weights = {"model": model, "target": loss_module.target_encoder}
    checkpoint_config = {**config, "dims": dims, "table": {k: v for k, v in info.items() if k != "categories"}}

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
    start = updater.done = checkpoints.resume(
        cfg, run_dir, {"seed": cfg.seed, "data.name": cfg.data.name, "objective.name": rep.name}, device
    )

    # 3. Train loop.
    exp_name = f"pretrain-{rep.name}-{info['name']}-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger,
        run_dir,
        exp_name,
        config,
        group=f"pretrain-{rep.name}-{info['name']}",
        tags=[rep.name, "table", info["name"], "pretrain"],
    )
    print(
        f"{exp_name}: table {info['name']} ({info['task']}), {len(info['numeric_columns'])} numeric + "
        f"{len(info['categorical_columns'])} categorical columns, rows train/val/test {len(train)}/{len(val)}/{len(test)}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.3f}M parameters"
    )
    model.train()
    collapse: list[dict] = []
    seconds = train_stage(
        cfg.train,
        lambda: loss_module(sampler.sample().to(device)),
        optimizer,
        device=device,
        start=start,
        steps=steps,
        logger=logger,
        loss_key="loss_prediction",
        scheduler=scheduler,
        target_updater=updater,
        checkpoint=checkpoints.save,
        history=collapse,
    ).seconds
    final = checkpoints.save(steps)

    # 4. Downstream models on the test rows (embeddings from the EMA target encoder, as the official code).
    results: dict[str, Any] = {
        "step": steps,
        "training_seconds": seconds,
        "table": info["name"],
        "task": info["task"],
        "sizes": info["sizes"],
        "collapse": collapse,
    }
    if info["task"] == "none":
        print(f"table {info['name']} has no label: no downstream models (use encoder=t_jepa encoder.checkpoint={run_dir})")
    else:
        scores = downstream(
            embedding_model(model, loss_module.target_encoder),
            random_model,
            {"train": train, "val": val, "test": test},
            info,
            cfg,
            device,
        )
        results.update(scores)
        logger.log({f"downstream/{k}": v for k, v in scores.items()}, steps)
    logger.close()
    lines = [f"| {k} | {v:.4f} |" for k, v in results.items() if isinstance(v, float) and k != "training_seconds"]
    table = "\n".join(["| model (test rows) | score |", "|---|---|", *lines])
    print(f"\nT-JEPA on {info['name']} after {steps} updates:\n{table}\ncheckpoint: {final}")
    write_report(run_dir, results, table)
    return results
