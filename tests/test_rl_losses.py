"""Reward-model and PPO losses against hand-derived numbers and naive per-token loops."""

import math
import statistics

import pytest
import torch
from torch.testing import assert_close

from alignkit.losses import (
    adaptive_kl_coef,
    bradley_terry_loss,
    entropy_from_logits,
    gae,
    kl_estimate,
    masked_mean,
    masked_whiten,
    ppo_policy_loss,
    ppo_value_loss,
    token_logprobs,
)

F64 = torch.float64
LENGTHS = [5, 1, 7, 3]  # responses of different lengths (one of length 1, one filling all of T)
T = 7


def prefix_mask(lengths: list[int], width: int) -> torch.Tensor:
    """1 for each response's first `length` positions, 0 after them."""
    return torch.tensor([[1.0] * n + [0.0] * (width - n) for n in lengths], dtype=F64)


def masked_entries(values: torch.Tensor, mask: torch.Tensor) -> list[float]:
    """The entries inside the mask, as plain floats, row by row."""
    entries = []
    for row, mask_row in zip(values.tolist(), mask.tolist(), strict=True):
        entries += [v for v, m in zip(row, mask_row, strict=True) if m]
    return entries


def per_entry(function, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """function(v) inside the mask and 0 outside it, computed one float at a time."""
    rows = []
    for row, mask_row in zip(values.tolist(), mask.tolist(), strict=True):
        rows.append([function(v) if m else 0.0 for v, m in zip(row, mask_row, strict=True)])
    return torch.tensor(rows, dtype=F64)


def with_garbage(values: torch.Tensor, mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same values inside the mask, large random garbage outside it."""
    garbage = 1e6 * torch.randn(values.shape, generator=generator, dtype=values.dtype)
    return torch.where(mask.bool(), values, garbage)


# ---------------------------------------------------------------------------------------------
# Bradley-Terry


def test_bradley_terry_hand_derived():
    """Pairs (chosen, rejected) = (1, 1) and (ln 3, 0): differences 0 and ln 3.

    No margin: -log sigmoid(0) = ln 2; sigmoid(ln 3) = 3 / (1 + 3) = 3/4 -> ln(4/3). Sum ln(8/3).
    Margin ln 3 (float): differences -ln 3 and 0; sigmoid(-ln 3) = 1/4 -> ln 4; plus ln 2 = ln 8.
    Margin (0, ln 3) (tensor): differences 0 and 0 -> 2 ln 2 = ln 4.
    The count is the number of pairs, 2, whatever the margin."""
    chosen = torch.tensor([1.0, math.log(3.0)])
    rejected = torch.tensor([1.0, 0.0])
    for margin, expected in [
        (0.0, math.log(8 / 3)),
        (math.log(3.0), math.log(8.0)),
        (torch.tensor([0.0, math.log(3.0)]), math.log(4.0)),
    ]:
        loss_sum, count = bradley_terry_loss(chosen, rejected, margin)
        assert count.item() == 2
        assert loss_sum.item() == pytest.approx(expected, abs=1e-6)
    loss_sum, count = bradley_terry_loss(torch.tensor([0.3]), torch.tensor([0.3]))
    assert count.item() == 1 and loss_sum.item() == pytest.approx(math.log(2.0), abs=1e-7)


def test_bradley_terry_matches_a_naive_loop():
    generator = torch.Generator().manual_seed(0)
    chosen = 2 * torch.randn(9, generator=generator)
    rejected = 2 * torch.randn(9, generator=generator)
    margins = torch.rand(9, generator=generator)
    for margin in (0.0, 0.7, margins):
        margin_list = margin.tolist() if isinstance(margin, torch.Tensor) else [margin] * 9
        expected = 0.0
        for c, r, m in zip(chosen.tolist(), rejected.tolist(), margin_list, strict=True):
            expected += -math.log(1.0 / (1.0 + math.exp(-(c - r - m))))
        loss_sum, count = bradley_terry_loss(chosen, rejected, margin)
        assert count.item() == 9
        assert_close(loss_sum.double(), torch.tensor(expected, dtype=F64), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Token log-probabilities and entropy


def test_token_logprobs_and_entropy_hand_derived():
    """Logits (ln 3, 0): p = (3/4, 1/4). log p(token 0) = ln(3/4), log p(token 1) = ln(1/4);
    entropy = -(3/4 ln 3/4 + 1/4 ln 1/4).
    Temperature 2: logits (ln 3 / 2, 0) = (ln sqrt 3, 0): p = (s, 1) / (s + 1) with s = sqrt 3."""
    logits = torch.tensor([[[math.log(3.0), 0.0], [math.log(3.0), 0.0]]])
    tokens = torch.tensor([[0, 1]])
    assert_close(token_logprobs(logits, tokens), torch.tensor([[math.log(0.75), math.log(0.25)]]))
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert_close(entropy_from_logits(logits), torch.tensor([[entropy, entropy]]))
    s = math.sqrt(3.0)
    p0, p1 = s / (s + 1), 1 / (s + 1)
    assert_close(token_logprobs(logits, tokens, temperature=2.0), torch.tensor([[math.log(p0), math.log(p1)]]))
    entropy = -(p0 * math.log(p0) + p1 * math.log(p1))
    assert_close(entropy_from_logits(logits, temperature=2.0), torch.tensor([[entropy, entropy]]))


def test_token_logprobs_and_entropy_match_torch_and_a_naive_loop():
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(3, 4, 13, generator=generator)
    tokens = torch.randint(0, 13, (3, 4), generator=generator)
    for temperature in (1.0, 0.7, 1.6):
        got_logprobs = token_logprobs(logits, tokens, temperature)
        got_entropy = entropy_from_logits(logits, temperature)
        assert got_logprobs.dtype == torch.float32 and got_logprobs.shape == (3, 4)
        assert got_entropy.shape == (3, 4)

        log_softmax = torch.log_softmax(logits.double() / temperature, dim=-1)
        torch_logprobs = log_softmax.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        torch_entropy = -(log_softmax.exp() * log_softmax).sum(-1)
        assert_close(got_logprobs.double(), torch_logprobs, rtol=1e-5, atol=1e-5)
        assert_close(got_entropy.double(), torch_entropy, rtol=1e-5, atol=1e-5)

        naive_logprobs, naive_entropy = [], []
        for b in range(3):
            logprob_row, entropy_row = [], []
            for t in range(4):
                scaled = [x / temperature for x in logits[b, t].tolist()]
                top = max(scaled)
                log_total = top + math.log(math.fsum(math.exp(x - top) for x in scaled))
                log_p = [x - log_total for x in scaled]
                logprob_row.append(log_p[tokens[b, t].item()])
                entropy_row.append(-math.fsum(math.exp(lp) * lp for lp in log_p))
            naive_logprobs.append(logprob_row)
            naive_entropy.append(entropy_row)
        assert_close(got_logprobs.double(), torch.tensor(naive_logprobs, dtype=F64), rtol=1e-5, atol=1e-5)
        assert_close(got_entropy.double(), torch.tensor(naive_entropy, dtype=F64), rtol=1e-5, atol=1e-5)


def test_entropy_of_uniform_logits_is_log_vocabulary_size():
    """softmax of equal logits is uniform over V: entropy ln V, whatever the temperature."""
    logits = torch.full((2, 3, 50), 3.7)
    for temperature in (1.0, 0.5):
        assert_close(entropy_from_logits(logits, temperature), torch.full((2, 3), math.log(50.0)))
        assert_close(token_logprobs(logits, torch.zeros(2, 3, dtype=torch.long)), torch.full((2, 3), -math.log(50.0)))


# ---------------------------------------------------------------------------------------------
# KL estimators


def test_kl_estimate_hand_derived():
    """log r = ref - policy.
    Token 0: policy 1/2, ref 1/4: log r = -ln 2 -> k1 = ln 2, k2 = (ln 2)^2 / 2, k3 = (1/2 - 1) + ln 2 = ln 2 - 1/2.
    Token 1: policy 1/4, ref 1/2 (ref > policy): log r = ln 2 -> k1 = -ln 2 < 0, k2 = (ln 2)^2 / 2,
             k3 = (2 - 1) - ln 2 = 1 - ln 2 > 0.
    Token 2: policy = ref: all three 0."""
    logprobs = torch.tensor([[math.log(0.5), math.log(0.25), math.log(0.3)]])
    ref_logprobs = torch.tensor([[math.log(0.25), math.log(0.5), math.log(0.3)]])
    ln2 = math.log(2.0)
    k1 = kl_estimate(logprobs, ref_logprobs, "k1")
    k2 = kl_estimate(logprobs, ref_logprobs, "k2")
    k3 = kl_estimate(logprobs, ref_logprobs, "k3")
    assert_close(k1, torch.tensor([[ln2, -ln2, 0.0]]))
    assert_close(k2, torch.tensor([[ln2**2 / 2, ln2**2 / 2, 0.0]]))
    assert_close(k3, torch.tensor([[ln2 - 0.5, 1 - ln2, 0.0]]))
    assert k1[0, 1] < 0 and (k3 >= 0).all()
    assert_close(kl_estimate(logprobs, ref_logprobs), k1)  # k1 is the default


def test_kl_estimate_matches_a_naive_loop():
    generator = torch.Generator().manual_seed(0)
    logprobs = -3 * torch.rand(4, 6, generator=generator, dtype=F64)
    ref_logprobs = -3 * torch.rand(4, 6, generator=generator, dtype=F64)
    naive = {"k1": [], "k2": [], "k3": []}
    for lp_row, ref_row in zip(logprobs.tolist(), ref_logprobs.tolist(), strict=True):
        for kind in naive:
            naive[kind].append([])
        for lp, ref in zip(lp_row, ref_row, strict=True):
            log_r = ref - lp
            naive["k1"][-1].append(-log_r)
            naive["k2"][-1].append(log_r**2 / 2)
            naive["k3"][-1].append((math.exp(log_r) - 1) - log_r)
    for kind, expected in naive.items():
        got = kl_estimate(logprobs, ref_logprobs, kind)
        assert got.shape == (4, 6)
        assert_close(got.double(), torch.tensor(expected, dtype=F64), rtol=1e-5, atol=1e-6)


def test_kl_k3_is_never_negative():
    """(r - 1) - log r >= 0 for every r > 0 (the tangent line of log at 1 lies above it), also for
    log-ratios so small that r - 1 and log r nearly cancel."""
    generator = torch.Generator().manual_seed(0)
    logprobs = torch.randn(64, 256, generator=generator)
    for scale in (10.0, 1.0, 1e-3, 1e-6):
        ref_logprobs = logprobs + scale * torch.randn(64, 256, generator=generator)
        assert (kl_estimate(logprobs, ref_logprobs, "k3") >= 0).all()
        assert (kl_estimate(logprobs, ref_logprobs, "k2") >= 0).all()


def test_kl_estimators_average_to_the_exact_kl():
    """Tokens drawn from the policy p: E_p[k1] = E_p[log p/q] = KL(p || q), and E_p[k3] =
    E_p[q/p] - 1 + KL = 1 - 1 + KL. With 200k draws both means are within 1e-2 of the exact KL
    between two 5-way categoricals, although single k1 terms are negative."""
    p = torch.softmax(torch.tensor([1.0, 0.5, 0.0, -0.5, -1.0], dtype=F64), dim=0)
    q = torch.softmax(torch.tensor([0.0, 0.3, 1.0, -0.2, 0.4], dtype=F64), dim=0)
    exact = (p * (p.log() - q.log())).sum().item()
    generator = torch.Generator().manual_seed(0)
    draws = torch.multinomial(p, 200_000, replacement=True, generator=generator).view(400, 500)
    logprobs, ref_logprobs = p.log()[draws], q.log()[draws]
    k1 = kl_estimate(logprobs, ref_logprobs, "k1")
    k3 = kl_estimate(logprobs, ref_logprobs, "k3")
    assert (k1 < 0).any() and (k3 >= 0).all()
    assert abs(k1.double().mean().item() - exact) < 1e-2
    assert abs(k3.double().mean().item() - exact) < 1e-2


def test_kl_estimate_unknown_kind_raises():
    with pytest.raises(ValueError, match="k4"):
        kl_estimate(torch.zeros(1, 2), torch.zeros(1, 2), "k4")


# ---------------------------------------------------------------------------------------------
# Masked mean and whitening


def test_masked_mean_hand_derived():
    """(1 + 2 + 3) / 3 = 2, the 100 outside the mask ignored; an empty mask gives 0, not NaN."""
    values = torch.tensor([[1.0, 2.0], [3.0, 100.0]])
    assert masked_mean(values, torch.tensor([[1.0, 1.0], [1.0, 0.0]])).item() == pytest.approx(2.0)
    assert masked_mean(values, torch.zeros(2, 2)).item() == 0.0


def test_masked_whiten_hand_derived():
    """Values (1, 2, 3) and 50 outside the mask: mean 2, unbiased variance (1 + 0 + 1) / (3 - 1) = 1.
    With eps = 0: whitened (-1, 0, 1, 0); shift_mean=False adds the mean back: (1, 2, 3, 0).
    stats = (1, 4): (values - 1) / 2 = (0, 0.5, 1, 0).
    Values (0, 4): mean 2, variance (4 + 4) / 1 = 8 -> (-2, 2) / (2 sqrt 2) = (-1, 1) / sqrt 2."""
    values = torch.tensor([[1.0, 2.0], [3.0, 50.0]], dtype=F64)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=F64)
    assert_close(masked_whiten(values, mask, eps=0.0), torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=F64))
    assert_close(
        masked_whiten(values, mask, shift_mean=False, eps=0.0), torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=F64)
    )
    stats = (torch.tensor(1.0, dtype=F64), torch.tensor(4.0, dtype=F64))
    assert_close(masked_whiten(values, mask, eps=0.0, stats=stats), torch.tensor([[0.0, 0.5], [1.0, 0.0]], dtype=F64))
    half = 1 / math.sqrt(2.0)
    got = masked_whiten(torch.tensor([[0.0, 4.0]], dtype=F64), torch.ones(1, 2, dtype=F64), eps=0.0)
    assert_close(got, torch.tensor([[-half, half]], dtype=F64))
    # the default eps = 1e-8 changes the variance-1 case by a factor 1/sqrt(1 + 1e-8) only
    assert_close(masked_whiten(values, mask), torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=F64), rtol=1e-7, atol=1e-7)


def test_masked_whiten_matches_statistics_over_the_masked_entries():
    generator = torch.Generator().manual_seed(0)
    mask = prefix_mask(LENGTHS, T)
    values = with_garbage(3.0 + 2.0 * torch.randn(4, T, generator=generator, dtype=F64), mask, generator)
    inside = masked_entries(values, mask)
    mean, variance = statistics.mean(inside), statistics.variance(inside)  # variance: Bessel-corrected

    whitened = masked_whiten(values, mask, eps=0.0)
    assert_close(whitened, per_entry(lambda v: (v - mean) / math.sqrt(variance), values, mask))
    assert (whitened[mask == 0] == 0).all()
    out = masked_entries(whitened, mask)
    assert statistics.mean(out) == pytest.approx(0.0, abs=1e-12)
    assert statistics.variance(out) == pytest.approx(1.0, abs=1e-12)

    kept = masked_whiten(values, mask, shift_mean=False, eps=0.0)
    kept_out = masked_entries(kept, mask)
    assert statistics.mean(kept_out) == pytest.approx(mean, abs=1e-12)
    assert statistics.variance(kept_out) == pytest.approx(1.0, abs=1e-12)
    assert (kept[mask == 0] == 0).all()
    assert_close(kept, (whitened + mean) * mask)

    # statistics from elsewhere (e.g. all processes) replace the batch's own
    stats = (torch.tensor(1.5, dtype=F64), torch.tensor(9.0, dtype=F64))
    expected = per_entry(lambda v: (v - 1.5) / 3.0, values, mask)
    assert_close(masked_whiten(values, mask, eps=0.0, stats=stats), expected)
    # a boolean mask works like a 0/1 one
    assert_close(masked_whiten(values, mask.bool(), eps=0.0), whitened)


# ---------------------------------------------------------------------------------------------
# Generalised advantage estimation


def naive_gae(rewards: list[float], values: list[float], length: int, gamma: float, lam: float, width: int):
    """One response, as plain floats: the episode ends after token length - 1 (value after it 0)."""
    advantages = [0.0] * width
    following = 0.0
    for t in reversed(range(length)):
        next_value = values[t + 1] if t + 1 < length else 0.0
        delta = rewards[t] + gamma * next_value - values[t]
        following = delta + gamma * lam * following
        advantages[t] = following
    returns = [advantages[t] + values[t] if t < length else 0.0 for t in range(width)]
    return advantages, returns


def random_rollout(seed: int):
    generator = torch.Generator().manual_seed(seed)
    mask = prefix_mask(LENGTHS, T)
    rewards = with_garbage(torch.randn(4, T, generator=generator, dtype=F64), mask, generator)
    values = with_garbage(torch.randn(4, T, generator=generator, dtype=F64), mask, generator)
    return rewards, values, mask, generator


def test_gae_hand_derived():
    """gamma = 0.9, lam = 0.8 (gamma lam = 0.72); garbage (55, 77, 9) outside the mask.
    Sequence 0, three tokens, rewards (0.1, -0.2, 1.0), values (0.5, 0.4, 0.8):
      t=2: delta = 1.0 + 0.9 * 0 - 0.8 = 0.2                A2 = 0.2
      t=1: delta = -0.2 + 0.9 * 0.8 - 0.4 = 0.12            A1 = 0.12 + 0.72 * 0.2 = 0.264
      t=0: delta = 0.1 + 0.9 * 0.4 - 0.5 = -0.04            A0 = -0.04 + 0.72 * 0.264 = 0.15008
      returns = A + V = (0.65008, 0.664, 1.0)
    Sequence 1, one token, reward 2, value 0.5: A = 2 - 0.5 = 1.5, return 2."""
    rewards = torch.tensor([[0.1, -0.2, 1.0, 55.0], [2.0, 9.0, 9.0, 9.0]], dtype=F64)
    values = torch.tensor([[0.5, 0.4, 0.8, 77.0], [0.5, 9.0, 9.0, 9.0]], dtype=F64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=F64)
    advantages, returns = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    assert_close(advantages, torch.tensor([[0.15008, 0.264, 0.2, 0.0], [1.5, 0.0, 0.0, 0.0]], dtype=F64))
    assert_close(returns, torch.tensor([[0.65008, 0.664, 1.0, 0.0], [2.0, 0.0, 0.0, 0.0]], dtype=F64))


def test_gae_matches_a_naive_loop():
    rewards, values, mask, _ = random_rollout(0)
    for gamma, lam in [(0.9, 0.8), (1.0, 0.95), (0.99, 1.0), (0.5, 0.0)]:
        advantages, returns = gae(rewards, values, mask, gamma, lam)
        expected_advantages, expected_returns = [], []
        for b, length in enumerate(LENGTHS):
            a, r = naive_gae(rewards[b].tolist(), values[b].tolist(), length, gamma, lam, T)
            expected_advantages.append(a)
            expected_returns.append(r)
        assert_close(advantages, torch.tensor(expected_advantages, dtype=F64))
        assert_close(returns, torch.tensor(expected_returns, dtype=F64))
        assert (advantages[mask == 0] == 0).all() and (returns[mask == 0] == 0).all()


def test_gae_gamma_one_lambda_one_gives_reward_to_go():
    """gamma = lam = 1: the deltas telescope, A_t = sum_{k >= t} r_k - V_t, so the returns are the
    sum of the rewards still to come in the response."""
    rewards, values, mask, _ = random_rollout(1)
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    to_go = [
        [math.fsum(rewards[b, k].item() for k in range(t, length)) if t < length else 0.0 for t in range(T)]
        for b, length in enumerate(LENGTHS)
    ]
    assert_close(returns, torch.tensor(to_go, dtype=F64))
    assert_close(advantages, (torch.tensor(to_go, dtype=F64) - values) * mask)


def test_gae_lambda_zero_gives_one_step_td_errors():
    """lam = 0: A_t = delta_t = r_t + gamma V_{t+1} - V_t, with V after the last token 0."""
    rewards, values, mask, _ = random_rollout(2)
    gamma = 0.9
    advantages, returns = gae(rewards, values, mask, gamma=gamma, lam=0.0)
    td = [
        [
            rewards[b, t].item() + gamma * (values[b, t + 1].item() if t + 1 < length else 0.0) - values[b, t].item()
            if t < length
            else 0.0
            for t in range(T)
        ]
        for b, length in enumerate(LENGTHS)
    ]
    assert_close(advantages, torch.tensor(td, dtype=F64))
    assert_close(returns, (advantages + values) * mask)


def test_gae_ignores_rewards_and_values_beyond_the_mask():
    """Other garbage (or zeros) after each response leaves the advantages and returns bit-identical."""
    rewards, values, mask, generator = random_rollout(3)
    advantages, returns = gae(rewards, values, mask, gamma=0.95, lam=0.9)
    for other_rewards, other_values in [
        (with_garbage(rewards, mask, generator), with_garbage(values, mask, generator)),
        (rewards * mask, values * mask),
        (-rewards.abs() * 1e3 * (1 - mask) + rewards * mask, values + 1e8 * (1 - mask)),
    ]:
        other_advantages, other_returns = gae(other_rewards, other_values, mask, gamma=0.95, lam=0.9)
        assert torch.equal(other_advantages, advantages) and torch.equal(other_returns, returns)
    assert (advantages.abs() < 1e3).all()  # nothing of the 1e6-sized garbage leaked in


# ---------------------------------------------------------------------------------------------
# PPO policy loss

CLIP = 0.2
POLICY_CASES = [
    # (advantage, ratio, loss, clipped, d loss / d logprob)
    pytest.param(2.0, 1.5, -2.4, 1, 0.0, id="positive-advantage-ratio-above-range-clipped"),
    pytest.param(2.0, 0.5, -1.0, 0, -1.0, id="positive-advantage-ratio-below-range-not-clipped"),
    pytest.param(-2.0, 0.5, 1.6, 1, 0.0, id="negative-advantage-ratio-below-range-clipped"),
    pytest.param(-2.0, 1.5, 3.0, 0, 3.0, id="negative-advantage-ratio-above-range-not-clipped"),
    pytest.param(2.0, 1.1, -2.2, 0, -2.2, id="positive-advantage-ratio-inside-range"),
    pytest.param(-2.0, 0.9, 1.8, 0, 1.8, id="negative-advantage-ratio-inside-range"),
]


@pytest.mark.parametrize("advantage, ratio, loss, clipped, gradient", POLICY_CASES)
def test_ppo_policy_loss_each_clipping_case(advantage, ratio, loss, clipped, gradient):
    """clip = 0.2, so clip(ratio) lies in [0.8, 1.2]; loss = max(-A ratio, -A clip(ratio)).
    A = 2,  ratio 1.5: max(-3.0, -2.4) = -2.4  clipped term larger -> no gradient.
    A = 2,  ratio 0.5: max(-1.0, -1.6) = -1.0  unclipped; d(-A e^(lp - old))/d lp = -A ratio = -1.0.
    A = -2, ratio 0.5: max( 1.0,  1.6) =  1.6  clipped -> no gradient.
    A = -2, ratio 1.5: max( 3.0,  2.4) =  3.0  unclipped; gradient -A ratio = 3.0.
    A = 2,  ratio 1.1: both -2.2 (clip does nothing); gradient -2.2. A = -2, ratio 0.9: both 1.8; gradient 1.8.
    approx_kl = (ln ratio)^2 / 2. A second token, masked, with log-ratio 3 and A = 50, adds nothing."""
    old_logprobs = torch.tensor([[-1.0, -2.0]], dtype=F64)
    logprobs = (old_logprobs + torch.tensor([[math.log(ratio), 3.0]], dtype=F64)).requires_grad_()
    advantages = torch.tensor([[advantage, 50.0]], dtype=F64)
    mask = torch.tensor([[1.0, 0.0]], dtype=F64)
    loss_sum, stats = ppo_policy_loss(logprobs, old_logprobs, advantages, mask, CLIP)
    loss_sum.backward()
    assert loss_sum.item() == pytest.approx(loss, abs=1e-12)
    assert stats["clipfrac"].item() == clipped
    assert stats["approx_kl"].item() == pytest.approx(0.5 * math.log(ratio) ** 2, abs=1e-12)
    assert_close(logprobs.grad, torch.tensor([[gradient, 0.0]], dtype=F64))
    assert not stats["clipfrac"].requires_grad and not stats["approx_kl"].requires_grad


def test_ppo_policy_loss_all_cases_in_one_batch():
    """The six cases above in a (2, 4) batch, the last two tokens of row 1 masked:
    loss = -2.4 - 1.0 + 1.6 + 3.0 - 2.2 + 1.8 = 0.8; clipfrac = 2 (a count, not a fraction);
    approx_kl = ((ln 1.5)^2 + (ln 0.5)^2 + (ln 1.5)^2 + (ln 0.5)^2 + (ln 1.1)^2 + (ln 0.9)^2) / 2 ~ 0.65495."""
    ratios = [[1.5, 0.5, 0.5, 1.5], [1.1, 0.9, 20.0, 0.01]]
    old_logprobs = torch.full((2, 4), -1.5, dtype=F64)
    logprobs = (old_logprobs + torch.tensor(ratios, dtype=F64).log()).requires_grad_()
    advantages = torch.tensor([[2.0, 2.0, -2.0, -2.0], [2.0, -2.0, 1e3, -1e3]], dtype=F64)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=F64)
    loss_sum, stats = ppo_policy_loss(logprobs, old_logprobs, advantages, mask, CLIP)
    loss_sum.backward()
    assert loss_sum.item() == pytest.approx(0.8, abs=1e-12)
    assert stats["clipfrac"].item() == 2
    logs = [math.log(r) for r in (1.5, 0.5, 0.5, 1.5, 1.1, 0.9)]
    assert stats["approx_kl"].item() == pytest.approx(sum(x * x for x in logs) / 2, abs=1e-12)
    assert stats["approx_kl"].item() == pytest.approx(0.654947, abs=1e-6)
    assert_close(logprobs.grad, torch.tensor([[0.0, -1.0, 0.0, 3.0], [-2.2, 1.8, 0.0, 0.0]], dtype=F64))


def test_ppo_policy_loss_matches_a_naive_loop():
    """Random log-ratios (some beyond the clip range on both sides), advantages of both signs, and
    garbage outside the mask (log-probabilities clamped to [-50, 0], as real ones are finite)."""
    generator = torch.Generator().manual_seed(0)
    lengths = LENGTHS * 3
    mask = prefix_mask(lengths, T)
    old_logprobs = -3 * torch.rand(len(lengths), T, generator=generator, dtype=F64)
    logprobs = old_logprobs + 0.5 * torch.randn(len(lengths), T, generator=generator, dtype=F64)
    logprobs = with_garbage(logprobs, mask, generator).clamp(-50, 0).requires_grad_()
    advantages = with_garbage(torch.randn(len(lengths), T, generator=generator, dtype=F64), mask, generator)
    loss_sum, stats = ppo_policy_loss(logprobs, old_logprobs, advantages, mask, CLIP)
    loss_sum.backward()

    loss, clipped_count, approx_kl = 0.0, 0, 0.0
    gradient = [[0.0] * T for _ in lengths]
    clipped_signs = set()
    for b, length in enumerate(lengths):
        for t in range(length):
            log_ratio = logprobs[b, t].item() - old_logprobs[b, t].item()
            ratio, a = math.exp(log_ratio), advantages[b, t].item()
            unclipped, clipped = -a * ratio, -a * min(max(ratio, 1 - CLIP), 1 + CLIP)
            loss += max(unclipped, clipped)
            approx_kl += log_ratio**2 / 2
            if clipped > unclipped:
                clipped_count += 1
                clipped_signs.add(a > 0)
            else:
                gradient[b][t] = -a * ratio
    assert clipped_signs == {True, False}  # the random batch has clipped tokens of both signs
    assert 0 < clipped_count < sum(lengths)
    assert_close(loss_sum, torch.tensor(loss, dtype=F64))
    assert stats["clipfrac"].item() == clipped_count
    assert_close(stats["approx_kl"], torch.tensor(approx_kl, dtype=F64))
    assert_close(logprobs.grad, torch.tensor(gradient, dtype=F64))


# ---------------------------------------------------------------------------------------------
# PPO value loss

VALUE_CASES = [
    # (old value, return, new value, loss, clipped, d loss / d value); clip = 1
    pytest.param(0.0, 10.0, 5.0, 40.5, 1, 0.0, id="beyond-range-towards-the-return-clipped"),
    pytest.param(4.0, 0.0, 1.0, 4.5, 1, 0.0, id="beyond-range-towards-the-return-from-above-clipped"),
    pytest.param(0.0, 10.0, -5.0, 112.5, 0, -15.0, id="beyond-range-away-from-the-return"),
    pytest.param(0.0, 1.5, 5.0, 6.125, 0, 3.5, id="beyond-range-past-the-return"),
    pytest.param(0.0, 10.0, 0.5, 45.125, 0, -9.5, id="inside-range"),
]


@pytest.mark.parametrize("old_value, target, value, loss, clipped, gradient", VALUE_CASES)
def test_ppo_value_loss_each_case(old_value, target, value, loss, clipped, gradient):
    """clip = 1: clipped value = old + clip(value - old, -1, 1); loss = max(e_unclipped, e_clipped) / 2.
    old 0, return 10, value 5:   clipped value 1; errors 25 and 81 -> 81 / 2 = 40.5, clipped. Moving
                                 towards the return beyond the range is what the clip stops: the loss
                                 is that of the clipped value, constant in the value -> gradient 0.
    old 4, return 0, value 1:    clipped value 3; errors 1 and 9 -> 4.5, clipped, gradient 0.
    old 0, return 10, value -5:  clipped value -1; errors 225 and 121 -> 112.5, not clipped (moving away
                                 is never stopped); gradient value - return = -15.
    old 0, return 1.5, value 5:  clipped value 1; errors 12.25 and 0.25 -> 6.125, not clipped (it
                                 overshot the return); gradient 3.5.
    old 0, return 10, value 0.5: inside the range, clipped value = value; both errors 90.25 -> 45.125,
                                 not counted; gradient -9.5.
    The 1/2 factor makes the gradient value - return. A masked second token (value 1e3) adds nothing."""
    old_values = torch.tensor([[old_value, 0.0]], dtype=F64)
    values = torch.tensor([[value, 1e3]], dtype=F64, requires_grad=True)
    returns = torch.tensor([[target, -1e3]], dtype=F64)
    mask = torch.tensor([[1.0, 0.0]], dtype=F64)
    loss_sum, stats = ppo_value_loss(values, old_values, returns, mask, clip=1.0)
    loss_sum.backward()
    assert loss_sum.item() == pytest.approx(loss, abs=1e-12)
    assert stats["vf_clipfrac"].item() == clipped
    assert_close(values.grad, torch.tensor([[gradient, 0.0]], dtype=F64))


def test_ppo_value_loss_all_cases_in_one_batch():
    """The five cases above together: 40.5 + 4.5 + 112.5 + 6.125 + 45.125 = 208.75, vf_clipfrac 2."""
    old_values = torch.tensor([[0.0, 4.0, 0.0, 0.0, 0.0, 7.0]], dtype=F64)
    values = torch.tensor([[5.0, 1.0, -5.0, 5.0, 0.5, 1e4]], dtype=F64)
    returns = torch.tensor([[10.0, 0.0, 10.0, 1.5, 10.0, -1e4]], dtype=F64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]], dtype=F64)
    loss_sum, stats = ppo_value_loss(values, old_values, returns, mask, clip=1.0)
    assert loss_sum.item() == pytest.approx(208.75, abs=1e-12)
    assert stats["vf_clipfrac"].item() == 2


def test_ppo_value_loss_matches_a_naive_loop():
    generator = torch.Generator().manual_seed(0)
    clip = 0.2
    mask = prefix_mask(LENGTHS, T)
    old_values = torch.randn(4, T, generator=generator, dtype=F64)
    values = old_values + 0.5 * (2 * torch.rand(4, T, generator=generator, dtype=F64) - 1)
    values = with_garbage(values, mask, generator).requires_grad_()
    returns = with_garbage(old_values + torch.randn(4, T, generator=generator, dtype=F64), mask, generator)
    loss_sum, stats = ppo_value_loss(values, old_values, returns, mask, clip)
    loss_sum.backward()

    loss, clipped_count = 0.0, 0
    gradient = [[0.0] * T for _ in LENGTHS]
    for b, length in enumerate(LENGTHS):
        for t in range(length):
            v, old, r = values[b, t].item(), old_values[b, t].item(), returns[b, t].item()
            clipped_value = old + min(max(v - old, -clip), clip)
            unclipped_error, clipped_error = (v - r) ** 2, (clipped_value - r) ** 2
            loss += 0.5 * max(unclipped_error, clipped_error)
            if clipped_error > unclipped_error:
                clipped_count += 1
            if not (clipped_error > unclipped_error and abs(v - old) > clip):
                gradient[b][t] = v - r
    assert 0 < clipped_count < sum(LENGTHS)
    assert_close(loss_sum, torch.tensor(loss, dtype=F64))
    assert stats["vf_clipfrac"].item() == clipped_count
    assert_close(values.grad, torch.tensor(gradient, dtype=F64))


def test_ppo_value_loss_does_not_count_tokens_inside_the_clip_range():
    """old -0.2, value -0.06 (moved 0.14 < clip 0.2), return 0: nothing is clipped. In fp32
    old + (value - old) comes out a rounding step further from the return than value, so a naive
    max of the two errors would count the token as clipped."""
    _, stats = ppo_value_loss(
        torch.tensor([[-0.06]]), torch.tensor([[-0.2]]), torch.tensor([[0.0]]), torch.ones(1, 1), 0.2
    )
    assert stats["vf_clipfrac"].item() == 0


# ---------------------------------------------------------------------------------------------
# Adaptive KL controller


def test_adaptive_kl_coef_hand_derived():
    """coef 0.1, target 6, horizon 10000, steps 512 (steps / horizon = 0.0512):
    kl 12 (2x target): error clip(1, -0.2, 0.2) = 0.2    -> 0.1 (1 + 0.2 * 0.0512) = 0.101024
    kl 0 (far below):  error clip(-1) = -0.2             -> 0.1 (1 - 0.2 * 0.0512) = 0.098976
    kl 6.6 (within):   error 0.1                         -> 0.1 (1 + 0.1 * 0.0512) = 0.100512
    kl 5.4 (within):   error -0.1                        -> 0.1 (1 - 0.1 * 0.0512) = 0.099488
    kl 6 (on target):  error 0                           -> 0.1"""
    for kl, expected in [(12.0, 0.101024), (0.0, 0.098976), (6.6, 0.100512), (5.4, 0.099488), (6.0, 0.1)]:
        assert adaptive_kl_coef(0.1, kl, target=6.0, horizon=10000, steps=512) == pytest.approx(expected, abs=1e-12)
    assert adaptive_kl_coef(0.1, 1e9, 6.0, 10000, 512) == pytest.approx(0.1 * (1 + 0.2 * 512 / 10000), abs=1e-15)
