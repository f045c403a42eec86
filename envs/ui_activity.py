"""UI activity clips made here: procedural phone-screen recordings of user intents (UI-JEPA's data).

UI-JEPA (Fu et al., arXiv 2409.04081) embeds videos of user-interface activity and decodes the user's
intent as text.  Only its datasets (IIT / IIW) were released and they cannot be downloaded here, so this
module *generates* short screen recordings, and reads real recordings converted to the same format.

Generated clips
    :func:`render_clip` draws a phone screen with Pillow (built-in bitmap font, no downloads) at 128·k
    pixels (k = ⌈size / 64⌉) and box-downsamples it to ``size``: status bar (its Wi-Fi / Bluetooth /
    airplane icons follow the settings), home screen of app icons, app headers coloured per app, list
    rows, buttons, toggles, text fields, a keyboard, share sheets and pickers, and a touch indicator
    (grey circle, darker with a ripple on a tap) that moves between targets.  Each intent
    (:data:`INTENTS`) is a scripted activity across one or two apps: launching an app, scrolling a list,
    flipping a toggle, typing into a field character by character, opening a menu, switching apps.  Per
    clip (seeded) the colours jitter, the home-screen layout, rows, contacts order, texts and timing
    (idle time, speed, the moment of each action) are random.  ``frames`` frames are sampled uniformly
    over the whole activity, as UI-JEPA samples 16 frames over each video.

Intents
    :data:`INTENTS` (20) are built *compositionally* from a few families (toggle a setting on/off, message /
    call / share a photo with a contact, search a place in an app, set an alarm, play a genre, take a
    photo) and arguments.  Each has a canonical text and 4-5 paraphrases made from the family's templates
    and the arguments' synonyms.  A config uses the first ``intents`` of them; :func:`zeroshot_split`
    holds out ``zeroshot_intents`` whose words (over all paraphrases) all occur in the remaining, few-shot
    intents, scanning from the end of the list: e.g. "turn on bluetooth" is zero-shot while "turn on wifi"
    and "turn off bluetooth" are trained.  A clip's reference text is one paraphrase drawn at random.

Splits
    ``train`` / ``val`` / ``fewshot_test`` hold ``clips_per_intent`` / ``val_clips`` / ``test_clips``
    clips of each few-shot intent; ``zeroshot_test`` holds ``test_clips`` clips of each zero-shot intent.
    Clip j of intent i in split s depends only on (seed, s, i, j) and the sizes.

On-disk format (generated caches use it; convert real recordings such as IIT / IIW to it)
    A folder with ``metadata.jsonl``, one JSON object per clip::

        {"clip": "clips/000123.npy", "split": "train", "intent": "turn on wifi", "text": "enable wi-fi"}

    * ``split``: ``train``, ``val``, ``fewshot_test`` or ``zeroshot_test``; intents of ``zeroshot_test``
      must not occur in the other splits.
    * ``intent``: the canonical intent text (the class); ``text``: this clip's reference text.
    * ``clip``: a path relative to the folder (or absolute) to either a ``.npy`` uint8 array
      [T, H, W, 3] (grey [T, H, W] and RGBA are accepted), a folder of frame images (sorted by name),
      or a video file imageio can read (``.mp4`` / ``.gif``).  With an optional ``"index": i`` the
      ``.npy`` holds a stack [N, T, H, W, 3] and the clip is row i (generated caches: ``videos.npy``).

    Any length and size: :func:`load_ui_activity` samples ``frames`` frames uniformly over each clip
    (repeating frames of shorter clips) and resizes them to ``image_size`` square (``fit``: ``pad``
    letterboxes with black, ``stretch`` ignores the aspect ratio).

Caching
    Data (generated, or converted from ``data.path``) is written once to
    ``<cache_dir>/ui_activity/<hash of the config>/`` in the format above (``videos.npy`` + metadata),
    atomically, with a progress bar; the same config gives bit-identical arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from envs.buffer import DatasetError, atomic_dir, file_hash, params_digest

__all__ = [
    "INTENTS",
    "SPLITS",
    "Intent",
    "UISplit",
    "intent_words",
    "zeroshot_split",
    "render_clip",
    "clip_text",
    "generate_ui_activity",
    "load_ui_activity",
    "read_clip_folder",
    "save_preview",
]

log = logging.getLogger(__name__)

UI_ACTIVITY_VERSION = 1
SPLITS = ("train", "val", "fewshot_test", "zeroshot_test")
_MARKER = "layout.json"
_BASE = 128  # drawing units: the screen is 128 × 128 units, k pixels each

# ---------------------------------------------------------------------------------------- intents
# Families: paraphrase templates ({x}: the first argument, {y}: the second).
_TEMPLATES = {
    "toggle_on": ("turn on {x}", "switch {x} on", "enable {x}", "open settings and turn on {x}", "turn {x} on"),
    "toggle_off": ("turn off {x}", "switch {x} off", "disable {x}", "open settings and turn off {x}", "turn {x} off"),
    "message": ("send a message to {x}", "text {x}", "message {x}", "send {x} a text", "write a message to {x}"),
    "call": ("call {x}", "phone {x}", "give {x} a call", "make a call to {x}", "ring {x}"),
    "share": ("share a photo with {x}", "send a photo to {x}", "send {x} a picture", "share a picture with {x}"),
    "search": ("search for {x} in {y}", "find {x} in {y}", "look up {x} in {y}", "search {y} for {x}",
               "show me {x} in {y}"),
    "alarm": ("set an alarm for {x}", "wake me up at {x}", "create an alarm for {x}", "set alarm at {x}"),
    "play": ("play {x}", "put on {x}", "start playing {x}", "listen to {x}"),
    "camera": ("take a photo", "take a picture", "snap a photo", "open the camera and take a photo",
               "capture a picture"),
}
# Arguments: synonyms (the first one is canonical).
_SYNONYMS = {
    "wifi": ("wifi", "wi-fi"), "bluetooth": ("bluetooth",), "airplane": ("airplane mode", "flight mode"),
    "dark": ("dark mode", "the dark theme"),
    "alice": ("Alice",), "bob": ("Bob",),
    "pizza": ("pizza places", "pizza restaurants"), "coffee": ("coffee shops", "cafes"),
    "maps": ("maps", "the maps app"), "browser": ("the browser", "the web"),
    "7am": ("7 am", "7:00 am"), "6am": ("6 am", "6:00 am"),
    "jazz": ("some jazz", "jazz music"), "rock": ("some rock music", "rock music"),
}


@dataclasses.dataclass(frozen=True)
class Intent:
    """A scripted activity: ``family`` (a key of the templates) and its arguments."""

    family: str
    args: tuple[str, ...] = ()

    @property
    def variants(self) -> tuple[str, ...]:
        """Canonical text first, then paraphrases: template i with each argument's synonym i (cycled)."""
        out: list[str] = []
        for i, template in enumerate(_TEMPLATES[self.family]):
            names = dict(zip("xy", (_SYNONYMS[a][i % len(_SYNONYMS[a])] for a in self.args)))
            text = template.format(**names)
            if text not in out:
                out.append(text)
        return tuple(out)

    @property
    def text(self) -> str:
        return self.variants[0]


# Ordered so that any prefix has held-out combinations late in the list (see zeroshot_split).
INTENTS: tuple[Intent, ...] = (
    Intent("toggle_on", ("wifi",)),
    Intent("toggle_off", ("bluetooth",)),
    Intent("message", ("alice",)),
    Intent("call", ("bob",)),
    Intent("toggle_on", ("bluetooth",)),
    Intent("call", ("alice",)),
    Intent("search", ("pizza", "maps")),
    Intent("alarm", ("7am",)),
    Intent("play", ("jazz",)),
    Intent("share", ("alice",)),
    Intent("toggle_on", ("airplane",)),
    Intent("search", ("coffee", "maps")),
    Intent("alarm", ("6am",)),
    Intent("toggle_off", ("airplane",)),
    Intent("camera"),
    Intent("share", ("bob",)),
    Intent("play", ("rock",)),
    Intent("message", ("bob",)),
    Intent("toggle_on", ("dark",)),
    Intent("search", ("coffee", "browser")),
)


def intent_words(text: str) -> list[str]:
    """Lower-case word tokens of a text (``wi-fi`` and ``7:00`` are one word each)."""
    return re.findall(r"[a-z0-9][a-z0-9:'-]*", text.lower())


def zeroshot_split(n_intents: int, n_zeroshot: int) -> tuple[list[int], list[int]]:
    """(few-shot, zero-shot) indices among the first ``n_intents`` of :data:`INTENTS`.

    Scanning from the last intent backwards, an intent is held out when every word of all its
    paraphrases occurs in the paraphrases of the intents not held out; if fewer than ``n_zeroshot``
    qualify, the rest are the latest intents with the highest such word coverage.
    """
    words = [set().union(*(intent_words(v) for v in INTENTS[i].variants)) for i in range(n_intents)]
    held: list[int] = []

    def coverage(i: int) -> float:
        seen = set().union(*(words[j] for j in range(n_intents) if j != i and j not in held))
        return len(words[i] & seen) / len(words[i])

    for i in reversed(range(n_intents)):
        if len(held) == n_zeroshot:
            break
        if coverage(i) == 1.0:
            held.append(i)
    while len(held) < n_zeroshot:
        rest = [i for i in reversed(range(n_intents)) if i not in held]
        held.append(max(rest, key=coverage))
    held.sort()
    return [i for i in range(n_intents) if i not in held], held


# ---------------------------------------------------------------------------------------- drawing
_APPS = {  # name: (colour, glyph)
    "settings": ((142, 142, 147), "gear"), "messages": ((52, 199, 89), "bubble"),
    "phone": ((0, 168, 150), "handset"), "browser": ((20, 110, 235), "compass"),
    "maps": ((88, 86, 214), "pin"), "music": ((250, 45, 85), "note"), "photos": ((255, 196, 0), "flower"),
    "camera": ((64, 64, 70), "lens"), "clock": ((24, 24, 24), "clock"),
    "weather": ((90, 200, 250), "sun"), "notes": ((255, 149, 0), "lines"), "calendar": ((255, 59, 48), "grid"),
    "health": ((250, 250, 250), "heart"),
}
_CONTACTS = {"alice": ("Alice", (175, 82, 222)), "bob": ("Bob", (255, 149, 0)), "carol": ("Carol", (48, 176, 199)),
             "dave": ("Dave", (162, 132, 94)), "emma": ("Emma", (88, 86, 214)), "mom": ("Mom", (255, 45, 85))}
