"""The vision-JEPA benchmark sizes every variant alike under each method's own config keys."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from benchmarks import dmt_jepa_collapse
from benchmarks.vision_jepa import VARIANTS, mean_return, size_overrides
from representations.encoders.vision import build_vision_models

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_composes_at_one_vit_size(name):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("pretrain", overrides=["data=frames", *VARIANTS[name][1], *size_overrides(name, 32, 2, 2, 1)])
    models = build_vision_models(cfg.objective, image_size=32)
    encoder = (models.get("student") or models["model"]).encoder
    assert encoder.dim == 32 and len(encoder.blocks) == 2
    if name == "SALT (small teacher)":
        assert models["teacher"].encoder.dim == 16 and len(models["teacher"].encoder.blocks) == 1
    elif "teacher" in models:
        assert models["teacher"].encoder.dim == 32


def test_config_sizes_are_kept_without_vit_option():
    assert size_overrides("V-JEPA", 0, 0, 0, 0) == []
    assert size_overrides("SALT (small teacher)", 0, 0, 0, 0) == [
        "objective.teacher.dim=96",
        "objective.teacher.depth=3",
    ]


def test_mean_return_reads_reward_inferred_z():
    assert mean_return({"results": {"reward": {"walk": 10.0, "run": 30.0}, "goal": {"walk": 0.0}}}) == 20.0


@pytest.mark.parametrize("name", list(dmt_jepa_collapse.VARIANTS))
def test_every_collapse_variant_composes_and_differs_where_it_says(name):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("pretrain", overrides=["data=frames", *dmt_jepa_collapse.VARIANTS[name], "objective.model.dim=24"])
    model = build_vision_models(cfg.objective, image_size=32)["model"]
    if cfg.objective.name == "dmt_jepa":
        assert model.aggregate is ("I-JEPA" not in name)
        assert model.head.query == ("released" if "released" in name else "patch" if "per-patch" in name else "image")


def test_curve_cell_shows_first_middle_and_last():
    history = [{"step": s, "target_std": v} for s, v in zip(range(5), [0.5, 0.4, 0.3, 0.2, 0.1])]
    assert dmt_jepa_collapse.curve_cell(history, "target_std") == "0.5000 → 0.3000 → 0.1000"
    assert dmt_jepa_collapse.curve_cell([], "target_std") == ""
