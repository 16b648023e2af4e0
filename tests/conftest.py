"""Shared fixtures: a small corpus written by the tests, and a helper to run the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUBJECTS = ["my order", "the parcel", "my refund", "the invoice", "my account", "the password", "the courier"]
VERBS = ["arrived late", "was charged twice", "is missing", "needs a new address", "cannot be found", "was returned"]
ANSWERS = [
    "We are sorry about that. Please open the orders page, choose the item and press help.",
    "Thank you for waiting. We have sent you an email with the next steps.",
    "Please check the tracking page first; if nothing changes in two days, write to us again.",
]
CHINESE = ["我的订单还没有到。", "请帮我退款。", "我不能登录我的账号，我该怎么办？", "快递员把包裹送错了地址。"]


def make_documents(count: int, seed: int = 0) -> list[str]:
    """Short customer-service documents, varied enough for a tokenizer and a loss that falls."""
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        sentences = [
            f"Customer: {rng.choice(SUBJECTS)} {rng.choice(VERBS)}. Agent: {rng.choice(ANSWERS)}"
            for _ in range(rng.randint(2, 5))
        ]
        sentences.append(rng.choice(CHINESE))
        documents.append(" ".join(sentences))
    return documents


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in make_documents(300)))
    return path


# Small enough to train in seconds on two CPU cores.
TINY_ARGS = [
    "--model.vocab-size", "512", "--max-length", "32", "--batch-size", "8", "--micro-batch-size", "4",
    "--optim.warmup-steps", "2", "--run.progress", "false", "--run.plots", "false",
]  # fmt: skip


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    """`python -m alignkit ARGS` in a subprocess, as a user would run it."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "alignkit", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def build_tiny_model(path: Path, max_length: int = 256, seed: int = 0) -> Path:
    """A random tiny Llama with a tokenizer trained on `make_documents` (ChatML template), saved to `path`."""
    import torch

    from alignkit.models import load
    from alignkit.models.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(make_documents(200), 512)
    torch.manual_seed(seed)
    model = load.build_causal_lm("tiny", tokenizer, max_length=max_length)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
