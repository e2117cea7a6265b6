"""Argument checks shared by the public API. Errors name the argument and say what was expected."""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

_SIGNED = (np.int8, np.int16, np.int32, np.int64)


def _is_int(value: Any) -> bool:
    """An int, Python or numpy, and not a bool (True is an int to Python, never a count to us)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before ``fit`` (a ValueError and an AttributeError, as in scikit-learn).

    Every fitted object raises it: label models, NeighborGraph, KMeansPartition, Epoxy / Liger, end models and
    ensembles."""


def as_label_matrix(L: Any, name: str = "L") -> np.ndarray:
    """Return L as a 2-D signed-integer ndarray without copying when it already is one.

    A copy happens only for inputs that are not numpy arrays (lists, DataFrames), for non-native byte order, and
    for strides that are not whole elements; C order, Fortran order and strided views are read in place.
    """
    if hasattr(L, "to_numpy") and not isinstance(L, np.ndarray):  # pandas
        L = L.to_numpy()
    if not isinstance(L, np.ndarray):
        try:
            L = np.asarray(L)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name}: expected a 2-D integer array, could not convert ({exc})") from None
    if L.dtype == np.bool_ or L.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: expected a signed integer matrix (int8/int16/int32/int64, -1 = abstain), got dtype {L.dtype}"
        )
    if L.dtype.kind == "u":
        raise TypeError(f"{name}: unsigned dtype {L.dtype} cannot hold -1 (abstain); use a signed integer type")
    if L.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D label matrix (n_rows, n_lfs), got {L.ndim}-D shape {L.shape}")
    if L.shape[1] == 0:
        raise ValueError(f"{name}: has no columns (no labeling functions)")
    if not L.dtype.isnative:
        L = L.astype(L.dtype.newbyteorder("="))
    if any(s % L.itemsize for s in L.strides) or not L.flags.aligned:
        # the core reads whole, aligned elements (a misaligned int32 load is undefined behaviour in C++)
        L = np.array(L, order="C")
    return L


# The convention checks read at most this many rows (an evenly spaced sample), so that they cost O(1) per call,
# and say nothing on fewer entries than CONVENTION_MIN_ENTRIES (too little to tell).
CONVENTION_SAMPLE_ROWS = 4096
CONVENTION_MIN_ENTRIES = 200


def _convention_sample(L: np.ndarray) -> np.ndarray:
    step = max(1, L.shape[0] // CONVENTION_SAMPLE_ROWS)
    return L[::step][:CONVENTION_SAMPLE_ROWS]


def check_label_convention(L: np.ndarray, name: str = "L") -> None:
    """Warn (ConventionWarning) when L looks written in the 0 = abstain, +-1 convention (Epoxy, FlyingSquid): its
    values are only -1, 0 and 1 and 0 fills over two thirds of the entries, as abstentions do. labelfuse reads -1 as
    abstain and 0..k-1 as classes, so such an L would be fitted as mostly class-0 votes. The warning gives the
    conversion."""
    if L.size == 0 or L.shape[0] * L.shape[1] < CONVENTION_MIN_ENTRIES:
        return
    S = _convention_sample(L)
    if S.size < CONVENTION_MIN_ENTRIES or int(S.min()) != -1 or int(S.max()) > 1:
        return
    zeros = int(np.count_nonzero(S == 0))
    # LFs abstain most of the time: in that convention 0 fills most entries; a real class-0 share this high would
    # need LFs that vote class 0 on over two thirds of all entries
    if 3 * zeros > 2 * S.size:
        from .diagnostics import ConventionWarning

        warnings.warn(
            f"{name}: looks written in the 0 = abstain, +-1 convention (only -1/0/1, and 0 fills "
            f"{zeros / S.size:.0%} of the entries); labelfuse reads -1 as abstain and 0..k-1 as classes. If so, "
            f"convert with np.where({name} == 0, -1, ({name} + 1) // 2)", ConventionWarning, stacklevel=3)


def check_one_based(L: np.ndarray, top: int, name: str = "L") -> None:
    """Warn (ConventionWarning) when the classes look 1-based: no vote for class 0 while votes reach 2 or more,
    which makes the inferred cardinality one too large (class 0 never predicted)."""
    if top < 2 or L.size == 0:
        return
    S = _convention_sample(L)
    votes = int(np.count_nonzero(S >= 0))
    if votes >= CONVENTION_MIN_ENTRIES // 4 and not np.any(S == 0) and not np.any(L == 0):
        from .diagnostics import ConventionWarning

        warnings.warn(
            f"{name}: no LF ever votes class 0 while votes go up to {top}: the classes look 1-based, which gives "
            f"{top + 1} classes with class 0 never predicted. labelfuse's classes are 0..k-1 (-1 = abstain): "
            f"convert with np.where({name} > 0, {name} - 1, -1), or pass cardinality to say it is intended",
            ConventionWarning, stacklevel=4)


def as_numeric_matrix(X: Any, name: str, *, what: str, columns: Optional[int] = None,
                      columns_of: str = "as in fit") -> np.ndarray:
    """The shared prologue of the float-matrix checks (embeddings, end-model features): X (an array, a DataFrame or
    nested lists) as a 2-D ndarray of a real dtype with at least one column (and ``columns`` of them when given),
    without copying an ndarray. A dtype that is not real is a TypeError; a wrong shape a ValueError; both name
    ``name``. ``what`` says what the rows hold ("features", "embeddings")."""
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas
        X = X.to_numpy()
    try:
        X = np.asarray(X)
    except Exception as exc:  # ragged lists
        raise TypeError(f"{name}: expected a 2-D numeric array of {what}, could not convert ({exc})") from None
    if X.dtype == np.bool_ or X.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a numeric array of {what}, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_rows, n_{what}), got {X.ndim}-D shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"{name}: has no {what} (zero columns)")
    if columns is not None and X.shape[1] != columns:
        raise ValueError(f"{name}: expected {columns} columns ({what}, {columns_of}), got {X.shape[1]}")
    return X


