"""Batched sampling with a KV cache: left-padded prompts through transformers' `generate`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from alignkit.errors import UserError
from alignkit.models.tokenizer import end_of_turn_ids


@dataclass(frozen=True)
class Sampling:
    """temperature 0 means greedy; top_k 0 and top_p 1 mean no truncation."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0


Prompt = str | list[dict[str, str]]  # raw text, or a conversation so far (chat messages)


def prompt_texts(tokenizer, prompts: list[Prompt], chat: bool) -> list[str]:
    """Raw text prompts stay as they are unless `chat`; conversations always go through the chat
    template, with the generation prompt that opens the assistant's turn."""
    texts = []
    for prompt in prompts:
        if isinstance(prompt, str) and not chat:
            texts.append(prompt)
            continue
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        texts.append(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    return texts


def read_prompts(path: str) -> list[dict]:
    """A prompts file: rows with a 'prompt' string or chat 'messages' (ending with a user turn)."""
    from alignkit.data.readers import read_rows

    records = []
    for row in read_rows(path):
        fields = row.fields
        if isinstance(fields.get("prompt"), str):
            records.append(dict(fields))
        elif isinstance(fields.get("messages"), list) and fields["messages"]:
            messages = fields["messages"]
            if not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages):
                raise UserError(f"{row.source}: 'messages' should be a list of {{role, content}}")
            if messages[-1]["role"] == "assistant":
                messages = messages[:-1]  # a training row: answer the last user turn afresh
            records.append({**fields, "messages": messages})
        else:
            raise UserError(f"{row.source}: expected a 'prompt' string or a 'messages' list")
    if not records:
        raise UserError(f"{path}: no prompts")
    return records


def prompt_of(record: dict) -> Prompt:
    """What a prompts-file row asks the model: its chat 'messages', else its 'prompt' text."""
    return record.get("messages", record.get("prompt"))


def question_of(record: dict) -> str:
    """The row's question as a person reads it: the prompt text, or the last user turn."""
    return record.get("prompt") or record["messages"][-1]["content"]


@torch.no_grad()
def generate(model, tokenizer, prompts: list[Prompt], sampling: Sampling, chat: bool = False, batch_size: int = 16):
    """Completions (text after the prompt, special tokens removed), in the order of `prompts`."""
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"  # so every row's last prompt token sits at the same position
    texts = prompt_texts(tokenizer, prompts, chat)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(sampling.seed)
    completions: list[str] = []
    model.eval()
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(
            texts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
        )
        encoded = {k: v.to(device) for k, v in encoded.items()}
        greedy = sampling.temperature <= 0
        output = model.generate(
            **encoded,
            max_new_tokens=sampling.max_new_tokens,
            do_sample=not greedy,
            temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p,
            top_k=None if greedy else sampling.top_k,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=end_of_turn_ids(tokenizer),
            use_cache=True,
        )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        completions.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    torch.random.set_rng_state(generator_state)
    return completions
