"""Previews of UI activity clips.

:func:`save_preview` writes clips as a PNG strip (one row per clip, frames left to right, its text on the
left) or, for a ``.gif`` path, as an animation of the clips tiled in a grid; without clips it renders one
clip of each intent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from data.ui_activity.intents import INTENTS
from data.ui_activity.drawing import _font
from data.ui_activity.activity import render_clip


# ---------------------------------------------------------------------------------------- previews
def save_preview(
    path: str | Path,
    videos: np.ndarray | torch.Tensor | None = None,
    texts: Sequence[str] | None = None,
    *,
    intents: Sequence[int] | None = None,
    frames: int = 8,
    size: int = 64,
    seed: int = 0,
    scale: int = 2,
    columns: int = 4,
    fps: float = 4.0,
) -> Path:
    """Write clips as a PNG strip (one row per clip, frames left to right, the text on the left) or,
    for a ``.gif`` path, an animation of the clips tiled ``columns`` wide.

    ``videos`` (uint8 [K, T, S, S, 3] or [K, T, 3, S, S]) with ``texts``; without them one clip of each
    of ``intents`` (default: all of :data:`INTENTS`) is rendered with ``seed``.
    """
    path = Path(path)
    if videos is None:
        intents = list(range(len(INTENTS))) if intents is None else list(intents)
        rngs = [np.random.default_rng([seed, 99, i]) for i in intents]
        videos = np.stack([render_clip(i, r, frames, size) for i, r in zip(intents, rngs)])
        texts = [INTENTS[i].text for i in intents] if texts is None else texts
    videos = videos.numpy() if isinstance(videos, torch.Tensor) else np.asarray(videos)
    if videos.shape[2] == 3 and videos.shape[-1] != 3:
        videos = videos.transpose(0, 1, 3, 4, 2)
    k, t, h, w, _ = videos.shape
    texts = list(texts) if texts is not None else [""] * k
    if scale > 1:
        videos = videos.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        rows = -(-k // columns)
        grid = np.zeros((t, rows * (h + 2), columns * (w + 2), 3), np.uint8)
        for n in range(k):
            y, x = (n // columns) * (h + 2), (n % columns) * (w + 2)
            grid[:, y : y + h, x : x + w] = videos[n]
        images = [Image.fromarray(f) for f in grid]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
        return path
    label_w = 6 * max([len(s) for s in texts] + [0]) + 8 if any(texts) else 0
    sheet = Image.new("RGB", (label_w + t * (w + 2), k * (h + 2)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for n in range(k):
        y = n * (h + 2)
        if texts[n]:
            draw.text((4, y + h // 2 - 5), texts[n], fill=(0, 0, 0), font=_font())
        for f in range(t):
            sheet.paste(Image.fromarray(videos[n, f]), (label_w + f * (w + 2), y))
    sheet.save(path)
    return path