def check_votes(L: np.ndarray, cardinality: int, name: str = "L") -> None:
    """Every entry of a checked label matrix is -1 (abstain) or a class in 0..cardinality-1, else a ValueError
    naming the first offending entry in row-major order (the core's message, under the caller's argument name).
    Two reductions, no copy; the search for the culprit runs only on failure."""
    if L.size == 0 or (int(L.min()) >= -1 and int(L.max()) < cardinality):
        return
    r, c = np.argwhere((L < -1) | (L >= cardinality))[0]
    raise ValueError(f"{name}: entry (row {r}, column {c}) is {int(L[r, c])}; votes must be -1 (abstain) or a "
                     f"class in 0..{cardinality - 1}")


def as_probabilities(P: Any, name: str = "P", tolerance: float = 1e-4) -> np.ndarray:
    """An (n, k) matrix of class probabilities (finite, in [0, 1], rows summing to 1 within ``tolerance``) as
    float64 (a copy only when the dtype differs)."""
    P = np.asarray(P)
    if P.dtype == np.bool_ or P.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a float matrix of class probabilities, got dtype {P.dtype}")
    if P.ndim != 2 or P.shape[1] < 1:
        raise ValueError(f"{name}: expected a 2-D array (n_rows, n_classes), got shape {P.shape}")
    P = np.asarray(P, dtype=np.float64)
    bad = ~(np.isfinite(P).all(axis=1) & (P >= 0).all(axis=1) & (np.abs(P.sum(axis=1) - 1.0) <= tolerance))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: row {r} is not a probability distribution (finite, >= 0, summing to 1): "
                         f"{P[r].tolist()}")
    return P


def require_rows(L: np.ndarray, name: str = "L") -> None:
    if L.shape[0] == 0:
        raise ValueError(f"{name}: has no rows")


def infer_cardinality(L: np.ndarray, cardinality: Optional[int], Y: Any = None, name: str = "cardinality") -> int:
    """The number of classes: given, or one more than the largest label seen in L or Y (at least 2)."""
    if cardinality is not None:
        return check_cardinality(cardinality, name)
    top = int(L.max()) if L.size else -1
    check_one_based(L, top)
    if Y is not None:
        Y = np.asarray(Y)
        if Y.size and Y.dtype.kind in "iu":
            top = max(top, int(Y.max()))
    return max(2, top + 1)


def check_cardinality(cardinality: Any, name: str = "cardinality") -> int:
    """A number of classes: an int (not a bool) of at least 2."""
    if not _is_int(cardinality):
        raise TypeError(f"{name}: expected an int, got {type(cardinality).__name__}")
    if cardinality < 2:
        raise ValueError(f"{name}: expected at least 2 classes, got {cardinality}")
    return int(cardinality)


