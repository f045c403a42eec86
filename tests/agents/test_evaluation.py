"""The evaluation path scores a competent policy as successful, and the table reports it."""

import numpy as np
import torch

from agents.evaluation import format_table, rollout_episodes, run_episode, score_episodes
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
    model = FB(
        suite.observation_dim,
        suite.action_dim,
        z_dim=4,
        left_dim=4,
        backward=dict(hidden_dim=8, hidden_layers=1),
        forward_map=dict(hidden_dim=8, hidden_layers=1),
    ).eval()
    actor = make_actor(dict(hidden_dim=16, hidden_layers=1), model, suite.action_dim).eval()
    tasks, seeds = ["walk", "run", "walk", "spin"], [0, 0, 1, 2]
    latents = torch.randn(4, 4)
    scores = rollout_all(suite, model, actor, tasks, latents, seeds)["score"]
    expected = [
        run_episode(suite, task, LatentPolicy(model, actor, z), seed=seed) for task, z, seed in zip(tasks, latents, seeds)
    ]
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
    model = HILP(
        suite.observation_dim,
        suite.action_dim,
        z_dim=4,
        left_dim=4,
        features=dict(hidden_dim=8, hidden_layers=1),
        left_encoder=dict(hidden_dim=8, hidden_layers=0),
        successor_features=dict(hidden_dim=8, hidden_layers=1),
    ).eval()
    actor = make_actor(dict(hidden_dim=16, hidden_layers=1), model, suite.action_dim).eval()
    tasks, seeds = ["walk", "walk", "run"], [0, 1, 2]
    latents = torch.randn(3, 4)
    goal = torch.randn(suite.observation_dim)
    goals = torch.stack([goal, torch.full_like(goal, torch.nan), goal])
    scores = rollout_all(suite, model, actor, tasks, latents, seeds, goals=goals)["score"]
    policies = [GoalPolicy(model, actor, goal), LatentPolicy(model, actor, latents[1]), GoalPolicy(model, actor, goal)]
    expected = [run_episode(suite, task, policy, seed=seed) for task, policy, seed in zip(tasks, policies, seeds)]
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5, atol=1e-5)
    fixed = rollout_all(suite, model, actor, tasks[:1], latents[:1], seeds[:1])["score"]
    assert abs(fixed.item() - expected[0]) > 1e-4  # the per-step z changes the episode


def _timer_suite(lengths: dict[str, int]):
    """A suite of toy TorchRL envs: task t ends after ``lengths[t]`` steps; the reward is the action."""
    from types import SimpleNamespace

    from tensordict import TensorDict
    from torchrl.data import Bounded, Composite, Unbounded
    from torchrl.envs import EnvBase

    class Timer(EnvBase):
        def __init__(self, length: int) -> None:
            super().__init__()
            self.length = length
            self.observation_spec = Composite(observation=Unbounded((1,)))
            self.action_spec = Bounded(-1, 1, (1,))
            self.reward_spec = Unbounded((1,))

        def _reset(self, td):
            self.t = 0
            return TensorDict({"observation": torch.zeros(1)}, [])

        def _step(self, td):
            self.t += 1
            done = torch.tensor([self.t >= self.length])
            return TensorDict(
                {
                    "observation": torch.full((1,), float(self.t)),
                    "reward": td["action"].clone(),
                    "done": done,
                    "terminated": done,
                },
                [],
            )

        def _set_seed(self, seed):
            pass

    return SimpleNamespace(
        metric="return",
        max_episode_steps=10,
        observation_key="observation",
        make_env=lambda task, seed=0, render=False: Timer(lengths[task]),
    )


def test_rows_that_end_early_are_masked_and_the_rollout_stops_when_all_have_ended():
    suite = _timer_suite({"short": 2, "mid": 4, "long": 6})
    calls = []

    def act(td, t):
        calls.append(t)
        return torch.full((3, 1), 0.5) * (t + 1)  # reward = action: 0.5, 1.0, 1.5, ...

    rollout, valid, frames = rollout_episodes(suite, ["short", "mid", "long"], [0, 0, 0], act)
    assert rollout.shape == (3, 6) and calls == list(range(6)) and frames is None  # stops at the longest row
    assert valid.sum(-1).tolist() == [2, 4, 6]
    scores = score_episodes(suite, ["short", "mid", "long"], rollout, valid)["score"]
    assert scores.tolist() == [0.5 + 1.0, 0.5 + 1.0 + 1.5 + 2.0, 0.5 + 1.0 + 1.5 + 2.0 + 2.5 + 3.0]  # later steps masked
    rollout, valid, _ = rollout_episodes(suite, ["long"], [0], lambda td, t: torch.ones(1, 1), max_steps=3)
    assert valid.tolist() == [[True, True, True]]  # the horizon cuts the episode


def test_maze_evaluation_reports_the_final_distance_to_the_goal():
    suite = OGBenchTaskSuite("pointmaze-medium-navigate")
    goal = suite.goal_observation("task1")[:2].double()
    qpos = torch.zeros(2, suite.nq, dtype=torch.float64)
    qpos[0, :2], qpos[1, :2] = goal, goal + torch.tensor([3.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(suite.goal_distance("task1", qpos), torch.tensor([0.0, 5.0], dtype=torch.float64))
    oracle = MazeOracle(suite, "task1")
    act = lambda td, t: oracle(td["observation"][0]).reshape(1, -1)  # noqa: E731
    scores = score_episodes(suite, ["task1"], *rollout_episodes(suite, ["task1"], [0], act)[:2])
    assert scores["score"].item() == 1.0 and scores["final_distance"].item() <= suite.goal_tol  # ended at the goal
    still = score_episodes(
        suite, ["task1"], *rollout_episodes(suite, ["task1"], [0], lambda td, t: torch.zeros(1, 2), max_steps=5)[:2]
    )
    assert still["score"].item() == 0.0 and still["final_distance"].item() > 5 * suite.goal_tol


def test_format_table_adds_the_final_distance_columns():
    table = format_table({"goal": {"task1": 1.0, "task2": 0.0}}, "success", {"goal": {"task1": 0.25, "task2": 4.75}})
    assert "| task | goal z (success %) | goal z final distance |" in table
    assert "| task1 | 100.0 | 0.25 |" in table and "| mean | 50.0 | 2.50 |" in table
