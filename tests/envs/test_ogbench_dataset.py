"""OGBench npz: generation, official format round trip, determinism, validation errors."""

import hashlib
import types
import zipfile

import numpy as np
import ogbench.utils
import pytest

from envs.ogbench import DatasetError, generate_dataset, validate_dataset, write_npz
from envs.ogbench.dataset import val_path_for

# Official format (ogbench data_gen_scripts, see module docstring of envs/ogbench/dataset.py).
OFFICIAL = {
    "observations": (np.float32, 2),
    "actions": (np.float32, 2),
    "terminals": (np.bool_, 1),
    "qpos": (np.float32, 2),
    "qvel": (np.float32, 2),
}

FAKE_SUITE = types.SimpleNamespace(name="pointmaze-medium-navigate-v0", observation_dim=2, action_dim=2, nq=2, nv=2)


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    return generate_dataset("pointmaze-medium-navigate", d / "pm.npz", num_episodes=3, episode_length=50, seed=0, progress=False)


def test_round_trip_official_format(tiny):
    train, val = tiny
    assert val == val_path_for(train) and val.name == "pm-val.npz"
    with np.load(train) as f:
        assert set(f.files) == set(OFFICIAL)
        for k, (dtype, ndim) in OFFICIAL.items():
            assert f[k].dtype == dtype and f[k].ndim == ndim and len(f[k]) == 150
        term = f["terminals"]
        assert term.sum() == 3 and term[49] and term[99] and term[149]
        # qpos is the state of the observation (pointmaze observation == qpos)
        np.testing.assert_array_equal(f["observations"], f["qpos"])
        assert np.abs(f["actions"]).max() <= 1.0
    with np.load(val) as f:
        assert len(f["terminals"]) == 50  # max(1, 3 // 10) episodes
    d = ogbench.utils.load_dataset(str(train), add_info=True)
    assert d["observations"].shape == (147, 2) and d["next_observations"].shape == (147, 2)
    assert d["terminals"].sum() == 3
    validate_dataset(train, FAKE_SUITE)


def test_same_seed_same_bytes(tiny, tmp_path):
    train, val = tiny
    t2, v2 = generate_dataset(
        "pointmaze-medium-navigate-v0", tmp_path / "pm.npz", num_episodes=3, episode_length=50, seed=0, progress=False
    )
    assert _md5(train) == _md5(t2) and _md5(val) == _md5(v2)
    t3, _ = generate_dataset(
        "pointmaze-medium-navigate-v0", tmp_path / "other.npz", num_episodes=3, episode_length=50, seed=1, progress=False
    )
    assert _md5(train) != _md5(t3)
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files


def test_stitch_and_cube_generation(tmp_path):
    t, _ = generate_dataset(
        "pointmaze-large-stitch", tmp_path / "st.npz", num_episodes=2, episode_length=20, seed=0, progress=False
    )
    assert np.load(t)["observations"].shape == (40, 2)
    t, v = generate_dataset(
        "cube-single-play", tmp_path / "cube.npz", num_episodes=1, episode_length=30, seed=0, val_episodes=1, progress=False
    )
    with np.load(t) as f:
        assert {k: f[k].shape for k in f.files} == {
            "observations": (30, 28),
            "actions": (30, 5),
            "terminals": (30,),
            "qpos": (30, 21),
            "qvel": (30, 20),
        }
        assert f["qpos"].dtype == np.float32 and f["terminals"].dtype == np.bool_
    assert ogbench.utils.load_dataset(str(v))["observations"].shape == (29, 28)


def test_antmaze_generation_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="expert"):
        generate_dataset("antmaze-large-navigate", tmp_path / "a.npz", num_episodes=1)


def _write(path, **over):
    n = 20
    arrays = dict(
        observations=np.zeros((n, 2), np.float32),
        actions=np.zeros((n, 2), np.float32),
        terminals=np.r_[np.zeros(n - 1, bool), True],
        qpos=np.zeros((n, 2), np.float32),
        qvel=np.zeros((n, 2), np.float32),
    )
    arrays.update(over)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    return write_npz(path, arrays)


def _corrupt_truncated(p):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _corrupt_member(p):
    data = bytearray(p.read_bytes())
    for i in range(200, 260):
        data[i] ^= 0xFF
    p.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "case, make, match",
    [
        ("missing", lambda p: None, "does not exist"),
        ("empty", lambda p: p.write_bytes(b""), "empty"),
        (
            "zero",
            lambda p: _write(
                p,
                observations=np.zeros((0, 2), np.float32),
                actions=np.zeros((0, 2), np.float32),
                terminals=np.zeros(0, bool),
                qpos=np.zeros((0, 2), np.float32),
                qvel=np.zeros((0, 2), np.float32),
            ),
            "zero transitions",
        ),
        ("missing_key", lambda p: _write(p, qpos=None), "lacks key"),
        ("obs_dim", lambda p: _write(p, observations=np.zeros((20, 3), np.float32)), "needs \\(N, 2\\)"),
        ("act_dim", lambda p: _write(p, actions=np.zeros((20, 5), np.float32)), "needs \\(N, 2\\)"),
        ("rows", lambda p: _write(p, actions=np.zeros((19, 2), np.float32)), "rows"),
        ("nan", lambda p: _write(p, observations=np.full((20, 2), np.nan, np.float32)), "NaN/inf"),
        ("inf", lambda p: _write(p, qvel=np.full((20, 2), np.inf, np.float32)), "NaN/inf"),
        ("garbage", lambda p: p.write_bytes(b"this is not a zip file" * 10), "corrupted"),
        ("truncated", lambda p: (_write(p), _corrupt_truncated(p)), "corrupted"),
        ("bitflip", lambda p: (_write(p, observations=np.random.rand(20, 2).astype(np.float32)), _corrupt_member(p)), "corrupt"),
    ],
)
def test_bad_inputs(tmp_path, case, make, match):
    path = tmp_path / f"bad-{case}.npz"
    make(path)
    with pytest.raises(DatasetError, match=match) as exc:
        validate_dataset(path, FAKE_SUITE)
    msg = str(exc.value)
    assert str(path) in msg and "Fix" in msg, msg
    assert isinstance(exc.value, ValueError)


def test_write_npz_matches_numpy_savez(tmp_path):
    arrays = dict(a=np.arange(6, dtype=np.float32).reshape(3, 2), b=np.array([True, False]))
    ours = write_npz(tmp_path / "ours.npz", arrays)
    np.savez_compressed(tmp_path / "ref.npz", **arrays)
    with np.load(ours) as f, np.load(tmp_path / "ref.npz") as g:
        assert f.files == g.files
        for k in arrays:
            assert f[k].dtype == g[k].dtype and np.array_equal(f[k], g[k])
    with zipfile.ZipFile(ours) as z:
        assert [i.compress_type for i in z.infolist()] == [zipfile.ZIP_DEFLATED] * 2


def test_generated_stitch_episodes_have_the_official_length(tmp_path):
    """dataset.episode_length=null (the default) generates the dataset type's official length: 201 for stitch."""
    import numpy as np

    train, _ = generate_dataset(
        "pointmaze-medium-stitch", tmp_path / "st.npz", num_episodes=2, val_episodes=1, seed=0, progress=False
    )
    terminals = np.load(train)["terminals"]
    assert terminals.shape == (2 * 201,) and np.flatnonzero(terminals).tolist() == [200, 401]
