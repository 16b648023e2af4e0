"""TRL's side of the DPO throughput benchmark: a fixed number of optimizer steps of TRL's `DPOTrainer`, CPU fp32.

Runs in the benchmark's own TRL environment (bench/requirements-trl.txt), never in alignkit's:

    python3 -m venv bench/.venv-trl && bench/.venv-trl/bin/pip install -r bench/requirements-trl.txt
    OMP_NUM_THREADS=2 bench/.venv-trl/bin/python bench/trl_dpo.py --model runs/demo/sft/final \
        --pairs pairs.jsonl --steps 20 --out bench/results/trl-dpo.json [--precompute-ref-log-probs]

Every row of `--pairs` ({"prompt", "chosen", "rejected"} strings) becomes a conversational preference row (the prompt
a user turn, each answer an assistant turn), so TRL renders it with the model's chat template and learns the answers
only. One optimizer step = `--batch-size` pairs in micro-batches of `--micro-batch-size` (gradient accumulation);
every micro-batch runs its pairs' chosen and rejected sequences as one batch, right-padded to its longest (TRL 1.16's
`padding_free` is unavailable: it warns and pads). The sigmoid loss, beta, AdamW (TRL's default `adamw_torch_fused`,
betas 0.9 / 0.999, eps 1e-8) at a constant learning rate with no warmup and no weight decay, gradient clipping at 1.0,
dropout off, no activation checkpointing (TRL's DPOConfig turns it on by default), no bf16 (TRL's default on).

The reference log-probs: by default (TRL's default) a second copy of the model, loaded by the trainer, runs a no-grad
forward on every micro-batch; with `--precompute-ref-log-probs` the policy computes them once for the whole training
set, in batches of `--micro-batch-size`, inside the trainer's constructor, and TRL writes them to a temporary Arrow
file joined to the training set (all of it timed on its own: `precompute_seconds`).

Timing: an optimizer step runs from the previous step's `on_step_end` (the first: `on_train_begin`) to its own
`on_step_end`, so it includes fetching and collating its micro-batches (the trainer prefetches them before
`on_step_begin`) and the logging of the step before; `compute_s` is the narrower `on_step_begin` -> `on_step_end`.
Model loading, tokenization and the precompute pass are outside every step. Tokens are counted as each micro-batch
reaches `training_step`: real (non-pad) tokens and padded positions.

Writes one JSON (`--out`) with per-step times, token counts, process CPU seconds per step, the phases before training,
the configuration and the peak RSS of this process, and prints it (per-step rows left out) on one line.
"""

from __future__ import annotations

import os

import trl_common  # first: it notes the start time and caps the threads before torch is imported

os.environ.setdefault("TQDM_DISABLE", "1")  # TRL's precompute loop reads it

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import datasets  # noqa: E402
import measure  # noqa: E402
import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback  # noqa: E402
from trl import DPOConfig, DPOTrainer  # noqa: E402


