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


def test_vectorised_rollouts_score_exactly_like_one_episode_at_a_time():
    """All (task, z, seed) episodes stepped together in one SerialEnv give each episode's own return."""
    from agents.actor import make_actor
    from agents.evaluation import rollout_all
    from envs.dmc import DMCTaskSuite
    from representations.fb import FB
    from representations.policy import LatentPolicy

    torch.manual_seed(0)
    suite = DMCTaskSuite("walker", max_episode_steps=25)
    model = FB(suite.observation_dim, suite.action_dim, z_dim=4, left_dim=4, backward=dict(hidden_dim=8, hidden_layers=1),
               forward_map=dict(hidden_dim=8, hidden_layers=1)).eval()
    actor = make_actor(dict(hidden_dim=16, hidden_layers=1), model, suite.action_dim).eval()
    tasks, seeds = ["walk", "run", "walk", "spin"], [0, 0, 1, 2]
    latents = torch.randn(4, 4)
    scores = rollout_all(suite, model, actor, tasks, latents, seeds)
    expected = [run_episode(suite, task, LatentPolicy(model, actor, z), seed=seed) for task, z, seed in zip(tasks, latents, seeds)]
    assert scores.shape == (4,) and any(abs(e) > 1e-3 for e in expected)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_goal_rows_reinfer_z_every_step_like_the_goal_policy():
    """Rows with a goal act as GoalPolicy (z from the current state at every step); NaN rows keep their fixed z."""
    from agents.actor import make_actor
    from agents.evaluation import rollout_all
    from envs.dmc import DMCTaskSuite
    from representations.hilp import HILP
    from representations.policy import GoalPolicy, LatentPolicy

    torch.manual_seed(0)
    suite = DMCTaskSuite("walker", max_episode_steps=25)
    model = HILP(suite.observation_dim, suite.action_dim, z_dim=4, left_dim=4, features=dict(hidden_dim=8, hidden_layers=1),
                 left_encoder=dict(hidden_dim=8, hidden_layers=0), successor_features=dict(hidden_dim=8, hidden_layers=1)).eval()
    actor = make_actor(dict(hidden_dim=16, hidden_layers=1), model, suite.action_dim).eval()
    tasks, seeds = ["walk", "walk", "run"], [0, 1, 2]
    latents = torch.randn(3, 4)
    goal = torch.randn(suite.observation_dim)
    goals = torch.stack([goal, torch.full_like(goal, torch.nan), goal])
    scores = rollout_all(suite, model, actor, tasks, latents, seeds, goals=goals)
    policies = [GoalPolicy(model, actor, goal), LatentPolicy(model, actor, latents[1]), GoalPolicy(model, actor, goal)]
    expected = [run_episode(suite, task, policy, seed=seed) for task, policy, seed in zip(tasks, policies, seeds)]
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5, atol=1e-5)
    fixed = rollout_all(suite, model, actor, tasks[:1], latents[:1], seeds[:1])
    assert abs(fixed.item() - expected[0]) > 1e-4  # the per-step z changes the episode
