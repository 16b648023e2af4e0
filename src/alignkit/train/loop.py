"""THE training loop. Every stage builds a Task (data + model + loss) and calls `run`.

The loop owns what every stage shares: the optimizer and its schedule, gradient accumulation with
the loss normalised by the learning units (tokens, pairs, ...) of the whole optimizer step across
micro-batches and processes, clipping, precision, evaluation, checkpoints with exact resume,
metrics and the progress display. A stage never re-implements any of it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from alignkit import config as config_mod
from alignkit.errors import TrainingError
from alignkit.train import checkpoint, distributed
from alignkit.train.distributed import DistInfo
from alignkit.train.metrics import (
    MetricsLog,
    Progress,
    format_duration,
    peak_flops,
    peak_rss_mib,
    plot_curves,
    reset_peak_memory,
)


@dataclass
class MicroBatch:
    """What one process runs in one forward pass, with the counts the loop normalises by.

    units: learning units in this micro-batch (tokens with a label, or pairs, ...): the loss of the
    optimizer step is sum(loss) / sum(units) over all micro-batches of all processes.
    tokens: input tokens processed (for tokens/s and MFU).
    """

    tensors: dict[str, torch.Tensor]
    units: int
    tokens: int


class Task(Protocol):
    """What a stage hands to the loop (a Protocol: stages share an interface, not a base class).

    Optional attributes the loop honours when present: `lr_of` ({parameter name: peak lr}, e.g. a
    new head's own lr), `best_metric` ((eval metric name, greater_is_better): the best model so far
    is kept in best/), `state_dict()` / `load_state_dict()` (task state saved with checkpoints),
    `eval_at_start` (True: evaluate before the first step too, as step 0: the starting point the
    run must beat), `step_metrics()` (a dict of metrics added to the next logged record, e.g. an RL
    rollout's reward and KL), `data_counts` ({what: how many}, e.g. {"pairs": 300}: the data the run
    learned from, for run_summary.json), `frozen` (the models run beside the trained one without
    learning, e.g. a reference and a reward model: sharded too under FSDP).
    """

    model: torch.nn.Module  # the module being optimised
    tokenizer: Any  # saved with every checkpoint and with final/
    total_steps: int
    flops_per_token: float  # training FLOPs per input token, for MFU (0: not reported)

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        """This process's micro-batches for optimizer step `step` (1-based). Must depend only on
        the step (and the task's saved state), so that a resumed run sees the same data."""
        ...

    def loss(self, model: torch.nn.Module, batch: MicroBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(summed loss over the batch's units, extra summed metrics to log per unit)."""
        ...

    def evaluate(self, model: torch.nn.Module, dist: DistInfo) -> dict[str, float]:
        """Held-out metrics named eval_*; every process calls it (it may shard the work)."""
        ...

    def save_final(self, model: torch.nn.Module, directory: Path) -> None:
        """Write the stage's deliverable in Hugging Face format."""
        ...


class EpochOrder:
    """Which rows each optimizer step sees: a fresh permutation every epoch, a function of (seed,
    step) alone, so a resumed run (or one on another number of processes) sees the same data."""

    def __init__(self, count: int, batch_size: int, seed: int):
        self.count, self.batch_size, self.seed = count, batch_size, seed
        self._cache: tuple[int, torch.Tensor] | None = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._cache is None or self._cache[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._cache = (epoch, torch.randperm(self.count, generator=generator))
        return self._cache[1]

    def steps_per_epoch(self, epochs: float) -> int:
        return max(1, math.ceil(epochs * self.count / self.batch_size))

    def step_rows(self, step: int) -> torch.Tensor:
        """Row indices of optimizer step `step` (1-based), across epochs."""
        positions = range((step - 1) * self.batch_size, step * self.batch_size)
        return torch.stack([self._permutation(p // self.count)[p % self.count] for p in positions])

    def rank_micro_batches(self, step: int, dist: DistInfo, micro_batch_size: int) -> list[torch.Tensor]:
        """This process's share of the step's rows, cut into micro-batches."""
        rows = self.step_rows(step)
        per_rank = len(rows) // dist.world_size
        mine = rows[dist.rank * per_rank : (dist.rank + 1) * per_rank]
        return [mine[i : i + micro_batch_size] for i in range(0, len(mine), micro_batch_size)]


@dataclass
class Env:
    """Where a run happens: processes, device, precision and run directory (checked, not yet written)."""

    dist: DistInfo
    run_dir: Path
    config: Any
    resume_from: Path | None
    autocast_dtype: torch.dtype | None
    started: float = 0.0  # time.perf_counter() at setup: a stage's wall time counts its data and models too
    rss_at_start_mib: float = 0.0  # what the process held before the stage: its peak minus this is the stage's

    @property
    def resuming(self) -> bool:
        return self.config.run.resume and self.run_dir.is_dir()


def setup(config: Any) -> Env:
    """Join the process group, pick device and precision, check the run directory, seed everything.

    Nothing is written yet: a stage reads and validates its data first, so bad input leaves no
    half-made run directory behind.
    """
    run = config.run
    info = distributed.setup(run.device)
    run_dir = checkpoint.check_output_dir(run.output_dir, run.resume, run.overwrite)
    resume_from = checkpoint.latest_checkpoint(run_dir) if run.resume else None
    if run.precision == "bf16" or (run.precision == "auto" and info.device.type == "cuda"):
        autocast_dtype = torch.bfloat16
    else:
        autocast_dtype = None
    if info.device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for whatever runs outside bf16 autocast
    env = Env(info, run_dir, config, resume_from, autocast_dtype)
    restart_accounting(env)
    return env


CURRENT: Env | None = None  # the stage this process set up last (demo.ensure restores an outer one)


def restart_accounting(env: Env) -> None:
    """Start the stage's wall clock and peak-memory count here, and seed: at set-up, and again when
    the stage had to train the demo models it starts from first (their cost is theirs, not its)."""
    seed_everything(env.config.run.seed)
    reset_peak_memory()
    if env.dist.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(env.dist.device)
    env.started, env.rss_at_start_mib = time.perf_counter(), peak_rss_mib("VmRSS")
    global CURRENT
    CURRENT = env


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def accumulation_steps(batch_size: int, micro_batch_size: int, world_size: int) -> int:
    """Micro-batches per process per optimizer step, so that one step sees `batch_size` rows."""
    from alignkit.errors import UserError

    per_step = micro_batch_size * world_size
    if batch_size % per_step:
        raise UserError(
            f"run.batch_size {batch_size} must be a multiple of run.micro_batch_size x processes "
            f"({micro_batch_size} x {world_size} = {per_step})"
        )
    return batch_size // per_step


def build_optimizer(
    model: torch.nn.Module, optim: Any, device: torch.device, lr_of: dict[str, float] | None = None
) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not norms, biases or 1-D gains); fused where supported.
    `lr_of` gives some parameters (by name) their own peak lr, e.g. a new head's."""
    groups: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            lr = (lr_of or {}).get(name, optim.lr)
            groups.setdefault((param.dim() >= 2, lr), []).append(param)
    param_groups = [
        {"params": params, "weight_decay": optim.weight_decay if decay else 0.0, "lr": lr}
        for (decay, lr), params in sorted(groups.items(), key=lambda item: (not item[0][0], item[0][1]))
    ]
    kwargs = dict(lr=optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps)
    try:
        return torch.optim.AdamW(param_groups, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(param_groups, **kwargs)


def lr_factor(step: int, total: int, optim: Any) -> float:
    """Multiplier of the peak lr at optimizer step `step` (0-based): linear warmup, then decay."""
    warmup = min(optim.warmup_steps, max(total - 1, 0))
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if optim.schedule == "constant" or total <= warmup + 1:
        return 1.0
    progress = min((step - warmup) / (total - warmup - 1), 1.0)
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if optim.schedule == "cosine" else 1 - progress
    return optim.min_lr_ratio + (1 - optim.min_lr_ratio) * shape


def _autocast(env: Env):
    if env.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=env.dist.device.type, dtype=env.autocast_dtype)


def to_device(batch: MicroBatch, device: torch.device) -> MicroBatch:
    if device.type == "cpu":
        return batch
    tensors = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.tensors.items()}
    return MicroBatch(tensors, batch.units, batch.tokens)


def _prepare_run_dir(env: Env, task: Task) -> None:
    """First writes of a run: clear (--overwrite), config.yaml, tokenizer."""
    if not env.dist.is_main:
        return
    run_dir = env.run_dir
    if env.config.run.overwrite and run_dir.is_dir():
        checkpoint.clear_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint.remove_torn(run_dir)
    tmp = run_dir / ".config.yaml.tmp"
    tmp.write_text(config_mod.dump(env.config), encoding="utf-8")
    os.replace(tmp, run_dir / "config.yaml")
    if task.tokenizer is not None and not (run_dir / "tokenizer").is_dir():
        from alignkit.models.tokenizer import save_atomically

        save_atomically(task.tokenizer, run_dir / "tokenizer")


def _save_checkpoint(env: Env, task: Task, model, optimizer, scheduler, step: int, extra: dict) -> Path | None:
    """Sharded models (FSDP): every process writes its shards; otherwise rank 0 writes the weights
    (safetensors) and the optimizer state. Rank 0 writes the rest."""
    if env.dist.is_main:
        checkpoint.begin_checkpoint(env.run_dir, step)
    distributed.barrier()
    tmp = env.run_dir / "checkpoints" / f".tmp-step-{step}"
    torch.save(checkpoint.rng_state(), tmp / f"rng-rank{env.dist.rank}.pt")
    sharded = distributed.is_sharded(model)
    if sharded:
        checkpoint.save_sharded(model, optimizer, tmp)
    final = None
    if env.dist.is_main:
        if not sharded:
            checkpoint.save_weights(distributed.unwrap(model), tmp)
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        task_state = task.state_dict() if hasattr(task, "state_dict") else {}
        torch.save(task_state, tmp / "task_state.pt")
    distributed.barrier()
    if env.dist.is_main:
        state = {"step": step, "world_size": env.dist.world_size, **extra}
        final = checkpoint.finish_checkpoint(tmp, state, env.config.run.keep_last)
    distributed.barrier()
    return final


def _load_checkpoint(env: Env, task: Task, model, optimizer, scheduler) -> dict[str, Any]:
    """Any checkpoint loads into any number of processes, sharded or not: a sharded one (FSDP)
    through torch.distributed.checkpoint, a whole one (one process, DDP) directly or into shards."""
    directory = env.resume_from
    if (directory / checkpoint.SHARDED).is_dir():
        checkpoint.load_sharded(model, optimizer, directory)
    elif distributed.is_sharded(model):
        checkpoint.load_whole_into_sharded(model, optimizer, directory)
    else:
        checkpoint.load_weights(distributed.unwrap(model), directory)
        optimizer.load_state_dict(torch.load(directory / "optimizer.pt", map_location="cpu", weights_only=False))
    scheduler.load_state_dict(torch.load(directory / "scheduler.pt", weights_only=False))
    if hasattr(task, "load_state_dict"):  # the task moves what it needs to its device
        task.load_state_dict(torch.load(directory / "task_state.pt", map_location="cpu", weights_only=False))
    rng_file = directory / f"rng-rank{env.dist.rank}.pt"
    if not rng_file.exists():  # resumed at another world size
        rng_file = directory / "rng-rank0.pt"
    checkpoint.set_rng_state(torch.load(rng_file, map_location="cpu", weights_only=False))
    return json.loads((directory / "trainer_state.json").read_text())


def activation_checkpointing(model: torch.nn.Module) -> None:
    """Every transformers model inside recomputes its layers' activations in the backward pass."""
    from transformers import PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel) and module.supports_gradient_checkpointing:
            if hasattr(module, "activation_checkpointing_enable"):  # the newer name; older 5.x releases lack it
                module.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def run(env: Env, task: Task) -> Path:
    """Train `task.model` for `task.total_steps` optimizer steps; returns the final/ directory."""
    run_cfg, optim_cfg = env.config.run, env.config.optim
    info = env.dist
    accumulation = accumulation_steps(run_cfg.batch_size, run_cfg.micro_batch_size, info.world_size)
    _prepare_run_dir(env, task)
    distributed.barrier()

    fsdp = run_cfg.parallel == "fsdp" and info.world_size > 1
    # FSDP moves each module to the device as it shards it: never the whole model at once
    model = task.model if fsdp else task.model.to(info.device)
    if run_cfg.activation_checkpointing:
        activation_checkpointing(model)
    template = distributed.skeleton(model) if fsdp else None  # final/ and best/ are gathered into it
    # FSDP shards in place, so the optimizer is built after, over the shards
    bf16 = env.autocast_dtype == torch.bfloat16
    train_model = distributed.wrap(model, info, run_cfg.parallel, bf16)
    frozen = list(getattr(task, "frozen", ()))
    for module in frozen:  # the frozen models beside it (a reference, a reward model): sharded too
        if fsdp:
            distributed.shard(module, bf16, frozen=True)
        else:
            module.to(info.device)
    optimizer = build_optimizer(model, optim_cfg, info.device, getattr(task, "lr_of", None))
    total = task.total_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, optim_cfg))
    start_step, elapsed_before, tokens_before = 0, 0.0, 0
    best = Best(getattr(task, "best_metric", None))
    if env.resume_from is not None:
        state = _load_checkpoint(env, task, train_model, optimizer, scheduler)
        start_step, elapsed_before, tokens_before = state["step"], state["elapsed_s"], state["tokens"]
        best.value, best.step = state.get("best_value"), state.get("best_step")
    # Compiling the stage's loss traces the model's forward and the loss into one graph, so the
    # upcast of the logits and the cross-entropy fuse instead of materialising fp32 logits.
    loss_fn = torch.compile(task.loss) if run_cfg.compile else task.loss

    log = MetricsLog(env.run_dir, info.is_main, start_step if env.resuming else None)
    progress = Progress(total, start_step, run_cfg.progress, env.run_dir.name, info.is_main)
    peak, peak_source = peak_flops(info.device, run_cfg.peak_tflops)
    if env.resume_from is not None:
        progress.note(f"resumed from {env.resume_from} (step {start_step})")
    progress.note(
        f"{total} steps x {run_cfg.batch_size} rows ({info.world_size} process(es) x {run_cfg.micro_batch_size}"
        f" x {accumulation} accumulation) on {info.device}, "
        f"{'bf16 autocast' if env.autocast_dtype else 'fp32'}; MFU against {peak / 1e12:.2f} TFLOP/s ({peak_source})"
    )

    if getattr(task, "eval_at_start", False) and start_step == 0:
        _evaluate(env, task, train_model, frozen, 0, log, progress)
    window_start, window_tokens = time.perf_counter(), 0
    run_start = time.perf_counter()
    tokens_seen = tokens_before
    try:
        for step in range(start_step + 1, total + 1):
            train_model.train()
            batches = task.micro_batches(step, info)
            if len(batches) != accumulation:
                raise TrainingError(f"step {step}: task gave {len(batches)} micro-batches, expected {accumulation}")
            counts = torch.tensor([sum(b.units for b in batches), sum(b.tokens for b in batches)], dtype=torch.float64)
            global_units, global_tokens = distributed.all_reduce_sum(counts).tolist()
            loss_total = torch.zeros((), dtype=torch.float64, device=info.device)
            metric_totals: dict[str, torch.Tensor] = {}
            for index, batch in enumerate(batches):
                batch = to_device(batch, info.device)
                last = index == len(batches) - 1
                with distributed.accumulating(train_model, last):
                    with _autocast(env):
                        loss_sum, extra = loss_fn(train_model, batch)
                    # DDP averages gradients over processes, hence x world_size: the result is
                    # d(sum of losses of the whole step) / (units of the whole step).
                    (loss_sum * (info.world_size / max(global_units, 1))).backward()
                loss_total += loss_sum.detach().double()
                for key, value in extra.items():
                    metric_totals[key] = metric_totals.get(key, 0) + value.detach().double()
            step_loss = distributed.all_reduce_sum(loss_total).item() / max(global_units, 1)
            if not math.isfinite(step_loss):
                saved = checkpoint.latest_checkpoint(env.run_dir)
                raise TrainingError(
                    f"loss is {step_loss} at step {step}; stopped. Last good checkpoint: {saved or 'none'}"
                )
            grad_norm = torch.nn.utils.clip_grad_norm_(
                model.parameters(), optim_cfg.grad_clip if optim_cfg.grad_clip > 0 else float("inf")
            )
            grad_norm = grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm  # FSDP: a DTensor
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            tokens_seen += int(global_tokens)
            window_tokens += int(global_tokens)

            record = None
            if step % run_cfg.log_every == 0 or step == total:
                now = time.perf_counter()
                tokens_per_s = window_tokens / max(now - window_start, 1e-9)
                record = {"step": step, "loss": step_loss, "lr": lr, "grad_norm": float(grad_norm)}
                for key, value in metric_totals.items():
                    record[key] = distributed.all_reduce_sum(value).item() / max(global_units, 1)
                if hasattr(task, "step_metrics"):
                    record.update(task.step_metrics())
                record["tokens_per_s"] = tokens_per_s
                if task.flops_per_token:
                    record["mfu"] = task.flops_per_token * tokens_per_s / peak
                if info.device.type == "cuda":
                    record["gpu_peak_gib"] = torch.cuda.max_memory_allocated(info.device) / 2**30
                record["tokens"] = tokens_seen
                record["elapsed_s"] = elapsed_before + now - run_start
                log.write(record)
                window_start, window_tokens = time.perf_counter(), 0
            progress.update(step, record)

            # Evaluate before saving, so a checkpoint at step N covers every metrics line of step N.
            if (run_cfg.eval_every and step % run_cfg.eval_every == 0) or step == total:
                metrics = _evaluate(env, task, train_model, frozen, step, log, progress)
                # rank 0 decides (metrics computed apart may differ in the last bit): FSDP's gathering is collective
                improved = best.improves(metrics, step)
                improved, best.value, best.step = distributed.broadcast_object((improved, best.value, best.step))
                if improved:
                    _write_model_dir(task, model, template, env.run_dir / "best")
                    progress.note(f"best {best.name} so far ({best.value:.4g}): written to {env.run_dir / 'best'}")
                window_start = time.perf_counter()
            if (run_cfg.save_every and step % run_cfg.save_every == 0) or step == total:
                extra_state = {
                    "elapsed_s": elapsed_before + time.perf_counter() - run_start,
                    "tokens": tokens_seen,
                    # data position: the task's order is a function of the step, so rows consumed
                    # = step x global batch; recorded to be read, the resume needs only the step
                    "rows_seen": step * run_cfg.batch_size,
                    "best_value": best.value,
                    "best_step": best.step,
                }
                _save_checkpoint(env, task, train_model, optimizer, scheduler, step, extra_state)
                window_start = time.perf_counter()
    finally:
        progress.close()

    final_dir = env.run_dir / "final"
    train_s = time.perf_counter() - run_start + elapsed_before
    if info.is_main:
        if run_cfg.plots:
            plot_curves(env.run_dir)
        # the summary first: a run is finished when final/ is there, and then its summary is too
        _write_summary(env, task, total, tokens_seen, train_s, elapsed_before + time.perf_counter() - env.started)
    _write_model_dir(task, model, template, final_dir)
    progress.note(f"done in {format_duration(train_s)}: {final_dir}")
    distributed.barrier()
    return final_dir


def stage_name(config: Any) -> str:
    """The CLI name of the stage a config belongs to (PPOConfig -> ppo, RewardConfig -> rm); another
    config (a toy task's) is named after its class."""
    names = [name for name, cls in config_mod.STAGES.items() if type(config) is cls]
    return names[0] if names else type(config).__name__.removesuffix("Config").lower()


def _write_summary(env: Env, task: Task, steps: int, tokens: int, train_s: float, wall_s: float) -> None:
    """run_summary.json: what the run cost (the report's comparison reads it). wall_s counts from
    the stage's set-up (data, models, a cached reference) to the end; peak memory is this process's
    since set-up. A resumed run adds its earlier training time but not its earlier set-up."""
    info = env.dist
    summary = {
        "stage": stage_name(env.config),
        "seed": env.config.run.seed,
        "steps": steps,
        "tokens": tokens,
        "train_s": round(train_s, 3),
        "wall_s": round(wall_s, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_at_start_mib": round(env.rss_at_start_mib, 1),
        "device": info.device.type,
        "processes": info.world_size,
        "threads": torch.get_num_threads(),
        "resumed": env.resume_from is not None,
        "data": dict(getattr(task, "data_counts", {})),
    }
    if info.device.type == "cuda":
        summary["gpu_peak_gib"] = round(torch.cuda.max_memory_allocated(info.device) / 2**30, 3)
    tmp = env.run_dir / ".run_summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp, env.run_dir / "run_summary.json")


def _write_model_dir(task: Task, model, template, directory: Path) -> None:
    """task.save_final into a temp dir, then renamed over `directory`: never half a model. Every
    process calls it (FSDP gathers the weights from all of them); rank 0 writes."""
    plain = distributed.plain_copy(model, template)
    if plain is None:
        return
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    task.save_final(plain, tmp)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)


@dataclass
class Best:
    """The best held-out value of a task's chosen metric so far (`task.best_metric` = (name,
    greater_is_better)); its model is kept in best/."""

    spec: tuple[str, bool] | None
    value: float | None = None
    step: int | None = None

    @property
    def name(self) -> str:
        return self.spec[0] if self.spec else ""

    def improves(self, metrics: dict[str, float], step: int) -> bool:
        if not self.spec or self.spec[0] not in metrics:
            return False
        value, greater = metrics[self.spec[0]], self.spec[1]
        if self.value is not None and not (value > self.value if greater else value < self.value):
            return False
        self.value, self.step = value, step
        return True


def _evaluate(env: Env, task: Task, model, frozen, step, log: MetricsLog, progress: Progress) -> dict[str, float]:
    model.eval()
    with torch.no_grad(), _autocast(env), distributed.gathered(model, *frozen):
        metrics = task.evaluate(distributed.unwrap(model), env.dist)
    if metrics:
        log.write({"step": step, **metrics})
        progress.note(f"eval at step {step}: " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return metrics
