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


# ---------------------------------------------------------------------------------------------
# Reward model and RLHF (PPO). Shapes: B sequences, T response positions; `mask` (B, T) is 1 on the
# response tokens that count (up to and including the end-of-turn token) and 0 after them.


def bradley_terry_loss(
    chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor, margin: torch.Tensor | float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed pairwise reward-model loss and the number of pairs (Bradley-Terry, as in InstructGPT
    eq. 1; the margin as in Llama 2 eq. 2): -log sigmoid(r_chosen - r_rejected - margin).

    chosen_rewards, rejected_rewards: (P,); margin: a float or (P,). Computed in fp32.
    """
    difference = chosen_rewards.float() - rejected_rewards.float() - margin
    return -F.logsigmoid(difference).sum(), torch.tensor(chosen_rewards.shape[0])


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(token) under softmax(logits / temperature), in fp32.

    logits: (B, T, V), the logits that predict tokens: (B, T). Returns (B, T). Sampling divides the
    logits by the temperature, so the probabilities PPO compares must too.
    """
    logits = logits.float() / temperature
    return logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of softmax(logits / temperature) per position: logsumexp(l) - sum softmax(l) l. (B, T, V) -> (B, T)."""
    logits = logits.float() / temperature
    return torch.logsumexp(logits, dim=-1) - (torch.softmax(logits, dim=-1) * logits).sum(-1)


def kl_estimate(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from tokens sampled from the policy (Schulman,
    "Approximating KL divergence", 2020), with log r = ref_logprobs - logprobs:
    - k1 = -log r             unbiased, can be negative for one token
    - k2 = (log r)^2 / 2      biased, low variance
    - k3 = (r - 1) - log r    unbiased and never negative
    Shapes (B, T) -> (B, T)."""
    log_ratio = ref_logprobs.float() - logprobs.float()
    if kind == "k1":
        return -log_ratio
    if kind == "k2":
        return 0.5 * log_ratio**2
    if kind == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {kind!r}")


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(
    values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8, stats=None
) -> torch.Tensor:
    """(values - mean) / sqrt(var + eps) over the masked entries, var with Bessel's correction;
    entries outside the mask come out 0. With shift_mean=False the mean is added back: the spread
    is normalised, the level kept. `stats` = (mean, var) computed elsewhere, e.g. over all processes."""
    mask = mask.to(values.dtype)
    if stats is None:
        mean = masked_mean(values, mask)
        count = mask.sum()
        var = (((values - mean) ** 2) * mask).sum() / (count - 1).clamp(min=1)
    else:
        mean, var = (torch.as_tensor(v, dtype=values.dtype, device=values.device) for v in stats)
    whitened = (values - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16) over each response.

    rewards, values, mask: (B, T). Position t is the state before response token t; the episode
    ends after the last masked token (the value after it is 0):
        delta_t = r_t + gamma V_{t+1} - V_t
        A_t     = delta_t + gamma lam A_{t+1}
    Returns (advantages, returns = advantages + values), both 0 outside the mask.
    """
    mask = mask.to(values.dtype)
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(values)
    next_value = torch.zeros_like(values[:, 0])
    next_advantage = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_advantage) * mask[:, t]
        # a masked position passes nothing back: the response ended before it
        next_value = values[:, t] * mask[:, t]
        next_advantage = advantages[:, t]
    return advantages, (advantages + values) * mask


def ppo_policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), summed over the masked tokens:
        ratio = exp(logprobs - old_logprobs)
        loss  = max(-A ratio, -A clip(ratio, 1 - clip, 1 + clip))
    All (B, T). Also summed over the masked tokens (counts, not fractions): `clipfrac` (1 where the
    clipped term is the larger, i.e. the token gives no gradient) and `approx_kl` ((log ratio)^2 / 2, the k2 estimate of
    KL(old || new))."""
    mask = mask.to(logprobs.dtype)
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    loss = torch.maximum(unclipped, clipped)
    stats = {
        "clipfrac": ((clipped > unclipped).to(mask.dtype) * mask).sum().detach(),
        "approx_kl": (0.5 * log_ratio.detach() ** 2 * mask).sum(),
    }
    return (loss * mask).sum(), stats


def ppo_value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The critic's clipped squared error (as in the PPO reference implementation, openai/baselines),
    summed over the masked tokens:
        clipped_values = old_values + clip(values - old_values, -clip, clip)
        loss = max((values - returns)^2, (clipped_values - returns)^2) / 2
    All (B, T). `vf_clipfrac` counts the tokens where the clipped error is the larger."""
    mask = mask.to(values.dtype)
    moved = values - old_values
    # inside the range the clipped value IS the value (old + (v - old) may differ in the last bit)
    clipped_values = torch.where(moved.abs() > clip, old_values + torch.clamp(moved, -clip, clip), values)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped_values - returns) ** 2
    loss = 0.5 * torch.maximum(unclipped_error, clipped_error)
    stats = {"vf_clipfrac": ((clipped_error > unclipped_error).to(mask.dtype) * mask).sum().detach()}
    return (loss * mask).sum(), stats


def adaptive_kl_coef(coef: float, kl: float, target: float, horizon: int, steps: int) -> float:
    """The KL coefficient after one update of the adaptive controller (Ziegler et al. 2019, sec. 2.2):
        error = clip(kl / target - 1, -0.2, 0.2);  coef <- coef (1 + error steps / horizon)
    so the coefficient grows while the measured KL is above the target and shrinks below it."""
    error = min(max(kl / target - 1.0, -0.2), 0.2)
    return coef * (1.0 + error * steps / horizon)
