"""DPO, KTO and GRPO losses against hand-derived numbers and naive loops over floats."""

import math
import statistics

import pytest
import torch
from torch.testing import assert_close

from alignkit.losses import dpo_loss, group_advantages, grpo_loss, kl_estimate, kto_loss, ppo_policy_loss

F64 = torch.float64
LN2, LN3 = math.log(2.0), math.log(3.0)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def log_sigmoid(x: float) -> float:
    """log sigmoid(x) without overflow: -log(1 + e^-x) for x >= 0, x - log(1 + e^x) below."""
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def prefix_mask(lengths: list[int], width: int) -> torch.Tensor:
    """1 for each answer's first `length` positions, 0 after them."""
    return torch.tensor([[1.0] * n + [0.0] * (width - n) for n in lengths], dtype=F64)


def with_garbage(values: torch.Tensor, mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same values inside the mask, large random garbage outside it, clamped to [-50, 0] as real
    log-probabilities are finite."""
    garbage = 1e6 * torch.randn(values.shape, generator=generator, dtype=values.dtype)
    return torch.where(mask.bool(), values, garbage).clamp(-50, 0)


# ---------------------------------------------------------------------------------------------
# DPO


def dpo_pairs():
    """Two pairs: log-ratios (chosen, rejected) = (0, 0) and (ln 3, 0), so h = 0 and h = ln 3."""
    chosen = torch.tensor([-3.0, -1.0], dtype=F64)
    ref_chosen = torch.tensor([-3.0, -1.0 - LN3], dtype=F64)
    rejected = torch.tensor([-2.0, -4.0], dtype=F64)
    ref_rejected = torch.tensor([-2.0, -4.0], dtype=F64)
    return chosen, rejected, ref_chosen, ref_rejected


def test_dpo_sigmoid_hand_derived():
    """beta = 1. h = 0: -log sigmoid(0) = ln 2. h = ln 3: sigmoid(ln 3) = 3/4 -> ln(4/3). Sum ln(8/3).
    beta = 1/2 on h = 2 ln 3 is the same beta h = ln 3: ln(4/3) again.
    Label smoothing e = 1/4: h = 0 gives (3/4 + 1/4) ln 2 = ln 2 whatever e; h = ln 3 gives
    -(3/4) log sigmoid(ln 3) - (1/4) log sigmoid(-ln 3) = (3/4) ln(4/3) + (1/4) ln 4.
    e = 1/2: both terms weigh the same, -(1/2)(ln(3/4) + ln(1/4)) = ln 4 - (1/2) ln 3 on h = ln 3."""
    chosen, rejected, ref_chosen, ref_rejected = dpo_pairs()
    loss, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=1.0)
    assert loss.item() == pytest.approx(math.log(8 / 3), abs=1e-6)
    loss, _ = dpo_loss(chosen[1:], rejected[1:], ref_chosen[1:] - LN3, ref_rejected[1:], beta=0.5)
    assert loss.item() == pytest.approx(math.log(4 / 3), abs=1e-6)
    loss, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=1.0, label_smoothing=0.25)
    assert loss.item() == pytest.approx(LN2 + 0.75 * math.log(4 / 3) + 0.25 * math.log(4.0), abs=1e-6)
    loss, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=1.0, label_smoothing=0.5)
    assert loss.item() == pytest.approx(LN2 + math.log(4.0) - 0.5 * LN3, abs=1e-6)
    # "sigmoid" is the default loss type
    explicit, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=1.0, loss_type="sigmoid")
    assert explicit.item() == pytest.approx(math.log(8 / 3), abs=1e-6)


def test_dpo_ipo_hand_derived():
    """IPO: (h - 1 / (2 beta))^2. beta = 1/4: target 2. h = 0 -> 4; h = 3 -> 1. Sum 5.
    beta = 1/2: target 1; h = 0 -> 1, h = ln 3 -> (ln 3 - 1)^2. Label smoothing does not apply to IPO."""
    zeros = torch.zeros(2, dtype=F64)
    chosen = torch.tensor([0.0, 3.0], dtype=F64)
    loss, _ = dpo_loss(chosen, zeros, zeros, zeros, beta=0.25, loss_type="ipo")
    assert loss.item() == pytest.approx(5.0, abs=1e-6)
    smoothed, _ = dpo_loss(chosen, zeros, zeros, zeros, beta=0.25, loss_type="ipo", label_smoothing=0.3)
    assert smoothed.item() == loss.item()
    chosen, rejected, ref_chosen, ref_rejected = dpo_pairs()
    loss, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.5, loss_type="ipo")
    assert loss.item() == pytest.approx(1.0 + (LN3 - 1.0) ** 2, abs=1e-6)


def test_dpo_stats_hand_derived():
    """beta = 2, log-ratios (chosen, rejected) = (0, 0), (ln 3, 0), (-1, 0.5):
    implicit rewards beta x log-ratio: chosen (0, 2 ln 3, -2) -> 2 ln 3 - 2; rejected (0, 0, 1) -> 1;
    margin = sum of (chosen - rejected) = 2 ln 3 - 3; accuracy counts pair 1 only (pair 0 is a tie,
    not counted; pair 2 has the rejected answer higher): 1. The stats carry no gradient."""
    chosen, rejected, ref_chosen, ref_rejected = dpo_pairs()
    chosen = torch.cat([chosen, torch.tensor([-2.0], dtype=F64)]).requires_grad_()
    ref_chosen = torch.cat([ref_chosen, torch.tensor([-1.0], dtype=F64)])
    rejected = torch.cat([rejected, torch.tensor([-0.5], dtype=F64)])
    ref_rejected = torch.cat([ref_rejected, torch.tensor([-1.0], dtype=F64)])
    for loss_type in ("sigmoid", "ipo"):
        _, stats = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=2.0, loss_type=loss_type)
        assert set(stats) == {"chosen_reward", "rejected_reward", "reward_margin", "reward_accuracy"}
        assert stats["chosen_reward"].item() == pytest.approx(2 * LN3 - 2, abs=1e-6)
        assert stats["rejected_reward"].item() == pytest.approx(1.0, abs=1e-6)
        assert stats["reward_margin"].item() == pytest.approx(2 * LN3 - 3, abs=1e-6)
        assert stats["reward_accuracy"].item() == 1
        assert not any(value.requires_grad for value in stats.values())


def test_dpo_gradients_hand_derived():
    """d/d chosen_logps of -log sigmoid(beta h) = -beta (1 - sigmoid(beta h)); d/d rejected_logps is
    the opposite. beta = 1: h = 0 -> -1/2; h = ln 3 -> -(1 - 3/4) = -1/4.
    With smoothing e: d/dh [-(1 - e) log s(beta h) - e log s(-beta h)] = beta (sigmoid(beta h) - (1 - e));
    e = 1/4: h = 0 -> 1/2 - 3/4 = -1/4; h = ln 3 -> 3/4 - 3/4 = 0.
    IPO, beta = 1/2 (target 1): 2 (h - 1): h = 0 -> -2; h = ln 3 -> 2 (ln 3 - 1)."""
    for loss_type, smoothing, beta, expected in [
        ("sigmoid", 0.0, 1.0, [-0.5, -0.25]),
        ("sigmoid", 0.25, 1.0, [-0.25, 0.0]),
        ("ipo", 0.0, 0.5, [-2.0, 2 * (LN3 - 1)]),
    ]:
        chosen, rejected, ref_chosen, ref_rejected = dpo_pairs()
        chosen.requires_grad_()
        rejected.requires_grad_()
        loss, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta, loss_type, smoothing)
        loss.backward()
        assert_close(chosen.grad, torch.tensor(expected, dtype=F64), rtol=1e-6, atol=1e-6)
        assert_close(rejected.grad, -torch.tensor(expected, dtype=F64), rtol=1e-6, atol=1e-6)


def test_dpo_matches_a_naive_loop():
    """Random log-probabilities (log-ratio differences of both signs, some large), several beta and e;
    the loss, stats and the gradient wrt each input against a loop over floats."""
    generator = torch.Generator().manual_seed(0)
    pairs = 16
    inputs = [-20 * torch.rand(pairs, generator=generator, dtype=F64) for _ in range(4)]
    for loss_type, beta, smoothing in [
        ("sigmoid", 0.1, 0.0),
        ("sigmoid", 2.0, 0.0),
        ("sigmoid", 0.5, 0.1),
        ("sigmoid", 1.0, 0.4),
        ("ipo", 0.1, 0.0),
        ("ipo", 1.5, 0.0),
    ]:
        chosen, rejected, ref_chosen, ref_rejected = (x.clone().requires_grad_() for x in inputs)
        loss, stats = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta, loss_type, smoothing)
        loss.backward()

        expected = {"loss": 0.0, "chosen": 0.0, "rejected": 0.0, "margin": 0.0, "accuracy": 0}
        gradient = []
        for c, r, rc, rr in zip(*(x.tolist() for x in inputs), strict=True):
            h = (c - rc) - (r - rr)
            if loss_type == "sigmoid":
                expected["loss"] += -(1 - smoothing) * log_sigmoid(beta * h) - smoothing * log_sigmoid(-beta * h)
                gradient.append(beta * (sigmoid(beta * h) - (1 - smoothing)))
            else:
                expected["loss"] += (h - 1 / (2 * beta)) ** 2
                gradient.append(2 * (h - 1 / (2 * beta)))
            expected["chosen"] += beta * (c - rc)
            expected["rejected"] += beta * (r - rr)
            expected["margin"] += beta * (c - rc) - beta * (r - rr)
            expected["accuracy"] += int(beta * (c - rc) > beta * (r - rr))
        assert 0 < expected["accuracy"] < pairs
        tol = {"rtol": 1e-5, "atol": 1e-5}
        assert_close(loss.double(), torch.tensor(expected["loss"], dtype=F64), **tol)
        assert_close(stats["chosen_reward"].double(), torch.tensor(expected["chosen"], dtype=F64), **tol)
        assert_close(stats["rejected_reward"].double(), torch.tensor(expected["rejected"], dtype=F64), **tol)
        assert_close(stats["reward_margin"].double(), torch.tensor(expected["margin"], dtype=F64), **tol)
        assert stats["reward_accuracy"].item() == expected["accuracy"]
        gradient = torch.tensor(gradient, dtype=F64)
        for tensor, sign in [(chosen, 1), (rejected, -1), (ref_chosen, -1), (ref_rejected, 1)]:
            assert_close(tensor.grad, sign * gradient, **tol)


def test_dpo_outputs_fp32():
    """The loss and stats are fp32 whether the inputs are fp32, fp64 or bf16."""
    chosen, rejected, ref_chosen, ref_rejected = dpo_pairs()
    for dtype in (torch.float32, F64, torch.bfloat16):
        args = [x.to(dtype) for x in (chosen, rejected, ref_chosen, ref_rejected)]
        for loss_type in ("sigmoid", "ipo"):
            loss, stats = dpo_loss(*args, beta=0.5, loss_type=loss_type, label_smoothing=0.1)
            assert loss.dtype == torch.float32 and loss.shape == ()
            assert all(value.dtype == torch.float32 and value.shape == () for value in stats.values())


def test_dpo_unknown_loss_type_raises():
    zeros = torch.zeros(2)
    with pytest.raises(ValueError, match="hinge"):
        dpo_loss(zeros, zeros, zeros, zeros, beta=0.1, loss_type="hinge")


# ---------------------------------------------------------------------------------------------
# KTO


def kto_answers():
    """Three answers with log-ratios r = (ln 3, ln 3, 0): desirable, undesirable, undesirable."""
    logps = torch.tensor([-1.0, -2.0, -3.0], dtype=F64)
    ref_logps = torch.tensor([-1.0 - LN3, -2.0 - LN3, -3.0], dtype=F64)
    desirable = torch.tensor([True, False, False])
    return logps, ref_logps, desirable


def test_kto_hand_derived():
    """beta = 1, r = (ln 3, ln 3, 0), kinds (desirable, undesirable, undesirable).
    kl = -0.5 is clamped to z0 = 0: desirable r = ln 3: 1 - sigmoid(ln 3) = 1/4; undesirable r = ln 3:
    1 - sigmoid(-ln 3) = 3/4; undesirable r = 0: 1 - sigmoid(0) = 1/2. Sum 3/2 (the same as kl = 0).
    Weights w_d = 2, w_u = 1/2: 2/4 + 3/8 + 1/4 = 9/8.
    kl = ln 3 (z0 = ln 3): desirable 1 - sigmoid(0) = 1/2; undesirable r = ln 3: 1/2; undesirable r = 0:
    1 - sigmoid(ln 3) = 1/4. Sum 5/4; kl as a tensor gives the same.
    beta = 1/2, z0 = 0: 1 - sigmoid(ln 3 / 2) = 1 - sqrt 3 / (1 + sqrt 3) = 1 / (1 + sqrt 3), twice
    (the undesirable r = ln 3 has 1 - sigmoid(-ln 3 / 2) = sqrt 3 / (1 + sqrt 3)), plus 1/2: 3/2 again."""
    logps, ref_logps, desirable = kto_answers()
    for kl in (-0.5, 0.0, torch.tensor(-0.5)):
        loss, _ = kto_loss(logps, ref_logps, desirable, kl, beta=1.0)
        assert loss.item() == pytest.approx(1.5, abs=1e-6)
    loss, _ = kto_loss(logps, ref_logps, desirable, -0.5, beta=1.0, desirable_weight=2.0, undesirable_weight=0.5)
    assert loss.item() == pytest.approx(9 / 8, abs=1e-6)
    for kl in (LN3, torch.tensor(LN3, dtype=F64)):
        loss, _ = kto_loss(logps, ref_logps, desirable, kl, beta=1.0)
        assert loss.item() == pytest.approx(1.25, abs=1e-6)
    s = math.sqrt(3.0)
    loss, _ = kto_loss(logps, ref_logps, desirable, 0.0, beta=0.5)
    assert loss.item() == pytest.approx(1 / (1 + s) + s / (1 + s) + 0.5, abs=1e-6)
    # a 0/1 float mask of desirable answers works like a boolean one
    loss, _ = kto_loss(logps, ref_logps, desirable.double(), 0.0, beta=1.0)
    assert loss.item() == pytest.approx(1.5, abs=1e-6)


def test_kto_stats_hand_derived():
    """beta = 2, r = (ln 3, ln 3, 0): desirable reward 2 ln 3; undesirable 2 ln 3 + 0; one desirable
    answer. The reference point does not enter the rewards; the stats carry no gradient."""
    logps, ref_logps, desirable = kto_answers()
    logps.requires_grad_()
    for kl in (0.0, 5.0):
        _, stats = kto_loss(logps, ref_logps, desirable, kl, beta=2.0)
        assert set(stats) == {"desirable_reward", "undesirable_reward", "desirable_count"}
        assert stats["desirable_reward"].item() == pytest.approx(2 * LN3, abs=1e-6)
        assert stats["undesirable_reward"].item() == pytest.approx(2 * LN3, abs=1e-6)
        assert stats["desirable_count"].item() == 1
        assert not any(value.requires_grad for value in stats.values())


def test_kto_gradients_hand_derived_and_kl_carries_none():
    """beta = 1, z0 = 0, weights (2, 1/2). d/dr of w_d (1 - sigmoid(beta (r - z0))) = -w_d beta s (1 - s)
    with s = sigmoid(beta (r - z0)); d/dr of w_u (1 - sigmoid(beta (z0 - r))) = +w_u beta s (1 - s) with
    s = sigmoid(beta (z0 - r)).
    desirable r = ln 3: s = 3/4 -> -2 x 3/16 = -3/8; undesirable r = ln 3: s = 1/4 -> 1/2 x 3/16 = 3/32;
    undesirable r = 0: s = 1/2 -> 1/2 x 1/4 = 1/8. ref_logps get the opposite.
    kl is a tensor that requires grad (it would be computed from the policy): it gets no gradient."""
    logps, ref_logps, desirable = kto_answers()
    logps.requires_grad_()
    ref_logps.requires_grad_()
    kl = torch.tensor(-0.3, dtype=F64, requires_grad=True)
    loss, _ = kto_loss(logps, ref_logps, desirable, kl, beta=1.0, desirable_weight=2.0, undesirable_weight=0.5)
    assert loss.item() == pytest.approx(9 / 8, abs=1e-6)
    loss.backward()
    expected = torch.tensor([-3 / 8, 3 / 32, 1 / 8], dtype=F64)
    assert_close(logps.grad, expected, rtol=1e-6, atol=1e-6)
    assert_close(ref_logps.grad, -expected, rtol=1e-6, atol=1e-6)
    assert kl.grad is None
    # a positive kl, which does move the reference point, still passes no gradient back
    kl = torch.tensor(0.7, dtype=F64, requires_grad=True)
    loss, _ = kto_loss(logps.detach(), ref_logps.detach(), desirable, kl * 1.0, beta=1.0)
    assert not loss.requires_grad  # nothing in the graph leads back to kl


def test_kto_matches_a_naive_loop():
    generator = torch.Generator().manual_seed(0)
    n = 20
    logps = -20 * torch.rand(n, generator=generator, dtype=F64)
    ref_logps = -20 * torch.rand(n, generator=generator, dtype=F64)
    desirable = torch.rand(n, generator=generator) < 0.5
    assert 0 < desirable.sum() < n
    for kl, beta, w_d, w_u in [
        (0.0, 0.1, 1.0, 1.0),
        (-2.0, 0.5, 1.0, 1.33),
        (1.7, 0.2, 0.8, 1.0),
        (4.0, 1.0, 3.0, 0.5),
    ]:
        policy = logps.clone().requires_grad_()
        loss, stats = kto_loss(policy, ref_logps, desirable, kl, beta, w_d, w_u)
        loss.backward()

        z0 = max(kl, 0.0)
        expected_loss, good_reward, bad_reward, count, gradient = 0.0, 0.0, 0.0, 0, []
        for lp, ref, good in zip(logps.tolist(), ref_logps.tolist(), desirable.tolist(), strict=True):
            r = lp - ref
            if good:
                s = sigmoid(beta * (r - z0))
                expected_loss += w_d * (1 - s)
                gradient.append(-w_d * beta * s * (1 - s))
                good_reward += beta * r
                count += 1
            else:
                s = sigmoid(beta * (z0 - r))
                expected_loss += w_u * (1 - s)
                gradient.append(w_u * beta * s * (1 - s))
                bad_reward += beta * r
        tol = {"rtol": 1e-5, "atol": 1e-5}
        assert_close(loss.double(), torch.tensor(expected_loss, dtype=F64), **tol)
        assert_close(stats["desirable_reward"].double(), torch.tensor(good_reward, dtype=F64), **tol)
        assert_close(stats["undesirable_reward"].double(), torch.tensor(bad_reward, dtype=F64), **tol)
        assert stats["desirable_count"].item() == count
        assert_close(policy.grad, torch.tensor(gradient, dtype=F64), **tol)


def test_kto_outputs_fp32():
    logps, ref_logps, desirable = kto_answers()
    for dtype in (torch.float32, F64, torch.bfloat16):
        for kl in (0.2, torch.tensor(0.2, dtype=dtype)):
            loss, stats = kto_loss(logps.to(dtype), ref_logps.to(dtype), desirable, kl, beta=0.1)
            assert loss.dtype == torch.float32 and loss.shape == ()
            assert all(value.dtype == torch.float32 and value.shape == () for value in stats.values())


# ---------------------------------------------------------------------------------------------
# Group advantages


def test_group_advantages_hand_derived():
    """Group (1, 2, 3): mean 2, centred (-1, 0, 1); Bessel's std sqrt((1 + 0 + 1) / 2) = 1.
    eps = 0 -> (-1, 0, 1); the default eps = 1e-4 -> (-1, 0, 1) / 1.0001; scale off -> (-1, 0, 1).
    Group (5, 5, 5): centred zeros, std 0 -> 0 / eps = 0 (no NaN).
    Group (0, 4): mean 2, Bessel std sqrt((4 + 4) / 1) = 2 sqrt 2 -> (-1, 1) / sqrt 2 (the population
    std, 2, would give (-1, 1)); scale off -> (-2, 2)."""
    rewards = torch.tensor([1.0, 2.0, 3.0, 5.0, 5.0, 5.0])
    assert_close(group_advantages(rewards, 3, eps=0.0)[:3], torch.tensor([-1.0, 0.0, 1.0]))
    assert_close(group_advantages(rewards, 3), torch.tensor([-1.0, 0.0, 1.0, 0.0, 0.0, 0.0]) / 1.0001)
    assert_close(group_advantages(rewards, 3, scale=False), torch.tensor([-1.0, 0.0, 1.0, 0.0, 0.0, 0.0]))
    assert (group_advantages(rewards, 3)[3:] == 0).all()
    half = 1 / math.sqrt(2.0)
    assert_close(group_advantages(torch.tensor([0.0, 4.0]), 2, eps=0.0), torch.tensor([-half, half]))
    assert_close(group_advantages(torch.tensor([0.0, 4.0]), 2, scale=False), torch.tensor([-2.0, 2.0]))
    # groups are consecutive: (1, 2), (3, 5), (5, 5) with G = 2
    assert_close(group_advantages(rewards, 2, scale=False), torch.tensor([-0.5, 0.5, -1.0, 1.0, 0.0, 0.0]))


def test_group_advantages_match_a_naive_loop():
    """Random rewards, 5 groups of 4 (one group of equal rewards), against statistics.mean / stdev.
    eps stays > 0 here: with eps = 0 the group of equal rewards would be 0 / 0."""
    generator = torch.Generator().manual_seed(0)
    rewards = 3 * torch.randn(20, generator=generator, dtype=F64)
    rewards[8:12] = 0.7
    for scale, eps in [(True, 1e-4), (True, 1e-8), (True, 0.5), (False, 1e-4)]:
        got = group_advantages(rewards, 4, scale=scale, eps=eps)
        assert got.shape == (20,)
        expected = []
        for g in range(5):
            group = rewards[4 * g : 4 * g + 4].tolist()
            mean, std = statistics.mean(group), statistics.stdev(group)
            for reward in group:
                if scale:
                    expected.append((reward - mean) / (std + eps))
                else:
                    expected.append(reward - mean)
        assert_close(got.double(), torch.tensor(expected, dtype=F64), rtol=1e-5, atol=1e-6)
        assert (got[8:12] == 0).all()


def test_group_advantages_outputs_fp32():
    for dtype in (torch.float32, F64, torch.bfloat16):
        for scale in (True, False):
            assert group_advantages(torch.arange(6, dtype=dtype), 3, scale=scale).dtype == torch.float32


# ---------------------------------------------------------------------------------------------
# GRPO

CLIP = 0.2


def grpo_hand_batch():
    """Two answers, width 3. Answer 0 (3 tokens): A = 1, ratios (1, 1.5, 0.5). Answer 1 (1 token):
    A = -2, ratio 1.5, then two masked tokens with garbage. ref - logprobs = (0, -ln 2, ln 2) and (ln 2)."""
    old_logprobs = torch.tensor([[-1.0, -2.0, -1.5], [-0.5, -3.0, -0.1]], dtype=F64)
    log_ratios = torch.tensor([[0.0, math.log(1.5), math.log(0.5)], [math.log(1.5), 2.0, -40.0]], dtype=F64)
    logprobs = (old_logprobs + log_ratios).requires_grad_()
    ref_logprobs = logprobs.detach() + torch.tensor([[0.0, -LN2, LN2], [LN2, 30.0, -9.0]], dtype=F64)
    advantages = torch.tensor([1.0, -2.0], dtype=F64)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=F64)
    return logprobs, old_logprobs, ref_logprobs, advantages, mask


def test_grpo_token_and_sequence_normalisation_hand_derived():
    """clip 0.2, per token max(-A ratio, -A clip(ratio, 0.8, 1.2)):
    answer 0 (A = 1): ratio 1 -> -1; 1.5 -> max(-1.5, -1.2) = -1.2 (clipped); 0.5 -> max(-0.5, -0.8) = -0.5.
        Sum -2.7, mean -0.9.
    answer 1 (A = -2): ratio 1.5 -> max(3, 2.4) = 3. Sum = mean = 3.
    token:    -2.7 + 3 = 0.3,     units 4 tokens.
    sequence: -0.9 + 3 = 2.1,     units 2 answers.
    Gradients (d/d logprob = -A ratio where not clipped, 0 where clipped or masked):
    token (-1, 0, -0.5), (3, 0, 0); sequence divides each answer's by its length: (-1/3, 0, -1/6), (3, 0, 0).
    clipfrac = 1 (a count), approx_kl = ((ln 1.5)^2 + (ln 0.5)^2 + (ln 1.5)^2) / 2 either way."""
    approx_kl = (2 * math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2
    for normalise, loss, units, gradient in [
        ("token", 0.3, 4, [[-1.0, 0.0, -0.5], [3.0, 0.0, 0.0]]),
        ("sequence", 2.1, 2, [[-1 / 3, 0.0, -1 / 6], [3.0, 0.0, 0.0]]),
    ]:
        logprobs, old_logprobs, ref_logprobs, advantages, mask = grpo_hand_batch()
        for ref in (None, ref_logprobs):  # beta = 0: the reference is not used
            got_loss, got_units, stats = grpo_loss(logprobs, old_logprobs, ref, advantages, mask, CLIP, 0.0, normalise)
            assert got_loss.item() == pytest.approx(loss, abs=1e-12)
            assert got_units.item() == units
            assert set(stats) == {"clipfrac", "approx_kl"}
            assert stats["clipfrac"].item() == 1
            assert stats["approx_kl"].item() == pytest.approx(approx_kl, abs=1e-12)
        got_loss.backward()
        assert_close(logprobs.grad, torch.tensor(gradient, dtype=F64))
    # the default normalisation is "token"
    logprobs, old_logprobs, _, advantages, mask = grpo_hand_batch()
    loss, units, _ = grpo_loss(logprobs, old_logprobs, None, advantages, mask, CLIP)
    assert loss.item() == pytest.approx(0.3, abs=1e-12) and units.item() == 4


def test_grpo_kl_term_hand_derived():
    """beta = 0.1, k3 = (r - 1) - ln r with r = exp(ref - logprob) on the masked tokens:
    answer 0: r = 1 -> 0; r = 1/2 -> ln 2 - 1/2; r = 2 -> 1 - ln 2. Answer 1: r = 2 -> 1 - ln 2.
    Sum of k3 = 3/2 - ln 2 (the masked tokens' ref, log-ratios 30 and -9, count for nothing).
    token:    0.3 + 0.1 (3/2 - ln 2)                          (each masked token adds beta k3)
    sequence: 2.1 + 0.1 ((ln 2 - 1/2 + 1 - ln 2) / 3 + 1 - ln 2) = 2.1 + 0.1 (1/6 + 1 - ln 2).
    stats["kl"] = 3/2 - ln 2 either way. d k3 / d logprob = 1 - r, so the gradient gains
    beta (1 - r): token (0, 0.05, -0.1), (-0.1); sequence divides by the answer's length."""
    k3_sum = 1.5 - LN2
    for normalise, loss, extra, gradient in [
        ("token", 0.3, 0.1 * k3_sum, [[-1.0, 0.05, -0.5 - 0.1], [3.0 - 0.1, 0.0, 0.0]]),
        ("sequence", 2.1, 0.1 * (1 / 6 + 1 - LN2), [[-1 / 3, 0.05 / 3, (-0.5 - 0.1) / 3], [3.0 - 0.1, 0.0, 0.0]]),
    ]:
        logprobs, old_logprobs, ref_logprobs, advantages, mask = grpo_hand_batch()
        got_loss, _, stats = grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, CLIP, 0.1, normalise)
        # kl_estimate computes k3 in fp32, so this part is exact to ~1e-7 only
        assert got_loss.item() == pytest.approx(loss + extra, abs=1e-6)
        assert stats["kl"].item() == pytest.approx(k3_sum, abs=1e-6)
        assert not stats["kl"].requires_grad and not stats["clipfrac"].requires_grad
        got_loss.backward()
        assert_close(logprobs.grad, torch.tensor(gradient, dtype=F64))


def naive_grpo(logprobs, old_logprobs, ref_logprobs, advantages, lengths, clip, beta, normalise):
    """GRPO as plain floats: (loss, units, clipfrac count, approx_kl, kl, d loss / d logprobs)."""
    loss, clipped_count, approx_kl, kl = 0.0, 0, 0.0, 0.0
    gradient = [[0.0] * len(row) for row in logprobs]
    for b, length in enumerate(lengths):
        answer_loss = 0.0
        weight = 1.0 / length if normalise == "sequence" else 1.0
        for t in range(length):
            log_ratio = logprobs[b][t] - old_logprobs[b][t]
            ratio, a = math.exp(log_ratio), advantages[b]
            unclipped, clipped = -a * ratio, -a * min(max(ratio, 1 - clip), 1 + clip)
            answer_loss += max(unclipped, clipped)
            approx_kl += log_ratio**2 / 2
            token_gradient = 0.0
            if clipped > unclipped:
                clipped_count += 1
            else:
                token_gradient = -a * ratio
            if beta > 0:
                r = math.exp(ref_logprobs[b][t] - logprobs[b][t])
                k3 = (r - 1) - math.log(r)
                answer_loss += beta * k3
                kl += k3
                token_gradient += beta * (1 - r)
            gradient[b][t] = weight * token_gradient
        loss += weight * answer_loss
    units = sum(lengths) if normalise == "token" else len(lengths)
    return loss, units, clipped_count, approx_kl, kl, gradient


def test_grpo_matches_a_naive_loop():
    """12 answers (3 prompts x G = 4) of lengths 1 to T, advantages from group_advantages, log-ratios
    beyond the clip range on both sides, garbage outside the mask; both normalisations, beta 0 and > 0."""
    generator = torch.Generator().manual_seed(0)
    width = 7
    lengths = [5, 1, 7, 3, 2, 7, 4, 6, 1, 3, 5, 2]
    mask = prefix_mask(lengths, width)
    old_logprobs = -3 * torch.rand(len(lengths), width, generator=generator, dtype=F64)
    logprobs = with_garbage(
        old_logprobs + 0.5 * torch.randn(old_logprobs.shape, generator=generator, dtype=F64), mask, generator
    )
    ref_logprobs = with_garbage(
        logprobs + 0.5 * torch.randn(logprobs.shape, generator=generator, dtype=F64), mask, generator
    )
    advantages = group_advantages(torch.randn(len(lengths), generator=generator, dtype=F64), 4).double()
    lists = [x.tolist() for x in (logprobs, old_logprobs, ref_logprobs, advantages)]
    for normalise in ("token", "sequence"):
        for beta in (0.0, 0.04, 0.5):
            policy = logprobs.clone().requires_grad_()
            loss, units, stats = grpo_loss(policy, old_logprobs, ref_logprobs, advantages, mask, CLIP, beta, normalise)
            loss.backward()
            expected = naive_grpo(*lists, lengths, CLIP, beta, normalise)
            expected_loss, expected_units, clipped_count, approx_kl, kl, gradient = expected
            assert 0 < clipped_count < sum(lengths)
            assert_close(loss.double(), torch.tensor(expected_loss, dtype=F64), rtol=1e-5, atol=1e-5)
            assert units.item() == expected_units
            assert stats["clipfrac"].item() == clipped_count
            assert_close(stats["approx_kl"].double(), torch.tensor(approx_kl, dtype=F64), rtol=1e-5, atol=1e-5)
            if beta > 0:
                assert_close(stats["kl"].double(), torch.tensor(kl, dtype=F64), rtol=1e-5, atol=1e-5)
            else:
                assert "kl" not in stats
            assert_close(policy.grad, torch.tensor(gradient, dtype=F64), rtol=1e-5, atol=1e-5)
            assert (policy.grad[mask == 0] == 0).all()


def test_grpo_beta_adds_exactly_beta_k3_per_masked_token():
    """loss(beta) - loss(0) = beta x sum over the masked tokens of k3 (token), or of each answer's mean
    k3 (sequence), with k3 from kl_estimate; beta = 0 with token normalisation is ppo_policy_loss with
    each answer's advantage on all of its tokens."""
    generator = torch.Generator().manual_seed(1)
    lengths = [4, 1, 6, 2]
    mask = prefix_mask(lengths, 6)
    old_logprobs = -3 * torch.rand(4, 6, generator=generator, dtype=F64)
    logprobs = with_garbage(old_logprobs + 0.3 * torch.randn(4, 6, generator=generator, dtype=F64), mask, generator)
    ref_logprobs = with_garbage(logprobs + torch.randn(4, 6, generator=generator, dtype=F64), mask, generator)
    advantages = torch.randn(4, generator=generator, dtype=F64)
    k3 = kl_estimate(logprobs, ref_logprobs, "k3") * mask
    for normalise, kl_term in [("token", k3.sum()), ("sequence", (k3.sum(1) / mask.sum(1)).sum())]:
        base, _, _ = grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, CLIP, 0.0, normalise)
        for beta in (0.01, 0.3):
            with_kl, _, stats = grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, CLIP, beta, normalise)
            assert_close(with_kl - base, beta * kl_term)
            assert_close(stats["kl"], k3.sum())
    base, units, _ = grpo_loss(logprobs, old_logprobs, None, advantages, mask, CLIP)
    ppo, _ = ppo_policy_loss(logprobs, old_logprobs, advantages.unsqueeze(1).expand(4, 6), mask, CLIP)
    assert_close(base, ppo)
    assert units.item() == sum(lengths)


