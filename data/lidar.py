"""Synthetic LiDAR made here by MuJoCo ray casting, voxelised to bird's-eye-view (BEV) pillars.

A small stand-in for KITTI/Waymo to pretrain AD-L-JEPA-style encoders (Zhu et al., arXiv 2501.04969)
on BEV maps and evaluate them on BEV segmentation / centre-heatmap detection.

* Sensor (:class:`LidarSpec`): ``beams`` elevations spaced evenly in [elevation_min, elevation_max]
  degrees × ``azimuths`` evenly spaced yaws, cast in ONE ``mujoco.mj_multiRay`` call.  Misses and hits
  past ``max_range`` are dropped, ranges get Gaussian noise, a random ``dropout`` fraction of the
  returns is lost.  Intensity = |cos(incidence)| · exp(−3 r / max_range) ∈ [0, 1] (Lambertian-like
  incidence times an exponential range falloff).
* Points (:func:`cast_scan`) are [N, 4] = (x, y, z, intensity) in the *sensor frame*: origin at the
  sensor, x forward and y left after the sensor's yaw, z up, so the ground (world z = 0) is at
  z = −sensor_height.
* Scenes (:func:`make_scene`): a ground plane, 3–15 cars / pedestrians / cyclists (boxes at random
  yaw), a few walls and poles, none touching the sensor at the origin (world frame = sensor frame up
  to the sensor height).
* BEV (:class:`BEVGrid`, :func:`bev_features`): cell (i, j) covers y ∈ [y0 + i·s, y0 + (i+1)·s),
  x ∈ [x0 + j·s, x0 + (j+1)·s) with x0 = −cols·s/2, y0 = −rows·s/2 (rows follow y, columns x), and
  z ∈ [z_min, z_max) in the sensor frame.  Channels are :data:`BEV_CHANNELS`; channel 0 is
  log1p(point count), so a cell is non-empty iff channel 0 > 0 (AD-L-JEPA's empty / non-empty split).
* Labels (:func:`bev_labels`): per-cell class of the object covering the cell centre, and a CenterNet
  Gaussian heatmap per detection class (car, pedestrian, cyclist).
* Dataset (:func:`make_lidar_scenes`): generated once, seeded per scene, cached atomically as a
  memory-mapped TensorDict under ``<cache_dir>/lidar/<hash>/``.
* Mazes (:func:`maze_lidar_bev`): BEV scans of an OGBench maze from the agent's positions.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import torch
from tensordict import TensorDict
from tqdm import tqdm

from envs.buffer import cached_tensordict, params_digest
from envs.common import cfg_get

__all__ = [
    "CLASSES",
    "DETECTION_CLASSES",
    "BEV_CHANNELS",
    "LIDAR_VERSION",
    "LidarSpec",
    "BEVGrid",
    "SceneSpec",
    "MAZE_LIDAR",
    "MAZE_GRID",
    "ray_directions",
    "cast_scan",
    "make_scene",
    "scan_scene",
    "bev_counts",
    "bev_features",
    "bev_labels",
    "generate_lidar_scenes",
    "make_lidar_scenes",
    "maze_lidar_bev",
]

log = logging.getLogger(__name__)

LIDAR_VERSION = 1  # part of the cache key: bump when the generated data changes
CLASSES = ("background", "car", "pedestrian", "cyclist", "wall_pole")
DETECTION_CLASSES = (1, 2, 3)  # heatmap channel c is class DETECTION_CLASSES[c]
_MARKER = "lidar.json"


# ---------------------------------------------------------------------------------------- specs
def _check_positive(obj: Any, names: Sequence[str]) -> None:
    for name in names:
        value = getattr(obj, name)
        if not value > 0:
            raise ValueError(f"{type(obj).__name__}.{name} must be > 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class LidarSpec:
    """A spinning LiDAR: ``beams`` × ``azimuths`` rays (defaults: a 32-beam sensor on a car roof)."""

    beams: int = 32
    azimuths: int = 256
    elevation_min: float = -25.0  # degrees; beams are spaced evenly from min to max
    elevation_max: float = 5.0
    max_range: float = 30.0  # metres
    range_noise: float = 0.02  # σ of the Gaussian range noise, metres
    dropout: float = 0.1  # probability that a return is lost
    sensor_height: float = 1.7  # metres above the ground (world z = 0)

    def __post_init__(self) -> None:
        _check_positive(self, ("beams", "azimuths", "max_range", "sensor_height"))
        if not -90.0 <= self.elevation_min <= self.elevation_max <= 90.0:
            raise ValueError(
                f"LidarSpec needs -90 <= elevation_min <= elevation_max <= 90, got {self.elevation_min}, {self.elevation_max}"
            )
        if self.range_noise < 0:
            raise ValueError(f"LidarSpec.range_noise must be >= 0, got {self.range_noise}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LidarSpec.dropout must be in [0, 1), got {self.dropout}")

    @property
    def num_rays(self) -> int:
        return self.beams * self.azimuths


@dataclasses.dataclass(frozen=True)
class BEVGrid:
    """BEV pillar grid centred on the sensor: ``rows`` (along y) × ``cols`` (along x) cells of
    ``cell_size`` metres; points with z ∈ [z_min, z_max) (sensor frame, so the ground is at
    −sensor_height) are kept and binned into ``z_bins`` equal height bins."""

    rows: int = 64
    cols: int = 64
    cell_size: float = 0.5
    z_min: float = -2.0
    z_max: float = 2.0
    z_bins: int = 8

    def __post_init__(self) -> None:
        _check_positive(self, ("rows", "cols", "cell_size", "z_bins"))
        if not self.z_max > self.z_min:
            raise ValueError(f"BEVGrid needs z_max > z_min, got {self.z_min}, {self.z_max}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def x_min(self) -> float:
        return -0.5 * self.cols * self.cell_size

    @property
    def y_min(self) -> float:
        return -0.5 * self.rows * self.cell_size

    @property
    def channels(self) -> list[str]:
        """Names of :func:`bev_features`' channels."""
        return ["log_count"] + [f"z_frac{k}" for k in range(self.z_bins)] + ["max_height", "mean_height", "mean_intensity"]

    @property
    def num_channels(self) -> int:
        return self.z_bins + 4

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of every cell centre, each [rows, cols]."""
        x = self.x_min + (np.arange(self.cols) + 0.5) * self.cell_size
        y = self.y_min + (np.arange(self.rows) + 0.5) * self.cell_size
        yy, xx = np.meshgrid(y, x, indexing="ij")
        return xx, yy


BEV_CHANNELS: list[str] = BEVGrid().channels

# OGBench mazes (unit 4 m, walls 2 m high, the point agent a 0.7 m ball whose top is at 1.4 m): a sensor
# just above the agent, beams from 30° down to 10° up reaching 3 maze cells, and a grid of ±8 m
# (two maze cells each way) from the ground (z = −1.6) to above the wall tops (+0.4).  Same 12 channels.
MAZE_LIDAR = LidarSpec(beams=16, azimuths=180, elevation_min=-30.0, elevation_max=10.0, max_range=12.0, sensor_height=1.6)
MAZE_GRID = BEVGrid(rows=32, cols=32, cell_size=0.5, z_min=-1.8, z_max=0.6, z_bins=8)


# ---------------------------------------------------------------------------------------- ray casting
@functools.lru_cache(maxsize=16)
def _directions(spec: LidarSpec) -> np.ndarray:
    elevation = np.deg2rad(np.linspace(spec.elevation_min, spec.elevation_max, spec.beams))
    azimuth = 2.0 * np.pi * np.arange(spec.azimuths) / spec.azimuths
    el, az = np.meshgrid(elevation, azimuth, indexing="ij")  # beam-major: ray b·azimuths + a
    dirs = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1).reshape(-1, 3)
    dirs.setflags(write=False)
    return dirs


def ray_directions(spec: LidarSpec) -> np.ndarray:
    """Unit ray directions [beams·azimuths, 3] in the sensor frame, beam-major (ray b·azimuths + a has
    elevation b and azimuth 2π·a/azimuths, azimuth 0 along +x)."""
    return _directions(spec).copy()


def _cast(
    model: mujoco.MjModel, data: mujoco.MjData, origin: np.ndarray, vec: np.ndarray, exclude_body: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(geom id, distance, normal) of every ray from ``origin`` along the world directions ``vec`` [n, 3].

    No ``cutoff``: mj_multiRay prunes geoms by the distance to their centre, which drops a plane whose
    centre is far away (OGBench's maze floor is centred at (10, 10)); ranges are limited by the caller."""
    n = len(vec)
    geomid = np.full(n, -1, dtype=np.int32)
    dist = np.full(n, -1.0)
    normal = np.zeros(3 * n)
    if hasattr(mujoco, "mj_multiRay"):
        mujoco.mj_multiRay(
            model,
            data,
            origin,
            np.ascontiguousarray(vec).reshape(-1),
            None,
            1,
            exclude_body,
            geomid,
            dist,
            normal,
            n,
            mujoco.mjMAXVAL,
        )
    else:  # pragma: no cover - mujoco without mj_multiRay
        gid, nrm = np.zeros(1, dtype=np.int32), np.zeros(3)
        for r in range(n):
            dist[r] = mujoco.mj_ray(model, data, origin, vec[r], None, 1, exclude_body, gid, nrm)
            geomid[r], normal[3 * r : 3 * r + 3] = gid[0], nrm
    return geomid, dist, normal.reshape(n, 3)


