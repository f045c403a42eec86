"""benchmarks.bc_comparison: the tables (hand-computed) and --resume over finished runs."""

import json
import math

from benchmarks.bc_comparison import gap_rows, main, summary_rows


def bc_eval(success: float, rmse: float, seconds: float = 10.0) -> dict:
    """The fields of an ``agents.bc`` eval.json that the benchmark reads."""
    return {
        "success": {"task1": success, "task2": success},
        "mean": success,
        "probe_state_rmse": rmse,
        "probe_state_ate": 2 * rmse,
        "probe_action_l1": 0.1,
        "training_seconds": seconds,
    }


PER_METHOD = {
    "act_jepa": {0: bc_eval(0.3, 0.30), 1: bc_eval(0.5, 0.32)},
    "act": {0: bc_eval(0.2, 0.34), 1: bc_eval(0.2, 0.36)},
}


def test_summary_is_the_mean_and_standard_error_over_seeds():
    lines, numbers = summary_rows(PER_METHOD)
    # success % of act_jepa: 30 and 50 -> mean 40, s.e. = std(30, 50) / sqrt(2) = 14.142 / 1.414 = 10
    assert numbers["act_jepa"]["mean"] == [40.0, 10.0, 2]
    assert numbers["act"]["mean"] == [20.0, 0.0, 2]
    assert lines[2].startswith("| act_jepa | 2 | 40.0 ± 10.0 | 0.3100 ± 0.0100 | 0.620 ± 0.020 |")


def test_gap_to_the_first_method_in_standard_errors_of_the_difference():
    lines, gaps = gap_rows(PER_METHOD)
    # success: 40 ± 10 vs 20 ± 0 -> +20 over sqrt(10² + 0²) = 10 -> +2.0 s.e.
    assert gaps["act"]["mean"]["gap"] == 20.0
    assert math.isclose(gaps["act"]["mean"]["gap_in_se"], 2.0)
    # RMSE: 0.31 ± 0.01 vs 0.35 ± 0.01 -> −0.04 over sqrt(2)·0.01 -> −2.83 s.e.
    assert math.isclose(gaps["act"]["probe_state_rmse"]["gap"], -0.04)
    assert math.isclose(gaps["act"]["probe_state_rmse"]["gap_in_se"], -0.04 / math.sqrt(2e-4))
    assert "training_seconds" not in gaps["act"]
    assert lines[-1].startswith("| act | +20 / 10 / +2.0 |")


def test_resume_tabulates_finished_runs_without_rerunning_them(tmp_path):
    root = tmp_path / "runs"
    for method, runs in PER_METHOD.items():
        for seed, saved in runs.items():
            (root / method / f"seed{seed}").mkdir(parents=True)
            (root / method / f"seed{seed}" / "eval.json").write_text(json.dumps(saved))
    argv = ["--seeds", "0", "1", "--policies", "act_jepa", "act:policy.d_model=64", "--label", "t"]
    numbers = main([*argv, "--resume", str(root), "--out", str(tmp_path / "out"), "--", "env.name=cube-single"])
    assert numbers["act"]["probe_state_rmse"][0] == 0.35
    saved = json.loads((tmp_path / "out" / "bc_comparison_t.json").read_text())
    assert saved["failed"] == {"act_jepa": [], "act": []}
    assert math.isclose(saved["gaps"]["act"]["mean"]["gap_in_se"], 2.0)
    assert "--resume" in saved["command"] and "act:policy.d_model=64" in saved["command"]
