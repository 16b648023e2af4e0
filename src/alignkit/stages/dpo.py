"""DPO (`alignkit dpo`): learn from preference pairs directly, without a reward model or sampling.

Recipe: read preference pairs (every shape the reward model reads) -> each pair as two conversations
(prompt + chosen, prompt + rejected) through the chat template with loss masks on the answer
(encode.py, last turn only) -> the reference's log-probs of every answer, computed once with the
starting weights before the first step -> micro-batches with each pair's two answers side by side,
packed padding-free -> the summed log-prob of each answer -> losses.dpo_loss, one unit per pair ->
loop.run. Held-out: loss, implicit rewards, margin and accuracy.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch

from alignkit import losses
from alignkit.config import DPOConfig
from alignkit.data.encode import EncodedExample, fit_to_length
from alignkit.data.formats import PreferencePair
from alignkit.data.readers import train_and_held_out
from alignkit.errors import UserError
from alignkit.models import load
from alignkit.stages import reward, sft
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

STATS = ("chosen_reward", "rejected_reward", "reward_margin", "reward_accuracy")


def encode_pairs(tokenizer, pairs: list[PreferencePair], max_length: int) -> tuple[list, int]:
    """([(chosen example, rejected example)], pairs dropped because an answer kept no token)."""
    encoded, dropped = [], 0
    for pair in pairs:
        two = []
        for answer in (pair.chosen, pair.rejected):
            messages = [*pair.prompt, {"role": "assistant", "content": answer}]
            example, _ = fit_to_length(tokenizer, messages, max_length, "last_turn", pair.source)
            two.append(example)
        if None in two:
            dropped += 1
            continue
        encoded.append(tuple(two))
    return encoded, dropped


def collate(examples: list[EncodedExample], packed: bool, pad_id: int) -> dict[str, torch.Tensor]:
    """sft.collate's batch plus `segment`: (K,) which example each learned token belongs to."""
    batch = sft.collate(examples, packed, pad_id).tensors
    counts = torch.tensor([int(e.loss_mask[1:].sum()) for e in examples])
    batch["segment"] = torch.repeat_interleave(torch.arange(len(examples)), counts)
    batch["answer_tokens"] = counts
    return batch


def answer_logps(model, tensors: dict, average: bool = False) -> torch.Tensor:
    """(E,) summed (or per-token averaged) log-probs of each example's answer tokens."""
    token_logps = losses.token_logprobs(sft.learned_logits(model, tensors), tensors["targets"])
    counts = tensors["answer_tokens"]
    sums = torch.zeros(len(counts), dtype=token_logps.dtype, device=token_logps.device)
    sums = sums.index_add(0, tensors["segment"], token_logps)
    return sums / counts.clamp(min=1) if average else sums


