"""Pieces shared by the offline-dataset layers of all environment families.

* :class:`DatasetError` — the one error type for unusable dataset files (a ``ValueError``);
* :func:`write_npz` — atomic, reproducible ``np.savez_compressed``-compatible writer;
* :func:`npz_member_header` — shape/dtype of an ``.npz`` member without reading its data;
* :func:`npz_key_shapes` — every member's shape, with one clear error for unusable files;
* :func:`file_hash` — content hash used to key on-disk caches;
* :func:`atomic_dir` — build a cache directory under a temp name and rename it into place;
* :func:`cached_tensordict`, :func:`params_digest` — generate-once, memory-mapped caches;
* :class:`OfflineReplayBuffer` — read-only TorchRL ``TensorDictReplayBuffer`` over memory-mapped
  arrays, sampled uniformly over the *valid* transitions with a fast ``gather`` path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict
from torchrl.data.datasets import BaseDatasetExperienceReplay
from torchrl.data import LazyTensorStorage, RandomSampler, SamplerWithoutReplacement, TensorDictReplayBuffer, TensorStorage
from torchrl.data.replay_buffers.writers import ImmutableDatasetWriter

__all__ = [
    "DatasetError",
    "reserved_memmap",
    "SeededBatchSampler",
    "OfflineDataset",
    "epoch_sampler",
    "write_npz",
    "npz_member_header",
    "npz_key_shapes",
    "cached_tensordict",
    "params_digest",
    "file_hash",
    "atomic_dir",
    "ValidTransitionSampler",
    "OfflineReplayBuffer",
]

_FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or inconsistent with the environment."""


