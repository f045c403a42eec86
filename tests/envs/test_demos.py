"""Behaviour-cloning demonstrations: oracle collection, caching, chunk windows, external adapter."""

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from envs.buffer import DatasetError
from envs.demos import DemoBuffer, build_windows, chunk_index, split_by_episode
from envs.ogbench import demos as ogdemos
from envs.ogbench.demos import collect_demonstrations, load_demonstrations

POINTMAZE_GOAL_TOL = 1.0  # ogbench locomaze: point agent
CUBE_TOL = 0.04  # ogbench cube_env success radius


def _episodes(td):
    """{episode id: (first row, last row)}, checking each id is one contiguous block."""
    ep = td["episode"]
    out = {}
    for e in torch.unique(ep).tolist():
        rows = torch.nonzero(ep == e).reshape(-1)
        assert torch.equal(rows, torch.arange(rows[0], rows[-1] + 1)), f"episode {e} is not contiguous"
        out[e] = (int(rows[0]), int(rows[-1]))
    return out


@pytest.fixture(scope="module")
def maze_demos():
    return collect_demonstrations("pointmaze-medium-navigate", episodes_per_task=2, seed=0, noise=0.1, progress=False)


# ---------------------------------------------------------------------------------------- pointmaze
def test_pointmaze_demos_succeed_contiguous_and_goal_conditioned(maze_demos, pointmaze_suite):
    td = maze_demos
    assert td["observation"].dtype == torch.float32 and td["action"].dtype == torch.float32
    assert td["observation"].shape[1] == pointmaze_suite.observation_dim == td["goal"].shape[1]
    assert td["action"].abs().max() <= 1.0
    eps = _episodes(td)
    assert len(eps) == 10 and sorted(eps) == list(range(10))
    assert torch.bincount(td["task"][td["step"] == 0]).tolist() == [2] * 5
    for e, (a, b) in eps.items():
        task = int(td["task"][a])
        assert (td["task"][a : b + 1] == task).all()
        assert torch.equal(td["step"][a : b + 1], torch.arange(b - a + 1))
        # ends at its first success, inclusive
        assert td["success"][b] and not td["success"][a:b].any()
        # next_observation chains to the next row inside the episode
        assert torch.equal(td["next_observation"][a:b], td["observation"][a + 1 : b + 1])
        goal = pointmaze_suite.goal_observation(f"task{task + 1}")
        assert torch.equal(td["goal"][a : b + 1], goal.expand(b - a + 1, -1))
        assert torch.linalg.vector_norm(td["next_observation"][b] - goal) <= POINTMAZE_GOAL_TOL
        assert torch.linalg.vector_norm(td["observation"][b] - goal) > POINTMAZE_GOAL_TOL


def test_pointmaze_demos_are_deterministic(maze_demos):
    again = collect_demonstrations("pointmaze-medium-navigate-v0", episodes_per_task=2, seed=0, noise=0.1, progress=False)
    assert set(again.keys()) == set(maze_demos.keys())
    for key in maze_demos.keys():
        assert torch.equal(again[key], maze_demos[key]), key
    other = collect_demonstrations("pointmaze-medium-v0", episodes_per_task=2, seed=1, noise=0.1, progress=False)
    assert other.batch_size != maze_demos.batch_size or not torch.equal(other["action"], maze_demos["action"])