class DPOTask:
    """One unit per pair; a micro-batch of E pairs runs as 2E answers (chosen first)."""

    counted = "pairs"  # what one training item is, in run_summary.json's data counts

    def __init__(self, model, tokenizer, train: list, held_out: list, config: DPOConfig, dist: DistInfo):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.train, self.held_out = train, held_out
        run = config.run
        self.order = loop.EpochOrder(len(train), run.batch_size, run.seed)
        self.total_steps = run.max_steps or self.order.steps_per_epoch(run.epochs)
        self.data_counts = {self.counted: len(train)}
        mean_length = sum(len(item[0]) + len(item[1]) for item in train) / (2 * len(train))
        self.flops_per_token = load.train_flops_per_token(model, seq_len=round(mean_length))
        self.average = self.averages_logps(config)
        self.eval_at_start = True
        self.reference = None
        if self.online_reference(config):
            # a frozen copy of the starting model (with LoRA, the model itself with its adapters off)
            if config.lora.r == 0:
                self.reference = copy.deepcopy(model).eval().requires_grad_(False)
                self.frozen = [self.reference]
            self.ref_train = self.ref_held_out = None
        else:
            # the reference is the starting model: its log-probs, computed once, replace a second model;
            # a run shorter than an epoch computes them only for the pairs its steps will read
            used = None
            if self.total_steps * run.batch_size < len(train):
                rows = [self.order.step_rows(step) for step in range(1, self.total_steps + 1)]
                used = torch.cat(rows).unique().tolist()
            self.ref_train = self._logps_of(train, dist.device, used)
            self.ref_held_out = self._logps_of(held_out, dist.device)

    @staticmethod
    def online_reference(config) -> bool:
        return config.dpo.reference == "online"

    @torch.no_grad()
    def _reference_logps(self, tensors: dict) -> torch.Tensor:
        """The starting model's log-probs of this batch's answers (online reference)."""
        if self.reference is not None:
            return answer_logps(self.reference, tensors, self.average).float()
        with self.model.disable_adapter():
            was_training = self.model.training
            self.model.eval()
            logps = answer_logps(self.model, tensors, self.average).float()
            self.model.train(was_training)
        return logps

    @staticmethod
    def averages_logps(config) -> bool:
        return config.dpo.loss_type == "ipo"  # IPO compares per-token average log-ratios

    def _batch(self, pairs: list, indices: list[int], ref: torch.Tensor | None) -> MicroBatch:
        examples = [pairs[i][0] for i in indices] + [pairs[i][1] for i in indices]
        tensors = collate(examples, self.config.data.packing, self.tokenizer.pad_token_id)
        if ref is not None:
            tensors["ref"] = torch.cat([ref[indices, 0], ref[indices, 1]])
        return MicroBatch(tensors, units=len(indices), tokens=sum(len(e) for e in examples))

    @torch.no_grad()
    def _logps_of(self, pairs: list, device, only: list[int] | None = None) -> torch.Tensor:
        """(P, 2) log-probs of each pair's chosen and rejected answers under the current weights; with
        `only`, of those pairs alone (the others are NaN, so that using one would show)."""
        was_training = self.model.training
        self.model.eval()
        model = self.model.to(device)
        wanted = list(range(len(pairs))) if only is None else only
        values = torch.full((len(pairs), 2), math.nan)
        micro = self.config.run.micro_batch_size
        for start in range(0, len(wanted), micro):
            indices = wanted[start : start + micro]
            batch = loop.to_device(self._batch(pairs, indices, None), device)
            logps = answer_logps(model, batch.tensors, self.average).float().cpu()
            values[indices] = logps.view(2, -1).T
        self.model.train(was_training)
        return values

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        micro = self.config.run.micro_batch_size
        return [
            self._batch(self.train, rows.tolist(), self.ref_train)
            for rows in self.order.rank_micro_batches(step, dist, micro)
        ]

    def _loss(self, model, tensors: dict):
        dpo = self.config.dpo
        logps = answer_logps(model, tensors, self.average)
        ref = tensors["ref"] if "ref" in tensors else self._reference_logps(tensors)
        pairs = len(logps) // 2
        return losses.dpo_loss(
            logps[:pairs], logps[pairs:], ref[:pairs], ref[pairs:], dpo.beta, dpo.loss_type, dpo.label_smoothing
        )

    def loss(self, model, batch: MicroBatch):
        return self._loss(model, batch.tensors)

    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        if not self.held_out:
            return {}
        micro = self.config.run.micro_batch_size
        totals = torch.zeros(1 + len(STATS), dtype=torch.float64)
        starts = list(range(0, len(self.held_out), micro))
        for start in starts[dist.rank :: dist.world_size]:
            indices = list(range(start, min(start + micro, len(self.held_out))))
            batch = loop.to_device(self._batch(self.held_out, indices, self.ref_held_out), dist.device)
            loss_sum, stats = self._loss(model, batch.tensors)
            totals += torch.tensor([loss_sum.item(), *(stats[k].item() for k in STATS)], dtype=torch.float64)
        totals = distributed.all_reduce_sum(totals).tolist()
        count = len(self.held_out)
        return {f"eval_{name}": value / count for name, value in zip(("loss", *STATS), totals, strict=True)}

    def save_final(self, model, directory: Path) -> None:
        sft.SFTTask.save_final(self, model, directory)


def run(config: DPOConfig) -> Path:
    env = loop.setup(config)
    data = config.data
    train_pairs, eval_pairs = train_and_held_out(reward.read_pairs, data, config.run.seed)
    model_dir = load.resolve_pretrained(config.model.name_or_path)
    loop.seed_everything(config.run.seed)
    tokenizer, model = sft.prepare(config, model_dir)
    train, dropped = encode_pairs(tokenizer, train_pairs, data.max_length)
    held_out, _ = encode_pairs(tokenizer, eval_pairs, data.max_length)
    if not train:
        raise UserError(f"{data.path}: no pair keeps an answer token within data.max_length={data.max_length}")
    task = DPOTask(model, tokenizer, train, held_out, config, env.dist)
    if env.dist.is_main:
        lengths = np.array([len(c) + len(r) for c, r in train])
        print(
            f"dpo: {model_dir}, {load.count_parameters(model) / 1e6:.1f}M parameters; {len(train)} pairs "
            f"({dropped} dropped: an answer beyond max_length), {len(held_out)} held out; "
            f"{lengths.mean():.0f} tokens a pair; {config.dpo.loss_type} loss, beta {config.dpo.beta}; "
            + ("reference online" if task.online_reference(config) else "reference log-probs computed once")
        )
    return loop.run(env, task)
