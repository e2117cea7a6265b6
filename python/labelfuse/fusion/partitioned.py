"""Partitioned fitting: statistics per part of the embedding space, one label model per part blended with a
global one, posteriors per part, and the WS + kNN baseline.

Per-part label models and shrinkage: the extended votes' statistics are counted per part in one native pass;
each part's label model is fitted from its own statistics, then its tables are blended with the global fit by
pseudo-counts,

    cpt_g <- (n_g * cpt_g + shrinkage * cpt_global) / (n_g + shrinkage),

with n_g the part's training rows (the same blend for the class balance). Columns of a CPT sum to one, so the
blend does too. A part whose own fit fails (too few votes, a degenerate moment matrix) uses the global fit.

Per-part class balance from dev labels (when Y_dev is given): (dev counts in part g + balance_pseudocount *
global dev balance) / (dev rows in g + balance_pseudocount), the global dev balance being itself smoothed with
one pseudo-count per class. Without dev labels the label model estimates the balance (``class_balance=None``).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._validation import as_probabilities, check_count, check_memory
from ..metrics import resolve_metric
from ..models.registry import FitResult, get_method
from ..stats import GroupIndex, LabelStats, label_stats

__all__ = ["fit_partitioned", "partitioned_stats", "ws_knn_proba", "resolve_fit", "needs_overlap"]

FitFunction = Callable[[LabelStats, Optional[np.ndarray]], FitResult]


# -- label models ---------------------------------------------------------------------------------------------------
def resolve_fit(label_model: Union[str, FitFunction], n_threads: Optional[int] = None) -> FitFunction:
    """A fit function from a method name or a callable (:func:`labelfuse.models.registry.get_method`).

    Two kinds: statistics fits ``fit(stats, class_balance) -> FitResult`` (triplet, covariance, and any callable
    by default) and row fits ``fit(L_rows, cardinality, class_balance, init=None) -> FitResult`` (Dawid-Skene's
    EM works on the votes themselves; a callable declares this with an attribute ``uses_rows = True``).
    """
    method = get_method(label_model, n_threads)
    if method.uses_rows and not callable(label_model):
        fit = method.fit

        def fit_rows(L_rows, cardinality, class_balance, init=None):
            return fit(L_rows, cardinality, class_balance, init=init)

        fit_rows.uses_rows = True
        return fit_rows
    return method.fit


def _uses_rows(fit: FitFunction) -> bool:
    return get_method(fit).uses_rows


def needs_overlap(label_model: Union[str, FitFunction]) -> bool:
    """Whether a method's fit reads the one-hot overlap matrix (costly to count: only when needed)."""
    return get_method(label_model).needs_overlap


def _blend(part: FitResult, glob: FitResult, n_rows: float, shrinkage: float) -> Tuple[np.ndarray, np.ndarray]:
    w = n_rows / (n_rows + shrinkage) if n_rows + shrinkage > 0 else 0.0
    cpt = w * np.asarray(part.cpt, dtype=np.float64) + (1 - w) * np.asarray(glob.cpt, dtype=np.float64)
    prior = w * np.asarray(part.class_balance, dtype=np.float64) + (1 - w) * np.asarray(glob.class_balance)
    return cpt, prior / prior.sum()


def partitioned_stats(L: np.ndarray, cardinality: int, *, group_index: Optional[GroupIndex] = None,
                      overlap_matrix: bool = False, n_threads: Optional[int] = None) -> LabelStats:
    """Statistics of the (extended) votes per part, in one native pass.

    Args:
        L: (n, m) votes.
        cardinality: k.
        group_index: the parts' rows, or None for one part.
        overlap_matrix: also count the overlap matrix (the covariance fit needs it).
        n_threads: None = all cores.

    Returns:
        A grouped :class:`labelfuse.LabelStats`.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> from labelfuse.fusion import partitioned_stats
        >>> L = np.array([[0, 0], [1, -1], [0, 1], [1, 1]], dtype=np.int8)
        >>> index = lf.GroupIndex.from_groups(np.array([0, 0, 1, 1]), n_groups=2)
        >>> partitioned_stats(L, 2, group_index=index).rows.tolist()
        [2, 2]
    """
    m, k = L.shape[1], int(cardinality)
    G = 1 if group_index is None else group_index.n_groups
    if overlap_matrix:
        check_memory(8 * G * (m * k) ** 2, "overlap_matrix", f"{G} parts x ({m} LFs x {k} classes)^2 counts",
                     advice="use fewer parts or a method without it")
    return label_stats(L, k, group_index=group_index, overlap_matrix=overlap_matrix, n_threads=n_threads)


