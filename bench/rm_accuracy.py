"""Reward-model accuracy on real preference data: held-out pairwise accuracy against a random baseline.

Data (../shared/data, not part of the repository): Anthropic HH-RLHF (harmless-base test split, whole
dialogues), LLaMA-Factory's dpo_en_demo and dpo_zh_demo (ShareGPT preference). Each set is split by
alignkit (a seeded 10% held out, or --eval-fraction); `alignkit rm` trains a new scalar head on the body
and evaluates before the first step (the fresh, random head: the baseline) and at the end. Chance is
0.5; the 95% interval of a held-out accuracy p over n pairs is p +- 1.96 sqrt(p (1 - p) / n).

    python bench/rm_accuracy.py --model minilm --sets hh-rlhf --max-pairs 800 --eval-fraction 0.25 --max-length 128
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from pathlib import Path

import measure

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {
    "hh-rlhf": SHARED / "hh-rlhf" / "harmless-base-test.jsonl.gz",
    "dpo_en": SHARED / "llamafactory" / "dpo_en_demo.json",
    "dpo_zh": SHARED / "llamafactory" / "dpo_zh_demo.json",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="minilm", help="the body: minilm, demo-sft, or a model directory")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-pairs", type=int, default=None, help="use the first N pairs of each set")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    rows, results = [], []
    for name in args.sets:
        with tempfile.TemporaryDirectory() as tmp:
            out, data = Path(tmp) / "rm", first_pairs(SETS[name], args.max_pairs, Path(tmp))
            command = [
                "rm", "--model", args.model, "--data", str(data), "--output-dir", str(out),
                "--data.max-length", str(args.max_length), "--epochs", str(args.epochs), "--lr", str(args.lr),
                "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.batch_size),
                "--data.eval-fraction", str(args.eval_fraction), "--seed", str(args.seed), "--eval-every", "0",
                "--save-every", "0", "--optim.warmup-steps", "10", "--optim.weight-decay", "0.01",
                "--run.progress", "false", "--run.plots", "false",
            ]  # fmt: skip
            wall, peak_rss, result = measure.run_alignkit(command, env)
            evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            evals = [e for e in evals if "eval_accuracy" in e]
            config = json.loads((out / "final" / "config.json").read_text())
            parameters = next(
                (line.split("all")[1].split()[0] for line in result.stdout.splitlines() if line.startswith("all ")),
                "?",
            )
            held_out = round(args.eval_fraction * len(measure_rows(data)))
        start, end = evals[0]["eval_accuracy"], evals[-1]["eval_accuracy"]
        half_width = 1.96 * math.sqrt(end * (1 - end) / max(held_out, 1))
        results.append(
            {"set": name, "body": args.model, "model_type": config["model_type"], "parameters": parameters,
             "held_out_pairs": held_out, "random_head_accuracy": start, "accuracy": end,
             "ci95": half_width, "margin": evals[-1]["eval_margin"], "wall_s": wall, "peak_rss_mib": peak_rss}
        )  # fmt: skip
        rows.append(
            [name, f"{args.model} ({config['model_type']}, {parameters} parameters)", held_out, "0.500",
             f"{start:.3f}", f"**{end:.3f}** ± {half_width:.3f}", f"{evals[-1]['eval_margin']:.2f}", f"{wall:.0f}"]
        )  # fmt: skip
    measure.print_table(
        ["data", "body", "held-out pairs", "chance", "random head", "trained", "mean margin", "wall s"], rows
    )
    measure.save_json(args.json, results)


def first_pairs(path: Path, count: int | None, workdir: Path) -> Path:
    """The set itself, or its first `count` rows as JSONL in `workdir`."""
    if count is None:
        return path
    subset = workdir / f"{path.name.split('.')[0]}-{count}.jsonl"
    subset.write_text("".join(json.dumps(row.fields) + "\n" for row in measure_rows(path)[:count]))
    return subset


def measure_rows(path: Path):
    """The rows of a data file, as alignkit reads them (for the held-out count)."""
    from alignkit.data.readers import read_rows

    return read_rows(path)


if __name__ == "__main__":
    main()
