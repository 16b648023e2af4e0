"""torchrun set-up, DDP and FSDP2. A single process is the same code path with world_size 1.

ddp: every process holds the whole model; gradients are averaged after the step's last micro-batch.
fsdp: FSDP2 (`fully_shard`) shards each transformer block and the rest of every model a stage
calls; parameters are all-gathered for a block's forward and freed after, gradients are
reduce-scattered after every micro-batch (no unsharded gradients are kept), and each process keeps
its shard of the optimizer state. Whatever runs a different number of forward passes on different
processes (evaluation shards, generation to different lengths) runs inside `gathered`.
"""

from __future__ import annotations

import contextlib
import copy
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
        # GPU tensors over NCCL; the small CPU tensors of counts and metrics over gloo
        backend = "cpu:gloo,cuda:nccl" if use_cuda else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistInfo(rank, world_size, local_rank, device)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over processes (no-op alone)."""
    if several():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def several() -> bool:
    """Whether this process is one of several."""
    return dist.is_initialized() and dist.get_world_size() > 1


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's tensor (all of one shape), joined along the first dimension in rank order."""
    if not several():
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def barrier() -> None:
    if several():
        dist.barrier()


def gather_lists(values: list) -> list:
    """Every process's list, concatenated in rank order, on every process."""
    if not several():
        return list(values)
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(values))
    return [value for part in gathered for value in part]


def broadcast_object(value, src: int = 0):
    """Rank `src`'s Python object on every rank."""
    if not several():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def wrap(model: torch.nn.Module, info: DistInfo, parallel: str = "ddp", bf16: bool = False) -> torch.nn.Module:
    """DDP, or FSDP2 in place, when there are several processes; the bare model otherwise."""
    if info.world_size == 1:
        return model
    if parallel == "fsdp":
        shard(model, bf16)
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [info.local_rank] if info.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def fsdp_roots(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules FSDP shards last, as roots: those a stage calls. A container names them itself
    (`fsdp_roots()`, e.g. PPO's actor-critic, which calls its critic's body and head apart);
    otherwise they are the outermost transformers models inside (the model itself, or the model
    inside a PEFT wrapper)."""
    if hasattr(model, "fsdp_roots"):
        return list(model.fsdp_roots())
    from transformers import PreTrainedModel

    roots: list[torch.nn.Module] = []

    def visit(module: torch.nn.Module) -> None:
        if isinstance(module, PreTrainedModel):
            roots.append(module)
            return
        for child in module.children():
            visit(child)

    visit(model)
    return roots or [model]


def shard(model: torch.nn.Module, bf16: bool = False, frozen: bool = False) -> None:
    """FSDP2 over every transformer block (the classes transformers names in `_no_split_modules`),
    then over each root; bf16: parameters gathered in bf16, gradients reduced in fp32. Each module
    moves to the device as it is sharded, so a process never holds the whole model there. A frozen
    model (forward only) frees its roots' gathered weights after each forward too."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
    kwargs = {"mp_policy": policy} if policy else {}
    blocks = {name for module in model.modules() for name in (getattr(module, "_no_split_modules", None) or [])}
    for root in fsdp_roots(model):
        for module in root.modules():
            if module is not root and type(module).__name__ in blocks:
                fully_shard(module, **kwargs)
                module._alignkit_reshard = True  # free a block's gathered weights after its forward
        fully_shard(root, **kwargs)
        # a trained root keeps its weights from forward to backward (FSDP's default for a root)
        root._alignkit_reshard = frozen
        if frozen:
            root.set_reshard_after_forward(True, recurse=False)


def fsdp_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    from torch.distributed.fsdp import FSDPModule

    return [module for module in model.modules() if isinstance(module, FSDPModule)]


def is_sharded(model: torch.nn.Module) -> bool:
    return bool(fsdp_modules(model))


_gathered = False  # inside `gathered` already: an inner one does nothing


@contextlib.contextmanager
def gathered(*models: torch.nn.Module):
    """FSDP: every process holds the whole models inside (all-gathered once on entry, collectively),
    so processes may then run different numbers of forward passes: held-out shards of unequal size,
    generation that ends at different lengths. DDP or one process: nothing to do."""
    global _gathered
    modules = [module for model in models for module in fsdp_modules(model)]
    if not modules or _gathered:
        yield
        return
    for module in modules:
        module.set_reshard_after_forward(False, recurse=False)
        module.unshard()
    _gathered = True
    try:
        yield
    finally:
        _gathered = False
        for module in modules:
            module.reshard()
            module.set_reshard_after_forward(getattr(module, "_alignkit_reshard", True), recurse=False)


def accumulating(model: torch.nn.Module, last: bool):
    """Within an optimizer step, before its last micro-batch: DDP keeps gradients local (no_sync).
    FSDP reduce-scatters after every micro-batch, so that no process ever holds unsharded gradients."""
    if last or not hasattr(model, "no_sync"):
        return contextlib.nullcontext()
    return model.no_sync()


def skeleton(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of the module tree with its parameters on the meta device (no memory): taken before
    FSDP shards the model, it becomes a plain model again in `plain_copy`. Buffers are copied."""
    memo = {
        id(param): torch.nn.Parameter(torch.empty_like(param, device="meta"), requires_grad=param.requires_grad)
        for param in model.parameters()
    }
    return copy.deepcopy(model, memo)


def tied_names(model: torch.nn.Module) -> list[list[str]]:
    """The names of each parameter, in model order: more than one where weights are tied."""
    names: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(name)
    return list(names.values())


def plain_copy(model: torch.nn.Module, template: torch.nn.Module | None) -> torch.nn.Module | None:
    """The trained model as a plain module, to be saved by rank 0 (the others get None). Unsharded:
    the model itself. FSDP: every process takes part in gathering the full weights, which rank 0
    gets in a copy of `template` (from `skeleton`), its tied weights tied again."""
    main = not dist.is_initialized() or dist.get_rank() == 0
    if template is None:
        return unwrap(model) if main else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not main:
        return None
    template = copy.deepcopy(template)  # meta parameters: free; the template stays empty for the next save
    tied = tied_names(template)
    template.load_state_dict(state, assign=True)
    for names in tied:
        first = template.get_parameter(names[0])
        for name in names[1:]:
            owner, _, leaf = name.rpartition(".")
            setattr(template.get_submodule(owner), leaf, first)
    return template


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside torch.compile's and DDP's wrappers."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
