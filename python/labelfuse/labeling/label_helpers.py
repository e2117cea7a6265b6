"""Helpers for looking at labels, with Snorkel's semantics: which rows no LF labelled
(:func:`filter_unlabeled_dataframe`), which rows fall in each (gold, predicted, ...) combination
(:func:`get_label_buckets`), and hard labels from probabilities with an explicit tie policy (:func:`probs_to_preds`).

Example::

    from labelfuse.labeling import filter_unlabeled_dataframe, get_label_buckets, probs_to_preds

    preds = probs_to_preds(P)                          # (n,) ints; ties broken deterministically
    buckets = get_label_buckets(Y_dev, preds)          # {(1, 0): array of rows gold 1 predicted 0, ...}
    df_train, P_train = filter_unlabeled_dataframe(df, P, L)   # drop rows on which every LF abstained
"""
from __future__ import annotations

import hashlib
from typing import Any, Dict, Tuple

import numpy as np
import pandas as pd

from .._base import check_random_state
from .._validation import as_label_matrix

__all__ = ["TIE_BREAK_POLICIES", "filter_unlabeled_dataframe", "get_label_buckets", "probs_to_preds"]

TIE_BREAK_POLICIES = ("random", "true-random", "abstain")


def _row_hash(i: int) -> int:
    """A hash of the row number that is the same in every process and run (Python's hash() of str is salted)."""
    return int(hashlib.sha1(str(i).encode("utf-8")).hexdigest(), 16)


def probs_to_preds(probs: Any, tie_break_policy: str = "random", tol: float = 1e-5, *,
                   random_state: Any = None) -> np.ndarray:
    """Hard labels from an (n, k) matrix of class probabilities: the most probable class per row.

    Classes whose probability is within ``tol`` of the row's maximum are tied; ``tie_break_policy`` decides:

    - ``"random"`` (default): one of the tied classes chosen by a fixed hash of the row number, so the same row
      always gets the same class, in every run (as Snorkel does);
    - ``"true-random"``: drawn uniformly with ``random_state`` (None: a fresh draw each call);
    - ``"abstain"``: -1.

    Returns an int64 array of shape (n,).

    Example::

        probs_to_preds(np.array([[0.8, 0.2], [0.5, 0.5]]), tie_break_policy="abstain")   # array([ 0, -1])
    """
    if tie_break_policy not in TIE_BREAK_POLICIES:
        raise ValueError(f"tie_break_policy: expected one of {list(TIE_BREAK_POLICIES)}, got {tie_break_policy!r}")
    P = np.asarray(probs)
    if P.dtype == np.bool_ or P.dtype.kind not in "iuf":
        raise TypeError(f"probs: expected a numeric (n, k) matrix of class probabilities, got dtype {P.dtype}")
    if P.ndim != 2:
        raise ValueError(f"probs: expected a 2-D array (n_rows, n_classes), got shape {P.shape}")
    if P.shape[1] < 2:
        raise ValueError(f"probs: expected probabilities for at least 2 classes, got {P.shape[1]}")
    if not np.isfinite(P).all():
        raise ValueError("probs: contains NaN or infinite values")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
        raise ValueError(f"tol: expected a non-negative number, got {tol!r}")
    rng = np.random.default_rng(check_random_state(random_state)) if tie_break_policy == "true-random" else None
    tied = np.abs(P - P.max(axis=1, keepdims=True)) < tol
    preds = np.argmax(tied, axis=1).astype(np.int64)  # the single maximum where there is no tie
    n_tied = tied.sum(axis=1)
    for i in np.flatnonzero(n_tied > 1):
        options = np.flatnonzero(tied[i])
        if tie_break_policy == "abstain":
            preds[i] = -1
        elif tie_break_policy == "random":
            preds[i] = options[_row_hash(int(i)) % len(options)]
        else:
            preds[i] = rng.choice(options)  # type: ignore[union-attr]
    return preds


def get_label_buckets(*y: Any) -> Dict[Tuple[Any, ...], np.ndarray]:
    """The rows of each combination of labels across aligned label arrays (gold, predictions, one LF's votes...).

    Returns a dict mapping each tuple of labels that occurs (one entry per array, as Python scalars) to the sorted
    int64 row indices where it occurs; keys appear in order of first occurrence. ``get_label_buckets(Y, preds)[(1,
    0)]`` are the rows with gold 1 predicted 0. Arrays of shape (n,) or (n, 1) are accepted.

    Example::

        get_label_buckets(np.array([0, 1, 1]), np.array([0, 1, 0]))
        # {(0, 0): array([0]), (1, 1): array([1]), (1, 0): array([2])}
    """
    if not y:
        raise ValueError("get_label_buckets: expected at least one label array")
    flat = []
    for i, a in enumerate(y):
        arr = np.asarray(a.to_numpy() if isinstance(a, (pd.Series, pd.DataFrame)) else a)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"y[{i}]: expected a 1-D array of labels (or shape (n, 1)), got shape {arr.shape}")
        flat.append(arr)
    lengths = {len(a) for a in flat}
    if len(lengths) != 1:
        raise ValueError(f"get_label_buckets: the arrays must have the same length, got lengths "
                         f"{[len(a) for a in flat]}")
    n = flat[0].shape[0]
    if n == 0:
        return {}
    # One code per distinct combination (np.unique per array, then on the stacked codes), no per-row Python loop.
    codes = []
    uniques = []
    for a in flat:
        u, inv = np.unique(a, return_inverse=True)
        uniques.append(u)
        codes.append(inv.reshape(-1))
    combos, first, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(combos)))[:-1]
    rows = np.split(order.astype(np.int64), bounds)
    out: Dict[Tuple[Any, ...], np.ndarray] = {}
    for c in np.argsort(first, kind="stable"):
        key = tuple(uniques[j][combos[c, j]].item() for j in range(len(flat)))
        out[key] = rows[c]
    return out


def filter_unlabeled_dataframe(X: Any, y: Any, L: Any) -> Tuple[Any, np.ndarray]:
    """Drop the rows on which every LF abstained: returns ``(X[covered], y[covered])``, where ``covered`` are the rows
    of the label matrix ``L`` with at least one vote (Snorkel's semantics; typically before training an end model on
    the label model's probabilities ``y``). ``X`` is a DataFrame (rows selected by position, index kept) or an array;
    nothing is modified.

    Example::

        df_train, P_train = filter_unlabeled_dataframe(df, label_model.predict_proba(L), L)
    """
    L = as_label_matrix(L)
    y_arr = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    n = L.shape[0]
    n_x = len(X) if hasattr(X, "__len__") else None
    if n_x != n:
        raise ValueError(f"X: expected {n} rows (as in L), got {n_x if n_x is not None else type(X).__name__}")
    if y_arr.ndim == 0 or y_arr.shape[0] != n:
        raise ValueError(f"y: expected {n} rows (as in L), got shape {y_arr.shape}")
    covered = (L != -1).any(axis=1)
    X_out = X.iloc[covered] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[covered]
    return X_out, y_arr[covered]
