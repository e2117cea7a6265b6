"""Argument checks for the end models (numpy only; no torch). Errors name the argument and say what was expected.

They build on the shared checks of labelfuse._validation: soft labels here may be hard labels or carry "no label"
rows, which the label models' probability check does not allow.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._validation import as_labels, as_numeric_matrix

#: Largest feature magnitude accepted. The networks compute in float32 (max 3.4e38): training multiplies features
#: by gradients and weights, and beyond about sqrt(3.4e38) = 1.8e19 those products overflow to inf and the weights
#: to NaN (features of 3e38 gave NaN predictions). 1e18 leaves a margin; real features are nowhere near it.
FEATURE_LIMIT = 1e18

#: Tolerance on |sum(row) - 1| for probabilistic labels. Label models emit float64 rows exact to ~1e-12; float32
#: round trips (e.g. labels saved from a GPU model) stay well inside 1e-4.
ROW_SUM_TOLERANCE = 1e-4


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):  # pandas
        return value.to_numpy()
    return value


def as_features(X: Any, name: str = "X", n_features: Optional[int] = None) -> np.ndarray:
    """Features as a 2-D float32 array (a copy unless X already is contiguous float32). NaN, inf and values
    beyond +-FEATURE_LIMIT raise a ValueError naming ``name`` and the first bad entry."""
    X = as_numeric_matrix(X, name, what="features", columns=n_features)
    # checked in the caller's dtype, before the float32 cast turns 1e39 into inf (and only for dtypes that can
    # exceed the limit: comparing float16 with 1e18 would overflow the cast of the limit)
    info = np.finfo(X.dtype) if X.dtype.kind == "f" else np.iinfo(X.dtype)
    bad = (X > FEATURE_LIMIT) | (X < -FEATURE_LIMIT) if float(info.max) > FEATURE_LIMIT else np.zeros(X.shape, bool)
    if X.dtype.kind == "f":
        bad |= ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: entry ({row}, {col}) is {X[row, col]}; features must be finite numbers within "
            f"+-{FEATURE_LIMIT:g} (impute or drop NaN/inf rows, scale large features)"
        )
    X = np.ascontiguousarray(X, dtype=np.float32)
    # torch.from_numpy warns (UserWarning, "undefined behavior") on read-only arrays, e.g. a broadcast row or a
    # memory-mapped file, and refuses negative strides, which numpy keeps on a "contiguous" single reversed row:
    # give it a private copy (torch never writes to the features)
    return X if X.flags.writeable and min(X.strides, default=0) >= 0 else X.copy()


def n_rows_of(X: Any, name: str = "X") -> int:
    """Number of rows of a feature matrix or of a sequence of raw inputs (texts)."""
    try:
        return len(X)
    except TypeError:
        raise TypeError(f"{name}: expected an array or a sequence of inputs, got {type(X).__name__}") from None


def as_soft_labels(
    P: Any, n: int, n_classes: Optional[int] = None, name: str = "P"
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilistic labels as (float64 (n, k) with rows summing to 1, bool (n,) has-label mask).

    Accepts an (n, k) probability matrix, where an all-NaN row means "no label for this row" (e.g. a task that does
    not apply), or a 1-D integer vector of hard labels with -1 for "no label". Rows without a label come back
    uniform with mask False; callers exclude them from the loss.
    """
    P = _to_numpy(P)
    P = np.asarray(P)
    if P.ndim == 1:
        if P.dtype.kind not in "iu" or P.dtype == np.bool_:
            raise TypeError(
                f"{name}: a 1-D label vector must hold integer classes (-1 = no label), got dtype {P.dtype}; "
                f"pass probabilistic labels as an (n_rows, n_classes) matrix"
            )
        if P.size and int(P.min()) < -1:
            bad = int(np.flatnonzero(P < -1)[0])
            raise ValueError(f"{name}: entry {bad} is {int(P[bad])}; hard labels are classes 0..k-1 or -1 (no label)")
        if n_classes is None:
            n_classes = max(2, int(P.max()) + 1 if P.size else 2)
        has = P >= 0
        hard = as_labels(np.where(has, P, 0), P.shape[0], n_classes, name=name)
        if hard.shape[0] != n:
            raise ValueError(f"{name}: expected {n} rows (one per row of X), got {hard.shape[0]}")
        out = np.zeros((n, n_classes))
        out[np.arange(n), hard] = 1.0
        out[~has] = 1.0 / n_classes
        return out, has
    if P.dtype.kind not in "iuf" or P.dtype == np.bool_:
        raise TypeError(f"{name}: expected a float matrix of class probabilities, got dtype {P.dtype}")
    if P.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_rows, n_classes), got {P.ndim}-D shape {P.shape}")
    if P.shape[0] != n:
        raise ValueError(f"{name}: expected {n} rows (one per row of X), got {P.shape[0]}")
    if n_classes is not None and P.shape[1] != n_classes:
        raise ValueError(f"{name}: expected {n_classes} columns (one per class), got {P.shape[1]}")
    if P.shape[1] < 2:
        raise ValueError(f"{name}: expected at least 2 classes (columns), got {P.shape[1]}")
    P = np.array(P, dtype=np.float64)  # a copy: never touch the caller's array
    nan = np.isnan(P)
    missing = nan.all(axis=1)
    partial = nan.any(axis=1) & ~missing
    if partial.any():
        row = int(np.flatnonzero(partial)[0])
        raise ValueError(f"{name}: row {row} is partly NaN; a row is all NaN (no label) or has no NaN")
    P[missing] = 1.0 / P.shape[1]
    if not np.isfinite(P).all():
        raise ValueError(f"{name}: holds inf; expected probabilities in [0, 1]")
    if (P < 0).any() or (P > 1 + ROW_SUM_TOLERANCE).any():
        row = int(np.flatnonzero(((P < 0) | (P > 1 + ROW_SUM_TOLERANCE)).any(axis=1))[0])
        raise ValueError(f"{name}: row {row} has entries outside [0, 1]: {P[row].tolist()}")
    sums = P.sum(axis=1)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: row {row} sums to {sums[row]:.6g}; each row must sum to 1 (probabilities)")
    P /= sums[:, None]
    return P, ~missing


