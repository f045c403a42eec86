"""The public rollout API (agents.api), video writing and the rollout CLI, on tiny checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.api import ZeroShotAgent, resolve_checkpoint, train
from agents.video import write_video
from envs.common import TaskSuite
from representations.policy import LatentPolicy
from tiny import TINY_REPRESENTATION

ROOT = Path(__file__).resolve().parents[2]
# The deterministic TD3-style actor, so that a recorded episode's actions can be recomputed from its states.
TINY = [
    "representation=fb",
    *TINY_REPRESENTATION["fb"],
    "actor=td3",
    "actor.hidden_dim=16",
    "train.steps=3",
    "train.log_every=3",
    "dataset.batch_size=16",
    "eval.episodes=1",
    "eval.inference_samples=64",
    "logger.backend=none",
    "dataset.num_episodes=2",
]


@pytest.fixture(scope="module")
def ogbench_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rollout-ogbench")
    train(
        *TINY,
        "env=ogbench",
        "env.max_episode_steps=12",
        "dataset.source=generated",
        "dataset.episode_length=40",
        f"dataset.cache_dir={root / 'cache'}",
        f"dataset.data_dir={root / 'official'}",
        run_dir=root / "run",
    )
    return root / "run"


@pytest.fixture(scope="module")
def agent(ogbench_run) -> ZeroShotAgent:
    return ZeroShotAgent.from_checkpoint(ogbench_run)


def test_checkpoint_is_found_from_run_folder_checkpoints_folder_or_latest(ogbench_run):
    step = resolve_checkpoint(ogbench_run)
    assert step.name == "step000000003"
    assert resolve_checkpoint(ogbench_run / "checkpoints") == step
    assert resolve_checkpoint(ogbench_run / "checkpoints" / "latest") == step
    assert resolve_checkpoint(step) == step
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*pass a run folder"):
        resolve_checkpoint(ogbench_run / "nowhere")


def test_z_from_a_reward_function_solves_the_reward_regression_on_dataset_states(agent):
    target = torch.tensor([3.0, 4.0])
    reward_fn = lambda s: -torch.linalg.norm(s - target, dim=-1)  # noqa: E731
    z = agent.infer_z(reward_fn=reward_fn, samples=64)
    batch = agent.inference_batch(64)
    next_obs = batch["next", "observation"]
    expected = agent.representation.infer_z_from_rewards(next_obs, -torch.linalg.norm(next_obs - target, dim=-1))
    torch.testing.assert_close(z, expected)
    assert z.norm().item() == pytest.approx(8**0.5, rel=1e-5)  # projected onto the √d sphere
    # z is the direction of the least-squares weights: scaling the reward does not change it
    torch.testing.assert_close(agent.infer_z(reward_fn=lambda s: 3.0 * reward_fn(s), samples=64), z)


def test_z_from_a_task_and_from_a_goal(agent):
    suite: TaskSuite = agent.suite
    batch = agent.inference_batch(64)
    expected = agent.representation.infer_z_from_rewards(batch["next", "observation"], suite.relabel("task2", batch))
    torch.testing.assert_close(agent.infer_z(task="task2", samples=64), expected)
    goal = suite.goal_observation("task3")
    torch.testing.assert_close(agent.infer_z(goal="task3"), agent.representation.infer_z_from_goal(goal))
    torch.testing.assert_close(agent.infer_z(goal=goal), agent.infer_z(goal="task3"))


def test_infer_z_rejects_ambiguous_or_malformed_requests(agent):
    with pytest.raises(ValueError, match="exactly one of task=, goal= or reward_fn="):
        agent.infer_z(task="task1", goal="task1")
    with pytest.raises(ValueError, match="exactly one of"):
        agent.infer_z()
    with pytest.raises(ValueError, match=r"reward_fn must return one reward per state: got shape \(1,\) for 64 states"):
        agent.infer_z(reward_fn=lambda s: s.sum().reshape(1), samples=64)
    with pytest.raises(ValueError, match="Unknown task 'task9'"):
        agent.infer_z(task="task9")


def test_rollout_records_the_latent_policy_episode_and_its_frames(agent):
    z = agent.infer_z(goal="task1")
    episode = agent.rollout(z, task="task1", seed=3, render=True)
    steps = len(episode.actions)
    assert 1 <= steps <= 12  # the checkpoint's env horizon
    assert episode.states.shape == (steps + 1, 2) and episode.rewards.shape == (steps,)
    assert episode.frames.shape == (steps + 1, 200, 200, 3) and episode.frames.dtype == np.uint8
    # actions are the deterministic policy's actions at the recorded states
    torch.testing.assert_close(episode.actions, LatentPolicy(agent.representation, agent.actor, z)(episode.states[:-1]))
    assert episode.score == float(episode.success.any())
    # the same score as the evaluation's episode runner
    from agents.evaluation import run_episode

    assert episode.score == run_episode(agent.suite, "task1", LatentPolicy(agent.representation, agent.actor, z), seed=3)
    again = agent.rollout(z, task="task1", seed=3)
    torch.testing.assert_close(again.actions, episode.actions)
    assert again.frames is None


def test_rollout_with_a_reward_function_scores_its_return(agent):
    reward_fn = lambda s: s[:, 0]  # noqa: E731
    episode = agent.rollout(agent.infer_z(reward_fn=reward_fn, samples=64), task="task1", max_steps=5, reward_fn=reward_fn)
    torch.testing.assert_close(episode.rewards, episode.states[1:, 0])
    assert episode.metric == "return" and episode.score == pytest.approx(episode.states[1:, 0].sum().item())


def test_videos_round_trip_as_mp4_and_gif(tmp_path):
    import imageio.v3 as iio

    frames = np.zeros((6, 32, 48, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(6, dtype=np.uint8)[:, None, None] * 40  # red ramps up frame by frame
    mp4 = write_video(frames, tmp_path / "clip.mp4", fps=10)
    gif = write_video(frames, tmp_path / "clip.gif", fps=10)
    for path, tol in ((mp4, 12), (gif, 0)):
        back = iio.imread(path)
        assert back.shape[:3] == (6, 32, 48)
        assert np.abs(back[..., :3].astype(int).mean(axis=(1, 2)) - frames.astype(int).mean(axis=(1, 2))).max() <= tol
    assert not list(tmp_path.glob(".tmp-*"))
    with pytest.raises(ValueError, match=r"unknown video format '.avi'"):
        write_video(frames, tmp_path / "clip.avi")
    with pytest.raises(ValueError, match=r"frames must be uint8 \[T, H, W, 3\]; got float32 \[6, 32, 48\]"):
        write_video(frames[..., 0].astype(np.float32), tmp_path / "clip.mp4")


def run_cli(args, check=True, env_extra=None):
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline", **(env_extra or {})}
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-3000:]}")
    return proc


def test_rollout_cli_writes_videos_and_scores(ogbench_run, tmp_path):
    out = tmp_path / "rollout"
    proc = run_cli(
        [
            "-m",
            "agents.rollout",
            f"checkpoint={ogbench_run}",
            "task=task2",
            "z_from=goal",
            "episodes=2",
            "video=true",
            "video_format=gif",
            f"hydra.run.dir={out}",
        ]
    )
    assert "task2 episode 1:" in proc.stdout
    assert sorted(p.name for p in out.glob("*.gif")) == ["task2_ep0.gif", "task2_ep1.gif"]
    saved = json.loads((out / "rollout.json").read_text())
    assert saved["z_from"] == "goal" and saved["metric"] == "success" and len(saved["scores"]["task2"]) == 2


def test_rollout_cli_reports_a_missing_checkpoint_in_one_line(tmp_path):
    proc = run_cli(
        ["-m", "agents.rollout", f"checkpoint={tmp_path / 'nothing'}", f"hydra.run.dir={tmp_path / 'out'}"], check=False
    )
    assert proc.returncode == 2
    assert "error: no checkpoint at" in proc.stderr and "Traceback" not in proc.stderr


def test_rendering_without_an_opengl_backend_names_the_fix():
    code = "from envs.dmc.env import DMCEnv\nDMCEnv('walker', 'walk').render()"
    proc = run_cli(["-c", code], check=False, env_extra={"MUJOCO_GL": "glfw", "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert proc.returncode != 0
    assert "RenderBackendError: MuJoCo could not render with MUJOCO_GL=glfw (FatalError" in proc.stderr
    assert "set MUJOCO_GL=egl" in proc.stderr and "libegl1" in proc.stderr


def test_a_missing_backend_library_matters_only_when_rendering():
    """MUJOCO_GL=osmesa without libOSMesa (as on this machine): importing and training code works; rendering names it."""
    import ctypes.util

    if ctypes.util.find_library("OSMesa") is not None:
        pytest.skip("libOSMesa is installed here: nothing is deferred")
    code = (
        "import agents.zeroshot, representations\nprint('imports ok')\n"
        "from envs.dmc.env import DMCEnv\nDMCEnv('walker', 'walk').render()"
    )
    proc = run_cli(["-c", code], check=False, env_extra={"MUJOCO_GL": "osmesa"})
    assert "imports ok" in proc.stdout, proc.stderr[-2000:]
    assert proc.returncode != 0
    assert "RenderBackendError: MuJoCo could not render with MUJOCO_GL=osmesa (its library was not found" in proc.stderr


def test_pixel_agent_rolls_out_with_videos_at_their_own_size(tmp_path):
    train(
        "representation=td_jepa",
        *TINY_REPRESENTATION["td_jepa"],
        "actor.hidden_dim=16",
        "env=dmc",
        "env.domain=point_mass_maze",
        "env.obs=pixels",
        "env.max_episode_steps=6",
        "dataset.num_episodes=2",
        "dataset.episode_length=30",
        "dataset.batch_size=16",
        "encoder.pixels.feature_dim=16",
        "encoder.pixels.channels=4",
        "train.steps=2",
        "train.log_every=2",
        "eval.episodes=1",
        "eval.inference_samples=32",
        "logger.backend=none",
        f"dataset.cache_dir={tmp_path / 'cache'}",
        f"dataset.data_dir={tmp_path / 'official'}",
        run_dir=tmp_path / "run",
    )
    agent = ZeroShotAgent.from_checkpoint(tmp_path / "run", env={"video_size": 48})
    assert agent.suite.observation_key == "pixels"
    episode = agent.rollout(agent.infer_z(task="reach_top_left", samples=32), task="reach_top_left", render=True)
    assert len(episode.actions) == 6 and episode.frames.shape == (7, 48, 48, 3)  # observations stay 64 px
    assert episode.states.shape == (7, 4) and episode.metric == "return"


def test_goal_policy_is_the_fixed_z_policy_unless_z_is_reinferred_every_step(agent):
    from representations.policy import GoalPolicy

    fixed = agent.goal_policy("task1")  # FB: one z per episode
    assert isinstance(fixed, LatentPolicy)
    torch.testing.assert_close(fixed.z, agent.infer_z(goal="task1"))
    episode = agent.rollout(fixed, task="task1", seed=3)
    torch.testing.assert_close(episode.actions, agent.rollout(agent.infer_z(goal="task1"), task="task1", seed=3).actions)
    # a per-step goal policy (HILP's) records the z at its start state and acts with z(s, g) at every state
    rep = agent.representation
    rep.goal_z_per_step = True
    rep.infer_z_toward_goal = lambda obs, goal: rep.goal_features(goal) - rep.goal_features(obs)
    try:
        moving = agent.goal_policy("task1")
        assert isinstance(moving, GoalPolicy)
        episode = agent.rollout(moving, task="task1", seed=3)
        goal = agent.suite.goal_observation("task1")
        torch.testing.assert_close(episode.z, rep.goal_features(goal) - rep.goal_features(episode.states[0]))
        states = episode.states[:-1]
        z_each = rep.goal_features(goal).expand(len(states), -1) - rep.goal_features(states)
        torch.testing.assert_close(episode.actions, agent.actor(rep.actor_input(states), z_each))
    finally:
        del rep.goal_z_per_step, rep.infer_z_toward_goal
