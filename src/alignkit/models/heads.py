"""A new output head on a pretrained body: classification, multi-label, regression, scalar reward.

The body keeps every pretrained parameter; its old output layer (an LM head, BERT's MLM/NSP heads)
is dropped, and a freshly initialised head sized for the task goes on top. The model is the
transformers `AutoModelForSequenceClassification` class of the body's architecture, so `final/`
opens with that class anywhere and predicts exactly what alignkit predicts. Pooling is therefore
the one that class uses: the [CLS] token through BERT's pooler for encoders, the last non-pad
token for decoders. The exception is a sentence encoder that declares mean pooling (sentence-
transformers' Pooling module, as all-MiniLM-L6-v2 does): its vectors were trained as token means,
so its head reads the mean (models/mean_pool.py, a small class that travels with `final/`).

Which parameters are "the head" is not guessed from names: it is what the checkpoint did not
provide (transformers' loading report), i.e. exactly the newly initialised weights.

Packed fast path (`pooled_logits`): for BERT-style encoders and decoder LMs whose classifier is a
`score` layer, a micro-batch of examples laid end to end in one row (no padding) runs through the
body with variable-length attention, and the head reads each example's [CLS] / last token.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path

import torch

from alignkit.errors import UserError
from alignkit.models import load

PROBLEM_TYPES = {"single": "single_label_classification", "multi": "multi_label_classification", "regression": None}
ENCODERS = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta-v2", "mpnet", "modernbert")
# decoder families whose attention takes variable-length boundaries (cu_seq_lens) through kwargs
DECODERS = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo2")
POOLING_NAMES = {"mean": "mean pooling", "cls": "[CLS] pooling", "last": "last-token pooling"}


@dataclass
class Labels:
    """The task's targets: names of the classes (single), of the labels (multi), or ['score']."""

    task: str
    names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.names)


