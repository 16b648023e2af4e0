"""Pure loss functions on tensors. Each returns a *sum* and the number of units it covers, so the
training loop can normalise by the learning tokens of the whole optimizer step (across micro-batches
and processes), never by a mean of per-micro-batch means."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token cross-entropy over learning positions.

    logits: (B, T, V); labels: (B, T), already aligned: labels[b, t] is the token that should follow
    input_ids[b, :t+1], or IGNORE_INDEX where nothing is learned.
    Returns (sum over learning positions of -log p(label), number of learning positions).
    Cross-entropy is computed in fp32 whatever the logits' dtype.
    """
    loss_sum = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return loss_sum, (labels != IGNORE_INDEX).sum()
