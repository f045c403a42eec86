"""data.views3d: quaternion algebra, MuJoCo-rendered views of rotated objects, the cached splits."""

import math
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from data import views3d
from data.views3d import (
    CLASSES,
    NUM_INSTANCE_PARAMS,
    ViewRenderer,
    canonical_quat,
    generate_views3d,
    instance_params,
    load_views3d,
    load_views3d_frames,
    generate_part_maps,
    PARTS,
    PART_NAMES,
    quat_conjugate,
    quat_multiply,
    euler_to_quat,
    random_rotations,
    relative_rotation,
    render_view,
)

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "data" / "views3d.yaml"
TINY = dict(classes=["l_shape", "mug"], instances_per_class=2, views_per_instance=3, image_size=32, seed=0)


def _same_rotation(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return torch.allclose(canonical_quat(a), canonical_quat(b), atol=atol)


# ---------------------------------------------------------------------------------------- quaternions
def test_random_rotations_unit_canonical_and_seeded():
    q = random_rotations(1000, torch.Generator().manual_seed(0))
    assert q.shape == (1000, 4) and q.dtype == torch.float32
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(1000))
    assert (q[:, 0] >= 0).all()
    assert torch.equal(q, random_rotations(1000, torch.Generator().manual_seed(0)))
    # uniform on SO(3): each of x, y, z has mean ~0 (no preferred axis)
    assert q[:, 1:].mean(0).abs().max() < 0.1


def test_euler_to_quat_matches_mujoco_and_bounded_rotations_stay_in_range():
    angles = torch.tensor([[0.3, -1.2, 0.7], [1.5, 0.2, -1.5], [-0.4, 0.0, 0.0]], dtype=torch.float64)
    ours = euler_to_quat(angles[:, 0], angles[:, 1], angles[:, 2])
    for row, q in zip(angles.numpy(), ours):
        expected = np.zeros(4)
        mujoco.mju_euler2Quat(expected, row, "zyx")  # lower case: intrinsic axes (yaw about z, then y, then x)
        assert _same_rotation(q.float(), torch.from_numpy(expected).float())
    # 3DIEBench's range: each angle within ±π/2 ⇒ rotation angle 2·acos(w) ≤ the yaw/pitch/roll bound's
    q = random_rotations(2000, torch.Generator().manual_seed(0), max_angle=math.pi / 2)
    assert (q[:, 0] >= 0).all()
    rotation_angle = 2 * torch.acos(q[:, 0].clamp(max=1.0))
    assert rotation_angle.max() < math.pi and rotation_angle.mean() < 1.6  # uniform SO(3) has mean ≈ 2.13 rad
    full = random_rotations(2000, torch.Generator().manual_seed(0))
    assert (2 * torch.acos(full[:, 0].clamp(max=1.0))).mean() > 1.9


def test_relative_rotation_recovers_second_view():
    g = torch.Generator().manual_seed(1)
    q1, q2 = random_rotations(64, g), random_rotations(64, g)
    r = relative_rotation(q1, q2)
    assert (r[:, 0] >= 0).all()
    torch.testing.assert_close(r.norm(dim=-1), torch.ones(64))
    assert _same_rotation(quat_multiply(q1, r), q2)
    # batched over extra leading dims (as ViewSequenceSampler uses it)
    assert _same_rotation(relative_rotation(q1.view(8, 8, 4), q2.view(8, 8, 4)), r.view(8, 8, 4))


def test_identity_and_conjugate():
    q = random_rotations(16, torch.Generator().manual_seed(2))
    ident = torch.tensor([1.0, 0.0, 0.0, 0.0])
    torch.testing.assert_close(quat_multiply(ident.expand_as(q), q), q)
    torch.testing.assert_close(quat_multiply(q, ident.expand_as(q)), q)
    torch.testing.assert_close(relative_rotation(q, q), ident.expand_as(q), atol=1e-6, rtol=0)
    torch.testing.assert_close(quat_multiply(q, quat_conjugate(q)), ident.expand_as(q), atol=1e-6, rtol=0)


