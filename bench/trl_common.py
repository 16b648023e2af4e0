"""What TRL's sides of the rollout benchmarks share (bench/trl_ppo.py, bench/trl_grpo.py).

They run in TRL's own environment, without alignkit; this module needs only the standard library to import (torch
and transformers are imported where a function needs them), so that a script imports it before torch: importing it
notes when the process started and caps the threads (OMP_NUM_THREADS=2 unless the caller says otherwise).

- `read_prompt_rows`: the JSONL rows with a "prompt" string;
- `add_run_arguments` / `setup`: the options every side takes (attention, threads, device, seed, warm-up, output)
  and what they set up;
- `quiet_training_arguments`: TrainingArguments that save, evaluate and print nothing, in fp32; `train` runs
  `trainer.train()` timed and removes its scratch output directory;
- `IterationTimer`: a trainer callback's clock, iteration by iteration, in wall and CPU seconds;
- `versions`, `seconds_since_start` and `write_result`: the result JSON, with the process's peak RSS.
"""

from __future__ import annotations

import os
import time

START = time.time()

# Before torch is imported: at most 2 threads unless the caller says otherwise.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402


def process_start() -> float:
    """When this process started (interpreter start-up included), or when this module was imported."""
    try:
        import psutil

        return min(psutil.Process().create_time(), START)
    except Exception:  # psutil missing or refusing: the import of this module is close enough
        return START


def seconds_since_start() -> float:
    return round(time.time() - process_start(), 3)


def read_prompt_rows(path: Path) -> list[dict]:
    """The rows of a JSONL file, each with a "prompt" string; stops on a row without one, or on no rows."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("prompt"), str):
                raise SystemExit(f"{path}:{number}: expected a 'prompt' string")
            rows.append(row)
    if not rows:
        raise SystemExit(f"{path}: no prompts")
    return rows


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Attention implementation, threads, device, seed, --keep-first and --out."""
    parser.add_argument("--attn-implementation", default="sdpa")
    parser.add_argument("--threads", type=int, default=int(os.environ["OMP_NUM_THREADS"]), help="torch threads")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="fp32 either way")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-first", action="store_true", help="count the first (warm-up) iteration in medians")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")


def setup(args) -> Callable[[], None]:
    """Device, threads and seed as `add_run_arguments` parsed them; the function that waits for the device before a
    clock is read."""
    import torch
    import transformers

    if args.device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "true"  # a trainer that builds its own Accelerator would take a GPU
    torch.set_num_threads(args.threads)
    transformers.set_seed(args.seed)
    return torch.cuda.synchronize if args.device == "cuda" else (lambda: None)


def quiet_training_arguments(args) -> dict:
    """TrainingArguments for a timed run: no reports, checkpoints, evaluation or progress bar, a log every step,
    fp32 on the device asked for, no gradient checkpointing, data loaded in the main process."""
    return dict(
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        use_cpu=args.device == "cpu",
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        seed=args.seed,
    )


def train(trainer, output_dir: Path) -> float:
    """`trainer.train()`, its seconds; then `output_dir` (the trainer's config wants one; nothing is kept) goes."""
    start = time.perf_counter()
    try:
        trainer.train()
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    return time.perf_counter() - start


class IterationTimer:
    """The clock of a trainer callback (mix in before transformers' TrainerCallback) that times each iteration, from
    the previous `on_step_end` (or `on_train_begin`) to its own.

    A subclass gives `_new()`, the record an iteration starts from, fills `self._current` from wrappers around what
    the trainer calls (its own, reading the clock with `now()`, or `timed`), and adds what follows from the
    iteration's `total_s` in `_complete(record, end)`. Each finished record also has its number (`iteration`), the
    process's CPU seconds (`cpu_s`) and `generated_tokens_per_s` (over `generation_s`); its seconds (`*_s`) are
    rounded to 4 places.
    """

    def __init__(self, sync):
        self.sync = sync
        self.iterations: list[dict] = []
        self._begin = 0.0
        self._cpu_begin = 0.0
        self._current: dict = self._new()

    def _new(self) -> dict:
        raise NotImplementedError

    def _complete(self, record: dict, end: float) -> None:
        """Derived times of the iteration that ends at `end`."""

    def now(self) -> float:
        self.sync()
        return time.perf_counter()

    def timed(self, function: Callable, key: str) -> Callable:
        """`function`, with the seconds of each call added to the current iteration's `key`."""

        def wrapper(*args, **kwargs):
            start = self.now()
            result = function(*args, **kwargs)
            self._current[key] += self.now() - start
            return result

        return wrapper

    def on_train_begin(self, args, state, control, **kwargs):
        self._begin = self.now()
        self._cpu_begin = time.process_time()
        self._current = self._new()

    def on_step_end(self, args, state, control, **kwargs):
        end = self.now()
        cpu_end = time.process_time()
        record = self._current
        record["iteration"] = len(self.iterations) + 1
        record["total_s"] = end - self._begin
        self._complete(record, end)
        # CPU seconds of this process (all threads) over the iteration: well under threads x total_s means the
        # process was waiting (other jobs on the machine, or memory stalls), so the wall times are inflated.
        record["cpu_s"] = cpu_end - self._cpu_begin
        record["generated_tokens_per_s"] = (
            round(record["generated_tokens"] / record["generation_s"], 1) if record["generation_s"] else None
        )
        for key, value in record.items():
            if key.endswith("_s") and isinstance(value, float):
                record[key] = round(value, 4)
        self.iterations.append(record)
        self._begin = end
        self._cpu_begin = cpu_end
        self._current = self._new()


def versions() -> dict:
    import accelerate
    import torch
    import transformers
    import trl

    return {
        "trl_version": trl.__version__,
        "transformers_version": transformers.__version__,
        "accelerate_version": accelerate.__version__,
        "torch_version": torch.__version__,
    }


def write_result(out: Path, result: dict, brief_leaves_out=("iterations", "timing_notes")) -> None:
    """`result` with the process's threads and peak RSS, as JSON to `out`, and on one line (but `brief_leaves_out`)
    to stdout."""
    import torch

    result = {
        **result,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        # ru_maxrss is in KiB on Linux: the peak resident set of this process over its whole life.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in brief_leaves_out}), flush=True)
