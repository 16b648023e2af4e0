"""Row schemas: what fields a row of each kind of data must have. Errors name the row's file:line.

Chat-like rows of every shape people have on disk become one thing: a conversation, a list of
`{"role": "system"|"user"|"assistant", "content": str}` messages. Shapes understood:

- prompt_answer: `prompt`/`answer`, `prompt`/`completion`, `prompt`/`response`, `question`/`answer`
  (optional `system`); `prompt` and `completion` may also be message lists (conversational form)
- messages: OpenAI style `messages` (optional system turn first)
- alpaca: `instruction`, `input`, `output`, optional `system` and `history` ([[user, assistant], ...])
- sharegpt: `conversations` of `{"from": human|gpt|system, "value": ...}`, optional top-level `system`
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from alignkit.data.readers import Row
from alignkit.errors import UserError

TEXT_FIELDS = ("text", "content")
CHAT_FORMATS = ("prompt_answer", "messages", "alpaca", "sharegpt")
PROMPT_ANSWER_KEYS = (("prompt", "answer"), ("prompt", "completion"), ("prompt", "response"), ("question", "answer"))
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}

Conversation = list[dict[str, str]]


def text_of(row: Row, field: str | None = None, candidates: tuple[str, ...] = TEXT_FIELDS) -> str:
    """The text of a row: `field` if given, else the first of `candidates` the row has."""
    names = (field,) if field else candidates
    for name in names:
        if name in row.fields:
            value = row.fields[name]
            if not isinstance(value, str):
                raise UserError(f"{row.source}: field '{name}' should be a string, got {type(value).__name__}")
            return value
    wanted = f"'{names[0]}'" + (f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else "")
    found = ", ".join(sorted(map(str, row.fields))) or "none"
    raise UserError(f"{row.source}: expected a {wanted} field (a string); found fields: {found}")


def detect_chat_format(row: Row) -> str | None:
    """The chat format a row's fields fit, or None."""
    fields = row.fields
    if "messages" in fields:
        return "messages"
    if "conversations" in fields:
        return "sharegpt"
    if "instruction" in fields and "output" in fields:
        return "alpaca"
    if any(p in fields and a in fields for p, a in PROMPT_ANSWER_KEYS):
        return "prompt_answer"
    return None


def _expected(fmt: str) -> str:
    return {
        "prompt_answer": "'prompt' and 'answer' (or 'completion'/'response'; or 'question' and 'answer')",
        "messages": "'messages': a list of {role, content} with roles system/user/assistant",
        "alpaca": "'instruction', 'output' (optional 'input', 'system', 'history')",
        "sharegpt": "'conversations': a list of {from: human|gpt|system, value}",
    }[fmt]


def _string(row: Row, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"{row.source}: {what} should be a string, got {type(value).__name__}")
    return value


def _check(row: Row, messages: Conversation, fmt: str) -> Conversation:
    """System first if at all, then user and assistant turns alternating, ending with an assistant turn."""
    body = messages[1:] if messages and messages[0]["role"] == "system" else messages
    for index, message in enumerate(body):
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise UserError(
                f"{row.source}: turn {index + 1} of the conversation is '{message['role']}', expected '{expected}' "
                f"(a conversation is an optional system turn, then user and assistant turns alternating)"
            )
    if not body or body[-1]["role"] != "assistant":
        raise UserError(f"{row.source}: the conversation should end with an assistant turn ({fmt} format)")
    return messages


def _message_list(row: Row, value: Any, field: str, role_key: str, text_key: str, roles: dict[str, str]):
    if not isinstance(value, list) or not value:
        raise UserError(f"{row.source}: '{field}' should be a non-empty list of {{{role_key}, {text_key}}}")
    messages = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or role_key not in item or text_key not in item:
            raise UserError(f"{row.source}: {field}[{index}] should be an object with '{role_key}' and '{text_key}'")
        role = roles.get(str(item[role_key]).lower())
        if role is None:
            raise UserError(
                f"{row.source}: {field}[{index}] has {role_key} '{item[role_key]}'; expected one of {', '.join(roles)}"
            )
        messages.append({"role": role, "content": _string(row, item[text_key], f"{field}[{index}].{text_key}")})
    return messages


def _with_system(row: Row, messages: Conversation) -> Conversation:
    system = row.fields.get("system")
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": _string(row, system, "'system'")}, *messages]
    return messages


