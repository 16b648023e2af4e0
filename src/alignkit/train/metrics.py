"""metrics.jsonl, the progress display and PNG curves. Only the main process writes."""

from __future__ import annotations

import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch


class MetricsLog:
    """Appends one JSON object a line to metrics.jsonl; on resume, lines after the checkpoint go."""

    def __init__(self, run_dir: Path, enabled: bool, resume_step: int | None):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled
        if enabled and resume_step is not None:
            self._truncate_after(resume_step)
        elif enabled and self.path.exists():
            self.path.unlink()

    def _truncate_after(self, step: int) -> None:
        kept = [line for line in read_metrics(self.path) if line.get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(line) + "\n" for line in kept))
        tmp.replace(self.path)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not Path(path).exists():
        return []
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: everything after it is redone anyway
            break
    return lines


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Progress:
    """A rich progress bar on a terminal; plain lines every log step elsewhere (CI logs)."""

    def __init__(self, total: int, start: int, enabled: bool, label: str, is_main: bool = True):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.total, self.start_step, self.label = total, start, label
        self.started = time.perf_counter()
        self.bar = None
        self.enabled, self.is_main = enabled and is_main, is_main
        if self.enabled and self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.task = self.bar.add_task(label, total=total, completed=start, info="")
            self.bar.start()

    def update(self, step: int, record: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        info = ""
        if record:
            info = f"loss {record['loss']:.4f}  {record.get('tokens_per_s', 0):,.0f} tok/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=step, **({"info": info} if info else {}))
        elif record:
            done = step - self.start_step
            eta = (time.perf_counter() - self.started) / max(done, 1) * (self.total - step)
            self.console.print(f"{self.label} step {step}/{self.total}  {info}  eta {format_duration(eta)}")

    def note(self, message: str) -> None:
        """Start, eval and end lines: printed by the main process even when the bar is off."""
        if self.is_main:
            self.console.print(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def reset_peak_memory() -> None:
    """Restart the peak-RSS count (Linux: /proc/self/clear_refs), so a stage run in a process that
    ran others before it reports its own peak; elsewhere the process's peak stands."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib(field: str = "VmHWM") -> float:
    """The process's peak resident memory since start or the last reset_peak_memory, in MiB
    (field="VmRSS": the resident memory now)."""
    try:
        match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    except OSError:
        match = None
    if match:
        return int(match.group(1)) / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def plot_curves(run_dir: Path) -> list[Path]:
    """One PNG per metric in metrics.jsonl (train and eval curves share a plot where names match)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(Path(run_dir) / "metrics.jsonl")
    series: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                series.setdefault(key, []).append((record["step"], value))
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(exist_ok=True)
    written = []
    for name in sorted(series):
        if name.startswith("eval_") and name[5:] in series:
            continue  # drawn with its training twin
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for key in (name, f"eval_{name}"):
            if key in series:
                steps, values = zip(*series[key], strict=True)
                ax.plot(steps, values, label=key, marker="o" if key.startswith("eval_") else None, markersize=3)
        ax.set_xlabel("step")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


_PEAK_CACHE: dict[str, float] = {}

# Dense bf16 tensor-core peaks (FLOP/s) of common GPUs, by a substring of their name.
GPU_BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12, "4090": 165e12}


def peak_flops(device: torch.device, override_tflops: float | None = None) -> tuple[float, str]:
    """(peak FLOP/s, how it was found): the config's figure, a GPU's datasheet bf16 peak, or a
    measured fp32 matmul rate on CPU (the best of a few 1024^3 matmuls at the current thread count)."""
    if override_tflops:
        return override_tflops * 1e12, "configured"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, value in GPU_BF16_PEAK.items():
            if key in name:
                return value, f"{name} bf16 datasheet"
    key = f"{device}:{torch.get_num_threads()}"
    if key not in _PEAK_CACHE:
        a = torch.randn(1024, 1024, device=device)
        b = torch.randn(1024, 1024, device=device)
        best = math.inf
        for _ in range(8):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
        _PEAK_CACHE[key] = 2 * 1024**3 / best
    return _PEAK_CACHE[key], f"measured fp32 matmul, {torch.get_num_threads()} threads"
