"""Frames and short clips of offline RL episodes (``data=frames``): pretraining data for vision JEPA
encoders (V-JEPA / SALT / DMT-JEPA) and frozen probes that regress the physics state from frames.

Kept steps are every ``data.stride``-th step of each episode (the first ``data.max_episodes``).  Each
split is a flat TensorDict [N] over kept steps, an episode's steps contiguous and in time order:

* ``pixels`` u8 [N, 3, S, S] (S = ``data.image_size``);
* ``state`` f32 [N, nq + nv]: the physics state qpos | qvel (``info["state_columns"]``);
* ``target`` f32 [N, D]: the probe targets, with each quantity's column range in ``info["target_columns"]``
  so a probe reports R² per quantity. DMC: the task's state observation (walker: orientations, height,
  velocity), which is egocentric: the absolute horizontal position, which a tracking camera cannot
  see, is left out, and angles are given as sines/cosines, not as unbounded windings. OGBench: qpos | qvel
  (a fixed camera sees the position);
* ``episode``, ``step`` (time index in the episode), ``row`` (the dataset row) int64 [N].

Clips (``data.clip_length`` T > 1) are not stored: a clip is T consecutive kept steps of one episode,
built at sampling time from its first step (:func:`clip_starts`, :func:`frame_batch`) with no copy
of the frames on disk.  The split is by episode (train/val/test, ``split_episodes``).

Frames: the dataset's own (a DMC ``env.obs=pixels`` dataset) when they are S × S, otherwise rendered
from the physics state with the cheap render settings — DMC: ``physics.set_state`` + ``forward`` in the
collection env's physics, the domain's camera, rendered at S × S like the env's observations; OGBench:
``set_state(qpos, qvel)``, rendered at 2S and area-downsampled (:mod:`data.trajectories`).  Rendered
frames are cached as a memory-mapped TensorDict (``<cache_dir>/frames/<hash>/``) keyed by the dataset's
cache folder, the kept rows, S and :data:`FRAMES_VERSION`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from tensordict import TensorDict
from tqdm.auto import tqdm

from envs.buffer import cached_tensordict, params_digest
from envs.common import cfg_get, episode_bounds, kept_steps
from data.trajectories import render_ogbench_frames
from data.trajectories import split_episodes, valid_window_starts
from envs.buffer import SeededBatchSampler

__all__ = [
    "FRAMES_VERSION",
    "PIXEL_SOURCES",
    "FrameSampler",
    "clip_starts",
    "frame_batch",
    "kept_steps",
    "load_frames",
    "render_dmc_frames",
]

log = logging.getLogger(__name__)

FRAMES_VERSION = 1
FAMILIES = ("dmc", "ogbench")
PIXEL_SOURCES = ("auto", "dataset", "render")  # data.pixels_from


def clip_starts(episode: torch.Tensor, clip_length: int) -> torch.Tensor:
    """Steps that start a clip of ``clip_length`` kept steps inside their episode."""
    return valid_window_starts(episode, clip_length)


def frame_batch(data: TensorDict, starts: torch.Tensor, clip_length: int = 1) -> TensorDict:
    """T = 1: ``pixels`` [B, 3, S, S], ``state``/``target`` [B, D], ``episode``/``step`` [B] (and ``parts`` [B, S, S]
    where ``data`` has part maps) of the steps ``starts``.
    T > 1: ``clips`` [B, T, 3, S, S], ``state``/``target`` [B, T, D], ``episode`` [B], ``step`` [B, T] from ``starts``."""
    if clip_length == 1:  # object views may also carry their part maps
        keys = ("pixels", "state", "target", "episode", "step", *(("parts",) if "parts" in data.keys() else ()))
        return TensorDict({k: data[k][starts] for k in keys}, batch_size=[len(starts)])
    index = starts[:, None] + torch.arange(clip_length)[None, :]
    return TensorDict(
        {
            "clips": data["pixels"][index],
            "state": data["state"][index],
            "target": data["target"][index],
            "episode": data["episode"][starts],
            "step": data["step"][index],
        },
        batch_size=[len(starts)],
    )


class FrameSampler(SeededBatchSampler):
    """Uniform batches of frames (or of clips of ``clip_length`` consecutive kept steps) of a split."""

    def __init__(self, data: TensorDict, *, batch_size: int, seed: int = 0, clip_length: int = 1) -> None:
        if clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got {clip_length}")
        self.data, self.batch_size, self.clip_length = data, int(batch_size), int(clip_length)
        self.starts = clip_starts(data["episode"], self.clip_length)
        if not len(self.starts):
            raise ValueError(f"no episode of this split has {clip_length} kept steps: lower data.clip_length or data.stride")
        self.set_rng(torch.Generator().manual_seed(int(seed)))

    def __len__(self) -> int:
        return len(self.starts)

    def sample(self) -> TensorDict:
        pick = torch.randint(len(self.starts), (self.batch_size,), generator=self.generator)
        return frame_batch(self.data, self.starts[pick], self.clip_length)


def dmc_collection_env(domain: str):
    """The env the domain's episodes are collected in (cheap render settings applied to its physics)."""
    from envs.dmc.env import make_scaled_env
    from envs.dmc.tasks import get_domain
    from envs.render import apply_cheap_render_settings

    spec = get_domain(domain)
    env = make_scaled_env(spec.name, spec.collection_task, 0)
    apply_cheap_render_settings(env.physics.model)
    return env


