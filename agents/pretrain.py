"""Self-supervised pretraining of a representation on its own data, then frozen probes.

    python -m agents.pretrain objective=seq_jepa data=views3d [objective.action_conditioning=false]
        [objective.views=3] [train.steps=2000] [eval.views=[1,3,5]] [seed=1]
    python -m agents.pretrain data=trajectories env=ogbench [env.name=pointmaze-medium-navigate] [data.views=pixels]
    python -m agents.pretrain objective=vjepa|salt|dmt_jepa data=frames env=dmc env.domain=walker
        (vision JEPAs on environment frames, or on rendered objects with data=views3d: agents/pretrain_vision.py)
    python -m agents.pretrain objective=t_jepa data=table data.name=breast_cancer [data.path=my.csv data.target=y]
        (T-JEPA on tables, or data.name=env_states on an env's states: agents/pretrain_table.py)
    python -m agents.pretrain objective=ad_l_jepa|occupancy_mae data=lidar [data.source=maze env=ogbench]
        (LiDAR BEV grids ray-cast here: agents/pretrain_lidar.py)
    python -m agents.pretrain objective=ui_jepa data=ui_activity
        (UI-JEPA on screen recordings, then an intent decoder: agents/pretrain_ui.py)

Recipe (seq-JEPA): data (generated once, cached) → sequences of M + 1 views and the M actions between
them → model + 1 − cos loss with an EMA target → AdamW with warm-up + cosine → train loop with
progress → probes on the frozen model → checkpoint.
- ``data=views3d`` (rendered object views, actions = relative rotations): invariance (linear top-1 of
  the aggregate of M_val views), equivariance (R² of the relative rotation from a pair of view
  encodings; R² of the individual rotation from one).
- ``data=trajectories`` (offline RL episodes, actions = the agent's): path integration (R² of the
  position after k views and of the displacement since the first, from the aggregate of k views),
  R² of the action from a pair of consecutive view encodings.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from agents.engine.checkpoint import (
    check_resume_compatible,
    checkpoint_step,
    find_resume_checkpoint,
    restore_training_state,
    save_checkpoint,
    training_state,
)
from agents.engine import (
    MultiLogger,
    refuse_moved_groups,
    run_entry_point,
    make_adamw_schedule,
    resolve_device,
    seed_everything,
    write_report,
    to_plain,
    train_stage,
)
from agents.probes import linear_probe_accuracy, regression_r2, regression_r2_fit_and_test
from data.trajectories import TrajectoryWindowSampler, load_trajectories, valid_window_starts, window_batch
from data.view_sequences import ViewSequenceSampler, action_dim, sequence_batch
from data.views3d import load_views3d, relative_rotation
from representations.seq_jepa import SeqJEPA, SeqJEPALoss, SupervisedRotationLoss
from representations.seq_jepa.encoder import build_seq_jepa

OBJECTIVES = {"jepa": SeqJEPALoss, "supervised_rotation": SupervisedRotationLoss}


@torch.no_grad()
def frozen_features(
    model: SeqJEPA, data: TensorDict, m_views: int, device: torch.device, chunk: int = 256
) -> dict[str, torch.Tensor]:
    """Probe inputs and targets on the frozen model: per instance, the aggregate of its first
    ``m_views`` views (with its label); per pair of views (0, 1), (2, 3), ... the concatenated pair
    of encodings (with their relative rotation); per view its encoding (with its rotation)."""
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("aggregate", "pair", "single")}
    total = data["pixels"].shape[1]
    pairs = total // 2
    for start in range(0, len(data), chunk):
        part = data[start : start + chunk]
        seq = sequence_batch(part, torch.arange(len(part)), torch.arange(total).expand(len(part), -1)).to(device)
        encodings = model.encoder(seq["views"])  # [B, V, F], views in stored order
        out["aggregate"].append(
            model.aggregate(
                seq["views"][:, :m_views], seq["actions"][:, : m_views - 1], view_features=encodings[:, :m_views]
            ).cpu()
        )
        out["pair"].append(encodings[:, : 2 * pairs].reshape(len(part) * pairs, -1).cpu())
        out["single"].append(encodings.reshape(-1, encodings.shape[-1]).cpu())
    rotation = data["rotation"]
    return {
        **{k: torch.cat(v) for k, v in out.items()},
        "label": data["label"],
        "relative_rotation": relative_rotation(rotation[:, 0 : 2 * pairs : 2], rotation[:, 1 : 2 * pairs : 2]).reshape(-1, 4),
        "rotation": rotation.reshape(-1, 4),
    }


def seq_jepa_probes(
    model: SeqJEPA, train: TensorDict, val: TensorDict, test: TensorDict, eval_views: list[int], probe_cfg, device
) -> dict[str, float]:
    """Probes fit on the train split, selected on the validation split (regressors), scored on the test split."""
    model.eval()
    results = {}
    for m in eval_views:
        tr, te = frozen_features(model, train, m, device), frozen_features(model, test, m, device)
        results[f"top1_views{m}"] = linear_probe_accuracy(
            tr["aggregate"], tr["label"], te["aggregate"], te["label"], steps=probe_cfg.steps
        )
    va = frozen_features(model, val, 1, device)
    for name, x, y in (("relative_rotation_r2", "pair", "relative_rotation"), ("rotation_r2", "single", "rotation")):
        fit = regression_r2_fit_and_test(
            tr[x], tr[y], te[x], te[y], val_x=va[x], val_y=va[y], hidden_dim=probe_cfg.hidden_dim, steps=probe_cfg.steps
        )
        results[name], results[f"{name}_train"] = fit["test"], fit["train"]  # train R²: does the probe overfit?
    return results


@torch.no_grad()
def trajectory_features(
    model: SeqJEPA, data: TensorDict, eval_views: list[int], device: torch.device, *, windows: int, seed: int, chunk: int = 256
) -> dict[str, torch.Tensor]:
    """Up to ``windows`` seeded windows of max(eval_views) consecutive steps: the aggregate of the first
    k views (k in ``eval_views``) with the position of view k and its displacement from view 1; the
    pair of encodings of views (1, 2) with the action between them."""
    length = max(max(eval_views), 2)
    starts = valid_window_starts(data["episode"], length)
    if not len(starts):
        raise ValueError(f"no episode of this split has {length} kept steps: lower eval.views or data.stride")
    starts = starts[torch.randperm(len(starts), generator=torch.Generator().manual_seed(seed))[:windows]]
    out: dict[str, list[torch.Tensor]] = {}
    for begin in range(0, len(starts), chunk):
        batch = window_batch(data, starts[begin : begin + chunk], length)
        views, actions, position = batch["views"].to(device), batch["actions"].to(device), batch["position"]
        encodings = model.encoder(views)
        parts = {"pair": encodings[:, :2].flatten(1).cpu(), "action": batch["actions"][:, 0]}
        for k in eval_views:
            parts[f"aggregate{k}"] = model.aggregate(views[:, :k], actions[:, : k - 1], view_features=encodings[:, :k]).cpu()
            parts[f"position{k}"] = position[:, k - 1]
            parts[f"displacement{k}"] = position[:, k - 1] - position[:, 0]
        for key, value in parts.items():
            out.setdefault(key, []).append(value)
    return {k: torch.cat(v) for k, v in out.items()}


def path_integration_probes(
    model: SeqJEPA, train: TensorDict, val: TensorDict, test: TensorDict, eval_views: list[int], probe_cfg, device
) -> dict[str, float]:
    """Path integration on frozen features: R² of the agent's position at view k, and of its
    displacement since view 1, from the aggregate of k views; R² of the action between two
    consecutive views from their pair of encodings (the trajectory analogue of the rotation probe)."""
    model.eval()
    features = {
        name: trajectory_features(model, split, eval_views, device, windows=n, seed=i)
        for i, (name, split, n) in enumerate(
            (("train", train, probe_cfg.windows), ("val", val, probe_cfg.windows // 4), ("test", test, probe_cfg.windows // 4))
        )
    }
    tr, va, te = features["train"], features["val"], features["test"]

    def r2(x: str, y: str) -> float:
        return regression_r2(
            tr[x], tr[y], te[x], te[y], val_x=va[x], val_y=va[y], hidden_dim=probe_cfg.hidden_dim, steps=probe_cfg.steps
        )

    results = {}
    for k in eval_views:
        results[f"position_r2_views{k}"] = r2(f"aggregate{k}", f"position{k}")
        if k > 1:  # after one view the displacement is zero
            results[f"displacement_r2_views{k}"] = r2(f"aggregate{k}", f"displacement{k}")
    results["action_r2"] = r2("pair", "action")
    return results


def load_data(cfg: DictConfig) -> tuple[TensorDict, TensorDict, TensorDict, dict, Any]:
    """(train, val, test, info, sampler of training sequences) for ``data=views3d|trajectories``."""
    rep, views = cfg.objective, cfg.objective.views
    if cfg.data.name == "views3d":
        total_views = cfg.data.views_per_instance
        if max(cfg.eval.views) > total_views or views >= total_views:
            raise ValueError(
                f"instances have data.views_per_instance={total_views} views: objective.views must be "
                f"< {total_views} and eval.views <= {total_views}"
            )
        train, val, test, info = load_views3d(cfg.data)
        info.update(view_shape=list(train["pixels"].shape[2:]), action_dim=action_dim(train))
        sampler = ViewSequenceSampler(train, observed_views=views, batch_size=cfg.dataset.batch_size, seed=cfg.seed)
    elif cfg.data.name == "trajectories":
        if rep.get("loss", "jepa") != "jepa":
            raise ValueError("objective.loss=supervised_rotation needs rotation labels: use data=views3d")
        train, val, test, info = load_trajectories(cfg.data, cfg.dataset)
        sampler = TrajectoryWindowSampler(train, observed_views=views, batch_size=cfg.dataset.batch_size, seed=cfg.seed)
    else:
        raise ValueError(f"unknown data={cfg.data.name!r} for seq-JEPA pretraining; choose one of {list(DATA)}")
    if not len(test) or not len(val):
        raise ValueError(
            f"the validation or test split is empty (train/val/test: {len(train)}/{len(val)}/{len(test)} "
            f"{'instances' if cfg.data.name == 'views3d' else 'steps'}): use more data or raise "
            "data.val_fraction / data.test_fraction"
        )
    return train, val, test, info, sampler


# objective.kind → the recipe that pretrains it, as "module:function" (imported on use); seq-JEPA, which has no
# kind, is this module's own recipe below.
RECIPES = {
    "vision": "agents.pretrain_vision:pretrain_vision",  # V-JEPA, SALT, DMT-JEPA on environment frames
    "table": "agents.pretrain_table:pretrain_table",  # T-JEPA on tables or on the env's states
    "lidar": "agents.pretrain_lidar:pretrain_lidar",  # AD-L-JEPA / Occupancy-MAE on LiDAR BEV grids
    "ui": "agents.pretrain_ui:pretrain_ui",  # UI-JEPA on screen recordings, then its intent decoder
}


def pretrain(cfg: DictConfig, run_dir: Path) -> dict:
    """Pretrains ``cfg.objective`` with the recipe of its kind (:data:`RECIPES`, else seq-JEPA's)."""
    kind = cfg.objective.get("kind")
    if kind in RECIPES:
        module, function = RECIPES[kind].split(":")
        return getattr(importlib.import_module(module), function)(cfg, run_dir)
    return pretrain_seq_jepa(cfg, run_dir)


def pretrain_seq_jepa(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)
    rep = cfg.objective
    if rep.name != "seq_jepa":
        raise ValueError(
            "agents.pretrain trains objective=seq_jepa|vjepa|salt|dmt_jepa|t_jepa|ad_l_jepa|occupancy_mae|"
            f"ui_jepa; got {rep.name!r}"
        )
    readers = {
        "frames": "the vision JEPAs (objective=vjepa|salt|dmt_jepa)",
        "table": "objective=t_jepa",
        "lidar": "objective=ad_l_jepa|occupancy_mae",
        "ui_activity": "objective=ui_jepa",
    }
    data_kind = "frames" if cfg.data.name == "frames" else cfg.data.get("kind")
    if data_kind in readers:
        raise ValueError(f"data={data_kind} is for {readers[data_kind]}; seq-JEPA reads data=views3d or data=trajectories")

    # 1. Data: rendered object views (split by instance) or offline trajectories (split by episode);
    #    sequences of M + 1 views and the M actions between them.
    train, val, test, info, sampler = load_data(cfg)

    # 2. Model, objective (EMA target encoder driven by SoftUpdate), optimiser.
    # objective.loss=supervised_rotation swaps in the labelled reference for the equivariance probe.
    dims = {"action_dim": info["action_dim"], "view_shape": info["view_shape"]}
    model = build_seq_jepa(rep, dims).to(device)
    loss_kind = rep.get("loss", "jepa")
    if loss_kind not in OBJECTIVES:
        raise ValueError(f"unknown objective.loss={loss_kind!r}; choose one of {list(OBJECTIVES)}")
    loss_module = OBJECTIVES[loss_kind](model).to(device)
    target_updater = SoftUpdate(loss_module, eps=rep.ema) if loss_kind == "jepa" else None
    steps = cfg.train.steps
    optimizer, scheduler = make_adamw_schedule(rep.optim, model if loss_kind == "jepa" else loss_module, steps)
    checkpoint_config = {**config, "dims": dims}
    weights = {"model": model, **({"head": loss_module.head} if loss_kind != "jepa" else {})}

    samplers = {"train": sampler}  # the batch stream continues where it stopped

    def checkpoint(step: int) -> Path:
        return save_checkpoint(
            run_dir / "checkpoints",
            step=step,
            keep=cfg.train.keep_checkpoints,
            config=checkpoint_config,
            weights=weights,
            training_state=training_state(step, optimizer, loss_module, scheduler, samplers=samplers),
        )

    start_step = 0
    resume_from = find_resume_checkpoint(
        cfg.resume,
        run_dir,
        same={
            "seed": cfg.seed,
            "data.name": cfg.data.name,
            "objective.action_conditioning": rep.action_conditioning,
            "objective.loss": loss_kind,
        },
    )
    if resume_from is not None:
        check_resume_compatible(resume_from, config, steps, checkpoint_step(resume_from))
        start_step = restore_training_state(
            resume_from, weights, optimizer, loss_module, scheduler=scheduler, device=device, samplers=samplers
        )
        print(f"resumed from {resume_from} at step {start_step}")

    # 3. Train loop.
    exp_name = f"pretrain-{rep.name}-{cfg.data.name}-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger,
        run_dir,
        exp_name,
        config,
        group=f"pretrain-{rep.name}-{cfg.data.name}",
        tags=[rep.name, cfg.data.name, "pretrain"],
    )
    print(
        f"{exp_name}: {len(train)} train {'instances' if cfg.data.name == 'views3d' else 'steps'}, views "
        f"{dims['view_shape']}, M={rep.views}, "
        f"action conditioning {rep.action_conditioning}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters"
    )
    model.train()
    collapse: list[dict] = []
    training_seconds = train_stage(
        cfg.train,
        lambda: loss_module(sampler.sample().to(device)),
        optimizer,
        device=device,
        start=start_step,
        steps=steps,
        logger=logger,
        loss_key="loss_prediction",
        scheduler=scheduler,
        target_updater=target_updater,
        checkpoint=checkpoint,
        history=collapse,
    ).seconds

    # 4. Frozen probes on the test split, 5. checkpoint and results.
    final = checkpoint(steps)
    probes = DATA[cfg.data.name](model, train, val, test, list(cfg.eval.views), cfg.probe, device)
    logger.log({f"probe/{k}": v for k, v in probes.items()}, steps)
    logger.close()
    results = {
        "step": steps,
        **probes,
        "training_seconds": training_seconds,
        "collapse": collapse,
        "views": rep.views,
        "action_conditioning": rep.action_conditioning,
        "objective": loss_kind,
        "data": info,
    }
    lines = [f"| {k} | {v:.3f} |" for k, v in probes.items()]
    table = "\n".join(["| probe | value |", "|---|---|", *lines])
    print(f"\nseq-JEPA probes after {steps} updates (test split of data={cfg.data.name}):\n{table}\ncheckpoint: {final}")
    write_report(run_dir, results, table)
    return results


DATA = {"views3d": seq_jepa_probes, "trajectories": path_integration_probes}  # probes of each data mode


@hydra.main(version_base="1.3", config_path="../configs", config_name="pretrain")
def main(cfg: DictConfig) -> None:
    run_entry_point(pretrain, cfg)


if __name__ == "__main__":
    refuse_moved_groups("pretrain")
    main()
