"""ExoRL episode files -> TorchRL replay buffers, with an on-disk cache.

All episodes of a dataset directory are converted once into flat, memory-mappable arrays
(``<cache_dir>/dmc/buffers/<domain>-<algo>-<obs>-<fingerprint>/``):

* ``observation.npy`` f32 [N, obs_dim], ``action.npy`` f32 [N, act_dim], ``physics.npy`` f64 [N, P],
  ``reward.npy`` f32 [N, 1] (if every file has rewards), ``pixels.npy`` u8 [N, 3, H, W] (obs=pixels):
  the episodes' rows back to back, exactly as stored (row 0 of each episode = its reset step);
* ``episodes.npy`` int64 [E, 2]: first row and row count of each episode (file order = index order);
* ``layout.json``: source directory, file names, counts.

The fingerprint hashes the files' names, sizes and modification times (hashing gigabytes of
data on every start would defeat the cache).  Loading maps the arrays copy-on-write: seconds
for millions of transitions, RAM shared through the page cache.

Storage index ``i`` is the transition from row ``i`` to row ``i + 1`` of the same episode
(valid unless row ``i`` ends its episode): ``observation = obs[i]``, ``action = action[i + 1]``
(ExoRL stores an action with the step it produced), ``("next", observation|physics|reward) =
row i + 1``.  Pixels are stacked at sample time from single frames, oldest first, repeating the
episode's first frame, so no stacked copy is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tensordict import TensorDict
from tqdm import tqdm

from envs.buffer import DatasetError, OfflineReplayBuffer, atomic_dir, read_npz_member, reserved_memmap
from envs.common import cfg_get, sample_future_rows
from envs.dmc.dataset import (
    COLLECTION_MARKER,
    _fix_hint,
    buffer_dir,
    check_episode_header,
    collect_dataset,
    list_episode_files,
    official_dirs,
)

__all__ = ["DMCReplayBuffer", "build_buffers", "resolve_episode_files", "load_dmc_dataset", "SOURCES"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1
SOURCES = ("auto", "official", "collected")


class DMCReplayBuffer(OfflineReplayBuffer):
    """Read-only replay buffer of ExoRL transitions (see module docstring).

    ``rb.sample()`` returns a TensorDict of batch ``[B]`` with ``observation`` f32 [B, obs_dim],
    ``action`` f32 [B, act_dim], ``physics`` f64 [B, P], ``index`` int64 [B] and ``next``:
    ``observation``, ``physics``, ``reward`` f32 [B, 1] (if stored), ``done``/``truncated`` bool [B, 1]
    (last transition of an episode: DMC episodes end by time limit) and ``terminated`` (always
    False).  With pixels, ``pixels`` and ``("next", "pixels")`` u8 [B, 3 * frame_stack, H, W].
    With ``future``, ``future_observation`` (a later observation of the same episode, geometric
    offset >= 1, as in the OGBench buffer).

    :meth:`encode_frame_stacks` + :meth:`use_frame_features` swap the pixel keys for precomputed features
    of a frozen encoder (one forward per row instead of two per sampled transition).
    """

    def __init__(
        self,
        arrays: dict[str, torch.Tensor],
        episodes: torch.Tensor,
        valid: torch.Tensor,
        layout: dict[str, Any],
        *,
        frame_stack: int = 3,
        batch_size: int = 1024,
        generator: torch.Generator | None = None,
        future: float | None = None,
    ):
        self.arrays = arrays
        self.layout = layout
        self.episodes = episodes
        self.frame_stack = int(frame_stack)
        self.future = future
        n = arrays["observation"].shape[0]
        self._starts = episodes[:, 0].contiguous()
        last = self._starts + episodes[:, 1] - 1
        is_last = torch.zeros(n, dtype=torch.bool)
        is_last[last] = True
        self._next_done = torch.zeros(n, 1, dtype=torch.bool)  # [i]: row i + 1 ends its episode
        self._next_done[:-1, 0] = is_last[1:]
        self._last_rows = None
        if future is not None:
            self._last_rows = torch.repeat_interleave(last, episodes[:, 1])
        self._false = torch.zeros(1, 1, dtype=torch.bool)
        self.frame_features: torch.Tensor | None = None  # [N, F] features of the frame stack ending at each row
        super().__init__(self._views(), valid, batch_size=batch_size, generator=generator, source=layout.get("source"))

    @property
    def has_pixels(self) -> bool:
        return "pixels" in self.arrays

    # ---------------------------------------------------------------- views / gathers
    def _assemble(self, cur: dict, nxt: dict, done: torch.Tensor, n: int) -> TensorDict:
        nxt = dict(nxt, done=done, truncated=done, terminated=self._false.expand(n, 1))
        return TensorDict({**cur, "next": TensorDict(nxt, batch_size=[n])}, batch_size=[n])

    def _views(self) -> TensorDict:
        """Zero-copy transition view over all rows (row i -> row i+1), used as the TensorStorage."""
        a = self.arrays
        n = a["observation"].shape[0] - 1
        cur = {"observation": a["observation"][:-1], "action": a["action"][1:], "physics": a["physics"][:-1]}
        nxt = {"observation": a["observation"][1:], "physics": a["physics"][1:]}
        if "reward" in a:
            nxt["reward"] = a["reward"][1:]
        return self._assemble(cur, nxt, self._next_done[:-1], n)

    def gather(self, index: torch.Tensor) -> TensorDict:
        """Transitions at storage indices ``index`` (each must be valid)."""
        index = torch.as_tensor(index, dtype=torch.long)
        a = self.arrays
        nxt_index = index + 1
        cur = {
            "observation": a["observation"].index_select(0, index),
            "action": a["action"].index_select(0, nxt_index),
            "physics": a["physics"].index_select(0, index),
        }
        nxt = {
            "observation": a["observation"].index_select(0, nxt_index),
            "physics": a["physics"].index_select(0, nxt_index),
        }
        if "reward" in a:
            nxt["reward"] = a["reward"].index_select(0, nxt_index)
        td = self._assemble(cur, nxt, self._next_done.index_select(0, index), index.shape[0])
        td.set("index", index)
        self._add_extras(td, index)
        return td

    def _add_extras(self, td: TensorDict, index: torch.Tensor) -> None:
        features = self.frame_features
        if features is not None:  # a frozen encoder's features stand in for the frame stacks
            td.set("pixels", features.index_select(0, index))
            td.set(("next", "pixels"), features.index_select(0, index + 1))
        elif self.has_pixels:
            pixels, next_pixels = self.stacked_pixels(index)
            td.set("pixels", pixels)
            td.set(("next", "pixels"), next_pixels)
        if self.future is not None:
            rows = sample_future_rows(index, self._last_rows, self.future, self._rng)
            td.set("future_observation", self.arrays["observation"].index_select(0, rows))
            if features is not None:
                td.set("future_pixels", features.index_select(0, rows))
            elif self.has_pixels:  # the frame stack ending at the future row (HILP's goals from pixels)
                td.set("future_pixels", self.frame_stack_at(rows))

    @torch.no_grad()
    def encode_frame_stacks(
        self, encode: Callable[[torch.Tensor], torch.Tensor], *, chunk: int = 512, progress: bool = True
    ) -> torch.Tensor:
        """``encode`` (u8 [B, 3k, H, W] → [B, F]) applied to the frame stack ending at every row: f32 [N, F]."""
        if not self.has_pixels:
            raise ValueError("this DMC buffer holds no pixels (env.obs=states): there are no frames to encode")
        n = self.arrays["pixels"].shape[0]
        starts = range(0, n, chunk)
        if progress:
            starts = tqdm(starts, desc="encode frames", unit="chunk", dynamic_ncols=True, leave=False)
        parts = [encode(self.frame_stack_at(torch.arange(s, min(s + chunk, n)))).float().cpu() for s in starts]
        return torch.cat(parts)

    def use_frame_features(self, features: torch.Tensor | None) -> None:
        """Serve ``features[row]`` (from :meth:`encode_frame_stacks`) under the pixel keys; ``None`` restores frames."""
        if features is not None and (features.ndim != 2 or features.shape[0] != self.arrays["pixels"].shape[0]):
            raise ValueError(
                f"frame features must be [{self.arrays['pixels'].shape[0]}, F] (one row per frame), got {list(features.shape)}"
            )
        self.frame_features = features

    def frame_stack_at(self, rows: torch.Tensor) -> torch.Tensor:
        """The frame stack ending at each of ``rows`` (u8 [B, 3k, H, W]; the episode's first frame repeated)."""
        k = self.frame_stack
        start = self._starts[torch.searchsorted(self._starts, rows, right=True) - 1]
        frame_rows = torch.maximum(rows.unsqueeze(1) + torch.arange(-k + 1, 1), start.unsqueeze(1))
        pixels = self.arrays["pixels"]
        frames = pixels.index_select(0, frame_rows.reshape(-1))
        return frames.reshape(rows.shape[0], k * pixels.shape[1], *pixels.shape[2:])

    def stacked_pixels(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame stacks of rows ``index`` and ``index + 1``: u8 [B, 3k, H, W] each, oldest frame first.

        One gather of rows ``index - k + 1 .. index + 1``, clamped to the episode's first row
        (the reset frame is repeated, like the env does at reset).
        """
        k = self.frame_stack
        start = self._starts[torch.searchsorted(self._starts, index, right=True) - 1]
        rows = index.unsqueeze(1) + torch.arange(-k + 1, 2)  # [B, k + 1]
        rows = torch.maximum(rows, start.unsqueeze(1))
        pixels = self.arrays["pixels"]
        frames = pixels.index_select(0, rows.reshape(-1)).reshape(index.shape[0], k + 1, *pixels.shape[1:])
        b, _, c, h, w = frames.shape
        return frames[:, :k].reshape(b, k * c, h, w), frames[:, 1:].reshape(b, k * c, h, w)

    def sample_generic(self, batch_size: int | None = None, return_info: bool = False):
        """TorchRL's generic sampling path; pixel stacks (and future observations) are added after it."""
        td, info = super().sample_generic(batch_size, return_info=True)
        self._add_extras(td, td.get("index"))
        return (td, info) if return_info else td

    def __repr__(self) -> str:
        return (
            f"DMCReplayBuffer(source={self.layout.get('source')!r}, transitions={len(self)}, "
            f"episodes={self.episodes.shape[0]}, pixels={self.has_pixels}, batch_size={self._batch_size})"
        )


# ------------------------------------------------------------------------------------ cache
def _fingerprint(files: list[Path], suite, pixels: bool) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([CACHE_VERSION, suite.name, pixels, suite.render_size if pixels else None]).encode())
    for path in files:
        st = path.stat()
        h.update(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _read_key(npz, key: str, path: Path) -> np.ndarray:
    return read_npz_member(npz, key, path, kind="Episode", fix=_fix_hint(path))


def _convert(files: list[Path], suite, out_dir: Path, *, pixels: bool, fingerprint: str, progress: bool) -> None:
    """Validate every file's header, then stream all episodes into the cache layout (atomic directory)."""
    headers = [check_episode_header(f, suite, pixels=pixels) for f in files]
    lengths = np.array([h["observation"][0] for h in headers], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    n = int(lengths.sum())
    has_reward = all("reward" in h for h in headers)
    widths = {"observation": suite.observation_dim, "action": suite.action_dim, "physics": suite.physics_dim}
    with atomic_dir(out_dir) as tmp:
        out = {
            "observation": reserved_memmap(tmp / "observation.npy", np.float32, (n, widths["observation"])),
            "action": reserved_memmap(tmp / "action.npy", np.float32, (n, widths["action"])),
            "physics": reserved_memmap(tmp / "physics.npy", np.float64, (n, widths["physics"])),
        }
        if has_reward:
            out["reward"] = reserved_memmap(tmp / "reward.npy", np.float32, (n, 1))
        if pixels:
            size = suite.render_size
            out["pixels"] = reserved_memmap(tmp / "pixels.npy", np.uint8, (n, 3, size, size))
        for path, start, rows in tqdm(
            list(zip(files, starts, lengths)), desc="cache ExoRL episodes", unit="ep", disable=not progress or len(files) < 50
        ):
            with np.load(path, allow_pickle=False) as npz:
                for key, dst in out.items():
                    arr = _read_key(npz, key, path)
                    if key == "reward":
                        arr = arr.reshape(rows, -1)[:, :1]  # vector rewards: first entry (TD-JEPA update_data.py)
                    elif key == "pixels" and arr.shape[-1] == 3 and arr.shape[1] != 3:
                        arr = arr.transpose(0, 3, 1, 2)  # HWC files -> CHW
                    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                        bad = int((~np.isfinite(arr)).reshape(rows, -1).any(axis=1).sum())
                        raise DatasetError(
                            f"Episode file {path}: '{key}' contains NaN/inf values in {bad} rows. {_fix_hint(path)}"
                        )
                    dst[start : start + rows] = arr
        for arr in out.values():
            arr.flush()
        del out
        np.save(tmp / "episodes.npy", np.stack([starts, lengths], axis=1))
        layout = dict(
            version=CACHE_VERSION,
            fingerprint=fingerprint,
            domain=suite.name,
            pixels=pixels,
            source=str(files[0].parent),
            files=[f.name for f in files],
            episodes=len(files),
            rows=n,
            transitions=n - len(files),
            has_reward=has_reward,
        )
        (tmp / "layout.json").write_text(json.dumps(layout, indent=1))


def _episode_rows(episodes: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Valid transition indices (all rows but the last) of the selected episodes."""
    parts = [np.arange(s, s + length - 1, dtype=np.int64) for s, length in episodes[which]]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def build_buffers(
    files: list[Path],
    suite,
    *,
    cache_dir: str | os.PathLike,
    pixels: bool = False,
    batch_size: int = 1024,
    max_transitions: int | None = None,
    val_episodes: int | None = None,
    seed: int | None = 0,
    future: float | None = None,
    progress: bool = True,
) -> tuple[DMCReplayBuffer, DMCReplayBuffer]:
    """Convert (or load the cached conversion of) episode ``files`` into ``(train_rb, val_rb)``.

    The last ``val_episodes`` episodes (default ``max(1, episodes // 50)``) form the validation
    buffer; ``max_transitions`` caps the training transitions.  Both share the mapped arrays.
    """
    if len(files) < 2:
        raise DatasetError(
            f"An ExoRL dataset needs at least 2 episodes (one is held out for validation), found {len(files)} in "
            f"{files[0].parent if files else '?'}. Fix: collect more (dataset.num_episodes) or point dataset.data_dir "
            f"at the full dataset."
        )
    t0 = time.perf_counter()
    fingerprint = _fingerprint(files, suite, pixels)
    out_dir = (
        Path(cache_dir).expanduser() / "dmc" / "buffers" / f"{suite.name}-{files[0].parent.parent.name}-"
        f"{'pixels' if pixels else 'states'}-{fingerprint[:16]}"
    )
    cached = (out_dir / "layout.json").is_file()
    if not cached:
        log.info("converting %d episodes from %s -> %s", len(files), files[0].parent, out_dir)
        _convert(files, suite, out_dir, pixels=pixels, fingerprint=fingerprint, progress=progress)
    layout = json.loads((out_dir / "layout.json").read_text())
    keys = ["observation", "action", "physics"] + (["reward"] if layout["has_reward"] else []) + (["pixels"] if pixels else [])
    arrays = {k: torch.from_numpy(np.load(out_dir / f"{k}.npy", mmap_mode="c")) for k in keys}
    episodes_np = np.load(out_dir / "episodes.npy")
    episodes = torch.from_numpy(episodes_np)

    n_eps = episodes_np.shape[0]
    n_val = max(1, n_eps // 50) if val_episodes is None else int(val_episodes)
    if not 1 <= n_val < n_eps:
        raise ValueError(f"dataset.val_episodes must be in [1, {n_eps - 1}] for {n_eps} episodes, got {n_val}")
    train_valid = torch.from_numpy(_episode_rows(episodes_np, np.arange(n_eps - n_val)))
    val_valid = torch.from_numpy(_episode_rows(episodes_np, np.arange(n_eps - n_val, n_eps)))
    if max_transitions is not None:
        train_valid = train_valid[: int(max_transitions)]

    buffers = []
    for valid, split_seed in ((train_valid, seed), (val_valid, None if seed is None else int(seed) + 1)):
        generator = None if split_seed is None else torch.Generator().manual_seed(int(split_seed))
        meta = dict(layout, cached=cached, cache_dir=str(out_dir))
        buffers.append(
            DMCReplayBuffer(
                arrays,
                episodes,
                valid,
                meta,
                frame_stack=suite.frame_stack,
                batch_size=batch_size,
                generator=generator,
                future=future,
            )
        )
    train_rb, val_rb = buffers
    train_rb.layout["split"], val_rb.layout["split"] = "train", "val"
    seconds = time.perf_counter() - t0
    for rb in buffers:
        rb.layout["load_seconds"] = seconds
    log.info(
        "%s DMC buffer %s: %d train / %d val transitions in %.2fs",
        "cached" if cached else "new",
        out_dir.name,
        len(train_rb),
        len(val_rb),
        seconds,
    )
    return train_rb, val_rb


# ------------------------------------------------------------------------------------ sources
def resolve_episode_files(dataset_cfg: Any, suite) -> tuple[list[Path], str]:
    """``(episode files, how)`` for the dataset config, collecting episodes if needed.

    ``how`` is ``"official"`` (files found under ``data_dir``) or ``"collected"``.
    """
    source = str(cfg_get(dataset_cfg, "source", "auto"))
    if source not in SOURCES:
        raise ValueError(f"dataset.source must be one of {'|'.join(SOURCES)}, got {source!r}")
    algo = str(cfg_get(dataset_cfg, "algo", "rnd"))
    data_dir = Path(str(cfg_get(dataset_cfg, "data_dir", "~/exorl/datasets"))).expanduser()
    cache_dir = Path(str(cfg_get(dataset_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
    pixels = suite.obs_type == "pixels"

    if source in ("auto", "official"):
        candidates = official_dirs(data_dir, suite.name, algo)
        for directory in candidates:
            files = list_episode_files(directory)
            if files:
                log.info("dataset %s/%s: %d official episodes in %s", suite.name, algo, len(files), directory)
                return files, "official"
        if source == "official":
            raise DatasetError(
                f"Official ExoRL dataset {suite.name}/{algo} not found: no episode_<idx>_<len>.npz files in "
                f"{candidates[0]}. Fix: download it with ExoRL's download.sh ({suite.name} {algo}) and unpack it into "
                f"{data_dir} (dataset.data_dir), or set dataset.source=collected (or auto) to collect random-action "
                f"episodes locally."
            )

    num_episodes = int(cfg_get(dataset_cfg, "num_episodes", 20))
    length = int(cfg_get(dataset_cfg, "episode_length") or suite.spec.max_episode_steps)
    seed = int(cfg_get(dataset_cfg, "seed", 0))
    tag = f"{suite.name}-random-ep{num_episodes}-len{length}-seed{seed}" + (f"-pixels{suite.render_size}" if pixels else "")
    root = cache_dir / "dmc" / "collected" / tag
    directory = buffer_dir(root, suite.name, "random")
    if (directory.parent / COLLECTION_MARKER).is_file():
        log.info("dataset %s: using collected episodes in %s", suite.name, directory)
    else:
        why = f"no official {suite.name}/{algo} files under {data_dir}; " if source == "auto" else ""
        log.warning(
            "dataset %s: %scollecting %d uniform-random-action episodes into %s", suite.name, why, num_episodes, directory
        )
        collect_dataset(
            suite.name,
            root,
            num_episodes=num_episodes,
            seed=seed,
            episode_length=length,
            pixels=pixels,
            render_size=suite.render_size,
            cheap_render=suite.cheap_render,
            progress=bool(cfg_get(dataset_cfg, "progress", True)),
        )
    return list_episode_files(directory)[:num_episodes], "collected"


def load_dmc_dataset(dataset_cfg: Any, suite=None) -> tuple[DMCReplayBuffer, DMCReplayBuffer]:
    """``(train_rb, val_rb)`` for the ``dataset`` sub-config (see ``configs/dataset/dmc.yaml``).

    Fields: ``domain``, ``obs`` (states|pixels), ``algo``, ``source`` (auto|official|collected),
    ``data_dir``, ``cache_dir``, ``num_episodes``/``episode_length`` (collection), ``val_episodes``,
    ``seed``, ``batch_size``, ``max_transitions``, ``future``, ``frame_stack``/``render_size`` (pixels).
    ``suite`` (a :class:`DMCTaskSuite`) is built from the config if not given.
    """
    if suite is None:
        from envs.dmc.suite import DMCTaskSuite

        suite = DMCTaskSuite.from_config(dataset_cfg)
    files, how = resolve_episode_files(dataset_cfg, suite)
    future = cfg_get(dataset_cfg, "future")
    train_rb, val_rb = build_buffers(
        files,
        suite,
        cache_dir=Path(str(cfg_get(dataset_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser(),
        pixels=suite.obs_type == "pixels",
        batch_size=int(cfg_get(dataset_cfg, "batch_size", 1024)),
        max_transitions=cfg_get(dataset_cfg, "max_transitions"),
        val_episodes=cfg_get(dataset_cfg, "val_episodes"),
        seed=cfg_get(dataset_cfg, "seed", 0),
        future=None if future is None else float(future),
        progress=bool(cfg_get(dataset_cfg, "progress", True)),
    )
    for rb in (train_rb, val_rb):
        rb.layout["how"] = how
    log.info("dataset %s (%s): train %d / val %d transitions", suite.name, how, len(train_rb), len(val_rb))
    return train_rb, val_rb
