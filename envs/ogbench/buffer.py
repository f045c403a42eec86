"""OGBench ``.npz`` -> TorchRL replay buffer, with an on-disk cache.

Layout of a cached buffer (``<cache_dir>/ogbench/buffers/<file stem>-<content hash>/``):

* ``rows.npy``      f32 [N, D]: the file's rows, columns = observations | actions | qpos | qvel
  (| button_states), exactly as stored in the npz (one row per env step);
* ``terminals.npy`` bool [N]: episode ends (the last row is always treated as one);
* ``valid.npy``     int64 [M]: rows ``i`` with ``terminals[i] == False`` — the transitions
  ``(row i, row i+1)`` that ``ogbench.utils.load_dataset`` keeps (last step of each episode dropped);
* ``layout.json``   column slices and source metadata;
* ``lidar-<hash>.npy`` f16 [N, 12, 32, 32] (only once a suite with ``obs="lidar"`` loaded the file): the
  LiDAR grid at every row's agent xy (``qpos[:2]``), see :func:`dataset_lidar`.  ``<hash>`` covers the
  sensor, the grid, the seed and the env, so a change of any of them scans again next to the old file.

The cache is memory-mapped (copy-on-write) when loaded, so a cached load costs
milliseconds and the page cache is shared between processes.  Transitions are
*views*: ``observation = rows[:-1]``, ``("next", "observation") = rows[1:]``, so no
next-state copy is ever made (RAM ~= 1x the raw arrays).

With LiDAR observations batches also carry ``lidar``, ``("next", "lidar")`` (and ``future_lidar``
with ``future``), f32 [B, 12, 32, 32], gathered from that memmap (the generic
TorchRL path serves its float16 storage as is).

Sampling: :meth:`OGBenchReplayBuffer.sample` is a fast path (two ``index_select``
on the flat matrix, ~40 us per batch of 256) that returns the same TensorDict as
the generic TorchRL path (``TensorDictReplayBuffer.sample`` over the ``TensorStorage``,
~5x slower), which remains available as :meth:`OGBenchReplayBuffer.sample_generic`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import time
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict
from tqdm import tqdm

from envs.buffer import (
    DatasetError,
    OfflineReplayBuffer,
    atomic_dir,
    atomic_file,
    file_hash,
    params_digest,
    read_npz_member,
    reserved_memmap,
)
from envs.common import cfg_get, episode_last_rows, sample_future_rows
from envs.ogbench.dataset import (
    _fix_hint,
    check_dataset_header,
    check_maze_positions,
    generate_dataset,
    val_path_for,
)
from envs.ogbench.names import parse_name

__all__ = [
    "OGBenchReplayBuffer",
    "load_ogbench_dataset",
    "resolve_dataset_files",
    "build_buffer",
    "dataset_lidar",
    "lidar_row_rng",
    "file_hash",
]

log = logging.getLogger(__name__)

CACHE_VERSION = 1
DOWNLOAD_TIMEOUT_S = 10.0
_COLUMN_KEYS = ("observations", "actions", "qpos", "qvel", "button_states")
_TD_KEY = {"observations": "observation", "actions": "action", "qpos": "qpos", "qvel": "qvel", "button_states": "button_states"}
_NEXT_KEYS = ("observations", "qpos", "qvel", "button_states")
LIDAR_CACHE_VERSION = 1  # part of the LiDAR cache's hash: bump when the scans of a dataset change
LIDAR_SEED = 0  # row i of a dataset file is scanned with noise/dropout from default_rng((LIDAR_SEED, i))
_LIDAR_CHUNK = 256  # rows scanned between two writes to the memmap


class OGBenchReplayBuffer(OfflineReplayBuffer):
    """Read-only replay buffer of OGBench transitions (see module docstring).

    ``len(rb)`` is the number of transitions; ``rb.sample()`` returns a TensorDict with
    ``observation, action, qpos, qvel, index`` and ``("next", observation|qpos|qvel|done|
    terminated|truncated)`` (+ ``button_states`` when the file has them).  ``terminated`` is
    always False (OGBench has no true terminals); ``done``/``truncated`` mark episode ends.
    ``lidar`` (f16 [N, C, H, W], one grid per row, :func:`dataset_lidar`) adds ``lidar`` and
    ``("next", "lidar")`` (and ``future_lidar``) f32 to the batches.
    """

    def __init__(
        self,
        rows: torch.Tensor,
        terminals: torch.Tensor,
        valid: torch.Tensor,
        layout: dict[str, Any],
        *,
        batch_size: int = 256,
        generator: torch.Generator | None = None,
        future: float | None = None,
        lidar: torch.Tensor | None = None,
    ):
        self.rows, self.terminals = rows, terminals
        if lidar is not None and lidar.shape[0] != rows.shape[0]:
            raise ValueError(f"lidar has {lidar.shape[0]} rows but the dataset has {rows.shape[0]}")
        self.lidar = lidar
        self._lidar_np = None if lidar is None else lidar.numpy()
        # With ``future`` set, batches also carry ``future_observation`` (HILP's goals).
        self.future = future
        self._last_rows = episode_last_rows(terminals) if future is not None else None
        self.layout = layout
        self.valid = valid
        self.columns = {k: slice(*v) for k, v in layout["columns"].items()}
        self.dtypes = {k: getattr(torch, v) for k, v in layout["dtypes"].items()}
        n = rows.shape[0]
        # episode end right after row i: for a valid i, next row i+1 is the last of its episode.
        next_done = torch.zeros(n, 1, dtype=torch.bool)
        next_done[:-1, 0] = terminals[1:]
        self._next_done = next_done
        self._false = torch.zeros(1, 1, dtype=torch.bool)
        super().__init__(self._views(), valid, batch_size=batch_size, generator=generator, source=layout.get("source"))

    # ---------------------------------------------------------------- views / gathers
    def _split(
        self,
        cur: torch.Tensor,
        nxt: torch.Tensor,
        done: torch.Tensor,
        n: int,
        lidar: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> TensorDict:
        out, nested = {}, {}
        for key, sl in self.columns.items():
            dtype = self.dtypes[key]
            cast = (lambda x: x) if dtype == torch.float32 else (lambda x, d=dtype: x.to(d))
            out[_TD_KEY[key]] = cast(cur[:, sl])
            if key in _NEXT_KEYS:
                nested[_TD_KEY[key]] = cast(nxt[:, sl])
        nested["done"] = done
        nested["truncated"] = done
        nested["terminated"] = self._false.expand(n, 1)
        if lidar is not None:
            out["lidar"], nested["lidar"] = lidar
        out["next"] = TensorDict(nested, batch_size=[n])
        return TensorDict(out, batch_size=[n])

    def _views(self) -> TensorDict:
        """Zero-copy transition view over all rows (row i -> row i+1), used as the TensorStorage."""
        n = self.rows.shape[0] - 1
        lidar = None if self.lidar is None else (self.lidar[:-1], self.lidar[1:])
        return self._split(self.rows[:-1], self.rows[1:], self._next_done[:-1], n, lidar)

    def gather(self, index: torch.Tensor) -> TensorDict:
        """Transitions at storage rows ``index`` (each must be a valid transition row)."""
        index = torch.as_tensor(index, dtype=torch.long)
        cur = self.rows.index_select(0, index)
        nxt = self.rows.index_select(0, index + 1)
        lidar = None
        if self.lidar is not None:
            lidar = (self._lidar_rows(index), self._lidar_rows(index + 1))
        td = self._split(cur, nxt, self._next_done.index_select(0, index), index.shape[0], lidar)
        td.set("index", index)
        if self.future is not None:
            future_rows = sample_future_rows(index, self._last_rows, self.future, self._rng)
            td.set("future_observation", self.rows.index_select(0, future_rows)[:, self.columns["observations"]])
            if self.lidar is not None:
                td.set("future_lidar", self._lidar_rows(future_rows))
        return td

    def _lidar_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """f32 LiDAR grids of ``rows`` (NumPy's gather on the memmap: ~2x torch's index_select for float16)."""
        return torch.from_numpy(self._lidar_np[rows.numpy()]).float()

    def __repr__(self) -> str:
        return (
            f"OGBenchReplayBuffer(source={self.layout.get('source')!r}, transitions={len(self)}, "
            f"rows={self.rows.shape[0]}, batch_size={self._batch_size}{', lidar' if self.lidar is not None else ''})"
        )


# ------------------------------------------------------------------------------------ cache
def _buffer_dir(cache_dir: Path, npz_path: Path, digest: str) -> Path:
    stem = npz_path.name[: -len(".npz")] if npz_path.name.endswith(".npz") else npz_path.name
    return cache_dir / "ogbench" / "buffers" / f"{stem}-{digest[:16]}"


def _convert(npz_path: Path, suite, out_dir: Path, digest: str) -> None:
    """Stream the npz key by key into the memory-mappable cache layout (atomic directory rename)."""
    shapes = check_dataset_header(npz_path, suite)
    n = shapes["terminals"][0]
    keys = [k for k in _COLUMN_KEYS if k in shapes]
    columns, dtypes, start = {}, {}, 0
    for k in keys:
        width = shapes[k][1]
        columns[k] = (start, start + width)
        start += width
    with atomic_dir(out_dir) as tmp:
        rows = reserved_memmap(tmp / "rows.npy", np.float32, (n, start))
        with np.load(npz_path, allow_pickle=False) as npz:
            for k in keys:
                arr = _read_key(npz, k, npz_path)
                if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                    bad = int((~np.isfinite(arr)).reshape(n, -1).any(axis=1).sum())
                    raise DatasetError(
                        f"Dataset file {npz_path}: '{k}' contains NaN/inf values in {bad} rows. {_fix_hint(npz_path)}"
                    )
                dtypes[k] = (
                    "float32"
                    if np.issubdtype(arr.dtype, np.floating)
                    else str(torch.from_numpy(np.zeros(0, arr.dtype)).dtype).replace("torch.", "")
                )
                if k == "qpos":
                    check_maze_positions(arr, suite, npz_path)
                rows[:, columns[k][0] : columns[k][1]] = arr
                del arr
            terminals = _read_key(npz, "terminals", npz_path).astype(bool).reshape(-1)
        rows.flush()
        del rows
        terminals[-1] = True  # the file ends an episode whether or not it says so
        valid = np.flatnonzero(~terminals).astype(np.int64)
        if valid.size == 0:
            raise DatasetError(
                f"Dataset file {npz_path} has no transitions (every episode has a single step). Fix: regenerate it "
                f"with episode_length >= 2."
            )
        np.save(tmp / "terminals.npy", terminals)
        np.save(tmp / "valid.npy", valid)
        layout = dict(
            version=CACHE_VERSION,
            source=str(npz_path),
            sha=digest,
            dataset=suite.name,
            rows=int(n),
            transitions=int(valid.size),
            columns=columns,
            dtypes=dtypes,
        )
        (tmp / "layout.json").write_text(json.dumps(layout, indent=1))


def lidar_row_rng(row: int) -> np.random.Generator:
    """The noise/dropout generator of the LiDAR scan of dataset row ``row`` (one per row: a row's grid does
    not depend on the other rows, the chunking or the order of the scans)."""
    return np.random.default_rng((LIDAR_SEED, int(row)))


def _lidar_digest(suite) -> str:
    from data.lidar import LIDAR_VERSION, MAZE_GRID, MAZE_LIDAR

    return params_digest(
        dict(
            version=LIDAR_CACHE_VERSION,
            lidar_version=LIDAR_VERSION,
            env=suite.env_id,
            seed=LIDAR_SEED,
            spec=dataclasses.asdict(MAZE_LIDAR),
            grid=dataclasses.asdict(MAZE_GRID),
        )
    )


def dataset_lidar(
    out_dir: str | os.PathLike, rows: torch.Tensor, qpos_columns: tuple[int, int], suite, *, progress: bool = True
) -> tuple[torch.Tensor, bool, Path]:
    """LiDAR grids of every row of a cached buffer: ``(f16 [N, 12, 32, 32] memmap, cached, path)``.

    Row i is ``suite.lidar_scan(qpos_i[:2], lidar_row_rng(i))`` (the agent at the row's xy, the maze
    around it), rounded to float16.  Scanned once per dataset file (~1 ms a row on one core, with a
    progress bar) into ``<out_dir>/lidar-<hash>.npy`` through a temp file and ``os.replace``, so an
    interrupted scan leaves no partial cache; later loads memory-map it (copy-on-write).
    """
    out_dir = Path(out_dir)
    path = out_dir / f"lidar-{_lidar_digest(suite)}.npy"
    cached = path.is_file()
    if not cached:
        xy = rows[:, qpos_columns[0] : qpos_columns[0] + 2].numpy().astype(np.float64)
        n = xy.shape[0]
        from envs.ogbench.env import LIDAR_SHAPE

        with atomic_file(path) as tmp:
            out = reserved_memmap(tmp, np.float16, (n, *LIDAR_SHAPE))
            chunk = np.empty((_LIDAR_CHUNK, *LIDAR_SHAPE), dtype=np.float16)
            with tqdm(total=n, desc=f"lidar scans of {out_dir.name}", unit="row", disable=not progress) as bar:
                for start in range(0, n, _LIDAR_CHUNK):
                    stop = min(start + _LIDAR_CHUNK, n)
                    for i in range(start, stop):
                        chunk[i - start] = suite.lidar_scan(xy[i : i + 1], lidar_row_rng(i))[0].numpy()
                    out[start:stop] = chunk[: stop - start]
                    bar.update(stop - start)
            out.flush()
            del out
    return torch.from_numpy(np.load(path, mmap_mode="c")), cached, path


def _read_key(npz, key: str, path: Path) -> np.ndarray:
    return read_npz_member(npz, key, path, kind="Dataset", fix=_fix_hint(path))


def build_buffer(
    npz_path: str | os.PathLike,
    suite,
    *,
    cache_dir: str | os.PathLike,
    batch_size: int = 256,
    max_transitions: int | None = None,
    seed: int | None = None,
    future: float | None = None,
    progress: bool = True,
) -> OGBenchReplayBuffer:
    """Convert (or load the cached conversion of) one ``.npz`` into an :class:`OGBenchReplayBuffer`.

    With a ``suite`` of ``obs="lidar"`` the buffer also serves LiDAR grids (:func:`dataset_lidar`, scanned
    once per file with a progress bar unless ``progress=False``)."""
    npz_path = Path(npz_path).expanduser()
    if not npz_path.is_file():
        raise DatasetError(
            f"Dataset file {npz_path} does not exist. Fix: put the file there, or set dataset.source=generated "
            f"(or auto) to generate one."
        )
    t0 = time.perf_counter()
    digest = file_hash(npz_path)
    out_dir = _buffer_dir(Path(cache_dir).expanduser(), npz_path, digest)
    cached = (out_dir / "layout.json").is_file()
    if not cached:
        log.info("converting %s -> %s", npz_path, out_dir)
        _convert(npz_path, suite, out_dir, digest)
    layout = json.loads((out_dir / "layout.json").read_text())
    layout["cached"] = cached
    layout["cache_dir"] = str(out_dir)
    rows = torch.from_numpy(np.load(out_dir / "rows.npy", mmap_mode="c"))
    terminals = torch.from_numpy(np.load(out_dir / "terminals.npy"))
    valid = torch.from_numpy(np.load(out_dir / "valid.npy"))
    lidar = None
    if getattr(suite, "obs_type", "states") == "lidar":
        t1 = time.perf_counter()
        lidar, lidar_cached, lidar_path = dataset_lidar(out_dir, rows, tuple(layout["columns"]["qpos"]), suite, progress=progress)
        layout["lidar"] = dict(path=str(lidar_path), cached=lidar_cached, seconds=time.perf_counter() - t1)
        if not lidar_cached:
            log.info(
                "scanned %d rows of %s with the LiDAR in %.1fs -> %s",
                rows.shape[0],
                out_dir.name,
                layout["lidar"]["seconds"],
                lidar_path.name,
            )
    if max_transitions is not None:
        valid = valid[: int(max_transitions)]
    generator = None
    if seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    rb = OGBenchReplayBuffer(
        rows, terminals, valid, layout, batch_size=batch_size, generator=generator, future=future, lidar=lidar
    )
    layout["load_seconds"] = time.perf_counter() - t0
    log.info(
        "%s buffer %s: %d transitions in %.2fs", "cached" if cached else "new", out_dir.name, len(rb), layout["load_seconds"]
    )
    return rb


# ------------------------------------------------------------------------------------ sources
def _try_download(name: str, data_dir: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> Exception | None:
    """ogbench's own downloader with a socket timeout; returns the error instead of raising."""
    import ogbench.utils

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        ogbench.utils.download_datasets([name], dataset_dir=str(data_dir))
        return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        for suffix in (".npz.tmp", "-val.npz.tmp"):  # partial downloads
            tmp = data_dir / f"{name}{suffix}"
            if tmp.exists():
                tmp.unlink()
        return exc
    finally:
        socket.setdefaulttimeout(old)


