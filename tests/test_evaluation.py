"""Held-out metrics against hand-computed values."""

import numpy as np
import pytest

from alignkit.evaluation import multi_label_metrics, ranks, regression_metrics, single_label_metrics, spearman


def test_single_label_metrics_by_hand():
    """labels 0 0 1 1 2, predictions 0 1 1 1 0.
    class 0: TP 1, predicted 2, actual 2 -> F1 = 2/4 = 0.5
    class 1: TP 2, predicted 3, actual 2 -> F1 = 4/5 = 0.8
    class 2: TP 0, predicted 0, actual 1 -> F1 = 0
    accuracy 3/5; macro-F1 (0.5 + 0.8 + 0) / 3 = 0.4333..."""
    metrics = single_label_metrics(np.array([0, 1, 1, 1, 0]), np.array([0, 0, 1, 1, 2]), ["a", "b", "c"])
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert (metrics["f1_a"], metrics["f1_b"], metrics["f1_c"]) == pytest.approx((0.5, 0.8, 0.0))
    assert metrics["macro_f1"] == pytest.approx(1.3 / 3)


def test_multi_label_metrics_by_hand():
    """labels [[1,0],[1,1],[0,0]], predictions [[1,1],[1,0],[0,0]].
    label 0: TP 2, predicted 2, actual 2 -> F1 1; label 1: TP 0, predicted 1, actual 1 -> F1 0.
    micro: TP 2, predicted 3, actual 3 -> 4/6; macro (1 + 0) / 2; exact match: only row 3 -> 1/3."""
    labels = np.array([[1, 0], [1, 1], [0, 0]])
    predictions = np.array([[1, 1], [1, 0], [0, 0]])
    metrics = multi_label_metrics(predictions, labels)
    assert metrics["micro_f1"] == pytest.approx(2 / 3)
    assert metrics["macro_f1"] == pytest.approx(0.5)
    assert metrics["exact_match"] == pytest.approx(1 / 3)


def test_regression_metrics_by_hand():
    """predictions (1, 2, 3), targets (1, 3, 2): errors 0, -1, 1 -> MSE 2/3, MAE 2/3.
    Pearson: centred (-1, 0, 1) and (-1, 1, 0) -> sum of products 1, norms sqrt 2 each -> 1/2.
    Spearman equals Pearson here (the values are their own ranks)."""
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0]))
    assert metrics["mse"] == pytest.approx(2 / 3) and metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["pearson"] == pytest.approx(0.5) and metrics["spearman"] == pytest.approx(0.5)


def test_ranks_average_ties_and_spearman_is_rank_based():
    assert ranks(np.array([10.0, 20.0, 10.0, 30.0])).tolist() == [1.5, 3.0, 1.5, 4.0]
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(x, x**3) == pytest.approx(1.0)  # monotone, not linear
    assert regression_metrics(x, x**3)["pearson"] < 1.0


def test_constant_predictions_have_zero_correlation():
    assert regression_metrics(np.ones(4), np.arange(4.0))["pearson"] == 0.0
