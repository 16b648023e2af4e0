"""Tokenize conversations with the chat template and decide which tokens learn.

This is the ONE place that decides it: a token learns when it is part of an assistant turn's
content or the end-of-turn token that closes it (so the model learns to stop). The system and user
turns, the template's role headers and anything after the end-of-turn marker (ChatML's newline)
never learn.

How: the template renders the conversation once; each assistant turn's characters are found by
rendering the conversation up to the turn with the generation prompt (where the answer starts) and
up to the end of the turn (where it ends), which works for any template that renders earlier turns
the same whatever follows. The tokenizer's character offsets then map those spans onto tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from alignkit.data.formats import Conversation
from alignkit.errors import UserError
from alignkit.models.tokenizer import end_of_turn_ids

TrainOn = Literal["all_turns", "last_turn"]


@dataclass
class EncodedExample:
    """input_ids: (T,) int64. loss_mask: (T,) bool; loss_mask[t] means token t is learned, i.e.
    predicted from input_ids[:t]. source: file:line of the row it came from."""

    input_ids: np.ndarray
    loss_mask: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodeStats:
    """Totals over a data set, for the log and `alignkit inspect-data`."""

    examples: int = 0
    kept: int = 0
    truncated: int = 0
    dropped: int = 0  # no learning token left after truncation
    tokens: int = 0
    learning_tokens: int = 0
    dropped_sources: list[str] = field(default_factory=list)

    def summary(self) -> str:
        share = 100 * self.learning_tokens / max(self.tokens, 1)
        return (
            f"{self.examples} examples -> {self.kept} kept ({self.truncated} truncated, {self.dropped} dropped: "
            f"no answer token left within max_length); {self.tokens} tokens, {share:.1f}% learning"
        )


def render(tokenizer, messages: Conversation, add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def assistant_spans(tokenizer, messages: Conversation, train_on: TrainOn, source: str = "") -> tuple[str, list]:
    """(rendered conversation, [(start, end) character span of each learning assistant turn])."""
    full = render(tokenizer, messages)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if train_on == "last_turn":
        turns = turns[-1:]
    spans = []
    for index in turns:
        prefix = render(tokenizer, messages[:index], add_generation_prompt=True)
        upto = render(tokenizer, messages[: index + 1])
        if not (full.startswith(upto) and upto.startswith(prefix)):
            raise UserError(
                f"{source}: the chat template renders earlier turns differently once later turns follow, so "
                f"answer tokens cannot be located; use --data.train-on last_turn"
            )
        spans.append((len(prefix), len(upto)))
    return full, spans


def learning_mask(offsets: list[tuple[int, int]], input_ids: list[int], spans: list, stop_ids: set[int]) -> np.ndarray:
    """Tokens overlapping an assistant span learn, up to and including the span's last end-of-turn
    token (what a template adds after it, like ChatML's newline, is not the answer)."""
    mask = np.zeros(len(input_ids), dtype=bool)
    starts = np.array([o[0] for o in offsets], dtype=np.int64)
    ends = np.array([o[1] for o in offsets], dtype=np.int64)
    for span_start, span_end in spans:
        inside = np.flatnonzero((ends > span_start) & (starts < span_end) & (ends > starts))
        if len(inside) == 0:
            continue
        stops = [i for i in inside if input_ids[i] in stop_ids]
        last = stops[-1] if stops else inside[-1]
        mask[inside[inside <= last]] = True
    return mask


def encode_conversation(
    tokenizer, messages: Conversation, train_on: TrainOn = "all_turns", source: str = ""
) -> EncodedExample:
    """One conversation -> token ids and loss mask, untruncated."""
    text, spans = assistant_spans(tokenizer, messages, train_on, source)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    mask = learning_mask(encoded["offset_mapping"], ids, spans, set(end_of_turn_ids(tokenizer)))
    return EncodedExample(np.asarray(ids, dtype=np.int64), mask, source)


def fit_to_length(
    tokenizer, messages: Conversation, max_length: int, train_on: TrainOn, source: str = ""
) -> tuple[EncodedExample | None, bool]:
    """Encode within max_length tokens, keeping what matters: first drop the oldest user/assistant
    exchanges (the system turn stays), then cut the end. (example or None if nothing would learn,
    whether it was truncated)."""
    example = encode_conversation(tokenizer, messages, train_on, source)
    if len(example) <= max_length:
        return (example if example.loss_mask.any() else None), False
    system = messages[:1] if messages[0]["role"] == "system" else []
    body = messages[len(system) :]
    while len(example) > max_length and sum(m["role"] == "assistant" for m in body) > 1:
        body = body[2:]
        example = encode_conversation(tokenizer, system + body, train_on, source)
    example = EncodedExample(example.input_ids[:max_length], example.loss_mask[:max_length], source)
    return (example if example.loss_mask.any() else None), True


def encode_dataset(
    tokenizer, conversations: list[tuple[Conversation, str]], max_length: int, train_on: TrainOn = "all_turns"
) -> tuple[list[EncodedExample], EncodeStats]:
    """(conversation, source) pairs -> encoded examples within max_length, and the totals.
    Examples with no learning token left are dropped and counted, never trained on silently."""
    stats = EncodeStats(examples=len(conversations))
    texts, spans_of = [], []
    for messages, source in conversations:
        text, spans = assistant_spans(tokenizer, messages, train_on, source)
        texts.append(text)
        spans_of.append(spans)
    stop_ids = set(end_of_turn_ids(tokenizer))
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True) if texts else None
    examples = []
    for index, (messages, source) in enumerate(conversations):
        ids = encoded["input_ids"][index]
        if len(ids) <= max_length:
            mask = learning_mask(encoded["offset_mapping"][index], ids, spans_of[index], stop_ids)
            example = EncodedExample(np.asarray(ids, dtype=np.int64), mask, source) if mask.any() else None
        else:
            example, _ = fit_to_length(tokenizer, messages, max_length, train_on, source)
            stats.truncated += 1
        if example is None:
            stats.dropped += 1
            stats.dropped_sources.append(source)
            continue
        examples.append(example)
        stats.tokens += len(example)
        stats.learning_tokens += int(example.loss_mask.sum())
    stats.kept = len(examples)
    return examples, stats
