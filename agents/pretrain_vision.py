"""Vision JEPA pretraining on environment frames, then frozen state probes (``agents.pretrain`` with a
``kind: vision`` objective):

    python -m agents.pretrain objective=salt data=frames env=dmc env.domain=walker
    python -m agents.pretrain objective=vjepa|dmt_jepa data=frames env=dmc [data.clip_length=2] [train.flops=1e15]
    python -m agents.pretrain objective=vjepa data=views3d data.instances_per_class=400  (rendered objects)

Recipe: frames or clips of the env's offline dataset (rendered once, cached; split by episode), or the rendered
object views of ``data=views3d`` (split by instance) → the
method's networks and LossModule(s) → AdamW with warm-up + cosine → train loop with progress, one stage
per objective (SALT: the pixel teacher, then the student against the frozen teacher; the student loss is
SALT's model-selection signal) → frozen probes → checkpoint.

Compute is counted, not guessed: the FLOPs of one update of each stage (forward + backward, EMA target
forward included) are measured with ``torch.utils.flop_counter`` on a fixed batch and masks, and
``train.flops`` (optional) sets each stage's number of updates from a FLOP budget instead of
``train.steps`` — the matched-compute comparison of SALT, V-JEPA and DMT-JEPA.

Probes (frozen encoder; fit on train, selected on val, scored on test episodes), R² per quantity of the
frame's state — or of the clip's last frame — pooling the quantity's columns (variance-weighted). DMC: the
task's state observation groups (walker: orientations, height, velocity), egocentric like a tracking
camera; OGBench: qpos, qvel (``data.frames``); views3d: the view's orientation quaternion, and the object's class
as top-1 (the argmax of the probe's regression onto the one-hot class, a least-squares classifier):
- ``linear``: ridge regression on the mean-pooled tokens;
- ``attentive``: one learned query cross-attending to the tokens, then a linear head (V-JEPA's frozen probe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from omegaconf import DictConfig
from tensordict import TensorDict
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry
from torchrl.objectives import LossModule, SoftUpdate

from agents.engine.checkpoint import (
    check_resume_compatible,
    checkpoint_step,
    find_resume_checkpoint,
    restore_training_state,
    save_checkpoint,
    training_state,
)
from agents.engine.runtime import autocast as precision_autocast
from agents.engine import (
    MultiLogger,
    make_adamw_schedule,
    resolve_device,
    seed_everything,
    write_report,
    to_plain,
    train_stage,
)
from agents.probes import class_iou, fit_regressor, pooled_r2, r2_per_dim, ridge_predict
from data.frames import FrameSampler, clip_starts, frame_batch, load_frames
from data.views3d import load_views3d_frames
from representations.core.vit import AttentivePooler, EncoderModel
from representations.encoders.vision import build_vision_models, frozen_part


@dataclass
class Stage:
    """One objective trained for ``steps`` updates: ``loss_key`` of ``make_loss()`` on ``trained``'s parameters."""

    name: str
    trained: nn.Module
    make_loss: Callable[[], LossModule]
    loss_key: str
    budget_share: float = 1.0  # of train.steps / train.flops
    ema: float | None = None  # SoftUpdate decay of the loss's target networks


def make_stages(rep: DictConfig, models: dict[str, EncoderModel], seed: int) -> list[Stage]:
    """The objectives of ``objective=<name>`` in training order (SALT's student loss is built when its
    stage starts: it freezes the teacher)."""
    if rep.name == "vjepa":
        from representations.vjepa import VJEPALoss

        return [Stage("pretrain", models["model"], lambda: VJEPALoss(models["model"], seed=seed), "loss_prediction", ema=rep.ema)]
    if rep.name == "dmt_jepa":
        from representations.dmt_jepa import DMTJEPALoss

        return [
            Stage("pretrain", models["model"], lambda: DMTJEPALoss(models["model"], seed=seed), "loss_prediction", ema=rep.ema)
        ]
    from representations.salt import PixelTeacherLoss, StudentLoss

    share = float(rep.teacher_fraction)
    if not 0.0 < share < 1.0:
        raise ValueError(
            f"objective.teacher_fraction={share} must be in (0, 1): the share of the budget spent on the stage-1 teacher"
        )
    teacher, student = models["teacher"], models["student"]
    return [
        Stage(
            "teacher",
            teacher,
            lambda: PixelTeacherLoss(teacher, norm_pix=rep.norm_pix, seed=seed),
            "loss_reconstruction",
            budget_share=share,
        ),
        Stage(
            "student",
            student,
            lambda: StudentLoss(student, teacher, layer_norm_targets=rep.layer_norm_targets, seed=seed + 1),
            "loss_prediction",
            budget_share=1.0 - share,
        ),
    ]


