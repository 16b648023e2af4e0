"""torchrun / DDP set-up. A single process is the same code path with world_size 1."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_preference: str = "auto") -> DistInfo:
    """Join the process group torchrun describes in the environment (gloo on CPU, nccl on GPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device_preference == "auto" else device_preference == "cuda"
    if use_cuda and not torch.cuda.is_available():
        from alignkit.errors import UserError

        raise UserError("run.device: 'cuda' was asked for but no GPU is visible")
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    return DistInfo(rank, world_size, local_rank, device)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over processes (no-op alone)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def gather_lists(values: list) -> list:
    """Every process's list, concatenated in rank order, on every process."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return list(values)
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(values))
    return [value for part in gathered for value in part]


def broadcast_object(value, src: int = 0):
    """Rank `src`'s Python object on every rank."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def wrap(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """DDP when there are several processes; the bare model otherwise."""
    if info.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [info.local_rank] if info.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside torch.compile's and DDP's wrappers."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
