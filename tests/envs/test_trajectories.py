"""Offline trajectories as seq-JEPA sequences: kept steps, concatenated actions, windows, splits, errors."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from data.trajectories import (
    TrajectoryWindowSampler,
    load_trajectories,
    split_episodes,
    trajectory_steps,
    valid_window_starts,
    window_batch,
)


def two_episodes():
    """Rows 0–6 (episode 0, 7 steps) and 7–11 (episode 1, 5 steps); observation = row id, action = 10·row + (0, 1)."""
    n = 12
    observations = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)
    actions = torch.stack([10 * torch.arange(n), 10 * torch.arange(n) + 1], dim=1).float()
    qpos = torch.stack([torch.arange(n), -torch.arange(n), torch.zeros(n)], dim=1).float()
    terminals = torch.zeros(n, dtype=torch.bool)
    terminals[[6, 11]] = True
    return observations, actions, qpos, terminals


def test_steps_keep_every_stride_th_row_with_the_actions_in_between():
    data, rows = trajectory_steps(*two_episodes(), stride=2)
    assert rows.tolist() == [0, 2, 4, 6, 7, 9, 11]
    assert data["episode"].tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert data["views"][:, 0].tolist() == [0, 2, 4, 6, 7, 9, 11]
    # row 2 → row 4: the actions of rows 2 and 3, concatenated; the last kept row of an episode has none
    assert data["action"][1].tolist() == [20, 21, 30, 31]
    assert data["action"][3].tolist() == [0, 0, 0, 0] and data["action"][6].tolist() == [0, 0, 0, 0]
    assert data["action"][5].tolist() == [90, 91, 100, 101]
    assert data["position"][2].tolist() == [4, -4]
    first, _ = trajectory_steps(*two_episodes(), stride=3, max_episodes=1)
    assert first["views"][:, 0].tolist() == [0, 3, 6] and first["action"].shape == (3, 6)


def test_windows_stay_inside_an_episode_and_align_actions_with_views():
    data, _ = trajectory_steps(*two_episodes(), stride=2)
    starts = valid_window_starts(data["episode"], 3)
    assert starts.tolist() == [0, 1, 4]  # 2, 3 would cross into episode 1
    batch = window_batch(data, starts, 3)
    assert batch["views"].shape == (3, 3, 3) and batch["actions"].shape == (3, 2, 4) and batch["position"].shape == (3, 3, 2)
    assert batch["views"][2, :, 0].tolist() == [7, 9, 11]
    assert batch["actions"][2, 1].tolist() == [90, 91, 100, 101]  # leads from view 9 to view 11
    sampler = TrajectoryWindowSampler(data, observed_views=2, batch_size=16, seed=0)
    sample = sampler.sample()
    assert sample["views"].shape == (16, 3, 3)
    assert set(sample["views"][:, 0, 0].tolist()) <= {0.0, 2.0, 7.0}
    with pytest.raises(ValueError, match="no episode has 5 kept steps"):
        TrajectoryWindowSampler(data, observed_views=4, batch_size=4)


def test_window_sampler_state_replays_its_batches():
    """The pretraining samplers share the replay buffers' protocol (envs.buffer.SeededBatchSampler): a saved
    sampler_state makes the next batches again, which is what exact resume needs."""
    from data.frames import FrameSampler
    from data.view_sequences import ViewSequenceSampler
    from envs.buffer import SeededBatchSampler

    assert all(issubclass(cls, SeededBatchSampler) for cls in (TrajectoryWindowSampler, ViewSequenceSampler, FrameSampler))
    data, _ = trajectory_steps(*two_episodes(), stride=2)
    sampler = TrajectoryWindowSampler(data, observed_views=2, batch_size=8, seed=3)
    state = sampler.sampler_state()
    first = [sampler.sample()["views"] for _ in range(3)]
    sampler.set_sampler_state(state)
    assert all(torch.equal(sampler.sample()["views"], batch) for batch in first)
    sampler.set_rng(torch.Generator().manual_seed(3))  # reseeding replays the stream from its start
    assert torch.equal(sampler.sample()["views"], first[0])


def test_episode_split_is_disjoint_seeded_and_complete():
    episode = torch.arange(20).repeat_interleave(3)
    train, val, test = split_episodes(episode, val_fraction=0.1, test_fraction=0.2, seed=3)
    assert len(val) == 2 * 3 and len(test) == 4 * 3 and len(train) == 14 * 3
    assert sorted(torch.cat([train, val, test]).tolist()) == list(range(60))
    assert not set(episode[val].tolist()) & set(episode[train].tolist())
    assert all(
        torch.equal(a, b)
        for a, b in zip((train, val, test), split_episodes(episode, val_fraction=0.1, test_fraction=0.2, seed=3))
    )


@pytest.mark.parametrize(
    "data, dataset, message",
    [
        ({"views": "states"}, {"family": "dmc", "name": "walker"}, "reads OGBench datasets"),
        ({"views": "states"}, {"family": "ogbench", "name": "cube-single-play"}, "needs a navigation env"),
        ({"views": "depth"}, {"family": "ogbench", "name": "pointmaze-medium-navigate"}, "unknown data.views='depth'"),
    ],
)
def test_bad_configurations_are_clear_errors(data, dataset, message):
    with pytest.raises(ValueError, match=message):
        load_trajectories(OmegaConf.create(data), OmegaConf.create(dataset))
