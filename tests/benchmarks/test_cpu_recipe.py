"""The CPU recipe benchmark: per-seed success, learning curves and wall time from real entry-point runs."""

import json

import pytest

from benchmarks.cpu_recipe import main as cpu_recipe, summarise


def _run(goal: list[float], reward: list[float], curve_goal: list[float], seconds: float) -> dict:
    results = {
        "goal": {f"task{i + 1}": v for i, v in enumerate(goal)},
        "reward": {f"task{i + 1}": v for i, v in enumerate(reward)},
    }
    curve = [
        {
            "step": 10 * (i + 1),
            "train_seconds": seconds * (i + 1) / len(curve_goal),
            "results": {"goal": {"task1": g}},
            "oracle": {"goal": 0.1 * (i + 1)},
        }
        for i, g in enumerate(curve_goal)
    ]
    return {"step": 10 * len(curve_goal), "results": results, "train_seconds": seconds, "curve": curve}


def test_summary_hand_computed():
    per_seed = {0: _run([1.0, 0.0], [0.5, 0.5], [0.0, 0.2], 60.0), 1: _run([0.0, 0.0], [0.0, 1.0], [0.4, 0.6], 120.0)}
    lines, result = summarise(per_seed, "pointmaze-medium-navigate", "python -m benchmarks.cpu_recipe -- x=1")
    assert result["seeds"] == [0, 1]
    assert result["goal_success"] == [0.5, 0.0] and result["reward_success"] == [0.5, 0.5]
    assert result["train_seconds"] == [60.0, 120.0] and result["updates"] == [20, 20]
    first, second = result["curve"]
    # step 10: goal 0 % and 40 % → mean 20, s.e. 20; time (30 + 60)/2 s; oracle 0.1 for both seeds
    assert first["step"] == 10 and first["goal_success"] == pytest.approx([20.0, 20.0, 2])
    assert first["train_seconds"] == 45.0 and first["goal_oracle"] == pytest.approx([0.1, 0.0, 2])
    assert second["goal_success"] == pytest.approx([40.0, 20.0, 2])
    assert "| mean ± s.e. | | | 25.0 ± 25.0 | 50.0 ± 0.0 |" in lines
    assert "| 20 | 1.5 | 40.0 ± 20.0 | – | +0.20 ± +0.00 | – | – | – |" in lines
    lines, result = summarise(per_seed, "pointmaze-medium-navigate", "cmd", {"task1": 1.0, "task2": 0.5, "task3": 0.0})
    assert result["straight_line"]["success"] == 0.5
    assert "| straight line to the goal (no learning) | | | 50.0 | – |" in lines
    assert any("solves task1, task2:" in line for line in lines)


def test_one_tiny_seed_end_to_end(tmp_path):
    overrides = [
        "env.max_episode_steps=20",
        "dataset.source=generated",
        "dataset.num_episodes=3",
        "dataset.episode_length=60",
        "dataset.batch_size=32",
        f"dataset.cache_dir={tmp_path / 'cache'}",
        "representation.phi_encoder.hidden_dim=16",
        "representation.psi_encoder.hidden_dim=16",
        "representation.predictor.hidden_dim=16",
        "actor.hidden_dim=16",
        "actor.flow_hidden_dim=16",
        "train.steps=4",
        "train.log_every=2",
        "train.eval_every=2",
        "train.checkpoint_every=2",
        "train.keep_checkpoints=5",
        "eval.episodes=1",
        "eval.inference_samples=50",
        "logger.backend=none",
    ]
    result = cpu_recipe(
        [
            "--seeds",
            "0",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "out"),
            "--oracle-states",
            "8",
            "--straight-line-episodes",
            "1",
            "--",
            *overrides,
        ]
    )
    run = json.loads(next((tmp_path / "runs").glob("*/seed0/eval.json")).read_text())
    assert result["updates"] == [4] and [p["step"] for p in run["curve"]] == [2, 4]
    goal = run["results"]["goal"]
    assert result["goal_success"] == [sum(goal.values()) / len(goal)]
    assert result["train_seconds"] == [run["train_seconds"]] and run["train_seconds"] > 0
    assert {"goal_oracle", "reward_oracle", "goal_q_rho"} <= set(result["curve"][0])  # both kept checkpoints measured
    assert result["command"].startswith("python -m benchmarks.cpu_recipe --seeds 0")
    out = tmp_path / "out"
    assert (out / "cpu_recipe_pointmaze-medium-navigate.png").stat().st_size > 0
    saved = json.loads((out / "cpu_recipe_pointmaze-medium-navigate.json").read_text())
    assert saved["goal_success"] == result["goal_success"] and "hardware" in saved
    assert saved["straight_line"]["per_task"].keys() == goal.keys()  # the no-learning baseline, same tasks and horizon


def test_maze_cell_distances_go_around_walls():
    import numpy as np

    from benchmarks.oracle_agreement import cell_distances

    maze = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 0]])
    dist = cell_distances(maze, (2, 0))
    # from the top-left corner the only way down is through the right column: 6 steps
    assert dist[0, 0] == 6 and dist[0, 2] == 4 and dist[2, 2] == 2 and np.isinf(dist[1, 0])


def test_maze_rollout_geometry_hand_computed():
    import numpy as np

    from benchmarks.maze_rollouts import angle_between, unit_directions

    dirs = unit_directions(4).numpy()
    assert np.allclose(dirs, [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-6)
    assert np.allclose(
        angle_between(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 2.0], [-1.0, -1.0]])), [90.0, 180.0], atol=0.01
    )


def test_distance_profile_is_the_standardised_mean_per_maze_distance_bin():
    import numpy as np

    from benchmarks.oracle_agreement import distance_profile

    values = np.array([4.0, 2.0, 0.0, 2.0])  # mean 2, std sqrt(2)
    distance = np.array([0, 1, 5, 20])
    profile = distance_profile(values, distance, bins=(0, 2, 4, 8, float("inf")))
    s = 2**0.5
    assert profile[0] == pytest.approx((2 / s + 0) / 2) and profile[1] is None
    assert profile[2] == pytest.approx(-2 / s) and profile[3] == pytest.approx(0.0)
