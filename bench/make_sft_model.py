"""Build the SFT benchmark's model directory: a random Llama and a BPE tokenizer trained on the benchmark data.

Runs in alignkit's environment and uses alignkit's own helpers, so both sides of the benchmark (alignkit and TRL)
open the very same `config.json`, weights and tokenizer (with its ChatML chat template) from one directory.

    python bench/make_sft_model.py --out bench/results/sft-model-tiny --size tiny
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import torch

from alignkit.models.load import NAMED_CONFIGS, build_causal_lm, count_parameters
from alignkit.models.tokenizer import train_tokenizer

SHARED_ALPACA = Path(__file__).resolve().parents[2] / "shared" / "data" / "llamafactory" / "alpaca_en_demo.json"


def alpaca_texts(path: Path) -> list[str]:
    """Every instruction, input and output string of an Alpaca-format JSON list (empty inputs skipped)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [row[key] for row in rows for key in ("instruction", "input", "output") if row.get(key)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="model directory to write (replaced if it exists)")
    parser.add_argument("--size", choices=sorted(NAMED_CONFIGS), default="tiny")
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--data", type=Path, default=SHARED_ALPACA, help="Alpaca JSON the tokenizer is trained on")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tokenizer = train_tokenizer(alpaca_texts(args.data), args.vocab_size)
    torch.manual_seed(args.seed)
    model = build_causal_lm(args.size, tokenizer, args.max_length)

    # Write beside the target, then rename: a killed run never leaves half a model directory.
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    summary = {
        "out": str(out),
        "size": args.size,
        "vocab": len(tokenizer),
        "parameters": count_parameters(model),
        "seed": args.seed,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
