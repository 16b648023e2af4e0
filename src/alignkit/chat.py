"""Interactive terminal chat with an assistant model: the engine of `alignkit chat --model DIR`.

One conversation, kept as a list of chat messages and re-templated every turn, so what the model
sees is exactly what training (SFT / DPO) showed it. Answers stream token by token through
transformers' `generate` with a KV cache, and stop at the end-of-turn tokens the tokenizer defines.
"""

from __future__ import annotations

import sys
from typing import TextIO

import torch
from transformers import TextStreamer

from alignkit.errors import UserError
from alignkit.models import load
from alignkit.models.tokenizer import end_of_turn_ids

Message = dict[str, str]
HELP = "/reset clears the conversation, /exit quits"


class StreamTo(TextStreamer):
    """TextStreamer that writes to any stream (stdout by default, a StringIO in tests) and flushes,
    so each word appears as soon as it is decoded."""

    def __init__(self, tokenizer, output_stream: TextIO) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.output_stream = output_stream

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.output_stream.write(text + ("\n" if stream_end else ""))
        self.output_stream.flush()


def read_line(input_stream: TextIO, output_stream: TextIO) -> str | None:
    """The next line without its newline, or None at end of input. The real terminal goes through
    `input()`, which gives line editing where the readline module is available."""
    if input_stream is sys.stdin and output_stream is sys.stdout:
        try:
            return input("you> ")
        except EOFError:
            return None
    output_stream.write("you> ")
    output_stream.flush()
    line = input_stream.readline()
    return line.rstrip("\r\n") if line else None


def encode(tokenizer, messages: list[Message]) -> torch.Tensor:
    """Templated prompt ids (1, T), ending with the assistant's generation prompt. The template holds
    every special token, so the tokenizer adds none of its own (as in rollout.generate)."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]


def fit_context(tokenizer, history: list[Message], budget: int | None) -> tuple[list[Message], torch.Tensor] | None:
    """Drop the oldest user/assistant pairs (never the system turn) until the prompt leaves room for
    the answer. None when the newest message alone is too long: then nothing is dropped at all."""
    first = 1 if history[0]["role"] == "system" else 0
    kept = list(history)
    while True:
        ids = encode(tokenizer, kept)
        if budget is None or ids.shape[1] <= budget:
            return kept, ids
        if len(kept) - first <= 1:
            return None
        del kept[first : first + 2]


def chat(
    model: str,
    system: str | None = None,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    input_stream: TextIO = sys.stdin,
    output_stream: TextIO = sys.stdout,
) -> None:
    """Talk to the model in `model` until /exit, EOF or Ctrl-C at the prompt."""
    if temperature < 0 or not 0 < top_p <= 1 or top_k < 0 or max_new_tokens < 1:
        raise UserError("chat: expected temperature >= 0, 0 < top_p <= 1, top_k >= 0, max_new_tokens >= 1")
    path = load.checkpoint_dir(model)
    tokenizer = load.load_tokenizer(path)
    if not tokenizer.chat_template:
        raise UserError(f"{path} has no chat template; chat needs an assistant model (e.g. runs/sft/final)")
    lm = load.load_causal_lm(path)
    load.fit_embeddings(lm, tokenizer)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm.to(device).eval()
    max_positions = getattr(lm.config, "max_position_embeddings", None)
    budget = None if max_positions is None else max_positions - max_new_tokens
    if budget is not None and budget < 1:
        raise UserError(f"chat: max_new_tokens must be below the model's context ({max_positions} tokens)")
    greedy = temperature == 0
    torch.manual_seed(seed)  # once: each answer draws on from where the last one stopped
    streamer = StreamTo(tokenizer, output_stream)
    start: list[Message] = [{"role": "system", "content": system}] if system else []
    history = list(start)
    noted_drop = False

    output_stream.write(f"chatting with {path} ({HELP})\n")
    while True:
        try:
            line = read_line(input_stream, output_stream)
        except KeyboardInterrupt:  # Ctrl-C at the prompt: leave
            line = None
        if line is None or line.strip() in ("/exit", "/quit"):
            output_stream.write("\n" if line is None else "")
            return
        line = line.strip()
        if not line:
            continue
        if line == "/reset":
            history = list(start)
            output_stream.write("(conversation cleared)\n")
            continue
        if line.startswith("/") and len(line.split()) == 1:
            output_stream.write(f"unknown command {line}; {HELP}\n")
            continue

        fitted = fit_context(tokenizer, [*history, {"role": "user", "content": line}], budget)
        if fitted is None:
            output_stream.write(f"(that message is too long for the model's {max_positions}-token context)\n")
            continue
        messages, ids = fitted
        if len(messages) < len(history) + 1 and not noted_drop:
            output_stream.write("(older turns dropped to fit the model's context)\n")
            noted_drop = True
        output_stream.write("assistant> ")
        output_stream.flush()
        try:
            with torch.inference_mode():
                output = lm.generate(
                    input_ids=ids.to(device),
                    attention_mask=torch.ones_like(ids, device=device),
                    max_new_tokens=max_new_tokens,
                    do_sample=not greedy,
                    temperature=None if greedy else temperature,
                    top_p=None if greedy else top_p,
                    top_k=None if greedy else top_k,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=end_of_turn_ids(tokenizer),
                    use_cache=True,
                    streamer=streamer,
                )
        except KeyboardInterrupt:  # Ctrl-C while answering: drop this exchange, back to the prompt
            streamer.end()
            output_stream.write("(answer stopped; this turn is not kept)\n")
            continue
        reply = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)
        history = [*messages, {"role": "assistant", "content": reply}]