def model_input(batch: TensorDict) -> TensorDict:
    """The losses read ``pixels``: a frame [B, 3, S, S], or a clip [B, 3, T, S, S] (channels, then time)."""
    if "clips" in batch.keys():
        return TensorDict({"pixels": batch["clips"].transpose(1, 2)}, batch_size=batch.batch_size)
    return TensorDict({"pixels": batch["pixels"]}, batch_size=batch.batch_size)


class FlopCounter(TorchDispatchMode):
    """Sums the FLOPs of the matrix products, convolutions and attention kernels run inside it (torch's own
    formulas, ``torch.utils.flop_counter.flop_registry``). ``FlopCounterMode`` does the same but also tracks
    modules, which fails on TorchRL losses holding parameter TensorDicts."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


def update_flops(loss_module: LossModule, trained: nn.Module, batch: TensorDict, loss_key: str, autocast) -> int:
    """FLOPs of one update (loss forward and backward) on ``batch`` with fixed masks; leaves no gradients and
    the loss's mask generator where it was."""
    state = loss_module.generator.get_state()
    loss_module.generator.manual_seed(0)
    with FlopCounter() as counter:
        with autocast():
            loss = loss_module(batch)[loss_key]
        loss.backward()
    trained.zero_grad(set_to_none=True)
    loss_module.generator.set_state(state)
    return counter.total


