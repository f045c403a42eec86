"""Seeding, device and random-generator state: what every run sets up first and a checkpoint must restore."""

from __future__ import annotations

import random
from functools import partial
from typing import Any, Callable, ContextManager

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when there is a GPU, else the CPU; asking for CUDA without one is bad input (one message)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name} requested but CUDA is not available; use device=cpu or device=auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def to_plain(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


PRECISIONS = ("auto", "fp32", "bf16")  # train.precision of every entry point


def autocast(precision: str, device: torch.device | str) -> Callable[[], ContextManager]:
    """``train.precision`` as a context factory for the forward passes: ``bf16`` runs them under bf16 autocast (weights,
    optimiser state and the loss reduction stay fp32), ``fp32`` does not, and ``auto`` is bf16 on CUDA and fp32
    elsewhere (CPU bf16 is only faster with avx512_bf16, and changes the numerics)."""
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision={precision!r} is not known: use one of {list(PRECISIONS)}")
    device_type = torch.device(device).type
    enabled = precision == "bf16" or (precision == "auto" and device_type == "cuda")
    return partial(torch.autocast, device_type, dtype=torch.bfloat16 if enabled else torch.float32, enabled=enabled)
