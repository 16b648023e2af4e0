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


# ---------------------------------------------------------------------------------------------
# Preference and group RL without a critic: DPO, KTO, GRPO. Log-probs are summed over each
# answer's tokens: (P,) per pair or per answer.


def dpo_loss(
    chosen_logps: torch.Tensor,
    rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Summed DPO loss over P pairs, with h = (chosen_logps - ref_chosen_logps) - (rejected_logps -
    ref_rejected_logps), the difference of the two answers' log-ratios:
    - sigmoid (Rafailov et al. 2023, eq. 7), with conservative label smoothing e (cDPO):
          -(1 - e) log sigmoid(beta h) - e log sigmoid(-beta h)
    - ipo (Azar et al. 2023, eq. 17): (h - 1 / (2 beta))^2
    Also summed over the pairs: the implicit rewards beta x log-ratio of each answer, their margin, and
    `reward_accuracy` (1 where the chosen answer's implicit reward is the higher). All inputs (P,), fp32."""
    chosen_ratio = chosen_logps.float() - ref_chosen_logps.float()
    rejected_ratio = rejected_logps.float() - ref_rejected_logps.float()
    h = chosen_ratio - rejected_ratio
    if loss_type == "sigmoid":
        losses = -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    elif loss_type == "ipo":
        losses = (h - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown DPO loss {loss_type!r}")
    chosen_rewards, rejected_rewards = (beta * chosen_ratio).detach(), (beta * rejected_ratio).detach()
    stats = {
        "chosen_reward": chosen_rewards.sum(),
        "rejected_reward": rejected_rewards.sum(),
        "reward_margin": (chosen_rewards - rejected_rewards).sum(),
        "reward_accuracy": (chosen_rewards > rejected_rewards).float().sum(),
    }
    return losses.sum(), stats


def kto_loss(
    logps: torch.Tensor,
    ref_logps: torch.Tensor,
    desirable: torch.Tensor,
    kl: torch.Tensor | float,
    beta: float,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Summed KTO loss over N single answers (Ethayarajh et al. 2024, eq. 8), with r = logps -
    ref_logps each answer's log-ratio and z0 = max(kl, 0) the reference point (an estimate of
    KL(policy || reference), no gradient):
        desirable:    w_d (1 - sigmoid(beta (r - z0)))
        undesirable:  w_u (1 - sigmoid(beta (z0 - r)))
    logps, ref_logps: (N,); desirable: (N,) bool. Also summed: the implicit rewards beta r of each kind."""
    log_ratio = logps.float() - ref_logps.float()
    z0 = torch.as_tensor(kl, dtype=log_ratio.dtype, device=log_ratio.device).detach().clamp(min=0)
    desirable = desirable.bool()
    good = desirable_weight * (1 - torch.sigmoid(beta * (log_ratio - z0)))
    bad = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - log_ratio)))
    losses = torch.where(desirable, good, bad)
    rewards = (beta * log_ratio).detach()
    stats = {
        "desirable_reward": (rewards * desirable).sum(),
        "undesirable_reward": (rewards * ~desirable).sum(),
        "desirable_count": desirable.float().sum(),
    }
    return losses.sum(), stats


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantages (Shao et al. 2024, sec. 4.1.2): each answer's reward minus the mean of its
    group (the G answers to the same prompt), divided by the group's standard deviation (Bessel's
    correction) + eps unless `scale` is off (Dr. GRPO, Liu et al. 2025). rewards: (B G,), grouped
    consecutively -> (B G,)."""
    if group_size < 2:
        raise ValueError("a group needs at least 2 answers")
    grouped = rewards.float().view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.reshape(-1)


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float,
    beta: float = 0.0,
    normalise: str = "token",
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """GRPO's objective (Shao et al. 2024, eq. 3) as a loss: PPO's clipped surrogate with each
    answer's advantage on all of its tokens, plus beta x the k3 KL estimate to the reference per token.

    logprobs, old_logprobs, ref_logprobs, mask: (B, T); advantages: (B,). Returns (loss sum, units, stats):
    - normalise "token": the sum over all answer tokens, units = the number of tokens (DAPO's
      token-level mean once the loop divides by the step's units, so long answers weigh by length);
    - normalise "sequence": each answer's token mean, summed; units = the number of answers (the
      original GRPO's mean of per-answer means).
    """
    per_token_advantages = advantages.float().unsqueeze(1).expand_as(logprobs)
    mask = mask.to(logprobs.dtype)
    _, stats = ppo_policy_loss(logprobs, old_logprobs, per_token_advantages, mask, clip)
    ratio = torch.exp(logprobs - old_logprobs)
    per_token = torch.maximum(
        -per_token_advantages * ratio, -per_token_advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    )
    if beta > 0:
        if ref_logprobs is None:
            raise ValueError("beta > 0 needs the reference's log-probs")
        kl = kl_estimate(logprobs, ref_logprobs, "k3")
        per_token = per_token + beta * kl
        stats["kl"] = (kl.detach() * mask).sum()
    if normalise == "token":
        return (per_token * mask).sum(), mask.sum(), stats
    if normalise == "sequence":
        per_answer = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
        return per_answer.sum(), torch.tensor(float(len(per_answer))), stats
    raise ValueError(f"unknown normalisation {normalise!r}")