def resolve_dataset_files(dataset_cfg: Any) -> tuple[Path, Path, str]:
    """Return ``(train_npz, val_npz, how)`` for the dataset config; generates or downloads as needed.

    ``how`` is ``"official"``, ``"downloaded"`` or ``"generated"``.
    """
    spec = parse_name(cfg_get(dataset_cfg, "name"))
    name = spec.dataset_name
    source = str(cfg_get(dataset_cfg, "source", "auto"))
    if source not in ("auto", "official", "generated"):
        raise ValueError(f"dataset.source must be one of auto|official|generated, got {source!r}")
    data_dir = Path(str(cfg_get(dataset_cfg, "data_dir", "~/.ogbench/data"))).expanduser()
    cache_dir = Path(str(cfg_get(dataset_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()

    if source in ("auto", "official"):
        train, val = data_dir / f"{name}.npz", data_dir / f"{name}-val.npz"
        if train.is_file() and val.is_file():
            log.info("dataset %s: using official files in %s", name, data_dir)
            return train, val, "official"
        log.info("dataset %s: official files not in %s, trying ogbench's downloader", name, data_dir)
        err = _try_download(name, data_dir)
        if err is None and train.is_file() and val.is_file():
            return train, val, "downloaded"
        if source == "official":
            missing = [str(p) for p in (train, val) if not p.is_file()]
            raise DatasetError(
                f"Official OGBench dataset {name} not found: missing {missing}, and the download failed "
                f"({type(err).__name__ if err else 'incomplete'}: {err}). Fix: download {name}.npz and {name}-val.npz "
                f"from ogbench's server (ogbench.utils.DATASET_URL) on a machine with internet and put them in "
                f"{data_dir} (dataset.data_dir), or set dataset.source=generated to collect a dataset locally."
            )
        if not spec.can_generate:
            raise DatasetError(
                f"Official OGBench dataset {name} is not in {data_dir} and could not be downloaded ({err}). "
                + spec.generation_error
            )
        log.warning("dataset %s: official file unavailable (%s); generating one instead", name, err)

    # generated
    if not spec.can_generate:
        raise DatasetError(spec.generation_error)
    num_episodes = int(cfg_get(dataset_cfg, "num_episodes", 100))
    episode_length = cfg_get(dataset_cfg, "episode_length")
    length = int(episode_length or spec.official_episode_length)
    seed = int(cfg_get(dataset_cfg, "seed", 0))
    gen_dir = cache_dir / "ogbench" / "generated"
    train = gen_dir / f"{name}-ep{num_episodes}-len{length}-seed{seed}.npz"
    val = val_path_for(train)
    if train.is_file() and val.is_file():
        log.info("dataset %s: using generated files %s", name, train)
    else:
        log.info("dataset %s: generating %d episodes x %d steps (seed %d) -> %s", name, num_episodes, length, seed, train)
        generate_dataset(
            name,
            train,
            num_episodes=num_episodes,
            episode_length=length,
            seed=seed,
            progress=bool(cfg_get(dataset_cfg, "progress", True)),
        )
    return train, val, "generated"


def load_ogbench_dataset(dataset_cfg: Any, suite=None) -> tuple[OGBenchReplayBuffer, OGBenchReplayBuffer]:
    """``(train_rb, val_rb)`` for the ``dataset`` sub-config (see ``configs/dataset/ogbench.yaml``).

    Fields: ``name``, ``source`` (auto|official|generated), ``data_dir``, ``cache_dir``,
    ``num_episodes``, ``episode_length``, ``seed``, ``batch_size``, ``max_transitions``, ``future``,
    ``obs`` (states | lidar: also serve LiDAR grids, scanned once per file and cached), ``progress``.
    ``suite`` (an :class:`OGBenchTaskSuite`) is built from ``name`` and ``obs`` if not given.
    """
    obs = cfg_get(dataset_cfg, "obs")
    if suite is None:
        from envs.ogbench.suite import OGBenchTaskSuite

        suite = OGBenchTaskSuite(cfg_get(dataset_cfg, "name"), obs=obs or "states")
    elif obs is not None and obs != getattr(suite, "obs_type", "states"):
        raise ValueError(
            f"dataset.obs={obs!r} but the suite observes {getattr(suite, 'obs_type', 'states')!r}: "
            f"set env.obs and dataset.obs alike"
        )
    train_path, val_path, how = resolve_dataset_files(dataset_cfg)
    cache_dir = Path(str(cfg_get(dataset_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
    batch_size = int(cfg_get(dataset_cfg, "batch_size", 256))
    max_tr = cfg_get(dataset_cfg, "max_transitions")
    seed = cfg_get(dataset_cfg, "seed", 0)
    future = cfg_get(dataset_cfg, "future")
    common = dict(
        cache_dir=cache_dir,
        batch_size=batch_size,
        future=None if future is None else float(future),
        progress=bool(cfg_get(dataset_cfg, "progress", True)),
    )
    train_rb = build_buffer(train_path, suite, max_transitions=max_tr, seed=seed, **common)
    val_rb = build_buffer(val_path, suite, seed=None if seed is None else int(seed) + 1, **common)
    for rb in (train_rb, val_rb):
        rb.layout["how"] = how
    log.info("dataset %s (%s): train %d / val %d transitions", suite.name, how, len(train_rb), len(val_rb))
    return train_rb, val_rb