# ---------------------------------------------------------------------------------------- files
@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temp path beside ``path`` to write; on success it is ``os.replace``d onto ``path`` (readable
    like any cache file, 0o644), on error removed, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def reserved_memmap(path: str | os.PathLike, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
    """``np.lib.format.open_memmap(path, "w+", dtype, shape)`` with the file's disk blocks reserved first. On a full disk
    this raises one clear ``OSError`` at once, where writing into a sparse memory map would kill the process with
    SIGBUS (exit 135, no message) in the middle of a conversion."""
    path = Path(path)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    try:
        with open(path, "r+b") as handle:
            os.posix_fallocate(handle.fileno(), 0, path.stat().st_size)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: nothing to reserve
            return array
        del array
        raise OSError(
            err.errno,
            f"no room for {path.name} ({path.stat().st_size / 1e9:.2f} GB) in {path.parent} ({err.strerror}): "
            "free disk space, or set dataset.cache_dir to a disk with room",
        ) from None
    return array


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` like ``np.savez_compressed`` (deflated ``<key>.npy`` members), atomically
    (:func:`atomic_file`).  Member timestamps are fixed for reproducible bytes."""
    path = Path(path)
    with atomic_file(path) as tmp, open(tmp, "wb") as fh, zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
    return path


def npz_member_header(npz, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``<key>.npy`` inside an open ``np.load``-ed npz, without reading the data."""
    with npz.zip.open(f"{key}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(shape), dtype


def npz_key_shapes(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    *,
    label: str,
    hint: str,
    missing_message: Callable[[list[str], set[str]], str] | None = None,
) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of an .npz file's arrays (headers only, no data read). An empty, non-npz or
    corrupt file, or a missing ``required`` key, raises one :class:`DatasetError` naming ``label path``
    and ``hint``; ``missing_message(missing, keys)`` may word the missing-key error instead."""
    if path.stat().st_size == 0:
        raise DatasetError(f"{label} {path} is empty (0 bytes). {hint}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise DatasetError(f"{label} {path} holds a single array, not an .npz archive. {hint}")
            keys = set(npz.files)
            missing = [k for k in required if k not in keys]
            if missing:
                raise DatasetError(
                    missing_message(missing, keys)
                    if missing_message
                    else f"{label} {path} lacks key(s) {missing} (has {sorted(keys)}). {hint}"
                )
            return {k: npz_member_header(npz, k)[0] for k in (*required, *optional) if k in keys}
    except DatasetError:
        raise
    except Exception as exc:  # BadZipFile, truncated archive, bad .npy headers, ...
        raise DatasetError(f"{label} {path} is corrupted or not an .npz file ({type(exc).__name__}: {exc}). {hint}") from exc


def read_npz_member(npz, key: str, path: Path, *, kind: str, fix: str) -> np.ndarray:
    """``npz[key]``, or one DatasetError naming the ``kind`` of file ("Dataset"/"Episode"), the key and ``fix``."""
    try:
        return npz[key]
    except Exception as exc:
        raise DatasetError(
            f"{kind} file {path} is corrupted: reading '{key}' failed ({type(exc).__name__}: {exc}). {fix}"
        ) from exc


def file_hash(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """blake2b-128 of the file's bytes (hex)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_dir(out_dir: str | os.PathLike, *, marker: str = "layout.json") -> Iterator[Path]:
    """Yield a fresh temp directory next to ``out_dir``; on success rename it to ``out_dir``.

    On any error the temp directory is removed, so ``out_dir`` either does not exist or is
    complete.  If another process created ``out_dir`` (with its ``marker`` file) first, theirs
    is kept and ours discarded.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, out_dir)
        except OSError:  # another process won the race: keep theirs
            if not (out_dir / marker).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def params_digest(params: Mapping) -> str:
    """16 hex digits identifying a set of generation parameters (the cache folder key)."""
    return hashlib.blake2b(json.dumps(dict(params), sort_keys=True).encode(), digest_size=16).hexdigest()[:16]


def cached_tensordict(
    folder: Path, build: Callable[[], TensorDict], *, marker: str, describe: Mapping
) -> tuple[TensorDict, bool]:
    """The memory-mapped TensorDict in ``folder/data``: made by ``build()`` and written atomically
    (``marker`` holds ``describe`` and the row count) the first time, loaded afterwards.
    Returns (data, whether it came from the cache)."""
    cached = (folder / marker).is_file()
    if not cached:
        td = build()
        with atomic_dir(folder, marker=marker) as tmp:
            td.memmap(prefix=str(tmp / "data"))
            (tmp / marker).write_text(json.dumps(dict(describe, rows=int(td.batch_size[0])), indent=1))
    return TensorDict.load_memmap(str(folder / "data")), cached


# ---------------------------------------------------------------------------------------- buffers
class SamplerStateMixin:
    """Save / restore of a replay buffer's sampling stream (the generator TorchRL's ``ReplayBuffer.set_rng`` gives its
    sampler, writer and storage), for exact resume, and a separate stream for draws that must not move it."""

    _rng: torch.Generator | None

    @contextmanager
    def separate_stream(self, seed: int) -> Iterator["SamplerStateMixin"]:
        """Samples drawn inside come from a fresh stream seeded with ``seed``; the training stream resumes after, untouched
        (evaluations and diagnostics then neither perturb training nor depend on when they run)."""
        saved = self._rng
        self.set_rng(torch.Generator().manual_seed(int(seed)))
        try:
            yield self
        finally:
            self.set_rng(saved)

    def sampler_state(self) -> torch.Tensor | None:
        """The position of the sampling stream (its generator's state; None when it draws from the global one)."""
        return None if self._rng is None else self._rng.get_state()

    def set_sampler_state(self, state: torch.Tensor | None) -> None:
        """Puts the sampling stream back where :meth:`sampler_state` was taken, so a resumed run sees the same batches."""
        if state is None:
            return
        if self._rng is None:
            self.set_rng(torch.Generator())
        self._rng.set_state(state)


class SeededBatchSampler:
    """The pretraining recipes' batch samplers (views, trajectory windows, frames) in the replay buffers' family: one
    ``torch.Generator`` (``set_rng``, as TorchRL's ``ReplayBuffer.set_rng``) drives every draw, and
    ``sampler_state`` / ``set_sampler_state`` save and restore its position, so checkpoints treat both alike."""

    generator: torch.Generator

    def set_rng(self, generator: torch.Generator) -> None:
        self.generator = generator

    def sampler_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_sampler_state(self, state: torch.Tensor | None) -> None:
        if state is not None:
            self.generator.set_state(state)


class ValidTransitionSampler(RandomSampler):
    """Uniform sampling (with replacement) over the valid transition rows only."""

    def __init__(self, valid: torch.Tensor):
        super().__init__()
        self.valid = valid

    def sample_index(self, batch_size: int) -> torch.Tensor:
        j = torch.randint(len(self.valid), (batch_size,), generator=self._rng)
        return self.valid[j]

    def sample(self, storage, batch_size: int):
        return self.sample_index(batch_size), {}


class OfflineDataset(SamplerStateMixin, BaseDatasetExperienceReplay):
    """TorchRL's base class of offline datasets (``BaseDatasetExperienceReplay``) for every dataset here (OGBench,
    ExoRL, demonstrations): ``data_path`` is the file or folder the data were read from (``source``), so TorchRL's
    dataset tools (``preprocess``, ``delete``) and the user see where they live."""

    source: str | None = None

    @property
    def data_path(self) -> Path | None:
        return None if self.source is None else Path(self.source)

    @property
    def data_path_root(self) -> Path | None:
        return None if self.data_path is None else self.data_path.parent

    def _is_downloaded(self) -> bool:
        return self.data_path is not None and self.data_path.exists()


class OfflineReplayBuffer(OfflineDataset):
    """Read-only replay buffer over an offline dataset (base class of the families' buffers).

    Subclasses provide :meth:`gather` (the transitions at some storage indices, built with a few
    ``index_select`` on the memory-mapped arrays) and pass a zero-copy *view* TensorDict of all
    transitions as ``storage_td`` (what TorchRL's generic ``TensorStorage`` path samples from).
    ``valid`` lists the storage indices that are real transitions (no cross-episode pairs); ``source`` is the file or
    folder the data came from (:attr:`OfflineDataset.data_path`).
    """

    def __init__(
        self,
        storage_td: TensorDict,
        valid: torch.Tensor,
        *,
        batch_size: int = 256,
        generator: torch.Generator | None = None,
        source: str | None = None,
    ):
        self.valid = valid
        self.source = source
        sampler = ValidTransitionSampler(valid)
        super().__init__(
            storage=TensorStorage(storage_td),
            sampler=sampler,
            writer=ImmutableDatasetWriter(),
            batch_size=batch_size,
            generator=generator,
        )
        self.set_rng(generator)  # one stream for the sampler, writer and storage (and it initialises the buffer)

    def reseed(self, seed: int) -> None:
        """Restarts the sampling stream from ``seed`` (e.g. one stream per data-parallel rank)."""
        self.set_rng(torch.Generator().manual_seed(int(seed)))

    def gather(self, index: torch.Tensor) -> TensorDict:  # pragma: no cover - abstract
        """Transitions at storage indices ``index`` (each must be a valid transition), with ``index``."""
        raise NotImplementedError

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    @property
    def num_transitions(self) -> int:
        return len(self)

    def sample(self, batch_size: int | None = None, return_info: bool = False):
        """Uniformly sampled batch (fast path; same keys and semantics as :meth:`sample_generic`)."""
        if self._transform is not None and len(self._transform):
            return self.sample_generic(batch_size, return_info=return_info)
        bs = int(batch_size or self._batch_size)
        index = self._sampler.sample_index(bs)
        td = self.gather(index)
        return (td, {"index": index}) if return_info else td

    def sample_generic(self, batch_size: int | None = None, return_info: bool = False):
        """TorchRL's generic ``TensorDictReplayBuffer.sample`` (slower; kept for compatibility)."""
        return super().sample(batch_size, return_info=return_info)

    def extend(self, *args, **kwargs):  # pragma: no cover - explicit error
        raise RuntimeError(f"{type(self).__name__} is read-only (offline dataset)")

    add = extend


def epoch_sampler(data: TensorDict, batch_size: int) -> TensorDictReplayBuffer:
    """Batches of ``batch_size`` (at most ``len(data)``) rows of ``data``, in epochs: every row once per epoch in a
    new random order (the last partial batch dropped). Its ``sampler.state_dict()`` is its place in the epoch."""
    sampler = TensorDictReplayBuffer(
        storage=LazyTensorStorage(len(data)),
        sampler=SamplerWithoutReplacement(drop_last=True),
        batch_size=min(int(batch_size), len(data)),
    )
    sampler.extend(data)
    return sampler
