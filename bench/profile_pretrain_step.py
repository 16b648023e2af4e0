"""Where a compiled pretraining step spends its GPU time: torch.profiler over a few steps of the same
work `alignkit pretrain --run.compile true` does (bf16 autocast, the stage's loss compiled with the
model, backward, clipping, fused AdamW), on random token rows.

    python bench/profile_pretrain_step.py --prepared .gpu --size gpt2-124m --micro-batch-size 32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from alignkit.config import PretrainConfig, resolve
from alignkit.models import load
from alignkit.stages.pretrain import PretrainTask
from alignkit.train.loop import MicroBatch, build_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepared", type=Path, default=Path(".gpu"))
    parser.add_argument("--size", default="gpt2-124m")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--micro-batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=12)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    device = torch.device("cuda")
    torch.set_float32_matmul_precision("high")
    tokenizer = load.load_tokenizer(args.prepared / "tokenizer")
    model = load.build_causal_lm(args.size, tokenizer, args.max_length).to(device)
    config = resolve(PretrainConfig, ["--max-steps", "1"])
    rows = torch.randint(0, len(tokenizer), (args.micro_batch_size, args.max_length + 1))
    task = PretrainTask(model, tokenizer, rows, rows[:0], config)
    optimizer = build_optimizer(model, config.optim, device)
    loss_fn = torch.compile(task.loss)
    batch = PretrainTask._batch(rows)
    batch = MicroBatch({k: v.to(device) for k, v in batch.tensors.items()}, batch.units, batch.tokens)

    def step() -> float:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss_sum, _ = loss_fn(model, batch)
        (loss_sum / batch.units).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return (loss_sum / batch.units).item()  # the loop's one host sync a step

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    tokens = batch.tokens
    flops = task.flops_per_token * tokens
    print(f"{args.size}: {seconds * 1e3:.1f} ms a step, {tokens / seconds:,.0f} tokens/s, "
          f"{flops / seconds / 989e12:.1%} of 989 TFLOP/s")  # fmt: skip
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profiler:
        for _ in range(args.steps):
            step()
        torch.cuda.synchronize()
    print(profiler.key_averages().table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=70))


if __name__ == "__main__":
    main()
