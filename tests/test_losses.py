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


def test_classification_losses_hand_derived():
    """Single: logits (ln 3, 0), target 0 -> p = 3/4 -> ln(4/3); logits (0, 0), target 1 -> ln 2.
    Multi: one example, logits (0, ln 3), targets (1, 0): BCE = ln 2 and -ln(1 - 3/4) = ln 4; mean over
    the 2 labels = (ln 2 + ln 4) / 2 = 1.5 ln 2.
    Regression: predictions (1, 4), targets (0, 1): errors 1 and 3 -> MSE sum 1 + 9 = 10; Huber with
    delta 1: 0.5 * 1 + 1 * (3 - 0.5) = 3."""
    from alignkit.losses import classification_loss

    loss, count = classification_loss(torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]]), torch.tensor([0, 1]), "single")
    assert count.item() == 2 and abs(loss.item() - (math.log(4 / 3) + math.log(2))) < 1e-6
    loss, count = classification_loss(torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[1.0, 0.0]]), "multi")
    assert count.item() == 1 and abs(loss.item() - 1.5 * math.log(2)) < 1e-6
    predictions, targets = torch.tensor([[1.0], [4.0]]), torch.tensor([0.0, 1.0])
    assert abs(classification_loss(predictions, targets, "regression")[0].item() - 10.0) < 1e-6
    huber = classification_loss(predictions, targets, "regression", "huber", huber_delta=1.0)[0]
    assert abs(huber.item() - 3.0) < 1e-6


def test_classification_losses_match_torch_means():
    """The sums divided by the example count equal torch's own mean losses (what HF models use)."""
    from alignkit.losses import classification_loss

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=generator)
    classes = torch.randint(0, 4, (6,), generator=generator)
    hot = (torch.rand(6, 4, generator=generator) > 0.5).float()
    values = torch.randn(6, generator=generator) * 3
    loss, count = classification_loss(logits, classes, "single")
    assert abs(loss.item() / count.item() - torch.nn.CrossEntropyLoss()(logits, classes).item()) < 1e-5
    loss, count = classification_loss(logits, hot, "multi")
    assert abs(loss.item() / count.item() - torch.nn.BCEWithLogitsLoss()(logits, hot).item()) < 1e-5
    loss, count = classification_loss(logits[:, :1], values, "regression")
    assert abs(loss.item() / count.item() - torch.nn.MSELoss()(logits[:, 0], values).item()) < 1e-5
    loss, count = classification_loss(logits[:, :1], values, "regression", "huber", 0.7)
    assert abs(loss.item() / count.item() - torch.nn.HuberLoss(delta=0.7)(logits[:, 0], values).item()) < 1e-5