def dmc_observation_columns(env) -> dict[str, list[int]]:
    """Each key of the task's state observation → its column range in the flattened observation."""
    columns, start = {}, 0
    for key, value in env.task.get_observation(env.physics).items():
        columns[key] = [start, start + int(torch.as_tensor(value).numel())]
        start = columns[key][1]
    return columns


def dmc_observation_targets(env, states: torch.Tensor) -> torch.Tensor:
    """The task's state observation (what the state-based agents read) of physics states, f32 [N, D]. DMC's
    observations are egocentric by design: they leave out what a tracking camera cannot see either (the
    absolute horizontal position) and give angles as sines/cosines."""
    physics, task = env.physics, env.task
    rows = []
    for state in states.double().numpy():
        physics.set_state(state)
        physics.forward()
        rows.append(
            torch.cat([torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in task.get_observation(physics).values()])
        )
    width = sum(hi - lo for lo, hi in dmc_observation_columns(env).values())
    return torch.stack(rows) if rows else torch.zeros(0, width)


def render_dmc_frames(domain: str, states: torch.Tensor, size: int, progress: bool = False) -> torch.Tensor:
    """u8 [N, 3, size, size] frames of DMC physics states (``physics.get_state()`` rows), the domain's camera."""
    from envs.dmc.env import PixelRenderer
    from envs.dmc.tasks import get_domain

    physics = dmc_collection_env(domain).physics
    renderer = PixelRenderer(physics, size, get_domain(domain).camera_id)
    frames = torch.empty(len(states), 3, size, size, dtype=torch.uint8)
    try:
        for i in tqdm(range(len(states)), desc="render frames", unit="frame", disable=not progress, mininterval=5):
            physics.set_state(states[i].double().numpy())
            physics.forward()
            frames[i] = torch.from_numpy(renderer()).permute(2, 0, 1)
    finally:
        renderer.close()
    return frames


def _source(dataset_cfg: Any, buffer, size: int, progress: bool) -> dict[str, Any]:
    """Per family: episodes, qpos/qvel, stored frames (or None) and a renderer of rows."""
    if cfg_get(dataset_cfg, "family") == "dmc":
        from envs.dmc.tasks import get_domain

        domain = get_domain(str(cfg_get(dataset_cfg, "domain"))).name
        env = dmc_collection_env(domain)
        model, physics = env.physics.model, buffer.arrays["physics"]
        return dict(
            name=domain,
            starts=buffer.episodes[:, 0],
            lengths=buffer.episodes[:, 1],
            qpos=physics[:, : model.nq],
            qvel=physics[:, model.nq : model.nq + model.nv],
            stored=buffer.arrays.get("pixels"),
            render=lambda rows: render_dmc_frames(domain, physics[rows], size, progress),
            targets=lambda rows: dmc_observation_targets(env, physics[rows]),
            target_columns=dmc_observation_columns(env),
        )
    name, cols = str(cfg_get(dataset_cfg, "name")), buffer.columns
    starts, lengths = episode_bounds(buffer.terminals)
    qpos, qvel = buffer.rows[:, cols["qpos"]], buffer.rows[:, cols["qvel"]]
    return dict(
        name=name,
        starts=starts,
        lengths=lengths,
        qpos=qpos,
        qvel=qvel,
        stored=None,
        render=lambda rows: render_ogbench_frames(name, qpos[rows], qvel[rows], size, progress),
    )