def cast_scan(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    origin: np.ndarray,
    spec: LidarSpec,
    rng: np.random.Generator,
    yaw: float = 0.0,
    exclude_body: int = -1,
) -> np.ndarray:
    """One LiDAR sweep from world point ``origin`` [3] with the sensor turned by ``yaw`` (radians).

    ``data`` must hold current geom poses (after ``mj_kinematics`` / ``mj_forward``); static geoms are
    included and the geoms of body ``exclude_body`` ignored (−1: none).  Returns f32 [N, 4] =
    (x, y, z, intensity) in the sensor frame (z relative to the sensor, ground at −origin[2]).
    The random draws (noise and dropout of every ray) do not depend on the scene.
    """
    dirs = _directions(spec)
    c, s = math.cos(yaw), math.sin(yaw)
    world = dirs @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # rows: R_z(yaw) @ d
    geomid, dist, normal = _cast(model, data, np.asarray(origin, dtype=np.float64), world, exclude_body)
    noise = rng.normal(0.0, spec.range_noise, len(dirs)) if spec.range_noise > 0 else np.zeros(len(dirs))
    lost = rng.random(len(dirs)) < spec.dropout
    keep = (geomid >= 0) & (dist >= 0) & (dist <= spec.max_range) & ~lost
    r = np.maximum(dist[keep] + noise[keep], 0.0)
    cos_incidence = np.abs(np.einsum("ij,ij->i", normal[keep], world[keep]))
    intensity = cos_incidence * np.exp(-3.0 * r / spec.max_range)
    return np.concatenate([dirs[keep] * r[:, None], intensity[:, None]], axis=1).astype(np.float32)


