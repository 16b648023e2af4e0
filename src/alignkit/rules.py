"""Verifiable rules for GRPO's demo, in plain Python with nothing but the standard library, so that any
trainer can load this file by its path (`--grpo.reward src/alignkit/rules.py:step_format`, or TRL's
GRPOTrainer in an environment without alignkit)."""

from __future__ import annotations

import re

STEP = re.compile(r"(\d+)\.\s*\S")


def text_of(completion) -> str:
    """An answer's text: a string, or chat messages (TRL passes conversational completions so)."""
    if isinstance(completion, str):
        return completion
    return "".join(message.get("content") or "" for message in completion)


def step_format(prompts: list, completions: list[str], max_steps: list | None = None, **_) -> list[float]:
    """1.0 for an answer in the house format within its step limit, else 0.0: an opening line, then
    lines numbered 1, 2, ..., n in order with 1 <= n <= the row's `max_steps` (3 where it has none),
    then at least one closing line. An answer cut off at the token limit has no closing line."""
    limits = max_steps or [None] * len(completions)
    rewards = []
    for completion, limit in zip(completions, limits, strict=True):
        lines = [line.strip() for line in text_of(completion).strip().splitlines() if line.strip()]
        numbered = [i for i, line in enumerate(lines) if STEP.match(line)]
        steps = [int(STEP.match(lines[i]).group(1)) for i in numbered]
        ok = (
            bool(numbered)
            and numbered[0] > 0  # an opening line
            and numbered == list(range(numbered[0], numbered[0] + len(numbered)))  # the steps are together
            and steps == list(range(1, len(steps) + 1))
            and len(steps) <= int(limit or 3)  # a CSV file gives the limit as text
            and numbered[-1] < len(lines) - 1  # a closing line
        )
        rewards.append(1.0 if ok else 0.0)
    return rewards