def test_hand_computed_example_and_mujoco_convention():
    c = math.cos(math.pi / 4)
    z90 = torch.tensor([c, 0.0, 0.0, c])  # 90° about z
    torch.testing.assert_close(quat_multiply(z90, z90), torch.tensor([0.0, 0.0, 0.0, 1.0]))  # 180° about z
    x90 = torch.tensor([c, c, 0.0, 0.0])
    # relative rotation from 90° about z to 180° about z is another 90° about z
    torch.testing.assert_close(relative_rotation(z90, quat_multiply(z90, z90)), z90)
    # same product and vector rotation as MuJoCo (whose body quaternions the renderer sets)
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, z90.double().numpy(), x90.double().numpy())
    np.testing.assert_allclose(quat_multiply(z90, x90).numpy(), out, atol=1e-6)
    v = np.zeros(3)
    mujoco.mju_rotVecQuat(v, np.array([1.0, 0.0, 0.0]), z90.double().numpy())
    np.testing.assert_allclose(v, [0.0, 1.0, 0.0], atol=1e-6)  # active: x axis → y axis


# ---------------------------------------------------------------------------------------- rendering
@pytest.fixture(scope="module")
def tiny():
    return generate_views3d(**TINY, color_actions=True, progress=False)


def test_keys_shapes_dtypes(tiny):
    n, v, s = 4, 3, 32
    assert tiny.batch_size == (n,)
    assert tiny["pixels"].shape == (n, v, 3, s, s) and tiny["pixels"].dtype == torch.uint8
    assert tiny["rotation"].shape == (n, v, 4) and tiny["rotation"].dtype == torch.float32
    assert tiny["label"].dtype == torch.int64 and tiny["label"].tolist() == [0, 0, 1, 1]
    assert tiny["instance"].dtype == torch.int64 and tiny["instance"].tolist() == [0, 1, 2, 3]
    assert tiny["color"].shape == (n, v, 3) and tiny["color"].dtype == torch.float32
    assert ((tiny["color"] >= 0) & (tiny["color"] <= 1)).all()
    assert tiny["instance_params"].shape == (n, NUM_INSTANCE_PARAMS)
    torch.testing.assert_close(tiny["rotation"].norm(dim=-1), torch.ones(n, v))
    assert (tiny["rotation"][..., 0] >= 0).all()
    plain = generate_views3d(**TINY, progress=False)
    assert "color" not in plain.keys()
    assert torch.equal(plain["rotation"], tiny["rotation"])  # colours do not change the orientations


def test_deterministic_and_seed_dependent(tiny):
    again = generate_views3d(**TINY, color_actions=True, progress=False)
    for key in tiny.keys():
        assert torch.equal(again[key], tiny[key]), key
    other = generate_views3d(**dict(TINY, seed=1), color_actions=True, progress=False)
    assert not torch.equal(other["rotation"], tiny["rotation"])
    assert not torch.equal(other["pixels"], tiny["pixels"])
    # an instance depends on (seed, class, index) only, not on which other classes are generated
    mugs = generate_views3d(**dict(TINY, classes=["mug"]), color_actions=True, progress=False)
    assert torch.equal(mugs["pixels"], tiny["pixels"][2:])
    assert torch.equal(mugs["instance_params"][0], instance_params("mug", 0, seed=0))


def test_views_differ_and_object_is_visible(tiny):
    px = tiny["pixels"].float()
    background = px[0, 0, :, 0, 0]  # corner pixel: plain background
    for i in range(px.shape[0]):
        for v in range(px.shape[1]):
            assert ((px[i, v] - background[:, None, None]).abs().sum(0) > 30).float().mean() > 0.02  # object drawn
        for v in range(1, px.shape[1]):  # another rotation of the same instance looks different
            assert (px[i, v] - px[i, 0]).abs().mean() > 1.0