# ---------------------------------------------------------------------------------------- scenes
@dataclasses.dataclass(frozen=True)
class SceneSpec:
    """Procedural street-like scenes around a sensor at the origin."""

    min_objects: int = 3  # cars / pedestrians / cyclists
    max_objects: int = 15
    class_probs: tuple[float, float, float] = (0.5, 0.3, 0.2)  # car, pedestrian, cyclist
    extent: float = 15.0  # object centres are uniform in [-extent, extent]^2
    clearance: float = 2.0  # min distance from the sensor (origin) to any object footprint
    max_walls: int = 3  # 0..max_walls walls (4–15 m long, 0.3 m thick, 1.5–3.5 m high)
    max_poles: int = 4  # 0..max_poles poles (cylinders r = 0.15 m, 3–5 m high)
    size_jitter: float = 0.1  # object sizes are scaled by U(1 − jitter, 1 + jitter) per axis

    def __post_init__(self) -> None:
        _check_positive(self, ("extent",))
        if not 0 <= self.min_objects <= self.max_objects:
            raise ValueError(f"SceneSpec needs 0 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        if self.max_walls < 0 or self.max_poles < 0 or self.clearance < 0 or not 0 <= self.size_jitter < 1:
            raise ValueError("SceneSpec: max_walls, max_poles, clearance must be >= 0 and size_jitter in [0, 1)")
        if len(self.class_probs) != 3 or min(self.class_probs) < 0 or sum(self.class_probs) <= 0:
            raise ValueError(f"SceneSpec.class_probs must be 3 non-negative weights, got {self.class_probs}")

    @property
    def max_total(self) -> int:
        return self.max_objects + self.max_walls + self.max_poles


# Full extents (length along the heading, width, height) in metres, as in the benchmark proposal.
_SIZES = {1: (4.0, 1.8, 1.5), 2: (0.6, 0.6, 1.7), 3: (1.8, 0.6, 1.7)}
_POLE_RADIUS = 0.15


def _corners(cx: float, cy: float, length: float, width: float, yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    u = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [0.5 * length, 0.5 * width]
    return np.stack([cx + c * u[:, 0] - s * u[:, 1], cy + s * u[:, 0] + c * u[:, 1]], axis=1)


def _separated(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    """Separating-axis test for two convex quads (corners [4, 2]) at least ``margin`` apart along some edge normal."""
    for quad in (a, b):
        for k in range(4):
            edge = quad[(k + 1) % 4] - quad[k]
            axis = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) + 1e-12)
            pa, pb = a @ axis, b @ axis
            if pa.max() + margin <= pb.min() or pb.max() + margin <= pa.min():
                return True
    return False


def _origin_distance(cx: float, cy: float, length: float, width: float, yaw: float) -> float:
    """Distance from the origin to a rotated rectangle (0 inside)."""
    c, s = math.cos(yaw), math.sin(yaw)
    u, v = -(c * cx + s * cy), -(-s * cx + c * cy)  # the origin in the box frame
    du, dv = max(abs(u) - 0.5 * length, 0.0), max(abs(v) - 0.5 * width, 0.0)
    return math.hypot(du, dv)


def make_scene(rng: np.random.Generator, spec: SceneSpec = SceneSpec()) -> tuple[str, list[dict]]:
    """A random scene: (MJCF xml, objects).  Each object is a dict with ``class_id`` (index into
    :data:`CLASSES`), ``shape`` ("box" / "cylinder"), ``center`` (x, y, z), ``size`` (length, width,
    height: full extents; a pole's footprint is its 2r × 2r square) and ``yaw`` (radians, about +z).
    Walls, then poles, then road users are placed by rejection sampling: no footprint overlaps another
    (0.3 m gap) or comes within ``spec.clearance`` of the origin; an object that finds no room is skipped."""
    placed: list[dict] = []
    quads: list[np.ndarray] = []

    def place(class_id: int, shape: str, size: tuple[float, float, float], extent: float) -> None:
        length, width, height = size
        for _ in range(30):
            cx, cy = rng.uniform(-extent, extent, 2)
            yaw = float(rng.uniform(-np.pi, np.pi)) if shape == "box" else 0.0
            if _origin_distance(cx, cy, length, width, yaw) < spec.clearance:
                continue
            quad = _corners(cx, cy, length, width, yaw)
            if all(_separated(quad, q, 0.3) for q in quads):
                quads.append(quad)
                placed.append(
                    dict(
                        class_id=class_id,
                        shape=shape,
                        center=(float(cx), float(cy), 0.5 * height),
                        size=(float(length), float(width), float(height)),
                        yaw=yaw,
                    )
                )
                return

    for _ in range(int(rng.integers(0, spec.max_walls + 1))):
        place(4, "box", (float(rng.uniform(4.0, 15.0)), 0.3, float(rng.uniform(1.5, 3.5))), spec.extent)
    for _ in range(int(rng.integers(0, spec.max_poles + 1))):
        place(4, "cylinder", (2 * _POLE_RADIUS, 2 * _POLE_RADIUS, float(rng.uniform(3.0, 5.0))), spec.extent)
    probs = np.asarray(spec.class_probs, dtype=np.float64)
    for _ in range(int(rng.integers(spec.min_objects, spec.max_objects + 1))):
        class_id = 1 + int(rng.choice(3, p=probs / probs.sum()))
        jitter = rng.uniform(1.0 - spec.size_jitter, 1.0 + spec.size_jitter, 3)
        place(class_id, "box", tuple(float(v) for v in np.asarray(_SIZES[class_id]) * jitter), spec.extent)
    return _scene_xml(placed), placed


def _scene_xml(objects: list[dict]) -> str:
    geoms = ['<geom name="ground" type="plane" size="0 0 1"/>']
    for k, obj in enumerate(objects):
        (x, y, z), (length, width, height), yaw = obj["center"], obj["size"], obj["yaw"]
        if obj["shape"] == "cylinder":
            geoms.append(
                f'<geom name="o{k}" type="cylinder" size="{0.5 * length:.6g} {0.5 * height:.6g}" pos="{x:.6g} {y:.6g} {z:.6g}"/>'
            )
        else:
            geoms.append(
                f'<geom name="o{k}" type="box" size="{0.5 * length:.6g} {0.5 * width:.6g} {0.5 * height:.6g}" '
                f'pos="{x:.6g} {y:.6g} {z:.6g}" quat="{math.cos(yaw / 2):.9g} 0 0 {math.sin(yaw / 2):.9g}"/>'
            )
    return '<mujoco model="lidar_scene"><worldbody>' + "".join(geoms) + "</worldbody></mujoco>"


def scan_scene(xml: str, spec: LidarSpec, rng: np.random.Generator) -> np.ndarray:
    """Compile a :func:`make_scene` xml and scan it from (0, 0, sensor_height) with yaw 0 (points [N, 4])."""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return cast_scan(model, data, np.array([0.0, 0.0, spec.sensor_height]), spec, rng)


# ---------------------------------------------------------------------------------------- BEV
def _binned(points: np.ndarray | torch.Tensor, grid: BEVGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cell index, z bin, z, intensity) of the points inside the grid."""
    p = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    p = p.reshape(-1, p.shape[-1]).astype(np.float64)
    intensity = p[:, 3] if p.shape[1] > 3 else np.zeros(len(p))
    col = np.floor((p[:, 0] - grid.x_min) / grid.cell_size)
    row = np.floor((p[:, 1] - grid.y_min) / grid.cell_size)
    zbin = np.floor((p[:, 2] - grid.z_min) / (grid.z_max - grid.z_min) * grid.z_bins)
    keep = (
        (col >= 0)
        & (col < grid.cols)
        & (row >= 0)
        & (row < grid.rows)
        & (p[:, 2] >= grid.z_min)
        & (p[:, 2] < grid.z_max)
        & np.isfinite(intensity)
    )
    cell = (row[keep] * grid.cols + col[keep]).astype(np.int64)
    return cell, np.clip(zbin[keep], 0, grid.z_bins - 1).astype(np.int64), p[keep, 2], intensity[keep]


def bev_counts(points: np.ndarray | torch.Tensor, grid: BEVGrid) -> torch.Tensor:
    """Number of points per cell, i64 [rows, cols] (points outside the grid's x/y/z range are dropped)."""
    cell = _binned(points, grid)[0]
    return torch.from_numpy(np.bincount(cell, minlength=grid.rows * grid.cols).reshape(grid.shape))


def bev_features(points: np.ndarray | torch.Tensor, grid: BEVGrid = BEVGrid()) -> torch.Tensor:
    """Pillar features f32 [C, rows, cols] of points [N, ≥3] (x, y, z[, intensity]) in the sensor frame.

    Channels (:attr:`BEVGrid.channels`; :data:`BEV_CHANNELS` for the default grid), all 0 in empty cells:
    0 ``log_count`` = log1p(points in the cell), so a cell is non-empty iff channel 0 > 0;
    1..z_bins ``z_frac{k}`` = fraction of the cell's points in height bin k (they sum to 1);
    ``max_height`` / ``mean_height`` = (z − z_min) / (z_max − z_min) ∈ [0, 1] of the cell's points;
    ``mean_intensity`` (intensities are in [0, 1]).
    """
    return torch.from_numpy(_bev_features(points, grid))


def _bev_features(points: np.ndarray | torch.Tensor, grid: BEVGrid) -> np.ndarray:
    cell, zbin, z, intensity = _binned(points, grid)
    ncell = grid.rows * grid.cols
    count = np.bincount(cell, minlength=ncell).astype(np.float64)
    denom = np.maximum(count, 1.0)
    zfrac = np.bincount(cell * grid.z_bins + zbin, minlength=ncell * grid.z_bins).reshape(ncell, grid.z_bins)
    height = (z - grid.z_min) / (grid.z_max - grid.z_min)
    max_height = np.zeros(ncell)
    np.maximum.at(max_height, cell, height)  # heights are >= 0, so 0 is a neutral start
    out = np.concatenate(
        [
            np.log1p(count)[None],
            (zfrac / denom[:, None]).T,
            max_height[None],
            (np.bincount(cell, weights=height, minlength=ncell) / denom)[None],
            (np.bincount(cell, weights=intensity, minlength=ncell) / denom)[None],
        ]
    )
    return out.reshape(grid.num_channels, *grid.shape).astype(np.float32)


def bev_labels(objects: Sequence[Mapping], grid: BEVGrid = BEVGrid(), sigma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """BEV targets for objects given in the sensor frame's x/y (as :func:`make_scene` returns them).

    Returns ``segmentation`` i64 [rows, cols]: the class of the object whose (rotated) footprint covers
    the cell centre, 0 elsewhere; and ``heatmap`` f32 [3, rows, cols]: per detection class (car,
    pedestrian, cyclist) a CenterNet Gaussian exp(−d²/2σ²) (d in cells) around the cell holding each
    object's centre, peak exactly 1, overlaps merged by max (Zhou et al. 2019; CenterPoint).
    """
    seg, heat = _bev_labels(objects, grid, sigma)
    return torch.from_numpy(seg), torch.from_numpy(heat)


def _bev_labels(objects: Sequence[Mapping], grid: BEVGrid, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    xx, yy = grid.cell_centres()
    seg = np.zeros(grid.shape, dtype=np.int64)
    heat = np.zeros((len(DETECTION_CLASSES), *grid.shape), dtype=np.float32)
    rows, cols = np.arange(grid.rows)[:, None], np.arange(grid.cols)[None, :]
    for obj in objects:
        class_id = int(obj["class_id"])
        (cx, cy), (length, width), yaw = obj["center"][:2], obj["size"][:2], float(obj["yaw"])
        c, s = math.cos(yaw), math.sin(yaw)
        u, v = c * (xx - cx) + s * (yy - cy), -s * (xx - cx) + c * (yy - cy)  # cell centres in the box frame
        seg[(np.abs(u) <= 0.5 * length) & (np.abs(v) <= 0.5 * width)] = class_id
        if class_id in DETECTION_CLASSES:
            j, i = math.floor((cx - grid.x_min) / grid.cell_size), math.floor((cy - grid.y_min) / grid.cell_size)
            if 0 <= i < grid.rows and 0 <= j < grid.cols:
                k = DETECTION_CLASSES.index(class_id)
                gauss = np.exp(-((rows - i) ** 2 + (cols - j) ** 2) / (2.0 * sigma**2))
                np.maximum(heat[k], gauss, out=heat[k])
    return seg, heat


# ---------------------------------------------------------------------------------------- dataset
def _scene_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def generate_lidar_scenes(
    n: int,
    *,
    seed: int = 0,
    lidar: LidarSpec = LidarSpec(),
    grid: BEVGrid = BEVGrid(),
    scene: SceneSpec = SceneSpec(),
    sigma: float = 1.0,
    progress: bool = True,
) -> TensorDict:
    """``n`` scenes (scene i depends only on (seed, i)) as a TensorDict [n] in storage dtypes:
    ``bev`` f16 [n, C, rows, cols], ``segmentation`` u8 [n, rows, cols], ``heatmap`` f16 [n, 3, rows, cols],
    ``boxes`` f32 [n, M, 8] = (class_id, x, y, z, length, width, height, yaw) of the scene's objects
    (rows past ``num_objects`` are 0), ``num_objects`` i64 [n], ``num_points`` i64 [n] (in the grid)."""
    m = scene.max_total
    # numpy in the loop: tiny torch ops are slow when the CPU is shared (thread-pool wake-ups)
    bev = np.empty((n, grid.num_channels, *grid.shape), dtype=np.float16)
    seg = np.empty((n, *grid.shape), dtype=np.uint8)
    heat = np.empty((n, len(DETECTION_CLASSES), *grid.shape), dtype=np.float16)
    boxes = np.zeros((n, m, 8), dtype=np.float32)
    num_objects = np.empty(n, dtype=np.int64)
    num_points = np.empty(n, dtype=np.int64)
    for i in tqdm(range(n), desc="lidar scenes", unit="scene", disable=not progress):
        rng = _scene_rng(seed, i)
        xml, objects = make_scene(rng, scene)
        points = scan_scene(xml, lidar, rng)
        bev[i] = _bev_features(points, grid)
        seg[i], heat[i] = _bev_labels(objects, grid, sigma)
        for k, o in enumerate(objects):
            boxes[i, k] = (o["class_id"], *o["center"], *o["size"], o["yaw"])
        num_objects[i] = len(objects)
        num_points[i] = len(_binned(points, grid)[0])
    out = dict(bev=bev, segmentation=seg, heatmap=heat, boxes=boxes, num_objects=num_objects, num_points=num_points)
    return TensorDict({k: torch.from_numpy(v) for k, v in out.items()}, batch_size=[n])


def _spec_from(cls: type, cfg: Any, key: str) -> Any:
    """Build dataclass ``cls`` from the mapping ``cfg`` (None: defaults), naming unknown keys."""
    if cfg is None:
        return cls()
    if not (isinstance(cfg, Mapping) or hasattr(cfg, "items")):
        raise ValueError(f"data.{key} must be a mapping of {cls.__name__} fields, got {cfg!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    items = dict(cfg.items())
    unknown = sorted(set(items) - set(fields))
    if unknown:
        raise ValueError(f"unknown data.{key} keys {unknown}; allowed: {', '.join(fields)}")
    kwargs = {}
    for name, value in items.items():
        default = fields[name].default
        try:
            kwargs[name] = tuple(float(v) for v in value) if isinstance(default, tuple) else type(default)(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"data.{key}.{name} must be a {type(default).__name__}, got {value!r}") from err
    return cls(**kwargs)


def _params(data_cfg: Any) -> dict[str, Any]:
    scenes = int(cfg_get(data_cfg, "scenes", 3000))
    if scenes < 1:
        raise ValueError(f"data.scenes must be >= 1, got {scenes}")
    sigma = float(cfg_get(data_cfg, "sigma", 1.0))
    if not sigma > 0:
        raise ValueError(f"data.sigma (heatmap Gaussian σ in cells) must be > 0, got {sigma}")
    lidar = _spec_from(LidarSpec, cfg_get(data_cfg, "lidar"), "lidar")
    grid = _spec_from(BEVGrid, cfg_get(data_cfg, "grid"), "grid")
    scene = _spec_from(SceneSpec, cfg_get(data_cfg, "scene"), "scene")
    return dict(
        scenes=scenes,
        seed=int(cfg_get(data_cfg, "seed", 0)),
        sigma=sigma,
        lidar=dataclasses.asdict(lidar),
        grid=dataclasses.asdict(grid),
        scene=dataclasses.asdict(scene),
        version=LIDAR_VERSION,
    )


def _split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"data.{name} must be in [0, 1), got {f}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"data.val_fraction + data.test_fraction must be < 1, got {val_fraction} + {test_fraction}")
    n_val, n_test = int(round(val_fraction * n)), int(round(test_fraction * n))
    if n - n_val - n_test < 1:
        raise ValueError(f"data.scenes={n} leaves no training scene with val/test fractions {val_fraction}/{test_fraction}")
    return n - n_val - n_test, n_val, n_test


def _as_training(td: TensorDict) -> TensorDict:
    return TensorDict(
        dict(
            bev=td["bev"].to(torch.float32),
            segmentation=td["segmentation"].to(torch.int64),
            heatmap=td["heatmap"].to(torch.float32),
            boxes=td["boxes"].clone(),
            num_objects=td["num_objects"].clone(),
            num_points=td["num_points"].clone(),
        ),
        batch_size=td.batch_size,
    )


def make_lidar_scenes(data_cfg: Mapping | Any) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """``(train, val, test, info)`` of synthetic LiDAR BEV scenes for the ``data`` config.

    Keys of ``data_cfg`` (all optional): ``scenes`` (3000), ``seed`` (0), ``val_fraction`` / ``test_fraction``
    (0.1 each), ``cache_dir`` ("~/.cache/jepa_rl"; data in ``<cache_dir>/lidar/<hash>/``), ``sigma``
    (heatmap σ in cells, 1), ``progress`` (True), and mappings ``lidar`` / ``grid`` / ``scene`` of
    :class:`LidarSpec` / :class:`BEVGrid` / :class:`SceneSpec` fields.  The splits are by scene: the first
    scenes train, then val, the last ones test.  Each split is an in-memory TensorDict [n] with ``bev`` f32
    [n, C, rows, cols] (:data:`BEV_CHANNELS`), ``segmentation`` i64 [n, rows, cols] (:data:`CLASSES`),
    ``heatmap`` f32 [n, 3, rows, cols], ``boxes`` f32 [n, M, 8], ``num_objects`` / ``num_points`` i64 [n]
    (see :func:`generate_lidar_scenes`).  The same config gives bit-identical data.
    """
    params = _params(data_cfg)
    n_train, n_val, n_test = _split_sizes(
        params["scenes"], float(cfg_get(data_cfg, "val_fraction", 0.1)), float(cfg_get(data_cfg, "test_fraction", 0.1))
    )
    cache_dir = Path(str(cfg_get(data_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
    out_dir = cache_dir / "lidar" / params_digest(params)
    t0 = time.perf_counter()
    data, cached = cached_tensordict(
        out_dir,
        lambda: generate_lidar_scenes(
            params["scenes"],
            seed=params["seed"],
            lidar=LidarSpec(**params["lidar"]),
            grid=BEVGrid(**params["grid"]),
            scene=SceneSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in params["scene"].items()}),
            sigma=params["sigma"],
            progress=bool(cfg_get(data_cfg, "progress", True)),
        ),
        marker=_MARKER,
        describe=params,
    )
    train = _as_training(data[:n_train])
    val = _as_training(data[n_train : n_train + n_val])
    test = _as_training(data[n_train + n_val :])
    grid = BEVGrid(**params["grid"])
    info = dict(
        scenes=params["scenes"],
        train_scenes=n_train,
        val_scenes=n_val,
        test_scenes=n_test,
        channels=grid.channels,
        classes=list(CLASSES),
        detection_classes=[CLASSES[c] for c in DETECTION_CLASSES],
        lidar=params["lidar"],
        grid=params["grid"],
        scene=params["scene"],
        cached=cached,
        cache_dir=str(out_dir),
        seconds=time.perf_counter() - t0,
    )
    log.info(
        "lidar scenes (%s in %.1fs): %d scenes, BEV %s; train %d / val %d / test %d",
        "cached" if cached else "generated",
        info["seconds"],
        params["scenes"],
        (grid.num_channels, *grid.shape),
        n_train,
        n_val,
        n_test,
    )
    return train, val, test, info


# ---------------------------------------------------------------------------------------- mazes
def _body_of_qpos(model: mujoco.MjModel, qpos_adr: int) -> int:
    joints = np.nonzero(model.jnt_qposadr == qpos_adr)[0]
    return int(model.jnt_bodyid[joints[0]]) if len(joints) else -1


def maze_lidar_bev(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    positions: np.ndarray,
    spec: LidarSpec = MAZE_LIDAR,
    grid: BEVGrid = MAZE_GRID,
    rng: np.random.Generator | None = None,
    exclude_body: int | None = None,
    *,
    qpos_adr: int = 0,
) -> torch.Tensor:
    """BEV features f32 [N, C, rows, cols] of LiDAR scans taken with the agent at each xy of ``positions`` [N, 2].

    For each position, ``data.qpos[qpos_adr: qpos_adr + 2]`` is set to it (OGBench's point and ant agents:
    qpos[:2] is xy), ``mj_kinematics`` places the bodies, and a yaw-0 (world-aligned) scan is cast from
    (x, y, spec.sensor_height), ignoring body ``exclude_body`` (None: the body of the joint at ``qpos_adr``,
    the agent).  ``data``'s qpos and derived quantities are restored afterwards.  ``rng``: noise and
    dropout (None: ``default_rng(0)``).
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    rng = np.random.default_rng(0) if rng is None else rng
    exclude = _body_of_qpos(model, qpos_adr) if exclude_body is None else int(exclude_body)
    saved = data.qpos.copy()
    out = np.empty((len(positions), grid.num_channels, *grid.shape), dtype=np.float32)
    try:
        for k, xy in enumerate(positions):
            data.qpos[qpos_adr : qpos_adr + 2] = xy
            mujoco.mj_kinematics(model, data)
            points = cast_scan(model, data, np.array([xy[0], xy[1], spec.sensor_height]), spec, rng, exclude_body=exclude)
            out[k] = _bev_features(points, grid)
    finally:
        data.qpos[:] = saved
        mujoco.mj_forward(model, data)
    return torch.from_numpy(out)