def load_frames(
    data_cfg: Any, dataset_cfg: Any, env_cfg: Any = None
) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """``(train, val, test, info)`` frames of the offline dataset named by ``dataset_cfg`` (DMC or OGBench),
    as configured by ``data_cfg`` (``configs/data/frames.yaml``); ``env_cfg`` (optional) must be the same family."""
    from envs import make_dataset

    family = cfg_get(dataset_cfg, "family")
    if family not in FAMILIES:
        raise ValueError(f"data=frames reads DMC or OGBench datasets (env=dmc or env=ogbench), got dataset family {family!r}")
    if env_cfg is not None and cfg_get(env_cfg, "family", family) != family:
        raise ValueError(f"env family {cfg_get(env_cfg, 'family')!r} and dataset family {family!r} differ: use dataset=${{env}}")
    stride, size = int(cfg_get(data_cfg, "stride", 1)), int(cfg_get(data_cfg, "image_size", 64))
    clip_length, pixels_from = int(cfg_get(data_cfg, "clip_length", 1)), str(cfg_get(data_cfg, "pixels_from", "auto"))
    for key, value in (("stride", stride), ("image_size", size), ("clip_length", clip_length)):
        if value < 1:
            raise ValueError(f"data.{key} must be >= 1, got {value}")
    if pixels_from not in PIXEL_SOURCES:
        raise ValueError(f"unknown data.pixels_from={pixels_from!r}; choose one of {list(PIXEL_SOURCES)}")
    max_episodes, progress = cfg_get(data_cfg, "max_episodes"), bool(cfg_get(data_cfg, "progress", True))
    t0 = time.perf_counter()
    buffer, _ = make_dataset(dataset_cfg)
    src = _source(dataset_cfg, buffer, size, progress)
    rows, episode, step = kept_steps(src["starts"], src["lengths"], stride=stride, max_episodes=max_episodes)
    longest = int(torch.bincount(episode).max())
    if clip_length > longest:
        raise ValueError(
            f"data.clip_length={clip_length} is longer than every episode (at most {longest} kept steps with "
            f"data.stride={stride}): lower data.clip_length or data.stride, or use longer episodes"
        )
    stored = src["stored"]
    use_stored = stored is not None and tuple(stored.shape[-2:]) == (size, size) and pixels_from != "render"
    if pixels_from == "dataset" and not use_stored:
        have = "no frames" if stored is None else f"{tuple(stored.shape[-2:])} frames"
        raise ValueError(
            f"data.pixels_from=dataset but the dataset has {have}, not {size}x{size}: set data.pixels_from=auto "
            f"(render them), or data.image_size / env.obs=pixels to match the dataset"
        )
    cached = None
    cache_dir = Path(str(cfg_get(data_cfg, "cache_dir", "~/.cache/jepa_rl"))).expanduser()
    params = dict(
        family=family,
        env=src["name"],
        source=buffer.layout.get("cache_dir"),
        version=FRAMES_VERSION,
        rows=params_digest({"rows": rows.tolist()}),
    )
    if use_stored:
        pixels = stored[rows]
    else:
        frames, cached = cached_tensordict(
            cache_dir / "frames" / params_digest({**params, "size": size}),
            lambda: TensorDict({"pixels": src["render"](rows)}, batch_size=[len(rows)]),
            marker="frames.json",
            describe={**params, "size": size},
        )
        pixels = frames["pixels"]
    nq, nv = src["qpos"].shape[1], src["qvel"].shape[1]
    state = torch.cat([src["qpos"][rows], src["qvel"][rows]], dim=1).float()
    if "targets" in src:  # one physics step per row: computed once, cached beside the frames
        target = cached_tensordict(
            cache_dir / "frame_targets" / params_digest(params),
            lambda: TensorDict({"target": src["targets"](rows)}, batch_size=[len(rows)]),
            marker="targets.json",
            describe=params,
        )[0]["target"]
        target_columns = src["target_columns"]
    else:
        target, target_columns = state, {"qpos": [0, nq], "qvel": [nq, nq + nv]}
    data = TensorDict(
        {"pixels": pixels, "state": state, "target": target, "episode": episode, "step": step, "row": rows},
        batch_size=[len(rows)],
    )
    train, val, test = (
        data[i]
        for i in split_episodes(
            episode,
            val_fraction=float(cfg_get(data_cfg, "val_fraction", 0.1)),
            test_fraction=float(cfg_get(data_cfg, "test_fraction", 0.1)),
            seed=int(cfg_get(data_cfg, "seed", 0)),
        )
    )
    info = dict(
        family=family,
        env=src["name"],
        stride=stride,
        image_size=size,
        clip_length=clip_length,
        steps=len(data),
        episodes=int(episode.max()) + 1,
        state_dim=nq + nv,
        state_columns={"qpos": [0, nq], "qvel": [nq, nq + nv]},
        target_dim=target.shape[1],
        target_columns=target_columns,
        pixels="dataset" if use_stored else "rendered",
        frames_cached=cached,
        train_steps=len(train),
        val_steps=len(val),
        test_steps=len(test),
        **{
            f"{k}_clips": len(clip_starts(d["episode"], clip_length)) for k, d in (("train", train), ("val", val), ("test", test))
        },
        seconds=time.perf_counter() - t0,
    )
    log.info(
        "frames %s: %d episodes, %d steps (stride %d, %s %dx%d, clips of %d); train %d / val %d / test %d steps",
        src["name"],
        info["episodes"],
        info["steps"],
        stride,
        info["pixels"],
        size,
        size,
        clip_length,
        len(train),
        len(val),
        len(test),
    )
    return train, val, test, info
