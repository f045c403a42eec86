"""The quality benchmark aggregates per-seed evaluations of real entry-point runs."""
import json

from benchmarks.zeroshot_quality import main as zeroshot_quality, mean_se


def test_mean_and_standard_error():
    m, se = mean_se([1.0, 3.0])
    assert m == 2.0 and abs(se - 1.0) < 1e-12  # s.d. √2, s.e. √2/√2


def test_two_tiny_seeds_are_aggregated(tmp_path):
    overrides = [
        "env.max_episode_steps=20", "dataset.source=generated", "dataset.num_episodes=3", "dataset.episode_length=60",
        "dataset.batch_size=32", f"dataset.cache_dir={tmp_path / 'cache'}", "representation.phi_encoder.hidden_dim=32",
        "representation.psi_encoder.hidden_dim=32", "representation.predictor.hidden_dim=32", "actor.hidden_dim=32",
        "train.steps=4", "train.log_every=2", "train.checkpoint_every=4", "eval.episodes=1", "eval.inference_samples=50",
        "logger.backend=none",
    ]
    summary = zeroshot_quality(["--seeds", "0", "1", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                                "--", *overrides])
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
