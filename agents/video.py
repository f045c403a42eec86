"""Writing rollout frames to video files (mp4 through imageio's bundled ffmpeg, or gif)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

VIDEO_FORMATS = ("mp4", "gif")


def write_video(frames: np.ndarray, path: str | Path, *, fps: int = 30) -> Path:
    """Writes ``frames`` [T, H, W, 3] uint8 to ``path`` (format from the suffix: .mp4 or .gif), atomically."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in VIDEO_FORMATS:
        raise ValueError(f"unknown video format {path.suffix!r} for {path}; use one of {['.' + f for f in VIDEO_FORMATS]}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3]; got {frames.dtype} {list(frames.shape)}")
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    if fmt == "mp4":
        # macro_block_size=2: only odd sizes get padded (the default of 16 would rescale 200-px frames)
        imageio.mimwrite(
            tmp,
            list(frames),
            format="FFMPEG",
            fps=fps,
            macro_block_size=2,
            codec="libx264",
            pixelformat="yuv420p",
            output_params=["-movflags", "+faststart"],
        )
    else:
        imageio.mimwrite(tmp, list(frames), format="GIF", duration=1000.0 / fps, loop=0)
    os.replace(tmp, path)
    return path


def html_video(path: str | Path, *, width: int = 320, caption: str | None = None) -> str:
    """An HTML snippet that embeds the video file (for notebooks: ``IPython.display.HTML``)."""
    import base64

    path = Path(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    if path.suffix.lower() == ".gif":
        media = f'<img width="{width}" src="data:image/gif;base64,{data}"/>'
    else:
        media = f'<video width="{width}" controls autoplay loop muted src="data:video/mp4;base64,{data}"></video>'
    label = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure style="display:inline-block;margin:4px">{media}{label}</figure>'
