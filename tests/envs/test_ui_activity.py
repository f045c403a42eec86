"""UI activity clips made here (data/ui_activity/): splits, intents, determinism, caching, user folders."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from envs.buffer import DatasetError
from data.ui_activity import (
    INTENTS,
    _Clip,
    SPLITS,
    intent_words,
    load_ui_activity,
    render_clip,
    save_preview,
    zeroshot_split,
)

TINY = dict(intents=6, zeroshot_intents=2, clips_per_intent=3, val_clips=2, test_clips=2, frames=8, image_size=32, progress=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("ui_cache")
    splits, info = load_ui_activity(dict(TINY, cache_dir=str(cache)))
    return splits, info, cache


def test_split_shapes_and_dtypes(tiny):
    splits, info, _ = tiny
    assert set(splits) == set(SPLITS)
    n_few, n_zero = len(info["fewshot_intents"]), len(info["zeroshot_intents"])
    assert (n_few, n_zero) == (4, 2) and len(info["intents"]) == 6
    expected = dict(train=n_few * 3, val=n_few * 2, fewshot_test=n_few * 2, zeroshot_test=n_zero * 2)
    for name, split in splits.items():
        n = expected[name]
        assert split.video.shape == (n, 8, 3, 32, 32) and split.video.dtype == torch.uint8
        assert split.intent.shape == (n,) and split.intent.dtype == torch.int64
        assert len(split.text) == n == len(split) and all(isinstance(t, str) and t for t in split.text)
    assert info["frames"] == 8 and info["image_size"] == 32 and info["clips"] == expected
    assert info["intents"] == [INTENTS[i].text for i in range(6)]
    assert info["variants"] == [list(INTENTS[i].variants) for i in range(6)]
    assert all(3 <= len(v) <= 5 for v in info["variants"])


def test_zeroshot_intents_are_held_out(tiny):
    splits, info, _ = tiny
    zero, few = set(info["zeroshot_intents"]), set(info["fewshot_intents"])
    assert zero and few and not zero & few and zero | few == set(range(len(info["intents"])))
    for name in ("train", "val", "fewshot_test"):
        assert set(splits[name].intent.tolist()) == few
    assert set(splits["zeroshot_test"].intent.tolist()) == zero


def test_texts_are_variants_of_their_intent(tiny):
    splits, info, _ = tiny
    for split in splits.values():
        for i, text in zip(split.intent.tolist(), split.text):
            assert text in info["variants"][i]
    assert len(set(splits["train"].text)) > len(info["fewshot_intents"])  # paraphrases, not one text per intent


@pytest.mark.parametrize("n, z", [(6, 2), (10, 2), (16, 4), (20, 5)])
def test_zeroshot_intents_are_compositional(n, z):
    few, zero = zeroshot_split(n, z)
    assert len(zero) == z and sorted(few + zero) == list(range(n))
    vocab = {w for i in few for v in INTENTS[i].variants for w in intent_words(v)}
    for i in zero:  # every word of every paraphrase of a held-out intent is used by a trained intent
        assert {w for v in INTENTS[i].variants for w in intent_words(v)} <= vocab, INTENTS[i].text
        families = {(INTENTS[j].family.split("_")[0]) for j in few}
        assert INTENTS[i].family.split("_")[0] in families  # and the same kind of activity is trained
    assert [INTENTS[i].text for i in zeroshot_split(16, 4)[1]] == [
        "turn on bluetooth",
        "call Alice",
        "turn off airplane mode",
        "share a photo with Bob",
    ]


def test_zeroshot_texts_reuse_train_words(tiny):
    splits, info, _ = tiny
    train_words = {w for t in splits["train"].text for w in intent_words(t)}
    zs_words = [w for t in splits["zeroshot_test"].text for w in intent_words(t)]
    assert sum(w in train_words for w in zs_words) / len(zs_words) >= 0.6


def test_clips_change_over_time_and_differ(tiny):
    splits, _, _ = tiny
    video = splits["train"].video.float()
    steps = (video[:, 1:] - video[:, :-1]).abs().mean(dim=(2, 3, 4))  # [N, T - 1]
    assert (steps.amax(dim=1) > 1.0).all()  # every clip changes (indicator, screens)
    assert ((video[:, 0] - video[:, -1]).abs().mean(dim=(1, 2, 3)) > 5.0).all()  # home screen → the app
    first, second = splits["train"].video[0], splits["train"].video[1]  # two clips of the same intent
    assert splits["train"].intent[0] == splits["train"].intent[1]
    assert (first.float() - second.float()).abs().mean() > 5.0


def test_render_clip_indicator_moves():
    rng = np.random.default_rng(3)
    clip = render_clip(0, rng, frames=12, size=64)
    assert clip.shape == (12, 64, 64, 3) and clip.dtype == np.uint8
    scripted = _Clip(INTENTS[0], np.random.default_rng(3), 1)
    times = np.linspace(0, scripted.duration, 12)
    positions = np.array([scripted.replay(t)[1] for t in times])
    assert len(np.unique(positions.round(1), axis=0)) >= 4  # the indicator moves between targets
    assert any(scripted.replay(t)[2] for t in np.linspace(0, scripted.duration, 400))  # and taps
    assert scripted.replay(scripted.duration)[0]["toggles"]["wifi"] == 1.0  # the intent is done at the end
    assert scripted.replay(0.0)[0]["toggles"]["wifi"] == 0.0 and scripted.replay(0.0)[0]["screen"] == "home"
    assert not np.array_equal(render_clip(0, np.random.default_rng(4), 12, 64), clip)
    assert np.array_equal(render_clip(0, np.random.default_rng(3), 12, 64), clip)
    with pytest.raises(ValueError, match="intent_index"):
        render_clip(len(INTENTS), rng)


def _done(intent, state) -> bool:
    """Whether the final UI state shows the intent done."""
    family, args = intent.family, intent.args
    if family.startswith("toggle"):
        return state["toggles"][args[0]] == float(family == "toggle_on")
    return {
        "message": lambda: state["screen"] == "chat" and state["who"] == args[0] and state["bubbles"][-1][3] != "photo",
        "share": lambda: state["screen"] == "chat" and state["who"] == args[0] and state["bubbles"][-1][3] == "photo",
        "call": lambda: state["screen"] == "calling" and state["who"] == args[0],
        "search": lambda: state["screen"] == args[1] and state["results"] == 1.0 and state["place"] == args[0],
        "alarm": lambda: (
            state["screen"] == "clock" and state["new_alarm"] == 1.0 and state["picker"][0] % 12 == int(args[0][0]) % 12
        ),
        "play": lambda: state["screen"] == "playlist" and state["sheet"] == 1.0,
        "camera": lambda: state["screen"] == "camera" and state["photo_taken"] == 1.0,
    }[family]()


@pytest.mark.parametrize("index", range(len(INTENTS)))
def test_every_intent_is_scripted_on_screen_and_completed(index):
    for seed in range(6):
        clip = _Clip(INTENTS[index], np.random.default_rng([11, index, seed]), 1)
        for step in clip.steps:
            if step.to is not None:
                end = (step.to[0] + step.drag[0], step.to[1] + step.drag[1])
                assert all(0 <= v <= 128 for v in (*step.to, *end)), (INTENTS[index].text, seed, step)
        start, final = clip.replay(0.0)[0], clip.replay(clip.duration)[0]
        assert start["screen"] == "home" and not _done(INTENTS[index], start)
        assert _done(INTENTS[index], final), (INTENTS[index].text, seed)


def test_deterministic_and_seeded(tiny, tmp_path):
    splits, _, _ = tiny
    again, info = load_ui_activity(dict(TINY, cache_dir=str(tmp_path / "a")))
    assert not info["cached"]
    for name in SPLITS:
        assert torch.equal(again[name].video, splits[name].video)
        assert torch.equal(again[name].intent, splits[name].intent) and again[name].text == splits[name].text
    other, _ = load_ui_activity(dict(TINY, cache_dir=str(tmp_path / "b"), seed=1))
    assert not torch.equal(other["train"].video, splits["train"].video)


def test_cache_is_reused(tiny):
    splits, info, cache = tiny
    videos = os.path.join(info["cache_dir"], "videos.npy")
    assert info["cache_dir"].startswith(str(cache / "ui_activity"))
    before = os.stat(videos).st_mtime_ns
    again, info2 = load_ui_activity(dict(TINY, cache_dir=str(cache)))
    assert info2["cached"] and info2["cache_dir"] == info["cache_dir"]
    assert os.stat(videos).st_mtime_ns == before
    assert torch.equal(again["train"].video, splits["train"].video)
    assert len(os.listdir(cache / "ui_activity")) == 1  # no temp folders left
    rows = [json.loads(line) for line in open(os.path.join(info["cache_dir"], "metadata.jsonl"))]
    assert len(rows) == sum(info["clips"].values())
    assert set(rows[0]) == {"clip", "index", "split", "intent", "text"}


def _constant_clip(values, h, w, channels=3):
    """A clip whose frame i is filled with values[i]."""
    shape = (len(values), h, w, channels) if channels else (len(values), h, w)
    return np.broadcast_to(np.asarray(values, np.uint8).reshape(-1, *[1] * (len(shape) - 1)), shape).copy()


def test_user_folder_is_resampled_and_resized(tmp_path):
    root = tmp_path / "recordings"
    (root / "clips").mkdir(parents=True)
    np.save(root / "clips/short.npy", _constant_clip([10, 20, 30, 40, 50], 40, 30))  # 5 frames, 40 × 30 (tall)
    np.save(root / "clips/long.npy", _constant_clip(list(range(0, 200, 10)), 64, 64, channels=0))  # 20 grey frames
    frames_dir = root / "clips/frames_a"
    frames_dir.mkdir()
    for i, v in enumerate((60, 70, 80)):
        Image.fromarray(np.full((50, 50, 3), v, np.uint8)).save(frames_dir / f"{i:03d}.png")
    np.save(root / "stack.npy", np.stack([_constant_clip([1, 2, 3, 4], 16, 16), _constant_clip([5, 6, 7, 8], 16, 16)]))
    rows = [
        dict(clip="clips/short.npy", split="train", intent="open mail", text="open my mail"),
        dict(clip="clips/long.npy", split="train", intent="open mail", text="check email"),
        dict(clip=str(frames_dir), split="fewshot_test", intent="open mail", text="open my mail"),
        dict(clip="stack.npy", index=1, split="val", intent="play music", text="play music"),
        dict(clip="stack.npy", index=0, split="zeroshot_test", intent="play mail", text="play mail"),
    ]
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    cfg = dict(source="path", path=str(root), frames=8, image_size=24, cache_dir=str(tmp_path / "cache"), progress=False)
    splits, info = load_ui_activity(cfg)
    assert info["intents"] == ["open mail", "play music", "play mail"]
    assert info["fewshot_intents"] == [0, 1] and info["zeroshot_intents"] == [2]
    assert info["variants"][0] == ["open my mail", "check email"]
    train = splits["train"]
    assert train.video.shape == (2, 8, 3, 24, 24) and train.text == ["open my mail", "check email"]
    assert train.intent.tolist() == [0, 0]
    short = train.video[0, :, :, 12, 12].float().mean(dim=1)  # centre pixel of each of the 8 frames
    assert short.tolist() == [10, 20, 20, 30, 30, 40, 40, 50]  # 5 frames spread over 8
    assert train.video[0, 0, :, 12, 0].tolist() == [0, 0, 0]  # the tall clip is letterboxed (pad)
    long = train.video[1, :, 0, 12, 12].tolist()
    assert long == [v * 10 for v in np.round(np.linspace(0, 19, 8)).astype(int)]  # 20 frames sampled uniformly
    assert splits["fewshot_test"].video[0, :, 0, 5, 5].tolist() == [60, 60, 70, 70, 70, 70, 80, 80]
    assert splits["val"].video[0, :, 1, 3, 3].tolist() == [5, 5, 6, 6, 7, 7, 8, 8]
    assert splits["zeroshot_test"].intent.tolist() == [2]
    again, info2 = load_ui_activity(cfg)
    assert info2["cached"] and torch.equal(again["train"].video, train.video)
    stretched, _ = load_ui_activity(dict(cfg, fit="stretch"))
    assert stretched["train"].video[0, 0, :, 12, 0].tolist() == [10, 10, 10]


def test_generated_cache_is_a_readable_user_folder(tiny, tmp_path):
    splits, info, _ = tiny
    back, info2 = load_ui_activity(
        dict(source="path", path=info["cache_dir"], frames=8, image_size=32, cache_dir=str(tmp_path), progress=False)
    )
    assert torch.equal(back["zeroshot_test"].video, splits["zeroshot_test"].video)
    assert back["train"].text == splits["train"].text
    held_out = [info["intents"][i] for i in info["zeroshot_intents"]]
    assert [info2["intents"][i] for i in info2["zeroshot_intents"]] == held_out


def test_user_folder_errors(tmp_path):
    base = dict(source="path", cache_dir=str(tmp_path / "cache"), progress=False)
    with pytest.raises(DatasetError, match="not a folder"):
        load_ui_activity(dict(base, path=str(tmp_path / "missing")))
    root = tmp_path / "bad"
    root.mkdir()
    with pytest.raises(DatasetError, match="metadata.jsonl"):
        load_ui_activity(dict(base, path=str(root)))
    np.save(root / "a.npy", _constant_clip([1, 2], 8, 8))
    row = dict(clip="a.npy", split="test", intent="x", text="x")
    (root / "metadata.jsonl").write_text(json.dumps(row))
    with pytest.raises(DatasetError, match="split 'test'"):
        load_ui_activity(dict(base, path=str(root)))
    rows = [dict(row, split="train"), dict(row, split="zeroshot_test")]
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DatasetError, match="zero-shot intents"):
        load_ui_activity(dict(base, path=str(root)))
    np.save(root / "a.npy", np.zeros((2, 8, 8, 3), np.float32))
    (root / "metadata.jsonl").write_text(json.dumps(dict(row, split="train")))
    with pytest.raises(DatasetError, match="uint8"):
        load_ui_activity(dict(base, path=str(root)))


@pytest.mark.parametrize(
    "cfg, message",
    [
        (dict(intents=6, zeroshot_intents=6), "zeroshot_intents"),
        (dict(intents=4, zeroshot_intents=5), "zeroshot_intents"),
        (dict(intents=30), "data.intents"),
        (dict(clip_per_intent=3), "unknown data keys"),
        (dict(source="path"), "needs data.path"),
        (dict(path="/somewhere"), "only read with data.source=path"),
        (dict(source="youtube"), "data.source"),
        (dict(frames=0), "data.frames"),
        (dict(frames=2.5), "integer"),
        (dict(fit="crop"), "data.fit"),
    ],
)
def test_bad_config(cfg, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        load_ui_activity(dict(cfg, cache_dir=str(tmp_path)))


def test_config_group_keys_and_omegaconf(tiny):
    from omegaconf import OmegaConf

    _, info, cache = tiny
    cfg = OmegaConf.create(dict(TINY, name="ui_activity", decoder={"lr": 1e-3}, cache_dir=str(cache)))
    with pytest.raises(ValueError, match="decoder"):
        load_ui_activity(cfg)
    _, info2 = load_ui_activity(cfg, extra_keys=("decoder",))
    assert info2["cached"] and info2["cache_dir"] == info["cache_dir"]


def test_save_preview(tiny, tmp_path):
    splits, info, _ = tiny
    png = save_preview(tmp_path / "strip.png", splits["train"].video[:3], splits["train"].text[:3], scale=1)
    with Image.open(png) as im:
        assert im.size[1] == 3 * 34 and im.size[0] > 8 * 34
    gif = save_preview(tmp_path / "clips.gif", intents=[0, 2], frames=4, size=32, scale=1)
    with Image.open(gif) as im:
        assert im.n_frames == 4