def test_cache_round_trip(tmp_path, monkeypatch):
    cfg = dict(
        family="ogbench_demos",
        name="pointmaze-medium-navigate",
        episodes_per_task=2,
        val_episodes_per_task=1,
        noise=0.1,
        seed=0,
        chunk=4,
        batch_size=8,
        cache_dir=str(tmp_path),
        max_episode_steps=None,
        progress=False,
    )
    train, val, info = load_demonstrations(cfg)
    assert not info["cached"]
    assert info["episodes"] == 10 and info["train_episodes"] == 5 and info["val_episodes"] == 5
    assert info["obs_dim"] == 2 and info["action_dim"] == 2 and info["episodes_per_task"] == 2
    assert info["steps"] == train.num_steps + val.num_steps
    assert info["mean_episode_length"] == pytest.approx(info["steps"] / 10)
    assert not set(train.data["episode"].tolist()) & set(val.data["episode"].tolist())
    assert torch.bincount(val.data["task"][val.data["step"] == 0]).tolist() == [1] * 5

    def boom(*args, **kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(ogdemos, "collect_demonstrations", boom)
    train2, val2, info2 = load_demonstrations({"dataset": cfg})  # a root config works too
    assert info2["cached"] and info2["cache_dir"] == info["cache_dir"]
    for a, b in ((train, train2), (val, val2)):
        assert set(a.data.keys()) == set(b.data.keys())
        for key in a.data.keys():
            assert torch.equal(torch.as_tensor(a.data[key]), torch.as_tensor(b.data[key])), key
    batch = train2.sample()
    assert batch.batch_size == (8,) and batch["actions"].shape == (8, 4, 2) and batch["states"].shape == (8, 5, 2)
    # a different generation parameter is a different cache entry (so it would regenerate)
    with pytest.raises(AssertionError, match="regenerated"):
        load_demonstrations(dict(cfg, seed=1))


def test_unsupported_and_failing_collection():
    with pytest.raises(ValueError, match="cube-single"):
        collect_demonstrations("antmaze-medium-navigate", episodes_per_task=1, progress=False)
    with pytest.raises(DatasetError, match="success rate 0%"):
        collect_demonstrations(
            "pointmaze-medium-navigate", episodes_per_task=1, max_episode_steps=3, max_attempts_per_task=2, progress=False
        )


# ---------------------------------------------------------------------------------------- cube
def test_cube_demos_reach_each_task_goal(cube_suite):
    td = collect_demonstrations("cube-single-play", episodes_per_task=1, seed=0, noise=0.1, progress=False)
    eps = _episodes(td)
    assert len(eps) == 5 and td["action"].shape[1] == 5 and td["action"].abs().max() <= 1.0
    raw = cube_suite._probe.unwrapped
    for e, (a, b) in eps.items():
        task = int(td["task"][a])
        assert task == e and td["success"][b] and not td["success"][a:b].any()
        assert b - a + 1 < cube_suite.max_episode_steps
        # cube xyz in the observation (ogbench scaling): within the success radius of *this* task's goal
        goal_xyz = torch.tensor(raw.task_infos[task]["goal_xyzs"][0], dtype=torch.float32)
        cube_xyz = td["next_observation"][b, 19:22] / 10 + torch.tensor([0.425, 0.0, 0.0])
        assert torch.linalg.vector_norm(cube_xyz - goal_xyz) <= CUBE_TOL + 1e-3
        assert torch.linalg.vector_norm(td["goal"][a, 19:22] / 10 + torch.tensor([0.425, 0, 0]) - goal_xyz) < 0.01


# ---------------------------------------------------------------------------------------- windows
def _tiny(lengths=(3, 5)):
    """observation = episode * 100 + step, next = +1, action = observation + 0.5."""
    rows = [(e, t) for e, n in enumerate(lengths) for t in range(n)]
    ep = torch.tensor([e for e, _ in rows])
    obs = torch.tensor([[100.0 * e + t, -(100.0 * e + t)] for e, t in rows])
    return TensorDict(
        {
            "observation": obs,
            "next_observation": obs + torch.tensor([1.0, -1.0]),
            "action": obs[:, :1] + 0.5,
            "episode": ep,
            "task": ep * 10,
            "goal": torch.full_like(obs, 7.0) * ep[:, None],
        },
        batch_size=[len(rows)],
    )


def test_windows_near_episode_end_are_padded_with_last_real_values():
    buf = DemoBuffer(_tiny(), chunk=3, batch_size=4, seed=0)
    w = buf.windows_at(torch.tensor([1, 6, 7]))  # ep0 step 1, ep1 step 3, ep1 step 4 (its last)
    assert torch.equal(w["observation"][:, 0], torch.tensor([1.0, 103.0, 104.0]))
    assert torch.equal(w["actions"][..., 0], torch.tensor([[1.5, 2.5, 2.5], [103.5, 104.5, 104.5], [104.5, 104.5, 104.5]]))
    assert w["action_is_pad"].tolist() == [[False, False, True], [False, False, True], [False, True, True]]
    # s_t..s_{t+3}; the final state (last step's next_observation: 3 / 105) is real, then repeated
    assert torch.equal(w["states"][..., 0], torch.tensor([[1.0, 2, 3, 3], [103, 104, 105, 105], [104, 105, 105, 105]]))
    assert torch.equal(w["states"][..., 1], -w["states"][..., 0])
    assert w["state_is_pad"].tolist() == [[False, False, False, True], [False, False, False, True], [False, False, True, True]]
    assert w["task"].tolist() == [0, 10, 10] and w["episode"].tolist() == [0, 1, 1] and w["step"].tolist() == [1, 3, 4]
    assert torch.equal(w["goal"], torch.tensor([[0.0, 0], [7, 7], [7, 7]]))
    # a window fully inside its episode has no padding
    w = buf.windows_at(torch.tensor([3]))
    assert torch.equal(w["states"][0, :, 0], torch.tensor([100.0, 101, 102, 103])) and not w["state_is_pad"].any()
    assert not w["action_is_pad"].any()


@pytest.mark.parametrize("lengths", [(3, 5), (10, 12)])  # (10, 12): no episode shorter than the window
def test_sampled_windows_start_on_real_steps_and_never_mix_episodes(lengths):
    td = _tiny(lengths)
    buf = DemoBuffer(td, chunk=3, batch_size=64, seed=0)
    seen_starts = set()
    for _ in range(20):
        w = buf.sample()
        assert w.batch_size == (64,) and w["actions"].shape == (64, 3, 1) and w["states"].shape == (64, 4, 2)
        assert not w["state_is_pad"][:, 0].any() and not w["action_is_pad"][:, 0].any()
        ep = torch.div(w["states"][..., 0], 100, rounding_mode="floor")
        assert (ep == w["episode"][:, None]).all(), "a window crossed into another episode"
        step = w["states"][..., 0] - 100 * ep
        # real states are consecutive; padded ones repeat the final state
        length = torch.tensor(lengths)[w["episode"]]
        expected = torch.minimum(w["step"][:, None] + torch.arange(4), length[:, None]).float()
        assert torch.equal(step, expected)
        assert torch.equal(w["state_is_pad"], w["step"][:, None] + torch.arange(4) > length[:, None])
        assert torch.equal(w["action_is_pad"], w["step"][:, None] + torch.arange(3) >= length[:, None])
        assert (w == buf.windows_at(w["index"])).all()
        seen_starts |= set(w["index"].tolist())
    assert seen_starts == set(range(td.batch_size[0]))  # every step, the episode ends included
    # same seed -> same batches
    assert torch.equal(
        DemoBuffer(td, chunk=3, batch_size=8, seed=3).sample()["index"],
        DemoBuffer(td, chunk=3, batch_size=8, seed=3).sample()["index"],
    )


def test_chunk_index_clamps_to_the_episode():
    last_row = torch.tensor([2, 2, 2, 7, 7, 7, 7, 7])
    index, mask = chunk_index(torch.tensor([1, 7]), last_row, 4)
    assert index.tolist() == [[1, 2, 2, 2], [7, 7, 7, 7]]
    assert mask.tolist() == [[True, True, False, False], [True, False, False, False]]
    with pytest.raises(ValueError, match="chunk \\+ 1"):
        build_windows(_tiny()[index], mask, chunk=2)


# ---------------------------------------------------------------------------------------- adapter / split
def test_from_arrays_lerobot_keys_and_clear_errors():
    n0, n1 = 4, 6
    state = np.arange(2 * (n0 + n1), dtype=np.float64).reshape(-1, 2)
    lerobot = {
        "observation.state": state,
        "action": np.linspace(-1, 1, n0 + n1, dtype=np.float32)[:, None].repeat(3, 1),
        "episode_index": np.array([0] * n0 + [1] * n1),
        "frame_index": np.array(list(range(n0)) + list(range(n1))),
    }
    keys = {"observation": "observation.state", "action": "action", "episode": "episode_index", "step": "frame_index"}
    buf = DemoBuffer.from_arrays(lerobot, chunk=2, batch_size=5, keys=keys, seed=0)
    assert buf.num_episodes == 2 and buf.num_steps == 10 and buf.obs_dim == 2 and buf.action_dim == 3
    assert buf.data["observation"].dtype == torch.float32
    w = buf.windows_at(torch.tensor([n0 - 1]))  # last step of episode 0: no next state known -> repeats it
    assert torch.equal(w["states"][0], torch.tensor(state[[n0 - 1] * 3], dtype=torch.float32))
    assert w["state_is_pad"].tolist() == [[False, False, True]]
    assert buf.sample()["actions"].shape == (5, 2, 3)

    with pytest.raises(ValueError, match=r"missing required key\(s\) \['observation', 'episode'\].*keys="):
        DemoBuffer.from_arrays(lerobot, chunk=2)
    bad = dict(lerobot, action=lerobot["action"][:-1])
    with pytest.raises(ValueError, match="'action'.*9 rows.*10"):
        DemoBuffer.from_arrays(bad, chunk=2, keys=keys)
    shuffled = dict(lerobot, episode_index=np.array([0, 1] * 5))
    with pytest.raises(ValueError, match="contiguous"):
        DemoBuffer.from_arrays(shuffled, chunk=2, keys=keys)


def test_split_by_episode_keeps_whole_episodes(maze_demos):
    train, val = split_by_episode(maze_demos, val_episodes_per_task=1, seed=0)
    assert train.batch_size[0] + val.batch_size[0] == maze_demos.batch_size[0]
    for part in (train, val):
        eps = _episodes(part)
        assert torch.bincount(part["task"][part["step"] == 0]).tolist() == [1] * 5
        for e, (a, b) in eps.items():  # whole episodes: start at step 0, end with success
            assert part["step"][a] == 0 and part["success"][b]
    again, _ = split_by_episode(maze_demos, val_episodes_per_task=1, seed=0)
    assert torch.equal(again["episode"], train["episode"])
    train_f, val_f = split_by_episode(maze_demos, val_fraction=0.3, seed=0)
    assert len(torch.unique(val_f["episode"])) == 3 and len(torch.unique(train_f["episode"])) == 7
    with pytest.raises(ValueError, match="only 2 episode"):
        split_by_episode(maze_demos, val_episodes_per_task=2, seed=0)


def test_windows_carry_the_frame_of_their_start_step():
    data = _tiny()
    data["pixels"] = torch.arange(len(data), dtype=torch.uint8)[:, None, None, None].expand(-1, 3, 4, 4).clone()
    buf = DemoBuffer(data, chunk=2, batch_size=4, seed=0)
    w = buf.windows_at(torch.tensor([0, 4, 7]))
    assert w["pixels"].shape == (3, 3, 4, 4)
    assert w["pixels"][:, 0, 0, 0].tolist() == [0, 4, 7]


def test_pixel_demonstrations_record_the_frame_before_each_action():
    td = collect_demonstrations("pointmaze-medium-navigate", episodes_per_task=1, seed=0, pixels=8, progress=False)
    assert td["pixels"].shape == (td.shape[0], 3, 8, 8) and td["pixels"].dtype == torch.uint8
    assert td["pixels"].float().std() > 0  # real frames, not a constant
