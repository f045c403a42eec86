"""Phone-screen drawing for the UI activity clips: the app / content model and the primitives that render it.

The module holds what the screens show (apps with their colours and icon glyphs, contacts, settings rows,
music genres, places, messages, the keyboard layout), the 128 × 128-unit :class:`_Canvas` drawn at k pixels
a unit with Pillow's built-in bitmap font (no downloads), and the widgets built on it: app-icon glyphs,
toggle switches, avatars, the keyboard and its key popup, random photos and city maps, album art and the
touch-indicator sprite.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


_BASE = 128  # drawing units: the screen is 128 × 128 units, k pixels each

# ---------------------------------------------------------------------------------------- drawing
_APPS = {  # name: (colour, glyph)
    "settings": ((142, 142, 147), "gear"),
    "messages": ((52, 199, 89), "bubble"),
    "phone": ((0, 168, 150), "handset"),
    "browser": ((20, 110, 235), "compass"),
    "maps": ((88, 86, 214), "pin"),
    "music": ((250, 45, 85), "note"),
    "photos": ((255, 196, 0), "flower"),
    "camera": ((64, 64, 70), "lens"),
    "clock": ((24, 24, 24), "clock"),
    "weather": ((90, 200, 250), "sun"),
    "notes": ((255, 149, 0), "lines"),
    "calendar": ((255, 59, 48), "grid"),
    "health": ((250, 250, 250), "heart"),
}
_CONTACTS = {
    "alice": ("Alice", (175, 82, 222)),
    "bob": ("Bob", (255, 149, 0)),
    "carol": ("Carol", (48, 176, 199)),
    "dave": ("Dave", (162, 132, 94)),
    "emma": ("Emma", (88, 86, 214)),
    "mom": ("Mom", (255, 45, 85)),
}
_SETTING_ROWS = {  # key: (label, icon colour); toggles first
    "airplane": ("Airplane Mode", (255, 149, 0)),
    "wifi": ("Wi-Fi", (0, 122, 255)),
    "bluetooth": ("Bluetooth", (0, 122, 255)),
    "cellular": ("Cellular", (52, 199, 89)),
    "notifications": ("Notifications", (255, 59, 48)),
    "sounds": ("Sounds", (255, 45, 85)),
    "focus": ("Focus", (88, 86, 214)),
    "general": ("General", (142, 142, 147)),
    "dark": ("Dark Mode", (40, 40, 60)),
    "display": ("Display", (0, 122, 255)),
    "battery": ("Battery", (52, 199, 89)),
    "privacy": ("Privacy", (0, 122, 255)),
}
_GENRES = {
    "jazz": ("Jazz", (40, 90, 200)),
    "rock": ("Rock", (200, 30, 30)),
    "pop": ("Pop", (240, 80, 170)),
    "classical": ("Classical", (150, 110, 70)),
    "hiphop": ("Hip-Hop", (130, 60, 200)),
    "country": ("Country", (120, 140, 40)),
}
_PLACES = {
    "pizza": ("pizza", (230, 60, 40), ("Luigi's", "Pizza Roma", "Slice House", "Napoli")),
    "coffee": ("coffee", (120, 80, 50), ("Bean Bar", "Cafe Mocha", "Brew Lab", "Daily Grind")),
}
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
            self.d.rounded_rectangle(box, radius=max(1, round(r * self.k)), fill=fill, outline=outline, width=width * self.k)
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
    blobs = tuple(
        (
            float(rng.uniform(0, 1)),
            float(rng.uniform(horizon - 0.1, 1)),
            float(rng.uniform(0.08, 0.2)),
            tuple(int(v) for v in rng.integers(0, 255, 3)),
        )
        for _ in range(2)
    )
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
