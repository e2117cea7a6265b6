"""Classification metrics for label models, in plain numpy.

Predictions of -1 (abstain) are allowed: they count as wrong for accuracy and as a miss for the true class in
precision / recall / F1 (never as a positive prediction of any class).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import numpy as np

from ._validation import as_probabilities, check_cardinality

__all__ = ["accuracy", "precision", "recall", "f1", "brier", "log_loss", "METRICS", "Metric", "resolve_metric",
           "METRIC_NAMES"]


def _labels(y: Any, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {y.shape}")
    if y.dtype == np.bool_ or y.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, got dtype {y.dtype}")
    if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: label {int(y.max())} is not a class index")
    return y.astype(np.int64, copy=False)


def _pair(y_true: Any, y_pred: Any, cardinality: Optional[int] = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Checked (y_true, y_pred, k): y_true in 0..k-1, y_pred in -1..k-1 (k inferred when not given)."""
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    k = None if cardinality is None else check_cardinality(cardinality)
    if t.shape != p.shape:
        raise ValueError(f"y_pred: expected {t.shape[0]} labels (as y_true), got {p.shape[0]}")
    if t.size == 0:
        raise ValueError("y_true: is empty")
    top = max(int(t.max()), int(p.max()))
    if k is None:
        k = max(2, top + 1)
    if t.min() < 0 or t.max() >= k:
        raise ValueError(f"y_true: labels must be classes in 0..{k - 1}, got {int(t.min())}..{int(t.max())}")
    if p.min() < -1 or p.max() >= k:
        raise ValueError(f"y_pred: labels must be -1 (abstain) or classes in 0..{k - 1}, got "
                         f"{int(p.min())}..{int(p.max())}")
    return t, p, k


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of rows predicted right (a -1 prediction is wrong).

    Args:
        y_true: (n,) gold class ids.
        y_pred: (n,) predicted class ids, -1 = abstain.

    Returns:
        The accuracy in [0, 1].

    Example:
        >>> from labelfuse.metrics import accuracy
        >>> accuracy([0, 1, 1, 0], [0, 1, -1, 1])
        0.5
    """
    t, p, _ = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def _per_class(t: np.ndarray, p: np.ndarray, k: int, average: Optional[str], score) -> float:
    """``score(tp, predicted, actual)`` per class, then averaged. Counts are kept only for the classes that occur
    (never an array of length k: a huge cardinality must not allocate)."""
    if average is None:
        average = "binary" if k == 2 else "macro"
    if average not in ("binary", "macro"):
        raise ValueError(f"average: expected 'binary', 'macro' or None, got {average!r}")
    if average == "binary" and k != 2:
        raise ValueError(f"average: 'binary' scores class 1 of 2 classes; with {k} classes use 'macro'")
    classes = np.union1d(t, p[p >= 0])  # scikit-learn's default label set: seen in y_true or y_pred
    n = classes.size
    hit = np.searchsorted(classes, t[t == p])
    tp = np.bincount(hit, minlength=n).astype(np.float64)
    predicted = np.bincount(np.searchsorted(classes, p[p >= 0]), minlength=n).astype(np.float64)
    actual = np.bincount(np.searchsorted(classes, t), minlength=n).astype(np.float64)
    values = score(tp, predicted, actual)
    if average == "binary":
        at = np.searchsorted(classes, 1)
        return float(values[at]) if at < n and classes[at] == 1 else 0.0
    return float(values.mean())


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def precision(y_true: Any, y_pred: Any, cardinality: Optional[int] = None, average: Optional[str] = None) -> float:
    """Binary: of class 1; multi-class: macro average over the classes present (0 where undefined).
    ``average`` ("binary" / "macro") overrides the choice made from the cardinality.

    Args:
        y_true: (n,) gold class ids.
        y_pred: (n,) predicted class ids, -1 = abstain.
        cardinality: k (inferred when None).
        average: "binary" or "macro", or None to choose from k.

    Returns:
        The precision in [0, 1].

    Example:
        >>> from labelfuse.metrics import precision
        >>> precision([0, 1, 1, 0], [0, 1, 1, 1])
        0.6666666666666666
    """
    t, p, k = _pair(y_true, y_pred, cardinality)
    return _per_class(t, p, k, average, lambda tp, pr, ac: _safe_div(tp, pr))


def recall(y_true: Any, y_pred: Any, cardinality: Optional[int] = None, average: Optional[str] = None) -> float:
    """Binary: of class 1; multi-class: macro average over the classes present (0 where undefined).

    Args:
        y_true: (n,) gold class ids.
        y_pred: (n,) predicted class ids, -1 = abstain.
        cardinality: k (inferred when None).
        average: "binary" or "macro", or None to choose from k.

    Returns:
        The recall in [0, 1].

    Example:
        >>> from labelfuse.metrics import recall
        >>> recall([0, 1, 1, 0], [0, 1, -1, 1])
        0.5
    """
    t, p, k = _pair(y_true, y_pred, cardinality)
    return _per_class(t, p, k, average, lambda tp, pr, ac: _safe_div(tp, ac))


def f1(y_true: Any, y_pred: Any, cardinality: Optional[int] = None, average: Optional[str] = None) -> float:
    """Binary: F1 of class 1; multi-class: macro F1 (per-class F1 = 2 tp / (predicted + actual), 0 if undefined).

    Args:
        y_true: (n,) gold class ids.
        y_pred: (n,) predicted class ids, -1 = abstain.
        cardinality: k (inferred when None).
        average: "binary" or "macro", or None to choose from k.

    Returns:
        The F1 score in [0, 1].

    Example:
        >>> from labelfuse.metrics import f1
        >>> round(f1([0, 1, 1, 0], [0, 1, 1, 1]), 3)
        0.8
    """
    t, p, k = _pair(y_true, y_pred, cardinality)
    return _per_class(t, p, k, average, lambda tp, pr, ac: _safe_div(2 * tp, pr + ac))


def _proba(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _labels(y_true, "y_true")
    # a score of something that is not a distribution would be a number with no meaning
    P = as_probabilities(proba, "proba", tolerance=1e-6)
    if P.shape[0] != t.shape[0]:
        raise ValueError(f"proba: expected shape ({t.shape[0]}, k), got {P.shape}")
    if t.size == 0:
        raise ValueError("y_true: is empty")
    if t.min() < 0 or t.max() >= P.shape[1]:
        raise ValueError(f"y_true: labels must be classes in 0..{P.shape[1] - 1}")
    return t, P


def brier(y_true: Any, proba: Any) -> float:
    """Mean squared error of the probabilities against one-hot truth, summed over classes; for two classes it
    is halved, which makes it (p_1 - y)^2 as in scikit-learn's ``brier_score_loss``.

    Args:
        y_true: (n,) gold class ids.
        proba: (n, k) predicted probabilities.

    Returns:
        The Brier score (lower is better).

    Example:
        >>> from labelfuse.metrics import brier
        >>> brier([0, 1], [[0.8, 0.2], [0.4, 0.6]])
        0.1
    """
    t, P = _proba(y_true, proba)
    onehot = np.zeros_like(P)
    onehot[np.arange(t.size), t] = 1.0
    total = np.sum((P - onehot) ** 2, axis=1).mean()
    return float(total / 2 if P.shape[1] == 2 else total)


def log_loss(y_true: Any, proba: Any, eps: float = 1e-15) -> float:
    """Mean negative log-probability of the true class (probabilities clipped to [eps, 1]).

    Args:
        y_true: (n,) gold class ids.
        proba: (n, k) predicted probabilities.
        eps: the smallest probability used.

    Returns:
        The mean log loss (lower is better).

    Example:
        >>> from labelfuse.metrics import log_loss
        >>> round(log_loss([0, 1], [[0.5, 0.5], [0.5, 0.5]]), 4)
        0.6931
    """
    t, P = _proba(y_true, proba)
    return float(-np.mean(np.log(np.clip(P[np.arange(t.size), t], eps, 1.0))))


@dataclass(frozen=True)
class Metric:
    """A metric resolved by name: ``score(y_true, y_pred_or_proba, cardinality)`` gets predicted labels (-1 =
    abstain, counted wrong) or, when ``needs_proba``, the (n, k) probabilities. ``greater_is_better``: False for
    the losses (brier, log_loss).

    Args:
        name: the metric's name.
        score: ``score(y_true, y_pred_or_proba, cardinality) -> float``.
        needs_proba: whether ``score`` takes probabilities.
        greater_is_better: False for losses.

    Example:
        >>> from labelfuse.metrics import resolve_metric
        >>> m = resolve_metric("brier")
        >>> m.needs_proba, m.greater_is_better
        (True, False)
    """

    name: str
    score: Callable[[Any, Any, int], float]
    needs_proba: bool
    greater_is_better: bool = True


def _macro(fn: Callable) -> Callable[[Any, Any, int], float]:
    return lambda t, p, k: fn(t, p, cardinality=k, average="macro")


# The one table of metric names. "f1", "precision", "recall": binary -> of class 1, multi-class -> macro average;
# the "macro_" names average over classes whatever the cardinality.
_METRICS: Dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", lambda t, p, k: accuracy(t, p), False),
    Metric("f1", lambda t, p, k: f1(t, p, cardinality=k), False),
    Metric("macro_f1", _macro(f1), False),
    Metric("precision", lambda t, p, k: precision(t, p, cardinality=k), False),
    Metric("recall", lambda t, p, k: recall(t, p, cardinality=k), False),
    Metric("macro_precision", _macro(precision), False),
    Metric("macro_recall", _macro(recall), False),
    Metric("brier", lambda t, P, k: brier(t, P), True, greater_is_better=False),
    Metric("log_loss", lambda t, P, k: log_loss(t, P), True, greater_is_better=False),
)}
METRIC_NAMES = tuple(_METRICS)


def resolve_metric(name: Any, arg: str = "metric", allowed: Optional[tuple] = None) -> Metric:
    """The :class:`Metric` called ``name``: one of accuracy, f1, macro_f1, precision, recall, macro_precision,
    macro_recall, brier, log_loss (``allowed``: a subset the caller supports). An unknown name is a ValueError,
    a value that is not a string a TypeError; both name ``arg`` and list the valid names.

    Example::

        m = resolve_metric("macro_f1")
        m.score([0, 1, 2], [0, 1, 1], 3)   # 0.555...

    Args:
        name: the metric's name.
        arg: the argument name used in error messages.
        allowed: the names the caller supports, or None for all.

    Returns:
        The :class:`Metric`.

    Example:
        >>> from labelfuse.metrics import resolve_metric
        >>> resolve_metric("f1").score([0, 1, 1], [0, 1, 0], 2)
        0.6666666666666666
    """
    valid = METRIC_NAMES if allowed is None else tuple(allowed)
    if not isinstance(name, str):
        raise TypeError(f"{arg}: expected a metric name (one of {', '.join(valid)}), got {type(name).__name__} "
                        f"{name!r:.40}")
    if name not in valid:
        raise ValueError(f"{arg}: unknown metric {name!r}; expected one of {', '.join(valid)}")
    return _METRICS[name]


# name -> (function, needs probabilities), for the names of the first releases
METRICS = {
    "accuracy": (accuracy, False),
    "precision": (precision, False),
    "recall": (recall, False),
    "f1": (f1, False),
    "brier": (brier, True),
    "log_loss": (log_loss, True),
}
