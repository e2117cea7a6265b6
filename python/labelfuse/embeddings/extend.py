"""Extend LF votes to nearby abstaining rows (the Epoxy rule), from a cached neighbour graph."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._validation import as_label_matrix, check_n_threads, infer_cardinality
from .graph import NeighborGraph

__all__ = ["extend_votes", "extension_sweep", "ExtensionSweep", "ExtensionReport", "as_thresholds"]


@dataclass
class ExtensionReport:
    """What :func:`extend_votes` did, per LF.

    Args:
        extended: (m,) abstentions turned into votes, per LF.
        fallback: (m,) (row, LF) pairs the neighbour lists could not decide (resolved by an exact scan).

    Example:
        >>> import numpy as np
        >>> from labelfuse.embeddings import NeighborGraph
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 8)).astype(np.float32)
        >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
        >>> L = np.where(rng.random((40, 3)) < 0.3, rng.integers(0, 2, (40, 3)), -1).astype(np.int8)
        >>> graph = NeighborGraph(n_neighbors=8).fit(X)
        >>> from labelfuse.embeddings import extend_votes
        >>> _, report = extend_votes(L, graph, 0.0, cardinality=2, return_report=True)
        >>> report.extended.shape
        (3,)
    """

    extended: np.ndarray  # (m,) abstentions turned into votes, per LF
    fallback: np.ndarray  # (m,) (row, LF) pairs the top-K lists could not decide (exact scan over the LF's voters)


def as_thresholds(thresholds: Any, m: int, name: str = "thresholds") -> np.ndarray:
    """One radius for all LFs (a number) or one per LF, as a contiguous float64 (m,) array (a copy).

    Args:
        thresholds: a number, or one number per LF.
        m: the number of LFs.
        name: the argument name used in error messages.

    Returns:
        (m,) float64 radii.

    Example:
        >>> from labelfuse.embeddings import as_thresholds
        >>> as_thresholds(0.7, 3).tolist()
        [0.7, 0.7, 0.7]
    """
    try:
        t = np.array(thresholds, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number or {m} numbers (one per LF), got {thresholds!r}") from None
    if t.ndim == 0:
        t = np.full(m, float(t))
    if t.shape != (m,):
        raise ValueError(f"{name}: expected a number or {m} values (one per LF), got shape {t.shape}")
    if np.isnan(t).any():
        raise ValueError(f"{name}: entry {int(np.flatnonzero(np.isnan(t))[0])} is NaN")
    return np.ascontiguousarray(t)


def as_neighbors(neighbors: Any, graph: NeighborGraph, name: str = "neighbors"):
    """A cached ``graph.query(X)`` result, checked: (ids int64 (q, K) of training rows or -1 padding, sims float32
    (q, K) decreasing along each row, unit X float32 (q, d)), C-contiguous for the core."""
    if not isinstance(neighbors, (tuple, list)) or len(neighbors) != 3:
        raise TypeError(f"{name}: expected the (ids, sims, X) triple returned by graph.query(X_query)")
    ids, sims, Xq = neighbors
    if not isinstance(ids, np.ndarray) or ids.dtype != np.int64 or ids.ndim != 2:
        raise TypeError(f"{name}: ids must be a 2-D int64 array (as graph.query returns)")
    if not isinstance(sims, np.ndarray) or sims.dtype != np.float32 or sims.shape != ids.shape:
        raise TypeError(f"{name}: sims must be a float32 array shaped like ids {ids.shape}")
    dim = graph.X_.shape[1]
    if not isinstance(Xq, np.ndarray) or Xq.dtype != np.float32 or Xq.shape != (ids.shape[0], dim):
        raise TypeError(f"{name}: X must be the float32 ({ids.shape[0]}, {dim}) unit embeddings of the query rows")
    if ids.size and (int(ids.min()) < -1 or int(ids.max()) >= graph.n_rows):
        raise ValueError(f"{name}: ids must be training rows 0..{graph.n_rows - 1} (or -1 padding)")
    unsorted = np.isnan(sims).any(axis=1) | (sims[:, 1:] > sims[:, :-1]).any(axis=1)
    if unsorted.any():
        raise ValueError(f"{name}: similarities of row {int(np.flatnonzero(unsorted)[0])} are NaN or not sorted "
                         "in decreasing order")
    return np.ascontiguousarray(ids), np.ascontiguousarray(sims), np.ascontiguousarray(Xq)


def extend_votes(
    L: Any,
    graph: NeighborGraph,
    thresholds: Union[float, Any],
    *,
    L_query: Any = None,
    X_query: Any = None,
    neighbors: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None,
    cardinality: Optional[int] = None,
    n_threads: Optional[int] = None,
    return_report: bool = False,
):
    """Fill abstentions of each LF with the class of its most similar voter, when that similarity is high enough.

    For LF j and a row x on which j abstains, s_c is the highest cosine similarity between x and a training row
    where j votes c. x takes the class whose s_c is the unique maximum and strictly above ``thresholds[j]``; ties
    and anything at or below the threshold stay abstentions. Votes are never changed, only abstentions filled.

    Args:
        L: training votes (n, m): the database of voters, rows aligned with ``graph``'s training embeddings.
        graph: a fitted :class:`NeighborGraph` on the training embeddings.
        thresholds: one cosine threshold for all LFs, or one per LF.
        L_query: votes of another split to extend (default: extend L itself; a row never matches itself).
        X_query: embeddings of that split (rows of L_query); or pass ``neighbors=graph.query(X_query)`` to reuse
            a cached query.
        return_report: also return an :class:`ExtensionReport` (counts per LF).

    Returns:
        The extended votes (a new array; dtype of L), and the report when asked.

    Example:
        >>> import numpy as np
        >>> from labelfuse.embeddings import NeighborGraph
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 8)).astype(np.float32)
        >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
        >>> L = np.where(rng.random((40, 3)) < 0.3, rng.integers(0, 2, (40, 3)), -1).astype(np.int8)
        >>> graph = NeighborGraph(n_neighbors=8).fit(X)
        >>> from labelfuse.embeddings import extend_votes
        >>> L_ext = extend_votes(L, graph, 0.5, cardinality=2)
        >>> bool(((L_ext != -1).sum() >= (L != -1).sum()) and (L_ext[L != -1] == L[L != -1]).all())
        True
    """
    out, ext, fb = _run(L, graph, thresholds, L_query, X_query, neighbors, cardinality, n_threads, False)
    if return_report:
        return out, ExtensionReport(extended=ext, fallback=fb)
    return out


def _run(L, graph, thresholds, L_query, X_query, neighbors, cardinality, n_threads, similarity: bool):
    """extend_votes' checks and the native call: (out, extended, fallback[, best similarities])."""
    L = as_label_matrix(L, "L")
    if not isinstance(graph, NeighborGraph):
        raise TypeError(f"graph: expected a NeighborGraph, got {type(graph).__name__}")
    graph._check_fitted()
    n, m = L.shape
    if n != graph.n_rows:
        raise ValueError(f"L: has {n} rows but the graph was built on {graph.n_rows} training rows")
    k = infer_cardinality(L, cardinality)
    t = as_thresholds(thresholds, m)
    n_threads = check_n_threads(n_threads)
    if L_query is None:
        if X_query is not None or neighbors is not None:
            raise ValueError("L_query: required with X_query / neighbors (to extend another split)")
        return _core.extend_votes(L, L, graph.ids_, graph.sims_, graph.X_, graph.X_, t, k,
                                   self_query=True, n_threads=n_threads, return_similarity=similarity)
    else:
        L_query = as_label_matrix(L_query, "L_query")
        if L_query.shape[1] != m:
            raise ValueError(f"L_query: expected {m} columns (the LFs of L), got {L_query.shape[1]}")
        if neighbors is None:
            if X_query is None:
                raise ValueError("X_query: required to extend L_query (or pass neighbors=graph.query(X_query))")
            neighbors = graph._query(X_query, None, "X_query")
            name = "X_query"
        else:
            neighbors = as_neighbors(neighbors, graph)
            name = "neighbors"
        ids, sims, Xq = neighbors
        if ids.shape[0] != L_query.shape[0]:
            raise ValueError(f"L_query: has {L_query.shape[0]} rows but {name} {ids.shape[0]}")
        dtype = np.result_type(L.dtype, L_query.dtype)
        Ldb = L if L.dtype == dtype else L.astype(dtype)
        Lq = L_query if L_query.dtype == dtype else L_query.astype(dtype)
        return _core.extend_votes(Ldb, Lq, ids, sims, graph.X_, Xq, t, k, self_query=False,
                                   n_threads=n_threads, return_similarity=similarity)


