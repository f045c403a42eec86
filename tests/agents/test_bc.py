"""python -m agents.bc: the three policies train, evaluate, probe, checkpoint and resume (tiny budgets)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from agents.bc import train_bc
from tiny import CONFIGS, bc_overrides, compose_bc
from representations.act_jepa import load_bc_policy


@pytest.mark.parametrize("name", ["act_jepa", "act", "mlp_bc"])
def test_each_policy_trains_evaluates_probes_and_reloads(name, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "demo-cache"
    run_dir = tmp_path_factory.mktemp(f"bc-{name}")
    results = train_bc(compose_bc(bc_overrides(name, cache)), run_dir)
    saved = json.loads((run_dir / "eval.json").read_text())
    assert saved["success"] == results["success"] and set(results["success"]) == {f"task{i}" for i in range(1, 6)}
    assert all(0.0 <= v <= 1.0 for v in results["success"].values())
    for key in ("probe_state_rmse", "probe_state_ate", "probe_action_l1"):
        assert math.isfinite(results[key]) and results[key] > 0
    assert results["demonstrations"]["episodes"] == 10 and results["training_seconds"] > 0
    policy, config = load_bc_policy(run_dir)
    assert config["policy"]["name"] == name and policy.chunk == 5
    obs, goal = torch.zeros(3, 2), torch.ones(3, 2)
    assert policy.predict_actions(obs, goal).shape == (3, 5, 2)


def test_temporal_ensembling_and_resume(tmp_path):
    cache = tmp_path / "cache"
    first = train_bc(compose_bc([*bc_overrides("act", cache), "execution.mode=ensemble"]), tmp_path / "runs" / "a")
    assert first["execution"] == "ensemble"
    resumed = train_bc(compose_bc([*bc_overrides("act", cache), "train.steps=6", "resume=true"]), tmp_path / "runs" / "b")
    assert resumed["step"] == 6
    state = torch.load(tmp_path / "runs" / "b" / "checkpoints" / "step000000006" / "training_state.pt", weights_only=False)
    assert state["step"] == 6 and state["scheduler"]["last_epoch"] == 6  # the schedule continued, not restarted


def test_zero_shot_representations_and_bc_policies_live_in_their_own_groups(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException

    from representations import make_representation
    from representations.act_jepa import make_bc_policy

    with pytest.raises(MissingConfigException, match=r"policy/td_jepa[\s\S]*act_jepa"):  # the options are listed
        compose_bc(["policy=td_jepa"])
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        with pytest.raises(MissingConfigException, match=r"representation/act_jepa[\s\S]*td_jepa"):
            compose("zeroshot", overrides=["representation=act_jepa"])
    # the builders say the same to Python callers
    with pytest.raises(ValueError, match=r"policy=td_jepa is not a behaviour-cloning policy; agents.bc trains"):
        make_bc_policy({"name": "td_jepa"}, 2, 2)
    with pytest.raises(ValueError, match="behaviour-cloning policy: train it with python -m agents.bc policy=act_jepa"):
        make_representation({"name": "act_jepa"}, 2, 2)


def test_bad_settings_fail_before_any_data_work(tmp_path):
    with pytest.raises(ValueError, match="unknown execution mode 'replan'"):
        train_bc(compose_bc([*bc_overrides("mlp_bc", tmp_path / "cache"), "execution.mode=replan"]), tmp_path / "run")
    with pytest.raises(ValueError, match="val_episodes_per_task must be at least 1"):
        train_bc(compose_bc([*bc_overrides("mlp_bc", tmp_path / "cache"), "dataset.val_episodes_per_task=0"]), tmp_path / "run")
    assert not (tmp_path / "cache").exists()  # nothing was generated


def test_act_jepa_with_image_tokens_trains_on_rendered_frames(tmp_path):
    overrides = [*bc_overrides("act_jepa", tmp_path / "cache"), "policy.image_size=16", "policy.image_channels=4"]
    cfg = compose_bc(overrides)
    assert cfg.env.pixels == 16 and cfg.dataset.pixels == 16  # the frame size flows to the env and the demonstrations
    results = train_bc(cfg, tmp_path / "run")
    assert set(results["success"]) == {f"task{i}" for i in range(1, 6)} and math.isfinite(results["probe_state_rmse"])
    policy, _ = load_bc_policy(tmp_path / "run")
    assert policy.image_tokens


def test_resume_is_exact(tmp_path):
    """Resumed from its step-2 checkpoint (as after a kill), an ACT-JEPA run ends with the uninterrupted run's weights:
    the checkpoint holds the demonstration buffers' sampling streams, the schedule and the EMA target."""
    from safetensors.torch import load_file

    cache = tmp_path / "cache"
    train_bc(compose_bc(bc_overrides("act_jepa", cache)), tmp_path / "whole")
    step2 = tmp_path / "whole" / "checkpoints" / "step000000002"
    train_bc(compose_bc([*bc_overrides("act_jepa", cache), f"resume={step2}"]), tmp_path / "resumed")
    whole = load_file(tmp_path / "whole" / "checkpoints" / "step000000004" / "model.safetensors")
    again = load_file(tmp_path / "resumed" / "checkpoints" / "step000000004" / "model.safetensors")
    assert whole.keys() == again.keys() and all(torch.equal(whole[k], again[k]) for k in whole)
