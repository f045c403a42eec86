"""The evaluation path scores a competent policy as successful, and the table reports it."""
import numpy as np
import torch

from agents.evaluation import format_table, run_episode
from envs.ogbench import OGBenchTaskSuite


class MazeOracle(torch.nn.Module):
    """Heads for ogbench's BFS subgoal towards the task's goal (the dataset generator's oracle, noise-free)."""

    def __init__(self, suite: OGBenchTaskSuite, task: str) -> None:
        super().__init__()
        self.env = suite.make_env(task, seed=0)
        self.env.reset()
        self.goal = np.asarray(self.env.unwrapped.cur_goal_xy)

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        xy = observation.numpy()
        direction = np.asarray(self.env.unwrapped.get_oracle_subgoal(xy, self.goal)[0]) - xy
        return torch.as_tensor(direction / (np.linalg.norm(direction) + 1e-8), dtype=torch.float32)


def test_oracle_policy_succeeds_on_every_pointmaze_task():
    suite = OGBenchTaskSuite("pointmaze-medium-navigate")
    for task in suite.task_names:
        oracle = MazeOracle(suite, task)
        assert run_episode(suite, task, oracle, seed=0) == 1.0, task
        oracle.env.close()


def test_format_table_reports_percent_and_mean():
    table = format_table({"reward": {"task1": 1.0, "task2": 0.5}, "goal": {"task1": 0.0, "task2": 0.0}}, "success")
    assert "| task1 | 100.0 | 0.0 |" in table and "| mean | 75.0 | 0.0 |" in table
