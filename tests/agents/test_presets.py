"""The presets and experiment recipes compose, and the symmetric TD-JEPA preset trains on both env families."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from agents.zeroshot import train_zeroshot
from representations import load_pretrained
from test_matrix import COMMON, ENVIRONMENTS
from tiny import CONFIGS

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIGS) / "experiment").glob("*.yaml"))


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("zeroshot", overrides=overrides)


@pytest.mark.parametrize("environment", ["ogbench-states", "dmc-states"])
def test_symmetric_preset_trains_and_reloads(environment, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "matrix-data"
    run_dir = tmp_path_factory.mktemp(f"sym-{environment}")
    tiny = (
        [
            "representation.z_dim=8",
            "representation.psi_encoder.hidden_dim=16",
            "representation.predictor.hidden_dim=16",
            "actor.flow_hidden_dim=16",
        ]
        if environment.startswith("ogbench")
        else ["representation.z_dim=8", "representation.psi_encoder.hidden_dim=16", "representation.predictor.hidden_dim=16"]
    )
    cfg = _compose(
        [
            "representation=td_jepa_sym",
            *ENVIRONMENTS[environment],
            *tiny,
            *COMMON,
            f"dataset.cache_dir={cache}",
            f"dataset.data_dir={cache / 'official'}",
        ]
    )
    results = train_zeroshot(cfg, run_dir)
    assert results and json.loads((run_dir / "eval.json").read_text())["results"] == results
    model, _, config = load_pretrained(run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip())
    assert model.symmetric and model.phi_encoder is model.psi_encoder and model.phi_dim == 8
    assert config["representation"]["name"] == "td_jepa_sym"


def test_symmetric_flag_alone_composes_on_dmc():
    cfg = _compose(["env=dmc", "representation.symmetric=true"])
    # the DMC preset's 256-d linear φ is not used: the one encoder is ψ's 256×2 MLP into z_dim
    from representations import make_representation

    model = make_representation(cfg.representation, 24, 6)
    assert model.phi_dim == cfg.representation.z_dim == 50 and model.psi_predictor is None


def test_fb_presets_follow_the_official_launchers():
    assert _compose(["representation=fb"]).representation.loss.ortho_coef == 100.0
    dmc = _compose(["representation=fb", "env=dmc"]).representation
    assert dmc.actor_uses_features is True and dmc.loss.ortho_coef == 1.0


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_recipes_compose(experiment):
    env = "dmc" if experiment.startswith("dmc") else "ogbench"
    cfg = _compose([f"env={env}", f"experiment={experiment}"])
    assert cfg.train.steps > 0 and cfg.actor.name == ("td3" if env == "dmc" else "flow_bc")


def test_dmc_recipes_keep_the_method_presets_and_set_the_cpu_sizes():
    fb = _compose(["env=dmc", "representation=fb", "experiment=dmc_cpu_fb"])
    assert fb.representation.name == "fb" and fb.representation.actor_uses_features is True  # the fb_dmc preset
    assert fb.representation.forward_map.hidden_dim == 256 and fb.actor.hidden_dim == 256 and fb.dataset.batch_size == 256
    td = _compose(["env=dmc", "experiment=dmc_cpu"])
    assert td.representation.phi_dim == 256 and td.representation.predictor.hidden_dim == 256  # td_jepa_dmc preset + recipe
    assert td.train.steps == 6000 and td.representation.optim.tau == 0.01


def test_demo_is_the_hilp_cpu_recipe_cut_to_20k_with_the_per_step_goal_z():
    demo = _compose(["experiment=demo"])
    recipe = _compose(["experiment=pointmaze_cpu_hilp"])
    assert demo.train.steps == 20000 and demo.representation == recipe.representation and demo.actor == recipe.actor
    assert demo.representation.name == "hilp" and demo.representation.goal_inference == "direction"
    assert "46.7" in demo.note and "TD-JEPA" in demo.note and "straight at the goal" in demo.note  # the honest line


def test_td_jepa_cpu_recipe_uses_the_ablated_latent_size():
    # z_dim 8 (not the official 50) and 20k updates: the z_dim ablation in docs/RESULTS.md §3.1
    recipe = _compose(["experiment=pointmaze_cpu"])
    assert recipe.representation.name == "td_jepa"
    assert recipe.representation.z_dim == recipe.representation.phi_dim == 8
    assert recipe.train.steps == 20000 and recipe.train.eval_every == recipe.train.checkpoint_every == 5000
    from representations import make_representation

    model = make_representation(recipe.representation, 4, 2)
    assert model.z_dim == 8 and model.infer_z_from_goal(torch.zeros(4)).shape == (8,)