def conversation_of(row: Row, fmt: str = "auto") -> Conversation:
    """A chat-like row of any supported shape -> its conversation (checked)."""
    detected = detect_chat_format(row)
    if fmt == "auto":
        if detected is None:
            found = ", ".join(sorted(map(str, row.fields))) or "none"
            raise UserError(
                f"{row.source}: fits no chat format; expected one of: {'; '.join(map(_expected, CHAT_FORMATS))}. "
                f"Found fields: {found}"
            )
        fmt = detected
    fields = row.fields
    roles = {r: r for r in ROLES}
    if fmt == "messages":
        if "messages" not in fields:
            raise UserError(f"{row.source}: expected {_expected(fmt)}")
        messages = _message_list(row, fields["messages"], "messages", "role", "content", roles)
    elif fmt == "sharegpt":
        if "conversations" not in fields:
            raise UserError(f"{row.source}: expected {_expected(fmt)}")
        messages = _message_list(row, fields["conversations"], "conversations", "from", "value", SHAREGPT_ROLES)
    elif fmt == "alpaca":
        if "instruction" not in fields or "output" not in fields:
            raise UserError(f"{row.source}: expected {_expected(fmt)}")
        history = fields.get("history") or []
        if not isinstance(history, list) or any(not isinstance(h, (list, tuple)) or len(h) != 2 for h in history):
            raise UserError(f"{row.source}: 'history' should be a list of [user, assistant] pairs")
        messages = []
        for user, assistant in history:
            messages.append({"role": "user", "content": _string(row, user, "a history turn")})
            messages.append({"role": "assistant", "content": _string(row, assistant, "a history turn")})
        instruction = _string(row, fields["instruction"], "'instruction'")
        extra = _string(row, fields.get("input") or "", "'input'")
        messages.append({"role": "user", "content": f"{instruction}\n{extra}" if extra else instruction})
        messages.append({"role": "assistant", "content": _string(row, fields["output"], "'output'")})
    elif fmt == "prompt_answer":
        keys = next(((p, a) for p, a in PROMPT_ANSWER_KEYS if p in fields and a in fields), None)
        if keys is None:
            raise UserError(f"{row.source}: expected {_expected(fmt)}")
        prompt, answer = fields[keys[0]], fields[keys[1]]
        if isinstance(prompt, list) and isinstance(answer, list):  # conversational prompt/completion
            messages = _message_list(row, prompt, keys[0], "role", "content", roles)
            messages += _message_list(row, answer, keys[1], "role", "content", roles)
        else:
            messages = [
                {"role": "user", "content": _string(row, prompt, f"'{keys[0]}'")},
                {"role": "assistant", "content": _string(row, answer, f"'{keys[1]}'")},
            ]
    else:
        raise UserError(f"data.format: unknown format '{fmt}'; expected auto or one of {', '.join(CHAT_FORMATS)}")
    return _check(row, _with_system(row, messages), fmt)


# ---------------------------------------------------------------------------------------------
# Labelled rows (classification, multi-label, regression)

LABELLED_TEXT_FIELDS = ("text", "sentence", "content")


@dataclass(frozen=True)
class LabelledRow:
    """A text (and optional second text) with its raw target: a class name or index (single), a
    list of them (multi), or a number (regression)."""

    text: str
    text_pair: str | None
    target: Any
    source: str


def default_label_field(task: str, fields: dict[str, Any]) -> str:
    if task == "multi":
        return "labels" if "labels" in fields else "label"
    if task == "regression":
        return "score" if "score" in fields else "label"
    return "label"


def labelled_of(
    row: Row,
    task: str,
    text_field: str | None = None,
    pair_field: str | None = None,
    label_field: str | None = None,
    target_required: bool = True,
) -> LabelledRow:
    """A labelled row, its fields checked; errors name file:line and what was expected. Without
    `target_required` a row with no target gives target None (rows to predict)."""
    fields = row.fields
    text = text_of(row, text_field, LABELLED_TEXT_FIELDS)
    pair_name = pair_field or ("text_pair" if "text_pair" in fields else None)
    pair = text_of(row, pair_name) if pair_name is not None else None
    target_name = label_field or default_label_field(task, fields)
    if target_name not in fields or fields[target_name] in (None, ""):
        if not target_required:
            return LabelledRow(text, pair, None, row.source)
        what = {"single": "a class name or index", "multi": "a list of labels", "regression": "a number"}[task]
        raise UserError(f"{row.source}: expected '{target_name}': {what}")
    target = fields[target_name]
    if task == "regression":
        try:
            target = float(target)
        except (TypeError, ValueError):
            raise UserError(f"{row.source}: '{target_name}' should be a number, got {target!r}") from None
        if target != target or target in (float("inf"), float("-inf")):
            raise UserError(f"{row.source}: '{target_name}' should be a finite number, got {target}")
    elif task == "multi":
        if isinstance(target, str):  # CSV: "a,b" or "a|b" or a JSON list
            target = [t.strip() for t in target.replace("|", ",").strip("[]").split(",") if t.strip()]
        plain = isinstance(target, list) and all(isinstance(t, str | int) and not isinstance(t, bool) for t in target)
        if not plain:
            raise UserError(f"{row.source}: '{target_name}' should be a list of label names or indices")
        target = [str(t).strip("\"'") for t in target]
    else:
        if isinstance(target, bool) or not isinstance(target, str | int):
            raise UserError(f"{row.source}: '{target_name}' should be a class name or index, got {target!r}")
        target = str(target)
    return LabelledRow(text, pair, target, row.source)


