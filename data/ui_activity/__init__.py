"""UI activity clips made here: procedural phone-screen recordings of user intents (UI-JEPA's data).

UI-JEPA (Fu et al., arXiv 2409.04081) embeds videos of user-interface activity and decodes the user's
intent as text.  Only its datasets (IIT / IIW) were released and they cannot be downloaded here, so this
package *generates* short screen recordings, and reads real recordings converted to the same format.

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

Modules
    * :mod:`~data.ui_activity.intents`: intent families, paraphrases, :data:`INTENTS`, the zero-shot split.
    * :mod:`~data.ui_activity.drawing`: the app / content model and the phone-screen drawing primitives.
    * :mod:`~data.ui_activity.activity`: scripted activities per intent, their screens, :func:`render_clip`.
    * :mod:`~data.ui_activity.folders`: the on-disk folder format (:data:`SPLITS`) and its clip readers.
    * :mod:`~data.ui_activity.dataset`: config, generation, caching and :func:`load_ui_activity`.
    * :mod:`~data.ui_activity.preview`: :func:`save_preview` (PNG strips, GIF grids).
"""

from __future__ import annotations

from data.ui_activity.intents import INTENTS, Intent, intent_words, zeroshot_split
from data.ui_activity.activity import _Clip as _Clip, clip_text, render_clip
from data.ui_activity.folders import SPLITS, read_clip_folder
from data.ui_activity.dataset import UI_ACTIVITY_VERSION as UI_ACTIVITY_VERSION, UISplit, generate_ui_activity, load_ui_activity
from data.ui_activity.preview import save_preview

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
