"""A small 3DIEBench-like dataset rendered locally with MuJoCo (seq-JEPA pretraining, arXiv 2505.03176).

Objects of a few classes (:data:`CLASSES`), each a fixed composition of MuJoCo primitives with
per-part colours, are seen under random 3-D orientations by one fixed camera.  The "action" between
two views of an instance is the relative rotation :func:`relative_rotation` (and, with
``color_actions``, the change of a per-view colour tint of the whole object).

* Instances: each draws ``instance_params`` = [base hue, 8 dimension factors in [0.85, 1.15]] from
  ``(seed, class, index)``: the class's part sizes (and the positions that depend on them) are scaled
  by these factors, and the part colours are fixed hue offsets / saturations / values around the hue.
* Scene: one MuJoCo model holds every class as a mocap body at the origin (geoms edited in place for
  each instance; the other classes' bodies are moved out of sight), a camera at distance ~2.1 looking
  at the origin slightly from above, a headlight plus a directional light, a flat grey background.
* Quaternions are (w, x, y, z), Hamilton product, *active* rotations, MuJoCo's body convention: an
  orientation ``q`` maps object-frame coordinates to world coordinates, ``x_world = R(q) x_obj``.
  ``relative_rotation(q1, q2) = q1⁻¹ ⊗ q2`` is the ``r`` with ``q2 = q1 ⊗ r``: the rotation from view 1
  to view 2 expressed in the *object frame of view 1* (apply ``r`` to the object in its own frame, then
  ``q1``).  Returned quaternions are canonical (w ≥ 0; ``q`` and ``-q`` are the same rotation).
* ``color`` (with ``color_actions``) is an RGB tint in [0.4, 1]^3 per view that multiplies every part's
  colour (a coloured light on the object only); the colour action between views is the difference.

Cache (``<cache_dir>/views3d/<hash>/``, :func:`load_views3d`): ``data/`` a memory-mapped TensorDict,
``views3d.json`` the generation parameters (the marker), keyed by the generation parameters and
:data:`VIEWS3D_VERSION`; splits are by instance and computed at load time.
"""

from __future__ import annotations

import colorsys
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import mujoco
import numpy as np
import torch
from tensordict import TensorDict
from tqdm import tqdm

from envs.buffer import cached_tensordict, params_digest
from envs.common import cfg_get
from envs.render import apply_cheap_render_settings, make_renderer

__all__ = [
    "CLASSES",
    "VIEWS3D_VERSION",
    "NUM_INSTANCE_PARAMS",
    "ViewRenderer",
    "instance_params",
    "euler_to_quat",
    "random_rotations",
    "quat_multiply",
    "quat_conjugate",
    "relative_rotation",
    "canonical_quat",
    "render_view",
    "generate_views3d",
    "split_by_instance",
    "load_views3d",
    "load_views3d_frames",
    "generate_part_maps",
    "PARTS",
    "PART_NAMES",
]

log = logging.getLogger(__name__)

VIEWS3D_VERSION = 1
PARTS_VERSION = 1  # part maps (generate_part_maps): bump when their labels change
_MARKER = "views3d.json"
_NUM_DIMS = 8  # dimension factors per instance (each class uses the first few)
NUM_INSTANCE_PARAMS = 1 + _NUM_DIMS  # [hue, factors...]
_SIZE_JITTER = 0.15  # factors are uniform in [1 - jitter, 1 + jitter]
_AWAY = np.array([0.0, -1000.0, 0.0])  # hidden classes: far behind the camera


# ---------------------------------------------------------------------------------------- quaternions
def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a ⊗ b`` of (w, x, y, z) quaternions, broadcast over leading dims.

    As rotations (active, see the module docstring): ``R(a ⊗ b) = R(a) R(b)``, i.e. ``b`` first.
    """
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quat_conjugate(q: torch.Tensor) -> torch.Tensor:
    """(w, -x, -y, -z): the inverse of a unit quaternion."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def canonical_quat(q: torch.Tensor) -> torch.Tensor:
    """``q`` or ``-q`` (the same rotation), whichever has w ≥ 0."""
    return torch.where(q[..., :1] < 0, -q, q)


