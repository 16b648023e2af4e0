"""KTO (`alignkit kto`): learn from single answers voted good or bad, with no pairs and no reward model.

Recipe: read votes (formats.votes_of: the feedback export's votes, LLaMA-Factory's KTO rows, or
preference pairs split into a good and a bad vote) -> each vote as its conversation through the chat
template with a loss mask on the answer, and beside it a mismatched example: the same prompt with
another vote's answer (a fixed pairing), whose log-ratio estimates KL(policy || reference), the
reference point z0 of the loss -> the reference's log-probs of both, computed once with the
starting weights -> micro-batches of E votes run as 2E answers packed padding-free (DPO's
machinery: each vote's two examples take the places of a pair's chosen and rejected) ->
losses.kto_loss with z0 = the micro-batch's mean mismatched log-ratio (no gradient, at least 0) ->
loop.run. Held-out: loss, the implicit rewards of good and bad answers, their margin, and the
share of (good, bad) vote pairs that the implicit reward orders rightly (AUC).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from alignkit import losses
from alignkit.config import KTOConfig
from alignkit.data.encode import fit_to_length
from alignkit.data.formats import Vote, votes_of
from alignkit.data.readers import read_rows, resolve_path, train_and_held_out
from alignkit.errors import UserError
from alignkit.evaluation import auc
from alignkit.models import load
from alignkit.stages import dpo, reward, sft
from alignkit.train import distributed, loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch


def read_votes(path: str) -> list[list[Vote]]:
    """The votes of each row (a preference pair gives two), row by row, so a split keeps a row's votes together."""
    rows = read_rows(resolve_path(path, demo=reward.DEMO_PREFERENCES))
    if not rows:
        raise UserError(f"{path}: no rows")
    return [votes_of(row) for row in rows]


def encode_votes(tokenizer, votes: list[Vote], max_length: int, seed: int) -> tuple[list, int]:
    """([(the vote's example, its mismatched example, desirable)], votes dropped because an answer kept
    no token). Vote i's mismatched example pairs its prompt with the answer of the vote after it in a
    seeded shuffle (a vote is never paired with itself when there are two or more)."""

    def example(prompt, answer, source):
        messages = [*prompt, {"role": "assistant", "content": answer}]
        return fit_to_length(tokenizer, messages, max_length, "last_turn", source)[0]

    order = np.random.default_rng(seed).permutation(len(votes))
    partner = np.empty(len(votes), dtype=np.int64)
    partner[order] = np.roll(order, -1)
    encoded, dropped = [], 0
    for index, vote in enumerate(votes):
        matched = example(vote.prompt, vote.completion, vote.source)
        mismatched = example(vote.prompt, votes[partner[index]].completion, vote.source)
        if matched is None or mismatched is None:
            dropped += 1
            continue
        encoded.append((matched, mismatched, vote.desirable))
    return encoded, dropped


class KTOTask(dpo.DPOTask):
    """One unit per vote; a vote's example and its mismatched example run side by side."""

    counted = "votes"

    @staticmethod
    def averages_logps(config) -> bool:
        return False

    @staticmethod
    def online_reference(config) -> bool:
        return False

    def _batch(self, votes: list, indices: list[int], ref: torch.Tensor | None) -> MicroBatch:
        batch = super()._batch(votes, indices, ref)
        batch.tensors["desirable"] = torch.tensor([votes[i][2] for i in indices], dtype=torch.bool)
        return batch

    def _loss(self, model, tensors: dict):
        kto = self.config.kto
        logps = dpo.answer_logps(model, tensors)
        votes = len(logps) // 2
        ref = tensors["ref"]
        kl = (logps[votes:] - ref[votes:]).detach().mean()  # z0; kto_loss clamps it at 0
        loss, stats = losses.kto_loss(
            logps[:votes], ref[:votes], tensors["desirable"], kl, kto.beta, kto.desirable_weight, kto.undesirable_weight
        )
        rewards = (kto.beta * (logps[:votes].float() - ref[:votes].float())).detach()
        return loss, {**stats, "kl": kl * votes, "_rewards": rewards}

    def loss(self, model, batch: MicroBatch):
        loss, stats = self._loss(model, batch.tensors)  # logged per vote: the mean z0 and the share of good votes
        return loss, {"kl": stats["kl"], "desirable_share": stats["desirable_count"]}

    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        if not self.held_out:
            return {}
        micro = self.config.run.micro_batch_size
        totals = torch.zeros(3, dtype=torch.float64)
        rewards, labels = [], []
        starts = list(range(0, len(self.held_out), micro))
        for start in starts[dist.rank :: dist.world_size]:
            indices = list(range(start, min(start + micro, len(self.held_out))))
            batch = loop.to_device(self._batch(self.held_out, indices, self.ref_held_out), dist.device)
            loss_sum, stats = self._loss(model, batch.tensors)
            totals += torch.tensor([loss_sum.item(), stats["kl"].item(), len(indices)], dtype=torch.float64)
            rewards += stats["_rewards"].tolist()
            labels += batch.tensors["desirable"].tolist()
        loss_sum, kl_sum, count = distributed.all_reduce_sum(totals).tolist()
        rewards, labels = distributed.gather_lists(rewards), distributed.gather_lists(labels)
        good = [r for r, d in zip(rewards, labels, strict=True) if d]
        bad = [r for r, d in zip(rewards, labels, strict=True) if not d]
        metrics = {"eval_loss": loss_sum / count, "eval_kl": kl_sum / count, "eval_auc": auc(rewards, labels)}
        if good:
            metrics["eval_desirable_reward"] = sum(good) / len(good)
        if bad:
            metrics["eval_undesirable_reward"] = sum(bad) / len(bad)
        if good and bad:
            metrics["eval_reward_margin"] = metrics["eval_desirable_reward"] - metrics["eval_undesirable_reward"]
        return metrics


def run(config: KTOConfig) -> Path:
    env = loop.setup(config)
    data = config.data
    train_rows, eval_rows = train_and_held_out(read_votes, data, config.run.seed)
    train_votes = [vote for row in train_rows for vote in row]
    eval_votes = [vote for row in eval_rows for vote in row]
    model_dir = load.resolve_pretrained(config.model.name_or_path)
    loop.seed_everything(config.run.seed)
    tokenizer, model = sft.prepare(config, model_dir)
    train, dropped = encode_votes(tokenizer, train_votes, data.max_length, config.run.seed)
    held_out, _ = encode_votes(tokenizer, eval_votes, data.max_length, config.run.seed + 1)
    if not train:
        raise UserError(f"{data.path}: no vote keeps an answer token within data.max_length={data.max_length}")
    good = sum(item[2] for item in train)
    if not good or good == len(train):
        raise UserError(
            f"{data.path}: KTO needs both good and bad votes; the training votes are all {'good' if good else 'bad'}"
        )
    task = KTOTask(model, tokenizer, train, held_out, config, env.dist)
    if env.dist.is_main:
        kto = config.kto
        ratio = (kto.desirable_weight * good) / (kto.undesirable_weight * (len(train) - good))
        print(
            f"kto: {model_dir}, {load.count_parameters(model) / 1e6:.1f}M parameters; {len(train)} votes, {good} good "
            f"({dropped} dropped: an answer beyond max_length), {len(held_out)} held out; beta {kto.beta}; "
            f"weighted good:bad {ratio:.2f}"
            + (
                ""
                if 1 <= ratio <= 4 / 3
                else " (KTO's authors advise 1 to 4/3: set kto.desirable_weight / undesirable_weight)"
            )
            + "; reference log-probs computed once"
        )
    return loop.run(env, task)
