"""Batched sampling with a KV cache: left-padded prompts through transformers' `generate`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from alignkit.models.tokenizer import end_of_turn_ids


@dataclass(frozen=True)
class Sampling:
    """temperature 0 means greedy; top_k 0 and top_p 1 mean no truncation."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0


def prompt_texts(tokenizer, prompts: list[str], chat: bool) -> list[str]:
    """Raw prompts for a base model; the chat template with a generation prompt for an assistant."""
    if not chat:
        return prompts
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], sampling: Sampling, chat: bool = False, batch_size: int = 16):
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