def relative_rotation(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """``q1⁻¹ ⊗ q2`` (canonical, w ≥ 0): the ``r`` with ``q2 = ±q1 ⊗ r``, in view 1's object frame."""
    return canonical_quat(quat_multiply(quat_conjugate(q1), q2))


def euler_to_quat(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Intrinsic z-y-x (yaw, pitch, roll) angles → (w, x, y, z): ``q = q_z(yaw) ⊗ q_y(pitch) ⊗ q_x(roll)``."""

    def axis(angle: torch.Tensor, i: int) -> torch.Tensor:
        q = torch.zeros(*angle.shape, 4, dtype=angle.dtype)
        q[..., 0], q[..., i] = torch.cos(angle / 2), torch.sin(angle / 2)
        return q

    return quat_multiply(quat_multiply(axis(yaw, 3), axis(pitch, 2)), axis(roll, 1))


def random_rotations(n: int, generator: torch.Generator | None = None, max_angle: float | None = None) -> torch.Tensor:
    """[n, 4] float32 unit quaternions, w ≥ 0.

    ``max_angle=None``: uniform over SO(3) (normalised 4-D Gaussians).  Otherwise yaw, pitch and roll
    are each uniform in [−max_angle, max_angle], as 3DIEBench draws them with max_angle = π/2 (its
    latents are [yaw, pitch, roll, …]; the OOD split of seq-JEPA uses the rest of [−π, π])."""
    if max_angle is None:
        q = torch.randn(int(n), 4, generator=generator, dtype=torch.float64)
    else:
        angles = (2 * torch.rand(int(n), 3, generator=generator, dtype=torch.float64) - 1) * float(max_angle)
        q = euler_to_quat(angles[:, 0], angles[:, 1], angles[:, 2])
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return canonical_quat(q).to(torch.float32)


# ---------------------------------------------------------------------------------------- objects
class _Part(NamedTuple):
    kind: str  # MJCF geom type: box / capsule / cylinder / ellipsoid / sphere
    size: tuple[float, ...]  # MJCF size (half sizes; capsule/cylinder: radius, half length)
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float]  # (w, x, y, z), local z is the capsule/cylinder axis
    role: int  # colour role (see _ROLES)


_IDENTITY = (1.0, 0.0, 0.0, 0.0)

# Colour roles: (hue offset from the instance's base hue, saturation, value).
_ROLES = (
    (0.00, 0.75, 0.90),  # 0 primary
    (0.50, 0.65, 0.80),  # 1 complementary
    (0.25, 0.85, 0.95),  # 2 accent
    (0.00, 0.30, 0.28),  # 3 dark
    (0.10, 0.15, 0.95),  # 4 light
    (0.75, 0.70, 0.85),  # 5 second accent
)


def _box(half, pos, role, quat=_IDENTITY) -> _Part:
    return _Part("box", tuple(float(h) for h in half), tuple(float(p) for p in pos), tuple(quat), role)


def _sphere(radius, pos, role) -> _Part:
    return _Part("sphere", (float(radius),), tuple(float(p) for p in pos), _IDENTITY, role)


def _ellipsoid(radii, pos, role) -> _Part:
    return _Part("ellipsoid", tuple(float(r) for r in radii), tuple(float(p) for p in pos), _IDENTITY, role)


def _z_to(direction: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (w, x, y, z) rotating +z onto ``direction`` (shortest arc)."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    c = float(np.dot(z, d))
    if c < -1.0 + 1e-9:
        return (0.0, 1.0, 0.0, 0.0)
    axis = np.cross(z, d)
    q = np.array([1.0 + c, *axis])
    q = q / np.linalg.norm(q)
    return tuple(float(v) for v in q)


def _segment(kind: str, p0, p1, radius: float, role: int) -> _Part:
    """A capsule/cylinder whose axis runs from ``p0`` to ``p1`` (cylinder: flat ends at p0/p1)."""
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    half = float(np.linalg.norm(p1 - p0)) / 2
    return _Part(kind, (float(radius), half), tuple(float(v) for v in (p0 + p1) / 2), _z_to(p1 - p0), role)


def _l_shape(f: np.ndarray) -> list[_Part]:
    h, a, t = 0.36 * f[0], 0.20 * f[1], 0.07 * f[2]  # half height, half foot length, half thickness
    dx = -a / 2  # roughly centre the shape
    return [
        _box((t, t, h), (dx, 0, 0), 0),  # upright
        _box((a, t, t), (dx + a + t, 0, -h + t), 1),  # foot toward +x
        _sphere(1.25 * t * f[3], (dx, 0, h), 2),  # cap on the upright
    ]


def _t_shape(f: np.ndarray) -> list[_Part]:
    h, w, t = 0.30 * f[0], 0.28 * f[1], 0.065 * f[2]  # stem half height, bar half width, thickness
    top = h + t
    return [
        _box((t, t, h), (0, 0, -t), 0),  # stem
        _box((w, 1.2 * t, t), (0, 0, top), 1),  # cross bar
        _sphere(1.6 * t * f[3], (w, 0, top), 2),  # knob on the +x end (breaks the 180° symmetry)
    ]


def _chair(f: np.ndarray) -> list[_Part]:
    sw, sd, st = 0.22 * f[0], 0.20 * f[1], 0.03 * f[2]  # seat half width / depth / thickness
    bh, lh, lr = 0.20 * f[3], 0.17 * f[4], 0.025 * f[5]  # back half height, leg half length, leg radius
    z0 = (lh - bh) / 2  # seat height so the chair is roughly centred
    parts = [
        _box((sw, sd, st), (0, 0, z0), 0),  # seat
        _box((sw, st, bh), (0, sd - st, z0 + st + bh), 1),  # back rest at +y
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (sw - lr), sy * (sd - lr)
            parts.append(_segment("cylinder", (x, y, z0 - st), (x, y, z0 - st - 2 * lh), lr, 3))
    return parts


def _mug(f: np.ndarray) -> list[_Part]:
    r, h, t = 0.17 * f[0], 0.21 * f[1], 0.03 * f[2]  # body radius, half height, handle thickness
    reach = 0.09 * f[3]  # how far the handle sticks out
    za = 0.6 * h
    return [
        _segment("cylinder", (0, 0, -h), (0, 0, h), r, 0),  # body
        _segment("cylinder", (0, 0, h), (0, 0, h + 0.012), 0.85 * r, 3),  # coffee on top
        _box((reach / 2 + t / 2, t, t), (r + reach / 2 - t / 2, 0, za), 1),  # upper handle arm
        _box((reach / 2 + t / 2, t, t), (r + reach / 2 - t / 2, 0, -za), 1),  # lower handle arm
        _box((t, t, za + t), (r + reach, 0, 0), 1),  # grip
    ]


def _hammer(f: np.ndarray) -> list[_Part]:
    L, r = 0.36 * f[0], 0.032 * f[1]  # handle half length, radius
    hw, ht = 0.19 * f[2], 0.055 * f[3]  # head half width, half thickness
    top = L + ht
    return [
        _segment("cylinder", (0, 0, -L), (0, 0, L), r, 4),  # handle
        _segment("capsule", (0, 0, -L), (0, 0, -0.35 * L), 1.35 * r, 0),  # grip at the bottom
        _box((hw, ht, ht), (0, 0, top), 3),  # head
        _segment("cylinder", (hw, 0, top), (hw + 0.05 * f[4], 0, top), 1.25 * ht, 2),  # striking face at +x
    ]


def _table(f: np.ndarray) -> list[_Part]:
    tw, td, tt = 0.36 * f[0], 0.23 * f[1], 0.03 * f[2]  # top half width / depth / thickness
    lh, lr = 0.19 * f[3], 0.03 * f[4]  # leg half length, leg radius
    z0 = lh
    parts = [_box((tw, td, tt), (0, 0, z0 / 2 + tt), 0)]
    ztop = z0 / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (tw - 1.5 * lr), sy * (td - 1.5 * lr)
            parts.append(_segment("cylinder", (x, y, ztop), (x, y, ztop - 2 * lh), lr, 1))
    # a drawer under the top on the -y side, off-centre in x (breaks the table's symmetries)
    dw, dh = 0.12 * f[5], 0.045
    parts.append(_box((dw, 0.6 * td, dh), (0.35 * tw, -0.35 * td, ztop - dh), 2))
    return parts


def _plane(f: np.ndarray) -> list[_Part]:
    L, r = 0.30 * f[0], 0.065 * f[1]  # fuselage half length, radius
    span, chord = 0.40 * f[2], 0.09 * f[3]  # wing half span, half chord
    fin = 0.10 * f[4]  # tail fin half height
    return [
        _segment("capsule", (-L, 0, 0), (L, 0, 0), r, 0),  # fuselage along x, nose at +x
        _box((chord, span, 0.014), (0.05 * L, 0, -0.3 * r), 1),  # wings
        _box((0.06, 0.012, fin), (-L, 0, r + fin * 0.8), 2),  # vertical fin (up)
        _box((0.05, 0.35 * span, 0.012), (-L, 0, 0.2 * r), 1),  # horizontal stabiliser
        _ellipsoid((0.10, 0.045, 0.045), (0.55 * L, 0, 0.8 * r), 4),  # cockpit
    ]


def _lamp(f: np.ndarray) -> list[_Part]:
    br, ph = 0.15 * f[0], 0.26 * f[1]  # base radius, pole half height
    al, shr = 0.26 * f[2], 0.09 * f[3]  # arm length, shade radius
    ang = math.radians(50.0 * f[4])  # arm's angle from vertical, toward +x
    zb = -0.36
    base_top = zb + 0.05
    pole_top = base_top + 2 * ph
    arm_end = np.array([al * math.sin(ang), 0.0, pole_top + al * math.cos(ang)])
    down = np.array([0.25, 0.0, -1.0])  # the shade points down and a bit outward
    down /= np.linalg.norm(down)
    return [
        _segment("cylinder", (0, 0, zb), (0, 0, base_top), br, 3),  # base
        _segment("capsule", (0, 0, base_top), (0, 0, pole_top), 0.022, 4),  # pole
        _segment("capsule", (0, 0, pole_top), arm_end, 0.02, 4),  # arm
        _segment("cylinder", arm_end - 0.02 * down, arm_end + 0.10 * down, shr, 0),  # shade
        _sphere(0.045, arm_end + 0.12 * down, 2),  # bulb
    ]


_BUILDERS: dict[str, Callable[[np.ndarray], list[_Part]]] = {
    "l_shape": _l_shape,
    "t_shape": _t_shape,
    "chair": _chair,
    "mug": _mug,
    "hammer": _hammer,
    "table": _table,
    "plane": _plane,
    "lamp": _lamp,
}
#: Object class names; a dataset's ``label`` indexes the classes it was generated with (all by default).
CLASSES: tuple[str, ...] = tuple(_BUILDERS)


def _part_roles(name: str) -> list[int]:
    """The colour role of each part of class ``name``, in its geoms' order (the same for every instance)."""
    return [part.role for part in _BUILDERS[name](np.ones(_NUM_DIMS))]


#: Semantic parts: the parts of a class that share a colour role are one part (a chair's four legs, a mug's
#: handle arms and grip). Part maps hold 0 for the background and 1 + the index here for a part.
PARTS: tuple[tuple[str, int], ...] = tuple((name, role) for name in CLASSES for role in sorted(set(_part_roles(name))))
PART_NAMES: tuple[str, ...] = ("background", *(f"{name}/role{role}" for name, role in PARTS))


def _class_name(cls: int | str) -> str:
    if isinstance(cls, str):
        if cls not in _BUILDERS:
            raise ValueError(f"Unknown views3d class {cls!r}; valid classes: {list(CLASSES)}")
        return cls
    idx = int(cls)
    if not 0 <= idx < len(CLASSES):
        raise ValueError(f"views3d class index {idx} out of range [0, {len(CLASSES)})")
    return CLASSES[idx]


def _resolve_classes(classes: Sequence[int | str] | None) -> list[str]:
    names = list(CLASSES) if classes is None else [_class_name(c) for c in classes]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"views3d classes must be a non-empty list without repeats, got {classes!r}")
    return names


def _seed_seq(*keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(k) for k in keys])