def test_classes_give_different_images():
    q = torch.tensor([1.0, 0.0, 0.0, 0.0])
    with ViewRenderer(32) as renderer:
        frames = [render_view(name, instance_params(name, 0), q, renderer=renderer) for name in CLASSES]
    for a in range(len(CLASSES)):
        for b in range(a + 1, len(CLASSES)):
            assert (frames[a].float() - frames[b].float()).abs().mean() > 1.0, (CLASSES[a], CLASSES[b])


def test_stored_rotation_reproduces_the_view(tiny):
    names = TINY["classes"]
    with ViewRenderer(32) as renderer:
        for i in range(tiny.batch_size[0]):
            name = names[int(tiny["label"][i])]
            params = tiny["instance_params"][i]
            for v in range(tiny["rotation"].shape[1]):
                frame = render_view(name, params, tiny["rotation"][i, v], color=tiny["color"][i, v], renderer=renderer)
                assert torch.equal(frame, tiny["pixels"][i, v])
    # a fresh renderer (what render_view makes by default) gives the same frames
    batch = render_view(names[0], tiny["instance_params"][0], tiny["rotation"][0], color=tiny["color"][0], image_size=32)
    assert torch.equal(batch, tiny["pixels"][0])


def test_action_moves_the_object_consistently():
    """Applying the relative rotation (in the object frame) to view 0's orientation shows view 1; applying it
    in the wrong frame (world) does not."""
    data = generate_views3d(**dict(TINY, classes=["chair"], instances_per_class=1), progress=False)
    q = data["rotation"][0]
    r = relative_rotation(q[0], q[1])
    with ViewRenderer(32) as renderer:
        moved = render_view("chair", data["instance_params"][0], quat_multiply(q[0], r), renderer=renderer)
        wrong = render_view("chair", data["instance_params"][0], quat_multiply(r, q[0]), renderer=renderer)
    target = data["pixels"][0, 1].float()
    assert (moved.float() - target).abs().mean() < 0.5  # equal up to float rounding of the product
    assert (wrong.float() - target).abs().mean() > 1.0