def as_labels(Y: Any, n: int, cardinality: int, name: str = "Y") -> np.ndarray:
    """Gold labels as a contiguous int64 vector of length n with values in 0..cardinality-1 (a copy)."""
    if hasattr(Y, "to_numpy") and not isinstance(Y, np.ndarray):
        Y = Y.to_numpy()
    Y = np.asarray(Y)
    if Y.dtype == np.bool_ or Y.dtype.kind not in "iu":
        if Y.dtype.kind == "f" and (Y.size == 0 or (np.all(np.isfinite(Y)) and np.all(Y == np.round(Y)))):
            # (an empty list arrives as float64)
            Y = Y.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integer class labels, got dtype {Y.dtype}")
    if Y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {Y.shape}")
    if Y.shape[0] != n:
        raise ValueError(f"{name}: expected {n} labels (one per row of L), got {Y.shape[0]}")
    if Y.size:
        lo, hi = int(Y.min()), int(Y.max())
        if lo < 0 or hi >= cardinality:
            bad = int(np.flatnonzero((Y < 0) | (Y >= cardinality))[0])
            raise ValueError(f"{name}: entry {bad} is {int(Y[bad])}; expected a class in 0..{cardinality - 1}")
    return np.ascontiguousarray(Y, dtype=np.int64)


def as_groups(groups: Any, n: int, n_groups: Optional[int], name: str = "groups") -> tuple[np.ndarray, int]:
    """Group ids as contiguous int64 (a copy when the dtype differs) and the number of groups."""
    groups = np.asarray(groups)
    if groups.dtype.kind == "f" and groups.size == 0:  # an empty list arrives as float64
        groups = groups.astype(np.int64)
    if groups.dtype == np.bool_ or groups.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer group ids, got dtype {groups.dtype}")
    if groups.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of group ids, got shape {groups.shape}")
    if groups.shape[0] != n:
        raise ValueError(f"{name}: expected a 1-D array with one group id per row ({n}), got shape {groups.shape}")
    top = int(groups.max()) + 1 if n else 1
    if n_groups is None:
        n_groups = max(top, 1)
        if n_groups > MAX_GROUPS:
            raise ValueError(f"{name}: the largest group id is {n_groups - 1}; at most {MAX_GROUPS} groups are "
                             "supported (group ids must be 0..n_groups-1, not arbitrary keys)")
    elif check_count(n_groups, "n_groups", 1) > MAX_GROUPS:
        raise ValueError(f"n_groups: expected at most {MAX_GROUPS} groups, got {n_groups}")
    if n and (int(groups.min()) < 0 or top > n_groups):
        bad = int(np.flatnonzero((groups < 0) | (groups >= n_groups))[0])
        raise ValueError(f"{name}: entry {bad} is {int(groups[bad])}; expected a group id in 0..{n_groups - 1}")
    return np.ascontiguousarray(groups, dtype=np.int64), int(n_groups)


def check_n_threads(n_threads: Any) -> Optional[int]:
    if n_threads is None:
        return None
    if not _is_int(n_threads):
        raise TypeError(f"n_threads: expected an int or None, got {type(n_threads).__name__}")
    if n_threads == 0:
        raise ValueError("n_threads: must not be 0 (None = default, -1 = all cores, -2 = all but one, ...)")
    # any count beyond the machine means "all of it" (the core caps at 4096); clamping keeps it a C int64
    return max(min(int(n_threads), 2**31 - 1), -(2**31 - 1))


# Statistics are dense int64 arrays: refuse, with the argument to blame, what no machine could hold instead of
# letting a wrong cardinality (or a stray huge label it was inferred from) turn into a std::bad_alloc, or worse,
# an int64 overflow in the core's size arithmetic.
MAX_COUNT_BYTES = 8 << 30
MAX_GROUPS = 2**31 - 1


def check_stats_memory(n_groups: int, m: int, k: int, *, overlap: bool, gold: bool, n_threads: int,
                       group_arg: str = "n_groups", inferred: bool = False) -> None:
    """Raise ValueError naming the culprit when label statistics would need more than MAX_COUNT_BYTES.

    Counts per group: 4 row totals, m*k class counts, 2m per-LF overlaps/conflicts, 2m^2 co-votes/agreements,
    (m*k)^2 overlap matrix, m*k^2 confusion + k gold counts; the output holds n_groups of them and each thread
    one more while it accumulates.
    """
    per_group = 4 + m * k + 2 * m + 2 * m * m + (m * k) ** 2 * overlap + (m * k * k + k) * gold
    threads = max(n_threads, 1)
    need = 8 * per_group * (n_groups + threads)
    if need <= MAX_COUNT_BYTES:
        return
    k_terms = m * k + (m * k) ** 2 * overlap + (m * k * k + k) * gold
    if 8 * per_group * (n_groups + 1) <= MAX_COUNT_BYTES:  # fits on one thread: the per-thread copies do not
        name, why = "n_threads", f"{threads} threads each accumulating {8 * per_group / 2**20:.0f} MiB"
    elif 8 * per_group * 2 <= MAX_COUNT_BYTES:  # one group would fit: too many groups
        name, why = group_arg, f"{n_groups} groups"
    elif k_terms >= 2 * m * m:
        name = "cardinality"
        why = f"{k} classes" + (" (inferred from the largest label in L / Y: pass cardinality)" if inferred else "")
    else:
        name, why = "L", f"{m} labeling functions"
    check_memory(need, name, why, what=" of counts")