def as_row_mask(mask: Any, n: int, name: str = "mask") -> np.ndarray:
    """A boolean (n,) vector (a copy)."""
    mask = np.asarray(_to_numpy(mask))
    if mask.dtype != np.bool_:
        raise TypeError(f"{name}: expected a boolean vector (True = use this row), got dtype {mask.dtype}")
    if mask.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {mask.shape}")
    return mask.copy()


def as_sample_weight(weight: Any, n: int, name: str = "sample_weight") -> np.ndarray:
    w = np.asarray(_to_numpy(weight))
    if w.dtype.kind not in "iuf" or w.dtype == np.bool_:
        raise TypeError(f"{name}: expected non-negative numbers, got dtype {w.dtype}")
    if w.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {w.shape}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name}: expected finite, non-negative weights")
    return w


def uniform_rows(P: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """Rows that carry no signal: the uniform distribution (what a label model gives an all-abstain row)."""
    return np.all(np.abs(P - 1.0 / P.shape[1]) <= atol, axis=1)


def confidence(P: np.ndarray) -> np.ndarray:
    """1 - normalised entropy: 1 for a one-hot row, 0 for a uniform one."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(P > 0, P * np.log(P), 0.0).sum(axis=1)
    conf = np.clip(1.0 - ent / np.log(P.shape[1]), 0.0, 1.0)
    # exactly 0 for uniform rows: rounding left 2e-16 for k=3, so a no-signal row still counted as a (tiny) label
    conf[uniform_rows(P)] = 0.0
    return conf


def as_membership(S: Any, n: int, name: str = "S") -> tuple[np.ndarray, Optional[list[str]]]:
    """Slice membership as a bool (n, s) matrix and the column names when S is a DataFrame."""
    names = [str(c) for c in S.columns] if hasattr(S, "columns") else None
    S = np.asarray(_to_numpy(S))
    if S.ndim == 1:
        S = S[:, None]
    if S.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D membership matrix (n_rows, n_slices), got shape {S.shape}")
    if S.dtype != np.bool_:
        if S.dtype.kind in "iu" and S.size and np.isin(S, (0, 1)).all():
            S = S.astype(bool)
        elif S.size == 0 and S.dtype.kind in "iuf":
            S = S.astype(bool)
        else:
            raise TypeError(f"{name}: expected boolean slice membership (or 0/1 integers), got dtype {S.dtype}")
    if S.shape[0] != n:
        raise ValueError(f"{name}: expected {n} rows (one per row of X), got {S.shape[0]}")
    return np.ascontiguousarray(S), names
