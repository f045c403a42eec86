"""ExoRL episodes: collector format, loader round trip, transition alignment, pixel stacking, errors."""

import hashlib
import shutil
import time

import numpy as np
import pytest
import torch
from torchrl.data import TensorDictReplayBuffer

from envs import make_dataset
from envs.buffer import DatasetError, write_npz
from envs.dmc import DMCTaskSuite, check_episode_header, collect_dataset, list_episode_files, load_dmc_dataset

# Official format (ExoRL replay_buffer.py, TD-JEPA update_data.py): key -> (dtype, width)
WALKER = {
    "observation": (np.float32, 24),
    "action": (np.float32, 6),
    "reward": (np.float32, 1),
    "discount": (np.float32, 1),
    "physics": (np.float64, 18),
}
LEN = 6  # transitions per tiny episode


@pytest.fixture(scope="module")
def walker_suite():
    return DMCTaskSuite("walker")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Two collected walker episodes, copied into an 'official' layout <data>/walker/rnd/buffer."""
    root = tmp_path_factory.mktemp("collected")
    directory = collect_dataset("walker", root, num_episodes=2, seed=0, episode_length=LEN, progress=False)
    data = tmp_path_factory.mktemp("data")
    official = data / "walker" / "rnd" / "buffer"
    shutil.copytree(directory, official)
    return directory, data


def _cfg(tmp_path, data_dir, **kw):
    cfg = dict(
        family="dmc",
        domain="walker",
        obs="states",
        algo="rnd",
        source="official",
        data_dir=str(data_dir),
        cache_dir=str(tmp_path / "cache"),
        num_episodes=2,
        episode_length=LEN,
        val_episodes=1,
        seed=0,
        batch_size=16,
        max_transitions=None,
        progress=False,
    )
    cfg.update(kw)
    return cfg


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_collected_files_have_the_official_layout(tiny, tmp_path):
    directory, _ = tiny
    files = list_episode_files(directory)
    assert [f.name for f in files] == [f"episode_000000_{LEN}.npz", f"episode_000001_{LEN}.npz"]
    assert directory.parts[-3:] == ("walker", "random", "buffer") and (directory.parent / "collection.json").is_file()
    with np.load(files[0]) as f:
        assert set(f.files) == set(WALKER)
        for key, (dtype, width) in WALKER.items():
            assert f[key].dtype == dtype and f[key].shape == (LEN + 1, width), key
        assert not f["action"][0].any() and f["reward"][0] == 0  # dummy reset row
        assert np.abs(f["action"][1:]).max() <= 1 and np.all(f["discount"] == 1)
    # deterministic given the seed (byte-identical), different across seeds; no temp files left
    again = collect_dataset("walker", tmp_path / "a", num_episodes=2, seed=0, episode_length=LEN, progress=False)
    other = collect_dataset("walker", tmp_path / "b", num_episodes=1, seed=1, episode_length=LEN, progress=False)
    assert _md5(files[1]) == _md5(list_episode_files(again)[1])
    assert _md5(files[0]) != _md5(list_episode_files(other)[0])
    assert not list(tmp_path.rglob("*.tmp"))


def test_round_trip_and_transition_alignment(tiny, tmp_path, walker_suite):
    _, data = tiny
    train, val = load_dmc_dataset(_cfg(tmp_path, data), suite=walker_suite)
    assert isinstance(train, TensorDictReplayBuffer) and train.layout["how"] == "official"
    assert (len(train), len(val)) == (LEN, LEN)  # episode 0 trains, episode 1 (the last) validates

    raw = [dict(np.load(f)) for f in list_episode_files(data / "walker" / "rnd" / "buffer")]
    for rb, ep in ((train, raw[0]), (val, raw[1])):
        td = rb.gather(rb.valid)
        # transition t = (obs[t-1], action[t], obs[t]) for t = 1..LEN
        np.testing.assert_array_equal(td["observation"].numpy(), ep["observation"][:-1])
        np.testing.assert_array_equal(td["action"].numpy(), ep["action"][1:])
        np.testing.assert_array_equal(td["next", "observation"].numpy(), ep["observation"][1:])
        np.testing.assert_array_equal(td["physics"].numpy(), ep["physics"][:-1])
        np.testing.assert_array_equal(td["next", "physics"].numpy(), ep["physics"][1:])
        np.testing.assert_array_equal(td["next", "reward"].numpy(), ep["reward"][1:])
        assert td["next", "physics"].dtype == torch.float64
        assert td["next", "done"][:, 0].tolist() == [False] * (LEN - 1) + [True]
        assert torch.equal(td["next", "truncated"], td["next", "done"]) and not td["next", "terminated"].any()
        # the stored reward is the collection task's (walker stand): relabelling reproduces it exactly
        torch.testing.assert_close(walker_suite.relabel("stand", td), td["next", "reward"][:, 0], atol=1e-6, rtol=0)

    t0 = time.perf_counter()
    train2, _ = make_dataset(_cfg(tmp_path, data))  # via the family dispatch, suite built from the config
    assert train2.layout["cached"] and time.perf_counter() - t0 < 2.0
    assert torch.equal(train2.arrays["physics"], train.arrays["physics"])


def test_sampling(tiny, tmp_path, walker_suite):
    _, data = tiny
    train, _ = load_dmc_dataset(_cfg(tmp_path, data, batch_size=32), suite=walker_suite)
    b, g = train.sample(), train.sample_generic()
    assert sorted(map(str, b.keys(True, True))) == sorted(map(str, g.keys(True, True)))
    assert b.batch_size == (32,) and b["observation"].dtype == torch.float32 and b["action"].shape == (32, 6)
    for batch in (b, g):
        i = batch["index"]
        assert set(i.tolist()) <= set(train.valid.tolist())
        assert torch.equal(batch["next", "observation"], train.arrays["observation"][i + 1])
        assert torch.equal(batch["action"], train.arrays["action"][i + 1])
    assert len(torch.cat([train.sample(64)["index"] for _ in range(10)]).unique()) == LEN
    small, _ = load_dmc_dataset(_cfg(tmp_path, data, max_transitions=3), suite=walker_suite)
    assert len(small) == 3 and small.sample(50)["index"].max() < 3
    fut, _ = load_dmc_dataset(_cfg(tmp_path, data, future=0.9), suite=walker_suite)
    fb = fut.sample(200)
    rows = [int(torch.nonzero((fut.arrays["observation"] == f).all(1))[0]) for f in fb["future_observation"]]
    assert all(i < r <= LEN for i, r in zip(fb["index"].tolist(), rows))  # later rows of the same episode


def test_auto_collects_when_official_missing(tmp_path):
    cfg = _cfg(tmp_path, tmp_path / "nothing", domain="cheetah", source="auto", num_episodes=3, episode_length=4)
    train, val = make_dataset(cfg)
    assert train.layout["how"] == "collected" and (len(train), len(val)) == (8, 4)
    assert list((tmp_path / "cache" / "dmc" / "collected").glob("cheetah-random-ep3-len4-seed0/cheetah/random/buffer/*.npz"))
    assert not (tmp_path / "nothing").exists()
    again, _ = make_dataset(cfg)
    assert again.layout["cached"]


def test_pixel_dataset_frame_stacking(tmp_path):
    suite = DMCTaskSuite("point_mass_maze", obs="pixels")
    cfg = _cfg(tmp_path, tmp_path / "none", domain="point_mass_maze", obs="pixels", source="collected", episode_length=4)
    train, val = load_dmc_dataset(cfg, suite=suite)
    episodes = [dict(np.load(f)) for f in list_episode_files(train.layout["source"])]
    frames = episodes[0]["pixels"]
    assert frames.shape == (5, 3, 64, 64) and frames.dtype == np.uint8
    assert len({frames[t].tobytes() for t in range(5)}) > 1  # the mass moves between frames

    td = train.gather(train.valid)  # transitions 0..3 of episode 0
    assert td["pixels"].shape == (4, 9, 64, 64) and td["next", "pixels"].dtype == torch.uint8
    f = torch.from_numpy(frames)
    stack = lambda *ts: torch.cat([f[t] for t in ts])  # noqa: E731
    assert torch.equal(td["pixels"][0], stack(0, 0, 0)) and torch.equal(td["next", "pixels"][0], stack(0, 0, 1))
    assert torch.equal(td["pixels"][1], stack(0, 0, 1)) and torch.equal(td["next", "pixels"][1], stack(0, 1, 2))
    assert torch.equal(td["pixels"][3], stack(1, 2, 3)) and torch.equal(td["next", "pixels"][3], stack(2, 3, 4))
    # the next episode starts with its own first frame repeated, never frames of the previous one
    f1 = torch.from_numpy(episodes[1]["pixels"])
    vd = val.gather(val.valid[:1])
    assert torch.equal(vd["pixels"][0], torch.cat([f1[0]] * 3)) and torch.equal(
        vd["next", "pixels"][0], torch.cat([f1[0], f1[0], f1[1]])
    )
    # the stack ending at any row (HILP's future goals), including an episode's last row
    rows = torch.tensor([0, 1, 3, 4])
    stacks = train.frame_stack_at(rows)
    assert (
        torch.equal(stacks[0], stack(0, 0, 0))
        and torch.equal(stacks[2], stack(1, 2, 3))
        and torch.equal(stacks[3], stack(2, 3, 4))
    )
    assert torch.equal(stacks[:3], torch.stack([td["pixels"][0], td["pixels"][1], td["pixels"][3]]))
    # generic TorchRL path gives the same stacks
    g = train.sample_generic()
    assert torch.equal(g["pixels"], train.gather(g["index"])["pixels"])
    # stored frames are what the pixel env renders in that state
    env = suite.make_env("reach_top_left")
    env.reset()
    with env.physics.reset_context():
        env.physics.set_state(episodes[0]["physics"][2])
    np.testing.assert_array_equal(env.render().transpose(2, 0, 1), frames[2])
    env.close()


# ------------------------------------------------------------------------------------ errors
def _episode(rows=LEN + 1, **over):
    arrays = {
        "observation": np.zeros((rows, 24), np.float32),
        "action": np.zeros((rows, 6), np.float32),
        "reward": np.zeros((rows, 1), np.float32),
        "discount": np.ones((rows, 1), np.float32),
        "physics": np.zeros((rows, 18), np.float64),
    }
    arrays.update(over)
    return {k: v for k, v in arrays.items() if v is not None}


def _truncate(p):
    p.write_bytes(p.read_bytes()[:200])


@pytest.mark.parametrize(
    "case, name, make, match",
    [
        ("empty_file", f"episode_000000_{LEN}.npz", lambda p: p.write_bytes(b""), "empty \\(0 bytes\\)"),
        ("garbage", f"episode_000000_{LEN}.npz", lambda p: p.write_bytes(b"not a zip" * 20), "corrupted"),
        ("truncated", f"episode_000000_{LEN}.npz", lambda p: (write_npz(p, _episode()), _truncate(p)), "corrupted"),
        (
            "missing_key",
            f"episode_000000_{LEN}.npz",
            lambda p: write_npz(p, _episode(physics=None)),
            "lacks key\\(s\\) \\['physics'\\]",
        ),
        (
            "obs_dim",
            f"episode_000000_{LEN}.npz",
            lambda p: write_npz(p, _episode(observation=np.zeros((LEN + 1, 17), np.float32))),
            "needs \\(T, 24\\)",
        ),
        (
            "physics_dim",
            f"episode_000000_{LEN}.npz",
            lambda p: write_npz(p, _episode(physics=np.zeros((LEN + 1, 57)))),
            "needs \\(T, 18\\)",
        ),
        ("rows", f"episode_000000_{LEN}.npz", lambda p: write_npz(p, _episode(action=np.zeros((LEN, 6), np.float32))), "rows"),
        ("empty_episode", "episode_000000_0.npz", lambda p: write_npz(p, _episode(rows=1)), "empty: 1 row"),
        ("name_len", "episode_000000_9.npz", lambda p: write_npz(p, _episode()), "name says 9 transitions"),
        ("no_pixels", f"episode_000000_{LEN}.npz", lambda p: write_npz(p, _episode()), "no 'pixels'"),
    ],
)
def test_bad_episode_files(tmp_path, walker_suite, case, name, make, match):
    path = tmp_path / name
    make(path)
    suite = DMCTaskSuite("walker", obs="pixels") if case == "no_pixels" else walker_suite
    with pytest.raises(DatasetError, match=match) as exc:
        check_episode_header(path, suite, pixels=case == "no_pixels")
    msg = str(exc.value)
    assert str(path) in msg and "Fix" in msg, msg
    assert "\n" not in msg and isinstance(exc.value, ValueError)


def test_nan_values_are_reported_and_leave_no_cache(tmp_path, walker_suite):
    buf = tmp_path / "data" / "walker" / "rnd" / "buffer"
    write_npz(buf / f"episode_000000_{LEN}.npz", _episode())
    bad = _episode(physics=np.zeros((LEN + 1, 18)))
    bad["physics"][3, 2] = np.nan
    write_npz(buf / f"episode_000001_{LEN}.npz", bad)
    with pytest.raises(DatasetError, match="'physics' contains NaN/inf values in 1 rows") as exc:
        load_dmc_dataset(_cfg(tmp_path, tmp_path / "data"), suite=walker_suite)
    assert "episode_000001" in str(exc.value) and "Fix" in str(exc.value)
    assert not list((tmp_path / "cache").rglob("layout.json"))  # atomic: no half-built cache


def test_source_errors(tmp_path, walker_suite):
    with pytest.raises(DatasetError) as exc:
        load_dmc_dataset(_cfg(tmp_path, tmp_path / "exorl"), suite=walker_suite)
    msg = str(exc.value)
    assert str(tmp_path / "exorl" / "walker" / "rnd" / "buffer") in msg and "download.sh" in msg and "source=collected" in msg
    assert not (tmp_path / "cache").exists()
    with pytest.raises(ValueError, match="auto\\|official\\|collected"):
        load_dmc_dataset(_cfg(tmp_path, tmp_path, source="generated"), suite=walker_suite)
    one = tmp_path / "one" / "walker" / "rnd" / "buffer"
    write_npz(one / f"episode_000000_{LEN}.npz", _episode())
    with pytest.raises(DatasetError, match="at least 2 episodes"):
        load_dmc_dataset(_cfg(tmp_path, tmp_path / "one"), suite=walker_suite)
    with pytest.raises(ValueError, match="valid domains"):
        make_dataset(dict(family="dmc", domain="reacher"))