class ExtensionSweep:
    """The extension at every threshold at or above a floor, from ONE pass of the kernel at that floor.

    Why it is exact: for LF j and an abstaining row, the rule takes the class of the unique most similar voter
    when that similarity s* is strictly above the threshold. The pass at the floor records, for every pair it
    extends, the class and s*; a pair it leaves alone has s* at or below the floor, or a tie at s*. At a higher
    threshold t the rule therefore takes exactly the pairs with s* > t, with the same class: a threshold grid
    costs one neighbour-list walk (and one exact fallback) instead of one per grid point.

    Attributes: ``floor`` (m,) the per-LF thresholds of the pass, ``votes`` the extension at the floor,
    ``similarity`` (q, m) float32 s* of each extended pair (-inf elsewhere), ``fallback`` (m,) pairs the floor
    pass decided by the exact scan.
    """

    def __init__(self, L_query: np.ndarray, votes: np.ndarray, similarity: np.ndarray, floor: np.ndarray,
                 fallback: np.ndarray):
        self.L_query = L_query if L_query.dtype == votes.dtype else L_query.astype(votes.dtype)
        self.votes = votes
        self.similarity = similarity
        self.floor = floor
        self.fallback = fallback

    def at(self, thresholds: Union[float, Any], return_report: bool = False):
        """The extended votes at ``thresholds`` (a number or one per LF, each at or above the floor): the same
        array ``extend_votes`` returns for them (the report's ``fallback`` is the floor pass's)."""
        t = as_thresholds(thresholds, self.floor.shape[0])
        below = t < self.floor
        if below.any():
            j = int(np.flatnonzero(below)[0])
            raise ValueError(f"thresholds: entry {j} ({t[j]}) is below the sweep's floor {self.floor[j]}")
        take = self.similarity > t  # float32 against float64: compared as float64, as the kernel does
        out = np.where(take, self.votes, self.L_query)
        if return_report:
            return out, ExtensionReport(extended=take.sum(axis=0).astype(np.int64), fallback=self.fallback.copy())
        return out


def extension_sweep(
    L: Any,
    graph: NeighborGraph,
    floor: Union[float, Any],
    *,
    L_query: Any = None,
    X_query: Any = None,
    neighbors: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None,
    cardinality: Optional[int] = None,
    n_threads: Optional[int] = None,
) -> ExtensionSweep:
    """One kernel pass at ``floor`` (the lowest threshold of a grid, per LF or one for all) that answers
    :func:`extend_votes` for every threshold at or above it (:class:`ExtensionSweep`). Arguments as
    :func:`extend_votes`.

    Example::

        sweep = extension_sweep(L, graph, 0.4)
        for t in (0.4, 0.5, 0.6):
            L_ext = sweep.at(t)            # == extend_votes(L, graph, t)
    """
    out, _, fb, sims = _run(L, graph, floor, L_query, X_query, neighbors, cardinality, n_threads, True)
    base = as_label_matrix(L if L_query is None else L_query, "L" if L_query is None else "L_query")
    return ExtensionSweep(base, out, sims, as_thresholds(floor, out.shape[1]), fb)
