"""Classification metrics in numpy (no torch, no scikit-learn)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def f1_binary(y_true: np.ndarray, y_pred: np.ndarray, positive: int = 1) -> float:
    """F1 of the positive class (0 when the class is never predicted nor present, as scikit-learn's zero_division=0)."""
    tp = np.sum((y_pred == positive) & (y_true == positive))
    fp = np.sum((y_pred == positive) & (y_true != positive))
    fn = np.sum((y_pred != positive) & (y_true == positive))
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom else 0.0


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in y_true or y_pred."""
    present = np.union1d(np.unique(y_true), np.unique(y_pred))
    if present.size == 0:
        return float("nan")
    return float(np.mean([f1_binary(y_true, y_pred, int(c)) for c in present if c < n_classes]))


METRICS = ("accuracy", "f1", "macro_f1")


def metric_function(name: str, n_classes: int, arg: str = "dev_metric") -> Callable[[np.ndarray, np.ndarray], float]:
    """The metric by name; "f1" is the positive-class F1 and needs 2 classes. Errors name ``arg``."""
    if name == "accuracy":
        return accuracy
    if name == "f1":
        if n_classes != 2:
            raise ValueError(f"{arg}: 'f1' is the binary positive-class F1; with {n_classes} classes use 'macro_f1'")
        return f1_binary
    if name == "macro_f1":
        return lambda y, p: macro_f1(y, p, n_classes)
    raise ValueError(f"{arg}: expected one of {METRICS}, got {name!r}")


def score_predictions(probs: np.ndarray, Y, metric: str) -> float:
    """``metric`` of the argmax of ``probs`` against the labels Y (the end models' and ensembles' score)."""
    from ._checks import as_labels

    scorer = metric_function(metric, probs.shape[1], arg="metric")
    y = as_labels(Y, probs.shape[0], probs.shape[1], name="Y")
    if probs.shape[0] == 0:  # accuracy and F1 of nothing are undefined (NaN)
        raise ValueError("X: has no rows to score")
    return scorer(y, probs.argmax(axis=1))
