"""Intents of the UI activity clips: the compositional families, their paraphrases and the zero-shot split.

An :class:`Intent` is a family (toggle a setting on / off, message / call / share a photo with a contact,
search a place in an app, set an alarm, play a genre, take a photo) with its arguments; its canonical text
and 4-5 paraphrases come from the family's templates and the arguments' synonyms.  :data:`INTENTS` lists
the 20 intents, ordered so that any prefix has held-out combinations late in the list;
:func:`zeroshot_split` holds out the zero-shot intents whose words all occur in the few-shot ones, and
:func:`intent_words` is the word tokenizer it (and the text metrics) use.
"""

from __future__ import annotations

import dataclasses
import re


# ---------------------------------------------------------------------------------------- intents
# Families: paraphrase templates ({x}: the first argument, {y}: the second).
_TEMPLATES = {
    "toggle_on": ("turn on {x}", "switch {x} on", "enable {x}", "open settings and turn on {x}", "turn {x} on"),
    "toggle_off": ("turn off {x}", "switch {x} off", "disable {x}", "open settings and turn off {x}", "turn {x} off"),
    "message": ("send a message to {x}", "text {x}", "message {x}", "send {x} a text", "write a message to {x}"),
    "call": ("call {x}", "phone {x}", "give {x} a call", "make a call to {x}", "ring {x}"),
    "share": ("share a photo with {x}", "send a photo to {x}", "send {x} a picture", "share a picture with {x}"),
    "search": ("search for {x} in {y}", "find {x} in {y}", "look up {x} in {y}", "search {y} for {x}", "show me {x} in {y}"),
    "alarm": ("set an alarm for {x}", "wake me up at {x}", "create an alarm for {x}", "set alarm at {x}"),
    "play": ("play {x}", "put on {x}", "start playing {x}", "listen to {x}"),
    "camera": ("take a photo", "take a picture", "snap a photo", "open the camera and take a photo", "capture a picture"),
}
# Arguments: synonyms (the first one is canonical).
_SYNONYMS = {
    "wifi": ("wifi", "wi-fi"),
    "bluetooth": ("bluetooth",),
    "airplane": ("airplane mode", "flight mode"),
    "dark": ("dark mode", "the dark theme"),
    "alice": ("Alice",),
    "bob": ("Bob",),
    "pizza": ("pizza places", "pizza restaurants"),
    "coffee": ("coffee shops", "cafes"),
    "maps": ("maps", "the maps app"),
    "browser": ("the browser", "the web"),
    "7am": ("7 am", "7:00 am"),
    "6am": ("6 am", "6:00 am"),
    "jazz": ("some jazz", "jazz music"),
    "rock": ("some rock music", "rock music"),
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
