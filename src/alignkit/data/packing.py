"""Batches of encoded examples: padding-free packing (the default) or padded rows.

Packing puts many examples in ONE row with no padding at all: positions restart at 0 for each
example, and attention never crosses from one example into another. The attention kernel gets the
examples' boundaries as `cu_seq_lens_q/k` (cumulative lengths, the variable-length convention of
FlashAttention): with `flash_attention_2` on GPU that is native varlen attention; everywhere else
the registered `VARLEN` implementation runs causal SDPA on each example's slice, so the cost is
sum(len_i^2), never (sum len_i)^2 of a block-diagonal mask.

Both layouts carry `keep` (which positions' next token learns) and `targets` (those next tokens), so
the model computes logits only where there is something to learn (`logits_to_keep`).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import torch

from alignkit.data.encode import EncodedExample

VARLEN = "alignkit_varlen"
NATIVE_VARLEN = ("flash_attention_2", "flash_attention_3")


def _next_token_targets(example: EncodedExample) -> tuple[np.ndarray, np.ndarray]:
    """keep[t]: token t+1 learns (so position t's logits are scored); targets: those tokens."""
    keep = np.zeros(len(example), dtype=bool)
    keep[:-1] = example.loss_mask[1:]
    return keep, example.input_ids[1:][example.loss_mask[1:]]


def pack_sequences(sequences: list[np.ndarray], token_type_ids: list[np.ndarray] | None = None) -> dict:
    """Token sequences -> one padding-free row: input_ids, position_ids (and token_type_ids): (1, N)
    with N = sum of lengths; cu_seq_lens_q/k: (E + 1,) int32 offsets of the sequences in the row;
    max_length_q/k: the longest sequence."""
    lengths = [len(s) for s in sequences]
    cu_seq_lens = torch.tensor(np.concatenate([[0], np.cumsum(lengths)]), dtype=torch.int32)
    row = {
        "input_ids": torch.from_numpy(np.concatenate(sequences).astype(np.int64)).unsqueeze(0),
        "position_ids": torch.from_numpy(np.concatenate([np.arange(n) for n in lengths])).unsqueeze(0),
        "cu_seq_lens_q": cu_seq_lens,
        "cu_seq_lens_k": cu_seq_lens,
        "max_length_q": max(lengths),
        "max_length_k": max(lengths),
    }
    if token_type_ids is not None:
        row["token_type_ids"] = torch.from_numpy(np.concatenate(token_type_ids).astype(np.int64)).unsqueeze(0)
    return row


def pack(examples: list[EncodedExample]) -> dict[str, torch.Tensor]:
    """Examples -> one padding-free row (`pack_sequences`), plus keep: (1, N) which positions'
    next token learns, and targets: (K,) the learned tokens in row order (K = keep.sum())."""
    pieces = [_next_token_targets(e) for e in examples]
    row = pack_sequences([e.input_ids for e in examples])
    row["keep"] = torch.from_numpy(np.concatenate([k for k, _ in pieces])).unsqueeze(0)
    row["targets"] = torch.from_numpy(np.concatenate([t for _, t in pieces]))
    return row


def pad_sequences(sequences: list[np.ndarray], pad_id: int, token_type_ids: list[np.ndarray] | None = None) -> dict:
    """Token sequences -> rows right-padded to the longest: input_ids, attention_mask (and
    token_type_ids, padded with 0): (B, T)."""
    width = max(len(s) for s in sequences)
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)], attention_mask[row, : len(sequence)] = sequence, 1
    rows = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}
    if token_type_ids is not None:
        types = np.zeros_like(input_ids)
        for row, sequence in enumerate(token_type_ids):
            types[row, : len(sequence)] = sequence
        rows["token_type_ids"] = torch.from_numpy(types)
    return rows


