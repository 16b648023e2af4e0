"""transformers' side of the classification benchmark: `AutoModelForSequenceClassification` + `Trainer`.

The body, data and schedule of `bench/classify_throughput.py`'s alignkit run: one epoch, batch 32, AdamW
(0.9, 0.999), weight decay 0.01, linear decay after warmup, grad-norm clip 1.0, CPU fp32; batches padded
to their longest row (`DataCollatorWithPadding`, the Trainer's default with a tokenizer). Prints one JSON
line: train_seconds (`trainer.train()`), examples_per_second, dev accuracy, peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments


def read_tsv(path: Path, limit: int | None) -> tuple[list[str], list[int]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rows[:limit] if limit else rows
    return [r["sentence"] for r in rows], [int(r["label"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=2, dtype=torch.float32, attn_implementation="sdpa"
    )

    def dataset(path: Path, limit: int | None) -> Dataset:
        texts, labels = read_tsv(path, limit)
        encoded = tokenizer(texts, truncation=True, max_length=args.max_length)
        return Dataset.from_dict({**encoded, "labels": labels})

    train, dev = dataset(args.train, args.rows), dataset(args.dev, None)
    config = TrainingArguments(
        output_dir=str(args.out),
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64,
        num_train_epochs=1,
        learning_rate=args.lr,
        warmup_steps=args.warmup_steps,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        adam_beta1=0.9,
        adam_beta2=0.999,
        max_grad_norm=1.0,
        use_cpu=True,
        bf16=False,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        logging_steps=20,
        dataloader_num_workers=0,
        seed=args.seed,
        disable_tqdm=True,
    )

    def accuracy(prediction) -> dict[str, float]:
        return {"accuracy": float(np.mean(np.argmax(prediction.predictions, -1) == prediction.label_ids))}

    trainer = Trainer(model=model, args=config, train_dataset=train, processing_class=tokenizer,
                      compute_metrics=accuracy)  # fmt: skip
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start
    metrics = trainer.evaluate(dev)
    result = {
        "side": "transformers Trainer",
        "train_seconds": round(train_seconds, 2),
        "examples_per_second": round(len(train) / train_seconds, 1),
        "dev_accuracy": round(metrics["eval_accuracy"], 4),
        "steps": trainer.state.global_step,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