def instance_params(cls: int | str, index: int, seed: int = 0) -> torch.Tensor:
    """f32 [NUM_INSTANCE_PARAMS] = [base hue in [0, 1), dimension factors in [0.85, 1.15]] of instance
    ``index`` of class ``cls`` (name or index into :data:`CLASSES`) for ``seed``."""
    rng = np.random.default_rng(_seed_seq(seed, CLASSES.index(_class_name(cls)), index, 0))
    hue = rng.random()
    factors = rng.uniform(1.0 - _SIZE_JITTER, 1.0 + _SIZE_JITTER, _NUM_DIMS)
    return torch.tensor([hue, *factors], dtype=torch.float32)


def _quat_matrix(q) -> np.ndarray:
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _half_extent(part: _Part) -> np.ndarray:
    """Half sizes of the part's axis-aligned bounding box (about ``part.pos``)."""
    rot = _quat_matrix(part.quat)
    s = np.asarray(part.size, dtype=np.float64)
    if part.kind == "sphere":
        return np.full(3, s[0])
    if part.kind in ("box", "ellipsoid"):  # ellipsoid: the box around it (exact for axis-aligned ones)
        return np.abs(rot) @ s
    axis = rot[:, 2]
    if part.kind == "capsule":
        return np.abs(axis) * s[1] + s[0]
    return np.abs(axis) * s[1] + s[0] * np.sqrt(np.clip(1 - axis**2, 0.0, 1.0))  # cylinder