def pad(examples: list[EncodedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Examples -> rows right-padded to the longest (`pad_sequences`), plus keep: (B, T) and targets: (K,)."""
    rows = pad_sequences([e.input_ids for e in examples], pad_id)
    keep = np.zeros(tuple(rows["input_ids"].shape), dtype=bool)
    targets = []
    for row, example in enumerate(examples):
        keep[row, : len(example)], row_targets = _next_token_targets(example)
        targets.append(row_targets)
    rows["keep"] = torch.from_numpy(keep)
    rows["targets"] = torch.from_numpy(np.concatenate(targets))
    return rows


def varlen_sdpa_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention over packed examples: SDPA on each example's slice of the row (causal unless the
    module says otherwise, as an encoder's does).

    query: (1, H, N, D); key/value: (1, H_kv, N, D); cu_seq_lens_q: (E + 1,) example offsets.
    Returns (1, N, H, D) like transformers' own kernels. Without cu_seq_lens (generation, padded
    batches) it is plain SDPA.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    offsets = kwargs.get("cu_seq_lens_q")
    if offsets is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout)
    if query.shape[0] != 1:
        raise ValueError("packed attention expects one row (batch size 1)")
    gqa = query.shape[1] != key.shape[1]
    causal = getattr(module, "is_causal", True)  # encoders (BERT) attend both ways within an example
    dropout = dropout if module.training else 0.0
    flash_dtype = _flash_dtype(query) if dropout == 0.0 else None
    if flash_dtype is not None:
        max_length = kwargs.get("max_length_q")
        return _flash_varlen(query, key, value, offsets, max_length, causal, scaling, gqa, flash_dtype), None
    bounds = offsets.tolist()
    outputs = [
        torch.nn.functional.scaled_dot_product_attention(
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            is_causal=causal,
            scale=scaling,
            dropout_p=dropout,
            enable_gqa=gqa,
        )
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
        if end > start
    ]
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None


def _flash_dtype(query: torch.Tensor) -> torch.dtype | None:
    """The half precision PyTorch's FlashAttention varlen kernel would run in, or None where it does
    not serve (CPU, fp32 without autocast, torch < 2.10). Under autocast, rotary embeddings leave
    queries in fp32: the kernel takes autocast's dtype, as SDPA would."""
    if not query.is_cuda or _varlen_kernel() is None:
        return None
    if query.dtype in (torch.bfloat16, torch.float16):
        return query.dtype
    if torch.is_autocast_enabled("cuda"):
        dtype = torch.get_autocast_dtype("cuda")
        return dtype if dtype in (torch.bfloat16, torch.float16) else None
    return None


@functools.cache
def _varlen_kernel():
    """(varlen_attn, its keyword options) once per process: looked up on every layer's call otherwise."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn, frozenset(inspect.signature(varlen_attn).parameters)


def _flash_varlen(query, key, value, offsets, max_length, causal: bool, scaling, gqa: bool, dtype) -> torch.Tensor:
    """All examples of the row in one FlashAttention varlen call (torch.nn.attention.varlen).

    query: (1, H, N, D) -> the kernel's (N, H, D); returns (1, N, H, D)."""
    varlen_attn, options = _varlen_kernel()
    if gqa:  # older kernels take equal head counts only
        repeat = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(repeat, dim=1), value.repeat_interleave(repeat, dim=1)
    q, k, v = (t[0].transpose(0, 1).to(dtype) for t in (query, key, value))
    cu_seq = offsets.to(device=query.device, dtype=torch.int32)
    if max_length is None:
        max_length = int((offsets[1:] - offsets[:-1]).max())
    max_length = int(max_length)
    kwargs = {"scale": scaling} if "scale" in options else {}
    if "window_size" in options:
        kwargs["window_size"] = (-1, 0) if causal else (-1, -1)
    else:
        kwargs["is_causal"] = causal
    out = varlen_attn(q, k, v, cu_seq, cu_seq, max_length, max_length, **kwargs)
    return out.unsqueeze(0)


def _varlen_mask(**kwargs):
    """Packed rows need no mask (boundaries travel as cu_seq_lens); padded ones (generation, eval of
    padded batches) get SDPA's."""
    from transformers.masking_utils import sdpa_mask

    return sdpa_mask(**kwargs) if kwargs.get("attention_mask") is not None else None


def use_packed_attention(model) -> None:
    """Switch a transformers model to attention that respects packed examples' boundaries."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(VARLEN, varlen_sdpa_attention)
    AttentionMaskInterface.register(VARLEN, _varlen_mask)
    if model.config._attn_implementation not in NATIVE_VARLEN:
        model.set_attn_implementation(VARLEN)
