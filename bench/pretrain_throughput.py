"""Pretraining throughput: alignkit's loop side by side with a minimal plain-PyTorch loop.

The plain loop (nanoGPT-style: forward, cross-entropy, backward, clip, AdamW step) is the floor to
beat: the same model, the same packed rows, the same batch and accumulation, fp32 on CPU.
Runs alternate (plain, alignkit, plain, alignkit, ...) so that drift of the machine hits both.
Tokens/s is measured over the steps after the first `--warmup` ones; MFU is against the measured
fp32 matmul peak of this machine.

    python bench/pretrain_throughput.py --sizes tiny small --steps 30
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from measure import print_table, save_json

from alignkit.config import PretrainConfig, resolve
from alignkit.models.load import build_causal_lm, train_flops_per_token
from alignkit.stages import pretrain
from alignkit.train.loop import build_optimizer
from alignkit.train.metrics import peak_flops, read_metrics

SHARED_C4 = Path(__file__).resolve().parents[2] / "shared" / "data" / "llamafactory" / "c4_demo.jsonl"


def plain_loop(rows: torch.Tensor, tokenizer, size: str, args, config) -> float:
    """Tokens/s of the floor: nothing but the maths of a training step."""
    torch.manual_seed(0)
    model = build_causal_lm(size, tokenizer, args.max_length)
    model.train()
    optimizer = build_optimizer(model, config.optim, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    accumulation = args.batch_size // args.micro_batch_size
    tokens = args.batch_size * args.max_length
    start = None
    for step in range(args.steps):
        if step == args.warmup:
            start = time.perf_counter()
        for _ in range(accumulation):
            index = torch.randint(0, len(rows), (args.micro_batch_size,), generator=generator)
            x, y = rows[index, :-1], rows[index, 1:]
            logits = model(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)) / accumulation
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return tokens * (args.steps - args.warmup) / (time.perf_counter() - start)


def alignkit_loop(size: str, args, workdir: Path) -> tuple[float, float]:
    """Tokens/s and MFU as alignkit's own metrics report them, after the warm-up steps."""
    out = workdir / f"alignkit-{size}"
    config = resolve(
        PretrainConfig,
        ["--model", size, "--data", args.data, "--output-dir", str(out), "--overwrite",
         "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
         "--micro-batch-size", str(args.micro_batch_size), "--max-steps", str(args.steps),
         "--log-every", "1", "--eval-every", "0", "--save-every", "0", "--run.progress", "false",
         "--run.plots", "false", "--data.eval-fraction", "0"],
    )  # fmt: skip
    pretrain.run(config)
    lines = [line for line in read_metrics(out / "metrics.jsonl") if "tokens_per_s" in line]
    timed = [line for line in lines if line["step"] > args.warmup]
    # per-step rates -> the rate over the whole timed span (harmonic mean = total tokens / total time)
    rate = len(timed) / sum(1 / line["tokens_per_s"] for line in timed)
    return rate, statistics.mean(line["mfu"] for line in timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--data", default=str(SHARED_C4) if SHARED_C4.exists() else "demo")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    workdir = Path(tempfile.mkdtemp(prefix="alignkit-bench-"))
    peak, source = peak_flops(torch.device("cpu"))
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; peak {peak / 1e12:.3f} TFLOP/s ({source}); data {args.data}")  # fmt: skip
    results = []
    for size in args.sizes:
        config = resolve(PretrainConfig, ["--model", size, "--data", args.data, "--max-length", str(args.max_length)])
        documents = pretrain.read_documents(config.data.path, None)
        tokenizer = pretrain.train_tokenizer(documents, config.model.vocab_size)
        rows = pretrain.pack_documents(documents, tokenizer, args.max_length)
        plain, ours, mfus = [], [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(rows, tokenizer, size, args, config))
            rate, mfu = alignkit_loop(size, args, workdir)
            ours.append(rate)
            mfus.append(mfu)
        model = build_causal_lm(size, tokenizer, args.max_length)
        flops_token = train_flops_per_token(model, args.max_length)
        row = {
            "size": size,
            "parameters_m": round(model.num_parameters() / 1e6, 1),
            "plain_tokens_per_s": round(max(plain)),
            "alignkit_tokens_per_s": round(max(ours)),
            "ratio": round(max(ours) / max(plain), 3),
            "plain_mfu": round(max(plain) * flops_token / peak, 3),
            "alignkit_mfu": round(max(mfus), 3),
            "all_plain": [round(x) for x in plain],
            "all_alignkit": [round(x) for x in ours],
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    print()
    header = ["model", "params", "plain loop tok/s", "alignkit tok/s", "alignkit / plain", "plain MFU", "alignkit MFU"]
    print_table(header, [
        [r["size"], f"{r['parameters_m']}M", f"{r['plain_tokens_per_s']:,}", f"{r['alignkit_tokens_per_s']:,}",
         f"{r['ratio']:.2f}", f"{r['plain_mfu']:.1%}", f"{r['alignkit_mfu']:.1%}"]
        for r in results
    ])  # fmt: skip
    save_json(args.json, results)


if __name__ == "__main__":
    sys.exit(main())