def _bounding_radius(parts: list[_Part]) -> float:
    """Upper bound of the distance from the origin to the parts (centre distance + bounding-box half diagonal)."""
    return max(float(np.linalg.norm(p.pos) + np.linalg.norm(_half_extent(p))) for p in parts)


def _transform(parts: list[_Part], shift: np.ndarray, scale: float) -> list[_Part]:
    return [
        p._replace(size=tuple(scale * v for v in p.size), pos=tuple(float(v) for v in scale * (np.asarray(p.pos) - shift)))
        for p in parts
    ]


def _centred(parts: list[_Part]) -> list[_Part]:
    """The parts moved so their bounding box is centred on the origin (the rotation centre)."""
    pos = np.array([p.pos for p in parts])
    ext = np.array([_half_extent(p) for p in parts])
    return _transform(parts, ((pos - ext).min(0) + (pos + ext).max(0)) / 2, 1.0)


_CLASS_SCALE: dict[str, float] = {}
_NOMINAL_RADIUS = 0.55  # every class's nominal instance is scaled to this bounding radius


def _parts(name: str, params: np.ndarray) -> list[_Part]:
    """The parts of an instance: built from its dimension factors, centred, scaled by the class's scale."""
    if name not in _CLASS_SCALE:
        _CLASS_SCALE[name] = _NOMINAL_RADIUS / _bounding_radius(_centred(_BUILDERS[name](np.ones(_NUM_DIMS))))
    parts = _centred(_BUILDERS[name](np.asarray(params[1:], dtype=np.float64)))
    return _transform(parts, np.zeros(3), _CLASS_SCALE[name])


def _part_rgb(parts: list[_Part], hue: float) -> np.ndarray:
    rgb = np.empty((len(parts), 3), dtype=np.float64)
    for i, part in enumerate(parts):
        dh, s, v = _ROLES[part.role]
        rgb[i] = colorsys.hsv_to_rgb((hue + dh) % 1.0, s, v)
    return rgb


def _random_tints(n: int, generator: torch.Generator) -> torch.Tensor:
    """[n, 3] RGB tints in [0.4, 1]: random hue, saturation in [0, 0.6], value 1."""
    hs = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    out = [colorsys.hsv_to_rgb(float(h), 0.6 * float(s), 1.0) for h, s in hs]
    return torch.tensor(out, dtype=torch.float32)


