from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def _compose(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="zeroshot", overrides=overrides, return_hydra_config=False)


def test_defaults_compose():
    cfg = _compose([])
    assert cfg.env.family == "ogbench" and cfg.env.name == "pointmaze-medium-navigate"
    assert cfg.dataset.name == "pointmaze-medium-navigate"  # interpolated from the env
    assert cfg.representation.name == "td_jepa" and cfg.encoder.name == "auto"
    # official OGBench-proprio launcher values
    rep = cfg.representation
    assert (rep.z_dim, rep.phi_dim, rep.loss.gamma, rep.optim.tau) == (50, 50, 0.99, 0.005)
    assert rep.phi_encoder.hidden_layers == 4 and rep.predictor.hidden_dim == 512 and cfg.dataset.batch_size == 256


def test_issue_overrides_compose():
    cfg = _compose(
        [
            "env=ogbench",
            "env.name=cube-single-play",
            "representation=td_jepa",
            "representation.z_dim=50",
            "train.steps=200000",
            "seed=3",
        ]
    )
    assert cfg.env.name == "cube-single-play" and cfg.dataset.name == "cube-single-play"
    assert cfg.train.steps == 200000 and cfg.seed == 3


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="not_a_key"):
        _compose(["representation.not_a_key=1"])


def test_unknown_group_option_lists_choices():
    with pytest.raises(ConfigCompositionException, match="td_jepa"):
        _compose(["representation=not_a_method"])
