"""The quality benchmark aggregates per-seed evaluations of real entry-point runs."""

import json

from benchmarks.zeroshot_quality import main as zeroshot_quality, mean_se


def test_mean_and_standard_error():
    m, se = mean_se([1.0, 3.0])
    assert m == 2.0 and abs(se - 1.0) < 1e-12  # s.d. √2, s.e. √2/√2


def test_two_tiny_seeds_are_aggregated(tmp_path):
    overrides = [
        "env.max_episode_steps=20",
        "dataset.source=generated",
        "dataset.num_episodes=3",
        "dataset.episode_length=60",
        "dataset.batch_size=32",
        f"dataset.cache_dir={tmp_path / 'cache'}",
        "representation.phi_encoder.hidden_dim=32",
        "representation.psi_encoder.hidden_dim=32",
        "representation.predictor.hidden_dim=32",
        "actor.hidden_dim=32",
        "train.steps=4",
        "train.log_every=2",
        "train.checkpoint_every=4",
        "eval.episodes=1",
        "eval.inference_samples=50",
        "logger.backend=none",
    ]
    summary = zeroshot_quality(
        ["--seeds", "0", "1", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--", *overrides]
    )
    assert summary["seeds"] == [0, 1] and summary["failed"] == []
    mean, se = summary["mean"]["reward"]["mean"]
    assert 0.0 <= mean <= 100.0 and se >= 0.0
    assert set(summary["oracle_agreement"]) == {0, 1}
    table = (tmp_path / "out" / "zeroshot_quality_pointmaze-medium-navigate.md").read_text()
    assert "| task1 |" in table and "Command: `python -m benchmarks.zeroshot_quality" in table
    assert json.loads((tmp_path / "out" / "zeroshot_quality_pointmaze-medium-navigate.json").read_text())["seeds"] == [0, 1]


def test_comparison_table_mean_and_standard_error():
    from benchmarks.zeroshot_comparison import comparison_table

    per_method = {
        "fb": {0: {"reward": {"walk": 100.0, "run": 20.0}}, 1: {"reward": {"walk": 200.0, "run": 40.0}}},
        "hilp": {0: {"reward": {"walk": 50.0, "run": 10.0}}},
    }
    lines, numbers = comparison_table(per_method, "return")
    assert numbers["reward"]["fb"]["walk"] == [150.0, 50.0, 2]  # s.e. = std(ddof=1)/√n = 70.71/1.414
    assert numbers["reward"]["fb"]["mean"][0] == 90.0
    assert "| walk | 150.0 ± 50.0 | 50.0 |" in lines


def test_gap_to_untrained_in_standard_errors():
    from benchmarks.zeroshot_comparison import gap_to_reference

    per_method = {
        "td_jepa": {0: {"reward": {"a": 100.0, "b": 0.0}}, 1: {"reward": {"a": 140.0, "b": 0.0}}},  # task means 50, 70
        "untrained": {0: {"reward": {"a": 20.0, "b": 0.0}}, 1: {"reward": {"a": 20.0, "b": 20.0}}},  # 10, 20
    }
    lines, gaps = gap_to_reference(per_method)
    gap = gaps["td_jepa"]["reward"]
    # means 60 vs 15; s.e. 10 and 5; s.e. of the difference √125 = 11.18; 45 / 11.18 = 4.02
    assert gap["gap"] == 45.0 and abs(gap["se"] - 125**0.5) < 1e-9 and abs(gap["gap_in_se"] - 45 / 125**0.5) < 1e-9
    assert "| td_jepa | +45.0 / 11.2 / +4.0 |" in lines and "untrained" not in gaps


def test_curve_table_averages_seeds_per_evaluation():
    from benchmarks.zeroshot_comparison import curve_table

    runs = {
        "fb": {
            0: {"curve": [{"step": 10, "train_seconds": 60.0, "results": {"reward": {"a": 2.0, "b": 4.0}}}]},
            1: {"curve": [{"step": 10, "train_seconds": 120.0, "results": {"reward": {"a": 6.0, "b": 8.0}}}]},
        }
    }
    lines, curves = curve_table(runs)
    assert curves["fb"][0]["reward"] == [5.0, 2.0, 2] and curves["fb"][0]["train_seconds"] == 90.0
    assert "| fb | 10 | 1.5 | reward 5.0 ± 2.0 |" in lines