# ---------------------------------------------------------------------------------------- scene
# sin(fovy / 2) * distance ≈ 0.66 ≥ the largest bounding radius (0.55 · 1.15 + slack): objects stay in view
_CAM_DIST, _CAM_HEIGHT, _FOVY = 2.0, 0.6, 37.0


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _scene_xml() -> str:
    p = np.array([0.0, -_CAM_DIST, _CAM_HEIGHT])
    z = p / np.linalg.norm(p)  # the camera looks along its -z, toward the origin
    x = np.array([1.0, 0.0, 0.0])
    y = np.cross(z, x)
    bodies = []
    for name in CLASSES:
        geoms = []
        for part in _parts(name, np.ones(NUM_INSTANCE_PARAMS)):
            size = _fmt(part.size)
            geoms.append(f'      <geom type="{part.kind}" size="{size}" pos="{_fmt(part.pos)}" quat="{_fmt(part.quat)}"/>')
        bodies.append(f'    <body name="{name}" mocap="true" pos="{_fmt(_AWAY)}">\n' + "\n".join(geoms) + "\n    </body>")
    return f"""<mujoco model="views3d">
  <statistic extent="1" center="0 0 0"/>
  <visual>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
    <quality offsamples="0"/>
  </visual>
  <asset>
    <texture name="bg" type="skybox" builtin="flat" rgb1="0.5 0.5 0.5" rgb2="0.5 0.5 0.5" width="8" height="8"/>
  </asset>
  <default>
    <geom contype="0" conaffinity="0" rgba="0.8 0.8 0.8 1"/>
  </default>
  <worldbody>
    <light name="key" directional="true" pos="1 -1 2" dir="-0.4 0.5 -0.8" diffuse="0.6 0.6 0.6" specular="0.1 0.1 0.1" castshadow="false"/>
    <camera name="cam" pos="{_fmt(p)}" xyaxes="{_fmt(x)} {_fmt(y)}" fovy="{_FOVY}"/>
{chr(10).join(bodies)}
  </worldbody>
</mujoco>
"""


