"""Batched sampling with a KV cache: left-padded prompts through transformers' `generate`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LogitsProcessorList

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


def as_messages(prompt: Prompt) -> list[dict[str, str]]:
    """A prompt as chat messages: raw text is one user turn."""
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt


def prompt_texts(tokenizer, prompts: list[Prompt], chat: bool) -> list[str]:
    """Raw text prompts stay as they are unless `chat`; conversations always go through the chat
    template, with the generation prompt that opens the assistant's turn."""
    texts = []
    for prompt in prompts:
        if isinstance(prompt, str) and not chat:
            texts.append(prompt)
            continue
        texts.append(tokenizer.apply_chat_template(as_messages(prompt), add_generation_prompt=True, tokenize=False))
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


class CategoricalSampler:
    """A logits processor that draws each row's next token itself and returns scores whose argmax is
    that token, so `generate` runs in greedy mode around it. The draw is from softmax(logits /
    temperature), cut to the top_k tokens and to the top_p nucleus as transformers' TopK and TopP
    warpers cut it, by inverting the cumulative distribution with one uniform number per row.
    `generate`'s own sampling calls torch.multinomial, which draws a random number for every
    vocabulary entry: most of a small model's decoding step on a CPU."""

    def __init__(self, temperature: float, top_k: int = 0, top_p: float = 1.0):
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.generators: list[torch.Generator] | None = None  # one per row: its draws its own

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.float() / self.temperature
        if 0 < self.top_k < logits.shape[-1]:
            kth = logits.topk(self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            ordered, order = logits.sort(dim=-1)  # ascending, as TopPLogitsWarper
            cut = ordered.softmax(dim=-1).cumsum(dim=-1) <= 1 - self.top_p
            cut[:, -1] = False  # the likeliest token always stays
            logits = logits.masked_fill(cut.scatter(1, order, cut), float("-inf"))
        return logits.softmax(dim=-1)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        cdf = self.probabilities(scores).double().cumsum(dim=-1)
        if self.generators is None:
            uniform = torch.rand(len(cdf), 1, dtype=torch.float64, device=cdf.device)
        else:
            draws = [torch.rand(1, dtype=torch.float64, generator=g) for g in self.generators]
            uniform = torch.stack(draws).to(cdf.device)
        uniform = uniform * cdf[:, -1:]
        tokens = torch.searchsorted(cdf, uniform, right=True).clamp(max=cdf.shape[-1] - 1)
        return torch.full_like(scores, float("-inf")).scatter(1, tokens, 0.0)


@dataclass
class Samples:
    """Sampled answers as tokens. query_ids/query_mask: (B, Q) left-padded prompts; response_ids:
    (B, R) answers, pad after their end; response_mask: (B, R) 1 on an answer's tokens up to and
    including its end-of-turn token; ended: (B,) whether the answer has its end-of-turn token (within
    max_new_tokens)."""

    query_ids: torch.Tensor
    query_mask: torch.Tensor
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    ended: torch.Tensor


@torch.no_grad()
def sample(
    model,
    tokenizer,
    texts: list[str],
    sampling: Sampling,
    batch_size: int = 16,
    max_prompt_length: int | None = None,
    row_seeds: list[int] | None = None,
) -> Samples:
    """Answer already-rendered prompt texts, `batch_size` prompts per `generate` call, all left-padded
    to one width so every row's answer starts at the same position. Too-long prompts lose their start.
    The global RNG is left as it was: the draw depends on `sampling.seed` alone, or with `row_seeds`
    each row's on its own seed, whichever rows it is sampled with (so a rollout split over several
    processes draws what one process would)."""
    device = next(model.parameters()).device
    sides = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    try:
        encoded = tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
            truncation=max_prompt_length is not None,
            max_length=max_prompt_length,
        )
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = sides
    stop_ids = end_of_turn_ids(tokenizer)
    greedy = sampling.temperature <= 0
    sampler = None if greedy else CategoricalSampler(sampling.temperature, sampling.top_k, sampling.top_p)
    was_training = model.training
    model.eval()
    chunks = []
    generators = None if row_seeds is None else [torch.Generator().manual_seed(seed) for seed in row_seeds]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(sampling.seed)
        for start in range(0, len(texts), batch_size):
            query = encoded["input_ids"][start : start + batch_size].to(device)
            mask = encoded["attention_mask"][start : start + batch_size].to(device)
            if sampler is not None and generators is not None:
                sampler.generators = generators[start : start + batch_size]
            output = model.generate(
                input_ids=query,
                attention_mask=mask,
                max_new_tokens=sampling.max_new_tokens,
                do_sample=False,  # greedy around the sampler, when sampling
                logits_processor=None if greedy else LogitsProcessorList([sampler]),
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop_ids,
                use_cache=True,
                # under FSDP generation runs inside distributed.gathered: no per-token sync between processes
                synced_gpus=False,
            )
            chunks.append(output[:, query.shape[1] :])
    model.train(was_training)
    width = max(c.shape[1] for c in chunks)
    response = torch.cat(
        [torch.nn.functional.pad(c, (0, width - c.shape[1]), value=tokenizer.pad_token_id) for c in chunks]
    )
    is_stop = torch.isin(response, torch.tensor(stop_ids, device=response.device))
    ended = is_stop.any(dim=1)
    first_stop = torch.where(ended, is_stop.int().argmax(dim=1), width - 1)
    response_mask = torch.arange(width, device=response.device).unsqueeze(0) <= first_stop.unsqueeze(1)
    response = response.masked_fill(~response_mask, tokenizer.pad_token_id)
    query_ids, query_mask = encoded["input_ids"].to(device), encoded["attention_mask"].to(device)
    return Samples(query_ids, query_mask, response, response_mask, ended)


def generate(model, tokenizer, prompts: list[Prompt], sampling: Sampling, chat: bool = False, batch_size: int = 16):
    """Completions (text after the prompt, special tokens removed), in the order of `prompts`."""
    drawn = sample(model, tokenizer, prompt_texts(tokenizer, prompts, chat), sampling, batch_size)
    return tokenizer.batch_decode(drawn.response_ids, skip_special_tokens=True)
