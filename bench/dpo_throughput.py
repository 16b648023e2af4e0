"""DPO step throughput: `alignkit dpo` side by side with TRL's DPOTrainer, in one run, as ratios.

Both sides train the same policy (the demo assistant, runs/demo/sft/final: a 3.3M-parameter Llama with a ChatML
template) on the same preference pairs, each pair's prompt a user turn and its chosen and rejected answers assistant
turns rendered through the model's chat template, the loss on the answers only. The same settings on both: sigmoid
loss, beta 0.1, no label smoothing, at most 512 tokens of prompt + answer, 16 pairs an optimizer step in micro-batches
of 8 (TRL: per_device_train_batch_size 8, gradient_accumulation_steps 2), AdamW at a constant 5e-5 (no warmup, no
weight decay, betas 0.9 / 0.999, eps 1e-8, fused on both), gradient clipping at 1.0, dropout off, no activation
checkpointing, seed 0, 20 optimizer steps. CPU, fp32, 2 threads (OMP_NUM_THREADS=2 for both). Each side runs in its
own process, so its peak memory (RSS) is its own.

Pairs: the first steps x batch-size rows (320) of the embedded demo preference data
(src/alignkit/assets/preference.jsonl.gz), or of `--pairs FILE`, written to a temporary JSONL of
{"prompt", "chosen", "rejected"} strings that every side reads: each side trains exactly one epoch over the same
pairs, and its reference pass covers the same pairs. With seed 0 both draw the same order too (alignkit's epoch
permutation and TRL's shuffling sampler are both a torch.randperm seeded with 0); the script compares the per-step
token counts and says whether they agree.

Three runs, alternating, `--repeats` times (the best repeat of each, by mean seconds per step, is shown):
- alignkit: `alignkit dpo`: the reference log-probs computed once, from the starting weights, in the task's
  constructor before the loop (micro-batches of 8); each micro-batch's 16 sequences (8 pairs x chosen / rejected,
  prompts included) packed padding-free into one row.
- TRL, reference model (TRL's default, `precompute_ref_log_probs=False`): the trainer loads a second copy of the
  model and runs it without grad on every micro-batch; each micro-batch's 16 sequences right-padded to the longest.
- TRL, precomputed (`precompute_ref_log_probs=True`, `precompute_ref_batch_size` 8): the reference log-probs
  computed once by the policy over the training set in the trainer's constructor. This is the configuration that
  matches alignkit's algorithm; the default one is what TRL does out of the box.

How each step is timed (model loading, tokenization and the reference pass are outside every step):
- alignkit: from metrics.jsonl (`--log-every 1`): a step's time is the difference of `elapsed_s` between
  consecutive steps (the first: `elapsed_s` at step 1, from the loop's start), so it includes collating its
  micro-batches and writing the previous step's metrics; tokens from the difference of `tokens`. The reference pass
  (`DPOTask._logps_of`), process CPU seconds at each step's end (`MetricsLog.write`) and the peak RSS are recorded by
  a small wrapper that runs the CLI in-process (see ALIGNKIT_WRAPPER); it times, it changes nothing.
- TRL: bench/trl_dpo.py (see its docstring): from one `on_step_end` to the next (the first: from `on_train_begin`),
  so it includes fetching and collating the step's micro-batches and logging the step before; the precompute pass
  is timed on its own.
Seconds per step are the mean over the steps, the first left out as warm-up on both sides (`--keep-first` counts it);
pairs/s and tokens/s divide the pairs and real (non-pad) tokens of those steps by their seconds. TRL's padded
positions (what it really computes on) are in the JSON.

TRL lives in its own environment (bench/requirements-trl.txt), never among alignkit's dependencies:

    python3 -m venv bench/.venv-trl && bench/.venv-trl/bin/pip install -r bench/requirements-trl.txt
    .venv/bin/python -c "from alignkit.stages import sft; sft.ensure_demo_model()"   # once, if runs/demo/sft is missing
    .venv/bin/python bench/dpo_throughput.py --repeats 3 --json bench/results/dpo_throughput.json

Caveats: CPU timings are noisy on a shared machine. The table has each side's CPU use over the timed steps (its CPU
seconds / (threads x wall seconds)) and the CPU the machine's other processes used meanwhile (from /proc/stat, in
cores, over the side's whole process); the JSON has each side's process CPU seconds and CPU seconds per step. A side
well under 100%, or other jobs near a core, means its times are inflated, and by far more than the share of CPU it
lost (seen here with other jobs busy on one to two cores: alignkit's steps 13 to 23 times slower, TRL's about 5
times; likely a 2-thread pool whose second thread is descheduled waiting at every parallel region). `--quiet-wait S`
waits, before each run, up to S seconds for the other processes to use under 0.3 cores (the JSON keeps what they used
then).
Where TRL 1.16 has no matching setting: TRL pads where alignkit packs (its `padding_free` is unavailable since its
DPO refactor: it warns and pads); its fused LM head also computes per-token entropy, mean logits and top-1 accuracy
for its logged metrics; and its answer tokens run to the end of the rendered conversation, so it also learns the
newline the ChatML template writes after <|im_end|>, where alignkit's answer ends at <|im_end|> (the same tokens are
fed on both sides, one more is scored a sequence in TRL: the losses after the first step differ a little, the work
does not). The learning-rate schedule is constant because the two warmup formulas differ (alignkit: (step + 1) /
(warmup + 1); transformers: step / warmup).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO_POLICY = ROOT / "runs" / "demo" / "sft" / "final"
DEMO_PREFERENCES = ROOT / "src" / "alignkit" / "assets" / "preference.jsonl.gz"
TRL_PYTHON = HERE / ".venv-trl" / "bin" / "python"
# Fixed on both sides (not options).
FIXED = {
    "loss_type": "sigmoid", "label_smoothing": 0.0, "lr_schedule": "constant", "warmup_steps": 0,
    "weight_decay": 0.0, "adam_betas": [0.9, 0.999], "adam_eps": 1e-8, "grad_clip": 1.0, "dropout": "off",
    "activation_checkpointing": False, "precision": "fp32", "device": "cpu", "chat_template": "the model's",
}  # fmt: skip

# Runs `python -m alignkit ...` in this process and writes, whatever its exit: the peak RSS, the seconds of the
# reference pass (DPOTask._logps_of), and process CPU seconds at the first step's start and at each step's end.
ALIGNKIT_WRAPPER = """
import json, os, resource, runpy, sys, time
import alignkit.stages.dpo as dpo
import alignkit.train.metrics as metrics
timing = {"reference_s": 0.0, "reference_cpu_s": 0.0, "step_cpu_s": {}}
logps_of, micro_batches, write = dpo.DPOTask._logps_of, dpo.DPOTask.micro_batches, metrics.MetricsLog.write
def _logps_of(self, *args, **kwargs):
    start, cpu = time.perf_counter(), time.process_time()
    try:
        return logps_of(self, *args, **kwargs)
    finally:
        timing["reference_s"] += time.perf_counter() - start
        timing["reference_cpu_s"] += time.process_time() - cpu
