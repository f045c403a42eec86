"""The on-disk folder format of UI activity data, and its readers.

A folder holds ``metadata.jsonl`` (one row per clip: ``clip``, ``split`` in :data:`SPLITS`, ``intent``,
``text``; see the package docstring) and the clips it points to: ``.npy`` arrays or stacks, folders of
frame images, or video files.  These functions check the rows, read a clip by sampling ``frames`` frames
uniformly and fitting them to a square image size (``pad`` letterboxes, ``stretch`` ignores the aspect
ratio), derive a folder's few- / zero-shot intents and their texts, and :func:`read_clip_folder` reads all
clips of a folder.  Generated caches are written in the same format.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from envs.buffer import DatasetError


SPLITS = ("train", "val", "fewshot_test", "zeroshot_test")


# ---------------------------------------------------------------------------------------- user folders
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")


def _read_metadata(folder: Path) -> list[dict]:
    meta = folder / "metadata.jsonl"
    if not meta.is_file():
        raise DatasetError(
            f"UI activity folder {folder} has no metadata.jsonl: one JSON object per clip with "
            f"'clip', 'split', 'intent', 'text' (see data/ui_activity/__init__.py)"
        )
    rows = []
    for n, line in enumerate(meta.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{meta}:{n} is not valid JSON ({err})") from err
        if not isinstance(row, dict):
            raise DatasetError(f"{meta}:{n} must be a JSON object, got {type(row).__name__}")
        missing = [k for k in ("clip", "split", "intent", "text") if k not in row]
        if missing:
            raise DatasetError(f"{meta}:{n} lacks {missing} (has {sorted(row)})")
        if row["split"] not in SPLITS:
            raise DatasetError(f"{meta}:{n} has split {row['split']!r}; splits are {', '.join(SPLITS)}")
        rows.append(row)
    if not rows:
        raise DatasetError(f"{meta} lists no clips")
    return rows


def _uniform_indices(length: int, frames: int) -> np.ndarray:
    """``frames`` indices spread uniformly over [0, length) (repeating frames when length < frames)."""
    return np.round(np.linspace(0, length - 1, frames)).astype(np.int64)


def _fit_frame(frame: np.ndarray | Image.Image, size: int, fit: str) -> np.ndarray:
    img = frame if isinstance(frame, Image.Image) else Image.fromarray(frame)
    img = img.convert("RGB")
    w, h = img.size
    if (w, h) == (size, size):
        return np.asarray(img)
    if fit == "pad" and w != h:
        side = max(w, h)
        square = Image.new("RGB", (side, side))
        square.paste(img, ((side - w) // 2, (side - h) // 2))
        img = square
    down = img.size[0] > size and img.size[1] > size
    return np.asarray(img.resize((size, size), Image.Resampling.BOX if down else Image.Resampling.BICUBIC))


def _as_frames(array: np.ndarray, where: str) -> np.ndarray:
    if array.dtype != np.uint8:
        raise DatasetError(f"clip {where} has dtype {array.dtype}; clips must be uint8 (0-255)")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or array.shape[0] < 1:
        raise DatasetError(
            f"clip {where} has shape {tuple(array.shape)}; expected [T, H, W, 3] (T >= 1; grey [T, H, W] and RGBA accepted)"
        )
    return array


def _read_clip(folder: Path, row: dict, frames: int, size: int, fit: str, stacks: dict) -> np.ndarray:
    """The clip of a metadata row: ``frames`` frames sampled uniformly, resized: uint8 [T, S, S, 3]."""
    path = Path(row["clip"])
    path = path if path.is_absolute() else folder / path
    where = f"{row['clip']!r} of {folder}"
    if not path.exists():
        raise DatasetError(f"clip {where} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_EXTS)
        if not files:
            raise DatasetError(f"clip folder {where} holds no frame images ({', '.join(_IMAGE_EXTS)})")
        chosen = [Image.open(files[i]) for i in _uniform_indices(len(files), frames)]
        return np.stack([_fit_frame(im, size, fit) for im in chosen])
    if path.suffix == ".npy":
        if path not in stacks:
            try:
                stacks[path] = np.load(path, mmap_mode="r", allow_pickle=False)
            except Exception as err:
                raise DatasetError(f"clip {where} is not a readable .npy ({type(err).__name__}: {err})") from err
        array = stacks[path]
        if "index" in row:
            if array.ndim < 4 or not 0 <= int(row["index"]) < len(array):
                raise DatasetError(f"clip {where} index {row['index']} is out of range for shape {array.shape}")
            array = array[int(row["index"])]
    else:
        import imageio.v3 as iio

        try:
            array = np.asarray(iio.imread(path, index=None))
        except Exception as err:
            raise DatasetError(f"clip {where} could not be read as a video ({type(err).__name__}: {err})") from err
    array = _as_frames(array, where)
    chosen = np.asarray(array[_uniform_indices(len(array), frames)])
    if chosen.shape[1:] == (size, size, 3):
        return chosen
    if chosen.shape[-1] == 1:
        chosen = np.repeat(chosen, 3, axis=-1)
    return np.stack([_fit_frame(np.ascontiguousarray(f[..., :3]), size, fit) for f in chosen])


def _folder_layout(rows: list[dict], folder: Path) -> dict:
    """Intents (few-shot then zero-shot, each in order of first appearance) and their variants."""
    train_intents = list(dict.fromkeys(r["intent"] for r in rows if r["split"] != "zeroshot_test"))
    zs_intents = list(dict.fromkeys(r["intent"] for r in rows if r["split"] == "zeroshot_test"))
    leaked = [i for i in zs_intents if i in train_intents]
    if leaked:
        raise DatasetError(
            f"{folder / 'metadata.jsonl'}: zero-shot intents {leaked[:5]} also occur in train / val / "
            f"fewshot_test; zero-shot intents must be held out of those splits"
        )
    intents = train_intents + zs_intents
    variants: dict[str, list[str]] = {i: [] for i in intents}
    for r in rows:
        if r["text"] not in variants[r["intent"]]:
            variants[r["intent"]].append(r["text"])
    return dict(
        intents=intents,
        variants=[variants[i] for i in intents],
        fewshot_intents=list(range(len(train_intents))),
        zeroshot_intents=list(range(len(train_intents), len(intents))),
    )


def read_clip_folder(
    folder: str | Path, frames: int, image_size: int, *, fit: str = "pad", progress: bool = False
) -> tuple[np.ndarray, list[dict]]:
    """All clips of a folder in the module's format: (uint8 [N, frames, S, S, 3], metadata rows)."""
    folder = Path(folder).expanduser()
    rows = _read_metadata(folder)
    stacks: dict = {}
    videos = np.empty((len(rows), frames, image_size, image_size, 3), dtype=np.uint8)
    for n, row in enumerate(tqdm(rows, desc="UI activity clips", unit="clip", disable=not progress)):
        videos[n] = _read_clip(folder, row, frames, image_size, fit, stacks)
    return videos, rows
