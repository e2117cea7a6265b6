"""Which metric an end model watches on dev data: a name resolved by :func:`labelfuse.metrics.resolve_metric`."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..metrics import accuracy, f1, resolve_metric  # (accuracy re-exported for the slice report)

# The names end models accept (scores of argmax labels where larger is better, as early stopping needs).
METRICS = ("accuracy", "f1", "macro_f1")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in y_true or y_pred (also for two classes)."""
    return f1(y_true, y_pred, cardinality=n_classes, average="macro")


def metric_function(name: str, n_classes: int, arg: str = "dev_metric") -> Callable[[np.ndarray, np.ndarray], float]:
    """The metric by name; "f1" is the positive-class (class 1) F1 and needs 2 classes. Errors name ``arg``.
    A dev set with no rows has no score: the function returns NaN for it (training then never stops early)."""
    metric = _metric(name, n_classes, arg)
    return lambda y, p: float("nan") if len(y) == 0 else metric(y, p)


def _metric(name: str, n_classes: int, arg: str) -> Callable[[np.ndarray, np.ndarray], float]:
    metric = resolve_metric(name, arg, allowed=METRICS)
    if metric.name == "f1" and n_classes != 2:
        raise ValueError(f"{arg}: 'f1' is the binary positive-class F1; with {n_classes} classes use 'macro_f1'")
    return lambda y, p: metric.score(y, p, n_classes)


def score_predictions(probs: np.ndarray, Y, metric: str) -> float:
    """``metric`` of the argmax of ``probs`` against the labels Y (the end models' and ensembles' score)."""
    from ._checks import as_labels

    scorer = metric_function(metric, probs.shape[1], arg="metric")
    y = as_labels(Y, probs.shape[0], probs.shape[1], name="Y")
    if probs.shape[0] == 0:  # accuracy and F1 of nothing are undefined (NaN)
        raise ValueError("X: has no rows to score")
    # the one scoring contract: exact ties (e.g. a uniform output) are abstentions, counted wrong and warned about
    from ..metrics import break_ties, score

    if break_ties(probs, "abstain").min() < 0:
        return score(y, probs, metric, cardinality=probs.shape[1], source="end model")[metric]
    return scorer(y, probs.argmax(axis=1))