def stage_steps(cfg: DictConfig, stage: Stage, flops_per_update: int) -> int:
    """Updates of a stage: its share of ``train.flops`` (when set) or of ``train.steps``."""
    if cfg.train.get("flops"):
        return int(float(cfg.train.flops) * stage.budget_share // max(flops_per_update, 1))
    return int(round(cfg.train.steps * stage.budget_share))


@torch.no_grad()
def frozen_tokens(
    model: EncoderModel,
    data: TensorDict,
    clip_length: int,
    count: int,
    seed: int,
    device: torch.device,
    autocast,
    chunk: int = 256,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Encoder tokens [N, K, D] of up to ``count`` seeded frames (clips) of a split, the probe target of each
    frame (of each clip's last frame) [N, target_dim], and the frames' part maps [N, S, S] where the split has them."""
    starts = clip_starts(data["episode"], clip_length)
    starts = starts[torch.randperm(len(starts), generator=torch.Generator().manual_seed(seed))[:count]].sort().values
    tokens, states, parts = [], [], []
    for begin in range(0, len(starts), chunk):
        batch = frame_batch(data, starts[begin : begin + chunk], clip_length)
        with autocast():
            tokens.append(model.encode(model_input(batch)["pixels"].to(device), pool=False).float())
        states.append(batch["target"] if clip_length == 1 else batch["target"][:, -1])
        if "parts" in batch.keys():
            parts.append(batch["parts"])
    return torch.cat(tokens), torch.cat(states).to(device), torch.cat(parts) if parts else None


def patch_part_labels(parts: torch.Tensor, grid: int, num_labels: int, min_cover: float = 0.25) -> torch.Tensor:
    """The label [N, grid²] of each patch (row-major, the ViT's token order) of part maps [N, S, S]: the most
    frequent part among the patch's object pixels where they cover at least ``min_cover`` of it, else 0 (background).
    An object fills ~10 % of a view, so a plain majority would leave the thin parts (legs, handles) no patch."""
    n, size = parts.shape[0], parts.shape[-1]
    side = size // grid
    if side * grid != size:
        raise ValueError(f"part maps of {size} px do not tile into a {grid} x {grid} token grid")
    patches = parts.reshape(n, grid, side, grid, side).permute(0, 1, 3, 2, 4).reshape(n, grid * grid, side * side)
    counts = torch.nn.functional.one_hot(patches.long(), num_labels).sum(2)  # [N, K, labels]
    covered = (side * side - counts[..., 0]) >= min_cover * side * side
    return torch.where(covered, counts[..., 1:].argmax(-1) + 1, torch.zeros_like(covered, dtype=torch.long))


def part_probe(tokens: dict[str, torch.Tensor], parts: dict[str, torch.Tensor], num_labels: int) -> dict[str, float]:
    """Local semantics: which part is this object patch? A linear least-squares classifier (ridge onto the one-hot
    part, argmax) of the tokens of the patches on an object (:func:`patch_part_labels` > 0; the background would
    be ~90 % of the rows), fit on the train frames' object patches, its penalty picked on val. Test scores over
    the object patches: ``part_accuracy_linear``, the share named right, and ``part_miou_linear``, the mean IoU
    over the parts present."""
    grid = math.isqrt(tokens["train"].shape[1])
    x, y = {}, {}
    for k in ("train", "val", "test"):
        labels = patch_part_labels(parts[k], grid, num_labels).reshape(-1).to(tokens[k].device)
        on_object = labels > 0
        x[k], y[k] = tokens[k].reshape(-1, tokens[k].shape[-1])[on_object], labels[on_object] - 1
    onehot = {k: torch.nn.functional.one_hot(y[k], num_labels - 1).to(x[k]) for k in ("train", "val")}
    predicted = ridge_predict(x["train"], onehot["train"], x["test"], val_x=x["val"], val_y=onehot["val"]).argmax(1)
    iou = class_iou(predicted.cpu(), y["test"].cpu(), num_labels - 1)
    return {
        "part_miou_linear": iou[~iou.isnan()].mean().item(),
        "part_accuracy_linear": (predicted.cpu() == y["test"].cpu()).float().mean().item(),
    }


def state_probes(
    model: EncoderModel, splits: dict[str, TensorDict], info: dict, probe_cfg: DictConfig, device: torch.device, autocast
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Linear (mean-pooled tokens) and attentive (tokens) probes of the frozen encoder: test R² per quantity
    (its columns pooled, variance-weighted), and per target column. Object views add the class top-1 of both
    probes (``info["class_columns"]``) and, with part maps, the per-patch part probe (:func:`part_probe`)."""
    model.eval()
    clip = int(info["clip_length"])
    counts = {"train": probe_cfg.frames, "val": max(1, probe_cfg.frames // 4), "test": max(1, probe_cfg.frames // 4)}
    tokens, states, parts = {}, {}, {}
    for i, name in enumerate(("train", "val", "test")):
        tokens[name], states[name], parts[name] = frozen_tokens(
            model, splits[name], clip, counts[name], seed=i, device=device, autocast=autocast
        )
    mean, std = states["train"].mean(0), states["train"].std(0).clamp_min(1e-6)
    targets = {k: (v - mean) / std for k, v in states.items()}  # R² is unchanged; the heads train on unit scales
    pooled = {k: v.mean(1) for k, v in tokens.items()}
    predicted = {
        "linear": ridge_predict(pooled["train"], targets["train"], pooled["test"], val_x=pooled["val"], val_y=targets["val"])
    }
    torch.manual_seed(0)
    pooler = AttentivePooler(tokens["train"].shape[-1], heads=probe_cfg.heads, out_dim=targets["train"].shape[1]).to(device)
    predict = fit_regressor(
        pooler,
        tokens["train"],
        targets["train"],
        val_x=tokens["val"],
        val_y=targets["val"],
        steps=probe_cfg.steps,
        lr=probe_cfg.lr,
        batch_size=probe_cfg.batch_size,
    )
    test_tokens = tokens["test"]
    predicted["attentive"] = torch.cat([predict(test_tokens[i : i + 1024]) for i in range(0, len(test_tokens), 1024)])
    r2 = {probe: r2_per_dim(p.double(), targets["test"].double()).float() for probe, p in predicted.items()}
    # pooled per quantity: a column that barely moves in the few test episodes weighs little, instead of
    # sending a uniform mean over columns towards −∞
    results = {
        f"{quantity}_r2_{probe}": value
        for probe, per_dim in r2.items()
        for quantity, value in pooled_r2(per_dim, targets["test"], info["target_columns"]).items()
    }
    if "class_columns" in info:  # a least-squares classifier: the argmax of the one-hot columns, on their own scale
        lo, hi = info["class_columns"]
        labels = states["test"][:, lo:hi].argmax(1)
        for probe, p in predicted.items():
            scores = p[:, lo:hi].to(std) * std[lo:hi] + mean[lo:hi]
            results[f"class_top1_{probe}"] = (scores.argmax(1) == labels).float().mean().item()
    if "part_names" in info:
        results.update(part_probe(tokens, parts, len(info["part_names"])))
    return results, {probe: [round(v, 4) for v in per_dim.tolist()] for probe, per_dim in r2.items()}


# data=<name> → (train, val, test, info) of single frames or clips, each with its probe targets
FRAME_SOURCES: dict[str, Callable[[DictConfig], tuple[TensorDict, TensorDict, TensorDict, dict]]] = {
    "frames": lambda cfg: load_frames(cfg.data, cfg.dataset, cfg.env),  # an env's offline dataset: state targets
    "views3d": lambda cfg: load_views3d_frames(cfg.data),  # rendered objects: class and orientation targets
}


def pretrain_vision(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)
    rep = cfg.objective
    if cfg.data.name not in FRAME_SOURCES:
        raise ValueError(
            f"objective={rep.name} pretrains on images: use data=frames (environment frames) or data=views3d (rendered "
            f"object views), got data={cfg.data.name}"
        )
    autocast = precision_autocast(cfg.train.precision, device)

    # 1. Data: frames (or clips) of the env's offline dataset split by episode, or object views split by instance,
    #    with the probes' targets.
    train, val, test, info = FRAME_SOURCES[cfg.data.name](cfg)
    for name, split in (("val", val), ("test", test)):
        if not len(clip_starts(split["episode"], info["clip_length"])):
            raise ValueError(
                f"the {name} split has no frames (clips): use more episodes (dataset.num_episodes) or raise data.{name}_fraction"
            )
    sampler = FrameSampler(train, batch_size=cfg.dataset.batch_size, seed=cfg.seed, clip_length=info["clip_length"])
    fixed = sampler.starts[torch.arange(cfg.dataset.batch_size) % len(sampler.starts)]  # one batch for counting FLOPs
    flops_batch = model_input(frame_batch(train, fixed, info["clip_length"])).to(device)

    # 2. Networks (one per weight group: SALT's teacher and student), their objectives in training order.
    models = {
        k: m.to(device)
        for k, m in build_vision_models(rep, image_size=info["image_size"], clip_length=info["clip_length"]).items()
    }
    stages = make_stages(rep, models, cfg.seed)
    dims = {"image_size": info["image_size"], "frames": info["clip_length"], "state_dim": info["state_dim"]}
    checkpoint_config = {**config, "dims": dims}
    resume_from = find_resume_checkpoint(
        cfg.resume, run_dir, same={"seed": cfg.seed, "data.name": cfg.data.name, "objective.name": rep.name}
    )
    resume_step = checkpoint_step(resume_from) if resume_from is not None else 0
    if resume_from is not None:
        check_resume_compatible(resume_from, config, resume_step, resume_step)  # the stages' budgets are checked below
        from representations import load_weights

        load_weights(resume_from, models)
        print(f"resuming from {resume_from} at update {resume_step}")

    exp_name = f"pretrain-{rep.name}-{info['env']}-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger, run_dir, exp_name, config, group=f"pretrain-{rep.name}-{info['env']}", tags=[rep.name, "frames", "pretrain"]
    )
    print(
        f"{exp_name}: {len(train)} train frames of {info['env']} ({info['pixels']} {info['image_size']}px, clips of "
        f"{info['clip_length']}), "
        + ", ".join(f"{k} {sum(p.numel() for p in m.parameters()) / 1e6:.2f}M parameters" for k, m in models.items())
    )

    # 3. Train loop, stage by stage; updates are numbered across stages (checkpoints step<global update>).
    offset, flops, summary = 0, 0, {}
    collapse: list[dict] = []  # the collapse diagnostics of every stage at every log step
    for stage in stages:
        loss_module = stage.make_loss().to(device)
        updater = SoftUpdate(loss_module, eps=stage.ema) if stage.ema is not None else None
        per_update = update_flops(loss_module, stage.trained, flops_batch, stage.loss_key, autocast)
        steps = stage_steps(cfg, stage, per_update)
        optimizer, scheduler = make_adamw_schedule(rep.optim, stage.trained, steps)
        summary[stage.name] = {"updates": steps, "flops_per_update": per_update, "flops": per_update * steps}
        flops += per_update * steps
        print(f"stage {stage.name}: {steps} updates x {per_update / 1e9:.2f} GFLOPs")

        generators, samplers = {"mask": loss_module.generator}, {"train": sampler}

        def checkpoint(step: int) -> Path:
            return save_checkpoint(
                run_dir / "checkpoints",
                step=offset + step,
                keep=cfg.train.keep_checkpoints,
                config={**checkpoint_config, "stages": summary},
                weights=models,
                training_state={
                    **training_state(offset + step, optimizer, loss_module, scheduler, samplers=samplers, generators=generators),
                    "stage": stage.name,
                },
            )

        start = min(max(resume_step - offset, 0), steps)
        if 0 < start < steps:  # resume inside this stage: its optimiser, schedule, targets and RNG (weights: above)
            restore_training_state(resume_from, {}, optimizer, loss_module, scheduler=scheduler, device=device)
        if 0 < start <= steps and resume_step == offset + start:  # the masks and batches continue where they stopped
            state = torch.load(resume_from / "training_state.pt", weights_only=False, map_location="cpu")
            for name, generator in generators.items():
                generator.set_state(state["generators"][name])
            for name, batches in samplers.items():
                batches.set_sampler_state(state["samplers"][name])
        loss_module.train()

        def losses_of_batch() -> TensorDict:
            return loss_module(model_input(sampler.sample()).to(device))

        ran = train_stage(
            cfg.train,
            losses_of_batch,
            optimizer,
            device=device,
            start=start,
            steps=steps,
            logger=logger,
            loss_key=stage.loss_key,
            scheduler=scheduler,
            target_updater=updater,
            checkpoint=checkpoint,
            stage=stage.name,
            offset=offset,
            history=collapse,
        )
        losses, seconds = ran.losses, ran.seconds
        summary[stage.name]["seconds"] = seconds
        if losses is not None:
            summary[stage.name]["final_loss"] = losses[stage.loss_key].item()
        if start < steps or stage is stages[-1]:  # a stage finished before resuming keeps its own checkpoint
            final = checkpoint(steps)
        offset += steps

    # 4. Frozen probes on the test episodes (SALT: the student, and its teacher for reference), 5. results.
    splits = {"train": train, "val": val, "test": test}
    probes, per_column = state_probes(models[frozen_part(rep.name)], splits, info, cfg.probe, device, autocast)
    if rep.name == "salt":
        teacher, teacher_columns = state_probes(models["teacher"], splits, info, cfg.probe, device, autocast)
        probes.update({f"teacher_{k}": v for k, v in teacher.items()})
        per_column.update({f"teacher_{k}": v for k, v in teacher_columns.items()})
    logger.log({f"probe/{k}": v for k, v in probes.items()}, offset)
    logger.close()
    results = {
        "step": offset,
        **probes,
        "pretrain_flops": flops,
        "stages": summary,
        "r2_per_column": per_column,
        "collapse": collapse,
        "data": info,
    }
    table = "\n".join(["| probe | test R² (top-1: accuracy) |", "|---|---|", *(f"| {k} | {v:.3f} |" for k, v in probes.items())])
    print(
        f"\n{rep.name} frozen probes after {offset} updates ({flops:.3g} FLOPs; test episodes of "
        f"{info['env']}):\n{table}\ncheckpoint: {final}"
    )
    write_report(run_dir, results, table)
    return results