_SETTING_ROWS = {  # key: (label, icon colour); toggles first
    "airplane": ("Airplane Mode", (255, 149, 0)), "wifi": ("Wi-Fi", (0, 122, 255)),
    "bluetooth": ("Bluetooth", (0, 122, 255)), "cellular": ("Cellular", (52, 199, 89)),
    "notifications": ("Notifications", (255, 59, 48)), "sounds": ("Sounds", (255, 45, 85)),
    "focus": ("Focus", (88, 86, 214)), "general": ("General", (142, 142, 147)),
    "dark": ("Dark Mode", (40, 40, 60)), "display": ("Display", (0, 122, 255)),
    "battery": ("Battery", (52, 199, 89)), "privacy": ("Privacy", (0, 122, 255)),
}
_GENRES = {"jazz": ("Jazz", (40, 90, 200)), "rock": ("Rock", (200, 30, 30)), "pop": ("Pop", (240, 80, 170)),
           "classical": ("Classical", (150, 110, 70)), "hiphop": ("Hip-Hop", (130, 60, 200)),
           "country": ("Country", (120, 140, 40))}
_PLACES = {"pizza": ("pizza", (230, 60, 40), ("Luigi's", "Pizza Roma", "Slice House", "Napoli")),
           "coffee": ("coffee", (120, 80, 50), ("Bean Bar", "Cafe Mocha", "Brew Lab", "Daily Grind"))}
_MESSAGES = ("hi!", "on my way", "see you soon", "call me", "thanks", "ok", "running late", "lunch?")
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KB_H = 44.0
_SB = 10.0  # status bar height
_GREEN = (52, 199, 89)
_BLUE = (0, 122, 255)


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    # The built-in bitmap font (no file, no download); 6 px per character, cap height 7.
    loader = getattr(ImageFont, "load_default_imagefont", None)
    return loader() if loader is not None else ImageFont.load_default()


@functools.lru_cache(maxsize=8192)
def _text_mask(text: str, scale: int) -> Image.Image:
    font = _font()
    w = max(1, int(math.ceil(font.getlength(text))))
    im = Image.new("L", (w, 10))
    ImageDraw.Draw(im).text((0, -1), text, fill=255, font=font)
    return im if scale == 1 else im.resize((w * scale, 10 * scale), Image.Resampling.NEAREST)


def _mix(a: Sequence[float], b: Sequence[float], p: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * p)) for x, y in zip(a, b))


def _ease(p: float) -> float:
    p = min(max(p, 0.0), 1.0)
    return p * p * (3.0 - 2.0 * p)


