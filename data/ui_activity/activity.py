"""Scripted UI activities and their rendering into clips.

An intent's activity is a script of :class:`_Step` actions (move the touch indicator, tap or swipe, then
animate an *effect* on the UI state: :func:`_set`, :func:`_go`, :func:`_append`, :func:`_toggle`,
:func:`_send`, :func:`_picker`).  :class:`_Clip` builds the script of one clip with per-clip (seeded)
style, content and timing, replays the UI state at any time and draws its screens (home, settings,
messages, chat, phone, photos, maps, browser, clock, music, camera) and the transitions between them.
:func:`render_clip` samples frames uniformly over the activity and box-downsamples them to the output
size; :func:`clip_text` draws a clip's reference text among its intent's paraphrases.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from data.ui_activity.intents import Intent, INTENTS
from data.ui_activity.drawing import (
    _album,
    _APPS,
    _avatar,
    _BASE,
    _BLUE,
    _Canvas,
    _CONTACTS,
    _cursor_sprite,
    _ease,
    _GENRES,
    _glyph,
    _KB_H,
    _key_popup,
    _key_xy,
    _keyboard,
    _map_image,
    _MESSAGES,
    _mix,
    _photo_colours,
    _photo_thumb,
    _PLACES,
    _SB,
    _SETTING_ROWS,
    _text_width,
    _toggle_switch,
)


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
            screen="home",
            prev=None,
            prev_scroll=0.0,
            trans=None,
            scroll=0.0,
            dark=0.0,
            toggles={},
            kb=0.0,
            field="",
            focus=False,
            who="alice",
            history=(),
            bubbles=(),
            attach=0.0,
            sheet=0.0,
            photo=0,
            results=0.0,
            place="pizza",
            picker=None,
            alarms=(),
            new_alarm=0.0,
            flash=0.0,
            photo_taken=0.0,
            focus_at=0.0,
        )
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
        self.state["history"] = tuple(
            (bool(rng.random() < 0.5), float(rng.uniform(24, 70)), int(rng.integers(1, 3)), None)
            for _ in range(int(rng.integers(1, 4)))
        )

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
        self.tap((2 + (i % 4 + 0.5) * cell, self.list_top() + (i // 4 + 0.5) * cell), _go("photo", "fade"), anim=(0.25, 0.4))
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
            self.focus_xy = self.tap(
                (float(rng.uniform(30, 98)), float(rng.uniform(30, 80))), _set(focus_at=1.0), anim=(0.2, 0.3)
            ).to
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
        return dict(
            bg=_mix((242, 242, 247), (0, 0, 0), d),
            row=_mix((255, 255, 255), (28, 28, 30), d),
            fg=_mix((20, 20, 25), (245, 245, 245), d),
            sub=_mix((142, 142, 147), (150, 150, 155), d),
            sep=_mix((222, 222, 228), (56, 56, 60), d),
            field=_mix((232, 232, 238), (44, 44, 48), d),
        )

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
                    c.rect(
                        x0 + 4,
                        y + 4 + 9 * i,
                        x0 + w - 6 - 8 * (i == lines - 1),
                        y + 8 + 9 * i,
                        fill=(190, 215, 255) if mine else pal["sub"],
                    )
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
            wheels = (
                (40, s["picker"][0], lambda v: str((v - 1) % 12 + 1)),  # hours 1-12
                (64, s["picker"][1], lambda v: f"{v % 12 * 5:02d}"),
            )  # minutes 00-55
            for x, value, fmt in wheels:
                base = math.floor(value)
                for d in range(-2, 4):
                    y = band + (d - (value - base)) * 10
                    if abs(y - band) <= 26:
                        c.text(x, y - 3.5, fmt(base + d), _mix(fg, (28, 28, 30), min(1.0, abs(y - band) / 30)), align="center")
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
