"""Synthetic LiDAR (data/lidar.py): ray casting against known geometry, BEV features and labels,
the cached scene dataset, and scans of OGBench's pointmaze."""

import math

import mujoco
import numpy as np
import pytest
import torch

from data.lidar import (
    BEV_CHANNELS,
    CLASSES,
    MAZE_GRID,
    MAZE_LIDAR,
    BEVGrid,
    LidarSpec,
    SceneSpec,
    bev_counts,
    bev_features,
    bev_labels,
    cast_scan,
    make_lidar_scenes,
    make_scene,
    maze_lidar_bev,
    ray_directions,
)

# 11 beams from -10° to 0° (1° apart) × 8 azimuths (45° apart), exact ranges.
EXACT = LidarSpec(
    beams=11, azimuths=8, elevation_min=-10.0, elevation_max=0.0, max_range=30.0, range_noise=0.0, dropout=0.0, sensor_height=1.7
)
WALL_X = 12.0  # the wall's near face


def _wall_scene() -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Ground plane + a 1 m thick, 20 m wide, 4 m high wall whose near face is the plane x = WALL_X."""
    xml = (
        '<mujoco><worldbody><geom type="plane" size="0 0 1"/>'
        f'<geom type="box" size="0.5 10 2" pos="{WALL_X + 0.5} 0 2"/></worldbody></mujoco>'
    )
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return model, data


def _ray_points(spec: LidarSpec, model, data, **kw) -> np.ndarray:
    """Points of a noise/dropout-free scan, as a lookup by (beam, azimuth) via the ray directions."""
    return cast_scan(model, data, np.array([0.0, 0.0, spec.sensor_height]), spec, np.random.default_rng(0), **kw)


def _point_along(points: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """The scan point lying on the ray ``direction`` (exact scans: the one with unit vector == direction)."""
    unit = points[:, :3] / np.linalg.norm(points[:, :3], axis=1, keepdims=True)
    k = int(np.argmax(unit @ direction))
    assert unit[k] @ direction > 1 - 1e-6
    return points[k]


def test_ray_directions_are_unit_and_span_the_elevations():
    d = ray_directions(EXACT)
    assert d.shape == (11 * 8, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    elevation = np.rad2deg(np.arcsin(d[:, 2])).reshape(11, 8)
    np.testing.assert_allclose(elevation[:, 0], np.linspace(-10, 0, 11), atol=1e-9)
    np.testing.assert_allclose(d[0 * 8 + 2], [0.0, math.cos(math.radians(10)), -math.sin(math.radians(10))], atol=1e-12)


def test_horizontal_beam_hits_the_wall_and_downward_beams_hit_the_ground():
    model, data = _wall_scene()
    points = _ray_points(EXACT, model, data)
    # horizontal beam, azimuth 0: the wall at exactly WALL_X, at the sensor's height (z = 0)
    wall = _point_along(points, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(wall[:3], [WALL_X, 0.0, 0.0], atol=1e-6)
    # head-on: |cos incidence| = 1, intensity = exp(-3 r / max_range)
    assert wall[3] == pytest.approx(math.exp(-3 * WALL_X / 30.0), rel=1e-5)
    # the -10° beam backwards (no wall there) hits the ground at h / tan(10°), z = -h
    a = math.radians(10.0)
    ground = _point_along(points, np.array([-math.cos(a), 0.0, -math.sin(a)]))
    np.testing.assert_allclose(ground[:3], [-1.7 / math.tan(a), 0.0, -1.7], atol=1e-5)
    assert np.linalg.norm(ground[:3]) == pytest.approx(1.7 / math.sin(a), abs=1e-5)
    # the -5° beam forwards: ground at 19.4 m lies behind the wall, so it hits the wall at x = WALL_X
    b = math.radians(5.0)
    blocked = _point_along(points, np.array([math.cos(b), 0.0, -math.sin(b)]))
    np.testing.assert_allclose(blocked[:3], [WALL_X, 0.0, -WALL_X * math.tan(b)], atol=1e-5)
    # nothing beyond max_range: beams at -1°..-3° reach the ground at 97 / 49 / 32 m and are dropped behind
    assert np.linalg.norm(points[:, :3], axis=1).max() <= 30.0


def test_yaw_rotates_the_scan_into_the_sensor_frame():
    model, data = _wall_scene()
    points = _ray_points(EXACT, model, data, yaw=math.pi / 2)  # sensor faces +y: the wall is now on its right (-y)
    wall = _point_along(points, np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(wall[:3], [0.0, -WALL_X, 0.0], atol=1e-5)


def test_exclude_body_skips_the_body_geoms():
    xml = (
        '<mujoco><worldbody><geom type="plane" size="0 0 1"/>'
        '<body name="blocker" pos="3 0 1.7"><geom type="sphere" size="0.5"/></body></worldbody></mujoco>'
    )
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    ahead = np.array([1.0, 0.0, 0.0])
    seen = _point_along(_ray_points(EXACT, model, data), ahead)
    assert seen[0] == pytest.approx(2.5, abs=1e-6)
    horizontal = _ray_points(EXACT, model, data, exclude_body=1)
    unit = horizontal[:, :3] / np.linalg.norm(horizontal[:, :3], axis=1, keepdims=True)
    assert (unit @ ahead).max() < 0.9999  # the horizontal beam now misses everything (next: -4°, cos = 0.9976)


def test_noise_dropout_and_determinism():
    model, data = _wall_scene()
    spec = LidarSpec(beams=32, azimuths=512, range_noise=0.02, dropout=0.1)
    origin = np.array([0.0, 0.0, spec.sensor_height])
    clean = cast_scan(
        model, data, origin, LidarSpec(beams=32, azimuths=512, range_noise=0.0, dropout=0.0), np.random.default_rng(0)
    )
    noisy = cast_scan(model, data, origin, spec, np.random.default_rng(1))
    assert len(clean) > 5000
    assert len(noisy) / len(clean) == pytest.approx(0.9, abs=0.015)
    # range noise: wall points (x ≈ 12, |y| small) spread by σ = 2 cm around the face
    on_wall = noisy[(noisy[:, 0] > 11) & (np.abs(noisy[:, 1]) < 1) & (noisy[:, 2] > -1)]
    r = np.linalg.norm(on_wall[:, :3], axis=1)
    r_true = r / on_wall[:, 0] * WALL_X  # the exact range along the same ray
    assert (r - r_true).std() == pytest.approx(0.02, rel=0.3)
    assert np.all((noisy[:, 3] >= 0) & (noisy[:, 3] <= 1))
    again = cast_scan(model, data, origin, spec, np.random.default_rng(1))
    np.testing.assert_array_equal(noisy, again)
    assert not np.array_equal(cast_scan(model, data, origin, spec, np.random.default_rng(2))[:100], noisy[:100])


def test_bev_counts_and_features_on_hand_made_points():
    grid = BEVGrid(rows=4, cols=4, cell_size=1.0, z_min=-2.0, z_max=2.0, z_bins=4)
    assert grid.channels[0] == "log_count" and grid.num_channels == 8 and len(BEV_CHANNELS) == 12
    pts = np.array(
        [
            [0.5, 0.5, -1.5, 0.2],  # cell (row 2, col 2), z bin 0
            [0.2, 0.9, 0.5, 0.4],  # cell (2, 2), z bin 2
            [0.7, 0.1, 0.6, 0.6],  # cell (2, 2), z bin 2
            [-1.5, -1.5, 1.9, 1.0],  # cell (0, 0), z bin 3
            [5.0, 0.0, 0.0, 1.0],  # x out of the grid
            [0.5, -2.5, 0.0, 1.0],  # y out of the grid
            [0.5, 0.5, 2.5, 1.0],  # above z_max
            [0.5, 0.5, -2.1, 1.0],  # below z_min
        ],
        dtype=np.float32,
    )
    counts = bev_counts(pts, grid)
    assert counts.dtype == torch.int64 and counts.shape == (4, 4)
    expected = torch.zeros(4, 4, dtype=torch.int64)
    expected[2, 2], expected[0, 0] = 3, 1
    assert torch.equal(counts, expected)
    f = bev_features(torch.from_numpy(pts), grid)
    assert f.dtype == torch.float32 and f.shape == (8, 4, 4)
    torch.testing.assert_close(f[0], torch.log1p(expected.float()))
    assert torch.equal(f[0] > 0, expected > 0)
    frac = f[1:5]
    torch.testing.assert_close(frac[:, 2, 2], torch.tensor([1 / 3, 0.0, 2 / 3, 0.0]))
    torch.testing.assert_close(frac.sum(0)[expected > 0], torch.ones(2))
    assert f[:, expected == 0].abs().max() == 0
    # heights normalised by (z - z_min) / (z_max - z_min)
    assert f[5, 2, 2].item() == pytest.approx((0.6 + 2) / 4)
    assert f[6, 2, 2].item() == pytest.approx(((-1.5 + 0.5 + 0.6) / 3 + 2) / 4)
    assert f[7, 2, 2].item() == pytest.approx(0.4)
    assert f[7, 0, 0].item() == pytest.approx(1.0)


def test_bev_labels_on_a_yawed_box():
    grid = BEVGrid(rows=40, cols=40, cell_size=0.5)  # x, y in [-10, 10)
    car = dict(class_id=1, center=(2.6, -3.1, 0.75), size=(4.0, 1.8, 1.5), yaw=math.radians(30))
    pole = dict(class_id=4, center=(-6.2, 6.2, 2.0), size=(1.0, 1.0, 4.0), yaw=0.0)
    seg, heat = bev_labels([car, pole], grid)
    assert seg.dtype == torch.int64 and seg.shape == (40, 40) and heat.shape == (3, 40, 40)
    xx, yy = grid.cell_centres()

    def cell(x, y):
        return int(math.floor((y + 10) / 0.5)), int(math.floor((x + 10) / 0.5))

    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    along, across = np.array([c, s]), np.array([-s, c])
    centre = np.array([2.6, -3.1])
    assert seg[cell(*(centre + 1.7 * along))] == 1  # inside, near the front
    assert seg[cell(*(centre - 1.7 * along))] == 1
    assert seg[cell(*(centre + 1.6 * across))] == 0  # outside across (half width 0.9)
    assert seg[cell(*(centre + 2.5 * along))] == 0
    # an axis-aligned box would have covered this cell (x + 1.8, y - 0.7): the yaw must be applied
    assert seg[cell(2.6 + 1.9, -3.1 - 0.85)] == 0
    # coverage = cells whose centre is inside the rotated rectangle, area ≈ 4 × 1.8 m² = 28.8 cells
    u = c * (xx - 2.6) + s * (yy + 3.1)
    v = -s * (xx - 2.6) + c * (yy + 3.1)
    inside = (np.abs(u) <= 2.0) & (np.abs(v) <= 0.9)
    assert torch.equal(seg == 1, torch.from_numpy(inside))
    assert 24 <= int(inside.sum()) <= 34
    assert (seg == 4).sum() == 4  # 1 m square on the cell grid
    # heatmap: peak 1 at the cell holding the centre, only in the car channel; walls/poles get none
    assert heat[0].max() == 1.0 and heat[1:].max() == 0.0
    assert np.unravel_index(int(heat[0].argmax()), (40, 40)) == cell(2.6, -3.1)
    i, j = cell(2.6, -3.1)
    assert heat[0, i, j + 1].item() == pytest.approx(math.exp(-0.5))


def test_make_scene_objects_are_clear_of_the_sensor():
    spec = SceneSpec()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        xml, objects = make_scene(rng, spec)
        assert 3 <= sum(o["class_id"] in (1, 2, 3) for o in objects) <= 15
        assert {o["class_id"] for o in objects} <= set(range(1, len(CLASSES)))
        model = mujoco.MjModel.from_xml_string(xml)
        assert model.ngeom == len(objects) + 1
        for o in objects:
            x, y, _ = o["center"]
            assert math.hypot(x, y) >= spec.clearance  # the centre; the footprint check is stricter
    car = next(o for s in range(20) for o in make_scene(np.random.default_rng(s))[1] if o["class_id"] == 1)
    np.testing.assert_allclose(car["size"], (4.0, 1.8, 1.5), rtol=0.1)
    assert make_scene(np.random.default_rng(3))[0] == make_scene(np.random.default_rng(3))[0]


def test_make_lidar_scenes_cache_and_config_errors(tmp_path):
    cfg = dict(
        scenes=12,
        seed=5,
        val_fraction=0.25,
        test_fraction=0.25,
        cache_dir=str(tmp_path),
        progress=False,
        lidar=dict(beams=16, azimuths=128),
        grid=dict(rows=24, cols=32, cell_size=1.0),
    )
    train, val, test, info = make_lidar_scenes(cfg)
    assert not info["cached"] and (info["train_scenes"], info["val_scenes"], info["test_scenes"]) == (6, 3, 3)
    assert train.batch_size == (6,) and val.batch_size == (3,) and test.batch_size == (3,)
    assert train["bev"].dtype == torch.float32 and train["bev"].shape == (6, 12, 24, 32)
    assert train["segmentation"].dtype == torch.int64 and train["segmentation"].shape == (6, 24, 32)
    assert train["heatmap"].dtype == torch.float32 and train["heatmap"].shape == (6, 3, 24, 32)
    assert info["channels"] == BEV_CHANNELS
    bev = torch.cat([train["bev"], val["bev"], test["bev"]])
    assert ((bev[:, 0] > 0).float().mean((1, 2)) > 0.05).all()  # every scene has many non-empty cells
    assert (bev[:, 1:9].sum(1)[bev[:, 0] > 0] - 1).abs().max() < 2e-3  # z fractions sum to 1 (f16 storage)
    assert torch.cat([train["segmentation"], val["segmentation"]]).unique().tolist()[:2] == [0, 1]
    assert torch.cat([train["heatmap"], val["heatmap"], test["heatmap"]]).amax() == 1.0
    # a second call loads the cache: identical tensors
    train2, val2, test2, info2 = make_lidar_scenes(cfg)
    assert info2["cached"] and info2["cache_dir"] == info["cache_dir"]
    for a, b in ((train, train2), (val, val2), (test, test2)):
        for key in ("bev", "segmentation", "heatmap", "boxes"):
            assert torch.equal(a[key], b[key])
    # same seed, fresh cache: bit-identical; another seed: different
    again = make_lidar_scenes(dict(cfg, cache_dir=str(tmp_path / "other")))[0]
    assert torch.equal(again["bev"], train["bev"]) and torch.equal(again["heatmap"], train["heatmap"])
    other = make_lidar_scenes(dict(cfg, seed=6, cache_dir=str(tmp_path / "other")))[0]
    assert not torch.equal(other["bev"], train["bev"])

    with pytest.raises(ValueError, match=r"unknown data.lidar keys \['beam'\]; allowed: beams, azimuths"):
        make_lidar_scenes(dict(cfg, lidar=dict(beam=8)))
    with pytest.raises(ValueError, match=r"unknown data.grid keys \['size'\].*rows, cols, cell_size"):
        make_lidar_scenes(dict(cfg, grid=dict(size=8)))
    with pytest.raises(ValueError, match=r"BEVGrid.cell_size must be > 0"):
        make_lidar_scenes(dict(cfg, grid=dict(cell_size=0)))
    with pytest.raises(ValueError, match=r"LidarSpec.beams must be > 0"):
        make_lidar_scenes(dict(cfg, lidar=dict(beams=-1)))
    with pytest.raises(ValueError, match=r"data.scenes must be >= 1"):
        make_lidar_scenes(dict(cfg, scenes=0))
    with pytest.raises(ValueError, match=r"data.val_fraction must be in \[0, 1\)"):
        make_lidar_scenes(dict(cfg, val_fraction=1.5))
    with pytest.raises(ValueError, match=r"val_fraction \+ data.test_fraction must be < 1"):
        make_lidar_scenes(dict(cfg, val_fraction=0.6, test_fraction=0.5))
    with pytest.raises(ValueError, match=r"LidarSpec.dropout must be in \[0, 1\)"):
        make_lidar_scenes(dict(cfg, lidar=dict(dropout=1.0)))


@pytest.fixture(scope="module")
def pointmaze():
    import gymnasium
    import ogbench  # noqa: F401  (registers the ids)

    from envs.ogbench._rng import private_global_rng

    env = gymnasium.make("pointmaze-medium-v0").unwrapped
    # ogbench places the goal disc (a 0.1 m geom the rays hit) with the global NumPy RNG: a private one puts it
    # far from the probed cells whatever the tests before this one did to the global state
    with private_global_rng(np.random.RandomState(2)):
        env.reset(seed=0)
    assert min(np.hypot(*(np.asarray(env.cur_goal_xy) - p)) for p in ((0.0, 0.0), (4.0, 0.0))) > 10.0
    yield env
    env.close()


def test_maze_lidar_bev_sees_walls_not_the_agent(pointmaze):
    model, data = pointmaze.model, pointmaze.data
    saved = data.qpos.copy()
    # (0, 0) is the centre of the free maze cell (1, 1): walls 2 m away on the west and south sides
    bev = maze_lidar_bev(model, data, np.array([[0.0, 0.0], [4.0, 0.0]]), MAZE_LIDAR, MAZE_GRID, np.random.default_rng(0))
    assert bev.shape == (2, 12, 32, 32) and bev.dtype == torch.float32
    np.testing.assert_array_equal(data.qpos, saved)  # the env's state is restored
    occupied = bev[:, 0] > 0
    assert (occupied.sum((1, 2)) > 50).all()
    # points above 0.4 m over the ground only come from walls (the ground is at z = -1.6 in the sensor frame)
    z_edges = np.linspace(MAZE_GRID.z_min, MAZE_GRID.z_max, MAZE_GRID.z_bins + 1)
    high_bins = torch.from_numpy(z_edges[:-1] >= -1.2)
    wall_cells = (bev[:, 1:9][:, high_bins] > 0).any(1)
    assert (wall_cells.sum((1, 2)) > 40).all()
    # the west wall face at x = -2 (the wall cell spans x in [-6, -2]): column of x ∈ [-2.5, -2)
    west = int((-2.25 - MAZE_GRID.x_min) / MAZE_GRID.cell_size)
    assert (wall_cells[0, 12:20, west] | wall_cells[0, 12:20, west + 1]).all()  # ±noise

    # a steep beam pattern that would hit the 0.7 m ball under the sensor: excluded by default
    steep = LidarSpec(
        beams=8,
        azimuths=64,
        elevation_min=-89.0,
        elevation_max=-60.0,
        max_range=5.0,
        range_noise=0.0,
        dropout=0.0,
        sensor_height=1.6,
    )
    grid = BEVGrid(rows=8, cols=8, cell_size=0.5, z_min=-1.8, z_max=0.6)
    near = maze_lidar_bev(model, data, np.zeros((1, 2)), steep, grid)
    hit_agent = maze_lidar_bev(model, data, np.zeros((1, 2)), steep, grid, exclude_body=-1)
    ground_only = near[0, 1:9, near[0, 0] > 0]
    assert ground_only.shape[1] > 0 and (ground_only[0] == 1).all()  # every point is in the lowest z bin (ground)
    assert (hit_agent[0, 2:9].sum(0) > 0).any()  # without the exclusion the ball (up to 1.4 m) shows up
    np.testing.assert_array_equal(data.qpos, saved)