def check_memory(n_bytes: int, name: str, why: str = "", *, what: str = "", advice: str = "") -> None:
    """The one memory cap: raise ValueError naming ``name`` when an allocation of ``n_bytes`` (statistics, model
    tables, the overlap matrix) would exceed :data:`MAX_COUNT_BYTES`. The message reads
    "<name>: <why> would need <x> GiB<what> (limit 8 GiB)[; <advice>]".

    Example: ``check_memory(8 * (m * k) ** 2, "overlap_matrix", what=f" for {m} LFs x {k} classes")``."""
    if n_bytes <= MAX_COUNT_BYTES:
        return
    raise ValueError(f"{name}: {why + ' ' if why else ''}would need {n_bytes / 2**30:.1f} GiB{what} (limit "
                     f"{MAX_COUNT_BYTES / 2**30:.0f} GiB)" + (f"; {advice}" if advice else ""))


def check_model_memory(n_bytes: int, cardinality: int, *, inferred: bool, what: str) -> None:
    """Raise ValueError naming ``cardinality`` when a model's per-class tables would need more than
    MAX_COUNT_BYTES: a wrong cardinality, or one inferred from a stray huge label (an LF returning an id instead
    of a class), must be refused before numpy or the core try to allocate it (MemoryError, or worse, a size that
    overflows on the way to C++)."""
    hint = " (inferred from the largest label in L: pass cardinality)" if inferred else ""
    check_memory(n_bytes, "cardinality", f"{cardinality} classes{hint}", what=f" for {what}")


def check_count(value: Any, name: str, minimum: int = 0) -> int:
    """An int (Python or numpy, not a bool) of at least ``minimum``."""
    if not _is_int(value):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected at least {minimum}, got {value}")
    return int(value)


def check_number(value: Any, name: str, low: float = -np.inf, high: float = np.inf, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    """A real number (Python or numpy; not a bool, not NaN) in the interval from ``low`` to ``high`` (open ends
    excluded), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r:.40}")
    v = float(value)
    if np.isnan(v) or v < low or v > high or (low_open and v == low) or (high_open and v == high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    return v


def label_dtype(cardinality: int) -> np.dtype:
    """The narrowest signed integer dtype holding every vote -1..cardinality-1: int8 for up to 128 classes, int16
    up to 32768, else int32. The one dtype rule for label matrices that labelfuse builds or keeps (appliers, the
    private copies of estimators): n*m bytes for the usual k.

    Example: ``label_dtype(2) == np.int8``, ``label_dtype(1000) == np.int16``."""
    k = check_cardinality(cardinality)
    return np.dtype(np.int8 if k <= 128 else np.int16 if k <= 32768 else np.int32)


def check_class_balance(value: Any, cardinality: int, name: str = "class_balance", *, positive: bool = False,
                        allow_none: bool = False, allow_uniform: bool = True) -> Optional[np.ndarray]:
    """A class balance over ``cardinality`` classes as a contiguous float64 copy renormalised to sum to 1:
    ``cardinality`` finite non-negative probabilities summing to 1 (to within 1e-6), or "uniform"
    (``allow_uniform``), or None (``allow_none``: returned as None).

    ``positive``: every class needs a probability above 0 (label models and the moment fits: a class with prior 0
    could never be predicted, and the fits divide by it). A value that is not numbers is a TypeError, numbers of
    the wrong shape or values a ValueError; both name ``name``.

    Example: ``check_class_balance([0.25, 0.75], 2)`` -> ``array([0.25, 0.75])``."""
    expected = " or ".join(["None"] * allow_none + ["'uniform'"] * allow_uniform + [f"{cardinality} probabilities"])
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{name}: expected {expected}, got None")
    if isinstance(value, str):
        if value != "uniform" or not allow_uniform:
            raise ValueError(f"{name}: expected {expected}, got {value!r}")
        return np.full(cardinality, 1.0 / cardinality)
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError):  # strings, None entries, ragged lists
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__} {value!r:.80}") from None
    if arr.shape != (cardinality,):
        raise ValueError(f"{name}: expected {cardinality} class probabilities, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or abs(arr.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}: expected non-negative probabilities summing to 1, got {arr.tolist()}")
    if positive and np.any(arr == 0):
        raise ValueError(f"{name}: class {int(np.flatnonzero(arr == 0)[0])} has probability 0, so the model could "
                         "never predict it; give every class a positive probability (or leave the class out)")
    return np.ascontiguousarray(arr / arr.sum())
