"""Memory and time per process for one process, two DDP processes and two FSDP2 processes (torchrun,
gloo on this CPU): SFT of a model of a named size on the embedded customer-service set.

The model is made first by one pretraining step of the named size (random weights are enough to
measure memory). Each launch then runs the same SFT steps at the same global batch; rank 0's
run_summary.json gives its process's peak RSS (VmHWM since the stage's set-up) and the training
time, metrics.jsonl the loss of every step (which must agree across launches).

    python bench/parallel_memory.py --size gpt2-124m --steps 4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def alignkit(args: list, processes: int = 1) -> None:
    launcher = [sys.executable, "-m", "alignkit"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                    str(processes), "-m", "alignkit"]  # fmt: skip
    # glibc keeps freed blocks for reuse, so RSS would show the most ever allocated at once plus
    # fragmentation; FSDP frees each gathered block after use and would look no better than DDP.
    # Large blocks mmap'ed and returned at once make RSS follow what is really held (every launch alike).
    malloc = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0", "MALLOC_ARENA_MAX": "1"}
    env = {**os.environ, **malloc, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // processes))}
    result = subprocess.run([*launcher, *map(str, args)], env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="gpt2-124m", help="a named model size (alignkit.models.load.NAMED_CONFIGS)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--micro-batch-size", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "parallel_memory.json"))
    args = parser.parse_args()
    quiet = ["--run.progress", "false", "--run.plots", "false"]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        alignkit(["pretrain", "--model.name-or-path", args.size, "--max-steps", 1, "--batch-size", 2,
                  "--micro-batch-size", 2, "--max-length", 64, "--save-every", 0,
                  "--output-dir", base, *quiet])  # fmt: skip
        rows = {}
        for name, processes, parallel in [("one process", 1, "ddp"), ("2 x DDP", 2, "ddp"), ("2 x FSDP", 2, "fsdp")]:
            out = Path(tmp) / name.replace(" ", "")
            alignkit(["sft", "--model", base / "final", "--max-steps", args.steps, "--batch-size", args.batch_size,
                      "--micro-batch-size", args.micro_batch_size, "--data.max-length", args.max_length,
                      "--save-every", 0, "--eval-every", 0, "--log-every", 1, "--run.parallel", parallel,
                      "--output-dir", out, *quiet], processes)  # fmt: skip
            summary = json.loads((out / "run_summary.json").read_text())
            losses = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            rows[name] = {
                "processes": processes,
                "parallel": parallel if processes > 1 else None,
                "peak_rss_mib_rank0": summary["peak_rss_mib"],
                "rss_at_start_mib": summary["rss_at_start_mib"],
                "train_s": summary["train_s"],
                "losses": [round(r["loss"], 5) for r in losses if "loss" in r],
            }
            print(f"{name:12s} peak RSS of rank 0 {summary['peak_rss_mib']:8.0f} MiB  "
                  f"train {summary['train_s']:6.1f} s  losses {rows[name]['losses']}")  # fmt: skip
    import torch

    result = {"size": args.size, "steps": args.steps, "batch_size": args.batch_size,
              "micro_batch_size": args.micro_batch_size, "max_length": args.max_length,
              "torch": torch.__version__, "cpus": os.cpu_count(), "runs": rows}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
