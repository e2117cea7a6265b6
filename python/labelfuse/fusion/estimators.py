"""Embedding fusion: Epoxy (extend LF votes to nearby rows) and Liger (plus one label model per embedding part).

Two kinds of work are kept apart: the embedding-dependent part (neighbour graph, partitions, dev neighbours) is
computed once in ``fit`` and cached; the LF-dependent part (extension, statistics, per-part fits, posteriors) is
redone by ``refit(L)``, which is what an interactive edit-an-LF loop calls.

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

import json
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from .._validation import (NotFittedError, as_label_matrix, as_labels, as_probabilities, check_n_threads,
                          check_number, check_votes, infer_cardinality, require_rows)
from .._validation import check_memory
from ..metrics import resolve_metric
from ..models.registry import FitResult, get_method
from ..stats import GroupIndex, LabelStats, label_stats
from .._params import Params, json_value
from .._saving import check_format_version, version_stamp

__all__ = ["Epoxy", "Liger", "fit_partitioned", "partitioned_stats", "ws_knn_proba", "FUSION_FORMAT_VERSION"]

FUSION_FORMAT_VERSION = 1
FitFunction = Callable[[LabelStats, Optional[np.ndarray]], FitResult]
_INCREMENTAL_COLUMNS = 2  # refit: up to this many edited LFs update the statistics row-wise


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
    """Statistics of the (extended) votes per part, in one native pass."""
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
    ids). A row without any neighbour gets the uniform distribution (no information)."""
    P = as_probabilities(P_train, "P_train")
    ids = np.asarray(neighbor_ids)
    if ids.dtype == np.bool_ or ids.dtype.kind not in "iu":
        raise TypeError(f"neighbor_ids: expected integer training-row ids, got dtype {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"neighbor_ids: expected a 2-D array (n_query, K), got shape {ids.shape}")
    if ids.size and (int(ids.min()) < -1 or int(ids.max()) >= P.shape[0]):
        raise ValueError(f"neighbor_ids: expected rows of P_train in 0..{P.shape[0] - 1} (or -1 padding)")
    if isinstance(n_neighbors, (bool, np.bool_)) or not isinstance(n_neighbors, (int, np.integer)) \
            or n_neighbors < 1:
        raise ValueError(f"n_neighbors: expected a positive int, got {n_neighbors!r}")
    ids = ids[:, :int(n_neighbors)]
    valid = ids >= 0
    total = np.zeros((ids.shape[0], P.shape[1]))
    if P.shape[0]:
        total = np.where(valid[:, :, None], P[np.where(valid, ids, 0)], 0.0).sum(axis=1)
    count = valid.sum(axis=1, keepdims=True)
    return np.where(count > 0, total / np.maximum(count, 1), 1.0 / P.shape[1])


# -- estimators -----------------------------------------------------------------------------------------------------
class _FusionBase(Params):
    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{p}={getattr(self, p)!r}' for p in self._param_names())})"

    # Epoxy has no parts; Liger overrides these.
    def _parts_candidates(self, has_dev: bool) -> Sequence[int]:
        return [1]

    def _shrinkage(self) -> float:
        return 0.0

    def _balance_pseudocount(self) -> float:
        return 10.0

    def _check_params(self) -> None:
        """Hyperparameters, checked before fit changes anything (each error names the parameter)."""
        if self.scoring not in ("accuracy", "f1"):
            raise ValueError(f"scoring: expected 'accuracy' or 'f1', got {self.scoring!r}")
        check_number(self.threshold_quantile, "threshold_quantile", 0.0, 1.0)
        offsets = self.threshold_offsets
        if not isinstance(offsets, (list, tuple, np.ndarray)) or len(offsets) == 0:
            raise TypeError(f"threshold_offsets: expected a non-empty sequence of numbers, got {offsets!r}")
        for off in offsets:
            check_number(off, "threshold_offsets")
        if self.neighbor_graph is None:
            if isinstance(self.n_neighbors, (bool, np.bool_)) or not isinstance(self.n_neighbors, (int, np.integer)) \
                    or self.n_neighbors < 1:
                raise ValueError(f"n_neighbors: expected a positive int, got {self.n_neighbors!r}")
        elif not hasattr(self.neighbor_graph, "_query"):
            raise TypeError(f"neighbor_graph: expected a NeighborGraph, got {type(self.neighbor_graph).__name__}")
        self._parts_candidates(True)
        self._shrinkage()
        self._balance_pseudocount()

    def _forget_fit(self) -> None:
        """Drop what a fit leaves behind (fitted attributes end in '_'): a failed fit must not leave a model that
        looks fitted and predicts from a mix of old and new state."""
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, name)
        for name in ("_fit_fn", "_group_index", "_class_balance"):
            self.__dict__.pop(name, None)

    # -- fitting --------------------------------------------------------------------------------------------------
    def fit(self, L: Any, X: Any, L_dev: Any = None, X_dev: Any = None, Y_dev: Any = None):
        """Build (or take) the neighbour graph and partitions from X, choose thresholds (and parts), fit.

        Dev data (all three of L_dev, X_dev, Y_dev) is used for tuning and per-part class balances only.
        Embeddings with NaN/inf rows raise a ValueError naming the argument (X or X_dev), unless
        ``neighbor_graph`` is an (unfitted) ``NeighborGraph(nan_policy="zero")``: then such rows are zero vectors,
        which never pass a positive threshold and go to the part of the centre with the lowest id.
        If fit raises, the estimator is left unfitted.
        """
        self._forget_fit()
        try:
            return self._fit(L, X, L_dev, X_dev, Y_dev)
        except BaseException:
            self._forget_fit()
            raise

    def _fit(self, L: Any, X: Any, L_dev: Any, X_dev: Any, Y_dev: Any):
        from ..embeddings import (KMeansPartition, NeighborGraph, extend_votes, nearest_neighbor_thresholds,
                                 tune_thresholds)
        from ..embeddings.extend import as_thresholds

        self._check_params()
        L = as_label_matrix(L, "L")
        require_rows(L, "L")
        n, m = L.shape
        n_threads = check_n_threads(self.n_threads)
        self._fit_fn = resolve_fit(self.label_model, n_threads)
        has_dev = L_dev is not None
        if has_dev != (X_dev is not None) or (Y_dev is not None and not has_dev):
            raise ValueError("L_dev: pass L_dev and X_dev together (and Y_dev with them)")
        if has_dev:
            L_dev = as_label_matrix(L_dev, "L_dev")
            if L_dev.shape[1] != m:
                raise ValueError(f"L_dev: expected {m} columns (the LFs of L), got {L_dev.shape[1]}")
        k = infer_cardinality(L, self.cardinality, Y_dev)
        Y_dev = None if Y_dev is None else as_labels(Y_dev, L_dev.shape[0], k, "Y_dev")
        check_votes(L, k, "L")
        if has_dev:
            check_votes(L_dev, k, "L_dev")
        spec = self.thresholds
        if isinstance(spec, str):
            if spec not in ("auto", "tune", "unsupervised"):
                raise ValueError(f"thresholds: expected 'auto', 'tune', 'unsupervised', a number or one per LF, "
                                 f"got {spec!r}")
            if spec == "tune" and Y_dev is None:
                raise ValueError("Y_dev: thresholds='tune' needs labeled dev data (L_dev, X_dev, Y_dev)")
        else:
            as_thresholds(spec, m)

        graph = self.neighbor_graph
        built_here = graph is None or not hasattr(graph, "ids_")
        if graph is None:
            graph = NeighborGraph(n_neighbors=self.n_neighbors, index=self.index, seed=self.seed).fit(X)
        elif built_here:
            graph = graph.fit(X)
        if graph.n_rows != n:
            if built_here:
                raise ValueError(f"X: has {graph.n_rows} rows but L has {n}")
            raise ValueError(f"neighbor_graph: built on {graph.n_rows} rows, L has {n}")
        dev_neighbors = graph._query(X_dev, None, "X_dev") if has_dev else None
        if has_dev and dev_neighbors[0].shape[0] != L_dev.shape[0]:
            raise ValueError(f"X_dev: has {dev_neighbors[0].shape[0]} rows but L_dev has {L_dev.shape[0]}")
        self.graph_ = graph
        self.cardinality_ = k
        self.n_lfs_ = m
        self.L_train_ = np.array(L)  # a copy: refit compares against it, so the caller's later edits must not leak in

        # thresholds: per LF (tuned or unsupervised) first, then the joint shift is searched with the parts
        default = nearest_neighbor_thresholds(L, graph, quantile=self.threshold_quantile)
        if isinstance(spec, str):
            tune = spec == "tune" or (spec == "auto" and Y_dev is not None)
            if tune:
                per_lf = tune_thresholds(L, graph, L_dev, Y_dev, dev_neighbors=dev_neighbors, cardinality=k,
                                         default=default, n_threads=n_threads)["per_lf"]
            else:
                per_lf = default
            # +inf switches the extension off: on dev, extending must beat not extending
            offsets = (0.0,) if not tune else tuple(self.threshold_offsets) + (np.inf,)
        else:
            tune = False
            per_lf = as_thresholds(spec, m)
            offsets = (0.0,)
        self.threshold_mode_ = "tuned" if tune else ("unsupervised" if isinstance(spec, str) else "given")

        candidates = list(self._parts_candidates(Y_dev is not None))
        scored = Y_dev is not None and (len(candidates) > 1 or len(offsets) > 1)
        extended = {}  # offset -> (training extension, its report, dev extension): they do not depend on parts

        def extension(off: float):
            if off not in extended:
                thr = per_lf + off
                train, report = extend_votes(L, graph, thr, cardinality=k, n_threads=n_threads, return_report=True)
                dev = extend_votes(L, graph, thr, L_query=L_dev, neighbors=dev_neighbors, cardinality=k,
                                   n_threads=n_threads) if scored else None
                extended[off] = (train, report, dev)
            return extended[off]

        search = []
        best = None
        for n_parts in candidates:
            partition = KMeansPartition(n_parts, seed=self.seed).fit(graph.X_) if n_parts > 1 else None
            dev_parts = partition.predict(dev_neighbors[2]) if (partition is not None and has_dev) else None
            for off in sorted(offsets, key=lambda o: (abs(o), o)):
                score = None
                if scored:
                    self._install(partition, per_lf + off, Y_dev, dev_parts)
                    self.L_extended_, self.extension_report_, dev_ext = extension(off)
                    self._fit_tables(n_threads)
                    P = _posterior(dev_ext, self.cpt_, self.class_balance_, k, dev_parts, n_threads)
                    score = _score(Y_dev, P, self.scoring)
                search.append({"n_parts": n_parts, "offset": float(off), "score": score})
                if best is None or (score is not None and score > best[0] + 1e-12):
                    best = (score, partition, per_lf + off, dev_parts)
        _, partition, thresholds, dev_parts = best
        self._install(partition, thresholds, Y_dev, dev_parts)
        self._refit_all(n_threads, compute_train=True)
        self.search_ = search
        self.default_thresholds_ = default
        return self

    def _install(self, partition, thresholds: np.ndarray, Y_dev: Optional[np.ndarray],
                 dev_parts: Optional[np.ndarray]) -> None:
        self.partition_ = partition
        self.n_parts_ = 1 if partition is None else partition.n_parts_
        self.thresholds_ = np.ascontiguousarray(thresholds, dtype=np.float64)
        self._group_index = None if partition is None else GroupIndex.from_groups(partition.labels_,
                                                                                    n_groups=self.n_parts_)
        k = self.cardinality_
        if Y_dev is None:
            self._class_balance = None
        elif partition is None:
            self._class_balance = (np.bincount(Y_dev, minlength=k) + 1.0) / (Y_dev.shape[0] + k)
        else:
            self._class_balance = _part_balance(Y_dev, dev_parts, self.n_parts_, k, self._balance_pseudocount())

    def _refit_all(self, n_threads: Optional[int], compute_train: bool) -> None:
        from ..embeddings import extend_votes

        self.L_extended_, self.extension_report_ = extend_votes(
            self.L_train_, self.graph_, self.thresholds_, cardinality=self.cardinality_, n_threads=n_threads,
            return_report=True)
        self._fit_tables(n_threads)
        if compute_train:
            self.train_proba_ = self._train_posterior(n_threads)

    def _fit_tables(self, n_threads: Optional[int], stats: Optional[LabelStats] = None) -> None:
        if stats is None:
            stats = partitioned_stats(self.L_extended_, self.cardinality_, group_index=self._group_index,
                                      overlap_matrix=needs_overlap(self.label_model), n_threads=n_threads)
        res = fit_partitioned(stats, self._fit_fn, class_balance=self._class_balance, shrinkage=self._shrinkage(),
                              L=self.L_extended_, group_index=self._group_index)
        self.cpt_, self.class_balance_ = res["cpt"], res["class_balance"]
        self.fallback_parts_ = res["fallbacks"]
        self.stats_ = stats

    def _train_posterior(self, n_threads: Optional[int]) -> np.ndarray:
        groups = None if self.partition_ is None else self.partition_.labels_
        return _posterior(self.L_extended_, self.cpt_, self.class_balance_, self.cardinality_, groups, n_threads)

    # -- the interactive loop -------------------------------------------------------------------------------------
    def refit(self, L: Any, columns: Optional[Sequence[int]] = None):
        """Refit on edited training votes, reusing the cached graph, partitions and thresholds.

        ``columns``: the LFs to redo. Default: the columns that differ from the votes of the last fit/refit (an
        O(n m) comparison), so editing one LF redoes one column of extension and updates the statistics of the
        rows where its extended column changed; then the per-part fits and posteriors are redone. Thresholds stay
        as fitted, except unsupervised ones, which are recomputed for the redone LFs (they depend on the votes).
        Updates ``L_extended_``, the per-part tables and ``train_proba_``; returns self.
        """
        self._check_fitted()
        if self._fit_fn is None:
            raise NotFittedError("refit: this model was loaded without its label_model callable; "
                                 "load it with label_model=...")
        L = as_label_matrix(L, "L")
        if L.shape != self.L_train_.shape:
            raise ValueError(f"L: expected shape {self.L_train_.shape} (the training votes' shape), got {L.shape}")
        check_votes(L, self.cardinality_, "L")
        n_threads = check_n_threads(self.n_threads)
        m = L.shape[1]
        if columns is None:
            differ = np.flatnonzero(L != self.L_train_)  # row-major positions: position % m is the LF
            cols = (np.unique(differ % m) if differ.size <= L.shape[0] else
                    np.flatnonzero((L != self.L_train_).any(axis=0))).tolist()
        else:
            cols = _as_columns(columns, m)
        kept = {name: getattr(self, name) for name in _REFIT_STATE if hasattr(self, name)}
        try:  # all or nothing: a refit that raises leaves the model as it was
            return self._refit(L, cols, n_threads)
        except BaseException:
            for name, value in kept.items():
                setattr(self, name, value)
            raise

    def _refit(self, L: np.ndarray, cols: list, n_threads: Optional[int]):
        from ..embeddings import nearest_neighbor_thresholds
        from ..embeddings.extend import extend_votes

        if isinstance(self.label_model, str):  # n_threads may have changed since fit
            self._fit_fn = resolve_fit(self.label_model, n_threads)
        if self.threshold_mode_ == "unsupervised" and cols:
            fresh = nearest_neighbor_thresholds(L, self.graph_, quantile=self.threshold_quantile)
            self.thresholds_ = self.thresholds_.copy()
            self.thresholds_[cols] = fresh[cols]
        self.L_train_ = np.array(L)  # a copy, as in fit
        current = self.L_extended_ if self.L_extended_.dtype == L.dtype else self.L_extended_.astype(L.dtype)
        L_ext = current.copy()
        # the statistics of a few edited LFs are updated on the rows where their extended column changed; when many
        # LFs changed one full pass is cheaper
        incremental = len(cols) <= _INCREMENTAL_COLUMNS
        stats = self.stats_
        groups = None if self.partition_ is None else self.partition_.labels_
        if cols:
            # one native call for the redone LFs (a column view when there is one: no copy)
            sub = L[:, cols[0]:cols[0] + 1] if len(cols) == 1 else L[:, cols]
            redone = extend_votes(sub, self.graph_, self.thresholds_[cols], cardinality=self.cardinality_,
                                  n_threads=n_threads)
        for at, j in enumerate(cols):
            old = L_ext[:, j].copy()
            L_ext[:, j] = redone[:, at]
            if incremental:
                stats = stats.update_column(L_ext, j, old, groups=groups, n_threads=n_threads)
        self.L_extended_ = L_ext
        self._fit_tables(n_threads, stats=stats if incremental else None)
        self.train_proba_ = self._train_posterior(n_threads)
        return self

    # -- prediction -----------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "cpt_"):
            raise NotFittedError(f"{type(self).__name__}: not fitted; call fit(L, X) first")

    def _predict_from(self, L: np.ndarray, neighbors, parts: Optional[np.ndarray],
                      n_threads: Optional[int]) -> np.ndarray:
        from ..embeddings import extend_votes

        L_ext = extend_votes(self.L_train_, self.graph_, self.thresholds_, L_query=L, neighbors=neighbors,
                             cardinality=self.cardinality_, n_threads=n_threads)
        return _posterior(L_ext, self.cpt_, self.class_balance_, self.cardinality_, parts, n_threads)

    def _split(self, L: Any, X: Any):
        """Another split's votes and neighbour lists, checked (errors name L and X)."""
        self._check_fitted()
        L = as_label_matrix(L, "L")
        if L.shape[1] != self.n_lfs_:
            raise ValueError(f"L: expected {self.n_lfs_} columns (the fitted LFs), got {L.shape[1]}")
        check_votes(L, self.cardinality_, "L")
        neighbors = self.graph_._query(X, None, "X")
        if neighbors[0].shape[0] != L.shape[0]:
            raise ValueError(f"X: has {neighbors[0].shape[0]} rows but L has {L.shape[0]}")
        return L, neighbors

    def extend(self, L: Any, X: Any) -> np.ndarray:
        """The extended votes of another split (rows of L with embeddings X)."""
        from ..embeddings import extend_votes

        L, neighbors = self._split(L, X)
        return extend_votes(self.L_train_, self.graph_, self.thresholds_, L_query=L, neighbors=neighbors,
                            cardinality=self.cardinality_, n_threads=check_n_threads(self.n_threads))

    def predict_proba(self, L: Any, X: Any) -> np.ndarray:
        """p(y | extended votes, part) for the rows of another split: (n, k), rows sum to 1.

        For the training rows themselves use ``train_proba_`` (the graph excludes each row from its own list).
        """
        L, neighbors = self._split(L, X)
        parts = None if self.partition_ is None else self.partition_.predict(neighbors[2])
        return self._predict_from(L, neighbors, parts, check_n_threads(self.n_threads))

    def predict(self, L: Any, X: Any) -> np.ndarray:
        return self.predict_proba(L, X).argmax(axis=1)

    # -- persistence ----------------------------------------------------------------------------------------------
    def save(self, path: Union[str, Path]) -> None:
        """Write ``path`` (.npz, no pickle): parameters as JSON, thresholds, partitions, tables, training votes,
        and the neighbour graph (saved beside it as ``<path>.graph.npz``). A callable label_model is not saved
        (its name is recorded)."""
        self._check_fitted()
        path = Path(path)
        params = {p: json_value(v) for p, v in self.get_params().items() if p != "neighbor_graph"}
        if callable(params.get("label_model")):
            params["label_model"] = getattr(self.label_model, "__name__", "callable")
        meta = {**version_stamp(FUSION_FORMAT_VERSION), "class": type(self).__name__, "params": params,
                "cardinality_": self.cardinality_, "threshold_mode_": self.threshold_mode_}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), "L_train": self.L_train_,
                  "L_extended": self.L_extended_, "thresholds": self.thresholds_, "cpt": self.cpt_,
                  "class_balance": self.class_balance_}
        if self._class_balance is not None:
            arrays["balance_input"] = self._class_balance
        if self.partition_ is not None:
            arrays["centers"] = self.partition_.centers_
            arrays["part_labels"] = self.partition_.labels_
        np.savez(path, **arrays)
        self.graph_.save(_graph_path(path))

    @classmethod
    def load(cls, path: Union[str, Path], label_model: Optional[FitFunction] = None):
        """Read a model written by :meth:`save`. Pass ``label_model`` to refit when a callable was used."""
        from ..embeddings import KMeansPartition, NeighborGraph

        path = Path(path)
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(bytes(f["meta"]).decode())
            check_format_version(meta, FUSION_FORMAT_VERSION, path, "fusion model")
            kind = {"Epoxy": Epoxy, "Liger": Liger}[meta["class"]]
            if cls is not _FusionBase and kind is not cls:
                raise ValueError(f"path: holds a {meta['class']} model, not a {cls.__name__}")
            params = dict(meta["params"])
            if label_model is not None:
                params["label_model"] = label_model
            model = kind(**params)
            model.cardinality_ = int(meta["cardinality_"])
            model.threshold_mode_ = meta["threshold_mode_"]
            model.L_train_ = f["L_train"]
            model.L_extended_ = f["L_extended"]
            model.n_lfs_ = model.L_train_.shape[1]
            model.thresholds_ = f["thresholds"]
            model.cpt_ = f["cpt"]
            model.class_balance_ = f["class_balance"]
            model.partition_ = None
            balance_input = f["balance_input"] if "balance_input" in f else None
            if "centers" in f:
                part = KMeansPartition(model.cpt_.shape[0], seed=model.seed)
                part._set(np.asarray(f["part_labels"], dtype=np.int64), f["centers"])
                model.partition_ = part
        model.n_parts_ = model.cpt_.shape[0]
        model._group_index = None if model.partition_ is None else GroupIndex.from_groups(
            model.partition_.labels_, n_groups=model.n_parts_)
        model._class_balance = balance_input
        model.graph_ = NeighborGraph.load(_graph_path(path))
        model.train_proba_ = model._train_posterior(check_n_threads(model.n_threads))
        try:
            model._fit_fn = resolve_fit(model.label_model)
        except (ValueError, TypeError, ImportError):
            model._fit_fn = None  # predictions work; refit needs label_model=...
        model.stats_ = partitioned_stats(model.L_extended_, model.cardinality_, group_index=model._group_index,
                                         overlap_matrix=needs_overlap(model.label_model))
        return model


