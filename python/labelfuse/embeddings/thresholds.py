"""Choosing the extension thresholds: per LF, one radius, tuned on a labeled dev set, or an unsupervised default.

Unsupervised default (``nearest_neighbor_thresholds``): for LF j, the ``quantile`` of the similarities between
each of j's voters and its nearest other training row (exact duplicates skipped). The extension then reaches
abstaining rows that are about as close to a voter as the LF's own voters are to their nearest neighbours: an LF
whose voters sit in a dense region extends only within it, an LF on sparse data gets a wider radius. ``floor``
keeps the radius from becoming absurdly wide on very sparse data. An LF that never votes gets +inf (no
extension). The default quantile, 0.9, is conservative: on the WRENCH sets with MiniLM embeddings, lower
quantiles (wider radii) extended more wrong votes than right ones without dev tuning (bench/compare_fusion.py).

Dev tuning (``tune_thresholds``), never on test: (1) per LF, on the dev rows where that LF abstains, extend with
every candidate threshold and count the new votes that are right (c) and wrong (w); keep the threshold with the
best c - penalty * w (ties: the higher, more conservative threshold); an LF with no dev evidence at any candidate
keeps its unsupervised default, and one whose new dev votes never gain keeps the larger of its default and the
lowest candidate that adds no dev vote. (2) joint refinement: shift all thresholds by a common offset and keep
the offset whose full pipeline (extension + label model) scores best on dev, ties going to the smaller shift.

Without dev labels (``agreement_thresholds``): the label model fitted on the unextended votes stands in for the
gold labels. For LF j, on the rows where j abstains but other LFs vote, the label model's prediction does not
depend on j; the agreement of j's new (extended) votes with it is compared with the agreement of j's own votes
with the label model fitted without j (the same yardstick, so the label model's own errors cancel). A threshold
is kept as low as its new votes agree at least as well as j's own votes do (less ``margin``), with at least
``min_votes`` new votes to judge by; an LF with too little evidence keeps the conservative quantile default.
This extends where an LF's neighbourhood is as clean as the LF itself and stays put where it is not.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from .._validation import as_label_matrix, as_labels, check_cardinality, check_number, check_votes
from .extend import as_neighbors, as_thresholds, extension_sweep
from .graph import NeighborGraph

__all__ = ["nearest_neighbor_thresholds", "tune_thresholds", "agreement_thresholds", "DEFAULT_CANDIDATES", "DEFAULT_OFFSETS"]

DEFAULT_CANDIDATES = tuple(np.round(np.arange(0.40, 0.991, 0.025), 3))
AGREEMENT_CANDIDATES = tuple(np.round(np.arange(0.50, 0.951, 0.05), 3))
DEFAULT_OFFSETS = (-0.1, -0.05, -0.025, 0.0, 0.025, 0.05, 0.1)
_DUPLICATE = 1.0 - 1e-6


def nearest_neighbor_thresholds(
    L: Any, graph: NeighborGraph, quantile: float = 0.9, floor: float = 0.0
) -> np.ndarray:
    """Unsupervised per-LF thresholds (see the module docstring): (m,) float64.

    Args:
        L: (n, m) training votes.
        graph: the NeighborGraph fitted on the training rows.
        quantile: the quantile of each LF's nearest-voter similarities used as its threshold.
        floor: the smallest threshold returned.

    Returns:
        (m,) float64 cosine thresholds.

    Example:
        >>> import numpy as np
        >>> from labelfuse.embeddings import NeighborGraph
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 8)).astype(np.float32)
        >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
        >>> L = np.where(rng.random((40, 3)) < 0.3, rng.integers(0, 2, (40, 3)), -1).astype(np.int8)
        >>> graph = NeighborGraph(n_neighbors=8).fit(X)
        >>> from labelfuse.embeddings import nearest_neighbor_thresholds
        >>> nearest_neighbor_thresholds(L, graph).shape
        (3,)
    """
    L = as_label_matrix(L, "L")
    _check_graph(graph)
    if L.shape[0] != graph.n_rows:
        raise ValueError(f"L: has {L.shape[0]} rows but the graph was built on {graph.n_rows} training rows")
    quantile = check_number(quantile, "quantile", 0.0, 1.0)
    floor = check_number(floor, "floor")
    sims = graph.sims_
    if sims.shape[1] == 0:
        return np.full(L.shape[1], np.inf)
    # the first neighbour that is not an exact duplicate (or the last one when all are)
    not_dup = sims < _DUPLICATE
    first = np.where(not_dup.any(axis=1), not_dup.argmax(axis=1), sims.shape[1] - 1)
    nearest = sims[np.arange(sims.shape[0]), first].astype(np.float64)
    out = np.full(L.shape[1], np.inf)
    for j in range(L.shape[1]):
        voters = L[:, j] >= 0
        if voters.any():
            out[j] = max(float(np.quantile(nearest[voters], quantile)), floor)
    return out


def tune_thresholds(
    L: Any,
    graph: NeighborGraph,
    L_dev: Any,
    Y_dev: Any,
    *,
    dev_neighbors: Any,
    cardinality: int,
    default: np.ndarray,
    candidates: Sequence[float] = DEFAULT_CANDIDATES,
    penalty: float = 1.0,
    score: Optional[Callable[[np.ndarray], float]] = None,
    offsets: Sequence[float] = DEFAULT_OFFSETS,
    n_threads: Optional[int] = None,
) -> dict:
    """Per-LF search on dev, then a joint shift scored by ``score(thresholds)`` (higher is better).

    ``penalty`` weighs a wrong new vote against a right one: a threshold is worth lowering only while the votes
    it adds are right more than ``penalty / (1 + penalty)`` of the time (default 1: more often right than wrong).
    Returns a dict with ``thresholds`` (m,), ``per_lf`` (m,) before the shift, ``offset`` and
    ``scores`` of the offsets tried.

    Args:
        L: (n, m) training votes.
        graph: the NeighborGraph fitted on the training rows.
        L_dev, Y_dev: dev votes and gold labels.
        dev_neighbors: the dev rows' neighbour lists (``graph.query`` output).
        cardinality: k.
        default: (m,) thresholds to start from (e.g. :func:`nearest_neighbor_thresholds`).
        candidates: thresholds tried per LF.
        penalty: the weight of a wrong new vote against a right one.
        score: scores a (m,) threshold vector for the joint shift (default: dev accuracy of the extended votes).
        offsets: joint shifts tried.
        n_threads: None = all cores.

    Returns:
        A dict with ``thresholds``, ``per_lf``, ``offset`` and ``scores``.

    Example::

        default = nearest_neighbor_thresholds(L, graph)
        tuned = tune_thresholds(L, graph, L_dev, Y_dev, dev_neighbors=graph.query(X_dev), cardinality=2,
                                default=default)
        tuned["thresholds"]
    """
    L = as_label_matrix(L, "L")
    _check_graph(graph)
    L_dev = as_label_matrix(L_dev, "L_dev")
    m = L.shape[1]
    if L_dev.shape[1] != m:
        raise ValueError(f"L_dev: expected {m} columns (the LFs of L), got {L_dev.shape[1]}")
    k = check_cardinality(cardinality)
    check_votes(L_dev, k, "L_dev")
    Y_dev = as_labels(Y_dev, L_dev.shape[0], k, "Y_dev")
    dev_neighbors = as_neighbors(dev_neighbors, graph, "dev_neighbors")
    if dev_neighbors[0].shape[0] != L_dev.shape[0]:
        raise ValueError(f"dev_neighbors: hold {dev_neighbors[0].shape[0]} rows but L_dev has {L_dev.shape[0]}")
    penalty = check_number(penalty, "penalty", 0.0)
    default = as_thresholds(default, m, "default")
    grid = np.sort(_as_candidates(candidates))[::-1]  # high (conservative) to low
    abstain = L_dev == -1
    best_gain = np.full(m, -np.inf)
    best_t = np.full(m, np.nan)
    last_silent = np.full(m, np.inf)  # the lowest threshold (so far) that adds no dev vote
    silent = np.ones(m, dtype=bool)
    # one kernel pass at the lowest candidate answers every candidate (ExtensionSweep)
    sweep = extension_sweep(L, graph, float(grid[-1]), L_query=L_dev, neighbors=dev_neighbors, cardinality=k,
                            n_threads=n_threads) if grid.size else None
    for t in grid:
        ext = sweep.at(float(t))
        new = abstain & (ext >= 0)
        n_new = new.sum(axis=0)
        right = (new & (ext == Y_dev[:, None])).sum(axis=0)
        gain = right - penalty * (n_new - right)
        silent &= n_new == 0
        last_silent[silent] = t
        better = (n_new > 0) & (gain > best_gain)  # strict: ties keep the higher threshold seen first
        best_t[better] = t
        best_gain[better] = gain[better]
    per_lf = default.copy()
    helpful = best_gain > 0
    per_lf[helpful] = best_t[helpful]
    # dev evidence only against extending: extend no further than the dev set leaves unrefuted
    refuted = np.isfinite(best_gain) & ~helpful
    per_lf[refuted] = np.maximum(default[refuted], last_silent[refuted])
    result = {"per_lf": per_lf, "offset": 0.0, "scores": {}, "thresholds": per_lf}
    if score is None:
        return result
    best_offset, best_score = 0.0, -np.inf
    for off in sorted(offsets, key=lambda o: (abs(o), o)):
        s = float(score(per_lf + off))
        result["scores"][float(off)] = s
        if s > best_score + 1e-12:
            best_offset, best_score = float(off), s
    result["offset"] = best_offset
    result["thresholds"] = per_lf + best_offset
    return result


def agreement_thresholds(
    L: Any,
    graph: NeighborGraph,
    reference: Any,
    proba_without: Callable[[int], np.ndarray],
    *,
    cardinality: int,
    default: np.ndarray,
    candidates: Sequence[float] = AGREEMENT_CANDIDATES,
    margin: float = 0.02,
    min_votes: int = 20,
    n_threads: Optional[int] = None,
) -> np.ndarray:
    """Unsupervised per-LF thresholds chosen by agreement with the label model (see the module docstring).

    ``reference``: (n,) the label model's labels of the training rows (all LFs).
    ``proba_without(j)``: (n, k) label-model posteriors of the training rows with LF j left out (its column set
    to abstain). ``default``: the thresholds kept by an LF without enough evidence (and never raised above).
    Returns (m,) float64.

    Args:
        L: (n, m) training votes.
        graph: the NeighborGraph fitted on the training rows.
        reference: (n,) the label model's labels of the training rows (all LFs).
        proba_without: ``proba_without(j)`` -> (n, k) label-model posteriors with LF j left out.
        cardinality: k.
        default: (m,) thresholds kept by an LF without enough evidence (e.g.
            :func:`nearest_neighbor_thresholds`); no threshold is raised above its default.
        candidates: thresholds tried per LF.
        margin: how much lower than the LF's own agreement its new votes' agreement may be.
        min_votes: the fewest votes an LF needs to be judged, both its own votes on rows where other LFs vote
            and its new votes at a threshold.
        n_threads: None = all cores.

    Returns:
        (m,) float64 cosine thresholds, each at most its ``default``.

    Example::

        lm = LabelModel(cardinality=2).fit(L)
        def without(j):
            L_j = L.copy(); L_j[:, j] = -1
            return lm.predict_proba(L_j)
        thr = agreement_thresholds(L, graph, lm.predict_proba(L).argmax(1), without, cardinality=2, default=nearest_neighbor_thresholds(L, graph))
    """
    L = as_label_matrix(L, "L")
    _check_graph(graph)
    k = check_cardinality(cardinality)
    check_votes(L, k, "L")
    m = L.shape[1]
    default = as_thresholds(default, m, "default")
    margin = check_number(margin, "margin", 0.0, 1.0)
    grid = np.sort(_as_candidates(candidates))[::-1]  # high (conservative) to low
    votes = L >= 0
    n_votes = votes.sum(axis=1)
    out = default.copy()
    own_agreement = np.full(m, np.nan)
    for j in range(m):
        mine = votes[:, j] & (n_votes > 1)
        if mine.sum() < min_votes:
            continue
        P = np.asarray(proba_without(j))
        own_agreement[j] = float((P[mine].argmax(axis=1) == L[mine, j]).mean())
    # the label model's labels on rows where LF j abstains do not depend on j (abstentions carry no evidence)
    reference = as_labels(reference, L.shape[0], k, "reference")
    others = n_votes[:, None] - votes  # votes of the other LFs per row and LF
    sweep = extension_sweep(L, graph, float(grid[-1]), cardinality=k, n_threads=n_threads) if grid.size else None
    for t in grid:
        ext = sweep.at(float(t))
        new = (~votes) & (ext >= 0) & (others > 0)
        n_new = new.sum(axis=0)
        right = (new & (ext == reference[:, None])).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            agree = right / n_new
        ok = (n_new >= min_votes) & np.isfinite(own_agreement) & (agree >= own_agreement - margin)
        out[ok] = np.minimum(default[ok], t)
    return out


def _as_candidates(candidates: Any) -> np.ndarray:
    try:
        grid = np.array(candidates, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"candidates: expected a sequence of thresholds, got {candidates!r}") from None
    if grid.ndim != 1 or np.isnan(grid).any():
        raise ValueError(f"candidates: expected a 1-D sequence of thresholds without NaN, got {candidates!r}")
    return grid


def _check_graph(graph: Any) -> None:
    if not isinstance(graph, NeighborGraph):
        raise TypeError(f"graph: expected a fitted NeighborGraph, got {type(graph).__name__}")
    graph._check_fitted()