def declared_pooling(body: Path) -> str | None:
    """The pooling a sentence-transformers checkpoint declares in its Pooling module's config
    (modules.json -> e.g. 1_Pooling/config.json): 'mean', 'cls', or None (none declared, or another)."""
    import json

    try:
        modules = json.loads((Path(body) / "modules.json").read_text(encoding="utf-8"))
        path = next(m["path"] for m in modules if m.get("type", "").endswith("models.Pooling"))
        modes = json.loads((Path(body) / path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
        return None
    on = [key for key, value in modes.items() if key.startswith("pooling_mode_") and value is True]
    return {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(on[0]) if len(on) == 1 else None


def model_class(body: Path, pooling: str, section: str = "head"):
    """The classifier class for a body and a pooling: for auto, the pooling a sentence encoder
    declares (`declared_pooling`) where it is the mean, else the architecture's own ([CLS] / last
    token); our mean-pooling BERT (models/mean_pool.py) for mean."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    try:
        model_type = AutoConfig.from_pretrained(body).model_type
    except (OSError, ValueError) as exc:
        raise UserError(f"{body}: cannot read its config ({exc})") from None
    encoder = model_type in ENCODERS
    if pooling == "auto" and model_type == "bert" and declared_pooling(body) == "mean":
        pooling = "mean"  # a sentence encoder was trained on the mean of its tokens: its head reads that
    if pooling == "mean":
        if model_type != "bert":
            raise UserError(f"{section}.pooling: mean is offered for BERT-style encoders; {body} is a {model_type}")
        from alignkit.models.mean_pool import BertMeanPoolForSequenceClassification

        return BertMeanPoolForSequenceClassification
    if (pooling == "cls" and not encoder) or (pooling == "last" and encoder):
        raise UserError(f"{section}.pooling: {pooling} does not fit a {model_type} body; use auto")
    return AutoModelForSequenceClassification


def build_classifier(
    body: Path, labels: Labels, tokenizer, attn_implementation: str = "sdpa", pooling="auto", section: str = "head"
):
    """(model, names of the new head's parameters). The body's weights are the checkpoint's. `section`
    is the config section errors name (head for classify, rm for the reward model)."""
    from transformers.utils import logging as hf_logging

    problem_type = PROBLEM_TYPES[labels.task]
    id2label = {i: name for i, name in enumerate(labels.names)}
    kwargs = dict(
        num_labels=labels.num_labels,
        id2label=id2label,
        label2id={name: i for i, name in id2label.items()},
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation=attn_implementation,
        dtype=torch.float32,
        output_loading_info=True,
    )
    if problem_type:
        kwargs["problem_type"] = problem_type
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialized" report is expected: the head is new
    try:
        model, info = model_class(body, pooling, section).from_pretrained(body, **kwargs)
    except ValueError as exc:
        raise UserError(f"{body}: no sequence-classification form of this architecture ({exc})") from None
    except OSError as exc:
        raise UserError(f"{body}: cannot open as a body ({exc})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    if labels.task == "regression":
        model.config.problem_type = "regression"
    load.fit_embeddings(model, tokenizer)
    head = sorted(set(info["missing_keys"]))
    if not head:
        raise UserError(f"{body}: already has a head of this shape; nothing new would be trained")
    return model, head


def layer_list(model) -> torch.nn.ModuleList:
    """The body's stack of transformer layers: its largest ModuleList."""
    lists = [m for m in model.base_model.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise UserError("this body has no list of layers to freeze by")
    return max(lists, key=len)


def blocks(model, head: list[str]) -> dict[str, str]:
    """Parameter name -> block: 'head', 'embeddings', 'layer N', or 'top' (what sits above the
    layers: final norm, BERT's pooler)."""
    layers = layer_list(model)
    layer_of = {}
    for index, layer in enumerate(layers):
        for param in layer.parameters():
            layer_of[id(param)] = f"layer {index}"
    seen_layers = False
    result = {}
    for name, param in model.named_parameters():
        if name in head:
            result[name] = "head"
        elif id(param) in layer_of:
            result[name] = layer_of[id(param)]
            seen_layers = True
        else:
            result[name] = "top" if seen_layers else "embeddings"
    return result


def parse_freeze(spec: str, num_layers: int, section: str = "head") -> int | None:
    """'none' -> None (nothing frozen); 'head-only' -> 0 trainable layers; 'top:N' -> N."""
    if spec == "none":
        return None
    if spec == "head-only":
        return 0
    if spec.startswith("top:") and spec[4:].isdigit() and 0 <= int(spec[4:]) <= num_layers:
        return int(spec[4:])
    raise UserError(f"{section}.freeze: expected none, head-only or top:N with 0 <= N <= {num_layers}; got '{spec}'")


def apply_freeze(model, head: list[str], spec: str, section: str = "head") -> dict[str, str]:
    """Freeze what should not move; returns the parameter -> block map. top:N trains the head, the
    top N layers and what sits above them (final norm / pooler); head-only trains only the head."""
    block_of = blocks(model, head)
    num_layers = len(layer_list(model))
    trainable_layers = parse_freeze(spec, num_layers, section)
    if trainable_layers is not None:
        lowest = num_layers - trainable_layers
        for name, param in model.named_parameters():
            block = block_of[name]
            keep = block == "head" or (
                trainable_layers > 0 and (block == "top" or (block.startswith("layer") and int(block[6:]) >= lowest))
            )
            param.requires_grad_(keep)
    if pooling_of(model) == "mean" and model.base_model.pooler is not None:
        # mean pooling never reads BERT's pooler (and DDP wants every trained weight used)
        model.base_model.pooler.requires_grad_(False)
    return block_of


def layer_lrs(block_of: dict[str, str], lr: float, layer_decay: float, head_lr: float | None) -> dict[str, float]:
    """Peak lr of every parameter under layer-wise decay (ULMFiT's discriminative rates, ELECTRA's
    layer decay): the top layer and what sits above it train at `lr`, layer i of L at
    lr x decay^(L-1-i), the embeddings at lr x decay^L; the new head at `head_lr` (default `lr`)."""
    num_layers = 1 + max((int(b[6:]) for b in block_of.values() if b.startswith("layer ")), default=-1)
    lrs = {}
    for name, block in block_of.items():
        if block == "head":
            lrs[name] = head_lr or lr
        elif block == "top":
            lrs[name] = lr
        elif block.startswith("layer "):
            lrs[name] = lr * layer_decay ** (num_layers - 1 - int(block[6:]))
        else:
            lrs[name] = lr * layer_decay**num_layers
    return lrs


def trainable_summary(model, block_of: dict[str, str]) -> list[tuple[str, int, int]]:
    """(block, parameters, trainable parameters) in model order, for the start-of-run table."""
    rows: dict[str, list[int]] = {}
    for name, param in model.named_parameters():
        counts = rows.setdefault(block_of[name], [0, 0])
        counts[0] += param.numel()
        counts[1] += param.numel() if param.requires_grad else 0
    return [(block, total, trainable) for block, (total, trainable) in rows.items()]


def pooling_of(model) -> str:
    """What the model's head reads: 'mean' (our mean-pooling class), 'cls' (encoders), 'last' (decoders)."""
    from alignkit.models.mean_pool import BertMeanPoolForSequenceClassification

    # by name: a model opened from final/ runs the copy of the class that travels with it
    if type(model).__name__ == BertMeanPoolForSequenceClassification.__name__:
        return "mean"
    return "cls" if model.config.model_type in ENCODERS else "last"


def packed_family(model) -> str | None:
    """'encoder' (BERT-style: pooler + classifier), 'decoder' (a `score` layer on the last token), or
    None when only the padded path (the model's own forward) applies."""
    from transformers import BertForSequenceClassification

    if isinstance(model, BertForSequenceClassification) and model.base_model.pooler is not None:
        return "encoder"
    if hasattr(model, "score") and not hasattr(model, "classifier") and model.config.model_type in DECODERS:
        return "decoder"
    return None


def pooled_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits (E, C) of the E examples of a batch: packed (one row, `cu_seq_lens_q` boundaries) or
    padded (the model's own forward, with its own pooling)."""
    if "cu_seq_lens_q" not in batch:
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        return model(**inputs).logits
    inputs = {k: v for k, v in batch.items() if k != "targets"}
    inner = getattr(model, "module", model)  # inside DDP's wrapper
    if not isinstance(inner.forward, types.MethodType) or inner.forward.__func__ is not _forward:
        inner.forward = types.MethodType(_forward, inner)
    # through the model's own call, so that DDP's and FSDP's hooks see the forward pass
    return model(**inputs, packed_pooling=True)


def _forward(self, *args, packed_pooling: bool = False, **kwargs):
    """A classifier's forward that also pools a packed row (`pooled_logits`)."""
    if not packed_pooling:
        return type(self).forward(self, *args, **kwargs)
    return _packed_logits(self, kwargs)


def _packed_logits(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    hidden = model.base_model(**inputs, use_cache=False).last_hidden_state[0]  # (N, H)
    offsets = inputs["cu_seq_lens_q"].long()
    if packed_family(model) == "encoder":
        if pooling_of(model) == "mean":
            lengths = offsets[1:] - offsets[:-1]
            example = torch.repeat_interleave(torch.arange(len(lengths), device=hidden.device), lengths)
            sums = torch.zeros(len(lengths), hidden.shape[-1], dtype=hidden.dtype, device=hidden.device)
            pooled = sums.index_add(0, example, hidden) / lengths.unsqueeze(1).to(hidden.dtype)
            return model.classifier(model.dropout(pooled))
        cls = hidden[offsets[:-1]].unsqueeze(1)  # the pooler reads position 0 of each row
        return model.classifier(model.dropout(model.base_model.pooler(cls)))
    return model.score(hidden[offsets[1:] - 1])
