"""SFT: supervised fine-tuning on prompt/answer pairs and chats; only assistant tokens learn.

Recipe: read rows -> conversations (any supported format) -> chat template + loss masks (encode.py)
-> examples of at most max_length tokens -> micro-batches packed padding-free into one row
(packing.py) -> a pretrained model, optionally with LoRA adapters -> next-token loss on answer
tokens only, normalised by the answer tokens of the whole optimizer step -> loop.run.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from alignkit.config import SFTConfig
from alignkit.data import packing
from alignkit.data.encode import EncodedExample, EncodeStats, encode_dataset
from alignkit.data.formats import Conversation, conversation_of
from alignkit.data.readers import read_rows, resolve_path, split_held_out
from alignkit.errors import UserError
from alignkit.models import load
from alignkit.models.tokenizer import ensure_chat_template
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

DEMO_SFT = "sft.jsonl.gz"


def read_conversations(path: str, fmt: str = "auto") -> list[tuple[Conversation, str]]:
    """(conversation, file:line) for every row of a chat data set."""
    rows = read_rows(resolve_path(path, demo=DEMO_SFT))
    if not rows:
        raise UserError(f"{path}: no rows")
    return [(conversation_of(row, fmt), row.source) for row in rows]


def collate(examples: list[EncodedExample], packed: bool, pad_id: int) -> MicroBatch:
    tensors = packing.pack(examples) if packed else packing.pad(examples, pad_id)
    if packed:  # kept positions as indices, found here on the CPU rather than by a GPU sync each step
        tensors["keep"] = tensors["keep"][0].nonzero().squeeze(1)
    return MicroBatch(tensors, units=len(tensors["targets"]), tokens=sum(len(e) for e in examples))


MODEL_INPUTS = ("input_ids", "attention_mask", "position_ids", "cu_seq_lens_q", "cu_seq_lens_k")
MODEL_INPUTS += ("max_length_q", "max_length_k")


def learned_logits(model, tensors: dict) -> torch.Tensor:
    """(K, V) logits at the K positions whose next token learns, in row order. `keep` is either the
    positions (1-D) of one packed row: logits are computed only there, skipping the output layer on
    every prompt token; or a boolean mask over padded rows (a 2-D mask is sliced only by recent
    transformers, so it selects after the head)."""
    inputs = {k: v for k, v in tensors.items() if k in MODEL_INPUTS}
    keep = tensors["keep"]
    if keep.dtype != torch.bool:
        logits = model(**inputs, logits_to_keep=keep, use_cache=False).logits
    else:
        logits = model(**inputs, use_cache=False).logits[keep]
    return logits.reshape(-1, logits.shape[-1])


def answer_loss(model, tensors: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy of the learned tokens (`targets`), computed in fp32."""
    targets = tensors["targets"]
    logits = learned_logits(model, tensors).float()
    return F.cross_entropy(logits, targets, reduction="sum"), torch.tensor(len(targets))


class SFTTask:
    """Micro-batches of `micro_batch_size` examples; the order is a function of (seed, step)."""

    def __init__(self, model, tokenizer, train: list[EncodedExample], held_out: list[EncodedExample], config):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.train, self.held_out = train, held_out
        run = config.run
        self.order = loop.EpochOrder(len(train), run.batch_size, run.seed)
        self.total_steps = run.max_steps or self.order.steps_per_epoch(run.epochs)
        self.data_counts = {"examples": len(train)}  # answers someone wrote
        mean_length = sum(len(e) for e in train) / len(train)
        # Packed attention costs sum(len_i^2), so the per-token attention term uses the mean length.
        self.flops_per_token = load.train_flops_per_token(model, seq_len=round(mean_length))

    def _collate(self, examples: list[EncodedExample]) -> MicroBatch:
        return collate(examples, self.config.data.packing, self.tokenizer.pad_token_id)

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        micro = self.config.run.micro_batch_size
        return [
            self._collate([self.train[i] for i in rows.tolist()])
            for rows in self.order.rank_micro_batches(step, dist, micro)
        ]

    def loss(self, model, batch: MicroBatch):
        loss_sum, _ = answer_loss(model, batch.tensors)
        return loss_sum, {}

    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        if not self.held_out:
            return {}
        micro, limit = self.config.run.micro_batch_size, self.config.run.eval_batches
        starts = list(range(0, len(self.held_out), micro))[:limit]
        totals = torch.zeros(2, dtype=torch.float64)
        for start in starts[dist.rank :: dist.world_size]:
            batch = loop.to_device(self._collate(self.held_out[start : start + micro]), dist.device)
            loss_sum, count = answer_loss(model, batch.tensors)
            totals += torch.tensor([loss_sum.item(), count.item()], dtype=torch.float64)
        loss_sum, count = distributed.all_reduce_sum(totals).tolist()
        eval_loss = loss_sum / max(count, 1)
        return {"eval_loss": eval_loss, "eval_ppl": math.exp(min(eval_loss, 50))}

    def save_final(self, model, directory: Path) -> None:
        """A merged, plain transformers model in final/; with LoRA also the adapter in final/adapter."""
        if self.config.lora.r > 0:
            model.save_pretrained(directory / "adapter")
            model = model.merge_and_unload()
        load.save_pretrained(model, self.tokenizer, directory, self.config.model.attn_implementation)