def test_grpo_masked_tokens_contribute_nothing():
    """Other garbage (or zeros) outside the mask in logprobs, old_logprobs and ref_logprobs leaves the
    loss, units and stats unchanged and the gradient outside the mask 0; a boolean mask works like a
    0/1 one."""
    generator = torch.Generator().manual_seed(2)
    lengths = [3, 1, 5]
    mask = prefix_mask(lengths, 5)
    old_logprobs = with_garbage(-3 * torch.rand(3, 5, generator=generator, dtype=F64), mask, generator)
    logprobs = with_garbage(old_logprobs + 0.5 * torch.randn(3, 5, generator=generator, dtype=F64), mask, generator)
    ref_logprobs = with_garbage(logprobs + torch.randn(3, 5, generator=generator, dtype=F64), mask, generator)
    advantages = torch.tensor([1.5, -0.5, -1.0], dtype=F64)
    for normalise in ("token", "sequence"):
        reference = grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, CLIP, 0.2, normalise)
        for others in [
            [with_garbage(x, mask, generator) for x in (logprobs, old_logprobs, ref_logprobs)],
            [x * mask for x in (logprobs, old_logprobs, ref_logprobs)],
        ]:
            policy = others[0].clone().requires_grad_()
            loss, units, stats = grpo_loss(policy, others[1], others[2], advantages, mask, CLIP, 0.2, normalise)
            assert_close(loss, reference[0], rtol=1e-12, atol=1e-12)
            assert units.item() == reference[1].item()
            for key, value in reference[2].items():
                assert_close(stats[key], value, rtol=1e-12, atol=1e-12)
            loss.backward()
            assert torch.isfinite(policy.grad).all() and (policy.grad[mask == 0] == 0).all()
        loss, units, _ = grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask.bool(), CLIP, 0.2, normalise)
        assert_close(loss, reference[0])
        assert units.item() == reference[1].item()