def read_pairs(path: Path) -> Dataset:
    """{"prompt", "chosen", "rejected"} string rows -> TRL's conversational preference rows."""
    prompts, chosen, rejected = [], [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not all(isinstance(row.get(key), str) for key in ("prompt", "chosen", "rejected")):
                raise SystemExit(f"{path}:{number}: expected 'prompt', 'chosen' and 'rejected' strings")
            prompts.append([{"role": "user", "content": row["prompt"]}])
            chosen.append([{"role": "assistant", "content": row["chosen"]}])
            rejected.append([{"role": "assistant", "content": row["rejected"]}])
    if not prompts:
        raise SystemExit(f"{path}: no pairs")
    return Dataset.from_dict({"prompt": prompts, "chosen": chosen, "rejected": rejected})


class Counter:
    """Wraps the trainer's `training_step`: pairs, real (non-pad) tokens and padded positions of each micro-batch
    as it is trained on (the collator runs ahead of the steps: accelerate's loader prefetches a batch)."""

    def __init__(self, training_step):
        self.training_step = training_step
        self.pairs = 0
        self.tokens = 0
        self.positions = 0

    def __call__(self, model, inputs, *args, **kwargs):
        self.pairs += len(inputs["input_ids"]) // 2  # chosen rows, then rejected rows
        self.tokens += int(inputs["attention_mask"].sum())
        self.positions += inputs["input_ids"].numel()
        return self.training_step(model, inputs, *args, **kwargs)


class StepTimer(TrainerCallback):
    """Wall and process CPU seconds of each optimizer step, with the pairs and tokens it trained on."""

    def __init__(self, counter: Counter, sync):
        self.counter, self.sync = counter, sync
        self.steps: list[dict] = []
        self._end = self._cpu_end = self._begin = 0.0
        self._seen = (0, 0, 0)

    def now(self) -> float:
        self.sync()
        return time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self._end, self._cpu_end = self.now(), time.process_time()

    def on_step_begin(self, args, state, control, **kwargs):
        self._begin = self.now()

    def on_step_end(self, args, state, control, **kwargs):
        end, cpu_end = self.now(), time.process_time()
        seen = (self.counter.pairs, self.counter.tokens, self.counter.positions)
        pairs, tokens, positions = (now - before for now, before in zip(seen, self._seen, strict=True))
        self.steps.append({
            "step": state.global_step,
            "seconds": round(end - self._end, 4),
            "compute_s": round(end - self._begin, 4),
            "cpu_s": round(cpu_end - self._cpu_end, 4),
            "pairs": pairs,
            "tokens": tokens,
            "padded_positions": positions,
        })  # fmt: skip
        self._end, self._cpu_end, self._seen = end, cpu_end, seen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="causal LM dir with a chat-template tokenizer")
    parser.add_argument("--pairs", type=Path, required=True, help='JSONL of {"prompt", "chosen", "rejected"} strings')
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps (TRL's max_steps)")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs an optimizer step")
    parser.add_argument("--micro-batch-size", type=int, default=8, help="pairs a forward (per_device_train_batch_size)")
    parser.add_argument("--max-length", type=int, default=512, help="tokens of prompt + answer at most (keep_start)")
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="AdamW, constant, no warmup")
    parser.add_argument("--grad-clip", type=float, default=1.0, help="TRL's max_grad_norm")
    parser.add_argument("--precompute-ref-log-probs", action="store_true", help="no reference model in the steps")
    trl_common.add_run_arguments(parser)
    args = parser.parse_args(argv)

    if args.batch_size % args.micro_batch_size:
        parser.error("--batch-size must be a multiple of --micro-batch-size")
    sync = trl_common.setup(args)
    datasets.disable_progress_bars()

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if not tokenizer.chat_template:
        raise SystemExit(f"{args.model}: the tokenizer has no chat template")
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype=torch.float32, attn_implementation=args.attn_implementation
    )
    load_seconds = time.perf_counter() - start
    dataset = read_pairs(args.pairs)
    if len(dataset) < args.steps * args.batch_size:
        raise SystemExit(f"{args.pairs}: {len(dataset)} pairs, fewer than {args.steps} steps x {args.batch_size}")

    # The phases inside the trainer's constructor: tokenizing the pairs and, if asked, the reference pass.
    phases = {"tokenize_seconds": 0.0, "precompute_seconds": 0.0, "precompute_cpu_seconds": 0.0}

    def now() -> float:
        sync()
        return time.perf_counter()

    original_prepare, original_precompute = DPOTrainer._prepare_dataset, DPOTrainer._precompute_ref_logps

    def prepare_dataset(self, *a, **kw):
        begin = time.perf_counter()
        try:
            return original_prepare(self, *a, **kw)
        finally:
            phases["tokenize_seconds"] += time.perf_counter() - begin

    def precompute_ref_logps(self, *a, **kw):
        begin, cpu = now(), time.process_time()
        try:
            return original_precompute(self, *a, **kw)
        finally:
            phases["precompute_seconds"] += now() - begin
            phases["precompute_cpu_seconds"] += time.process_time() - cpu

    DPOTrainer._prepare_dataset = prepare_dataset
    DPOTrainer._precompute_ref_logps = precompute_ref_logps

    output_dir = Path(tempfile.mkdtemp(prefix="trl-dpo-"))  # DPOConfig wants one; nothing is saved in it
    config = DPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=args.batch_size // args.micro_batch_size,
        max_steps=args.steps,
        learning_rate=args.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        optim="adamw_torch_fused",
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        max_grad_norm=args.grad_clip,
        beta=args.beta,
        loss_type=["sigmoid"],
        label_smoothing=0.0,
        max_length=args.max_length,
        truncation_mode="keep_start",
        padding_free=False,
        precompute_ref_log_probs=args.precompute_ref_log_probs,
        precompute_ref_batch_size=args.micro_batch_size,
        disable_dropout=True,
        activation_checkpointing=False,
        **trl_common.quiet_training_arguments(args),
    )
    start = time.perf_counter()
    trainer = DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    construct_seconds = time.perf_counter() - start
    counter = Counter(trainer.training_step)
    trainer.training_step = counter
    timer = StepTimer(counter, sync)
    trainer.add_callback(timer)

    cpu = time.process_time()
    train_seconds = trl_common.train(trainer, output_dir)
    train_cpu_seconds = time.process_time() - cpu

    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    result = {
        "implementation": "trl",
        **trl_common.versions(),
        "datasets_version": datasets.__version__,
        "config": {
            "model": str(args.model.resolve()),
            "pairs": str(args.pairs.resolve()),
            "pair_rows": len(dataset),
            "trained_rows": len(trainer.train_dataset),
            "steps": args.steps,
            "batch_size": args.batch_size,
            "micro_batch_size": args.micro_batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "max_length": args.max_length,
            "truncation_mode": config.truncation_mode,
            "beta": config.beta,
            "loss_type": config.loss_type,
            "precompute_ref_log_probs": config.precompute_ref_log_probs,
            "reference_model": trainer.ref_model is not None,
            "learning_rate": config.learning_rate,
            "lr_scheduler_type": str(config.lr_scheduler_type),
            "warmup_steps": config.warmup_steps,
            "weight_decay": config.weight_decay,
            "adam_betas": [config.adam_beta1, config.adam_beta2],
            "adam_epsilon": config.adam_epsilon,
            "max_grad_norm": config.max_grad_norm,
            "optim": str(config.optim),
            "optimizer": type(optimizer).__name__,
            "optimizer_fused": bool(optimizer.defaults.get("fused")),
            "activation_checkpointing": bool(config.activation_checkpointing),
            "padding_free": config.padding_free,
            "dtype": str(model.dtype),
            "attn_implementation": args.attn_implementation,
            "device": args.device,
            "seed": args.seed,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "load_seconds": round(load_seconds, 3),
        "construct_seconds": round(construct_seconds, 3),
        **{key: round(value, 3) for key, value in phases.items()},
        "train_seconds": round(train_seconds, 3),
        "train_cpu_seconds": round(train_cpu_seconds, 3),
        "total_seconds": trl_common.seconds_since_start(),
        "global_steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "summary": measure.step_summary(timer.steps, args.keep_first, args.threads),
        "steps": timer.steps,
    }
    trl_common.write_result(args.out, result, brief_leaves_out=("steps",))


if __name__ == "__main__":
    main()