def _micro_batches(self, *args, **kwargs):
    timing.setdefault("loop_start_cpu_s", time.process_time())
    return micro_batches(self, *args, **kwargs)
def _write(self, record):
    if "loss" in record:
        timing["step_cpu_s"][record["step"]] = time.process_time()
    return write(self, record)
dpo.DPOTask._logps_of, dpo.DPOTask.micro_batches, metrics.MetricsLog.write = _logps_of, _micro_batches, _write
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
finally:
    timing["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(os.environ["BENCH_TIMING_FILE"], "w") as handle:
        json.dump(timing, handle)
"""


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (all cores, all processes) since boot; None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(limit_s: float, threshold_cores: float = 0.3, window_s: float = 5.0) -> float | None:
    """Wait (at most `limit_s`) until the machine's other processes use under `threshold_cores` over `window_s`;
    the cores they used in the last window (None off Linux, or when not asked to wait)."""
    if limit_s <= 0 or machine_busy_seconds() is None:
        return None
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_busy_seconds()
        time.sleep(window_s)
        cores = (machine_busy_seconds() - before) / window_s
        if cores < threshold_cores or time.monotonic() >= deadline:
            return round(cores, 2)


def write_pairs(source: Path, path: Path, count: int) -> int:
    """The first `count` rows of `source` (JSONL, gzipped or not) with prompt/chosen/rejected strings; the number."""
    written = 0
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8") as rows, path.open("w", encoding="utf-8") as out:
        for line in rows:
            row = json.loads(line) if line.strip() else {}
            if all(isinstance(row.get(key), str) for key in ("prompt", "chosen", "rejected")):
                pair = {key: row[key] for key in ("prompt", "chosen", "rejected")}
                out.write(json.dumps(pair, ensure_ascii=False) + "\n")
                written += 1
                if written == count:
                    break
    return written


def alignkit_run(args, pairs: Path, workdir: Path, env: dict) -> dict:
    out = workdir / "alignkit"
    command = [
        "dpo", "--model", str(args.model), "--data", str(pairs), "--data.eval-fraction", "0",
        "--data.max-length", str(args.max_length), "--data.packing", "true",
        "--dpo.beta", str(args.beta), "--dpo.loss-type", "sigmoid", "--dpo.label-smoothing", "0",
        "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.micro_batch_size),
        "--max-steps", str(args.steps), "--lr", str(args.lr), "--optim.schedule", "constant",
        "--optim.warmup-steps", "0", "--optim.weight-decay", "0", "--optim.beta1", "0.9", "--optim.beta2", "0.999",
        "--optim.eps", "1e-8", "--optim.grad-clip", "1.0", "--lora.r", "0",
        "--seed", str(args.seed), "--eval-every", "0", "--save-every", "0", "--log-every", "1",
        "--run.plots", "false", "--run.progress", "false", "--run.device", "cpu", "--run.precision", "fp32",
        "--output-dir", str(out), "--overwrite",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        timing_file = os.path.join(tmp, "timing.json")
        wall, result = measure.run_timed([sys.executable, "-c", ALIGNKIT_WRAPPER, "alignkit", *command],
                                         {**env, "BENCH_TIMING_FILE": timing_file})  # fmt: skip
        timing = json.loads(Path(timing_file).read_text())
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    records = {r["step"]: r for r in records if "loss" in r}
    cpu_marks = {int(step): value for step, value in timing["step_cpu_s"].items()}
    cpu_marks[0] = timing.get("loop_start_cpu_s")
    steps, previous = [], {"elapsed_s": 0.0, "tokens": 0}
    for number in range(1, args.steps + 1):
        record = records.get(number)
        if record is None:
            sys.exit(f"{out / 'metrics.jsonl'}: no record of step {number}")
        tokens = record["tokens"] - previous["tokens"]
        cpu = None
        if cpu_marks.get(number) is not None and cpu_marks.get(number - 1) is not None:
            cpu = round(cpu_marks[number] - cpu_marks[number - 1], 4)
        steps.append({
            "step": number,
            "seconds": round(record["elapsed_s"] - previous["elapsed_s"], 4),
            "cpu_s": cpu,
            "pairs": args.batch_size,
            "tokens": tokens,
            "padded_positions": tokens,  # packed: one row of real tokens a micro-batch, no padding
            "loss": record["loss"],
        })  # fmt: skip
        previous = record
    header = next((line for line in result.stdout.splitlines() if line.startswith("dpo: ") and "pairs" in line), "")
    return {
        "side": "alignkit",
        "reference": "precomputed",
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(timing["peak_rss_mib"], 1),
        "reference_pass_s": round(timing["reference_s"], 3),
        "reference_pass_cpu_s": round(timing["reference_cpu_s"], 3),
        "first_loss": steps[0]["loss"],
        "final_loss": steps[-1]["loss"],
        "data": header,
        "steps": steps,
        **measure.step_summary(steps, args.keep_first, args.threads),
    }


def trl_run(args, pairs: Path, workdir: Path, env: dict, precompute: bool) -> dict:
    out = workdir / f"trl-{'precomputed' if precompute else 'reference-model'}.json"
    command = [
        str(args.trl_python), str(HERE / "trl_dpo.py"), "--model", str(args.model), "--pairs", str(pairs),
        "--steps", str(args.steps), "--batch-size", str(args.batch_size),
        "--micro-batch-size", str(args.micro_batch_size), "--max-length", str(args.max_length),
        "--beta", str(args.beta), "--learning-rate", str(args.lr), "--grad-clip", "1.0",
        "--threads", str(args.threads), "--device", "cpu", "--seed", str(args.seed), "--out", str(out),
    ]  # fmt: skip
    if precompute:
        command.append("--precompute-ref-log-probs")
    if args.keep_first:
        command.append("--keep-first")
    wall, _ = measure.run_timed(command, env)
    result = json.loads(out.read_text())
    steps = result["steps"]
    if len(steps) != args.steps:
        sys.exit(f"{out}: {len(steps)} optimizer steps timed, expected {args.steps}")
    config = result["config"]
    return {
        "side": f"TRL {result['trl_version']}",
        "reference": "precomputed" if precompute else "reference model",
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": result["peak_rss_mib"],
        "reference_pass_s": result["precompute_seconds"] if precompute else None,
        "reference_pass_cpu_s": result["precompute_cpu_seconds"] if precompute else None,
        "first_loss": result["first_loss"],
        "final_loss": result["final_loss"],
        "load_seconds": result["load_seconds"],
        "construct_seconds": result["construct_seconds"],
        "tokenize_seconds": result["tokenize_seconds"],
        "train_seconds": result["train_seconds"],
        "train_cpu_seconds": result["train_cpu_seconds"],
        "optimizer": f"{config['optimizer']} (fused: {config['optimizer_fused']})",
        "versions": {k: result[k] for k in result if k.endswith("_version")},
        "steps": steps,
        **measure.step_summary(steps, args.keep_first, args.threads),
    }


def order_note(runs: dict[str, dict]) -> str:
    """Whether every side trained on the same tokens, step by step (the same pairs in the same order)."""
    per_step = {name: [row["tokens"] for row in r["steps"]] for name, r in runs.items()}
    totals = {name: sum(tokens) for name, tokens in per_step.items()}
    if len(set(map(tuple, per_step.values()))) == 1:
        return f"every side trained on the same tokens at every step ({next(iter(totals.values())):,} in all)"
    if len(set(totals.values())) == 1:
        return f"the same {next(iter(totals.values())):,} tokens in all, in a different order of pairs"
    return "the sides trained on different numbers of tokens: " + ", ".join(f"{k} {v:,}" for k, v in totals.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEMO_POLICY, help="causal LM dir with a chat template")
    parser.add_argument("--pairs", type=Path, default=DEMO_PREFERENCES,
                        help="JSONL (or .jsonl.gz) of {prompt, chosen, rejected} strings; the first steps x "
                        "batch-size rows are used")  # fmt: skip
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps on each side (one epoch)")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs an optimizer step")
    parser.add_argument("--micro-batch-size", type=int, default=8, help="pairs a forward")
    parser.add_argument("--max-length", type=int, default=512, help="tokens of prompt + answer at most")
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-first", action="store_true", help="count the first (warm-up) step")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side, alternating; the best is shown")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quiet-wait", type=float, default=0,
                        help="before each run, wait up to this many seconds for the machine's other processes to "
                        "use under 0.3 cores (a shared machine)")  # fmt: skip
    parser.add_argument("--skip-trl-reference-model", action="store_true",
                        help="leave out TRL's default configuration (the reference model run every step)")  # fmt: skip
    parser.add_argument("--trl-python", type=Path, default=TRL_PYTHON, help="a Python that has TRL 1.16")
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "dpo")
    parser.add_argument("--json", type=Path, help="write every run (per-step times included) here")
    args = parser.parse_args()

    if args.batch_size % args.micro_batch_size:
        parser.error("--batch-size must be a multiple of --micro-batch-size")
    if not args.model.is_dir():
        if args.model == DEMO_POLICY:
            sys.exit(f"no demo assistant at {args.model}: train it first (from {ROOT}): "
                     '.venv/bin/python -c "from alignkit.stages import sft; sft.ensure_demo_model()"')  # fmt: skip
        sys.exit(f"--model: {args.model} is not a directory")
    if not args.trl_python.exists():
        sys.exit(f"no TRL environment at {args.trl_python}; see this script's docstring")
    args.model = args.model.resolve()

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    args.workdir.mkdir(parents=True, exist_ok=True)

    sides = [("alignkit", lambda: alignkit_run(args, pairs, args.workdir, env))]
    if not args.skip_trl_reference_model:
        sides.append(("trl-reference-model", lambda: trl_run(args, pairs, args.workdir, env, precompute=False)))
    sides.append(("trl-precomputed", lambda: trl_run(args, pairs, args.workdir, env, precompute=True)))

    runs: dict[str, list[dict]] = {}
    count = args.steps * args.batch_size
    settings = {key.replace("-", "_"): value for key, value in vars(args).items() if key not in ("json",)}
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}
    settings = {**settings, **FIXED, "pair_rows": count}
    with tempfile.TemporaryDirectory(prefix="dpo-bench-") as tmp:
        pairs = Path(tmp) / "pairs.jsonl"
        written = write_pairs(args.pairs, pairs, count)
        if written < count:
            sys.exit(f"{args.pairs}: {written} preference rows, fewer than {args.steps} steps x {args.batch_size}")
        print(f"pairs: the first {written} rows of {args.pairs} -> {pairs}", flush=True)
        for repeat in range(args.repeats):
            for name, runner in sides:
                others_at_start = wait_for_quiet(args.quiet_wait)
                before, busy_before = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy_seconds()
                result = runner()
                after, busy_after = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy_seconds()
                # CPU seconds of the side's whole process (start-up included), and those of every other process on
                # the machine meanwhile, as cores busy on average: other jobs inflate the side's times, and its own
                # CPU seconds with them (a starved 2-thread pool burns its share waiting).
                cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                result["process_cpu_seconds"] = round(cpu, 1)
                result["other_jobs_cores_at_start"] = others_at_start
                if busy_before is not None and busy_after is not None:
                    others = max(busy_after - busy_before - cpu, 0.0)
                    result["other_jobs_cores"] = round(others / max(result["wall_seconds"], 1e-9), 2)
                runs.setdefault(name, []).append(result)
                measure.save_json(args.json, {"settings": settings, "runs": runs})  # so far: a long run can be cut
                brief = {k: v for k, v in result.items() if k not in ("steps", "versions", "steps_used")}
                print(f"repeat {repeat + 1} {name}: {json.dumps(brief)}", flush=True)

    best = {name: min(results, key=lambda r: r["mean_step_s"]) for name, results in runs.items()}
    ours = best["alignkit"]
    skipped = "" if args.keep_first or args.steps < 2 else ", the first left out"
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads")
    print(f"model {args.model}; {count} pairs, one epoch: {args.steps} optimizer steps{skipped} x {args.batch_size} "
          f"pairs (micro-batch {args.micro_batch_size}), max length {args.max_length}, sigmoid, beta {args.beta}, "
          f"lr {args.lr}; CPU fp32; best of {args.repeats}\n")  # fmt: skip
    header = ["run", "reference log-probs", "s / step", "median s / step", "pairs/s", "tokens/s",
              "reference pass s", "CPU use", "other jobs (cores)", "final loss", "peak RSS MiB", "s / step vs alignkit",
              "RSS vs alignkit"]  # fmt: skip

    def cells(r: dict) -> list[str]:
        reference = "-" if r["reference_pass_s"] is None else f"{r['reference_pass_s']:.2f}"
        cpu_use = "-" if r["cpu_use"] is None else f"{r['cpu_use']:.0%}"
        others = "-" if r.get("other_jobs_cores") is None else f"{r['other_jobs_cores']:.2f}"
        return [
            r["side"], r["reference"], f"{r['mean_step_s']:.3f}", f"{r['median_step_s']:.3f}",
            f"{r['pairs_per_s']:.1f}", f"{r['tokens_per_s']:,.0f}", reference, cpu_use, others,
            f"{r['final_loss']:.4f}", f"{r['peak_rss_mib']:,.0f}", f"{r['mean_step_s'] / ours['mean_step_s']:.2f}",
            f"{r['peak_rss_mib'] / ours['peak_rss_mib']:.2f}",
        ]  # fmt: skip

    measure.print_table(header, [cells(r) for r in best.values()])
    print(f"\nnote: {order_note(best)}")
    for name, r in best.items():
        if not math.isclose(r["first_loss"], math.log(2), abs_tol=1e-4):
            print(f"note: {name}'s first loss is {r['first_loss']:.4f}, not ln 2: its reference is not its start")
    measure.save_json(args.json, {"settings": settings, "runs": runs})


if __name__ == "__main__":
    main()
