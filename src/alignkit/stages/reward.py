"""Reward model (`alignkit rm`): a body and a new scalar head that predicts which answer people prefer.

Recipe: read preference pairs (or scored answers) -> render prompt + answer as the body reads it
(the chat template for our decoders, a text pair for encoders) -> body + new 1-output head
(models/heads.py; opens as AutoModelForSequenceClassification with num_labels=1) -> micro-batches
with each pair's chosen and rejected answers side by side, packed padding-free where the body
allows it -> Bradley-Terry (or MSE on scores), one unit per pair (per answer) -> loop.run.
Held-out pairwise accuracy and mean margin (MSE and Spearman for scores); the best model is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from alignkit.config import RewardConfig
from alignkit.data import packing
from alignkit.data.formats import Conversation, PreferencePair, ScoredAnswer, preference_of, scored_of
from alignkit.data.readers import read_rows, resolve_path, split_held_out, write_jsonl
from alignkit.errors import UserError
from alignkit.evaluation import regression_metrics
from alignkit.losses import bradley_terry_loss, classification_loss
from alignkit.models import heads, load
from alignkit.models.heads import Labels
from alignkit.stages import classify
from alignkit.stages.classify import Encoded
from alignkit.train import loop
from alignkit.train.distributed import DistInfo
from alignkit.train.loop import MicroBatch

DEMO_PREFERENCES = "preference.jsonl.gz"
REWARD_LABELS = Labels("regression", ["reward"])


def read_pairs(path: str) -> list[PreferencePair]:
    rows = read_rows(resolve_path(path, demo=DEMO_PREFERENCES))
    if not rows:
        raise UserError(f"{path}: no rows")
    return [preference_of(row) for row in rows]


def read_scored(path: str, score_required: bool = True) -> list[ScoredAnswer]:
    rows = read_rows(resolve_path(path, demo=DEMO_PREFERENCES))
    if not rows:
        raise UserError(f"{path}: no rows")
    return [scored_of(row, score_required) for row in rows]


def flatten_prompt(prompt: Conversation) -> str:
    """A conversation as plain text, for bodies without a chat template: a lone user turn as it is."""
    if len(prompt) == 1:
        return prompt[0]["content"]
    return "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in prompt)


def encode_answers(
    tokenizer, prompts: list[Conversation], answers: list[str], max_length: int, targets: np.ndarray | None = None
) -> Encoded:
    """Prompt + answer as the reward body reads them: the whole conversation through the chat
    template for decoders (pooled at its last token, the answer's end-of-turn), else the pair
    (prompt, answer) for encoders. Too long: a decoder loses the prompt's start, an encoder the
    longer of the two texts' ends, so the answer is always scored."""
    if not prompts:
        return Encoded([], None, np.zeros(0, dtype=np.float32))
    if tokenizer.chat_template:
        texts = [
            tokenizer.apply_chat_template([*p, {"role": "assistant", "content": a}], tokenize=False)
            for p, a in zip(prompts, answers, strict=True)
        ]
        side = tokenizer.truncation_side
        tokenizer.truncation_side = "left"
        try:
            encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_length)
        finally:
            tokenizer.truncation_side = side
    else:
        flat = [flatten_prompt(p) for p in prompts]
        encoded = tokenizer(flat, answers, truncation="longest_first", max_length=max_length)
    types = encoded.get("token_type_ids")
    return Encoded(
        [np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"]],
        [np.asarray(t, dtype=np.int64) for t in types] if types is not None else None,
        targets if targets is not None else np.zeros(len(prompts), dtype=np.float32),
    )


def encode_pairs(tokenizer, pairs: list[PreferencePair], max_length: int, margin: float) -> Encoded:
    """2P sequences: the chosen answers (0..P-1), then the rejected ones (P..2P-1); targets hold
    each pair's margin (the row's own, else `margin`) on both of its sequences."""
    margins = np.array([margin if p.margin is None else p.margin for p in pairs], dtype=np.float32)
    prompts = [p.prompt for p in pairs] * 2
    answers = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    return encode_answers(tokenizer, prompts, answers, max_length, np.concatenate([margins, margins]))


def rewards_of(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(E,) scalar rewards of a batch's E sequences."""
    return heads.pooled_logits(model, batch).squeeze(-1).float()


def score_encoded(model, data: Encoded, batch_size: int, packed: bool, pad_id: int) -> torch.Tensor:
    """Rewards of every sequence of `data`, in order, without gradients."""
    return classify.logits_of(model, data, batch_size, packed, pad_id).squeeze(-1)


def pairwise_metrics(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float]:
    """Accuracy (ties count half: a reward model that scores everything alike is at chance),
    mean margin and the mean reward of each side."""
    difference = chosen - rejected
    accuracy = ((difference > 0).float() + 0.5 * (difference == 0).float()).mean()
    return {
        "accuracy": accuracy.item(),
        "margin": difference.mean().item(),
        "chosen_reward": chosen.mean().item(),
        "rejected_reward": rejected.mean().item(),
    }


class RewardTask:
    """Pairwise: one unit per pair, a micro-batch of E pairs runs as 2E sequences. Regression: one
    unit per scored answer."""

    def __init__(self, model, tokenizer, train: Encoded, held_out: Encoded, config: RewardConfig, block_of):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.train, self.held_out = train, held_out
        self.pairwise = config.rm.objective == "pairwise"
        self.rows = len(train) // 2 if self.pairwise else len(train)
        run = config.run
        self.order = loop.EpochOrder(self.rows, run.batch_size, run.seed)
        self.total_steps = run.max_steps or self.order.steps_per_epoch(run.epochs)
        self.data_counts = {"pairs" if self.pairwise else "scores": self.rows}  # judgements people gave
        self.packed = config.data.packing and heads.packed_family(model) is not None
        mean_length = sum(len(x) for x in train.input_ids) / len(train)
        self.flops_per_token = load.train_flops_per_token(model, seq_len=round(mean_length))
        if config.rm.head_lr is not None:
            self.lr_of = heads.layer_lrs(block_of, config.optim.lr, 1.0, config.rm.head_lr)
        self.best_metric = ("eval_accuracy", True) if self.pairwise else ("eval_spearman", True)
        self.eval_at_start = True  # the fresh head's score: the baseline training must beat
        self.report: dict = {}

    def _sequences(self, rows: list[int], count: int) -> list[int]:
        return rows + [count + r for r in rows] if self.pairwise else rows

    def _collate(self, data: Encoded, rows: list[int]) -> MicroBatch:
        count = len(data) // 2 if self.pairwise else len(data)
        indices = self._sequences(rows, count)
        batch = classify.collate(data, indices, self.packed, self.tokenizer.pad_token_id)
        return MicroBatch(batch, units=len(rows), tokens=sum(len(data.input_ids[i]) for i in indices))

    def micro_batches(self, step: int, dist: DistInfo) -> list[MicroBatch]:
        micro = self.config.run.micro_batch_size
        return [self._collate(self.train, rows.tolist()) for rows in self.order.rank_micro_batches(step, dist, micro)]

    def loss(self, model, batch: MicroBatch):
        rewards = rewards_of(model, batch.tensors)
        targets = batch.tensors["targets"]
        if not self.pairwise:
            loss_sum, _ = classification_loss(rewards.unsqueeze(-1), targets, "regression")
            return loss_sum, {}
        pairs = len(rewards) // 2
        chosen, rejected = rewards[:pairs], rewards[pairs:]
        loss_sum, _ = bradley_terry_loss(chosen, rejected, targets[:pairs])
        difference = (chosen - rejected).detach()
        correct = (difference > 0).float() + 0.5 * (difference == 0).float()  # as pairwise_metrics counts
        return loss_sum, {"accuracy": correct.sum(), "margin": difference.sum()}

    def evaluate(self, model, dist: DistInfo) -> dict[str, float]:
        """Every held-out row, on every process (scoring is cheap next to training)."""
        if not len(self.held_out):
            return {}
        micro = 2 * self.config.run.micro_batch_size
        rewards = score_encoded(model, self.held_out, micro, self.packed, self.tokenizer.pad_token_id)
        targets = torch.from_numpy(self.held_out.targets)
        if self.pairwise:
            pairs = len(rewards) // 2
            loss_sum, count = bradley_terry_loss(rewards[:pairs], rewards[pairs:], targets[:pairs])
            metrics = pairwise_metrics(rewards[:pairs], rewards[pairs:])
        else:
            loss_sum, count = classification_loss(rewards.unsqueeze(-1), targets, "regression")
            metrics = regression_metrics(rewards.numpy(), self.held_out.targets)
        self.report = metrics
        return {"eval_loss": loss_sum.item() / count.item(), **{f"eval_{k}": v for k, v in metrics.items()}}

    def save_final(self, model, directory: Path) -> None:
        classify.save_with_report(model, self.tokenizer, directory, self.config.model.attn_implementation, self.report)


def build_reward_model(body: Path, tokenizer, attn_implementation: str, pooling: str, freeze: str):
    """(model, block map): the body's sequence-classification class with a new 1-output head."""
    model, head = heads.build_classifier(body, REWARD_LABELS, tokenizer, attn_implementation, pooling, "rm")
    return model, heads.apply_freeze(model, head, freeze, "rm")


def run(config: RewardConfig) -> Path:
    env = loop.setup(config)
    data_cfg, rm_cfg = config.data, config.rm
    pairwise = rm_cfg.objective == "pairwise"
    read = read_pairs if pairwise else read_scored
    rows = read(data_cfg.path)
    if data_cfg.eval_path:
        train_rows, eval_rows = rows, read(data_cfg.eval_path)
    else:
        train_rows, eval_rows = split_held_out(rows, data_cfg.eval_fraction, config.run.seed)
    body = load.resolve_pretrained(config.model.name_or_path, "body")
    tokenizer = load.load_tokenizer(config.model.tokenizer or body)

    def encode(items):
        if pairwise:
            return encode_pairs(tokenizer, items, data_cfg.max_length, rm_cfg.margin)
        scores = np.array([s.score for s in items], dtype=np.float32)
        return encode_answers(
            tokenizer, [s.prompt for s in items], [s.answer for s in items], data_cfg.max_length, scores
        )

    train, held_out = encode(train_rows), encode(eval_rows)
    loop.seed_everything(config.run.seed)  # the new head's initialisation follows the seed
    model, block_of = build_reward_model(
        body, tokenizer, config.model.attn_implementation, rm_cfg.pooling, rm_cfg.freeze
    )
    task = RewardTask(model, tokenizer, train, held_out, config, block_of)
    if task.packed:
        packing.use_packed_attention(model)
    if env.dist.is_main:
        classify.print_trainable(model, block_of, body, REWARD_LABELS, rm_cfg.freeze, task.packed, "rm")
        unit = "pairs" if pairwise else "scored answers"
        print(f"rm: {rm_cfg.objective} objective; {len(train_rows)} training {unit}, {len(eval_rows)} held out")
    final = loop.run(env, task)
    if env.dist.is_main and task.report:
        shown = {k: round(v, 4) for k, v in task.report.items()}
        print(f"rm: final held-out metrics {json.dumps(shown)}")
    return final


# ---------------------------------------------------------------------------------------------
# alignkit score


def open_reward_model(model_dir: str | Path):
    """(model, tokenizer, packed) of a reward model directory, for scoring."""
    model, tokenizer, packed = classify.open_classifier(model_dir, "a reward model")
    if model.config.num_labels != 1:
        raise UserError(f"{model_dir}: a reward model has 1 output; this one has {model.config.num_labels}")
    return model, tokenizer, packed


def score(model_dir: str, data: str, out: str, batch_size: int = 32, max_length: int = 512) -> dict[str, float]:
    """Rewards of every row as JSONL: prompt/answer rows get 'reward'; preference rows get
    'chosen_reward' and 'rejected_reward' (and the pairwise accuracy is returned)."""
    model, tokenizer, packed = open_reward_model(model_dir)
    raw = read_rows(resolve_path(data))
    if not raw:
        raise UserError(f"{data}: no rows")
    preference = "chosen" in raw[0].fields and "rejected" in raw[0].fields
    if preference:
        pairs = [preference_of(row) for row in raw]
        encoded = encode_pairs(tokenizer, pairs, max_length, 0.0)
    else:
        answers = [scored_of(row, score_required=False) for row in raw]
        encoded = encode_answers(tokenizer, [a.prompt for a in answers], [a.answer for a in answers], max_length)
    rewards = score_encoded(model, encoded, batch_size, packed, tokenizer.pad_token_id).tolist()
    records, metrics = [], {}
    if preference:
        count = len(raw)
        for index, row in enumerate(raw):
            records.append({**row.fields, "chosen_reward": rewards[index], "rejected_reward": rewards[count + index]})
        metrics = pairwise_metrics(torch.tensor(rewards[:count]), torch.tensor(rewards[count:]))
    else:
        records = [{**row.fields, "reward": value} for row, value in zip(raw, rewards, strict=True)]
        if all(a.score is not None for a in answers):
            metrics = regression_metrics(np.array(rewards), np.array([a.score for a in answers]))
    write_jsonl(out, records)
    return metrics


def ensure_demo_model(quick: bool = False) -> Path:
    """The demo's reward model:
    final/ of its run in runs/demo (runs/demo-quick), with the lifecycle's stages up to it run
    first where missing, exactly as `alignkit demo` runs them."""
    from alignkit import demo

    return demo.ensure("rm", quick)