def fit_partitioned(
    stats: LabelStats,
    fit: FitFunction,
    *,
    class_balance: Optional[np.ndarray] = None,
    shrinkage: float = 100.0,
    L: Optional[np.ndarray] = None,
    group_index: Optional[GroupIndex] = None,
) -> Dict[str, Any]:
    """Fit one label model per part (and a global one) from grouped statistics (see :func:`partitioned_stats`).

    ``class_balance``: None, (k,) for every part, or (G, k) per part (the global fit gets their row-weighted
    mean). Row fits (Dawid-Skene) also need the votes ``L`` and the parts' ``group_index``; each part's EM starts
    from the global fit. Returns ``cpt`` (G, m, k+1, k), ``class_balance`` (G, k), ``fallbacks`` (parts that
    used the global fit) and ``global`` (the global FitResult).

    Args:
        stats: grouped statistics, one group per part.
        fit: the label model's fit function (see :func:`labelfuse.models.get_method`).
        class_balance: None, (k,) or (G, k).
        shrinkage: pseudo-rows pulling each part's tables towards the global fit.
        L: the votes (row fits only).
        group_index: the parts' rows (row fits only).

    Returns:
        A dict with ``cpt``, ``class_balance``, ``fallbacks`` and ``global``.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> from labelfuse.fusion import fit_partitioned, partitioned_stats
        >>> from labelfuse.models import fit_triplet
        >>> L = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0]] * 20, dtype=np.int8)
        >>> index = lf.GroupIndex.from_groups(np.arange(80) % 2, n_groups=2)
        >>> fit_partitioned(partitioned_stats(L, 2, group_index=index), fit_triplet)["cpt"].shape
        (2, 3, 3, 2)
    """
    k = stats.cardinality
    m = stats.n_lfs
    G = stats.n_groups
    rows = stats.rows.astype(np.float64)
    by_rows = _uses_rows(fit)
    if by_rows and L is None:
        raise ValueError("L: this label model fits on the votes themselves; pass L (and group_index)")
    if class_balance is not None:
        cb = np.asarray(class_balance, dtype=np.float64)
        per_part = cb if cb.ndim == 2 else np.broadcast_to(cb, (G, k))
        global_balance = (rows[:, None] * per_part).sum(axis=0) / max(rows.sum(), 1.0)
    else:
        per_part, global_balance = None, None
    glob = fit(L, k, global_balance) if by_rows else fit(stats.total(), global_balance)
    if G == 1:
        return {"cpt": np.asarray(glob.cpt, dtype=np.float64)[None], "class_balance":
                np.asarray(glob.class_balance, dtype=np.float64)[None], "fallbacks": [], "global": glob}
    if by_rows and (group_index is None or group_index.n_groups != G):
        raise ValueError("group_index: required with several parts for a label model that fits on the votes")
    cpt = np.empty((G, m, k + 1, k))
    prior = np.empty((G, k))
    fallbacks = []
    for g in range(G):
        balance = None if per_part is None else per_part[g]
        try:
            if by_rows:
                members = group_index.order[group_index.offsets[g]:group_index.offsets[g + 1]]
                part = fit(L[members], k, balance, init=glob) if members.size else glob
            else:
                part = fit(stats.group(g), balance)
            ok = np.all(np.isfinite(part.cpt)) and np.all(np.isfinite(part.class_balance))
        except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError):
            ok = False
        if not ok:
            part = glob
            fallbacks.append(g)
        cpt[g], prior[g] = _blend(part, glob, rows[g], shrinkage)
    return {"cpt": cpt, "class_balance": prior, "fallbacks": fallbacks, "global": glob}