# ---------------------------------------------------------------------------------------- cache + splits
def test_load_views3d_cache_round_trip_and_instance_splits(tmp_path, monkeypatch):
    cfg = OmegaConf.load(CONFIG)
    assert cfg.name == "views3d" and cfg.classes is None and cfg.image_size == 64
    cfg = OmegaConf.merge(
        cfg,
        dict(
            classes=["t_shape", "hammer"],
            instances_per_class=3,
            views_per_instance=2,
            image_size=16,
            color_actions=True,
            cache_dir=str(tmp_path),
            val_fraction=0.34,
            test_fraction=0.34,
            progress=False,
        ),
    )
    train, val, test, info = load_views3d(OmegaConf.create({"data": cfg}))  # a root config works too
    assert info["cached"] is False and info["classes"] == ["t_shape", "hammer"]
    assert (info["instances"], info["views"], info["image_size"]) == (6, 2, 16)
    assert info["seconds"] >= 0 and Path(info["cache_dir"]).parent == tmp_path / "views3d"

    def no_generation(**kwargs):
        raise AssertionError("the cached dataset was regenerated")

    monkeypatch.setattr(views3d, "generate_views3d", no_generation)
    train2, val2, test2, info2 = load_views3d(cfg)
    assert info2["cached"] is True
    for a, b in ((train, train2), (val, val2), (test, test2)):
        assert set(a.keys()) == set(b.keys())
        for key in a.keys():
            assert torch.equal(a[key], b[key]), key

    ids = [set(td["instance"].tolist()) for td in (train, val, test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert set().union(*ids) == set(range(6))
    for td in (train, val, test):  # stratified: each split holds every class
        assert sorted(set(td["label"].tolist())) == [0, 1]
        assert td["pixels"].shape[1:] == (2, 3, 16, 16) and "color" in td.keys()


def test_views_as_frames_keep_every_view_its_class_and_orientation_and_the_instance_split(tmp_path):
    cfg = dict(TINY, classes=["t_shape", "hammer", "mug"], cache_dir=str(tmp_path), val_fraction=0.34, test_fraction=0.34)
    views = load_views3d(cfg)
    frames = load_views3d_frames(cfg)
    info = frames[3]
    assert info["class_columns"] == [0, 3] and info["target_columns"] == {"rotation": [3, 7]}
    assert (info["clip_length"], info["image_size"], info["state_dim"], info["env"]) == (1, 32, 7, "views3d")
    for split, flat in zip(views[:3], frames[:3]):
        n, v = split["rotation"].shape[:2]
        assert flat.batch_size == torch.Size([n * v]) and flat["pixels"].dtype == torch.uint8
        for row in range(n * v):  # row = instance-major, then view
            i, k = divmod(row, v)
            assert torch.equal(flat["pixels"][row], split["pixels"][i, k])
            assert flat["target"][row, :3].tolist() == [float(c == split["label"][i]) for c in range(3)]
            assert torch.equal(flat["target"][row, 3:], split["rotation"][i, k])
            assert flat["episode"][row] == split["instance"][i] and flat["step"][row] == k
        assert torch.equal(flat["state"], flat["target"])
    episodes = [set(f["episode"].tolist()) for f in frames[:3]]
    assert not (episodes[0] & episodes[1] or episodes[0] & episodes[2] or episodes[1] & episodes[2])


def test_part_maps_name_each_object_pixel_by_its_semantic_part():
    assert len(PART_NAMES) == 1 + len(PARTS) == 28 and PART_NAMES[0] == "background"
    chair = [1 + PARTS.index(("chair", role)) for role in (0, 1, 3)]  # seat, back, the four legs share role 3
    assert [PART_NAMES[i] for i in chair] == ["chair/role0", "chair/role1", "chair/role3"]
    q = random_rotations(3, torch.Generator().manual_seed(1), math.pi / 2)
    with ViewRenderer(64) as renderer:
        renderer.set_instance("chair", instance_params("chair", 0))
        frames = torch.from_numpy(renderer.render(q))
        parts = torch.from_numpy(renderer.render_parts(q))
        assert torch.equal(torch.from_numpy(renderer.render(q)), frames)  # the segmentation pass leaves RGB as it was
    assert parts.shape == (3, 64, 64) and parts.dtype == torch.uint8
    assert set(parts.unique().tolist()) <= {0, *chair} and (parts > 0).any(dim=(1, 2)).all()
    background = frames[0, :, 0, 0]  # a corner: the flat background
    is_background = (frames == background[None, :, None, None]).all(1)
    # pixels of no part show the background; part pixels (whatever their shading) almost never do
    assert is_background[parts == 0].all()
    assert is_background[parts > 0].float().mean() < 0.01


def test_views_as_frames_carry_their_part_maps(tmp_path, monkeypatch):
    cfg = dict(TINY, cache_dir=str(tmp_path), val_fraction=0.25, test_fraction=0.25, part_maps=True)
    train, val, test, info = load_views3d_frames(cfg)
    assert info["part_names"] == list(PART_NAMES)
    every = generate_views3d(**TINY, progress=False)
    maps = generate_part_maps(every, TINY["classes"], progress=False)["parts"]  # [N, V, S, S]
    for split in (train, val, test):
        for row in range(split.batch_size[0]):
            instance, view = int(split["episode"][row]), int(split["step"][row])
            assert torch.equal(split["parts"][row], maps[instance, view])
    monkeypatch.setattr(views3d, "generate_part_maps", lambda *a, **k: pytest.fail("the cached part maps were rendered again"))
    assert torch.equal(load_views3d_frames(cfg)[0]["parts"], train["parts"])
    assert "parts" not in load_views3d_frames(dict(cfg, part_maps=False))[0].keys()
