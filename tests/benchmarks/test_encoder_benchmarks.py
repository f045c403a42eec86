"""The issue-#8 benchmarks: table cells by hand, and every variant / pipeline composes from the configs."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from benchmarks import ad_l_jepa, encoder_agents, seq_jepa_ceiling, t_jepa_tables, ui_jepa
from representations.ad_l_jepa.encoder import build_lidar_model

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")


def test_t_jepa_table_cells_are_mean_and_standard_error_per_model():
    runs = {
        0: {
            "task": "classification",
            "mlp_raw_accuracy": 0.9,
            "mlp_t_jepa_accuracy": 0.8,
            "mlp_random_init_accuracy": 0.7,
            "gbdt_raw_accuracy": 1.0,
        },
        1: {
            "task": "classification",
            "mlp_raw_accuracy": 0.7,
            "mlp_t_jepa_accuracy": 0.8,
            "mlp_random_init_accuracy": 0.7,
            "gbdt_raw_accuracy": 1.0,
        },
    }
    metric, cells, summary = t_jepa_tables.score_cells(runs)
    assert metric == "accuracy"
    assert cells == ["0.800 ± 0.100", "0.800 ± 0.000", "0.700 ± 0.000", "1.000 ± 0.000"]
    assert summary["MLP on raw features"][:1] == [pytest.approx(0.8)]
    for r, raw in zip(runs.values(), (0.5, 0.6)):  # a 1 % share of the labels in the same runs
        r.update(labelled_train_rows=70, labelled_train_rows_1pct=7, mlp_raw_accuracy_1pct=raw)
        r.update({f"{m}_accuracy_1pct": 0.5 for m in ("mlp_t_jepa", "mlp_random_init", "gbdt_raw")})
    assert t_jepa_tables.label_shares(runs) == ["", "_1pct"]
    assert t_jepa_tables.label_shares(
        {0: dict.fromkeys(["labelled_train_rows_1pct", "labelled_train_rows", "labelled_train_rows_10pct"])}
    ) == ["", "_10pct", "_1pct"]
    _, cells, _ = t_jepa_tables.score_cells(runs, "_1pct")
    assert cells == ["0.550 ± 0.050", "0.500 ± 0.000", "0.500 ± 0.000", "0.500 ± 0.000"]


@pytest.mark.parametrize("name", list(ad_l_jepa.VARIANTS))
def test_every_lidar_variant_composes_and_builds_its_model(name):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("pretrain", overrides=["data=lidar", *ad_l_jepa.VARIANTS[name]])
    model = build_lidar_model(cfg.objective, 12)
    assert model.encoder.channels == cfg.objective.model.channels
    assert (cfg.train.steps == 0) is name.startswith("scratch")


@pytest.mark.parametrize("name", list(encoder_agents.PIPELINES))
def test_every_encoder_agent_pipeline_composes(name):
    pretrain, agent, _ = encoder_agents.PIPELINES[name]
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        if pretrain is not None:
            assert compose("pretrain", overrides=pretrain).objective.kind in ("table", "lidar")
        cfg = compose("zeroshot", overrides=agent)
    assert cfg.encoder.name in ("t_jepa", "identity", "ad_l_jepa", "pixels")


@pytest.mark.parametrize("name", list(ui_jepa.VARIANTS))
def test_every_ui_variant_composes_and_builds_its_encoder(name):
    from agents.pretrain_ui import build_ui_models

    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("pretrain", overrides=["objective=ui_jepa", "data=ui_activity", *ui_jepa.VARIANTS[name]])
    model = build_ui_models(cfg.objective, frames=16, image_size=64)
    assert (len(model.grid) == 3) is (cfg.objective.encoder == "ui_jepa")  # a video grid, or an image grid
    assert (cfg.train.steps == 0) is ("random init" in name or "supervised" in name)
    assert cfg.objective.decoder.finetune_encoder is ("supervised" in name)


def test_ui_family_accuracy_counts_clips_right_up_to_the_argument():
    confusion = [
        ["call Bob", "call Bob", 5],  # right
        ["call Bob", "call Alice", 3],  # right family, wrong contact
        ["call Bob", "send a message to Alice", 2],  # wrong family
    ]
    assert ui_jepa.family_accuracy(confusion) == pytest.approx(0.8)
    assert ui_jepa.family_accuracy([["order a pizza", "order a pizza", 3]]) is None  # not a generated intent
    assert ui_jepa.family_accuracy([]) is None


def test_the_supervised_reference_budget_is_set_by_its_own_option():
    default = ui_jepa.selected_variants(list(ui_jepa.VARIANTS))
    assert default == ui_jepa.VARIANTS and "objective.decoder.steps=600" in default[ui_jepa.SUPERVISED]
    longer = ui_jepa.selected_variants([ui_jepa.SUPERVISED, "UI-JEPA"], supervised_steps=1500)
    steps = [o for o in longer[ui_jepa.SUPERVISED] if o.startswith("objective.decoder.steps=")]
    assert steps == ["objective.decoder.steps=1500"] and longer["UI-JEPA"] == ui_jepa.VARIANTS["UI-JEPA"]
    assert ui_jepa.VARIANTS[ui_jepa.SUPERVISED][3] == "objective.decoder.steps=600"  # the table itself is untouched
    with pytest.raises(SystemExit, match="--supervised-steps 0"):
        ui_jepa.selected_variants([ui_jepa.SUPERVISED], supervised_steps=0)


@pytest.mark.parametrize("name", list(seq_jepa_ceiling.SIZES))
def test_every_ceiling_size_is_the_supervised_reference_at_its_width_length_and_data(name):
    from representations.seq_jepa.encoder import build_seq_jepa

    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("pretrain", overrides=[*seq_jepa_ceiling.SUPERVISED, *seq_jepa_ceiling.SIZES[name]])
    assert cfg.objective.loss == "supervised_rotation"
    model = build_seq_jepa(cfg.objective, {"action_dim": 4, "view_shape": [3, 32, 32]})
    width = 128 if "narrow" in name else 512 if "wide" in name else 256
    assert model.encoder(torch.zeros(1, 2, 3, 32, 32)).shape == (1, 2, width)
    assert cfg.train.steps == int(name.split(" updates")[0].split(", ")[-1].replace(",", ""))
    objects = name.split(" objects")[0].replace(",", "") if "objects" in name else "200"
    assert cfg.data.instances_per_class == int(objects)


def test_a_report_command_is_the_one_a_user_types_again():
    import shlex

    from benchmarks.report import command_line

    argv = ["--variants", "UI-JEPA", "frame-averaged baseline", "--", "objective.decoder.prefix=tokens"]
    command = command_line("benchmarks.ui_jepa", argv)
    assert (
        command == "python -m benchmarks.ui_jepa --variants UI-JEPA 'frame-averaged baseline' -- objective.decoder.prefix=tokens"
    )
    assert shlex.split(command)[3:] == argv  # the variant with a space stays one argument
    assert command_line("benchmarks.ui_jepa_pixels", []) == "python -m benchmarks.ui_jepa_pixels"
