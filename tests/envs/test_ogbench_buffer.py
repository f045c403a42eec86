"""OGBench npz -> replay buffer: sources, caching, transition semantics, sampling."""

import time

import numpy as np
import ogbench.utils
import pytest
import torch
from torchrl.data import TensorDictReplayBuffer

from envs.ogbench import DatasetError, generate_dataset, load_ogbench_dataset
from envs.ogbench.buffer import build_buffer

NAME = "pointmaze-medium-navigate-v0"


def _cfg(tmp_path, **kw):
    cfg = dict(
        name="pointmaze-medium-navigate",
        source="auto",
        data_dir=str(tmp_path / "data"),
        cache_dir=str(tmp_path / "cache"),
        num_episodes=3,
        episode_length=50,
        seed=0,
        batch_size=64,
        max_transitions=None,
        progress=False,
    )
    cfg.update(kw)
    return cfg


@pytest.fixture
def no_download(monkeypatch):
    calls = []

    def fake(names, dataset_dir=None):
        calls.append(list(names))
        raise OSError("network disabled in tests")

    monkeypatch.setattr(ogbench.utils, "download_datasets", fake)
    return calls


def test_official_missing_gives_clear_error(tmp_path, no_download, pointmaze_suite):
    cfg = _cfg(tmp_path, source="official")
    with pytest.raises(DatasetError) as exc:
        load_ogbench_dataset(cfg, suite=pointmaze_suite)
    msg = str(exc.value)
    assert f"{NAME}.npz" in msg and str(tmp_path / "data") in msg and "source=generated" in msg
    assert no_download == [[NAME]]
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.npz"))


def test_auto_generates_then_caches(tmp_path, no_download, pointmaze_suite):
    cfg = _cfg(tmp_path)
    t0 = time.perf_counter()
    train, val = load_ogbench_dataset(cfg, suite=pointmaze_suite)
    first = time.perf_counter() - t0
    assert isinstance(train, TensorDictReplayBuffer)
    assert train.layout["how"] == "generated" and not train.layout["cached"]
    gen = tmp_path / "cache" / "ogbench" / "generated"
    assert (gen / f"{NAME}-ep3-len50-seed0.npz").is_file() and (gen / f"{NAME}-ep3-len50-seed0-val.npz").is_file()
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").glob("*.npz"))
    assert len(train) == 3 * 49 and len(val) == 49

    t0 = time.perf_counter()
    train2, val2 = load_ogbench_dataset(cfg, suite=pointmaze_suite)
    second = time.perf_counter() - t0
    assert train2.layout["cached"] and val2.layout["cached"]
    assert second < first
    assert torch.equal(train.rows, train2.rows) and torch.equal(train.valid, train2.valid)
    assert len(list((tmp_path / "cache" / "ogbench" / "buffers").iterdir())) == 2


def test_official_file_is_used_and_semantics_match_ogbench(tmp_path, no_download, pointmaze_suite):
    data = tmp_path / "data"
    generate_dataset(NAME, data / f"{NAME}.npz", num_episodes=3, episode_length=50, seed=4, progress=False)
    train, val = load_ogbench_dataset(_cfg(tmp_path, source="official"), suite=pointmaze_suite)
    assert train.layout["how"] == "official" and no_download == []

    ref = ogbench.utils.load_dataset(str(data / f"{NAME}.npz"), add_info=True)
    all_rows = train.valid
    td = train.gather(all_rows)
    # identical to ogbench's load_dataset (last step of each episode dropped, next = following row)
    np.testing.assert_array_equal(td["observation"].numpy(), ref["observations"])
    np.testing.assert_array_equal(td["next", "observation"].numpy(), ref["next_observations"])
    np.testing.assert_array_equal(td["action"].numpy(), ref["actions"])
    np.testing.assert_array_equal(td["qpos"].numpy(), ref["qpos"])
    np.testing.assert_array_equal(td["next", "done"][:, 0].numpy(), ref["terminals"].astype(bool))
    assert not td["next", "terminated"].any()
    # no cross-episode transitions: rows 49, 99, 149 (episode ends) are never a transition start
    assert not set(all_rows.tolist()) & {49, 99, 149}
    raw = np.load(data / f"{NAME}.npz")
    i = all_rows.numpy()
    np.testing.assert_array_equal(td["next", "qpos"].numpy(), raw["qpos"][i + 1])


