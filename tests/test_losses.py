"""masked_lm_loss against hand-derived numbers and a naive loop."""

import math

import torch

from alignkit.losses import IGNORE_INDEX, masked_lm_loss


def test_masked_lm_loss_hand_derived():
    """Two positions, vocabulary 2, one ignored.

    Position 0: logits (0, 0) -> p(label 1) = 1/2 -> -log = ln 2.
    Position 1: logits (ln 3, 0) -> p(label 0) = 3/4 -> -log = ln(4/3).
    Position 2: ignored.
    Sum = ln 2 + ln(4/3) = ln(8/3); count = 2.
    """
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, -5.0]]])
    labels = torch.tensor([[1, 0, IGNORE_INDEX]])
    loss_sum, count = masked_lm_loss(logits, labels)
    assert count.item() == 2
    assert abs(loss_sum.item() - math.log(8 / 3)) < 1e-6


def test_masked_lm_loss_matches_a_naive_loop():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=generator)
    labels = torch.randint(0, 11, (3, 5), generator=generator)
    labels[0, :2] = IGNORE_INDEX
    labels[2, 4] = IGNORE_INDEX
    expected, count = 0.0, 0
    for b in range(3):
        for t in range(5):
            if labels[b, t] != IGNORE_INDEX:
                row = logits[b, t].double()
                expected += (torch.logsumexp(row, 0) - row[labels[b, t]]).item()
                count += 1
    loss_sum, got_count = masked_lm_loss(logits, labels)
    assert got_count.item() == count
    assert abs(loss_sum.item() - expected) < 1e-4