def test_grpo_outputs_fp32():
    """fp32 inputs give an fp32 loss, units and stats."""
    logprobs, old_logprobs, ref_logprobs, advantages, mask = (x.detach().float() for x in grpo_hand_batch())
    for normalise in ("token", "sequence"):
        for beta in (0.0, 0.1):
            loss, units, stats = grpo_loss(
                logprobs, old_logprobs, ref_logprobs, advantages, mask, CLIP, beta, normalise
            )
            assert loss.dtype == torch.float32 and units.dtype == torch.float32
            assert all(value.dtype == torch.float32 for value in stats.values())


def test_grpo_unknown_normalisation_raises():
    logprobs, old_logprobs, ref_logprobs, advantages, mask = grpo_hand_batch()
    with pytest.raises(ValueError, match="mean"):
        grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, CLIP, normalise="mean")


def test_group_advantages_and_grpo_refuse_what_they_cannot_compute():
    """A group of one answer has no spread to normalise by; a KL term needs the reference's log-probs."""
    with pytest.raises(ValueError, match="at least 2"):
        group_advantages(torch.tensor([1.0, 2.0]), 1)
    ones = torch.ones(1, 2)
    with pytest.raises(ValueError, match="reference"):
        grpo_loss(ones, ones, None, torch.ones(1), ones, 0.2, beta=0.1)
