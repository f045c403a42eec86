"""The UI activity dataset: the ``data`` config, generation, caching and the public loader.

:func:`load_ui_activity` checks the ``data`` config, then renders the clips (:func:`generate_ui_activity`,
clip j of intent i in split s seeded by (seed, s, i, j)) or converts a user folder, once, atomically, into
``<cache_dir>/ui_activity/<hash of the config>/`` (``videos.npy`` + ``metadata.jsonl`` + ``layout.json``),
and returns the splits as :class:`UISplit` tensors with an ``info`` dict (intents, their variants, the
few- / zero-shot indices, sizes, cache folder and timings).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from envs.buffer import DatasetError, atomic_dir, file_hash, params_digest
from data.ui_activity.intents import INTENTS, zeroshot_split
from data.ui_activity.folders import _folder_layout, _read_clip, _read_metadata, SPLITS
from data.ui_activity.activity import clip_text, render_clip


log = logging.getLogger(__name__)

UI_ACTIVITY_VERSION = 1
_MARKER = "layout.json"


def _clip_rng(seed: int, split: str, intent: int, j: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), intent, j])


# ---------------------------------------------------------------------------------------- config
_DEFAULTS: dict[str, Any] = dict(
    source="generated",
    path=None,
    intents=16,
    zeroshot_intents=4,
    clips_per_intent=40,
    val_clips=6,
    test_clips=10,
    frames=16,
    image_size=64,
    fit="pad",
    seed=0,
    cache_dir="~/.cache/jepa_rl",
    progress=True,
)
_META_KEYS = ("name", "kind")  # config-group bookkeeping, ignored


def _config(data_cfg: Mapping | Any, extra_keys: Iterable[str] = ()) -> dict[str, Any]:
    if data_cfg is None:
        items: dict[str, Any] = {}
    elif isinstance(data_cfg, Mapping) or hasattr(data_cfg, "items"):
        items = dict(data_cfg.items())
    else:
        raise ValueError(f"the data config must be a mapping, got {type(data_cfg).__name__}")
    unknown = sorted(set(items) - set(_DEFAULTS) - set(_META_KEYS) - set(extra_keys))
    if unknown:
        raise ValueError(f"unknown data keys {unknown} for UI activity data; allowed: {', '.join(_DEFAULTS)}")
    cfg = dict(_DEFAULTS)
    cfg.update({k: v for k, v in items.items() if k in _DEFAULTS and v is not None})
    for key in ("intents", "zeroshot_intents", "clips_per_intent", "val_clips", "test_clips", "frames", "image_size", "seed"):
        value = cfg[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            and not (isinstance(value, float) and value.is_integer())
        ):
            raise ValueError(f"data.{key} must be an integer, got {value!r}")
        cfg[key] = int(value)
    if cfg["source"] not in ("generated", "path"):
        raise ValueError(f"data.source must be 'generated' or 'path', got {cfg['source']!r}")
    if cfg["fit"] not in ("pad", "stretch"):
        raise ValueError(f"data.fit must be 'pad' (letterbox) or 'stretch', got {cfg['fit']!r}")
    if cfg["source"] == "path" and not cfg["path"]:
        raise ValueError("data.source=path needs data.path: a folder with metadata.jsonl (see data/ui_activity/__init__.py)")
    if cfg["source"] == "generated" and cfg["path"]:
        raise ValueError(f"data.path={cfg['path']!r} is only read with data.source=path")
    if not 2 <= cfg["intents"] <= len(INTENTS):
        raise ValueError(f"data.intents must be in [2, {len(INTENTS)}], got {cfg['intents']}")
    if not 0 <= cfg["zeroshot_intents"] < cfg["intents"]:
        raise ValueError(
            f"data.zeroshot_intents must be in [0, data.intents={cfg['intents']}) so that some intents "
            f"are trained, got {cfg['zeroshot_intents']}"
        )
    if cfg["clips_per_intent"] < 1:
        raise ValueError(f"data.clips_per_intent must be >= 1, got {cfg['clips_per_intent']}")
    for key in ("val_clips", "test_clips"):
        if cfg[key] < 0:
            raise ValueError(f"data.{key} must be >= 0, got {cfg[key]}")
    if cfg["frames"] < 1:
        raise ValueError(f"data.frames must be >= 1, got {cfg['frames']}")
    if not 8 <= cfg["image_size"] <= 1024:
        raise ValueError(f"data.image_size must be in [8, 1024], got {cfg['image_size']}")
    cfg["cache_dir"] = str(Path(str(cfg["cache_dir"])).expanduser())
    cfg["progress"] = bool(cfg["progress"])
    return cfg


# ---------------------------------------------------------------------------------------- storage
@dataclasses.dataclass
class UISplit:
    """Clips of one split: ``video`` uint8 [N, T, 3, S, S], ``intent`` int64 [N] (index into
    ``info["intents"]``) and ``text`` (each clip's reference text)."""

    video: torch.Tensor
    intent: torch.Tensor
    text: list[str]

    def __len__(self) -> int:
        return len(self.text)


def _write_cache(tmp: Path, shape: tuple[int, ...], fill: Callable[[np.ndarray], list[dict]], layout: dict) -> None:
    """``videos.npy`` of ``shape`` [N, T, S, S, 3], filled in place by ``fill`` (which returns the N rows
    ``{split, intent, text}``), ``metadata.jsonl`` (clip = row i of videos.npy) and the marker."""
    videos = np.lib.format.open_memmap(tmp / "videos.npy", mode="w+", dtype=np.uint8, shape=shape)
    t0 = time.perf_counter()
    rows = fill(videos)
    videos.flush()
    del videos
    with open(tmp / "metadata.jsonl", "w") as fh:
        for i, row in enumerate(rows):
            fh.write(
                json.dumps(dict(clip="videos.npy", index=i, split=row["split"], intent=row["intent"], text=row["text"])) + "\n"
            )
    layout = dict(layout, clips=len(rows), seconds=round(time.perf_counter() - t0, 2))
    (tmp / _MARKER).write_text(json.dumps(layout, indent=1))


def _generated_layout(cfg: Mapping) -> tuple[dict, list[tuple[str, int, int]]]:
    fewshot, zeroshot = zeroshot_split(cfg["intents"], cfg["zeroshot_intents"])
    plan = [
        (split, i, j)
        for split, intents, n in (
            ("train", fewshot, cfg["clips_per_intent"]),
            ("val", fewshot, cfg["val_clips"]),
            ("fewshot_test", fewshot, cfg["test_clips"]),
            ("zeroshot_test", zeroshot, cfg["test_clips"]),
        )
        for i in intents
        for j in range(n)
    ]
    layout = dict(
        version=UI_ACTIVITY_VERSION,
        source="generated",
        frames=cfg["frames"],
        image_size=cfg["image_size"],
        intents=[INTENTS[i].text for i in range(cfg["intents"])],
        variants=[list(INTENTS[i].variants) for i in range(cfg["intents"])],
        fewshot_intents=fewshot,
        zeroshot_intents=zeroshot,
    )
    return layout, plan


def generate_ui_activity(out_dir: str | Path, cfg: Mapping) -> dict:
    """Render the clips of a checked config (see :func:`load_ui_activity`) into the folder ``out_dir``
    (made atomically, in the module's on-disk format); returns its layout (``layout.json``)."""
    layout, plan = _generated_layout(cfg)
    frames, size = cfg["frames"], cfg["image_size"]

    def fill(videos: np.ndarray) -> list[dict]:
        rows = []
        for n, (split, i, j) in enumerate(tqdm(plan, desc="UI activity clips", unit="clip", disable=not cfg["progress"])):
            rng = _clip_rng(cfg["seed"], split, i, j)
            rows.append(dict(split=split, intent=INTENTS[i].text, text=clip_text(i, rng)))
            videos[n] = render_clip(i, rng, frames, size)
        return rows

    with atomic_dir(out_dir, marker=_MARKER) as tmp:
        _write_cache(tmp, (len(plan), frames, size, size, 3), fill, layout)
    return json.loads((Path(out_dir) / _MARKER).read_text())


# ---------------------------------------------------------------------------------------- user folders
def _folder_digest(folder: Path, cfg: Mapping) -> str:
    rows = _read_metadata(folder)
    stats = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        path = Path(clip) if Path(clip).is_absolute() else folder / clip
        st = path.stat() if path.exists() else None
        stats.append(f"{clip}:{st.st_size}:{st.st_mtime_ns}" if st else f"{clip}:missing")
    return params_digest(
        dict(
            source="path",
            path=str(folder.resolve()),
            metadata=file_hash(folder / "metadata.jsonl"),
            clips=params_digest({"stats": stats}),
            frames=cfg["frames"],
            image_size=cfg["image_size"],
            fit=cfg["fit"],
            version=UI_ACTIVITY_VERSION,
        )
    )


def _convert_folder(out_dir: Path, folder: Path, cfg: Mapping) -> None:
    rows = _read_metadata(folder)
    layout = dict(
        version=UI_ACTIVITY_VERSION,
        source="path",
        path=str(folder.resolve()),
        frames=cfg["frames"],
        image_size=cfg["image_size"],
        fit=cfg["fit"],
        **_folder_layout(rows, folder),
    )
    order = sorted(range(len(rows)), key=lambda n: SPLITS.index(rows[n]["split"]))  # stable: grouped by split
    stacks: dict = {}

    def fill(videos: np.ndarray) -> list[dict]:
        for n, k in enumerate(tqdm(order, desc="UI activity clips", unit="clip", disable=not cfg["progress"])):
            videos[n] = _read_clip(folder, rows[k], cfg["frames"], cfg["image_size"], cfg["fit"], stacks)
        return [rows[k] for k in order]

    with atomic_dir(out_dir, marker=_MARKER) as tmp:
        _write_cache(tmp, (len(rows), cfg["frames"], cfg["image_size"], cfg["image_size"], 3), fill, layout)


# ---------------------------------------------------------------------------------------- loading
def _params(cfg: Mapping) -> dict:
    keys = ("intents", "zeroshot_intents", "clips_per_intent", "val_clips", "test_clips", "frames", "image_size", "seed")
    return dict({k: cfg[k] for k in keys}, source="generated", version=UI_ACTIVITY_VERSION)


def _load_cache(folder: Path) -> tuple[dict[str, UISplit], dict]:
    layout = json.loads((folder / _MARKER).read_text())
    rows = _read_metadata(folder)
    videos = np.load(folder / "videos.npy", mmap_mode="r")
    index = {text: i for i, text in enumerate(layout["intents"])}
    t, s = layout["frames"], layout["image_size"]
    splits = {}
    for split in SPLITS:
        rows_n = [n for n, r in enumerate(rows) if r["split"] == split]
        if rows_n and rows_n == list(range(rows_n[0], rows_n[-1] + 1)):
            block = videos[rows_n[0] : rows_n[-1] + 1]
        else:
            block = videos[rows_n] if rows_n else np.empty((0, t, s, s, 3), np.uint8)
        video = torch.from_numpy(np.ascontiguousarray(block.transpose(0, 1, 4, 2, 3)))
        intent = torch.tensor([index[rows[n]["intent"]] for n in rows_n], dtype=torch.int64)
        splits[split] = UISplit(video=video, intent=intent, text=[rows[n]["text"] for n in rows_n])
    return splits, layout


def load_ui_activity(
    data_cfg: Mapping | Any = None, *, extra_keys: Iterable[str] = ()
) -> tuple[dict[str, UISplit], dict[str, Any]]:
    """``(splits, info)``: UI activity clips for the ``data`` config, generated or read from ``data.path``.

    ``splits`` maps ``train`` / ``val`` / ``fewshot_test`` / ``zeroshot_test`` to :class:`UISplit` (clips
    grouped by intent).  ``info`` has ``intents`` (canonical texts of all intents; ``UISplit.intent``
    indexes it), ``fewshot_intents`` / ``zeroshot_intents`` (index lists), ``variants`` (the texts of
    each intent), ``frames``, ``image_size``, ``cache_dir`` (the data folder), ``cached``, ``seconds``,
    ``source`` and ``clips`` (per split).

    Keys of ``data_cfg`` (defaults): ``source`` ("generated" | "path"), ``path`` (a folder in the module's
    format, for source=path), ``intents`` (16, of :data:`INTENTS`), ``zeroshot_intents`` (4),
    ``clips_per_intent`` (40, train), ``val_clips`` (6), ``test_clips`` (10, few- and zero-shot test, per
    intent), ``frames`` (16), ``image_size`` (64), ``fit`` ("pad" | "stretch", for resizing user clips),
    ``seed`` (0), ``cache_dir`` ("~/.cache/jepa_rl"), ``progress`` (True).  ``name`` / ``kind`` and the
    ``extra_keys`` are ignored; other keys raise ValueError.  With source=path the intent counts,
    clip counts and seed are unused: the folder's metadata decides them.
    """
    cfg = _config(data_cfg, extra_keys)
    root = Path(cfg["cache_dir"]) / "ui_activity"
    t0 = time.perf_counter()
    if cfg["source"] == "generated":
        out_dir = root / params_digest(_params(cfg))
        cached = (out_dir / _MARKER).is_file()
        if not cached:
            generate_ui_activity(out_dir, cfg)
    else:
        folder = Path(str(cfg["path"])).expanduser()
        if not folder.is_dir():
            raise DatasetError(
                f"data.path={cfg['path']!r} is not a folder (expected metadata.jsonl + clips, see data/ui_activity/__init__.py)"
            )
        out_dir = root / _folder_digest(folder, cfg)
        cached = (out_dir / _MARKER).is_file()
        if not cached:
            _convert_folder(out_dir, folder, cfg)
    splits, layout = _load_cache(out_dir)
    info = dict(
        intents=layout["intents"],
        fewshot_intents=layout["fewshot_intents"],
        zeroshot_intents=layout["zeroshot_intents"],
        variants=layout["variants"],
        frames=layout["frames"],
        image_size=layout["image_size"],
        cache_dir=str(out_dir),
        cached=cached,
        source=cfg["source"],
        clips={k: len(v) for k, v in splits.items()},
        seconds=time.perf_counter() - t0,
        build_seconds=layout.get("seconds"),
    )
    log.info(
        "UI activity (%s in %.1fs): %d intents (%d zero-shot), clips %s, [T=%d, 3, %d, %d]",
        "cached" if cached else "built",
        info["seconds"],
        len(info["intents"]),
        len(info["zeroshot_intents"]),
        info["clips"],
        info["frames"],
        info["image_size"],
        info["image_size"],
    )
    return splits, info