# ---------------------------------------------------------------------------------------------
# Preference pairs and scored answers (reward model, DPO)

HH_USER, HH_ASSISTANT = "\n\nHuman:", "\n\nAssistant:"


@dataclass(frozen=True)
class PreferencePair:
    """A prompt (the conversation so far, ending with a user turn) and two answers to it, the
    chosen one preferred; `margin` is the row's own preference strength when it gives one."""

    prompt: Conversation
    chosen: str
    rejected: str
    source: str
    margin: float | None = None


@dataclass(frozen=True)
class ScoredAnswer:
    """A prompt, one answer and its score (None when the row carries none: rows to score)."""

    prompt: Conversation
    answer: str
    score: float | None
    source: str


def _prompt_messages(row: Row, value: Any, field: str) -> Conversation:
    """A prompt given as text (one user turn) or as messages ending with a user turn."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages = _message_list(row, value, field, "role", "content", {r: r for r in ROLES})
    if messages[-1]["role"] != "user":
        raise UserError(f"{row.source}: '{field}' should end with a user turn")
    return messages


def _answer_text(row: Row, value: Any, field: str) -> str:
    """An answer given as text, as one {role: assistant, content} message (or a list of one), or as
    ShareGPT's {from: gpt, value}."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        text = value.get("content", value.get("value"))
        role = str(value.get("role", value.get("from", "assistant"))).lower()
        if SHAREGPT_ROLES.get(role) == "assistant" and isinstance(text, str):
            return text
    if isinstance(value, str):
        return value
    raise UserError(f"{row.source}: '{field}' should be an answer: a string or one assistant message")


def split_hh_dialogue(row: Row, text: str, field: str, cut: int | None = None) -> tuple[Conversation, str]:
    """An HH-RLHF dialogue ("\\n\\nHuman: ... \\n\\nAssistant: ...") -> (the turns before the
    assistant turn at character `cut` (default: the last one), everything after its marker)."""
    cut = text.rfind(HH_ASSISTANT) if cut is None else cut
    if cut < 0:
        raise UserError(f"{row.source}: '{field}' has no '{HH_ASSISTANT.strip()}' turn to split the answer at")
    answer = text[cut + len(HH_ASSISTANT) :].strip()
    messages: Conversation = []
    rest = text[:cut]
    while rest:
        starts = [(rest.find(m, 1), m) for m in (HH_USER, HH_ASSISTANT) if rest.find(m, 1) > 0]
        end = min(starts)[0] if starts else len(rest)
        piece = rest[:end]
        role = "user" if piece.startswith(HH_USER) else "assistant" if piece.startswith(HH_ASSISTANT) else None
        if role is None:
            raise UserError(f"{row.source}: '{field}' should be turns starting with '{HH_USER.strip()}'")
        marker = HH_USER if role == "user" else HH_ASSISTANT
        messages.append({"role": role, "content": piece[len(marker) :].strip()})
        rest = rest[end:]
    if not messages or messages[-1]["role"] != "user":
        raise UserError(f"{row.source}: '{field}' should have a human turn before its last assistant turn")
    return messages, answer


