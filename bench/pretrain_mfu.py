"""Pretraining MFU on a GPU: `alignkit pretrain` on a GPT-2-small-sized model, eager and compiled.

The model is the named size gpt2-124m (12 layers x 768, Llama architecture) with a 50,304-token
byte-level BPE tokenizer trained on the shared public text, so about 124M parameters. Each variant
runs `alignkit pretrain` as a user would (bf16 autocast, fused AdamW, SDPA flash attention, optionally
`--run.compile true`); tokens/s and MFU are read from its metrics.jsonl, taking the median over the
log windows after the first `--warmup` steps (compilation and allocator warm-up excluded). MFU counts
6N + 12 L H T FLOPs per token (PaLM, appendix B) against the device's dense bf16 datasheet peak.

Two steps, because the shared data lives beside the repository and the GPU machine does not see it:

    python bench/pretrain_mfu.py prepare --out .gpu          # here: corpus + 50k tokenizer
    python bench/pretrain_mfu.py run --prepared .gpu --json results.json   # on the GPU machine
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import print_table, save_json

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"


def shared_texts() -> list[str]:
    """Every public text we have: C4, Wikipedia, Alpaca (en, zh), HH-RLHF, SST-2 sentences."""
    lf = SHARED / "llamafactory"
    texts = [json.loads(line)["text"] for line in (lf / "c4_demo.jsonl").open(encoding="utf-8")]
    texts += [line for line in (lf / "wiki_demo.txt").open(encoding="utf-8") if line.strip()]
    for name in ("alpaca_en_demo.json", "alpaca_zh_demo.json"):
        rows = json.loads((lf / name).read_text(encoding="utf-8"))
        texts += [" ".join(filter(None, (r["instruction"], r["input"], r["output"]))) for r in rows]
    with gzip.open(SHARED / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts += [json.loads(line)["chosen"] for line in handle]
    with (SHARED / "sst2" / "train.tsv").open(encoding="utf-8") as handle:
        next(handle)
        texts += [line.split("\t")[0] for line in handle]
    return texts


def prepare(out: Path, vocab_size: int) -> None:
    from alignkit.models.tokenizer import train_tokenizer

    texts = shared_texts()
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for text in texts:
            handle.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    tokenizer = train_tokenizer(texts, vocab_size)
    tokenizer.save_pretrained(out / "tokenizer")
    print(f"prepared {out}: {len(texts)} documents, tokenizer of {len(tokenizer)} tokens")


def run_variant(args, compiled: bool, workdir: Path) -> dict:
    out = workdir / ("compiled" if compiled else "eager")
    command = [
        sys.executable, "-m", "alignkit", "pretrain", "--model", args.size,
        "--model.tokenizer", str(args.prepared / "tokenizer"), "--data", str(args.prepared / "corpus.jsonl"),
        "--data.max-length", str(args.max_length), "--data.eval-fraction", "0.01",
        "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.micro_batch_size),
        "--max-steps", str(args.steps), "--log-every", str(args.log_every), "--eval-every", "0",
        "--run.eval-batches", "2", "--save-every", "0", "--run.plots", "false", "--run.progress", "false",
        "--run.compile", str(compiled).lower(), "--output-dir", str(out), "--overwrite",
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        return {"variant": out.name, "error": result.stderr[-3000:]}
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [line for line in lines if "tokens_per_s" in line and line["step"] > args.warmup]
    header = next(line for line in result.stdout.splitlines() if line.startswith("pretrain:"))
    return {
        "variant": out.name,
        "model": header,
        "tokens_per_s": statistics.median(line["tokens_per_s"] for line in train),
        "mfu": statistics.median(line["mfu"] for line in train),
        "gpu_peak_gib": max(line.get("gpu_peak_gib", 0) for line in train),
        "final_loss": train[-1]["loss"],
        "wall_s": round(wall, 1),
        "windows": len(train),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("--out", type=Path, default=Path(".gpu"))
    prep.add_argument("--vocab-size", type=int, default=50304)
    go = sub.add_parser("run")
    go.add_argument("--prepared", type=Path, default=Path(".gpu"))
    go.add_argument("--size", default="gpt2-124m")
    go.add_argument("--max-length", type=int, default=1024)
    go.add_argument("--batch-size", type=int, default=64)
    go.add_argument("--micro-batch-size", type=int, default=32)
    go.add_argument("--steps", type=int, default=60)
    go.add_argument("--warmup", type=int, default=20, help="steps left out of the figures")
    go.add_argument("--log-every", type=int, default=5)
    go.add_argument("--variants", default="eager,compiled")
    go.add_argument("--workdir", type=Path, default=HERE / "results" / "mfu")
    go.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.out, args.vocab_size)
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = []
    for variant in args.variants.split(","):
        result = run_variant(args, variant == "compiled", args.workdir)
        print(json.dumps(result), flush=True)
        results.append(result)
    print(f"\n{args.size}, {args.max_length} tokens a row, {args.batch_size} rows a step "
          f"({args.micro_batch_size} a micro-batch), bf16 autocast\n")  # fmt: skip
    print_table(["variant", "tokens/s", "MFU", "peak GPU GiB", "loss at the end"], [
        [r["variant"], "failed", "", "", ""] if "error" in r else
        [r["variant"], f"{r['tokens_per_s']:,.0f}", f"{r['mfu']:.1%}", f"{r['gpu_peak_gib']:.1f}",
         f"{r['final_loss']:.3f}"]
        for r in results
    ])  # fmt: skip
    save_json(args.json, results)


if __name__ == "__main__":
    main()
