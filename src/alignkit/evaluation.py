"""Held-out metrics as pure functions on numpy arrays: classification, multi-label and regression.

Small and dependency-free (no scikit-learn, no scipy) so every stage can report them; each is
tested against hand-computed values. F1 of a class with no true and no predicted example is 0,
as scikit-learn's `zero_division=0`.
"""

from __future__ import annotations

import numpy as np


def f1_scores(true_positive: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2 TP / (predicted + actual), 0 where both counts are 0."""
    denominator = predicted + actual
    return np.where(denominator > 0, 2 * true_positive / np.maximum(denominator, 1), 0.0)


def single_label_metrics(predictions: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, float]:
    """predictions, labels: (N,) class ids. Accuracy, macro-F1 and the F1 of each class (f1_<name>)."""
    classes = np.arange(len(names))
    true_positive = np.array([np.sum((predictions == c) & (labels == c)) for c in classes], dtype=np.float64)
    predicted = np.array([np.sum(predictions == c) for c in classes], dtype=np.float64)
    actual = np.array([np.sum(labels == c) for c in classes], dtype=np.float64)
    per_class = f1_scores(true_positive, predicted, actual)
    metrics = {"accuracy": float(np.mean(predictions == labels)), "macro_f1": float(per_class.mean())}
    metrics.update({f"f1_{name}": float(score) for name, score in zip(names, per_class, strict=True)})
    return metrics


def multi_label_metrics(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """predictions, labels: (N, L) 0/1. Micro-F1 pools every (example, label) decision; macro-F1
    averages the labels' F1; exact_match is the share of examples with every label right."""
    predictions, labels = predictions.astype(bool), labels.astype(bool)
    true_positive = (predictions & labels).sum(axis=0).astype(np.float64)
    predicted, actual = predictions.sum(axis=0).astype(np.float64), labels.sum(axis=0).astype(np.float64)
    micro = f1_scores(true_positive.sum(), predicted.sum(), actual.sum())
    return {
        "micro_f1": float(micro),
        "macro_f1": float(f1_scores(true_positive, predicted, actual).mean()),
        "exact_match": float(np.mean((predictions == labels).all(axis=1))),
    }


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant (no linear relation can be measured)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    scale = np.sqrt(np.sum(dx * dx) * np.sum(dy * dy))
    return float(np.sum(dx * dy) / scale) if scale > 0 else 0.0


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N, tied values sharing the mean of their ranks (as scipy.stats.rankdata)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    result = np.empty(len(values), dtype=np.float64)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        result[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return result


def auc(scores, positive) -> float:
    """The share of (positive, negative) pairs whose positive scores higher, ties counting half
    (Mann-Whitney U from tie-averaged ranks); nan without both kinds."""
    positive = np.asarray(positive, dtype=bool)
    good, bad = int(positive.sum()), int((~positive).sum())
    if not good or not bad:
        return float("nan")
    rank_sum = ranks(scores)[positive].sum()
    return float((rank_sum - good * (good + 1) / 2) / (good * bad))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation: Pearson on the (tie-averaged) ranks."""
    return pearson(ranks(x), ranks(y))


def regression_metrics(predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """predictions, targets: (N,) floats. MSE, MAE, Pearson and Spearman."""
    errors = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return {
        "mse": float(np.mean(errors**2)),
        "mae": float(np.mean(np.abs(errors))),
        "pearson": pearson(predictions, targets),
        "spearman": spearman(predictions, targets),
    }
