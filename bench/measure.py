"""What the benchmarks share: run one side in its own process and measure it, summarise, and report.

`run_alignkit(args, env)` runs `alignkit ARGS...` under a small wrapper that records the process's peak
RSS; `run_timed(command, env)` runs any command, `run_json(command, out, env)` one that writes its result
to a JSON file. They return the wall time (start-up included) and stop the benchmark with the command's
stderr if it fails. `alternate` runs the sides in turn, repeat after repeat, `best` picks each side's
fastest run, `print_table` / `print_comparison` print results as BENCHMARKS.md holds them; `save_json`
keeps every repeat.

For the benchmarks that time rollout iterations (PPO, GRPO): `rollout_iterations` reads an alignkit run's
metrics.jsonl iteration by iteration, `phases` splits an iteration's time, `steady`, `medians` and
`token_rates` summarise the iterations; `step_summary` summarises the DPO benchmark's optimizer steps.
Standard library only: TRL's side (bench/trl_*.py, in TRL's own environment) imports this module too, for
the same summaries.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs `python -m alignkit ...` and writes the peak RSS of this very process, whatever its exit.
PEAK_RSS = """
import json, os, resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
finally:
    with open(os.environ["BENCH_RSS_FILE"], "w") as handle:
        json.dump({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, handle)
"""


def side_env(threads: int, **extra: str) -> dict:
    """The environment of a side's process: `threads` OpenMP / MKL threads, this checkout's src/ first on
    PYTHONPATH, and `extra` variables."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return {**env, **extra}


def run_timed(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    """(wall seconds, the finished process)."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return seconds, result


def run_json(command: list[str], out: Path, env: dict) -> tuple[float, dict]:
    """(wall seconds, the JSON the command wrote to `out`)."""
    seconds, _ = run_timed(command, env)
    return seconds, json.loads(Path(out).read_text())


def run_alignkit(args: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, peak RSS MiB, the finished process) of `alignkit ARGS...`."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss.json")
        seconds, result = run_timed([sys.executable, "-c", PEAK_RSS, "alignkit", *args],
                                    {**env, "BENCH_RSS_FILE": rss_file})  # fmt: skip
        with open(rss_file) as handle:
            return seconds, json.load(handle)["peak_rss_mib"], result


def alternate(sides: list[tuple[str, Callable[[], dict]]], repeats: int, brief_leaves_out=("iterations",)) -> dict:
    """Runs every side in turn, `repeats` times over (alignkit, TRL, alignkit, ...); each result gets its process's
    CPU seconds and is printed on one line (but the keys in `brief_leaves_out`). Every result, by side name."""
    runs: dict[str, list[dict]] = {}
    for repeat in range(repeats):
        for name, runner in sides:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = runner()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU seconds of the side's whole process (start-up included): well under threads x wall seconds
            # means it waited (other jobs on the machine), so its times are inflated.
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            result["process_cpu_seconds"] = round(cpu, 1)
            runs.setdefault(name, []).append(result)
            brief = {k: v for k, v in result.items() if k not in brief_leaves_out}
            print(f"repeat {repeat + 1}: {json.dumps(brief)}", flush=True)
    return runs


def best(runs: dict[str, list[dict]], key: str = "median_total_s") -> dict[str, dict]:
    """Each side's run with the lowest `key`."""
    return {name: min(results, key=lambda r: r[key]) for name, results in runs.items()}


def machine(threads: int) -> str:
    return f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {threads} threads"


def side_result(side: str, wall: float, peak_rss_mib: float, iterations: list[dict], summary: dict) -> dict:
    """One run of a side as the rollout benchmarks keep it: its name, wall seconds, peak RSS, every iteration and
    the summary over them."""
    return {
        "side": side,
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_rss_mib, 1),
        "iterations": iterations,
        **summary,
    }


def step_records(output_dir: Path) -> dict[int, dict]:
    """An alignkit run's optimizer-step records (those with a loss) from its metrics.jsonl, by step."""
    lines = (output_dir / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return {r["step"]: r for r in records if "loss" in r}


def phases(iteration: int, total: float, generation: float, scoring: float) -> dict:
    """An iteration's time split: training is what generation and scoring leave of it."""
    return {
        "iteration": iteration,
        "total_s": round(total, 4),
        "generation_s": round(generation, 4),
        "scoring_s": round(scoring, 4),
        "training_s": round(total - generation - scoring, 4),
    }


def rollout_iterations(output_dir: Path, iterations: int, steps_per_iteration: int = 1) -> list[tuple[dict, dict]]:
    """An alignkit PPO / GRPO run's iterations from its metrics.jsonl (`--log-every 1`), each as (its `phases`, the
    record of its first optimizer step, which carries the rollout's `time_generate_s`, `time_score_s` and answer
    statistics). The iteration's time is the difference of `elapsed_s` at the last step of consecutive iterations
    (the first: `elapsed_s` at its last step); stops the benchmark if an iteration is missing."""
    steps = step_records(output_dir)
    result, previous_elapsed = [], 0.0
    for number in range(1, iterations + 1):
        first, last = steps.get((number - 1) * steps_per_iteration + 1), steps.get(number * steps_per_iteration)
        if first is None or last is None or first.get("iteration") != number or "time_generate_s" not in first:
            sys.exit(f"{output_dir / 'metrics.jsonl'}: no complete record of iteration {number}")
        total = last["elapsed_s"] - previous_elapsed
        previous_elapsed = last["elapsed_s"]
        result.append((phases(number, total, first["time_generate_s"], first["time_score_s"]), first))
    return result


def steady(rows: list[dict], keep_first: bool) -> list[dict]:
    """The rows a summary is over: the first (warm-up) left out unless `keep_first` or it is the only one."""
    return rows if keep_first or len(rows) < 2 else rows[1:]


def step_summary(steps: list[dict], keep_first: bool, threads: int) -> dict:
    """Seconds a step (mean, median), pairs/s, tokens/s, padded positions/s and CPU use over the optimizer steps
    `steps` (rows with seconds, pairs, tokens, padded_positions and cpu_s), the first left out as in `steady`."""
    kept = steady(steps, keep_first)
    seconds = sum(row["seconds"] for row in kept)
    cpu = [row["cpu_s"] for row in kept if row.get("cpu_s") is not None]
    return {
        "steps_used": [row["step"] for row in kept],
        "mean_step_s": round(seconds / len(kept), 4),
        "median_step_s": round(statistics.median(row["seconds"] for row in kept), 4),
        "pairs_per_s": round(sum(row["pairs"] for row in kept) / seconds, 3),
        "tokens_per_s": round(sum(row["tokens"] for row in kept) / seconds, 1),
        "padded_positions_per_s": round(sum(row["padded_positions"] for row in kept) / seconds, 1),
        "cpu_s_per_step": round(sum(cpu) / len(cpu), 4) if len(cpu) == len(kept) else None,
        "cpu_use": round(sum(cpu) / (threads * seconds), 3) if len(cpu) == len(kept) else None,
        "train_seconds_all_steps": round(sum(row["seconds"] for row in steps), 3),
    }


def medians(rows: list[dict], keys) -> dict:
    """The iterations `rows` are and the median of each of `keys` over them (None where there are no rows)."""
    summary = {"iterations_used": [row["iteration"] for row in rows]}
    for key in keys:
        values = [row[key] for row in rows]
        summary[f"median_{key}"] = round(statistics.median(values), 4) if values else None
    return summary


def token_rates(rows: list[dict]) -> dict:
    """Generated tokens per second of generation and per second of iteration, over `rows`."""
    tokens = sum(row["generated_tokens"] for row in rows)
    generation = sum(row["generation_s"] for row in rows)
    total = sum(row["total_s"] for row in rows)
    return {
        "generated_tokens_per_generation_s": round(tokens / generation, 1) if generation else None,
        "generated_tokens_per_iteration_s": round(tokens / total, 1) if total else None,
    }


def print_table(header: list[str], rows: list[list]) -> None:
    """A Markdown table."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def ratio(theirs: dict, ours: dict, key: str) -> str:
    """theirs / ours of `key`, as text ("-" where ours is 0)."""
    return f"{theirs[key] / ours[key]:.2f}" if ours[key] else "-"


def print_comparison(ours: dict, theirs: dict, columns: list[tuple[str, str, str]]) -> None:
    """alignkit's best run and TRL's as a table: the side, each (key, title, format) of `columns`, the median share
    of answers that ended and the peak RSS; then the row of TRL / alignkit ratios."""
    header = ["run", *(title for _, title, _ in columns), "answers ended", "peak RSS MiB"]

    def cells(r: dict) -> list[str]:
        numbers = [format(r[key], spec) for key, _, spec in columns]
        return [r["side"], *numbers, f"{r['median_answers_ended']:.0%}", f"{r['peak_rss_mib']:,.0f}"]

    ratios = [*(ratio(theirs, ours, key) for key, _, _ in columns), "-", ratio(theirs, ours, "peak_rss_mib")]
    print_table(header, [cells(ours), cells(theirs), ["TRL / alignkit", *ratios]])


def settings(args) -> dict:
    """A benchmark's options for its JSON: all but --json, paths as text."""
    return {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items() if key != "json"}


def save_json(path: Path | None, value) -> None:
    """Write `value` as JSON to `path` (nothing when no path was asked for)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(value, indent=2) + "\n")