class ViewRenderer:
    """Renders views of object instances: one MuJoCo model with every class, one GL context.

    ``set_instance(cls, params)`` writes an instance's part sizes, poses and colours into the model;
    ``render(quaternions, colors)`` returns uint8 [V, 3, S, S] frames of it at those orientations.
    """

    def __init__(self, image_size: int = 64):
        self.image_size = int(image_size)
        self.model = mujoco.MjModel.from_xml_string(_scene_xml())
        apply_cheap_render_settings(self.model)
        self.data = mujoco.MjData(self.model)
        self._geoms: dict[str, np.ndarray] = {}
        self._mocap: dict[str, int] = {}
        for name in CLASSES:
            body = self.model.body(name).id
            self._geoms[name] = np.flatnonzero(self.model.geom_bodyid == body)
            self._mocap[name] = int(self.model.body_mocapid[body])
        # geom id → 1 + its semantic part's index in PARTS (0: background, MuJoCo's -1 and the floor)
        self._part_of_geom = np.zeros(self.model.ngeom + 1, dtype=np.uint8)
        for name in CLASSES:
            self._part_of_geom[self._geoms[name]] = [1 + PARTS.index((name, role)) for role in _part_roles(name)]
        self._camera = self.model.camera("cam").id
        self._active: str | None = None
        self._rgb: np.ndarray | None = None
        self._renderer: mujoco.Renderer | None = make_renderer(self.model, self.image_size, self.image_size)
        self._frame = np.empty((self.image_size, self.image_size, 3), dtype=np.uint8)
        mujoco.mj_forward(self.model, self.data)

    def set_instance(self, cls: int | str, params: torch.Tensor | np.ndarray) -> None:
        """Show instance ``params`` (see :func:`instance_params`) of class ``cls`` (name or CLASSES index)."""
        name = _class_name(cls)
        params = np.asarray(params, dtype=np.float64).reshape(-1)
        if params.shape[0] != NUM_INSTANCE_PARAMS:
            raise ValueError(f"instance params must have {NUM_INSTANCE_PARAMS} values, got {params.shape[0]}")
        parts = _parts(name, params)
        m = self.model
        for gid, part in zip(self._geoms[name], parts, strict=True):
            m.geom_size[gid, : len(part.size)] = part.size
            m.geom_pos[gid] = part.pos
            m.geom_quat[gid] = part.quat
        self._rgb = _part_rgb(parts, float(params[0]))
        for other in CLASSES:
            self.data.mocap_pos[self._mocap[other]] = 0.0 if other == name else _AWAY
        self._active = name
        self._set_tint(None)

    def _set_tint(self, tint: np.ndarray | None) -> None:
        rgb = self._rgb if tint is None else self._rgb * np.asarray(tint, dtype=np.float64)[None]
        self.model.geom_rgba[self._geoms[self._active], :3] = np.clip(rgb, 0.0, 1.0)

    def render(self, quaternions: torch.Tensor | np.ndarray, colors: torch.Tensor | np.ndarray | None = None) -> np.ndarray:
        """uint8 [V, 3, S, S] frames at orientations ``quaternions`` [V, 4] (w, x, y, z), each optionally
        tinted by ``colors`` [V, 3] (RGB multiplying every part's colour)."""
        if self._active is None:
            raise RuntimeError("ViewRenderer.render: call set_instance first")
        if self._renderer is None:
            raise RuntimeError("ViewRenderer is closed")
        quats = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
        cols = None if colors is None else np.asarray(colors, dtype=np.float64).reshape(-1, 3)
        if cols is not None and cols.shape[0] != quats.shape[0]:
            raise ValueError(f"{quats.shape[0]} orientations but {cols.shape[0]} colours")
        s = self.image_size
        out = np.empty((quats.shape[0], 3, s, s), dtype=np.uint8)
        mocap = self._mocap[self._active]
        for v, q in enumerate(quats):
            self.data.mocap_quat[mocap] = q / np.linalg.norm(q)
            if cols is not None:
                self._set_tint(cols[v])
            mujoco.mj_kinematics(self.model, self.data)
            self._renderer.update_scene(self.data, camera=self._camera)
            self._renderer.render(out=self._frame)
            out[v] = self._frame.transpose(2, 0, 1)
        if cols is not None:
            self._set_tint(None)
        return out

    def render_parts(self, quaternions: torch.Tensor | np.ndarray) -> np.ndarray:
        """uint8 [V, S, S] part maps at orientations ``quaternions`` [V, 4]: each pixel's semantic part, 1 + its
        index in :data:`PARTS`, or 0 where no part is seen (the pixels of :meth:`render` at the same orientations)."""
        if self._active is None or self._renderer is None:
            raise RuntimeError("ViewRenderer.render_parts: call set_instance first, on an open renderer")
        quats = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
        out = np.empty((quats.shape[0], self.image_size, self.image_size), dtype=np.uint8)
        mocap = self._mocap[self._active]
        self._renderer.enable_segmentation_rendering()
        try:
            for v, q in enumerate(quats):
                self.data.mocap_quat[mocap] = q / np.linalg.norm(q)
                mujoco.mj_kinematics(self.model, self.data)
                self._renderer.update_scene(self.data, camera=self._camera)
                ids = self._renderer.render()[..., 0]  # geom id per pixel, -1 where nothing is hit
                out[v] = self._part_of_geom[ids]  # -1 indexes the trailing 0 (background)
        finally:
            self._renderer.disable_segmentation_rendering()
        return out

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> ViewRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_view(
    cls: int | str,
    params: torch.Tensor,
    quaternion: torch.Tensor,
    *,
    color: torch.Tensor | None = None,
    image_size: int = 64,
    renderer: ViewRenderer | None = None,
) -> torch.Tensor:
    """uint8 [3, S, S] (or [V, 3, S, S] for a batch of quaternions [V, 4]) of instance ``params`` of
    class ``cls`` at ``quaternion`` (optionally tinted by ``color``): the frame :func:`generate_views3d`
    stores for the same inputs.  Uses ``renderer`` when given (its image size), else a temporary one."""
    q = torch.as_tensor(quaternion)
    own = renderer is None
    r = ViewRenderer(image_size) if own else renderer
    try:
        r.set_instance(cls, params)
        frames = r.render(q.reshape(-1, 4), None if color is None else torch.as_tensor(color).reshape(-1, 3))
    finally:
        if own:
            r.close()
    frames_t = torch.from_numpy(frames)
    return frames_t[0] if q.dim() == 1 else frames_t


# ---------------------------------------------------------------------------------------- dataset
def _generator(*keys: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(_seed_seq(*keys).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))


