"""SFT throughput: alignkit side by side with TRL's SFTTrainer, one epoch each, in one run.

The same model directory (a random Llama with a BPE tokenizer and ChatML template, built by
`bench/make_sft_model.py`), the same data (LLaMA-Factory's alpaca_en_demo.json, 999 rows), max length
512, 8 rows an optimizer step, one epoch, CPU fp32, 2 threads. Each side runs in its own process so
that its wall time (start-up included) and peak memory (RSS) are its own:

- alignkit: `alignkit sft` (padding-free packing by default), no mid-run eval or checkpoint, final
  model written as usual;
- TRL default: `SFTTrainer` padding each batch to its longest row (bench/trl_sft.py --mode default);
- TRL packing: `SFTTrainer(packing=True)`, best-fit-decreasing rows flattened padding-free.

TRL lives in its own environment (bench/requirements-trl.txt), never among alignkit's dependencies:

    python3 -m venv bench/.venv-trl && bench/.venv-trl/bin/pip install -r bench/requirements-trl.txt
    python bench/sft_throughput.py --size tiny --repeats 2

The runs alternate (alignkit, TRL default, TRL packing, ...); the best repeat of each is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent
SHARED_ALPACA = HERE.parents[1] / "shared" / "data" / "llamafactory" / "alpaca_en_demo.json"
TRL_PYTHON = HERE / ".venv-trl" / "bin" / "python"


def run_alignkit(args, model_dir: Path, workdir: Path, env: dict) -> dict:
    out = workdir / "alignkit"
    command = [
        "sft", "--model", str(model_dir), "--data", str(args.data),
        "--output-dir", str(out), "--overwrite", "--data.max-length", str(args.max_length),
        "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.batch_size), "--epochs", "1",
        "--lr", "1e-4", "--optim.warmup-steps", "0", "--data.eval-fraction", "0", "--eval-every", "0",
        "--save-every", "0", "--log-every", "10", "--run.progress", "false", "--run.plots", "false",
        "--run.device", args.device,
    ]  # fmt: skip
    wall, peak_rss, result = measure.run_alignkit(command, env)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_lines = [line for line in lines if "loss" in line]
    stats_line = next(line for line in result.stdout.splitlines() if "examples ->" in line)
    return {
        "side": "alignkit (packed)",
        "total_seconds": round(wall, 2),
        "train_seconds": round(train_lines[-1]["elapsed_s"], 2),
        "steps": train_lines[-1]["step"],
        "tokens": train_lines[-1]["tokens"],
        "final_loss": round(train_lines[-1]["loss"], 4),
        "peak_rss_mib": round(peak_rss, 1),
        "gpu_peak_gib": max((line.get("gpu_peak_gib", 0) for line in train_lines), default=0) or None,
        "data": stats_line.split("data: ", 1)[-1].split("; 0 held out")[0],
    }


def run_trl(args, model_dir: Path, workdir: Path, env: dict, mode: str) -> dict:
    out = workdir / f"trl-{mode}"
    command = [
        str(args.trl_python), str(HERE / "trl_sft.py"), "--device", args.device,
        "--model", str(model_dir), "--data", str(args.data), "--mode", mode, "--out", str(out),
        "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
    ]  # fmt: skip
    if args.trl_gradient_checkpointing:
        command.append("--gradient-checkpointing")
    wall, _ = measure.run_timed(command, env)
    result = json.loads((out / "result.json").read_text())
    return {
        "side": f"TRL {mode}",
        "total_seconds": round(wall, 2),
        "train_seconds": result["train_seconds"],
        "steps": result["steps"],
        "tokens": result["tokens"],
        "final_loss": round(result["final_loss"], 4) if result["final_loss"] is not None else None,
        "peak_rss_mib": result["peak_rss_mib"],
        "gpu_peak_gib": result.get("gpu_peak_gib"),
        "trl_version": result["trl_version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny", help="named alignkit size of the random model")
    parser.add_argument("--data", type=Path, default=SHARED_ALPACA, help="Alpaca-format JSON list")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trl-gradient-checkpointing", action="store_true", help="TRL's own default; off here")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: both sides in bf16")
    parser.add_argument("--trl-python", type=Path, default=TRL_PYTHON, help="a Python that has TRL")
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "sft")
    parser.add_argument("--json", type=Path, help="write every repeat here")
    args = parser.parse_args()
    if not args.trl_python.exists():
        sys.exit(f"no TRL environment at {args.trl_python}; see this script's docstring")

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent / "src"), os.environ.get("PYTHONPATH")]))
    args.workdir.mkdir(parents=True, exist_ok=True)
    model_dir = args.workdir / f"model-{args.size}"
    subprocess.run(
        [sys.executable, str(HERE / "make_sft_model.py"), "--out", str(model_dir), "--size", args.size,
         "--data", str(args.data), "--max-length", str(args.max_length)],
        check=True, env=env,
    )  # fmt: skip

    runs: dict[str, list[dict]] = {}
    for repeat in range(args.repeats):
        for name, runner in (
            ("alignkit", lambda: run_alignkit(args, model_dir, args.workdir, env)),
            ("trl-default", lambda: run_trl(args, model_dir, args.workdir, env, "default")),
            ("trl-packing", lambda: run_trl(args, model_dir, args.workdir, env, "packing")),
        ):
            result = runner()
            runs.setdefault(name, []).append(result)
            print(f"repeat {repeat + 1}: {json.dumps(result)}", flush=True)

    best = {name: min(results, key=lambda r: r["total_seconds"]) for name, results in runs.items()}
    ours = best["alignkit"]
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads")
    print(f"model: {args.size}; data: {args.data.name}; max length {args.max_length}; {args.batch_size} rows/step\n")
    print(f"device: {args.device}")
    header = ["run", "wall s (process)", "train s", "steps", "tokens fed", "final loss", "peak RSS MiB",
              "peak GPU GiB", "TRL / alignkit wall"]  # fmt: skip
    measure.print_table(header, [
        [r["side"], f"{r['total_seconds']:.1f}", f"{r['train_seconds']:.1f}", r["steps"], f"{r['tokens']:,}",
         r["final_loss"], f"{r['peak_rss_mib']:,.0f}", f"{r['gpu_peak_gib']:.1f}" if r["gpu_peak_gib"] else "-",
         f"{r['total_seconds'] / ours['total_seconds']:.2f}"]
        for r in best.values()
    ])  # fmt: skip
    measure.save_json(args.json, runs)


if __name__ == "__main__":
    main()
