"""Run directories and checkpoints: atomic save, exact resume.

A checkpoint is written to `checkpoints/.tmp-step-N/`, flushed to disk, marked COMPLETE, and
only then renamed to `checkpoints/step-N/`. A rename is atomic, so a run killed at any moment
leaves either the whole checkpoint or no `step-N` at all; leftover temp dirs are ignored and removed.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alignkit.errors import UserError
from alignkit.train import distributed

COMPLETE = "COMPLETE"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def check_output_dir(output_dir: str | Path, resume: bool, overwrite: bool) -> Path:
    """Refuse to clobber: a non-empty run directory needs --resume or --overwrite."""
    path = Path(output_dir)
    if resume and overwrite:
        raise UserError("run.resume and run.overwrite: choose one")
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: output_dir exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (resume or overwrite):
        raise UserError(f"{path}: output directory is not empty; pass --resume to continue it or --overwrite")
    return path


def clear_dir(path: Path) -> None:
    for child in path.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, dir) of every complete checkpoint, oldest first."""
    root = Path(run_dir) / "checkpoints"
    found = []
    if root.is_dir():
        for child in root.iterdir():
            match = _STEP_DIR.match(child.name)
            if match and (child / COMPLETE).is_file():
                found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = complete_checkpoints(run_dir)
    return found[-1][1] if found else None


def remove_torn(run_dir: Path) -> None:
    """Temp dirs left by a run killed while saving are never complete: delete them."""
    root = Path(run_dir) / "checkpoints"
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith(".tmp-"):
                shutil.rmtree(child, ignore_errors=True)


def begin_checkpoint(run_dir: Path, step: int) -> Path:
    tmp = Path(run_dir) / "checkpoints" / f".tmp-step-{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def finish_checkpoint(tmp: Path, state: dict[str, Any], keep_last: int) -> Path:
    """Flush, mark complete, rename into place, then prune old checkpoints."""
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2))
    _fsync_tree(tmp)
    (tmp / COMPLETE).write_text("")
    _fsync_tree(tmp)
    final = tmp.with_name(f"step-{state['step']}")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    for _, old in complete_checkpoints(final.parent.parent)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


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


def save_weights(model: torch.nn.Module, directory: Path) -> None:
    """Only trainable-state tensors; safetensors' save_model handles tied (shared) weights."""
    from safetensors.torch import save_model

    save_model(model, str(directory / "model.safetensors"))


def load_weights(model: torch.nn.Module, directory: Path) -> None:
    from safetensors.torch import load_model

    load_model(model, str(directory / "model.safetensors"), strict=True)


SHARDED = "sharded"  # a checkpoint's torch.distributed.checkpoint directory (FSDP runs)


def save_sharded(model: torch.nn.Module, optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """Every process writes its shards of the model and the optimizer state (torch.distributed.checkpoint,
    keyed by parameter name): any number of processes, sharded or not, can load them."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_state, optim_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optim_state}, checkpoint_id=str(directory / SHARDED))


def load_sharded(model: torch.nn.Module, optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """Read a sharded checkpoint into this run's layout (its world size and its sharding, or none)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model_state, optim_state = get_state_dict(model, optimizer)  # the layout to fill, optimizer state made
    state = {"model": model_state, "optimizer": optim_state}
    dcp.load(state, checkpoint_id=str(directory / SHARDED))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


def load_whole_into_sharded(model: torch.nn.Module, optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """A whole checkpoint (one process or DDP: model.safetensors, the optimizer state by position)
    into FSDP shards: the positions are named from this run's optimizer, whose parameter groups are
    built in the same order, and every process keeps its shard of each tensor."""
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    saved = torch.load(directory / "optimizer.pt", map_location="cpu", weights_only=False)
    name_of = {id(param): name for name, param in model.named_parameters()}
    state, groups = {}, []
    for saved_group, group in zip(saved["param_groups"], optimizer.param_groups, strict=True):
        names = [name_of[id(param)] for param in group["params"]]
        for position, name in zip(saved_group["params"], names, strict=True):
            if position in saved["state"]:
                state[name] = saved["state"][position]
        groups.append({**saved_group, "params": names})
    weights = load_file(directory / "model.safetensors")
    for names in distributed.tied_names(model):  # tied weights are saved once, under any one of their names
        present = [name for name in names if name in weights]
        for name in names if present else ():
            weights.setdefault(name, weights[present[0]])
    expected = set(model.state_dict())
    if set(weights) != expected:
        missing, unexpected = sorted(expected - set(weights)), sorted(set(weights) - expected)
        raise UserError(
            f"{directory}: its weights do not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    set_state_dict(
        model,
        optimizer,
        model_state_dict=weights,
        optim_state_dict={"state": state, "param_groups": groups},
        options=StateDictOptions(full_state_dict=True, strict=False),
    )


def run_or_continue(name: str, run_dir: Path, run, args: list[str]) -> Path:
    """A demo stage: skipped when its final/ is there, resumed when it has a checkpoint, started
    afresh (replacing a torn directory) otherwise. `run(args)` trains and returns final/."""
    final = run_dir / "final"
    if (final / "config.json").is_file():
        print(f"{name}: {final} is there; skipped")
        return final
    args = [*args, "--output-dir", str(run_dir)]
    if run_dir.is_dir() and latest_checkpoint(run_dir) is not None:
        args.append("--resume")
    elif run_dir.is_dir():
        args.append("--overwrite")
    return run(args)
