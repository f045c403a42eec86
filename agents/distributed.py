"""Data-parallel training under ``torchrun`` (one process per device: gloo on CPU, NCCL on CUDA).

    torchrun --standalone --nproc_per_node=2 -m agents.zeroshot env=dmc dataset.batch_size=1024

Each rank samples its own shard (``dataset.batch_size / world size`` transitions) of the global batch;
losses that couple the samples of a batch gather across ranks (``representations.core.distributed``),
and the gradients are averaged with one all-reduce before the optimiser step, so an update equals
the single-process update on the concatenated batch (up to the random draws: z, target noise).
Rank 0 logs, evaluates and writes checkpoints. torch's ``DistributedDataParallel`` wrapper is not
used because the update is two TorchRL loss modules sharing networks rather than one module's forward.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DataParallel:
    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_data_parallel(device: str) -> tuple[DataParallel, str]:
    """Joins torchrun's process group (when ``WORLD_SIZE`` > 1); returns it and the device to use:
    ``cuda:<LOCAL_RANK>`` for CUDA runs, ``cpu`` otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DataParallel(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DataParallel(dist.get_rank(), dist.get_world_size()), device if use_cuda else "cpu"


def local_batch_size(global_batch: int, dp: DataParallel) -> int:
    if global_batch % dp.world_size:
        raise ValueError(
            f"dataset.batch_size={global_batch} is the global batch and must divide evenly over "
            f"{dp.world_size} processes; use a multiple of {dp.world_size}"
        )
    return global_batch // dp.world_size


def broadcast_from_main(modules: Iterable[nn.Module]) -> None:
    """Every rank starts from rank 0's parameters and buffers."""
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Mean over ranks of every gradient, in one flat all-reduce (every rank has the same grads set)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    for grad, chunk in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(chunk.view_as(grad))


def any_rank(flag: bool, dp: DataParallel) -> bool:
    """True on every rank if ``flag`` is true on any (so that all ranks stop at the same update)."""
    if not dp.enabled:
        return flag
    value = torch.tensor([float(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def shared_run_dir(run_dir: Path, dp: DataParallel) -> Path:
    """Rank 0's run folder for every rank (Hydra's timestamped folders can differ by a second);
    another rank's own folder is removed if Hydra made one that only holds its config."""
    if not dp.enabled:
        return run_dir
    shared = [str(run_dir)]
    dist.broadcast_object_list(shared, src=0)
    main_dir = Path(shared[0])
    if main_dir != run_dir and run_dir.exists() and {p.name for p in run_dir.iterdir()} <= {".hydra", "zeroshot.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)
    return main_dir


def shutdown_data_parallel() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