def _posterior(L: np.ndarray, cpt: np.ndarray, prior: np.ndarray, k: int, groups: Optional[np.ndarray],
               n_threads: Optional[int]) -> np.ndarray:
    log_cpt = np.ascontiguousarray(np.log(np.clip(cpt, 1e-12, 1.0)))
    log_prior = np.ascontiguousarray(np.log(np.clip(prior, 1e-12, 1.0)))
    G = cpt.shape[0]
    return _core.posterior(L, log_cpt, log_prior, k, n_groups=G, groups=groups if G > 1 else None,
                           n_threads=n_threads)


def _part_balance(Y: np.ndarray, parts: np.ndarray, G: int, k: int, pseudocount: float) -> np.ndarray:
    glob = (np.bincount(Y, minlength=k) + 1.0) / (Y.shape[0] + k)
    counts = np.zeros((G, k))
    np.add.at(counts, (parts, Y), 1.0)
    return (counts + pseudocount * glob) / (counts.sum(axis=1, keepdims=True) + pseudocount)


def _score(Y: np.ndarray, P: np.ndarray, scoring: str) -> float:
    """The dev score of the searches: ``scoring`` (:func:`labelfuse.metrics.resolve_metric`) of the argmax
    labels, or of the probabilities for a metric that needs them."""
    metric = resolve_metric(scoring, "scoring")
    return metric.score(Y, P if metric.needs_proba else P.argmax(axis=1), P.shape[1])


def ws_knn_proba(P_train: np.ndarray, neighbor_ids: np.ndarray, n_neighbors: int = 10) -> np.ndarray:
    """WS + kNN baseline: the mean label-model posterior of each query row's nearest training rows.

    ``neighbor_ids`` (q, K): training rows by decreasing similarity, -1 padding a short list (``graph.query``'s
    ids). A row without any neighbour gets the uniform distribution (no information).

    Args:
        P_train: (n, k) label-model posteriors of the training rows.
        neighbor_ids: (q, K) training row ids per query row, -1 = none.
        n_neighbors: how many of the nearest to average.

    Returns:
        (q, k) probabilities.

    Example:
        >>> import numpy as np
        >>> from labelfuse.fusion import ws_knn_proba
        >>> P = np.array([[0.9, 0.1], [0.2, 0.8]])
        >>> ws_knn_proba(P, np.array([[0, 1], [-1, -1]]), n_neighbors=2).round(2).tolist()
        [[0.55, 0.45], [0.5, 0.5]]
    """
    P = as_probabilities(P_train, "P_train")
    ids = np.asarray(neighbor_ids)
    if ids.dtype == np.bool_ or ids.dtype.kind not in "iu":
        raise TypeError(f"neighbor_ids: expected integer training-row ids, got dtype {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"neighbor_ids: expected a 2-D array (n_query, K), got shape {ids.shape}")
    if ids.size and (int(ids.min()) < -1 or int(ids.max()) >= P.shape[0]):
        raise ValueError(f"neighbor_ids: expected rows of P_train in 0..{P.shape[0] - 1} (or -1 padding)")
    check_count(n_neighbors, "n_neighbors", 1)
    ids = ids[:, :int(n_neighbors)]
    valid = ids >= 0
    total = np.zeros((ids.shape[0], P.shape[1]))
    if P.shape[0]:
        total = np.where(valid[:, :, None], P[np.where(valid, ids, 0)], 0.0).sum(axis=1)
    count = valid.sum(axis=1, keepdims=True)
    return np.where(count > 0, total / np.maximum(count, 1), 1.0 / P.shape[1])
