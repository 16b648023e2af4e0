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


def classification_loss(
    logits: torch.Tensor, targets: torch.Tensor, task: str, regression_loss: str = "mse", huber_delta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed loss of a sequence-classification head over a batch, and the number of examples.

    logits: (B, C). targets: (B,) class ids for task "single"; (B, C) 0/1 floats for "multi";
    (B,) floats for "regression" (C = 1).
    - single: cross-entropy, -log softmax(logits)[target]
    - multi: binary cross-entropy with logits per label, averaged over the C labels of an example
      (so a batch's mean equals torch's BCEWithLogitsLoss over all B x C entries)
    - regression: squared error (logit - target)^2, or Huber with `huber_delta`:
      0.5 e^2 if |e| <= delta else delta (|e| - 0.5 delta)
    Computed in fp32 whatever the logits' dtype.
    """
    logits = logits.float()
    count = torch.tensor(logits.shape[0])
    if task == "single":
        return F.cross_entropy(logits, targets, reduction="sum"), count
    if task == "multi":
        per_label = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none")
        return per_label.mean(dim=1).sum(), count
    if task == "regression":
        predictions = logits.squeeze(-1)
        if regression_loss == "huber":
            return F.huber_loss(predictions, targets.float(), delta=huber_delta, reduction="sum"), count
        return F.mse_loss(predictions, targets.float(), reduction="sum"), count
    raise ValueError(f"unknown task {task!r}")
