"""TRL's side of the SFT throughput benchmark: one epoch of `SFTTrainer` on an Alpaca file, CPU fp32.

Runs in the benchmark's own TRL environment (bench/requirements-trl.txt), never in alignkit's:

    python3 -m venv bench/.venv-trl && bench/.venv-trl/bin/pip install -r bench/requirements-trl.txt
    OMP_NUM_THREADS=2 bench/.venv-trl/bin/python bench/trl_sft.py --model DIR --data alpaca_en_demo.json \
        --mode default --out bench/results/trl-default

Rows become conversational prompt-completion pairs, so TRL renders them with the model's chat template and trains on
the completion only. `--mode default` pads each batch of 8 rows to its longest row; `--mode packing` uses TRL's
packing (best-fit-decreasing rows of at most `--max-length` tokens, 8 such rows flattened padding-free into one
sequence per step, with position ids restarting at every example).

Prints one JSON line at the end (also written to OUT/result.json): mode, train_seconds (`trainer.train()`),
total_seconds (process start to end), steps, tokens (non-pad tokens fed to the model), learning_tokens (tokens the
loss is on), final_loss, versions, and peak RSS of this process.
"""

from __future__ import annotations

import time

_START = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402


def process_start() -> float:
    """When this process started (interpreter start-up included), or the first line of this file ran."""
    try:
        return min(psutil.Process().create_time(), _START)
    except psutil.Error:
        return _START


def alpaca_to_prompt_completion(path: Path) -> Dataset:
    """Alpaca rows -> conversational prompt-completion rows (the chat template renders them; loss on the answer)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    prompts, completions = [], []
    for row in rows:
        user = row["instruction"] + ("\n\n" + row["input"] if row.get("input") else "")
        prompts.append([{"role": "user", "content": user}])
        completions.append([{"role": "assistant", "content": row["output"]}])
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


class CountingCollator:
    """Wraps the trainer's collator and counts what the model is fed: real tokens and tokens with a loss."""

    def __init__(self, collator):
        self.collator = collator
        self.tokens = 0
        self.learning_tokens = 0
        self.batches = 0
        self.seconds = 0.0

    def __call__(self, examples):
        start = time.perf_counter()
        batch = self.collator(examples)
        self.seconds += time.perf_counter() - start
        if "attention_mask" in batch:
            self.tokens += int(batch["attention_mask"].sum())
        else:  # padding-free: one flattened row with no padding in it
            self.tokens += batch["input_ids"].numel()
        # The model predicts labels[:, 1:] from the positions before them.
        self.learning_tokens += int((batch["labels"][:, 1:] != -100).sum())
        self.batches += 1
        return batch


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step (data loading excluded: the loader is pulled before on_step_begin)."""

    def __init__(self):
        self.seconds: list[float] = []
        self._begin = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._begin = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._begin)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model directory (weights + tokenizer)")
    parser.add_argument("--data", type=Path, required=True, help="Alpaca-format JSON list")
    parser.add_argument("--mode", choices=("default", "packing"), default="default")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8, help="rows per optimizer step")
    parser.add_argument("--out", type=Path, required=True, help="trainer output directory (result.json lands here)")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: bf16 mixed precision")
    parser.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="TRL's own default (SFTConfig turns it on); off here, like alignkit, unless asked",
    )
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa")
    dataset = alpaca_to_prompt_completion(args.data)

    config = SFTConfig(
        output_dir=str(args.out),
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        num_train_epochs=1,
        max_length=args.max_length,
        learning_rate=args.learning_rate,
        packing=args.mode == "packing",
        completion_only_loss=True,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        logging_steps=10,
        use_cpu=args.device == "cpu",
        bf16=args.device == "cuda",
        fp16=False,
        gradient_checkpointing=args.gradient_checkpointing,
        dataloader_num_workers=0,
        seed=args.seed,
        disable_tqdm=True,
    )
    timer = StepTimer()
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer, callbacks=[timer])
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter

    start = time.perf_counter()
    output = trainer.train()
    train_seconds = time.perf_counter() - start

    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    steps = trainer.state.global_step
    trl_tokens = [entry["num_tokens"] for entry in trainer.state.log_history if "num_tokens" in entry]
    result = {
        "mode": args.mode,
        "train_seconds": round(train_seconds, 3),
        "total_seconds": round(time.time() - process_start(), 3),
        "steps": steps,
        "tokens": counter.tokens,
        "learning_tokens": counter.learning_tokens,
        "final_loss": losses[-1] if losses else None,
        "trl_version": trl.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "train_loss": output.training_loss,
        "tokens_per_second": round(counter.tokens / train_seconds, 1),
        "rows": len(dataset),
        "trained_rows": len(trainer.train_dataset),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "gradient_checkpointing": args.gradient_checkpointing,
        "padding_free": bool(getattr(trainer, "padding_free", False)),
        "trl_num_tokens": trl_tokens[-1] if trl_tokens else None,
        "step_seconds_median": round(statistics.median(timer.seconds), 4) if timer.seconds else None,
        "first_step_seconds": round(timer.seconds[0], 4) if timer.seconds else None,
        "collator_seconds": round(counter.seconds, 3),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        # ru_maxrss is in KiB on Linux: the peak resident set of this process over its whole life.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "gpu_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if args.device == "cuda" else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=2) + "\n")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