def generate_views3d(
    *,
    classes: Sequence[int | str] | None = None,
    instances_per_class: int,
    views_per_instance: int,
    image_size: int = 64,
    seed: int = 0,
    color_actions: bool = False,
    max_angle: float | None = math.pi / 2,
    progress: bool = True,
) -> TensorDict:
    """Render ``instances_per_class`` instances of each class under ``views_per_instance`` random orientations
    (yaw/pitch/roll within ±``max_angle``, 3DIEBench's π/2 by default; ``None``: uniform over SO(3)).

    Returns a TensorDict [N] (N = classes × instances, class-major): ``pixels`` uint8 [N, V, 3, S, S],
    ``rotation`` f32 [N, V, 4] (each view's absolute orientation, canonical unit quaternion),
    ``label`` i64 [N] (index into the generated ``classes``, all of :data:`CLASSES` by default),
    ``instance`` i64 [N] (0 … N−1), ``instance_params`` f32 [N, 9] (see :func:`instance_params`);
    with ``color_actions`` also ``color`` f32 [N, V, 3] (per-view RGB tint).  Instance ``k`` of a class
    depends only on (seed, class, k), so it is the same whatever other classes are generated.
    """
    names = _resolve_classes(classes)
    ipc, views, size = int(instances_per_class), int(views_per_instance), int(image_size)
    if ipc < 1 or views < 1 or size < 1:
        raise ValueError(f"instances_per_class, views_per_instance and image_size must be >= 1, got {ipc}, {views}, {size}")
    n = len(names) * ipc
    pixels = torch.empty(n, views, 3, size, size, dtype=torch.uint8)
    rotation = torch.empty(n, views, 4, dtype=torch.float32)
    params = torch.empty(n, NUM_INSTANCE_PARAMS, dtype=torch.float32)
    label = torch.empty(n, dtype=torch.int64)
    color = torch.empty(n, views, 3, dtype=torch.float32) if color_actions else None
    with ViewRenderer(size) as renderer, tqdm(total=n, desc="views3d", unit="inst", disable=not progress) as bar:
        for c, name in enumerate(names):
            cls_id = CLASSES.index(name)
            for k in range(ipc):
                i = c * ipc + k
                params[i] = instance_params(name, k, seed)
                rotation[i] = random_rotations(views, _generator(seed, cls_id, k, 1), max_angle)
                if color is not None:
                    color[i] = _random_tints(views, _generator(seed, cls_id, k, 2))
                label[i] = c
                renderer.set_instance(name, params[i])
                pixels[i] = torch.from_numpy(renderer.render(rotation[i], None if color is None else color[i]))
                bar.update(1)
    out = dict(pixels=pixels, rotation=rotation, label=label, instance=torch.arange(n), instance_params=params)
    if color is not None:
        out["color"] = color
    return TensorDict(out, batch_size=[n])


def generate_part_maps(data: TensorDict, classes: Sequence[int | str] | None = None, *, progress: bool = True) -> TensorDict:
    """The part map of every view of ``data`` (:func:`generate_views3d`'s output, generated with ``classes``):
    ``parts`` uint8 [N, V, S, S], re-rendered from each instance's stored class, parameters and orientations."""
    names = _resolve_classes(classes)
    n, views, _, size, _ = data["pixels"].shape
    parts = torch.empty(n, views, size, size, dtype=torch.uint8)
    with ViewRenderer(size) as renderer:
        for i in tqdm(range(n), desc="views3d parts", unit="inst", disable=not progress):
            renderer.set_instance(names[int(data["label"][i])], data["instance_params"][i])
            parts[i] = torch.from_numpy(renderer.render_parts(data["rotation"][i]))
    return TensorDict({"parts": parts}, batch_size=[n])


def split_by_instance(
    labels: torch.Tensor, *, val_fraction: float, test_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sorted row indices (train, val, test): per class, a seeded shuffle of its instances gives
    ``round(val_fraction · n_c)`` to val and ``round(test_fraction · n_c)`` to test (at least one stays in train)."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction and test_fraction must be >= 0 with a sum < 1, got {val_fraction}, {test_fraction}")
    g = torch.Generator().manual_seed(int(seed))
    parts: tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]] = ([], [], [])
    for c in torch.unique(labels).tolist():
        rows = torch.nonzero(labels == c).reshape(-1)
        rows = rows[torch.randperm(len(rows), generator=g)]
        n_val = min(int(round(val_fraction * len(rows))), len(rows) - 1)
        n_test = min(int(round(test_fraction * len(rows))), len(rows) - 1 - n_val)
        parts[1].append(rows[:n_val])
        parts[2].append(rows[n_val : n_val + n_test])
        parts[0].append(rows[n_val + n_test :])
    return tuple(torch.sort(torch.cat(p)).values for p in parts)  # type: ignore[return-value]


def _params(data_cfg: Any) -> dict[str, Any]:
    classes = cfg_get(data_cfg, "classes")
    max_angle = cfg_get(data_cfg, "max_angle", math.pi / 2)
    return dict(
        classes=_resolve_classes(None if classes is None else list(classes)),
        instances_per_class=int(cfg_get(data_cfg, "instances_per_class", 200)),
        views_per_instance=int(cfg_get(data_cfg, "views_per_instance", 8)),
        image_size=int(cfg_get(data_cfg, "image_size", 64)),
        color_actions=bool(cfg_get(data_cfg, "color_actions", False)),
        max_angle=None if max_angle is None else float(max_angle),
        seed=int(cfg_get(data_cfg, "seed", 0)),
        version=VIEWS3D_VERSION,
    )


def _cache_dir_for(cache_dir: Path, params: dict[str, Any]) -> Path:
    return cache_dir / "views3d" / params_digest(params)


