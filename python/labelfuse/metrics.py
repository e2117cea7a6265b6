"""Classification metrics for label models, in plain numpy.

Predictions of -1 (abstain) are allowed: they count as wrong for accuracy and as a miss for the true class in
precision / recall / F1 (never as a positive prediction of any class).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["accuracy", "precision", "recall", "f1", "brier", "log_loss", "METRICS"]


def _labels(y: Any, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {y.shape}")
    if y.dtype == np.bool_ or y.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, got dtype {y.dtype}")
    return y.astype(np.int64, copy=False)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred: expected {t.shape[0]} labels (as y_true), got {p.shape[0]}")
    if t.size == 0:
        raise ValueError("y_true: is empty")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of rows predicted right (a -1 prediction is wrong)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def _per_class_counts(t: np.ndarray, p: np.ndarray, cardinality: int):
    k = cardinality
    valid = (p >= 0) & (p < k)
    tp = np.bincount(t[valid & (t == p)], minlength=k)[:k]
    predicted = np.bincount(p[valid], minlength=k)[:k]
    actual = np.bincount(t[(t >= 0) & (t < k)], minlength=k)[:k]
    return tp.astype(np.float64), predicted.astype(np.float64), actual.astype(np.float64)


def _cardinality(t: np.ndarray, p: np.ndarray, cardinality: Optional[int]) -> int:
    if cardinality is not None:
        return int(cardinality)
    return max(2, int(max(t.max(), p.max())) + 1)


def _average(per_class: np.ndarray, predicted: np.ndarray, actual: np.ndarray, k: int) -> float:
    if k == 2:
        return float(per_class[1])
    present = (predicted > 0) | (actual > 0)  # scikit-learn's default label set: seen in y_true or y_pred
    return float(per_class[present].mean()) if present.any() else 0.0


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def precision(y_true: Any, y_pred: Any, cardinality: Optional[int] = None) -> float:
    """Binary: of class 1; multi-class: macro average over the classes present (0 where undefined)."""
    t, p = _pair(y_true, y_pred)
    k = _cardinality(t, p, cardinality)
    tp, predicted, actual = _per_class_counts(t, p, k)
    return _average(_safe_div(tp, predicted), predicted, actual, k)


def recall(y_true: Any, y_pred: Any, cardinality: Optional[int] = None) -> float:
    """Binary: of class 1; multi-class: macro average over the classes present (0 where undefined)."""
    t, p = _pair(y_true, y_pred)
    k = _cardinality(t, p, cardinality)
    tp, predicted, actual = _per_class_counts(t, p, k)
    return _average(_safe_div(tp, actual), predicted, actual, k)


def f1(y_true: Any, y_pred: Any, cardinality: Optional[int] = None) -> float:
    """Binary: F1 of class 1; multi-class: macro F1 (per-class F1 = 2 tp / (predicted + actual), 0 if undefined)."""
    t, p = _pair(y_true, y_pred)
    k = _cardinality(t, p, cardinality)
    tp, predicted, actual = _per_class_counts(t, p, k)
    return _average(_safe_div(2 * tp, predicted + actual), predicted, actual, k)


def _proba(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _labels(y_true, "y_true")
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != t.shape[0]:
        raise ValueError(f"proba: expected shape ({t.shape[0]}, k), got {P.shape}")
    if t.size == 0:
        raise ValueError("y_true: is empty")
    if t.min() < 0 or t.max() >= P.shape[1]:
        raise ValueError(f"y_true: labels must be classes in 0..{P.shape[1] - 1}")
    return t, P


def brier(y_true: Any, proba: Any) -> float:
    """Mean squared error of the probabilities against one-hot truth, summed over classes; for two classes it
    is halved, which makes it (p_1 - y)^2 as in scikit-learn's ``brier_score_loss``."""
    t, P = _proba(y_true, proba)
    onehot = np.zeros_like(P)
    onehot[np.arange(t.size), t] = 1.0
    total = np.sum((P - onehot) ** 2, axis=1).mean()
    return float(total / 2 if P.shape[1] == 2 else total)


def log_loss(y_true: Any, proba: Any, eps: float = 1e-15) -> float:
    """Mean negative log-probability of the true class (probabilities clipped to [eps, 1])."""
    t, P = _proba(y_true, proba)
    return float(-np.mean(np.log(np.clip(P[np.arange(t.size), t], eps, 1.0))))


# name -> (function, needs probabilities)
METRICS = {
    "accuracy": (accuracy, False),
    "precision": (precision, False),
    "recall": (recall, False),
    "f1": (f1, False),
    "brier": (brier, True),
    "log_loss": (log_loss, True),
}
