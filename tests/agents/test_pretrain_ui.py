"""python -m agents.pretrain objective=ui_jepa data=ui_activity: JEPA-tuning, the intent decoder, few- and
zero-shot metrics, the frame-averaged baseline, resume (issue #9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file
from tiny import TINY_UI, assert_same_weights, compose_pretrain, interrupted_copy

from agents.pretrain import pretrain

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("exact_accuracy", "nearest_accuracy", "rouge1", "rouge2", "rougeL", "intent_similarity")


def config(tmp_path, *extra):
    return compose_pretrain([*TINY_UI, f"data.cache_dir={tmp_path / 'cache'}", *extra])


@pytest.mark.parametrize("encoder", ["ui_jepa", "frame_averaged"])
def test_ui_jepa_reports_few_and_zero_shot_intent_metrics(tmp_path, encoder):
    results = pretrain(config(tmp_path, f"objective.encoder={encoder}"), tmp_path / "run")
    for split in ("fewshot", "zeroshot"):
        for metric in METRICS:
            assert 0.0 <= results[f"{split}_{metric}"] <= 1.0, (split, metric)
        similarity = sum(results[f"{split}_{k}"] for k in ("rouge1", "rouge2", "rougeL")) / 3
        assert results[f"{split}_intent_similarity"] == pytest.approx(similarity)
        confusion = results[f"{split}_confusion"]  # [true intent, nearest intent, clips]: every test clip once
        clips = sum(count for *_, count in confusion)
        assert clips == 2 * (4 if split == "fewshot" else 2)  # data.test_clips=2 per intent, 4 few-shot / 2 zero-shot
        right = sum(count for true, nearest, count in confusion if true == nearest)
        assert results[f"{split}_nearest_accuracy"] == pytest.approx(right / clips)
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["encoder"] == encoder and saved["data"]["zeroshot_intents"]
    assert saved["collapse"] and {"feature_rankme", "target_rankme", "target_std"} <= set(saved["collapse"][-1])
    step = tmp_path / "run" / "checkpoints" / "step000000003"
    weights = load_file(str(step / "model.safetensors"))
    assert any(k.startswith("decoder.") for k in weights) and any(k.startswith("target.") for k in weights)
    vocabulary = json.loads((step / "tokenizer.json").read_text())
    assert vocabulary[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    # the decoder's words are those of the train clips' texts, nothing from the held-out clips
    from data.ui_activity import load_ui_activity
    from representations.ui_jepa.metrics import words

    splits, _ = load_ui_activity(config(tmp_path).data, extra_keys=("kind", "name"))
    assert set(vocabulary[4:]) == {w for text in splits["train"].text for w in words(text)}


def test_the_encoder_is_frozen_while_the_decoder_trains(tmp_path, monkeypatch):
    import agents.pretrain_ui as pretrain_ui

    seen = {}
    original = pretrain_ui.train_decoder

    def spy(prefix, splits, cfg, info, device, logger, offset, **kwargs):
        seen["prefix"], seen["encoder"] = {k: v.clone() for k, v in prefix.items()}, kwargs["encoder"]
        return original(prefix, splits, cfg, info, device, logger, offset, **kwargs)

    monkeypatch.setattr(pretrain_ui, "train_decoder", spy)
    pretrain(config(tmp_path), tmp_path / "run")
    prefix = seen["prefix"]
    assert prefix["train"].shape == (16, 2, 16)  # 4 intents x 4 clips; 4 frames / tubelet 2 = 2 hyper-frames; width 16
    assert set(prefix) == {"train", "val", "fewshot_test", "zeroshot_test"}
    assert all(not v.requires_grad for v in prefix.values())
    assert seen["encoder"] is None  # by default nothing passes the encoder to the decoder's optimiser


def test_an_interrupted_run_resumes_its_jepa_tuning_to_the_same_weights(tmp_path, capsys):
    extra = ("train.steps=4", "train.checkpoint_every=2", "train.keep_checkpoints=10")
    pretrain(config(tmp_path, *extra), tmp_path / "full")
    interrupted = interrupted_copy(tmp_path / "full", tmp_path / "interrupted", at=2)
    capsys.readouterr()
    pretrain(config(tmp_path, *extra, "resume=true"), interrupted)
    out = capsys.readouterr().out
    assert "at step 2" in out and "step 4:" in out and "step 2:" not in out.split("resumed from")[1]
    assert_same_weights(tmp_path / "full", interrupted, 4)


def test_the_token_prefix_keeps_every_token_and_a_finished_run_resumes_to_decode_with_it(tmp_path, capsys):
    import torch

    from agents.pretrain_ui import build_ui_models, video_features
    from representations.ui_jepa import FrameAveragedEncoder

    cfg = config(tmp_path)
    video = torch.randint(0, 255, (2, cfg.data.frames, 3, cfg.data.image_size, cfg.data.image_size), dtype=torch.uint8)
    model = build_ui_models(cfg.objective, frames=cfg.data.frames, image_size=cfg.data.image_size).eval()
    with torch.no_grad():
        tokens = video_features(model, "ui_jepa", "tokens")(video)
        torch.testing.assert_close(tokens, model.encode_video(video))  # [B, T/t · (S/p)², D], nothing pooled
        means = video_features(model, "ui_jepa")(video)
        torch.testing.assert_close(means, tokens.reshape(2, means.shape[1], -1, tokens.shape[-1]).mean(2))
    image_cfg = config(tmp_path, "objective.encoder=frame_averaged").objective
    image_model = build_ui_models(image_cfg, frames=cfg.data.frames, image_size=cfg.data.image_size).eval()
    with torch.no_grad():  # the baseline's patch tokens, averaged over time only
        averaged = FrameAveragedEncoder(image_model.encoder).encode_video(video)
        torch.testing.assert_close(video_features(image_model, "frame_averaged", "tokens")(video), averaged)
        torch.testing.assert_close(video_features(image_model, "frame_averaged")(video), averaged.mean(1, keepdim=True))

    pretrain(cfg, tmp_path / "run")
    step = tmp_path / "run" / "checkpoints" / "step000000003" / "model.safetensors"
    first = load_file(str(step))
    capsys.readouterr()
    tokens_cfg = config(tmp_path, "resume=true", "objective.decoder.prefix=tokens", "objective.decoder.prefix_queries=2")
    results = pretrain(tokens_cfg, tmp_path / "run")  # the JEPA stage is done: only a new decoder trains
    assert "resumed from" in capsys.readouterr().out and 0.0 <= results["fewshot_exact_accuracy"] <= 1.0
    second = load_file(str(step))
    encoder = [k for k in first if k.startswith(("model.", "target."))]
    assert encoder and all(first[k].equal(second[k]) for k in encoder)
    assert second["decoder.resampler.query"].shape == (1, 2, cfg.objective.model.dim) and "decoder.resampler.query" not in first
    with pytest.raises(ValueError, match="other settings"):  # a stage-1 setting still refuses to resume
        pretrain(config(tmp_path, "resume=true", "objective.masks.temporal=false"), tmp_path / "run")


def test_wrong_combinations_fail_with_clear_messages(tmp_path):
    with pytest.raises(ValueError, match="objective=ui_jepa reads UI screen recordings: use data=ui_activity"):
        pretrain(compose_pretrain(["objective=ui_jepa", "logger.backend=none"]), tmp_path / "run")
    with pytest.raises(ValueError, match=r"data=ui_activity is for objective=ui_jepa"):
        pretrain(compose_pretrain(["objective=seq_jepa", "data=ui_activity", "logger.backend=none"]), tmp_path / "run")
    with pytest.raises(ValueError, match="unknown objective.encoder='clip'"):
        pretrain(config(tmp_path, "objective.encoder=clip"), tmp_path / "run")
    with pytest.raises(ValueError, match=r"data.frames=5 is not a multiple of objective.tubelet=2"):
        pretrain(config(tmp_path, "data.frames=5"), tmp_path / "run")
    with pytest.raises(ValueError, match=r"unknown objective.decoder.prefix='grid'; choose one of"):
        pretrain(config(tmp_path, "objective.decoder.prefix=grid"), tmp_path / "run")
    with pytest.raises(ValueError, match=r"objective.decoder.prefix_queries=-2 must be 0"):
        pretrain(config(tmp_path, "objective.decoder.prefix_queries=-2"), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before any JEPA update


def test_cli_runs_as_a_user_types_it(tmp_path):
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline"}
    cmd = [
        sys.executable,
        "-m",
        "agents.pretrain",
        *TINY_UI,
        f"data.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "UI-JEPA (ui_jepa encoder) after 3 JEPA-tuning updates" in proc.stdout
    assert "| zeroshot_intent_similarity |" in proc.stdout


def test_the_ablation_without_temporal_masks_trains_with_the_spatial_masks_only(tmp_path):
    from agents.pretrain_ui import build_ui_models
    from representations.ui_jepa.model import TemporalMasks, ui_jepa_mask_generators

    cfg = config(tmp_path, "objective.masks.temporal=false")
    model = build_ui_models(cfg.objective, frames=cfg.data.frames, image_size=cfg.data.image_size)
    assert model.predictor.mask_tokens.shape[0] == 2  # short- and long-range multi-blocks, one token each
    generators = ui_jepa_mask_generators(model.grid, temporal=False)
    assert len(generators) == 2 and not any(isinstance(g, TemporalMasks) for g in generators)
    assert isinstance(ui_jepa_mask_generators(model.grid)[-1], TemporalMasks)
    results = pretrain(cfg, tmp_path / "run")
    assert 0.0 <= results["fewshot_exact_accuracy"] <= 1.0 and results["collapse"]


def test_the_supervised_reference_trains_the_encoder_with_the_decoder_and_only_then(tmp_path):
    frozen = config(tmp_path, "train.steps=0")
    pretrain(frozen, tmp_path / "frozen")
    pretrain(config(tmp_path, "train.steps=0", "objective.decoder.finetune_encoder=true"), tmp_path / "supervised")
    step = Path("checkpoints") / "step000000000" / "model.safetensors"
    frozen_weights = load_file(str(tmp_path / "frozen" / step))
    supervised = load_file(str(tmp_path / "supervised" / step))
    encoder = [k for k in frozen_weights if k.startswith("model.encoder.")]
    assert encoder and set(frozen_weights) == set(supervised)
    # no JEPA update: the EMA target is still the initial encoder, as is the frozen run's encoder
    for key in encoder:
        assert frozen_weights[key].equal(frozen_weights[key.replace("model.encoder.", "target.", 1)]), key
    changed = [k for k in encoder if not frozen_weights[k].equal(supervised[k])]
    assert len(changed) == len(encoder), set(encoder) - set(changed)  # every encoder tensor got a gradient
    assert all(frozen_weights[k].equal(supervised[k]) for k in supervised if k.startswith("target."))


def test_the_pixel_ceiling_benchmark_writes_one_row_per_input(tmp_path):
    from benchmarks import ui_jepa_pixels

    overrides = [*(a for a in TINY_UI if a.startswith("data.")), f"data.cache_dir={tmp_path / 'cache'}"]
    results = ui_jepa_pixels.main(["--out", str(tmp_path), "--label", "tiny", "--", *overrides])
    assert set(results) == set(ui_jepa_pixels.pixel_inputs(2))
    for result in results.values():
        assert 0.0 <= result["accuracy"] <= 1.0 and sum(c for *_, c in result["confusion"]) == 8  # 4 intents x 2 clips
    table = (tmp_path / "ui_jepa_pixels_tiny.md").read_text()
    assert "Command: `python -m benchmarks.ui_jepa_pixels --out" in table and "| all pixels, all frames | 12,288 |" in table
    assert json.loads((tmp_path / "ui_jepa_pixels_tiny.json").read_text())["chance"] == pytest.approx(0.25)