def preference_of(row: Row) -> PreferencePair:
    """A preference row of any supported shape -> (prompt, chosen, rejected). Shapes:
    - prompt/chosen/rejected: the prompt as text or messages, answers as text or one assistant
      message (TRL's conversational form); the feedback export writes this shape
    - ShareGPT preference (LLaMA-Factory): `conversations` + `chosen`/`rejected` {from: gpt, value}
    - HH-RLHF: `chosen`/`rejected` whole dialogues, split at the last "\\n\\nAssistant:" they share
    An optional numeric `margin` field is kept."""
    fields = row.fields
    if "chosen" not in fields or "rejected" not in fields:
        found = ", ".join(sorted(map(str, fields))) or "none"
        raise UserError(
            f"{row.source}: a preference row needs 'chosen' and 'rejected' (with 'prompt', or ShareGPT "
            f"'conversations', or whole HH-RLHF dialogues); found fields: {found}"
        )
    if "prompt" in fields:
        prompt = _prompt_messages(row, fields["prompt"], "prompt")
        chosen, rejected = (
            _answer_text(row, fields["chosen"], "chosen"),
            _answer_text(row, fields["rejected"], "rejected"),
        )
    elif "conversations" in fields:
        prompt = _message_list(row, fields["conversations"], "conversations", "from", "value", SHAREGPT_ROLES)
        prompt = _with_system(row, prompt)
        if prompt[-1]["role"] != "user":
            raise UserError(f"{row.source}: 'conversations' should end with a human turn")
        chosen, rejected = (
            _answer_text(row, fields["chosen"], "chosen"),
            _answer_text(row, fields["rejected"], "rejected"),
        )
    elif isinstance(fields["chosen"], str) and isinstance(fields["rejected"], str):
        # the prompt is what both dialogues share, up to an assistant turn (in a few HH rows the two
        # differ before their last turn: the answers are then everything after the shared part)
        shared = os.path.commonprefix([fields["chosen"], fields["rejected"]])
        cut = shared.rfind(HH_ASSISTANT)
        if cut < 0:
            raise UserError(f"{row.source}: 'chosen' and 'rejected' share no '{HH_ASSISTANT.strip()}' turn to answer")
        prompt, chosen = split_hh_dialogue(row, fields["chosen"], "chosen", cut)
        rejected = fields["rejected"][cut + len(HH_ASSISTANT) :].strip()
    else:
        raise UserError(f"{row.source}: without a 'prompt', 'chosen' and 'rejected' should be whole dialogues")
    margin = fields.get("margin")
    if margin is not None and not _finite_number(margin):
        raise UserError(f"{row.source}: 'margin' should be a finite number, got {margin!r}")
    return PreferencePair(prompt, chosen, rejected, row.source, None if margin is None else float(margin))


SCORE_FIELDS = ("score", "reward", "label")


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def scored_of(row: Row, score_required: bool = True) -> ScoredAnswer:
    """A prompt/answer row with a numeric score (the feedback export's prompt/completion/score, or
    any chat row whose last turn is the answer) -> ScoredAnswer."""
    conversation = conversation_of(row)
    name = next((n for n in SCORE_FIELDS if n in row.fields), None)
    score = None
    if name is not None:
        value = row.fields[name]
        if not _finite_number(value):
            raise UserError(f"{row.source}: '{name}' should be a finite number, got {value!r}")
        score = float(value)
    elif score_required:
        raise UserError(
            f"{row.source}: expected a numeric 'score' (or 'reward', 'label') for a regression reward model"
        )
    return ScoredAnswer(conversation[:-1], conversation[-1]["content"], score, row.source)


# ---------------------------------------------------------------------------------------------
# Good/bad votes on single answers (KTO)

VOTE_LABELS = ("label", "kto_tag")


@dataclass(frozen=True)
class Vote:
    """A prompt (ending with a user turn), one answer to it, and whether people found it good."""

    prompt: Conversation
    completion: str
    desirable: bool
    source: str


def votes_of(row: Row) -> list[Vote]:
    """A row of votes of any supported shape -> its votes. Shapes:
    - prompt/completion/label: the prompt as text or messages, the completion as text or one
      assistant message (the feedback export's votes; TRL's unpaired preference rows)
    - messages ending with the assistant's answer, + label (LLaMA-Factory's KTO)
    - ShareGPT conversations ending with the answer, + kto_tag (LLaMA-Factory's KTO, ShareGPT form)
    - a preference pair of any shape preference_of reads: two votes, chosen good and rejected bad.
    The label is a boolean (true = good), or 1 / 0."""
    fields = row.fields
    key = next((k for k in VOTE_LABELS if k in fields), None)
    if key is None:
        if "chosen" in fields and "rejected" in fields:
            pair = preference_of(row)
            return [
                Vote(pair.prompt, pair.chosen, True, row.source),
                Vote(pair.prompt, pair.rejected, False, row.source),
            ]
        found = ", ".join(sorted(map(str, fields))) or "none"
        raise UserError(
            f"{row.source}: a vote needs a boolean 'label' (with prompt/completion or messages) or 'kto_tag' (with "
            f"ShareGPT conversations), or a preference pair (chosen/rejected); found fields: {found}"
        )
    label = fields[key]
    if not isinstance(label, bool) and label not in (0, 1):
        raise UserError(f"{row.source}: '{key}' should be true (a good answer) or false, got {label!r}")
    if "prompt" in fields and "completion" in fields:
        prompt = _prompt_messages(row, fields["prompt"], "prompt")
        completion = _answer_text(row, fields["completion"], "completion")
    elif "messages" in fields or "conversations" in fields:
        messages = conversation_of(row, "messages" if "messages" in fields else "sharegpt")  # ends with the answer
        prompt, completion = messages[:-1], messages[-1]["content"]
    else:
        raise UserError(f"{row.source}: a '{key}' row needs 'prompt' and 'completion', or 'messages'")
    return [Vote(prompt, completion, bool(label), row.source)]
