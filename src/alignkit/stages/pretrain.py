"""Pretrain: next-token prediction on raw text, from scratch or continued from a checkpoint.

Recipe: read documents -> tokenizer (trained on the corpus, or the checkpoint's own) -> documents
tokenized and packed into fixed-length rows with EOS between documents -> model (a named size or a
local checkpoint) -> masked LM loss -> loop.run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from alignkit.config import PretrainConfig
from alignkit.data.formats import text_of
from alignkit.data.readers import read_rows, resolve_path, split_held_out
from alignkit.errors import UserError
from alignkit.losses import masked_lm_loss
from alignkit.models import load
from alignkit.models.tokenizer import train_tokenizer
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

DEMO_CORPUS = "corpus.jsonl.gz"


def read_documents(path: str, text_field: str | None) -> list[str]:
    rows = read_rows(resolve_path(path, demo=DEMO_CORPUS))
    documents = [text_of(row, text_field) for row in rows]
    documents = [d for d in documents if d.strip()]
    if not documents:
        raise UserError(f"{path}: every document is empty")
    return documents


def pack_documents(documents: list[str], tokenizer, max_length: int) -> torch.Tensor:
    """Tokenize, join with EOS after every document, cut into rows of max_length + 1 tokens.

    Row i holds tokens [i*L, i*L + L]: inputs are row[:-1] and targets row[1:], so every token of
    the stream is predicted exactly once (rows overlap by one token). The tail shorter than a row
    is dropped. Returns (rows, L + 1) int64.
    """
    encoded = tokenizer(documents, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    stream = np.fromiter(
        (t for ids in encoded for t in (*ids, eos)), dtype=np.int64, count=sum(len(i) + 1 for i in encoded)
    )
    rows = (len(stream) - 1) // max_length
    if rows < 1:
        return torch.from_numpy(stream).unsqueeze(0) if len(stream) > 1 else torch.empty(0, 2, dtype=torch.int64)
    index = np.arange(rows)[:, None] * max_length + np.arange(max_length + 1)[None, :]
    return torch.from_numpy(stream[index])


class PretrainTask:
    """Fixed-length packed rows; the data order of step s is a function of (seed, s) alone."""

    def __init__(self, model, tokenizer, train_rows: torch.Tensor, eval_rows: torch.Tensor, config: PretrainConfig):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.train_rows, self.eval_rows = train_rows, eval_rows
        run = config.run
        self.order = loop.EpochOrder(len(train_rows), run.batch_size, run.seed)
        self.total_steps = run.max_steps or self.order.steps_per_epoch(run.epochs)
        self.data_counts = {"rows": len(train_rows), "tokens": train_rows.numel()}
        self.flops_per_token = load.train_flops_per_token(model, seq_len=train_rows.shape[1] - 1)

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        micro = self.config.run.micro_batch_size
        return [self._batch(self.train_rows[rows]) for rows in self.order.rank_micro_batches(step, dist, micro)]

    @staticmethod
    def _batch(rows: torch.Tensor) -> MicroBatch:
        input_ids, labels = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()
        return MicroBatch({"input_ids": input_ids, "labels": labels}, units=labels.numel(), tokens=input_ids.numel())

    def loss(self, model, batch: MicroBatch):
        logits = model(input_ids=batch.tensors["input_ids"], use_cache=False).logits
        loss_sum, _ = masked_lm_loss(logits, batch.tensors["labels"])
        return loss_sum, {}

    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        if len(self.eval_rows) == 0:
            return {}
        micro, limit = self.config.run.micro_batch_size, self.config.run.eval_batches
        starts = list(range(0, len(self.eval_rows), micro))[:limit]
        totals = torch.zeros(2, dtype=torch.float64)
        for start in starts[dist.rank :: dist.world_size]:
            batch = self._batch(self.eval_rows[start : start + micro])
            tensors = {k: v.to(dist.device) for k, v in batch.tensors.items()}
            logits = model(input_ids=tensors["input_ids"], use_cache=False).logits
            loss_sum, count = masked_lm_loss(logits, tensors["labels"])
            totals += torch.tensor([loss_sum.item(), count.item()], dtype=torch.float64)
        loss_sum, count = distributed.all_reduce_sum(totals).tolist()
        eval_loss = loss_sum / max(count, 1)
        return {"eval_loss": eval_loss, "eval_ppl": math.exp(min(eval_loss, 50))}

    def save_final(self, model, directory: Path) -> None:
        model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)


def get_tokenizer(config: PretrainConfig, env: loop.Env, documents: list[str]):
    """The checkpoint's own tokenizer, a given one, the run's saved one (resume), or a new one."""
    if config.model.tokenizer:
        return load.load_tokenizer(config.model.tokenizer)
    if not load.is_named(config.model.name_or_path):
        return load.load_tokenizer(load.checkpoint_dir(config.model.name_or_path))
    saved = env.run_dir / "tokenizer"
    if env.resuming and saved.is_dir():
        return load.load_tokenizer(saved)
    return train_tokenizer(documents, config.model.vocab_size)


def get_model(config: PretrainConfig, tokenizer):
    if load.is_named(config.model.name_or_path):
        return load.build_causal_lm(
            config.model.name_or_path, tokenizer, config.data.max_length, config.model.attn_implementation
        )
    model = load.load_causal_lm(config.model.name_or_path, config.model.attn_implementation)
    load.fit_embeddings(model, tokenizer)
    return model


def run(config: PretrainConfig) -> Path:
    env = loop.setup(config)
    if not load.is_named(config.model.name_or_path):
        load.checkpoint_dir(config.model.name_or_path)  # fail before any work on a bad path
    documents = read_documents(config.data.path, config.data.text_field)
    if config.data.eval_path:
        train_docs, eval_docs = documents, read_documents(config.data.eval_path, config.data.text_field)
    else:
        train_docs, eval_docs = split_held_out(documents, config.data.eval_fraction, config.run.seed)

    tokenizer = get_tokenizer(config, env, train_docs)
    train_rows = pack_documents(train_docs, tokenizer, config.data.max_length)
    if len(train_rows) == 0 or train_rows.shape[1] < config.data.max_length + 1:
        raise UserError(
            f"{config.data.path}: too little text for one row of data.max_length={config.data.max_length} tokens "
            f"(the corpus has {train_rows.numel()} tokens)"
        )
    eval_rows = pack_documents(eval_docs, tokenizer, config.data.max_length) if eval_docs else train_rows[:0]

    loop.seed_everything(config.run.seed)
    model = get_model(config, tokenizer)
    if env.dist.is_main:
        env_note = f"{len(train_docs)} documents -> {len(train_rows)} rows of {config.data.max_length} tokens"
        print(f"pretrain: {model.num_parameters() / 1e6:.1f}M parameters, vocab {len(tokenizer)}; {env_note}")
    task = PretrainTask(model, tokenizer, train_rows, eval_rows, config)
    return loop.run(env, task)


def ensure_demo_model(quick: bool = False) -> Path:
    """The demo's pretrained model:
    final/ of its run in runs/demo (runs/demo-quick), with the lifecycle's stages up to it run
    first where missing, exactly as `alignkit demo` runs them."""
    from alignkit import demo

    return demo.ensure("pretrain", quick)
