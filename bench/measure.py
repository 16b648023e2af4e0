"""What the benchmarks share: run one side in its own process and measure it, and report.

`run_alignkit(args, env)` runs `alignkit ARGS...` under a small wrapper that records the process's peak
RSS; `run_timed(command, env)` runs any command. Both return the wall time (start-up included) and stop
the benchmark with the command's stderr if it fails. `print_table` prints results as BENCHMARKS.md holds
them; `save_json` keeps every repeat.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run_timed(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    """(wall seconds, the finished process)."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return seconds, result


def run_alignkit(args: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, peak RSS MiB, the finished process) of `alignkit ARGS...`."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss.json")
        seconds, result = run_timed([sys.executable, "-c", PEAK_RSS, "alignkit", *args],
                                    {**env, "BENCH_RSS_FILE": rss_file})  # fmt: skip
        with open(rss_file) as handle:
            return seconds, json.load(handle)["peak_rss_mib"], result


def print_table(header: list[str], rows: list[list]) -> None:
    """A Markdown table."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def save_json(path: Path | None, value) -> None:
    """Write `value` as JSON to `path` (nothing when no path was asked for)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(value, indent=2) + "\n")