def load_views3d(cfg: Any) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """``(train, val, test, info)`` for the ``data`` config (``configs/data/views3d.yaml``).

    ``cfg``: the data sub-config (or a root config holding one under ``data``).  Renders the dataset
    once and caches it (atomic directory, memory-mapped); later calls load the cache.  The splits are
    by instance, stratified by class and seeded by ``seed`` (:func:`split_by_instance`); each is an
    in-memory TensorDict [n] like :func:`generate_views3d`'s.  ``info``: classes, instances, views,
    image_size, color_actions, train/val/test instances, cached, cache_dir, seconds.
    """
    data_cfg = cfg_get(cfg, "data") if cfg_get(cfg, "data") is not None else cfg
    params = _params(data_cfg)
    cache_dir = Path(str(cfg_get(data_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
    out_dir = _cache_dir_for(cache_dir, params)
    t0 = time.perf_counter()
    log.info("views3d: %s %s", "loading" if (out_dir / _MARKER).is_file() else f"generating {params} ->", out_dir)
    data, cached = cached_tensordict(
        out_dir,
        lambda: generate_views3d(
            classes=params["classes"],
            instances_per_class=params["instances_per_class"],
            views_per_instance=params["views_per_instance"],
            image_size=params["image_size"],
            seed=params["seed"],
            color_actions=params["color_actions"],
            max_angle=params["max_angle"],
            progress=bool(cfg_get(data_cfg, "progress", True)),
        ),
        marker=_MARKER,
        describe=params,
    )
    train_idx, val_idx, test_idx = split_by_instance(
        data.get("label"),
        val_fraction=float(cfg_get(data_cfg, "val_fraction", 0.1)),
        test_fraction=float(cfg_get(data_cfg, "test_fraction", 0.1)),
        seed=params["seed"],
    )
    train, val, test = data[train_idx], data[val_idx], data[test_idx]
    info = dict(
        classes=params["classes"],
        instances=int(data.batch_size[0]),
        views=params["views_per_instance"],
        image_size=params["image_size"],
        color_actions=params["color_actions"],
        train_instances=len(train_idx),
        val_instances=len(val_idx),
        test_instances=len(test_idx),
        cached=cached,
        cache_dir=str(out_dir),
        seconds=time.perf_counter() - t0,
    )
    log.info(
        "views3d (%s in %.1fs): %d classes x %d instances x %d views at %dpx; train %d / val %d / test %d instances",
        "cached" if cached else "generated",
        info["seconds"],
        len(params["classes"]),
        params["instances_per_class"],
        params["views_per_instance"],
        params["image_size"],
        info["train_instances"],
        info["val_instances"],
        info["test_instances"],
    )
    return train, val, test, info


def load_views3d_frames(cfg: Any) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """The views of :func:`load_views3d` as single frames, for the vision JEPAs (``data=views3d`` with
    ``objective=vjepa|salt|dmt_jepa``), in :func:`data.frames.load_frames`'s layout: ``pixels`` uint8
    [n, 3, S, S]; ``target`` = ``state`` f32 [n, C + 4], the one-hot class then the view's orientation
    quaternion; ``episode`` the instance (the splits stay by instance) and ``step`` the view index.

    Object class and orientation are targets a random-init encoder reads poorly (seq-JEPA's §8.1 references),
    unlike a DMC frame's torso height. ``info`` adds ``class_columns`` ([0, C]: the probes' top-1 reads the
    argmax of these columns) and ``target_columns`` ({"rotation": [C, C + 4]}: the R² quantities). With
    ``part_maps: true`` each frame also has ``parts`` uint8 [n, S, S], its part map (:func:`generate_part_maps`),
    for probes of local semantics, and ``info["part_names"]``."""
    train, val, test, views_info = load_views3d(cfg)
    classes = len(views_info["classes"])
    data_cfg = cfg_get(cfg, "data") if cfg_get(cfg, "data") is not None else cfg
    parts = None
    if bool(cfg_get(data_cfg, "part_maps", False)):  # rendered once beside the views, cached
        params = _params(data_cfg)
        views = TensorDict.load_memmap(str(Path(views_info["cache_dir"]) / "data"))
        parts = cached_tensordict(
            Path(str(cfg_get(data_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser() / "views3d_parts" / params_digest(params),
            lambda: generate_part_maps(views, params["classes"], progress=bool(cfg_get(data_cfg, "progress", True))),
            marker="parts.json",
            describe={**params, "parts_version": PARTS_VERSION},
        )[0]["parts"]

    def frames(split: TensorDict) -> TensorDict:
        n, views = split["rotation"].shape[:2]
        label = split["label"].repeat_interleave(views)
        target = torch.cat([torch.nn.functional.one_hot(label, classes).float(), split["rotation"].reshape(n * views, 4)], 1)
        out = {
            "pixels": split["pixels"].reshape(n * views, *split["pixels"].shape[2:]),
            "state": target,
            "target": target,
            "episode": split["instance"].repeat_interleave(views),
            "step": torch.arange(views).repeat(n),
        }
        if parts is not None:  # the split's instances are rows of the whole dataset
            out["parts"] = parts[split["instance"]].reshape(n * views, *parts.shape[2:])
        return TensorDict(out, batch_size=[n * views])

    train, val, test = frames(train), frames(val), frames(test)
    info = dict(
        views_info,
        family="views3d",
        env="views3d",
        image_size=views_info["image_size"],
        clip_length=1,
        state_dim=classes + 4,
        target_dim=classes + 4,
        class_columns=[0, classes],
        target_columns={"rotation": [classes, classes + 4]},
        pixels="rendered",
        **({"part_names": list(PART_NAMES)} if parts is not None else {}),
        train_steps=len(train),
        val_steps=len(val),
        test_steps=len(test),
    )
    return train, val, test, info
