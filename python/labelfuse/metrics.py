"""Classification metrics for label models, in plain numpy, and the one scoring contract.

Predictions of -1 (abstain) are allowed: they count as wrong for accuracy and as a miss for the true class in
precision / recall / F1 (never as a positive prediction of any class).

The scoring contract (:func:`score`): every ``score()`` method, ``labelfuse run`` and ``labelfuse bench`` turn
probabilities into labels with :func:`break_ties` under a stated tie policy, and report how many rows the model
abstained on (its top classes tie, which includes majority vote's rows without votes) and how they were resolved;
scoring such rows emits an :class:`~labelfuse.diagnostics.AbstentionWarning` that names the count.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional, Union

import numpy as np

from ._validation import as_probabilities, check_cardinality
from .diagnostics import AbstentionWarning

__all__ = ["accuracy", "precision", "recall", "f1", "brier", "log_loss", "METRICS", "Metric", "resolve_metric",
           "METRIC_NAMES", "TIE_POLICIES", "ScoreReport", "break_ties", "score", "tied_rows"]


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


# -- the scoring contract --------------------------------------------------------------------------------------------
TIE_POLICIES = ("abstain", "random", "prior", "hash")
# Classes whose probability is within this of a row's maximum are tied (majority-vote shares are exact fractions,
# far further apart than this; posteriors of symmetric models differ only by rounding).
TIE_TOLERANCE = 1e-9
# The "hash" policy reproduces WRENCH's scoring, which converts probabilities with Snorkel's probs_to_preds
# (tie_break_policy="random"): classes within 1e-5 of the maximum tie, and row i takes the tied class at position
# int(sha1(str(i))) mod (number tied), i being the row's index in the scored array.
HASH_TIE_TOLERANCE = 1e-5

_RESOLUTION = {
    "abstain": "left as abstentions (-1), counted wrong",
    "random": "given a tied class drawn at random (random_state)",
    "prior": "given the tied class with the largest prior",
    "hash": "given a tied class chosen by a hash of the row index (WRENCH's scoring)",
}


def _check_tie_policy(policy: Any, name: str = "tie_policy") -> str:
    if not isinstance(policy, str):
        raise TypeError(f"{name}: expected one of {', '.join(map(repr, TIE_POLICIES))}, got "
                        f"{type(policy).__name__}")
    if policy not in TIE_POLICIES:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, TIE_POLICIES))}, got {policy!r:.40}")
    return policy


def tied_rows(P: np.ndarray, policy: str = "abstain") -> np.ndarray:
    """(n, k) bool: the classes tied for each row's maximum (within the policy's tolerance).

    Args:
        P: (n, k) probabilities or scores.
        policy: a tie policy (:data:`TIE_POLICIES`); "hash" counts classes within 1e-5 of the maximum as tied,
            every other policy those within 1e-9.

    Returns:
        (n, k) bool array, True where the class ties for the row's maximum (the maximum itself included); a row
        ties when it has more than one True.

    Example:
        >>> import numpy as np
        >>> from labelfuse.metrics import tied_rows
        >>> tied_rows(np.array([[0.5, 0.5], [0.9, 0.1]]))
        array([[ True,  True],
               [ True, False]])
    """
    P = np.asarray(P, dtype=np.float64)
    if policy == "hash":
        return (P.max(axis=1, keepdims=True) - P) < HASH_TIE_TOLERANCE
    return P >= (P.max(axis=1, keepdims=True) - TIE_TOLERANCE)


def _row_hash(i: int) -> int:
    return int(hashlib.sha1(str(i).encode("utf-8")).hexdigest(), 16)


def break_ties(P: Any, policy: str = "abstain", prior: Any = None, random_state: Any = None,
               return_tied: bool = False) -> Union[np.ndarray, "tuple[np.ndarray, np.ndarray]"]:
    """argmax of each row of P; rows whose top classes tie follow ``policy``:

    - ``"abstain"``: -1;
    - ``"random"``: one of the tied classes uniformly at random, from ``np.random.default_rng(random_state)``
      created per call (so the same data and seed give the same labels);
    - ``"prior"``: the tied class with the largest ``prior`` (then the smallest index; uniform when None);
    - ``"hash"``: the tied class at position sha1(row index) mod (number tied), classes within 1e-5 of the
      maximum counting as tied: WRENCH's (Snorkel's ``probs_to_preds``) rule, for tables comparable with WRENCH's.

    ``return_tied``: also return the (n,) bool mask of the rows that tied.

    Args:
        P: (n, k) probabilities or scores.
        policy: one of :data:`TIE_POLICIES`: "abstain", "random", "prior" or "hash".
        prior: (k,) class weights for the "prior" policy (None = uniform).
        random_state: seed or generator for the "random" policy.
        return_tied: also return the mask of the rows that tied.

    Returns:
        (n,) int64 labels, -1 where a tied row is left as an abstention; with ``return_tied``, the tuple
        (labels, (n,) bool mask of the tied rows).

    Example:
        >>> import numpy as np
        >>> from labelfuse.metrics import break_ties
        >>> break_ties(np.array([[0.5, 0.5], [0.9, 0.1]]), "abstain")
        array([-1,  0])
        >>> break_ties(np.array([[0.5, 0.5], [0.9, 0.1]]), "prior", prior=[0.3, 0.7], return_tied=True)
        (array([1, 0]), array([ True, False]))
    """
    policy = _check_tie_policy(policy)
    P = np.asarray(P, dtype=np.float64)
    pred = np.argmax(P, axis=1).astype(np.int64) if P.shape[0] else np.zeros(0, dtype=np.int64)
    tied = tied_rows(P, policy) if P.shape[0] else np.zeros(P.shape, dtype=bool)
    is_tie = tied.sum(axis=1) > 1
    rows = np.flatnonzero(is_tie)
    if rows.size:
        sub = tied[rows]
        if policy == "abstain":
            pred[rows] = -1
        elif policy == "prior":
            weights = np.ones(P.shape[1]) if prior is None else np.asarray(prior, dtype=np.float64)
            pred[rows] = np.argmax(np.where(sub, weights[None, :], -np.inf), axis=1)
        elif policy == "random":
            u = np.random.default_rng(random_state).random(sub.shape)
            pred[rows] = np.argmax(np.where(sub, u, -1.0), axis=1)
        else:
            for r, mask in zip(rows, sub):
                classes = np.flatnonzero(mask)
                pred[r] = classes[_row_hash(int(r)) % classes.size]
    return (pred, is_tie) if return_tied else pred


class ScoreReport(dict):
    """Metric name -> value, plus how the rows the model abstained on were scored: ``n_rows``, ``n_abstained``
    (rows whose top classes tied, majority vote's rows without votes included), ``tie_policy`` and
    ``resolution`` (in words). It is a dict, so ``report["accuracy"]`` works as before.

    Example: ``lm.score(L, Y).n_abstained``; ``print(report.describe())``.

    Args:
        values: metric name -> value.
        n_rows: the number of rows scored.
        n_abstained: the number of rows whose top classes tied.
        tie_policy: the policy that resolved them, one of :data:`TIE_POLICIES`.

    Example:
        >>> from labelfuse.metrics import ScoreReport
        >>> report = ScoreReport({"accuracy": 0.75}, n_rows=4, n_abstained=1, tie_policy="abstain")
        >>> report["accuracy"], report.n_abstained
        (0.75, 1)
        >>> print(report.describe())
        abstained on 1 of 4 rows (25.0%), left as abstentions (-1), counted wrong (tie_policy='abstain')
    """

    def __init__(self, values: Dict[str, float], n_rows: int, n_abstained: int, tie_policy: str) -> None:
        super().__init__(values)
        self.n_rows = int(n_rows)
        self.n_abstained = int(n_abstained)
        self.tie_policy = tie_policy
        self.resolution = _RESOLUTION[tie_policy]

    def describe(self) -> str:
        """One sentence: the count of abstained rows and how they were resolved."""
        if not self.n_abstained:
            return f"no abstentions among {self.n_rows} rows (tie_policy={self.tie_policy!r})"
        return (f"abstained on {self.n_abstained} of {self.n_rows} rows ({self.n_abstained / self.n_rows:.1%}), "
                f"{self.resolution} (tie_policy={self.tie_policy!r})")


def score(y_true: Any, proba: Any, metrics: Union[str, Iterable[str]] = ("accuracy",), *,
          tie_policy: str = "abstain", prior: Any = None, random_state: Any = None, decision: Any = None,
          cardinality: Optional[int] = None, source: str = "model", warn: bool = True) -> ScoreReport:
    """The scoring contract: ``metrics`` (names, :func:`resolve_metric`) of the (n, k) probabilities ``proba``
    against ``y_true``. Labels come from :func:`break_ties` under ``tie_policy`` applied to ``decision`` (the
    scores the model decides on; ``proba`` when None); ``prior`` and ``random_state`` serve the "prior" and
    "random" policies. When the model abstained on some rows, an
    :class:`~labelfuse.diagnostics.AbstentionWarning` names ``source``, the count and the resolution (``warn``:
    False when the caller reports the count itself). Every estimator's ``score``, ``labelfuse run`` and
    ``labelfuse bench`` score through this function.

    Example::

        report = score(Y, P, ["accuracy", "f1"], tie_policy="hash")
        report["accuracy"], report.n_abstained

    Args:
        y_true: (n,) gold class ids.
        proba: (n, k) predicted probabilities.
        metrics: a metric name or a list of names (:data:`METRIC_NAMES`).
        tie_policy: how rows whose top classes tie are labeled, one of :data:`TIE_POLICIES`.
        prior: (k,) class weights for the "prior" policy (None = uniform).
        random_state: seed or generator for the "random" policy.
        decision: (n, k) scores the labels are taken from (None = ``proba``).
        cardinality: k (None = the number of columns of ``proba``).
        source: the name the AbstentionWarning gives the model.
        warn: whether to warn when the model abstained on some rows.

    Returns:
        A :class:`ScoreReport`: metric name -> value, with ``n_rows``, ``n_abstained``, ``tie_policy`` and
        ``resolution``.

    Example:
        >>> from labelfuse.metrics import score
        >>> report = score([0, 1, 1], [[0.8, 0.2], [0.5, 0.5], [0.3, 0.7]], ["accuracy", "f1"],
        ...                tie_policy="prior", prior=[0.4, 0.6], warn=False)
        >>> report["accuracy"], report.n_abstained
        (1.0, 1)
    """
    if isinstance(metrics, str):
        names = [metrics]
    else:
        try:
            names = list(metrics)
        except TypeError:
            raise TypeError(f"metrics: expected a metric name or a list of names among {list(METRIC_NAMES)}, "
                            f"got {type(metrics).__name__}") from None
    if not names:
        raise ValueError(f"metrics: expected names among {list(METRIC_NAMES)}, got none")
    resolved = [resolve_metric(name, "metrics") for name in names]
    _check_tie_policy(tie_policy)
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"proba: expected an (n, k) array of probabilities, got shape {P.shape}")
    if P.shape[0] == 0:  # every metric is a mean over rows
        raise ValueError("proba: has no rows, so there is nothing to score")
    D = P if decision is None else np.asarray(decision, dtype=np.float64)
    if D.shape != P.shape:
        raise ValueError(f"decision: expected shape {P.shape} (as proba), got {D.shape}")
    k = P.shape[1] if cardinality is None else check_cardinality(cardinality)
    pred, tied = break_ties(D, tie_policy, prior, random_state, return_tied=True)
    n_tied = int(tied.sum())
    values = {m.name: m.score(y_true, P if m.needs_proba else pred, k) for m in resolved}
    report = ScoreReport(values, P.shape[0], n_tied, tie_policy)
    if n_tied and warn:
        warnings.warn(f"{source}: {report.describe()}; pass tie_policy='prior', 'random' or 'hash' to give them "
                      "a class" if tie_policy == "abstain" else f"{source}: {report.describe()}",
                      AbstentionWarning, stacklevel=3)
    return report