class _Canvas:
    """A 128 × 128-unit drawing surface of 128·k pixels; coordinates in units (floats)."""

    def __init__(self, k: int, fill=(0, 0, 0)):
        self.k = k
        self.img = Image.new("RGB", (_BASE * k, _BASE * k), fill)
        self.d = ImageDraw.Draw(self.img)

    def _b(self, x0, y0, x1, y1):
        k = self.k
        x0, y0 = round(x0 * k), round(y0 * k)
        return x0, y0, max(x0, round(x1 * k) - 1), max(y0, round(y1 * k) - 1)

    def rect(self, x0, y0, x1, y1, fill=None, r=0.0, outline=None, width=1):
        box = self._b(x0, y0, x1, y1)
        if r > 0:
            self.d.rounded_rectangle(box, radius=max(1, round(r * self.k)), fill=fill, outline=outline,
                                     width=width * self.k)
        else:
            self.d.rectangle(box, fill=fill, outline=outline, width=width * self.k)

    def circle(self, cx, cy, r, fill=None, outline=None, width=1):
        self.d.ellipse(self._b(cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width * self.k)

    def line(self, pts, fill, width=1.0):
        self.d.line([(x * self.k, y * self.k) for x, y in pts], fill=fill, width=max(1, round(width * self.k)))

    def poly(self, pts, fill):
        self.d.polygon([(x * self.k, y * self.k) for x, y in pts], fill=fill)

    def text(self, x, y, s, fill, scale=1, align="left", max_w=None):
        """Text with its cap top at ``y`` (cap height 7·scale units); ``max_w`` keeps the tail."""
        if not s:
            return 0.0
        if max_w is not None:
            while len(s) > 1 and 6 * scale * len(s) > max_w:
                s = s[1:]
        mask = _text_mask(s, scale * self.k)
        w = mask.size[0] / self.k
        x = x - w / 2 if align == "center" else x - w if align == "right" else x
        self.d.bitmap((round(x * self.k), round((y - 2 * scale) * self.k)), mask, fill=fill)
        return w

    def paste(self, im: Image.Image, x, y, mask=None):
        self.img.paste(im, (round(x * self.k), round(y * self.k)), mask)


def _text_width(s: str, scale: int = 1) -> float:
    return _font().getlength(s) * scale


@functools.lru_cache(maxsize=16)
def _cursor_sprite(k: int, pressed: bool) -> Image.Image:
    r = (4.0 if pressed else 5.0) * k
    n = int(2 * r + 3)
    im = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    fill = (90, 90, 96, 215) if pressed else (235, 235, 240, 165)
    d.ellipse((1, 1, n - 2, n - 2), fill=fill, outline=(40, 40, 44, 220), width=max(1, k))
    return im


def _glyph(c: _Canvas, kind: str, x: float, y: float, s: float, col):
    """App-icon glyph ``kind`` in a square icon at (x, y) of size s."""
    cx, cy, u = x + s / 2, y + s / 2, s / 20
    w = (255, 255, 255)
    if kind == "gear":
        c.circle(cx, cy, 7 * u, fill=(90, 90, 96))
        c.circle(cx, cy, 5 * u, fill=w)
        c.circle(cx, cy, 2.2 * u, fill=col)
    elif kind == "bubble":
        c.rect(cx - 7 * u, cy - 5 * u, cx + 7 * u, cy + 4 * u, fill=w, r=4 * u)
        c.poly([(cx - 5 * u, cy + 2 * u), (cx - 7 * u, cy + 7 * u), (cx - 1 * u, cy + 3 * u)], fill=w)
    elif kind == "handset":
        c.line([(cx - 5 * u, cy - 5 * u), (cx + 5 * u, cy + 5 * u)], fill=w, width=4 * u)
        c.circle(cx - 5 * u, cy - 5 * u, 2.6 * u, fill=w)
        c.circle(cx + 5 * u, cy + 5 * u, 2.6 * u, fill=w)
    elif kind == "compass":
        c.circle(cx, cy, 7 * u, outline=w, width=1)
        mid = [(cx - 1.5 * u, cy - 1.5 * u), (cx + 1.5 * u, cy + 1.5 * u)]
        c.poly([(cx + 5 * u, cy - 5 * u), *mid], fill=(255, 59, 48))
        c.poly([(cx - 5 * u, cy + 5 * u), *mid], fill=w)
    elif kind == "pin":
        c.circle(cx, cy - 2 * u, 5 * u, fill=w)
        c.poly([(cx - 4 * u, cy), (cx + 4 * u, cy), (cx, cy + 7 * u)], fill=w)
        c.circle(cx, cy - 2 * u, 2 * u, fill=col)
    elif kind == "note":
        c.circle(cx - 2 * u, cy + 4 * u, 3 * u, fill=w)
        c.rect(cx, cy - 6 * u, cx + 1.6 * u, cy + 4 * u, fill=w)
        c.rect(cx, cy - 6 * u, cx + 6 * u, cy - 3.5 * u, fill=w)
    elif kind == "flower":
        petals = (((0, -4), (255, 59, 48)), ((4, 0), (52, 199, 89)), ((0, 4), (0, 122, 255)), ((-4, 0), (175, 82, 222)))
        for (dx, dy), petal in petals:
            c.circle(cx + dx * u, cy + dy * u, 3.5 * u, fill=petal)
    elif kind == "lens":
        c.rect(cx - 7 * u, cy - 4 * u, cx + 7 * u, cy + 6 * u, fill=(200, 200, 205), r=2 * u)
        c.circle(cx, cy + 1 * u, 3.5 * u, fill=(30, 30, 34))
    elif kind == "clock":
        c.circle(cx, cy, 7.5 * u, fill=w)
        c.line([(cx, cy), (cx, cy - 5 * u)], fill=(20, 20, 20), width=1.2 * u)
        c.line([(cx, cy), (cx + 4 * u, cy + 1 * u)], fill=(255, 149, 0), width=1.2 * u)
    elif kind == "sun":
        c.circle(cx - 2 * u, cy - 2 * u, 4.5 * u, fill=(255, 214, 10))
        c.rect(cx - 5 * u, cy + 0 * u, cx + 7 * u, cy + 6 * u, fill=w, r=3 * u)
    elif kind == "lines":
        c.rect(x + 2 * u, y + 2 * u, x + s - 2 * u, y + s - 2 * u, fill=(255, 250, 230), r=2 * u)
        for i in range(3):
            c.rect(cx - 5 * u, cy - 3 * u + 4 * i * u, cx + 5 * u, cy - 2 * u + 4 * i * u, fill=(180, 170, 140))
    elif kind == "grid":
        c.rect(x + 2 * u, y + 5 * u, x + s - 2 * u, y + s - 2 * u, fill=w, r=2 * u)
        c.text(cx, cy - 2 * u, "24", (30, 30, 30), align="center")
    elif kind == "heart":
        c.circle(cx - 2.5 * u, cy - 2 * u, 3 * u, fill=(255, 45, 85))
        c.circle(cx + 2.5 * u, cy - 2 * u, 3 * u, fill=(255, 45, 85))
        c.poly([(cx - 5.5 * u, cy - 1 * u), (cx + 5.5 * u, cy - 1 * u), (cx, cy + 6 * u)], fill=(255, 45, 85))


def _toggle_switch(c: _Canvas, x: float, y: float, p: float, off_col):
    """A 17 × 9 switch at (x, y), ``p`` ∈ [0, 1] from off (grey) to on (green)."""
    p = _ease(p)
    c.rect(x, y, x + 17, y + 9, fill=_mix(off_col, _GREEN, p), r=4.5)
    c.circle(x + 4.5 + 8 * p, y + 4.5, 3.6, fill=(255, 255, 255))


def _avatar(c: _Canvas, cx: float, cy: float, r: float, label: str, col, scale: int = 1):
    c.circle(cx, cy, r, fill=col)
    c.text(cx, cy - 3.5 * scale, label[0], (255, 255, 255), scale=scale, align="center")


def _key_xy(ch: str) -> tuple[float, float]:
    """Centre of the key typing ``ch`` on the keyboard (shown fully: its top at 128 − 44)."""
    top = _BASE - _KB_H
    if ch == " ":
        return (64.0, top + 38.0)
    if ch == "\n":
        return (_BASE - 14.0, top + 38.0)
    for r, row in enumerate(_KEY_ROWS):
        if ch in row:
            w = _BASE / 10
            x0 = (_BASE - w * len(row)) / 2
            return (x0 + w * (row.index(ch) + 0.5), top + 5.5 + 11 * r)
    return (12.5, top + 38.0)  # digits and punctuation: the "123" key


def _keyboard(c: _Canvas, top: float, pal: Mapping):
    dark = pal["row"][0] < 100
    c.rect(0, top, _BASE, _BASE, fill=(50, 50, 54) if dark else (208, 211, 218))
    key = (100, 100, 105) if dark else (255, 255, 255)
    w = _BASE / 10
    for r, row in enumerate(_KEY_ROWS):
        x0 = (_BASE - w * len(row)) / 2
        for i in range(len(row)):
            x = x0 + w * i
            c.rect(x + 0.8, top + 1.5 + 11 * r, x + w - 0.8, top + 9.5 + 11 * r, fill=key, r=1.5)
    special = (80, 80, 85) if dark else (172, 177, 187)
    c.rect(1, top + 23.5, 15, top + 31.5, fill=special, r=1.5)
    c.rect(_BASE - 15, top + 23.5, _BASE - 1, top + 31.5, fill=special, r=1.5)
    c.rect(1, top + 34, 24, top + 42, fill=special, r=1.5)
    c.rect(26, top + 34, _BASE - 28, top + 42, fill=key, r=1.5)
    c.rect(_BASE - 26, top + 34, _BASE - 1, top + 42, fill=_BLUE, r=1.5)


def _key_popup(c: _Canvas, xy: tuple[float, float]):
    """The enlarged key shown above a pressed letter key."""
    x, y = xy
    top = _BASE - _KB_H
    r = int((y - top) // 11)
    if not 0 <= r < 3 or y < top:
        return
    row = _KEY_ROWS[r]
    w = _BASE / 10
    x0 = (_BASE - w * len(row)) / 2
    i = int((x - x0) // w)
    if not 0 <= i < len(row):
        return
    kx = x0 + w * (i + 0.5)
    ky = top + 1.5 + 11 * r
    c.rect(kx - 7, ky - 16, kx + 7, ky + 8, fill=(255, 255, 255), outline=(170, 170, 178), r=3)
    c.text(kx, ky - 12, row[i], (20, 20, 25), align="center")


def _photo_colours(rng: np.random.Generator) -> tuple:
    """A random photo: sky, ground, sun and two blobs (colours and positions)."""
    sky = tuple(int(v) for v in rng.integers(80, 230, 3))
    ground = tuple(int(v) for v in rng.integers(30, 170, 3))
    horizon = float(rng.uniform(0.4, 0.75))
    sun = (float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, horizon - 0.1)), float(rng.uniform(0.06, 0.15)))
    blobs = tuple((float(rng.uniform(0, 1)), float(rng.uniform(horizon - 0.1, 1)), float(rng.uniform(0.08, 0.2)),
                   tuple(int(v) for v in rng.integers(0, 255, 3))) for _ in range(2))
    return sky, ground, horizon, sun, blobs


def _photo_thumb(c: _Canvas, photo: tuple, x: float, y: float, w: float, h: float):
    sky, ground, horizon, (sx, sy, sr), blobs = photo
    c.rect(x, y, x + w, y + h * horizon, fill=sky)
    c.rect(x, y + h * horizon, x + w, y + h, fill=ground)
    c.circle(x + sx * w, y + sy * h, sr * min(w, h) * 1.5, fill=(255, 220, 90))
    for bx, by, br, col in blobs:
        c.circle(x + bx * w, y + by * h, br * min(w, h) * 1.5, fill=col)


def _map_image(rng: np.random.Generator, k: int) -> Image.Image:
    """A city map: beige ground, a park, water, and a grid of roads."""
    c = _Canvas(k, fill=(236, 232, 220))
    px, py = float(rng.uniform(0, 90)), float(rng.uniform(30, 100))
    c.rect(px, py, px + float(rng.uniform(20, 40)), py + float(rng.uniform(15, 30)), fill=(180, 220, 160), r=4)
    wx = float(rng.uniform(-20, 100))
    c.circle(wx, float(rng.uniform(90, 140)), float(rng.uniform(18, 30)), fill=(160, 200, 240))
    for _ in range(int(rng.integers(3, 6))):
        y = float(rng.uniform(25, 125))
        c.line([(0, y), (_BASE, y + float(rng.uniform(-20, 20)))], fill=(255, 255, 255), width=2.5)
    for _ in range(int(rng.integers(3, 6))):
        x = float(rng.uniform(0, 128))
        c.line([(x, 20), (x + float(rng.uniform(-20, 20)), _BASE)], fill=(255, 255, 255), width=2.5)
    y = float(rng.uniform(40, 110))
    c.line([(0, y), (_BASE, y + float(rng.uniform(-30, 30)))], fill=(250, 210, 100), width=3.5)
    return c.img


def _album(c: _Canvas, genre: str, x: float, y: float, s: float, variant: int = 0):
    """Album art of a genre: its colour with a genre pattern (jazz: rings, rock: zigzag, others: bars)."""
    _, col = _GENRES[genre]
    col = _mix(col, (255, 255, 255), 0.12 * (variant % 3))
    c.rect(x, y, x + s, y + s, fill=col, r=s * 0.1)
    light = _mix(col, (255, 255, 255), 0.5)
    if genre == "jazz":
        c.circle(x + s / 2, y + s / 2, s * 0.32, outline=light, width=1)
        c.circle(x + s / 2, y + s / 2, s * 0.12, fill=light)
    elif genre == "rock":
        pts = [(x + s * (0.15 + 0.14 * i), y + s * (0.35 if i % 2 else 0.65)) for i in range(6)]
        c.line(pts, fill=light, width=max(1.0, s / 14))
    else:
        for i in range(3):
            x0 = x + s * (0.2 + 0.22 * i)
            c.rect(x0, y + s * (0.7 - 0.15 * i), x0 + s * 0.12, y + s * 0.8, fill=light)


# effects: each ``effect(state, p)`` applies its action at progress p ∈ [0, 1] to a fresh copy of the
# state in which every earlier action is complete, so it reads its start values from the state.
def _set(**values) -> Callable[[dict, float], None]:
    """Numeric keys move to their values (eased), other keys switch once the animation starts."""
    def effect(s, p):
        for key, v in values.items():
            a = s.get(key)
            s[key] = a + (v - a) * _ease(p) if isinstance(v, float) else (v if p > 0 else a)
    return effect


def _go(screen: str, kind: str = "push", origin=None, **values) -> Callable[[dict, float], None]:
    """Transition to ``screen``: ``launch`` zooms from ``origin`` (x, y, size), ``push`` slides, ``fade``."""
    extra = _set(**values)

    def effect(s, p):
        s["prev"], s["prev_scroll"] = s["screen"], s["scroll"]
        s["trans"] = (kind, _ease(p), origin) if p < 1 else None
        s["screen"], s["scroll"] = screen, 0.0
        extra(s, p)
    return effect


def _append(ch: str) -> Callable[[dict, float], None]:
    def effect(s, p):
        s["field"] = s["field"] + ch
    return effect


def _toggle(key: str, value: float, dark: bool) -> Callable[[dict, float], None]:
    def effect(s, p):
        a = s["toggles"].get(key, 0.0)
        s["toggles"] = {**s["toggles"], key: a + (value - a) * _ease(p)}
        if dark:
            s["dark"] = s["toggles"][key]
    return effect


def _send(text: str, photo: bool = False) -> Callable[[dict, float], None]:
    width = 42.0 if photo else min(_BASE - 30.0, _text_width(text) + 8)

    def effect(s, p):
        s["bubbles"] = s["bubbles"] + ((True, width, 1, "photo" if photo else text),)
        s["field"], s["attach"] = "", 0.0
    return effect


def _picker(wheel: int, target: float) -> Callable[[dict, float], None]:
    def effect(s, p):
        values = list(s["picker"])
        values[wheel] += (target - values[wheel]) * _ease(p)
        s["picker"] = tuple(values)
    return effect


# ---------------------------------------------------------------------------------------- scripts
@dataclasses.dataclass
class _Step:
    """One action: move the indicator to ``to`` (``move`` s), press (``press`` s; 0 for a pause),
    then ``effect`` animates over ``anim`` s while the indicator moves by ``drag`` (a swipe)."""

    move: float
    to: tuple[float, float] | None
    press: float
    anim: float
    effect: Callable[[dict, float], None] | None = None
    drag: tuple[float, float] = (0.0, 0.0)
    t0: float = 0.0


class _Clip:
    """One clip of an intent: per-clip style, content and script; :meth:`frame` renders time t (s)."""

    def __init__(self, intent: Intent, rng: np.random.Generator, k: int):
        self.intent, self.rng, self.k = intent, rng, k
        self.speed = float(rng.uniform(0.7, 1.4))
        self.app_col = {name: self.jit(col) for name, (col, _) in _APPS.items()}
        self.header_h = float(rng.uniform(15, 21))
        self.row_h = float(rng.uniform(14, 18))
        self.margin = float(rng.uniform(3, 7))
        self.clock_text = f"{int(rng.integers(1, 13))}:{int(rng.integers(0, 60)):02d}"
        # home screen: a wallpaper gradient, the apps in random slots of a 4 × 3 grid and a 4-icon dock
        top, bottom = np.asarray(self.jit((60, 90, 160), 60)), np.asarray(self.jit((200, 120, 160), 60))
        ramp = np.linspace(0.0, 1.0, _BASE * k)[:, None, None]
        wall = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (_BASE * k, _BASE * k, 3))
        self.wallpaper = Image.fromarray(np.ascontiguousarray(wall).astype(np.uint8))
        self.dock_col = _mix(bottom, (255, 255, 255), 0.3)
        self.icon = float(rng.uniform(18, 21))
        gx, gy = float(rng.uniform(7, 12)), float(rng.uniform(15, 20))
        step_x = (_BASE - 2 * gx - self.icon) / 3
        slots = [(gx + i * step_x, gy + j * 27.0) for j in range(3) for i in range(4)]
        slots += [(gx + i * step_x, 104.0) for i in range(4)]
        order = rng.permutation(len(slots))
        self.home = {app: slots[order[i]] for i, app in enumerate(_APPS)}
        self.call_bg = self.jit((40, 44, 52), 10)
        self.clock_accent = self.jit((255, 149, 0), 8)
        self.state: dict[str, Any] = dict(
            screen="home", prev=None, prev_scroll=0.0, trans=None, scroll=0.0, dark=0.0, toggles={}, kb=0.0,
            field="", focus=False, who="alice", history=(), bubbles=(), attach=0.0, sheet=0.0, photo=0,
            results=0.0, place="pizza", picker=None, alarms=(), new_alarm=0.0, flash=0.0, photo_taken=0.0,
            focus_at=0.0)
        if rng.random() < 0.25:
            self.state["dark"] = 1.0
        self.steps: list[_Step] = []
        self.start = self.pos = (float(rng.uniform(30, 98)), float(rng.uniform(70, 120)))
        self.build()
        t = 0.0
        for step in self.steps:
            step.t0 = t
            t += step.move + step.press + step.anim
        self.duration = t

    def jit(self, col, a: int = 14) -> tuple[int, int, int]:
        return tuple(int(v) for v in np.clip(np.asarray(col) + self.rng.integers(-a, a + 1, 3), 0, 255))

    # -- script primitives
    def dur(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi)) / self.speed

    def wait(self, lo: float, hi: float):
        self.steps.append(_Step(self.dur(lo, hi), None, 0.0, 0.0))

    def tap(self, xy, effect, anim=(0.25, 0.4), move=(0.35, 0.7), jitter=2.0) -> _Step:
        r = self.rng
        to = (xy[0] + float(r.uniform(-jitter, jitter)), xy[1] + float(r.uniform(-jitter, jitter)))
        step = _Step(self.dur(*move), to, self.dur(0.08, 0.14), self.dur(*anim), effect)
        self.steps.append(step)
        self.pos = to
        return step

    def swipe(self, xy, dy: float, effect, dur=(0.4, 0.7)):
        """Press at ``xy`` and drag vertically by ``dy`` while ``effect`` animates (scroll lists, wheels)."""
        to = (xy[0] + float(self.rng.uniform(-3, 3)), xy[1])
        self.steps.append(_Step(self.dur(0.3, 0.6), to, self.dur(0.05, 0.1), self.dur(*dur), effect, (0.0, dy)))
        self.pos = (to[0], to[1] + dy)

    def scroll_into_view(self, x_range, y: float, limit: float = 100.0) -> float:
        """Swipe the list up (by at most 65 units a swipe) until ``y`` is above ``limit``; returns the new y."""
        scroll = 0.0
        while y > limit:
            dy = min(y - float(self.rng.uniform(45, 70)), 65.0)
            scroll += dy
            self.swipe((float(self.rng.uniform(*x_range)), float(self.rng.uniform(92, 104))), -dy, _set(scroll=scroll))
            y -= dy
        return y

    def open_app(self, app: str):
        x, y = self.home[app]
        self.wait(0.3, 1.2)
        self.tap((x + self.icon / 2, y + self.icon / 2), _go(app, "launch", (x, y, self.icon)), anim=(0.3, 0.45))
        self.wait(0.2, 0.6)

    def type_text(self, text: str):
        for ch in text:
            self.tap(_key_xy(ch), _append(ch), anim=(0.0, 0.0), move=(0.1, 0.2), jitter=1.0)

    def list_top(self) -> float:
        return _SB + self.header_h + 4.0

    # -- intents
    def build(self):
        fam, args = self.intent.family, self.intent.args
        if fam in ("toggle_on", "toggle_off"):
            self.script_toggle(args[0], fam == "toggle_on")
        else:
            getattr(self, "script_" + fam)(*args)
        self.wait(0.6, 1.6)

    def script_toggle(self, key: str, on: bool):
        rng = self.rng
        toggles = {k: float(rng.random() < 0.5) for k in ("airplane", "wifi", "bluetooth")}
        toggles["dark"] = self.state["dark"]
        toggles[key] = 0.0 if on else 1.0
        if key == "dark":
            self.state["dark"] = toggles[key]
        self.state["toggles"] = toggles
        rows: list[tuple[str, float]] = []
        if rng.random() < 0.6:
            rows += [("profile", 26.0), ("gap", 6.0)]
        rows += [(r, self.row_h) for r in ("airplane", "wifi", "bluetooth", "cellular")]
        rows.append(("gap", float(rng.uniform(5, 9))))
        rows += [(r, self.row_h) for r in ("notifications", "sounds", "focus")[: int(rng.integers(1, 4))]]
        rows.append(("gap", float(rng.uniform(5, 9))))
        rows += [(r, self.row_h) for r in ("general", "display", "dark", "battery", "privacy")]
        self.settings_rows = rows
        self.open_app("settings")
        y = self.list_top()
        for name, h in rows:
            if name == key:
                break
            y += h
        y = self.scroll_into_view((40, 90), y + self.row_h / 2)
        self.tap((_BASE - self.margin - 9, y), _toggle(key, float(on), key == "dark"), anim=(0.25, 0.4))

    def script_message(self, who: str):
        rng = self.rng
        names = list(_CONTACTS)
        self.conversations = [names[i] for i in rng.permutation(len(names))]
        self.previews = {n: _MESSAGES[int(rng.integers(len(_MESSAGES)))] for n in names}
        self.open_app("messages")
        y = self.scroll_into_view((40, 90), self.list_top() + 12 + self.conversations.index(who) * 20 + 10)
        self.tap((60, y), _go("chat", "push", who=who), anim=(0.3, 0.45))
        self.chat_history()
        self.wait(0.2, 0.6)
        self.tap((50, _BASE - 9), _set(kb=1.0, focus=True), anim=(0.25, 0.35))
        message = _MESSAGES[int(rng.integers(len(_MESSAGES)))]
        self.wait(0.1, 0.4)
        self.type_text(message)
        self.tap((_BASE - 8, _BASE - _KB_H - 9), _send(message), anim=(0.25, 0.4))

    def chat_history(self):
        rng = self.rng
        self.state["history"] = tuple((bool(rng.random() < 0.5), float(rng.uniform(24, 70)), int(rng.integers(1, 3)),
                                       None) for _ in range(int(rng.integers(1, 4))))

    def script_call(self, who: str):
        rng = self.rng
        self.contacts = [n for n in sorted(_CONTACTS) if n == who or rng.random() < 0.8]
        self.open_app("phone")
        y = self.list_top() + 14 + (self.contacts.index(who) + 0.5) * self.row_h
        y = self.scroll_into_view((40, 90), y)
        self.tap((50, y), _go("card", "push", who=who), anim=(0.3, 0.45))
        self.wait(0.2, 0.7)
        self.tap((48, 76), _go("calling", "fade"), anim=(0.25, 0.4))
        self.wait(0.8, 1.6)

    def script_share(self, who: str):
        rng = self.rng
        self.photos = [_photo_colours(rng) for _ in range(16)]
        self.open_app("photos")
        i = int(rng.integers(0, 12))
        cell = (_BASE - 4) / 4
        self.state["photo"] = i
        self.tap((2 + (i % 4 + 0.5) * cell, self.list_top() + (i // 4 + 0.5) * cell), _go("photo", "fade"),
                 anim=(0.25, 0.4))
        self.wait(0.2, 0.6)
        self.tap((14, _BASE - 9), _set(sheet=1.0), anim=(0.3, 0.45))
        others = [n for n in (list(_CONTACTS)[j] for j in rng.permutation(len(_CONTACTS))) if n != who][:3]
        self.share_people = [([who] + others)[j] for j in rng.permutation(4)]
        self.chat_history()
        self.wait(0.2, 0.6)
        x = 20 + self.share_people.index(who) * 28
        self.tap((x, _BASE - 78 + 29), _go("chat", "push", who=who, sheet=0.0, attach=1.0), anim=(0.3, 0.45))
        self.wait(0.2, 0.6)
        self.tap((_BASE - 8, _BASE - 9), _send("", photo=True), anim=(0.25, 0.4))

    def script_search(self, what: str, app: str):
        rng = self.rng
        word, _, names = _PLACES[what]
        self.places = [names[j] for j in rng.permutation(len(names))][:3]
        self.pins = [(float(rng.uniform(15, 113)), float(rng.uniform(38, 78))) for _ in range(4)]
        self.map_img = _map_image(rng, self.k) if app == "maps" else None
        self.favourites = [self.jit((100, 140, 200), 90) for _ in range(8)]
        self.state["place"] = what
        self.open_app(app)
        self.tap((64, _SB + 9), _set(kb=1.0, focus=True), anim=(0.25, 0.35))
        suffix = {"pizza": (" places", " near me", ""), "coffee": (" shops", " near me", "")}[what]
        query = word + suffix[int(rng.integers(3))]
        self.wait(0.1, 0.4)
        self.type_text(query)
        self.tap(_key_xy("\n"), _set(kb=0.0, focus=False, results=1.0), anim=(0.35, 0.5))
        self.wait(0.3, 0.8)

    def script_alarm(self, hour: str):
        rng = self.rng
        target = {"7am": 7, "6am": 6}[hour]
        times = {(int(rng.integers(5, 12)), int(rng.integers(0, 12)) * 5) for _ in range(int(rng.integers(1, 4)))}
        times.discard((target, 0))
        self.state["alarms"] = tuple((h, m, bool(rng.random() < 0.6)) for h, m in sorted(times))
        self.target_alarm = (target, 0)
        self.open_app("clock")
        self.tap((_BASE - 8, _SB + self.header_h / 2), _set(sheet=1.0), anim=(0.3, 0.45))
        start_h = int(rng.choice([h for h in range(1, 13) if h != target]))
        start_m = int(rng.integers(0, 12))
        self.state["picker"] = (float(start_h), float(start_m))
        self.wait(0.2, 0.5)
        self.swipe((40, 72), -(target - start_h) * 4.0, _picker(0, float(target)), dur=(0.4, 0.8))
        if start_m:
            self.swipe((64, 72), start_m * 3.0, _picker(1, 0.0), dur=(0.3, 0.6))
        self.tap((_BASE - 14, 36), _set(sheet=0.0, new_alarm=1.0), anim=(0.3, 0.45))

    def script_play(self, genre: str):
        rng = self.rng
        self.genres = [list(_GENRES)[j] for j in rng.permutation(len(_GENRES))]
        self.genre = genre
        self.open_app("music")
        i = self.genres.index(genre)
        self.tap((33 + (i % 2) * 62, self.list_top() + (i // 2) * 30 + 13), _go("playlist", "push"), anim=(0.3, 0.45))
        self.wait(0.2, 0.6)
        rows = [self.list_top() + 63 + 14 * i for i in range(4)]
        rows = [y for y in rows if y < 120]  # a visible song, or the Play button
        y = self.list_top() + 46 if rng.random() < 0.6 else float(rng.choice(rows))
        self.play = self.tap((64, y), _set(sheet=1.0), anim=(0.35, 0.5))
        self.wait(0.8, 1.6)

    def script_camera(self):
        rng = self.rng
        self.scene = _photo_colours(rng)
        self.open_app("camera")
        self.focus_xy = None
        if rng.random() < 0.5:
            self.focus_xy = self.tap((float(rng.uniform(30, 98)), float(rng.uniform(30, 80))), _set(focus_at=1.0),
                                     anim=(0.2, 0.3)).to
        self.wait(0.2, 0.6)
        self.tap((64, _BASE - 14), _set(flash=1.0, photo_taken=1.0), anim=(0.2, 0.35))
        self.wait(0.6, 1.2)

    # -- rendering
    def replay(self, t: float) -> tuple[dict, tuple[float, float], bool, float | None]:
        """(UI state, indicator position, whether it is pressed, seconds since its last tap) at time ``t``."""
        s = dict(self.state)
        cursor, pressed, tap_age = self.start, False, None
        for step in self.steps:
            if t < step.t0:
                break
            local = t - step.t0
            if step.to is not None:
                p = _ease(local / step.move) if step.move > 0 else 1.0
                cursor = (cursor[0] + (step.to[0] - cursor[0]) * p, cursor[1] + (step.to[1] - cursor[1]) * p)
            local -= step.move
            pressed, tap_age = False, None
            if local < 0 or step.press == 0:
                continue
            tap_age = local
            pressed = local < step.press
            local -= step.press
            if local >= 0:
                p = min(local / step.anim, 1.0) if step.anim > 0 else 1.0
                if step.effect is not None:
                    step.effect(s, p)
                if step.drag != (0.0, 0.0):
                    q = _ease(p)
                    cursor = (step.to[0] + step.drag[0] * q, step.to[1] + step.drag[1] * q)
                    pressed = p < 1
        s["t"] = t
        return s, cursor, pressed, tap_age

    def frame(self, t: float) -> Image.Image:
        """The screen at time ``t`` (s) as a 128·k square RGB image."""
        s, cursor, pressed, tap_age = self.replay(t)
        c = _Canvas(self.k)
        if s["trans"] is None:
            self.draw_screen(c, s, s["screen"])
        else:
            kind, p, origin = s["trans"]
            old, new = _Canvas(self.k), _Canvas(self.k)
            self.draw_screen(old, dict(s, scroll=s["prev_scroll"]), s["prev"])
            self.draw_screen(new, s, s["screen"])
            size = _BASE * self.k
            if kind == "launch":
                x, y, w = origin
                x0, y0, side = x * (1 - p), y * (1 - p), w + (_BASE - w) * p
                c.img.paste(old.img)
                px = max(1, round(side * self.k))
                c.paste(new.img.resize((px, px), Image.Resampling.BILINEAR), x0, y0)
            elif kind == "push":
                shift = round(size * p)
                c.img.paste(old.img, (-shift // 3, 0))
                c.img.paste(new.img, (size - shift, 0))
            else:
                c.img = Image.blend(old.img, new.img, p)
                c.d = ImageDraw.Draw(c.img)
        self.draw_status(c, s)
        if pressed and s["kb"] > 0.9:
            _key_popup(c, cursor)
        if tap_age is not None and tap_age < 0.35:
            c.circle(cursor[0], cursor[1], 5 + 30 * tap_age, outline=(255, 255, 255), width=1)
        sprite = _cursor_sprite(self.k, pressed)
        half = sprite.size[0] / 2 / self.k
        c.paste(sprite, cursor[0] - half, cursor[1] - half, sprite)
        return c.img

    def draw_screen(self, c: _Canvas, s: dict, screen: str):
        getattr(self, "draw_" + screen)(c, s)

    def draw_status(self, c: _Canvas, s: dict):
        screen = s["screen"] if s["trans"] is None or s["trans"][1] > 0.5 else s["prev"]
        if screen == "home":
            fg = (255, 255, 255)
        else:
            bg = self.header_colour(screen)
            c.rect(0, 0, _BASE, _SB, fill=bg)
            fg = (255, 255, 255) if sum(bg) < 560 else (20, 20, 20)
        c.text(4, 2, self.clock_text, fg)
        c.rect(_BASE - 14, 3, _BASE - 4, 8, outline=fg, width=1)
        c.rect(_BASE - 13, 4, _BASE - 7, 7, fill=fg)
        toggles, x = s["toggles"], _BASE - 18
        if toggles.get("airplane", 0.0) > 0.5:  # a plane instead of the signal bars
            c.poly([(x - 8, 5.5), (x, 4.5), (x, 6.5)], fill=fg)
            c.line([(x - 4, 2.5), (x - 3, 8.5)], fill=fg, width=1.5)
            x -= 11
        else:
            for i in range(4):
                c.rect(x - 8 + 2 * i, 7 - i * 1.3, x - 7 + 2 * i, 8, fill=fg)
            x -= 11
        if toggles.get("wifi", 0.0) > 0.5:
            c.d.pieslice(c._b(x - 8, 2, x, 12), 225, 315, fill=fg)
            x -= 10
        if toggles.get("bluetooth", 0.0) > 0.5:
            c.line([(x - 5, 4), (x - 1, 7), (x - 3, 8.5), (x - 3, 2.5), (x - 1, 4), (x - 5, 7)], fill=fg, width=1)

    def palette(self, s: dict) -> dict:
        d = s["dark"]
        return dict(bg=_mix((242, 242, 247), (0, 0, 0), d), row=_mix((255, 255, 255), (28, 28, 30), d),
                    fg=_mix((20, 20, 25), (245, 245, 245), d), sub=_mix((142, 142, 147), (150, 150, 155), d),
                    sep=_mix((222, 222, 228), (56, 56, 60), d), field=_mix((232, 232, 238), (44, 44, 48), d))

    def header_colour(self, screen: str):
        if screen in ("photo", "calling", "camera"):
            return (0, 0, 0)
        app = {"chat": "messages", "card": "phone", "playlist": "music"}.get(screen, screen)
        return self.app_col[app]

    def header(self, c: _Canvas, screen: str, title: str, right: str | None = None, back: bool = False):
        col = self.header_colour(screen)
        c.rect(0, 0, _BASE, _SB + self.header_h, fill=col)
        fg = (255, 255, 255) if sum(col) < 560 else (20, 20, 20)
        ty = _SB + self.header_h / 2 - 3.5
        if back:
            c.text(5, ty, "<", fg)
        if title:
            c.text(_BASE / 2 if back else self.margin + 2, ty, title, fg, align="center" if back else "left")
        if right:
            c.text(_BASE - 5, ty, right, fg, align="right")

    def sheet_list(self, c: _Canvas, pal: dict, top: float, rows: Sequence[tuple[str, tuple]]):
        for j, (name, col) in enumerate(rows):
            y = top + 6 + j * 12
            c.circle(10, y + 5, 4, fill=col)
            c.text(18, y + 2, name, pal["fg"])

    def draw_home(self, c: _Canvas, s: dict):
        c.img.paste(self.wallpaper)
        c.rect(3, 100, _BASE - 3, _BASE - 2, fill=self.dock_col, r=7)
        for app, (x, y) in self.home.items():
            col = self.app_col[app]
            c.rect(x, y, x + self.icon, y + self.icon, fill=col, r=self.icon * 0.24)
            _glyph(c, _APPS[app][1], x, y, self.icon, col)
            if y < 100:  # the label, as a light bar
                c.rect(x + 3, y + self.icon + 2.5, x + self.icon - 3, y + self.icon + 4, fill=(235, 235, 240), r=0.7)
        c.circle(60, 96, 1.2, fill=(255, 255, 255))
        c.circle(66, 96, 1.2, fill=(170, 170, 180))

    def draw_settings(self, c: _Canvas, s: dict):
        pal, m = self.palette(s), self.margin
        c.rect(0, 0, _BASE, _BASE, fill=pal["bg"])
        y = self.list_top() - s["scroll"]
        for name, h in self.settings_rows:
            if name != "gap" and y < _BASE and y + h > 0:
                c.rect(m, y, _BASE - m, y + h, fill=pal["row"])
                if name == "profile":
                    c.circle(m + 12, y + h / 2, 9, fill=(120, 120, 200))
                    c.text(m + 25, y + 6, "Jamie Lee", pal["fg"])
                    c.rect(m + 25, y + 16, m + 70, y + 18, fill=pal["sub"])
                else:
                    label, col = _SETTING_ROWS[name]
                    c.rect(m + 3, y + h / 2 - 4.5, m + 12, y + h / 2 + 4.5, fill=col, r=2)
                    c.text(m + 16, y + h / 2 - 3.5, label, pal["fg"])
                    if name in ("airplane", "wifi", "bluetooth", "dark"):
                        _toggle_switch(c, _BASE - m - 19, y + h / 2 - 4.5, s["toggles"].get(name, 0.0), pal["sep"])
                    else:
                        c.text(_BASE - m - 7, y + h / 2 - 3.5, ">", pal["sub"])
                c.line([(m + 16, y + h - 0.5), (_BASE - m, y + h - 0.5)], fill=pal["sep"], width=0.5)
            y += h
        self.header(c, "settings", "Settings")

    def search_field(self, c: _Canvas, pal: dict, y: float):
        c.rect(self.margin, y, _BASE - self.margin, y + 9, fill=pal["field"], r=4)
        c.text(self.margin + 4, y + 1, "Search", pal["sub"])

    def draw_messages(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        y = self.list_top() - s["scroll"]
        self.search_field(c, pal, y)
        y += 12
        for name in self.conversations:
            label, col = _CONTACTS[name]
            _avatar(c, 10, y + 10, 7, label, col)
            c.text(21, y + 3, label, pal["fg"])
            c.text(21, y + 12, self.previews[name][:13], pal["sub"])
            c.text(_BASE - 4, y + 3, f"{len(label) * 7 % 12 + 1}:{len(label) * 11 % 60:02d}", pal["sub"], align="right")
            c.line([(21, y + 20), (_BASE, y + 20)], fill=pal["sep"], width=0.5)
            y += 20
        self.header(c, "messages", "Messages", right="+")

    def draw_chat(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        kb = _ease(s["kb"]) * _KB_H
        bar = _BASE - kb - 18
        y = bar - 3
        for mine, w, lines, content in reversed(s["history"] + s["bubbles"]):
            h = 34 if content == "photo" else 4 + 9 * lines
            y -= h
            x0 = _BASE - 5 - w if mine else 5
            if content == "photo":
                _photo_thumb(c, self.photos[s["photo"]], x0, y, w, h)
            else:
                c.rect(x0, y, x0 + w, y + h, fill=_BLUE if mine else pal["field"], r=5)
                if content:
                    c.text(x0 + 4, y + 3, content, (255, 255, 255))
                for i in range(lines if not content else 0):  # unreadable old messages: text as bars
                    c.rect(x0 + 4, y + 4 + 9 * i, x0 + w - 6 - 8 * (i == lines - 1), y + 8 + 9 * i,
                           fill=(190, 215, 255) if mine else pal["sub"])
            y -= 4
        c.rect(0, bar, _BASE, bar + 18, fill=pal["bg"])
        fx1 = _BASE - 17
        c.rect(6, bar + 3, fx1, bar + 15, fill=pal["row"], outline=pal["sep"], r=6)
        x = 10.0
        if s["attach"] > 0.5:
            _photo_thumb(c, self.photos[s["photo"]], 9, bar + 4, 14, 10)
            x = 26.0
        c.text(x, bar + 6, s["field"], pal["fg"], max_w=fx1 - x - 6)
        if s["focus"] and int(s["t"] * 3) % 2 == 0:
            cx = x + min(_text_width(s["field"]), fx1 - x - 6)
            c.rect(cx + 1, bar + 5, cx + 2, bar + 14, fill=_BLUE)
        c.circle(_BASE - 8, bar + 9, 6, fill=_BLUE if (s["field"] or s["attach"] > 0.5) else pal["sep"])
        c.poly([(_BASE - 8, bar + 5), (_BASE - 11.5, bar + 9.5), (_BASE - 4.5, bar + 9.5)], fill=(255, 255, 255))
        if kb > 0:
            _keyboard(c, _BASE - kb, pal)
        label, col = _CONTACTS[s["who"]]
        self.header(c, "chat", "", back=True)
        _avatar(c, _BASE / 2, _SB + self.header_h / 2, self.header_h / 2 - 2, label, col)

    def draw_phone(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        y = self.list_top() - s["scroll"]
        self.search_field(c, pal, y)
        y += 14
        for name in self.contacts:
            label, col = _CONTACTS[name]
            _avatar(c, 11, y + self.row_h / 2, self.row_h / 2 - 2, label, col)
            c.text(22, y + self.row_h / 2 - 3.5, label, pal["fg"])
            c.line([(22, y + self.row_h - 0.5), (_BASE, y + self.row_h - 0.5)], fill=pal["sep"], width=0.5)
            y += self.row_h
        self.header(c, "phone", "Contacts", right="+")
        c.rect(0, _BASE - 14, _BASE, _BASE, fill=pal["bg"])
        for i in range(4):
            c.circle(16 + i * 32, _BASE - 7, 3.5, fill=self.app_col["phone"] if i == 2 else pal["sub"])

    def draw_card(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["bg"])
        self.header(c, "card", "", back=True)
        label, col = _CONTACTS[s["who"]]
        _avatar(c, 64, 44, 13, label, col, scale=2)
        c.text(64, 61, label, pal["fg"], align="center")
        for i in range(4):  # message, call, video, mail
            x = 16 + i * 32
            c.rect(x - 13, 69, x + 13, 85, fill=pal["row"], r=4)
            c.circle(x, 77, 5, fill=self.app_col["phone"])
        c.rect(4, 90, _BASE - 4, 112, fill=pal["row"], r=4)
        c.text(8, 93, "mobile", pal["fg"])
        c.text(8, 103, f"555-01{len(label) * 7:02d}", self.app_col["phone"])

    def draw_calling(self, c: _Canvas, s: dict):
        bg = self.call_bg
        c.rect(0, 0, _BASE, _BASE, fill=bg)
        label, col = _CONTACTS[s["who"]]
        pulse = (s["t"] * 1.2) % 1.0
        c.circle(64, 48, 16 + 10 * pulse, outline=_mix(bg, (200, 200, 210), 1 - pulse), width=1)
        _avatar(c, 64, 48, 15, label, col, scale=2)
        c.text(64, 70, label, (255, 255, 255), align="center")
        c.text(64, 80, "calling" + "." * (int(s["t"] * 3) % 4), (170, 170, 180), align="center")
        for i in range(3):
            c.circle(34 + i * 30, 98, 7, fill=(80, 84, 92))
        c.circle(64, 117, 7, fill=(255, 59, 48))

    def draw_photos(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        cell = (_BASE - 4) / 4
        for i, photo in enumerate(self.photos):
            _photo_thumb(c, photo, 2 + (i % 4) * cell, self.list_top() + (i // 4) * cell, cell - 1, cell - 1)
        self.header(c, "photos", "Photos", right="Select")

    def draw_photo(self, c: _Canvas, s: dict):
        c.rect(0, 0, _BASE, _BASE, fill=(0, 0, 0))
        _photo_thumb(c, self.photos[s["photo"]], 0, 28, _BASE, 70)
        c.rect(8, _BASE - 15, 20, _BASE - 3, outline=_BLUE, width=1)  # share
        c.line([(14, _BASE - 18), (14, _BASE - 8)], fill=_BLUE, width=1.2)
        c.circle(64, _BASE - 9, 3.5, outline=_BLUE, width=1)
        c.rect(_BASE - 18, _BASE - 14, _BASE - 10, _BASE - 4, outline=_BLUE, width=1)
        sheet = _ease(s["sheet"])
        if sheet > 0:  # the share menu
            pal = self.palette(s)
            top = _BASE - 78 * sheet
            c.rect(0, top, _BASE, _BASE + 8, fill=pal["bg"], r=7)
            _photo_thumb(c, self.photos[s["photo"]], 6, top + 5, 14, 11)
            c.text(24, top + 7, "1 Photo", pal["fg"])
            for j, name in enumerate(self.share_people):
                label, col = _CONTACTS[name]
                _avatar(c, 20 + j * 28, top + 29, 9, label, col)
            for j, app in enumerate(("messages", "notes", "weather", "health")):
                c.rect(12 + j * 28, top + 47, 28 + j * 28, top + 62, fill=self.app_col[app], r=4)
            for j, action in enumerate(("Copy", "Save")):
                c.rect(4, top + 65 + j * 11, _BASE - 4, top + 75 + j * 11, fill=pal["row"], r=2)
                c.text(8, top + 67 + j * 11, action, pal["fg"])

    def search_bar(self, c: _Canvas, s: dict, bg):
        pal = self.palette(s)
        y = _SB + 3
        c.rect(4, y, _BASE - 4, y + 13, fill=bg, outline=pal["sep"], r=6)
        c.circle(11, y + 6.5, 2.5, outline=(120, 120, 125), width=1)
        if s["field"]:
            c.text(17, y + 3, s["field"], (20, 20, 25), max_w=_BASE - 26)
        else:
            c.text(17, y + 3, "Search", (142, 142, 147))
        if s["focus"] and int(s["t"] * 3) % 2 == 0:
            x = 17 + min(_text_width(s["field"]), _BASE - 26)
            c.rect(x + 1, y + 2, x + 2, y + 11, fill=_BLUE)
        kb = _ease(s["kb"]) * _KB_H
        if kb > 0:
            _keyboard(c, _BASE - kb, pal)

    def draw_maps(self, c: _Canvas, s: dict):
        c.img.paste(self.map_img)
        c.circle(64, 66, 4, fill=(255, 255, 255))
        c.circle(64, 66, 2.8, fill=_BLUE)
        pins = _ease(s["results"])
        if pins > 0:
            _, col, _ = _PLACES[s["place"]]
            for x, y in self.pins:
                r = 4 * pins
                c.poly([(x - r * 0.7, y - 2), (x + r * 0.7, y - 2), (x, y + 3 * pins)], fill=col)
                c.circle(x, y - 4, r, fill=col, outline=(255, 255, 255), width=1)
            pal = self.palette(s)
            top = _BASE - 44 * pins
            c.rect(0, top, _BASE, _BASE + 8, fill=pal["row"], r=7)
            c.rect(56, top + 2, 72, top + 3.5, fill=pal["sep"], r=1)
            self.sheet_list(c, pal, top, [(name, col) for name in self.places])
        self.search_bar(c, s, (255, 255, 255))

    def draw_browser(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        res = _ease(s["results"])
        if res < 1:
            c.text(8, 34, "Favorites", pal["fg"])
            for i, col in enumerate(self.favourites):
                x, y = 8 + (i % 4) * 30, 46 + (i // 4) * 28
                c.rect(x, y, x + 20, y + 20, fill=col, r=4)
        if res > 0:  # the results page slides in
            _, col, _ = _PLACES[s["place"]]
            y = _SB + 20 + (1 - res) * 100
            c.rect(0, y - 3, _BASE, _BASE, fill=pal["row"])
            for i in range(3):
                c.rect(4 + i * 41, y, 42 + i * 41, y + 22, fill=_mix(col, (255, 255, 255), 0.15 * i), r=3)
            y += 26
            for name in self.places:
                c.text(6, y, name, (26, 13, 171))
                c.text(6, y + 9, "www." + re.sub(r"[^a-z]", "", name.lower()) + ".com", (0, 128, 0))
                c.rect(6, y + 18, _BASE - 10, y + 20, fill=pal["sub"])
                y += 25
        c.rect(0, 0, _BASE, _SB + 17, fill=self.app_col["browser"])
        self.search_bar(c, s, (255, 255, 255) if s["focus"] else pal["field"])

    def draw_clock(self, c: _Canvas, s: dict):
        fg, sub, accent = (255, 255, 255), (142, 142, 147), self.clock_accent
        c.rect(0, 0, _BASE, _BASE, fill=(0, 0, 0))
        alarms = [(h, m, on, 1.0) for h, m, on in s["alarms"]]
        if s["new_alarm"] > 0:
            alarms.append((*self.target_alarm, True, _ease(s["new_alarm"])))
        y = self.list_top()
        for h, m, on, p in sorted(alarms):
            hh = 22 * p
            if hh >= 2:
                col = fg if on else sub
                c.text(6, y + 4, f"{h}:{m:02d}", col, scale=2)
                c.text(8 + _text_width(f"{h}:{m:02d}", 2), y + 11, "AM", col)
                _toggle_switch(c, _BASE - 22, y + hh / 2 - 4.5, float(on), (60, 60, 64))
                c.line([(6, y + hh - 0.5), (_BASE, y + hh - 0.5)], fill=(48, 48, 52), width=0.5)
            y += hh
        self.header(c, "clock", "Alarm", right="+")
        c.rect(0, _BASE - 14, _BASE, _BASE, fill=(18, 18, 18))
        for i in range(4):
            c.circle(16 + i * 32, _BASE - 7, 3.5, fill=accent if i == 1 else sub)
        sheet = _ease(s["sheet"])
        if sheet > 0 and s["picker"] is not None:  # the "Add Alarm" sheet with its wheels
            top = 28 + (1 - sheet) * 100
            c.rect(0, top, _BASE, _BASE + 8, fill=(28, 28, 30), r=7)
            c.text(6, top + 5, "Cancel", accent)
            c.text(_BASE - 6, top + 5, "Save", accent, align="right")
            band = top + 44
            c.rect(8, band - 6, _BASE - 8, band + 6, fill=(58, 58, 62), r=3)
            wheels = ((40, s["picker"][0], lambda v: str((v - 1) % 12 + 1)),  # hours 1-12
                      (64, s["picker"][1], lambda v: f"{v % 12 * 5:02d}"))  # minutes 00-55
            for x, value, fmt in wheels:
                base = math.floor(value)
                for d in range(-2, 4):
                    y = band + (d - (value - base)) * 10
                    if abs(y - band) <= 26:
                        c.text(x, y - 3.5, fmt(base + d), _mix(fg, (28, 28, 30), min(1.0, abs(y - band) / 30)),
                               align="center")
            c.text(92, band - 3.5, "AM", fg)
            c.text(92, band + 6.5, "PM", (100, 100, 104))

    def draw_music(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        for i, genre in enumerate(self.genres):
            label, col = _GENRES[genre]
            x, y = 4 + (i % 2) * 62, self.list_top() + (i // 2) * 30
            c.rect(x, y, x + 58, y + 26, fill=col, r=4)
            c.text(x + 4, y + 15, label, (255, 255, 255))
        c.rect(0, _BASE - 14, _BASE, _BASE, fill=pal["bg"])
        c.rect(4, _BASE - 12, 14, _BASE - 2, fill=pal["sep"], r=2)
        c.text(18, _BASE - 10, "Not Playing", pal["sub"])
        self.header(c, "music", "Browse")

    def draw_playlist(self, c: _Canvas, s: dict):
        pal = self.palette(s)
        c.rect(0, 0, _BASE, _BASE, fill=pal["row"])
        label, col = _GENRES[self.genre]
        y0 = self.list_top()
        _album(c, self.genre, 6, y0, 34)
        c.text(46, y0 + 6, label + " Hits", pal["fg"])
        c.text(46, y0 + 17, "Playlist", pal["sub"])
        c.rect(40, y0 + 40, 88, y0 + 52, fill=self.app_col["music"], r=6)
        c.text(64, y0 + 43, "Play", (255, 255, 255), align="center")
        for i in range(4):
            y = y0 + 58 + 14 * i
            _album(c, self.genre, 6, y, 11, variant=i + 1)
            c.text(22, y + 2, f"Song {i + 1}", pal["fg"])
        self.header(c, "playlist", "", back=True)
        sheet = _ease(s["sheet"])
        if sheet > 0:  # now playing
            top = _SB + 4 + (1 - sheet) * 120
            c.rect(0, top, _BASE, _BASE + 8, fill=_mix(col, (0, 0, 0), 0.55), r=7)
            _album(c, self.genre, 29, top + 8, 70)
            c.text(64, top + 82, label + " Hits", (255, 255, 255), align="center")
            played = s["t"] - (self.play.t0 + self.play.move + self.play.press)
            progress = min(1.0, 0.02 + 0.12 * max(0.0, played))
            c.rect(14, top + 94, _BASE - 14, top + 95.5, fill=(120, 120, 125))
            c.rect(14, top + 94, 14 + (_BASE - 28) * progress, top + 95.5, fill=(255, 255, 255))
            c.rect(59, top + 100, 62, top + 110, fill=(255, 255, 255))
            c.rect(66, top + 100, 69, top + 110, fill=(255, 255, 255))

    def draw_camera(self, c: _Canvas, s: dict):
        c.rect(0, 0, _BASE, _BASE, fill=(0, 0, 0))
        dx, dy = 1.5 * math.sin(s["t"] * 2.1), 1.0 * math.cos(s["t"] * 1.7)  # a hand-held viewfinder
        _photo_thumb(c, self.scene, -4 + dx, 14 + dy, _BASE + 8, 84)
        c.rect(0, 0, _BASE, 16, fill=(0, 0, 0))
        c.rect(0, 98, _BASE, _BASE, fill=(0, 0, 0))
        c.text(64, 101, "PHOTO", (255, 204, 0), align="center")
        c.text(22, 101, "VIDEO", (200, 200, 200), align="center")
        c.circle(64, _BASE - 14, 9, outline=(255, 255, 255), width=1)
        c.circle(64, _BASE - 14, 7, fill=(255, 255, 255))
        if s["photo_taken"] > 0.5:
            _photo_thumb(c, self.scene, 10, _BASE - 21, 14, 14)
        else:
            c.rect(10, _BASE - 21, 24, _BASE - 7, fill=(40, 40, 44), r=2)
        c.circle(_BASE - 18, _BASE - 14, 6, fill=(40, 40, 44))
        if s["focus_at"] > 0 and self.focus_xy is not None:
            fx, fy = self.focus_xy
            c.rect(fx - 8, fy - 8, fx + 8, fy + 8, outline=(255, 204, 0), width=1)
        if 0 < s["flash"] < 1:
            c.img = Image.blend(c.img, Image.new("RGB", c.img.size, (255, 255, 255)), 1 - abs(2 * s["flash"] - 1))
            c.d = ImageDraw.Draw(c.img)


# ---------------------------------------------------------------------------------------- clips
def _scale_for(size: int) -> int:
    """Pixels per drawing unit: the screen is drawn at ≥ 2× the output size, then box-filtered down."""
    return max(1, -(-int(size) // 64))


def _to_size(img: Image.Image, size: int) -> Image.Image:
    if img.size == (size, size):
        return img
    if img.size[0] % size == 0:
        return img.reduce(img.size[0] // size)
    return img.resize((size, size), Image.Resampling.BOX if img.size[0] > size else Image.Resampling.BICUBIC)


def render_clip(intent_index: int, rng: np.random.Generator, frames: int = 16, size: int = 64) -> np.ndarray:
    """One random clip of ``INTENTS[intent_index]``: uint8 [frames, size, size, 3], the frames sampled
    uniformly over the whole activity (first frame: the home screen, last: the result)."""
    if not 0 <= intent_index < len(INTENTS):
        raise ValueError(f"intent_index must be in [0, {len(INTENTS)}), got {intent_index}")
    clip = _Clip(INTENTS[intent_index], rng, _scale_for(size))
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for i, t in enumerate(np.linspace(0.0, clip.duration, frames)):
        out[i] = np.asarray(_to_size(clip.frame(float(t)), size))
    return out


def clip_text(intent_index: int, rng: np.random.Generator) -> str:
    """A reference text of the intent: one of its variants, uniformly."""
    variants = INTENTS[intent_index].variants
    return variants[int(rng.integers(len(variants)))]


def _clip_rng(seed: int, split: str, intent: int, j: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), intent, j])


# ---------------------------------------------------------------------------------------- config
_DEFAULTS: dict[str, Any] = dict(source="generated", path=None, intents=16, zeroshot_intents=4, clips_per_intent=40,
                                 val_clips=6, test_clips=10, frames=16, image_size=64, fit="pad", seed=0,
                                 cache_dir="~/.cache/jepa_rl", progress=True)
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
    for key in ("intents", "zeroshot_intents", "clips_per_intent", "val_clips", "test_clips", "frames", "image_size",
                "seed"):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) and not (
                isinstance(value, float) and value.is_integer()):
            raise ValueError(f"data.{key} must be an integer, got {value!r}")
        cfg[key] = int(value)
    if cfg["source"] not in ("generated", "path"):
        raise ValueError(f"data.source must be 'generated' or 'path', got {cfg['source']!r}")
    if cfg["fit"] not in ("pad", "stretch"):
        raise ValueError(f"data.fit must be 'pad' (letterbox) or 'stretch', got {cfg['fit']!r}")
    if cfg["source"] == "path" and not cfg["path"]:
        raise ValueError("data.source=path needs data.path: a folder with metadata.jsonl (see envs/ui_activity.py)")
    if cfg["source"] == "generated" and cfg["path"]:
        raise ValueError(f"data.path={cfg['path']!r} is only read with data.source=path")
    if not 2 <= cfg["intents"] <= len(INTENTS):
        raise ValueError(f"data.intents must be in [2, {len(INTENTS)}], got {cfg['intents']}")
    if not 0 <= cfg["zeroshot_intents"] < cfg["intents"]:
        raise ValueError(f"data.zeroshot_intents must be in [0, data.intents={cfg['intents']}) so that some intents "
                         f"are trained, got {cfg['zeroshot_intents']}")
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
            fh.write(json.dumps(dict(clip="videos.npy", index=i, split=row["split"], intent=row["intent"],
                                     text=row["text"])) + "\n")
    layout = dict(layout, clips=len(rows), seconds=round(time.perf_counter() - t0, 2))
    (tmp / _MARKER).write_text(json.dumps(layout, indent=1))


def _generated_layout(cfg: Mapping) -> tuple[dict, list[tuple[str, int, int]]]:
    fewshot, zeroshot = zeroshot_split(cfg["intents"], cfg["zeroshot_intents"])
    plan = [(split, i, j) for split, intents, n in (("train", fewshot, cfg["clips_per_intent"]),
                                                    ("val", fewshot, cfg["val_clips"]),
                                                    ("fewshot_test", fewshot, cfg["test_clips"]),
                                                    ("zeroshot_test", zeroshot, cfg["test_clips"]))
            for i in intents for j in range(n)]
    layout = dict(version=UI_ACTIVITY_VERSION, source="generated", frames=cfg["frames"],
                  image_size=cfg["image_size"], intents=[INTENTS[i].text for i in range(cfg["intents"])],
                  variants=[list(INTENTS[i].variants) for i in range(cfg["intents"])],
                  fewshot_intents=fewshot, zeroshot_intents=zeroshot)
    return layout, plan


def generate_ui_activity(out_dir: str | Path, cfg: Mapping) -> dict:
    """Render the clips of a checked config (see :func:`load_ui_activity`) into the folder ``out_dir``
    (made atomically, in the module's on-disk format); returns its layout (``layout.json``)."""
    layout, plan = _generated_layout(cfg)
    frames, size = cfg["frames"], cfg["image_size"]

    def fill(videos: np.ndarray) -> list[dict]:
        rows = []
        for n, (split, i, j) in enumerate(tqdm(plan, desc="UI activity clips", unit="clip",
                                                 disable=not cfg["progress"])):
            rng = _clip_rng(cfg["seed"], split, i, j)
            rows.append(dict(split=split, intent=INTENTS[i].text, text=clip_text(i, rng)))
            videos[n] = render_clip(i, rng, frames, size)
        return rows

    with atomic_dir(out_dir, marker=_MARKER) as tmp:
        _write_cache(tmp, (len(plan), frames, size, size, 3), fill, layout)
    return json.loads((Path(out_dir) / _MARKER).read_text())


# ---------------------------------------------------------------------------------------- user folders
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")


def _read_metadata(folder: Path) -> list[dict]:
    meta = folder / "metadata.jsonl"
    if not meta.is_file():
        raise DatasetError(f"UI activity folder {folder} has no metadata.jsonl: one JSON object per clip with "
                           f"'clip', 'split', 'intent', 'text' (see envs/ui_activity.py)")
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
        raise DatasetError(f"clip {where} has shape {tuple(array.shape)}; expected [T, H, W, 3] (T >= 1; grey "
                           f"[T, H, W] and RGBA accepted)")
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
        raise DatasetError(f"{folder / 'metadata.jsonl'}: zero-shot intents {leaked[:5]} also occur in train / val / "
                           f"fewshot_test; zero-shot intents must be held out of those splits")
    intents = train_intents + zs_intents
    variants: dict[str, list[str]] = {i: [] for i in intents}
    for r in rows:
        if r["text"] not in variants[r["intent"]]:
            variants[r["intent"]].append(r["text"])
    return dict(intents=intents, variants=[variants[i] for i in intents],
                fewshot_intents=list(range(len(train_intents))),
                zeroshot_intents=list(range(len(train_intents), len(intents))))


def read_clip_folder(folder: str | Path, frames: int, image_size: int, *, fit: str = "pad",
                     progress: bool = False) -> tuple[np.ndarray, list[dict]]:
    """All clips of a folder in the module's format: (uint8 [N, frames, S, S, 3], metadata rows)."""
    folder = Path(folder).expanduser()
    rows = _read_metadata(folder)
    stacks: dict = {}
    videos = np.empty((len(rows), frames, image_size, image_size, 3), dtype=np.uint8)
    for n, row in enumerate(tqdm(rows, desc="UI activity clips", unit="clip", disable=not progress)):
        videos[n] = _read_clip(folder, row, frames, image_size, fit, stacks)
    return videos, rows


def _folder_digest(folder: Path, cfg: Mapping) -> str:
    rows = _read_metadata(folder)
    stats = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        path = Path(clip) if Path(clip).is_absolute() else folder / clip
        st = path.stat() if path.exists() else None
        stats.append(f"{clip}:{st.st_size}:{st.st_mtime_ns}" if st else f"{clip}:missing")
    return params_digest(dict(source="path", path=str(folder.resolve()), metadata=file_hash(folder / "metadata.jsonl"),
                              clips=params_digest({"stats": stats}), frames=cfg["frames"],
                              image_size=cfg["image_size"], fit=cfg["fit"], version=UI_ACTIVITY_VERSION))


def _convert_folder(out_dir: Path, folder: Path, cfg: Mapping) -> None:
    rows = _read_metadata(folder)
    layout = dict(version=UI_ACTIVITY_VERSION, source="path", path=str(folder.resolve()), frames=cfg["frames"],
                  image_size=cfg["image_size"], fit=cfg["fit"], **_folder_layout(rows, folder))
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
    keys = ("intents", "zeroshot_intents", "clips_per_intent", "val_clips", "test_clips", "frames", "image_size",
            "seed")
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
            block = videos[rows_n[0]: rows_n[-1] + 1]
        else:
            block = videos[rows_n] if rows_n else np.empty((0, t, s, s, 3), np.uint8)
        video = torch.from_numpy(np.ascontiguousarray(block.transpose(0, 1, 4, 2, 3)))
        intent = torch.tensor([index[rows[n]["intent"]] for n in rows_n], dtype=torch.int64)
        splits[split] = UISplit(video=video, intent=intent, text=[rows[n]["text"] for n in rows_n])
    return splits, layout


def load_ui_activity(data_cfg: Mapping | Any = None, *, extra_keys: Iterable[str] = ()
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
            raise DatasetError(f"data.path={cfg['path']!r} is not a folder (expected metadata.jsonl + clips, see "
                               f"envs/ui_activity.py)")
        out_dir = root / _folder_digest(folder, cfg)
        cached = (out_dir / _MARKER).is_file()
        if not cached:
            _convert_folder(out_dir, folder, cfg)
    splits, layout = _load_cache(out_dir)
    info = dict(intents=layout["intents"], fewshot_intents=layout["fewshot_intents"],
                zeroshot_intents=layout["zeroshot_intents"], variants=layout["variants"], frames=layout["frames"],
                image_size=layout["image_size"], cache_dir=str(out_dir), cached=cached, source=cfg["source"],
                clips={k: len(v) for k, v in splits.items()}, seconds=time.perf_counter() - t0,
                build_seconds=layout.get("seconds"))
    log.info("UI activity (%s in %.1fs): %d intents (%d zero-shot), clips %s, [T=%d, 3, %d, %d]",
             "cached" if cached else "built", info["seconds"], len(info["intents"]), len(info["zeroshot_intents"]),
             info["clips"], info["frames"], info["image_size"], info["image_size"])
    return splits, info


# ---------------------------------------------------------------------------------------- previews
def save_preview(path: str | Path, videos: np.ndarray | torch.Tensor | None = None,
                 texts: Sequence[str] | None = None, *, intents: Sequence[int] | None = None, frames: int = 8,
                 size: int = 64, seed: int = 0, scale: int = 2, columns: int = 4, fps: float = 4.0) -> Path:
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
            grid[:, y: y + h, x: x + w] = videos[n]
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
