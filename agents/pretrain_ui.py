"""UI-JEPA: intent from screen activity (``python -m agents.pretrain objective=ui_jepa data=ui_activity``).

Recipe (Fu et al. 2024, arXiv 2409.04081 §3): UI screen recordings (generated here or read from ``data.path``)
→ stage 1, JEPA-tuning of the video encoder on the train clips (V-JEPA short + long spatial masks and temporal
masks over whole hyper-frames; EMA target 0.998 → 1; L1 to layer-normed targets) → stage 2, the encoder frozen,
a small text decoder trained on the train clips' intent texts (video tokens projected into its input space as a
prefix; cross-entropy on text tokens) and selected on the val clips → greedy intents on the held-out clips of the
train intents (few-shot) and on clips of intents never trained on (zero-shot): exact and nearest-intent accuracy,
ROUGE-1/2/L and their mean (intent similarity).

``objective.encoder=frame_averaged`` is the baseline: the same ViT trained on single frames (V-JEPA image
masks, same updates, batches of as many tokens), its per-frame embeddings averaged over time, so the decoder sees
no temporal order.
``train.steps=0`` leaves either encoder at its random initialisation (a reference).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from omegaconf import DictConfig
from tensordict import TensorDict
from torchrl.data import LazyTensorStorage, RandomSampler, TensorDictReplayBuffer

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
from data.ui_activity import UISplit, load_ui_activity
from representations.core.targets import ScheduledSoftUpdate
from representations.ui_jepa import FrameAveragedEncoder, IntentDecoder, UIJEPA, UIJEPALoss, WordTokenizer
from representations.ui_jepa.model import ui_jepa_mask_generators
from representations.ui_jepa.metrics import confusion_pairs, corpus_scores, intent_accuracy, nearest_intent
from representations.vjepa import VJEPA, VJEPALoss

ENCODERS = ("ui_jepa", "frame_averaged")
DATA_KEYS = ("kind", "name")  # the config's own keys, besides data/ui_activity's


def build_ui_models(rep: DictConfig, frames: int, image_size: int) -> VJEPA:
    """The JEPA-tuned network: the UI-JEPA video model, or (frame_averaged) an image V-JEPA on single frames."""
    kind = str(rep.encoder)
    if kind not in ENCODERS:
        raise ValueError(f"unknown objective.encoder={kind!r} for UI-JEPA; choose one of {list(ENCODERS)}")
    if kind == "ui_jepa":
        if frames % int(rep.tubelet):
            raise ValueError(f"data.frames={frames} is not a multiple of objective.tubelet={rep.tubelet}")
        model_kwargs = {**dict(rep.model), "num_mask_tokens": 3 if rep.masks.get("temporal", True) else 2}  # one per generator
        return UIJEPA(image_size, int(rep.patch_size), frames=frames, tubelet=int(rep.tubelet), **model_kwargs)
    model_kwargs = {k: v for k, v in dict(rep.model).items() if k != "num_mask_tokens"}
    return VJEPA(image_size, int(rep.patch_size), frames=None, num_mask_tokens=2, **model_kwargs)


PREFIXES = ("hyperframe_mean", "tokens")


def check_prefix(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown objective.decoder.prefix={prefix!r}; choose one of {list(PREFIXES)}")
    return prefix


def video_features(model: VJEPA, kind: str, prefix: str = "hyperframe_mean") -> Callable[[torch.Tensor], torch.Tensor]:
    """Frozen decoder prefix of uint8 videos [B, T, 3, S, S] (``objective.decoder.prefix``).

    ``hyperframe_mean``: UI-JEPA's hyper-frame embeddings [B, T/t, D] (the spatial mean of each tubelet step, in
    temporal order), or the frame-averaged embedding [B, 1, D]. ``tokens``: every encoder token, UI-JEPA's
    [B, T/t · (S/p)², D] (time, row, column), or the frame-averaged encoder's time-averaged patch tokens
    [B, (S/p)², D] (still no temporal order)."""
    check_prefix(prefix)
    if kind == "ui_jepa":
        if prefix == "tokens":
            return lambda video: model.encode_video(video)
        return lambda video: model.hyperframe_embeddings(video)
    averaged = FrameAveragedEncoder(model.encoder)
    if prefix == "tokens":
        return lambda video: averaged.encode_video(video)
    return lambda video: averaged.encode_video(video, pool=True)[:, None]


@torch.no_grad()
def encode_split(features: Callable, split: UISplit, device: torch.device, chunk: int = 32) -> torch.Tensor:
    return torch.cat([features(split.video[i : i + chunk].to(device)).float().cpu() for i in range(0, len(split.video), chunk)])


def train_decoder(
    prefix: dict[str, torch.Tensor],
    splits: dict[str, UISplit],
    cfg: DictConfig,
    info: dict,
    device: torch.device,
    logger: MultiLogger,
    offset: int,
    *,
    encoder: nn.Module | None = None,
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> IntentDecoder:
    """Stage 2: the intent decoder on the frozen prefixes of the train clips, kept at its best val nearest-intent
    accuracy (then lowest val loss).

    With ``encoder`` (``objective.decoder.finetune_encoder=true``) the encoder trains with the decoder, end to end
    on the intent texts, at ``objective.optim.lr``: the prefixes are ``features`` of each batch's clips, and the
    best val state of both is kept (``prefix`` is then not read)."""
    dec = cfg.objective.decoder
    tokenizer = WordTokenizer.from_texts(splits["train"].text)  # train texts only: zero-shot intents stay unseen
    if encoder is None:
        width = prefix["train"].shape[-1]
    else:
        with torch.no_grad():
            width = features(splits["train"].video[:1].to(device)).shape[-1]
    decoder = IntentDecoder(
        tokenizer,
        width,
        dim=int(dec.dim),
        depth=int(dec.depth),
        heads=int(dec.heads),
        max_text_len=int(dec.max_text_len),
        prefix_queries=int(dec.get("prefix_queries", 0)),
    ).to(device)
    groups = [{"params": list(decoder.parameters()), "lr": float(dec.lr)}]
    trained: dict[str, nn.Module] = {"decoder": decoder}
    if encoder is not None:
        groups.append({"params": list(encoder.parameters()), "lr": float(cfg.objective.optim.lr)})
        trained["encoder"] = encoder
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    train_ids = tokenizer.batch(splits["train"].text, int(dec.max_text_len))
    val_ids = tokenizer.batch(splits["val"].text, int(dec.max_text_len))
    intents = dict(enumerate(info["variants"]))

    def states() -> dict[str, dict]:
        return {name: copy.deepcopy(module.state_dict()) for name, module in trained.items()}

    best: dict[str, Any] = {"score": (-1.0, float("inf")), "state": states()}
    steps, count, every = int(dec.steps), len(train_ids), int(dec.eval_every)

    def train_prefix(index: torch.Tensor) -> torch.Tensor:
        if encoder is None:
            return prefix["train"][index].to(device)
        return features(splits["train"].video[index].to(device)).float()

    def val_prefix() -> torch.Tensor:
        if encoder is None:
            return prefix["val"].to(device)
        encoder.eval()
        fresh = encode_split(features, splits["val"], device).to(device)
        encoder.train()
        return fresh

    def losses_of_batch() -> TensorDict:
        index = torch.randint(0, count, (min(int(dec.batch_size), count),), generator=generator)
        return TensorDict({"loss_decoder": decoder.loss(train_prefix(index), train_ids[index])}, [])

    def select(step: int) -> None:  # keep the best decoder (and fine-tuned encoder) on the val clips
        nonlocal best
        inputs = val_prefix()
        with torch.no_grad():
            val_loss = decoder.loss(inputs, val_ids).item()
        nearest = intent_accuracy(decoder.generate(inputs), splits["val"].intent.tolist(), intents)["nearest"]
        logger.log({"decoder/val_loss": val_loss, "decoder/val_nearest": nearest}, offset + step)
        if (nearest, -val_loss) > (best["score"][0], -best["score"][1]):
            best = {"score": (nearest, val_loss), "state": states(), "step": step}

    if encoder is not None:
        encoder.train()

    run_updates(
        gradient_step(losses_of_batch, optimizer),
        start=0,
        steps=steps,
        log_every=every,
        logger=logger,
        evaluate=select,
        eval_every=every,
        stage="decoder",
        offset=offset,
    )
    if steps:
        select(steps)  # the loop evaluates every `every` updates but leaves the last to the recipe
    for name, module in trained.items():
        module.load_state_dict(best["state"][name])
    print(f"decoder: best val nearest-intent accuracy {best['score'][0]:.3f} at update {best.get('step', 0)}")
    return decoder


def intent_metrics(decoder: IntentDecoder, prefix: torch.Tensor, split: UISplit, info: dict) -> dict[str, Any]:
    """Greedy intents of a split's clips against their true intents (any variant counts as the reference), and
    ``confusion``: [true intent, nearest intent of the prediction, clips] for every pair that occurs."""
    predictions = decoder.generate(prefix.to(next(decoder.parameters()).device))
    intents = dict(enumerate(info["variants"]))
    accuracy = intent_accuracy(predictions, split.intent.tolist(), intents)
    rouge = corpus_scores(predictions, [info["variants"][i] for i in split.intent.tolist()])
    names = info["intents"]
    confusion = confusion_pairs(
        [names[t] for t in split.intent.tolist()], [names[nearest_intent(p, intents)] for p in predictions]
    )
    return {"exact_accuracy": accuracy["exact"], "nearest_accuracy": accuracy["nearest"], **rouge, "confusion": confusion}


def pretrain_ui(cfg: DictConfig, run_dir: Path) -> dict:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    config = to_plain(cfg)
    rep = cfg.objective
    if cfg.data.get("kind") != "ui_activity":
        raise ValueError(f"objective={rep.name} reads UI screen recordings: use data=ui_activity (got data={cfg.data.name})")

    # 1. Data: clips of the few-shot intents (train / val / few-shot test) and of held-out intents (zero-shot test).
    splits, info = load_ui_activity(cfg.data, extra_keys=DATA_KEYS)
    for name in ("train", "val", "fewshot_test", "zeroshot_test"):
        if len(splits[name].video) == 0:
            raise ValueError(
                f"the {name} split of data=ui_activity is empty: raise data.clips_per_intent / "
                "data.val_clips / data.test_clips or data.zeroshot_intents"
            )
    frames, image_size = int(info["frames"]), int(info["image_size"])
    kind = str(rep.encoder)
    prefix_kind = check_prefix(str(rep.decoder.get("prefix", "hyperframe_mean")))  # before the JEPA stage, not after
    if int(rep.decoder.get("prefix_queries", 0)) < 0:
        raise ValueError(
            f"objective.decoder.prefix_queries={rep.decoder.prefix_queries} must be 0 (the prefix as it is) or a "
            "positive number of learned queries"
        )

    # 2. Stage 1 model and objective: UI-JEPA on clips, or the frame-averaged baseline's image JEPA on frames.
    model = build_ui_models(rep, frames, image_size).to(device)
    if kind == "ui_jepa":
        masks = ui_jepa_mask_generators(
            model.grid, temporal_ratio=rep.masks.temporal_ratio, temporal=rep.masks.get("temporal", True)
        )
        loss_module = UIJEPALoss(model, mask_generators=masks, seed=cfg.seed).to(device)
        stored = TensorDict({"video": splits["train"].video}, batch_size=[len(splits["train"].video)])
    else:  # every frame of the train clips is an image
        video = splits["train"].video
        loss_module = VJEPALoss(model, seed=cfg.seed).to(device)
        stored = TensorDict({"pixels": video.reshape(-1, *video.shape[2:])}, batch_size=[video.shape[0] * video.shape[1]])
    # the baseline's batches hold as many tokens as the video model's: batch_size clips × T/tubelet steps of frames
    batch_size = int(cfg.dataset.batch_size) * (1 if kind == "ui_jepa" else max(1, frames // int(rep.tubelet)))
    sampler = TensorDictReplayBuffer(
        storage=LazyTensorStorage(len(stored)), sampler=RandomSampler(), batch_size=min(batch_size, len(stored))
    )
    sampler.extend(stored)
    steps = int(cfg.train.steps)
    updater = ScheduledSoftUpdate(loss_module, steps, *(float(m) for m in rep.ema))
    optimizer, scheduler = make_adamw_schedule(rep.optim, model, max(steps, 1))
    weights = {"model": model, "target": loss_module.target_encoder}
    checkpoint_config = {
        **config,
        "dims": {"frames": frames, "image_size": image_size},
        "intents": {k: info[k] for k in ("intents", "fewshot_intents", "zeroshot_intents")},
    }

    checkpoints = PretrainCheckpoints(
        run_dir,
        cfg.train,
        config=checkpoint_config,
        weights=weights,
        optimizer=optimizer,
        loss_module=loss_module,
        scheduler=scheduler,
    )  # batches: the restored torch RNG
    start = updater.done = checkpoints.resume(cfg, run_dir, {"seed": cfg.seed, "objective.encoder": kind}, device)

    exp_name = f"pretrain-{rep.name}-{kind}-ui_activity-seed{cfg.seed}"
    logger = MultiLogger(
        cfg.logger,
        run_dir,
        exp_name,
        config,
        group=f"pretrain-{rep.name}-{kind}",
        tags=[rep.name, kind, "ui_activity", "pretrain"],
    )
    print(
        f"{exp_name}: {len(splits['train'].video)} train clips of {len(info['fewshot_intents'])} intents "
        f"({frames} frames, {image_size} px), {len(info['zeroshot_intents'])} zero-shot intents, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters"
    )

    # 3. Stage 1: JEPA-tuning.
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

    # 4. Stage 2: the encoder frozen, the intent decoder trained on its prefixes (or, a supervised reference, the
    # encoder trained with it: objective.decoder.finetune_encoder=true); 5. few- and zero-shot metrics.
    model.eval()
    features = video_features(model, kind, prefix_kind)
    finetune = bool(rep.decoder.get("finetune_encoder", False))

    def encode_splits() -> dict[str, torch.Tensor]:
        return {name: encode_split(features, split, device) for name, split in splits.items()}

    prefix = {} if finetune else encode_splits()
    decoder = train_decoder(
        prefix, splits, cfg, info, device, logger, steps, encoder=model.encoder if finetune else None, features=features
    )
    if finetune:  # the prefixes of the kept (best val) encoder
        model.eval()
        prefix = encode_splits()
    final = checkpoints.save(steps, {"decoder": decoder})
    (final / "tokenizer.json").write_text(json.dumps(decoder.tokenizer.vocab))
    results: dict[str, Any] = {"step": steps, "training_seconds": seconds, "encoder": kind, "collapse": collapse}
    for name in ("fewshot_test", "zeroshot_test"):
        scores = intent_metrics(decoder, prefix[name], splits[name], info)
        scores["intent_similarity"] = (scores["rouge1"] + scores["rouge2"] + scores["rougeL"]) / 3
        results.update({f"{name.removesuffix('_test')}_{k}": v for k, v in scores.items()})
    logger.log({f"eval/{k}": v for k, v in results.items() if isinstance(v, float)}, steps)
    logger.close()
    rows = [f"| {k} | {v:.4f} |" for k, v in results.items() if isinstance(v, float) and k != "training_seconds"]
    table = "\n".join(["| intent metric (held-out clips) | score |", "|---|---|", *rows])
    print(f"\nUI-JEPA ({kind} encoder) after {steps} JEPA-tuning updates:\n{table}\ncheckpoint: {final}")
    write_report(run_dir, {**results, "data": {k: v for k, v in info.items() if k != "cache_dir"}}, table)
    return results
