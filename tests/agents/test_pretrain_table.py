"""python -m agents.pretrain objective=t_jepa data=table: pretraining, downstream scores, resume, and
T-JEPA as an observation encoder (issue #8)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tensordict import TensorDict
from tiny import TINY_ENV_STATES, TINY_T_JEPA, assert_same_weights, compose_pretrain, interrupted_copy

from agents.pretrain import pretrain
from representations.encoders import make_encoder
from representations.t_jepa.encoder import TJEPAEncoder, load_t_jepa

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path, *extra):
    return compose_pretrain([*TINY_T_JEPA, f"dataset.cache_dir={tmp_path / 'cache'}", *extra])


def test_t_jepa_pretrains_on_a_mixed_table_and_scores_every_downstream_model(tmp_path):
    results = pretrain(config(tmp_path, "data.name=synthetic_mixed", "data.rows=300"), tmp_path / "run")
    scores = {"mlp_raw_accuracy", "mlp_t_jepa_accuracy", "mlp_random_init_accuracy", "gbdt_raw_accuracy"}
    assert scores <= set(results) and all(0.0 <= results[k] <= 1.0 for k in scores)
    assert results["gbdt_raw_accuracy"] > 0.8  # the planted label is easy for the GBDT
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["step"] == 4 and saved["task"] == "classification"
    assert saved["collapse"] and {"feature_rankme", "target_rankme", "target_std"} <= set(saved["collapse"][-1])
    assert "| mlp_t_jepa_accuracy |" in (tmp_path / "run" / "eval.md").read_text()
    model, config_ = load_t_jepa(tmp_path / "run")
    assert config_["dims"]["cardinalities"] == [5, 3, 13] and model.num_tokens == 1 + 6 + 3
    # the checkpoint's frozen embedder is the EMA target encoder, not the online one
    online, _ = load_t_jepa(tmp_path / "run", part="online")
    weights = load_file(str(tmp_path / "run" / "checkpoints" / "step000000004" / "model.safetensors"))
    torch.testing.assert_close(model.tokenizer.numeric_weight, weights["target.tokenizer.numeric_weight"])
    assert not torch.equal(online.tokenizer.numeric_weight, model.tokenizer.numeric_weight)


def test_label_fractions_score_every_model_on_a_stratified_share_of_the_train_labels(tmp_path):
    from agents.pretrain_table import labelled_subset

    cfg = config(tmp_path, "data.name=synthetic_mixed", "data.rows=400", "probe.label_fractions=[0.05,1.0]")
    results = pretrain(cfg, tmp_path / "run")
    assert results["labelled_train_rows"] == 279 and results["labelled_train_rows_5pct"] == 14  # 5 % of 279 train rows
    for model in ("mlp_raw", "mlp_t_jepa", "mlp_random_init", "gbdt_raw"):
        assert 0.0 <= results[f"{model}_accuracy_5pct"] <= 1.0 and f"{model}_accuracy" in results
    # the draw: stratified by class, seeded, at least one row per class, indices kept in "row"
    train = TensorDict({"target": torch.tensor([0] * 90 + [1] * 10), "x": torch.arange(100.0)}, [100])
    rows = labelled_subset(train, 0.2, "classification", seed=0)
    assert len(rows) == 20 and rows["target"].sum() == 2 and torch.equal(rows["x"], rows["row"].float())
    assert torch.equal(rows["row"], labelled_subset(train, 0.2, "classification", seed=0)["row"])
    assert not torch.equal(rows["row"], labelled_subset(train, 0.2, "classification", seed=1)["row"])
    assert set(labelled_subset(train, 0.001, "classification", seed=0)["target"].tolist()) == {0, 1}
    assert len(labelled_subset(train, 1.0, "classification", seed=0)) == 100


def test_regression_tables_report_rmse_in_the_targets_units(tmp_path):
    results = pretrain(config(tmp_path, "data.name=diabetes"), tmp_path / "run")
    assert {"mlp_raw_rmse", "mlp_t_jepa_rmse", "gbdt_raw_rmse"} <= set(results)
    # diabetes' target spans 25..346 (std ≈ 77): an RMSE in its units, not in standard deviations
    assert 30 < results["gbdt_raw_rmse"] < 120 and 30 < results["mlp_raw_rmse"] < 200


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, capsys):
    extra = ("data.name=wine", "train.steps=6", "train.checkpoint_every=2", "train.keep_checkpoints=10", "dataset.batch_size=16")
    pretrain(config(tmp_path, *extra), tmp_path / "full")
    interrupted = interrupted_copy(tmp_path / "full", tmp_path / "interrupted", at=2)
    capsys.readouterr()
    pretrain(config(tmp_path, *extra, "resume=true"), interrupted)
    out = capsys.readouterr().out
    assert "resumed from" in out and "at step 2" in out
    full = assert_same_weights(tmp_path / "full", interrupted, 6)
    assert any(k.startswith("target.") for k in full)


def test_t_jepa_on_env_states_encodes_the_agents_observations(tmp_path):
    results = pretrain(config(tmp_path, *TINY_ENV_STATES), tmp_path / "run")
    assert results["task"] == "none" and not any(k.startswith("mlp_") for k in results)
    encoder, feature_dim = make_encoder({"name": "t_jepa", "checkpoint": str(tmp_path / "run")}, (2,))
    assert feature_dim == 8 and not any(p.requires_grad for p in encoder.parameters())
    states = torch.randn(5, 3, 2)  # any leading dims
    features = encoder(states)
    assert features.shape == (5, 3, 8)
    model, config_ = load_t_jepa(tmp_path / "run")
    rows = (states.reshape(-1, 2) - torch.tensor(config_["dims"]["numeric_mean"])) / torch.tensor(config_["dims"]["numeric_std"])
    torch.testing.assert_close(features.reshape(-1, 8), model.encode(rows.float(), pool="mean"))
    flat = TJEPAEncoder(tmp_path / "run", (2,), pool="flatten", frozen=False)
    assert flat.feature_dim == 8 * (1 + 2) and all(p.requires_grad for p in flat.model.parameters())
    with pytest.raises(
        ValueError, match=r"reads rows of 2 numeric features .* but this environment's observations have shape \[24\]"
    ):
        make_encoder({"name": "t_jepa", "checkpoint": str(tmp_path / "run")}, (24,))
    with pytest.raises(ValueError, match=r"encoder=t_jepa needs encoder.checkpoint="):
        make_encoder({"name": "t_jepa", "checkpoint": None}, (2,))


def test_wrong_combinations_fail_with_clear_messages(tmp_path):
    with pytest.raises(ValueError, match="objective=t_jepa pretrains on tables: use data=table"):
        pretrain(config(tmp_path, "data=views3d"), tmp_path / "run")
    with pytest.raises(ValueError, match=r"data=table is for objective=t_jepa"):
        pretrain(compose_pretrain(["objective=seq_jepa", "data=table", "logger.backend=none"]), tmp_path / "run")


def test_cli_runs_on_a_users_csv_as_a_user_types_it(tmp_path):
    from data.tables import synthetic_mixed

    features, label, _ = synthetic_mixed(200, seed=3)
    features.assign(label=label).to_csv(tmp_path / "mine.csv", index=False)
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline"}
    cmd = [
        sys.executable,
        "-m",
        "agents.pretrain",
        *TINY_T_JEPA,
        f"data.path={tmp_path / 'mine.csv'}",
        "data.target=label",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "T-JEPA on mine after 4 updates" in proc.stdout and "| gbdt_raw_accuracy |" in proc.stdout
    assert math.isfinite(json.loads((tmp_path / "run" / "eval.json").read_text())["mlp_t_jepa_accuracy"])


def test_resume_refuses_other_settings_but_not_another_budget(tmp_path):
    extra = ("data.name=wine", "train.steps=2", "train.checkpoint_every=2", "dataset.batch_size=16")
    pretrain(config(tmp_path, *extra), tmp_path / "run")
    with pytest.raises(ValueError, match=r"cannot resume .*dataset.batch_size: 16 → 8"):
        pretrain(config(tmp_path, *extra, "train.steps=4", "dataset.batch_size=8", "resume=true"), tmp_path / "run")
    assert pretrain(config(tmp_path, *extra, "train.steps=3", "resume=true"), tmp_path / "run")["step"] == 3
