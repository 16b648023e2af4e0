"""Train a byte-level BPE tokenizer on a corpus and save it so `AutoTokenizer` opens it.

Special tokens: pad (never the same as eos, so padding never teaches the model to stop),
bos, eos (between pretraining documents), and the chat role markers <|im_start|> / <|im_end|>.
<|im_end|> ends every chat turn; it is the token an assistant learns to stop on.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

PAD = "<|pad|>"
BOS = "<|bos|>"
EOS = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, IM_START, IM_END]

# ChatML-style template: every turn is "<|im_start|>role\ncontent<|im_end|>\n".
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """Byte-level BPE over `texts` -> a transformers fast tokenizer with our special tokens and template.

    Byte-level means any UTF-8 text (Chinese included) encodes without unknown tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        extra_special_tokens=[IM_START, IM_END],
        clean_up_tokenization_spaces=False,
        model_max_length=1_000_000,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_atomically(tokenizer, directory: Path) -> None:
    """Write to a sibling temp dir, then rename: a killed run never leaves half a tokenizer."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer.save_pretrained(tmp)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)


# End-of-turn markers of common chat templates (ChatML, Llama 3, Phi-3, Gemma): whichever the
# vocabulary has end an assistant turn, besides eos.
END_OF_TURN_TOKENS = (IM_END, "<|eot_id|>", "<|end|>", "<end_of_turn>")


def end_of_turn_ids(tokenizer) -> list[int]:
    """Token ids that end generation: eos, and the end-of-turn markers the vocabulary has."""
    ids = [tokenizer.eos_token_id]
    for token in END_OF_TURN_TOKENS:  # one lookup each, not a copy of the whole vocabulary
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id not in ids:
            ids.append(token_id)
    return [i for i in ids if i is not None]


def ensure_chat_template(tokenizer) -> bool:
    """Give a tokenizer without a chat template ours (ChatML), adding its role markers as special
    tokens so that <|im_end|> is one token the model can learn to stop on. Returns True if the
    vocabulary grew (the model's embeddings must then grow too)."""
    if tokenizer.chat_template:
        return False
    before = len(tokenizer)
    missing = [t for t in (IM_START, IM_END) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    tokenizer.chat_template = CHAT_TEMPLATE
    return len(tokenizer) > before