_REFIT_STATE = ("L_train_", "L_extended_", "thresholds_", "cpt_", "class_balance_", "fallback_parts_", "stats_",
                "train_proba_", "_fit_fn")


def _as_columns(columns: Any, m: int) -> list:
    """LF indices (ints, numpy ints) in 0..m-1, sorted and deduplicated."""
    if isinstance(columns, (str, bytes)) or not hasattr(columns, "__iter__"):
        raise TypeError(f"columns: expected a sequence of LF indices, got {columns!r}")
    cols = list(columns)
    if any(isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)) for c in cols):
        raise TypeError(f"columns: expected integer LF indices, got {cols!r}")
    if any(not 0 <= c < m for c in cols):
        raise ValueError(f"columns: expected LF indices in 0..{m - 1}, got {cols!r}")
    return sorted({int(c) for c in cols})


def _graph_path(path: Path) -> Path:
    return path.with_name(path.name + ".graph.npz")


_COMMON_DOC = """
    Parameters:
        label_model: "triplet", "covariance", "dawid_skene" (the fit functions of labelfuse.models) or a callable
            ``fit(stats: LabelStats, class_balance: ndarray | None) -> FitResult``.
        thresholds: "auto" (tuned on dev when Y_dev is given, else the unsupervised default), "tune",
            "unsupervised", one cosine radius for all LFs, or one per LF.
        threshold_quantile: quantile of the unsupervised default (see labelfuse.embeddings.thresholds).
        threshold_offsets: joint shifts tried on dev after the per-LF search (plus +inf, no extension at all, so
            the extension is kept only where it helps on dev; ties go to the smallest shift).
        n_neighbors, index: the neighbour graph built in fit (ignored when ``neighbor_graph`` is given).
        neighbor_graph: a NeighborGraph to use (fitted on these training rows, or unfitted: fitted on X).
        cardinality: number of classes (inferred when None).
        scoring: dev metric of the searches: "accuracy" or "f1" (binary: F1 of class 1; else macro F1).
        seed, n_threads: reproducibility; native threads (None = all cores).
"""


