"""ExoRL episode files: layout, validation, and a local collector.

Layout (ExoRL ``download.sh``; TD-JEPA ``data_loading/dmc.py``)::

    <root>/<domain>/<algo>/buffer/episode_<idx>_<len>.npz

one file per episode; ``len`` is the number of transitions.  Each file holds ``len + 1`` rows:

=========== ============================ ==============================================================
key         dtype / shape                meaning
=========== ============================ ==============================================================
observation f32 (T, obs_dim)             flattened dm_control observation of step t
action      f32 (T, action_dim)          action in [-1, 1] that *led to* step t (row 0: zeros)
reward      f32 (T, 1)                   reward of the collection task at step t (row 0: 0)
discount    f32 (T, 1)                   dm_env discount (1.0: episodes end by time limit)
physics     f64 (T, physics_dim)         ``physics.get_state()`` = qpos | qvel | act of step t
pixels      u8 (T, 3, 64, 64)            optional: CHW frame of step t (TD-JEPA ``update_data.py``)
=========== ============================ ==============================================================

Row 0 is the reset step, so transition t = (observation[t-1], action[t], observation[t]) for
t = 1..len (ExoRL ``replay_buffer.py``).  ``reward`` may hold several columns (ExoRL's maze RND
data stores a 4-vector); the first is used, as TD-JEPA's ``update_data.py`` does.

:func:`collect_dataset` writes such files locally with uniform random actions (ExoRL's
``random`` exploration data), recording the reward of the domain's collection task (walker
stand, cheetah run, quadruped run, maze reach_top_left, as TD-JEPA's ``update_data.py``) and,
optionally, 64x64 pixels.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from envs.buffer import DatasetError, npz_key_shapes, write_npz
from envs.dmc.env import PixelRenderer, make_scaled_env
from envs.dmc.tasks import DOMAIN_ALIASES, get_domain

__all__ = [
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "COLLECTION_MARKER",
    "buffer_dir",
    "episode_name",
    "list_episode_files",
    "check_episode_header",
    "collect_dataset",
    "official_dirs",
]

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("observation", "action", "physics")
OPTIONAL_KEYS = ("reward", "discount", "pixels")
COLLECTION_MARKER = "collection.json"  #: written next to ``buffer/`` once a collection is complete
_EPISODE_RE = re.compile(r"^episode_(\d+)_(\d+)\.npz$")


def buffer_dir(root: str | os.PathLike, domain: str, algo: str) -> Path:
    """``<root>/<domain>/<algo>/buffer``."""
    return Path(root).expanduser() / domain / algo / "buffer"


def episode_name(index: int, length: int) -> str:
    """``episode_<index>_<length>.npz`` (zero-padded index so that names sort by index)."""
    return f"episode_{int(index):06d}_{int(length)}.npz"


def list_episode_files(directory: str | os.PathLike) -> list[Path]:
    """Episode files of a ``buffer`` directory, ordered by episode index (other files ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        m = _EPISODE_RE.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    return [p for _, p in sorted(found)]


def _fix_hint(path: Path) -> str:
    return (
        f"Fix: delete {path} and re-create it (dataset.source=collected collects episodes locally; for official data "
        f"re-download the domain's ExoRL archive into dataset.data_dir)."
    )


def check_episode_header(path: str | os.PathLike, suite, *, pixels: bool = False) -> dict[str, tuple[int, ...]]:
    """Cheap checks of one episode file (no array data read); returns ``{key: shape}``.

    Raises :class:`DatasetError` (naming the file and the fix) if the file is missing, empty,
    not an npz, lacks a key (``pixels`` too when ``pixels``), has fewer than 2 rows, has dims
    that do not match ``suite`` (``observation_dim``, ``action_dim``, ``physics_dim``,
    ``render_size``), inconsistent row counts, or a name whose length disagrees with its rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Episode file {path} does not exist. {_fix_hint(path)}")
    required = (*REQUIRED_KEYS, "pixels") if pixels else REQUIRED_KEYS

    def missing_message(missing: list[str], keys: set[str]) -> str:
        if missing == ["pixels"]:
            return (
                f"Episode file {path} has no 'pixels' (needed for obs=pixels; official ExoRL files are state-only). "
                f"Fix: render them into the files (TD-JEPA scripts/data_processing/exorl/update_data.py --save_rgb), "
                f"or set dataset.source=collected to collect episodes with pixels locally."
            )
        return (
            f"Episode file {path} lacks key(s) {missing} (has {sorted(keys)}); an ExoRL episode needs "
            f"{list(required)}. {_fix_hint(path)}"
        )

    shapes = npz_key_shapes(
        path, required, OPTIONAL_KEYS, label="Episode file", hint=_fix_hint(path), missing_message=missing_message
    )

    rows = shapes["observation"][0] if shapes["observation"] else 0
    if rows < 2:
        raise DatasetError(
            f"Episode file {path} is empty: {rows} row(s), but an episode needs its reset row plus at least one "
            f"transition. {_fix_hint(path)}"
        )
    expected = {"observation": suite.observation_dim, "action": suite.action_dim, "physics": suite.physics_dim}
    for key, dim in expected.items():
        if len(shapes[key]) != 2 or shapes[key][1] != dim:
            raise DatasetError(
                f"Episode file {path}: '{key}' has shape {shapes[key]} but {suite.name} needs (T, {dim}); the file "
                f"belongs to a different domain or dm_control model. Fix: point dataset.data_dir/domain at the "
                f"{suite.name} data, or collect it with dataset.source=collected."
            )
    if pixels:
        size = suite.render_size
        if shapes["pixels"][1:] not in ((3, size, size), (size, size, 3)):
            raise DatasetError(
                f"Episode file {path}: 'pixels' has shape {shapes['pixels']} but obs=pixels needs (T, 3, {size}, {size}) "
                f"frames. Fix: set env.render_size to the files' size, or re-collect with dataset.source=collected."
            )
    for key, shape in shapes.items():
        if key == "pixels" and not pixels:
            continue
        if shape[0] != rows:
            raise DatasetError(
                f"Episode file {path}: '{key}' has {shape[0]} rows but 'observation' has {rows}. {_fix_hint(path)}"
            )
    m = _EPISODE_RE.match(path.name)
    if m and int(m.group(2)) != rows - 1:
        raise DatasetError(
            f"Episode file {path}: the name says {m.group(2)} transitions but the arrays have {rows - 1} "
            f"({rows} rows incl. the reset row); the file is truncated or renamed. {_fix_hint(path)}"
        )
    return shapes


# ---------------------------------------------------------------------------------------- collection
def collect_dataset(
    domain: str,
    root: str | os.PathLike,
    *,
    num_episodes: int,
    seed: int = 0,
    episode_length: int | None = None,
    pixels: bool = False,
    render_size: int = 64,
    cheap_render: bool = True,
    algo: str = "random",
    progress: bool = True,
) -> Path:
    """Collect ``num_episodes`` uniform-random-action episodes into ``<root>/<domain>/<algo>/buffer``.

    Episode ``i`` is determined by ``(seed, i)`` alone (its own RNG streams for the initial state
    and the actions), so an interrupted collection resumes where it stopped: existing episode
    files are kept.  Files are written atomically (temp file + rename); ``collection.json`` next
    to ``buffer/`` marks a complete collection.  ``episode_length`` defaults to the official 1000
    steps.  With ``pixels`` each row also stores the 64x64 frame of the domain's camera.
    Returns the ``buffer`` directory.
    """
    spec = get_domain(domain)
    num_episodes = int(num_episodes)
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    length = int(episode_length or spec.max_episode_steps)
    if length < 1:
        raise ValueError(f"episode_length must be >= 1 (transitions per episode), got {length}")
    if algo != "random":
        raise ValueError(f"Only uniform random actions can be collected locally (algo='random'), got {algo!r}")
    out = buffer_dir(root, spec.name, algo)
    out.mkdir(parents=True, exist_ok=True)

    env = make_scaled_env(spec.name, spec.collection_task, seed)
    renderer = PixelRenderer(env.physics, render_size, spec.camera_id, cheap=cheap_render) if pixels else None
    rows = length + 1
    bar = tqdm(
        total=num_episodes * length,
        unit="step",
        desc=f"collect {spec.name} ({'pixels' if pixels else 'states'})",
        disable=not progress,
    )
    try:
        for ep in range(num_episodes):
            path = out / episode_name(ep, length)
            if not path.is_file():
                write_npz(path, _collect_episode(env, renderer, spec, rows, np.random.RandomState([seed, ep])))
            bar.update(length)
    finally:
        bar.close()
        if renderer is not None:
            renderer.close()
    meta = dict(
        domain=spec.name,
        algo=algo,
        num_episodes=num_episodes,
        episode_length=length,
        seed=int(seed),
        pixels=bool(pixels),
        render_size=int(render_size),
        cheap_render=bool(cheap_render),
        reward_task=spec.collection_task,
    )
    _write_json_atomic(out.parent / COLLECTION_MARKER, meta)
    log.info("collected %d x %d steps of %s into %s", num_episodes, length, spec.name, out)
    return out


def _collect_episode(env, renderer, spec, rows: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    env.task._random = np.random.RandomState(rng.randint(2**31))  # initial-state stream of this episode
    actions = rng.uniform(-1.0, 1.0, (rows, spec.action_dim)).astype(np.float32)
    actions[0] = 0.0  # dummy action of the reset row (ExoRL's ExtendedTimeStep)
    data = {
        "observation": np.empty((rows, spec.observation_dim), np.float32),
        "action": actions,
        "reward": np.zeros((rows, 1), np.float32),
        "discount": np.ones((rows, 1), np.float32),
        "physics": np.empty((rows, spec.physics_dim), np.float64),
    }
    if renderer is not None:
        data["pixels"] = np.empty((rows, 3, renderer.height, renderer.width), np.uint8)
    ts = env.reset()
    for t in range(rows):
        if t > 0:
            # the float32 action is what gets stored, so relabelling reproduces the same ctrl
            ts = env.step(actions[t].astype(np.float64))
            data["reward"][t] = ts.reward
            data["discount"][t] = ts.discount
        data["observation"][t] = ts.observation["observations"]
        data["physics"][t] = env.physics.get_state()
        if renderer is not None:
            data["pixels"][t] = renderer().transpose(2, 0, 1)
    return data


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def official_dirs(data_dir: str | os.PathLike, domain: str, algo: str) -> list[Path]:
    """Where official episodes of ``domain`` may live (ExoRL's name, then TD-JEPA's alias, e.g. ``pointmass``)."""
    names = [domain] + [alias for alias, target in DOMAIN_ALIASES.items() if target == domain]
    return [buffer_dir(data_dir, name, algo) for name in names]