def add_lora(model, lora, new_token_ids: list[int]):
    """Wrap the model with LoRA adapters (peft); only adapter weights (and new tokens' rows) train."""
    from peft import LoraConfig, get_peft_model

    targets = lora.target_modules[0] if lora.target_modules == ["all-linear"] else lora.target_modules
    peft_config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
        # tokens the template needed that the base vocabulary lacked must learn their embeddings
        trainable_token_indices=new_token_ids or None,
    )
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:
        raise UserError(f"lora.target_modules: {exc}") from None


def prepare(config: SFTConfig, model_dir: Path):
    """Tokenizer (with a chat template) and model, LoRA-wrapped if asked, with packed attention."""
    tokenizer = load.load_tokenizer(config.model.tokenizer or model_dir)
    before = len(tokenizer)
    ensure_chat_template(tokenizer)
    new_token_ids = list(range(before, len(tokenizer)))
    model = load.load_causal_lm(model_dir, config.model.attn_implementation)
    load.fit_embeddings(model, tokenizer)
    if config.data.packing:
        packing.use_packed_attention(model)
    if config.lora.r > 0:
        model = add_lora(model, config.lora, new_token_ids)
    return tokenizer, model


def encode_split(tokenizer, items, config: SFTConfig, what: str) -> tuple[list[EncodedExample], EncodeStats]:
    examples, stats = encode_dataset(tokenizer, items, config.data.max_length, config.data.train_on)
    if not examples and items:
        raise UserError(
            f"{config.data.path}: no {what} example has an answer token within data.max_length="
            f"{config.data.max_length} (first: {stats.dropped_sources[0]})"
        )
    return examples, stats


def run(config: SFTConfig) -> Path:
    env = loop.setup(config)
    items = read_conversations(config.data.path, config.data.format)
    if config.data.eval_path:
        train_items, eval_items = items, read_conversations(config.data.eval_path, config.data.format)
    else:
        train_items, eval_items = split_held_out(items, config.data.eval_fraction, config.run.seed)
    model_dir = load.resolve_pretrained(config.model.name_or_path)

    loop.seed_everything(config.run.seed)
    tokenizer, model = prepare(config, model_dir)
    train, stats = encode_split(tokenizer, train_items, config, "training")
    held_out, _ = encode_split(tokenizer, eval_items, config, "held-out")
    if env.dist.is_main:
        trainable = load.count_parameters(model, trainable_only=True)
        print(
            f"sft: {model_dir}, {load.count_parameters(model) / 1e6:.1f}M parameters "
            f"({trainable / 1e6:.2f}M trainable{', LoRA r=' + str(config.lora.r) if config.lora.r else ''}); "
            f"data: {stats.summary()}; {len(held_out)} held out"
        )
        for source in stats.dropped_sources[:3]:
            print(f"sft: dropped {source}: no answer token within max_length")
    task = SFTTask(model, tokenizer, train, held_out, config)
    return loop.run(env, task)


def ensure_demo_model(quick: bool = False) -> Path:
    """The demo's assistant (its first SFT model):
    final/ of its run in runs/demo (runs/demo-quick), with the lifecycle's stages up to it run
    first where missing, exactly as `alignkit demo` runs them."""
    from alignkit import demo

    return demo.ensure("sft", quick)
