"""The straight-line baseline: what a point maze gives away without any learning."""

import json
from types import SimpleNamespace

import pytest
import torch

from benchmarks import maze_baselines


def test_the_straight_line_solves_exactly_the_tasks_with_no_wall_to_go_around(tmp_path):
    """Measured on pointmaze-medium: tasks 1 and 2 need no detour (the mass slides along walls to the goal)."""
    result = maze_baselines.main(["--episodes", "1", "--out", str(tmp_path)])
    assert result["per_task"] == {"task1": 1.0, "task2": 1.0, "task3": 0.0, "task4": 0.0, "task5": 0.0}
    assert result["success"] == pytest.approx(0.4)
    saved = json.loads((tmp_path / "maze_baselines_pointmaze-medium-navigate.json").read_text())
    assert saved["command"] == "python -m benchmarks.maze_baselines --episodes 1 --out " + str(tmp_path)
    assert "| task1 | 100 |" in (tmp_path / "maze_baselines_pointmaze-medium-navigate.md").read_text()


def test_the_policy_heads_straight_at_the_goal(monkeypatch):
    suite = SimpleNamespace(
        name="pointmaze-medium-navigate-v0",
        task_names=["task1"],
        observation_key="observation",
        goal_observation=lambda task: torch.tensor([3.0, 4.0]),
    )
    seen = {}

    def fake_rollout(suite_, tasks, seeds, act):
        seen["action"] = act({"observation": torch.tensor([[0.0, 0.0], [3.0, 0.0]])}, 0)
        seen["seeds"] = seeds
        return torch.tensor([1.0, 0.0])

    monkeypatch.setattr(maze_baselines, "rollout_batch", fake_rollout)
    assert maze_baselines.straight_line_success(suite, episodes=2, seed=3) == {"task1": 0.5}
    torch.testing.assert_close(seen["action"], torch.tensor([[0.6, 0.8], [0.0, 1.0]]))
    assert seen["seeds"] == [3000, 3001]  # the evaluation's episode seeds


def test_other_envs_are_one_message():
    with pytest.raises(ValueError, match="env.name='cube-single-play-v0'.*pointmaze"):
        maze_baselines.straight_line_success(SimpleNamespace(name="cube-single-play-v0"))