class Epoxy(_FusionBase):
    """Extend every LF to abstaining rows near its voters, then fit one label model on the extended votes."""

    __doc__ = (__doc__ or "") + _COMMON_DOC

    def __init__(self, label_model: Union[str, FitFunction] = "triplet", thresholds: Any = "auto", *,
                 threshold_quantile: float = 0.9, threshold_offsets: Sequence[float] = (-0.1, -0.05, 0.0, 0.05, 0.1),
                 n_neighbors: int = 64, index: str = "flat", neighbor_graph: Any = None,
                 cardinality: Optional[int] = None, scoring: str = "accuracy", seed: int = 0,
                 n_threads: Optional[int] = None):
        self.label_model = label_model
        self.thresholds = thresholds
        self.threshold_quantile = threshold_quantile
        self.threshold_offsets = threshold_offsets
        self.n_neighbors = n_neighbors
        self.index = index
        self.neighbor_graph = neighbor_graph
        self.cardinality = cardinality
        self.scoring = scoring
        self.seed = seed
        self.n_threads = n_threads


class Liger(_FusionBase):
    """Epoxy's extension plus one label model per k-means part of the embedding space.

    Extra parameters:
        n_parts: parts of the training embeddings, or "auto" (searched over ``parts_grid`` on dev; 4 without dev).
        parts_grid: the part counts tried by "auto".
        shrinkage: pseudo-count rows blending each part's tables with the global fit (module docstring).
        balance_pseudocount: dev rows of pseudo-count in the per-part class balances.
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    def __init__(self, label_model: Union[str, FitFunction] = "triplet", thresholds: Any = "auto", *,
                 n_parts: Union[int, str] = "auto", parts_grid: Sequence[int] = (1, 2, 3, 4, 6, 8),
                 shrinkage: float = 100.0, balance_pseudocount: float = 10.0, threshold_quantile: float = 0.9,
                 threshold_offsets: Sequence[float] = (-0.1, -0.05, 0.0, 0.05, 0.1), n_neighbors: int = 64,
                 index: str = "flat", neighbor_graph: Any = None, cardinality: Optional[int] = None,
                 scoring: str = "accuracy", seed: int = 0, n_threads: Optional[int] = None):
        Epoxy.__init__(self, label_model, thresholds, threshold_quantile=threshold_quantile,
                       threshold_offsets=threshold_offsets, n_neighbors=n_neighbors, index=index,
                       neighbor_graph=neighbor_graph, cardinality=cardinality, scoring=scoring, seed=seed,
                       n_threads=n_threads)
        self.n_parts = n_parts
        self.parts_grid = parts_grid
        self.shrinkage = shrinkage
        self.balance_pseudocount = balance_pseudocount

    def _parts_candidates(self, has_dev: bool) -> Sequence[int]:
        if self.n_parts == "auto":
            return list(self.parts_grid) if has_dev else [4]
        if isinstance(self.n_parts, bool) or not isinstance(self.n_parts, (int, np.integer)) or self.n_parts < 1:
            raise ValueError(f"n_parts: expected a positive int or 'auto', got {self.n_parts!r}")
        return [int(self.n_parts)]

    def _check_params(self) -> None:
        super()._check_params()
        grid = self.parts_grid
        if not isinstance(grid, (list, tuple, np.ndarray)) or len(grid) == 0 or any(
                isinstance(g, (bool, np.bool_)) or not isinstance(g, (int, np.integer)) or g < 1 for g in grid):
            raise ValueError(f"parts_grid: expected a non-empty sequence of positive ints, got {grid!r}")

    def _shrinkage(self) -> float:
        return check_number(self.shrinkage, "shrinkage", 0.0)  # NaN silently meant "global tables only"

    def _balance_pseudocount(self) -> float:
        return check_number(self.balance_pseudocount, "balance_pseudocount", 0.0)