def test_sampling(tmp_path, no_download, pointmaze_suite):
    train, _ = load_ogbench_dataset(_cfg(tmp_path, batch_size=32, source="generated"), suite=pointmaze_suite)
    b = train.sample()
    g = train.sample_generic()
    keys = sorted(map(str, b.keys(True, True)))
    assert keys == sorted(map(str, g.keys(True, True)))
    assert b.batch_size == (32,) and b["next", "terminated"].dtype == torch.bool
    for batch in (b, g):
        i = batch["index"]
        assert set(i.tolist()) <= set(train.valid.tolist())
        assert torch.equal(batch["next", "observation"], train.rows[i + 1, :2])
        assert torch.equal(batch["observation"], train.rows[i, :2])
    seen = torch.cat([train.sample(256)["index"] for _ in range(20)])
    assert len(seen.unique()) == len(train)  # uniform over all 147 transitions
    # relabel works on sampled batches
    r = pointmaze_suite.relabel("task1", b)
    assert r.shape == (32,) and r.dtype == torch.float32
    # max_transitions
    small, _ = load_ogbench_dataset(_cfg(tmp_path, source="generated", max_transitions=10), suite=pointmaze_suite)
    assert len(small) == 10 and small.sample(100)["index"].max() < 10


def test_bad_cached_source_is_reported(tmp_path, pointmaze_suite):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="corrupted"):
        build_buffer(bad, pointmaze_suite, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("layout.json"))


def test_another_mazes_file_under_this_name_is_refused(tmp_path, no_download):
    """A medium-maze file renamed as the large maze: its positions fall on the large maze's walls."""
    from envs.ogbench import DatasetError, OGBenchTaskSuite

    large = "pointmaze-large-navigate-v0"
    data = tmp_path / "data"
    generate_dataset(NAME, data / f"{large}.npz", num_episodes=3, episode_length=200, seed=0, progress=False)
    with pytest.raises(DatasetError, match=r"of the sampled agent positions lie on walls or outside the pointmaze-large-v0 maze"):
        load_ogbench_dataset(_cfg(tmp_path, name=large, source="official"), suite=OGBenchTaskSuite(large, render_size=64))
    # the real medium file under its own name passes the same check
    generate_dataset(NAME, data / f"{NAME}.npz", num_episodes=3, episode_length=200, seed=0, progress=False)
    load_ogbench_dataset(_cfg(tmp_path, source="official"), suite=OGBenchTaskSuite(NAME, render_size=64))


def test_datasets_are_torchrl_offline_datasets_with_one_seeded_stream(tmp_path, no_download, pointmaze_suite):
    from torchrl.data.datasets import BaseDatasetExperienceReplay

    from envs import DATASETS, dataset_class

    assert all(issubclass(dataset_class(name), BaseDatasetExperienceReplay) for name in DATASETS)
    with pytest.raises(ValueError, match=r"unknown dataset 'd4rl'; registered: \['ogbench', 'exorl', 'ogbench_demos'\]"):
        dataset_class("d4rl")
    train, _ = load_ogbench_dataset(_cfg(tmp_path, source="generated"), suite=pointmaze_suite)
    assert isinstance(train, dataset_class("ogbench")) and train.data_path.suffix == ".npz" and train._is_downloaded()
    # one generator (ReplayBuffer.set_rng) drives the sampler: reseeding replays the stream, a separate stream leaves it
    train.reseed(7)
    first = train.sample(16)["index"]
    train.reseed(7)
    state = train.sampler_state()
    with train.separate_stream(123):
        train.sample(16)
    assert torch.equal(train.sample(16)["index"], first)
    train.set_sampler_state(state)
    assert torch.equal(train.sample(16)["index"], first)
    assert train._sampler._rng is train._rng is train._storage._rng  # set_rng gave every part the same stream


def test_a_full_disk_during_conversion_is_one_message_and_leaves_no_temporary_folder(
    tmp_path, no_download, pointmaze_suite, monkeypatch
):
    """Writing into a sparse memory map on a full disk kills the process with SIGBUS; the cache files' blocks are
    reserved first, so a full disk is an OSError with a fix instead."""
    import os

    def full_disk(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full_disk)
    with pytest.raises(
        OSError, match=r"no room for rows.npy .* in .*\(No space left on device\): free disk space, or set dataset.cache_dir"
    ):
        load_ogbench_dataset(_cfg(tmp_path, source="generated"), suite=pointmaze_suite)
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".") and p.is_dir()]
    assert leftovers == []  # the conversion's temporary folder is gone


def test_reserved_memmap_reserves_the_whole_file(tmp_path):
    import os

    from envs.buffer import reserved_memmap

    size = 1000 * 8 * 4
    sparse = np.lib.format.open_memmap(tmp_path / "sparse.npy", mode="w+", dtype=np.float32, shape=(1000, 8))
    reserved = reserved_memmap(tmp_path / "reserved.npy", np.float32, (1000, 8))
    assert os.stat(tmp_path / "sparse.npy").st_blocks * 512 < size  # nothing on disk yet: a full disk would SIGBUS later
    assert os.stat(tmp_path / "reserved.npy").st_blocks * 512 >= size  # every block is there before the first write
    reserved[:] = 1.0
    reserved.flush()
    assert np.load(tmp_path / "reserved.npy").sum() == 8000 and sparse.shape == reserved.shape
