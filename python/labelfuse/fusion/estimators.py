"""Embedding fusion: Epoxy (extend LF votes to nearby rows) and Liger (plus one label model per embedding part).

Two kinds of work are kept apart: the embedding-dependent part (neighbour graph, partitions, dev neighbours) is
computed once in ``fit`` and cached; the LF-dependent part (extension, statistics, per-part fits, posteriors) is
redone by ``refit(L)``, which is what an interactive edit-an-LF loop calls.

The per-part fitting they share is in :mod:`labelfuse.fusion.partitioned`.
"""
from __future__ import annotations

import collections.abc
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .._base import (DEPRECATED, N_THREADS, RANDOM_STATE, Estimator, FittedArray, FittedInt, InstanceOf, Interval,
                     Options, SequenceOf, json_value)
from .._validation import (NotFittedError, as_label_matrix, as_labels, check_count, check_n_threads, check_votes,
                          check_label_convention, infer_cardinality, require_rows)
from ..embeddings.graph import NeighborGraph, json_params
from ..models.label_model import DEFAULT_ABSTENTIONS
from ..stats import GroupIndex, LabelStats
from .partitioned import (FitFunction, _part_balance, _posterior, _score, fit_partitioned, needs_overlap,
                          partitioned_stats, resolve_fit)

__all__ = ["Epoxy", "Liger"]

_INCREMENTAL_COLUMNS = 2  # refit: up to this many edited LFs update the statistics row-wise


# -- estimators -----------------------------------------------------------------------------------------------------
_NUMBER = Interval(float, None, None)  # any real number but NaN (inf allowed)


class _FusionBase(Estimator):
    """What Epoxy and Liger share: the constraints of their common parameters, fit / refit / predict, saving."""

    _parameter_constraints = {
        # a method name is resolved (and an unknown one refused) at fit
        "label_model": [InstanceOf(str, collections.abc.Callable, description="a method name or a callable")],
        "thresholds": [Options("auto", "tune", "unsupervised"), _NUMBER, SequenceOf(_NUMBER, min_len=1)],
        "threshold_quantile": [Interval(float, 0.0, 1.0)],
        "threshold_offsets": [SequenceOf(_NUMBER, min_len=1)],
        "n_neighbors": [Interval(int, 1, None)],
        "index": [Options("flat", "hnsw", "ivf")],
        "neighbor_graph": [None, InstanceOf(NeighborGraph)],
        "cardinality": [None, Interval(int, 2, None)],
        "scoring": [Options("accuracy", "f1")],
        "random_state": [RANDOM_STATE],
        "n_threads": [N_THREADS],
    }
    _deprecated_aliases = {"seed": "random_state"}

    # Epoxy has no parts; Liger overrides these.
    def _parts_candidates(self, has_dev: bool) -> Sequence[int]:
        return [1]

    def _shrinkage(self) -> float:
        return 0.0

    def _balance_pseudocount(self) -> float:
        return 10.0

    # -- fitting --------------------------------------------------------------------------------------------------
    def fit(self, L: Any, X: Any, L_dev: Any = None, X_dev: Any = None, Y_dev: Any = None):
        """Build (or take) the neighbour graph and partitions from X, choose thresholds (and parts), fit.

        Dev data (all three of L_dev, X_dev, Y_dev) is used for tuning and per-part class balances only.
        Embeddings with NaN/inf rows raise a ValueError naming the argument (X or X_dev), unless
        ``neighbor_graph`` is an (unfitted) ``NeighborGraph(nan_policy="zero")``: then such rows are zero vectors,
        which never pass a positive threshold and go to the part of the centre with the lowest id.
        If fit raises, the estimator is left unfitted.
        """
        return self._fit(L, X, L_dev, X_dev, Y_dev)

    def _fit(self, L: Any, X: Any, L_dev: Any, X_dev: Any, Y_dev: Any):
        from ..embeddings import nearest_neighbor_thresholds, tune_thresholds
        from ..embeddings.extend import as_thresholds, extension_sweep

        L = as_label_matrix(L, "L")
        require_rows(L, "L")
        check_label_convention(L)  # (the user's votes: warned when they look written in another convention)
        n, m = L.shape
        n_threads = check_n_threads(self.n_threads)
        self._fit_fn = resolve_fit(self.label_model, n_threads)
        has_dev = L_dev is not None
        if has_dev != (X_dev is not None) or (Y_dev is not None and not has_dev):
            raise ValueError("L_dev: pass L_dev and X_dev together (and Y_dev with them)")
        if has_dev and Y_dev is None:  # dev rows without labels would be silently ignored
            raise ValueError("Y_dev: L_dev and X_dev were given without Y_dev; dev data is used only with its "
                             "labels (pass Y_dev, or leave out L_dev and X_dev for the unsupervised fit)")
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
            graph = NeighborGraph(n_neighbors=self.n_neighbors, index=self.index,
                                  random_state=self._param("random_state")).fit(X)
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
                per_lf = unsupervised_thresholds(L, graph, self._fit_fn, k, default, n_threads)
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
        sweeps = []  # one kernel pass per split at the lowest thresholds of the grid answers every offset

        def extension(off: float):
            if off not in extended:
                if not sweeps:
                    floor = np.min([per_lf + o for o in offsets], axis=0)
                    sweeps.append(extension_sweep(L, graph, floor, cardinality=k, n_threads=n_threads))
                    sweeps.append(extension_sweep(L, graph, floor, L_query=L_dev, neighbors=dev_neighbors,
                                                  cardinality=k, n_threads=n_threads))
                thr = per_lf + off
                train, report = sweeps[0].at(thr, return_report=True)
                extended[off] = (train, report, sweeps[1].at(thr))
            return extended[off]

        search = []
        best = None
        for n_parts in candidates:
            partition = self._partition(graph, n_parts) if n_parts > 1 else None
            dev_parts = partition.predict(dev_neighbors[2]) if (partition is not None and has_dev) else None
            for off in sorted(offsets, key=lambda o: (abs(o), o)):
                score = None
                if scored:
                    self._install(partition, per_lf + off, Y_dev, dev_parts)
                    self.L_extended_, self.extension_report_, dev_ext = extension(off)
                    self._fit_tables(n_threads)
                    P = _posterior(dev_ext, self._posterior_cpt(), self.class_balance_, k, dev_parts, n_threads)
                    score = _score(Y_dev, P, self.scoring)
                search.append({"n_parts": n_parts, "offset": float(off), "score": score})
                if best is None or (score is not None and score > best[0] + 1e-12):
                    best = (score, partition, per_lf + off, dev_parts)
        _, partition, thresholds, dev_parts = best
        self._install(partition, thresholds, Y_dev, dev_parts)
        self._refit_all(n_threads, compute_train=True)
        self.search_ = search
        self.default_thresholds_ = default
        self._emit_diagnostics()
        return self

    def _partition(self, graph: NeighborGraph, n_parts: int):
        """The k-means partition of the graph's embeddings into ``n_parts``, computed once per part count: it
        depends only on the embeddings and the seed, so later fits on the same embeddings (a refit with new dev
        data, a grid over other parameters) reuse it. Cached for an int seed only (a Generator draws anew)."""
        from ..embeddings import KMeansPartition

        seed = self._param("random_state")
        cacheable = isinstance(seed, (int, np.integer))
        if cacheable:
            key = (int(n_parts), int(seed), _fingerprint(graph.X_))
            cache = self.__dict__.setdefault("_partition_cache", {})
            if key in cache:
                return cache[key]
        partition = KMeansPartition(n_parts, random_state=seed).fit(graph.X_)
        if cacheable:
            cache[key] = partition
        return partition

    def _emit_diagnostics(self) -> None:
        from ..diagnostics import emit

        name = self.label_model if isinstance(self.label_model, str) else getattr(self.label_model, "__name__", "")
        emit(getattr(self, "_diagnostics", ()), f"{type(self).__name__}(label_model={name!r})", stacklevel=4)

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
        # what the last label-model fit recorded; emitted once the fit (or refit) is complete
        self._diagnostics = list(res["global"].info.get("warnings", [])) + (
            [f"parts {res['fallbacks']}: their label-model fit failed; they use the global fit"]
            if res["fallbacks"] else [])

    def _posterior_cpt(self) -> np.ndarray:
        """The tables the posterior uses: as LabelModel's default ``abstentions``, a named moment method's
        P(abstain | y) (identified only through co-abstentions, unreliable for keyword LFs) is left out."""
        if not (isinstance(self.label_model, str) and DEFAULT_ABSTENTIONS.get(self.label_model) == "ignore"):
            return self.cpt_
        cpt = self.cpt_.copy()
        cpt[..., 0, :] = 1.0  # log 1 = 0: the same factor for every class
        return cpt

    def _train_posterior(self, n_threads: Optional[int]) -> np.ndarray:
        groups = None if self.partition_ is None else self.partition_.labels_
        return _posterior(self.L_extended_, self._posterior_cpt(), self.class_balance_, self.cardinality_, groups,
                          n_threads)

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
        # All or nothing (the base restores the attributes on failure): nothing below changes a fitted array in
        # place; every new array is built and then assigned.
        return self._refit(L, cols, n_threads)

    def _refit(self, L: np.ndarray, cols: list, n_threads: Optional[int]):
        from ..embeddings import nearest_neighbor_thresholds
        from ..embeddings.extend import extend_votes

        if isinstance(self.label_model, str):  # n_threads may have changed since fit
            self._fit_fn = resolve_fit(self.label_model, n_threads)
        if self.threshold_mode_ == "unsupervised" and cols:
            fresh = unsupervised_thresholds(L, self.graph_, self._fit_fn, self.cardinality_,
                                            nearest_neighbor_thresholds(L, self.graph_,
                                                                        quantile=self.threshold_quantile),
                                            n_threads)
            # an LF's agreement threshold depends on the label model of all LFs: any LF whose threshold moved is
            # redone too, so a refit gives a fresh fit's result
            moved = np.flatnonzero(~np.isclose(fresh, self.thresholds_, rtol=0, atol=0) &
                                   ~(np.isinf(fresh) & np.isinf(self.thresholds_)))
            cols = sorted(set(cols) | {int(j) for j in moved})
            self.thresholds_ = fresh
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
        self._emit_diagnostics()
        return self

    # -- prediction -----------------------------------------------------------------------------------------------
    def _predict_from(self, L: np.ndarray, neighbors, parts: Optional[np.ndarray],
                      n_threads: Optional[int]) -> np.ndarray:
        from ..embeddings import extend_votes

        L_ext = extend_votes(self.L_train_, self.graph_, self.thresholds_, L_query=L, neighbors=neighbors,
                             cardinality=self.cardinality_, n_threads=n_threads)
        return _posterior(L_ext, self._posterior_cpt(), self.class_balance_, self.cardinality_, parts, n_threads)

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
    # Saved: the parameters (a callable label_model by its name, neighbor_graph as None: the fitted graph is saved
    # as the nested estimator "graph", the k-means partition as "partition"), the training and extended votes,
    # thresholds, tables and dev class balances; load recomputes the statistics and train_proba_.
    _fitted_values = ("cardinality_", "threshold_mode_", "n_lfs_", "n_parts_")
    _fitted_arrays = ("L_train_", "L_extended_", "thresholds_", "cpt_", "class_balance_")
    _fitted_checks = {"cardinality_": FittedInt(2), "n_lfs_": FittedInt(1), "n_parts_": FittedInt(0, optional=True),
                      "L_train_": FittedArray("iu", (None, "n_lfs_"), low=-1),
                      "L_extended_": FittedArray("iu", (None, "n_lfs_"), low=-1),
                      "thresholds_": FittedArray("f", finite=False),  # inf: an LF never extended
                      "cpt_": FittedArray("f", low=0, high=1), "class_balance_": FittedArray("f", low=0, high=1)}

    def _state_params(self) -> Dict[str, Any]:
        label_model = self.label_model
        if callable(label_model):
            label_model = getattr(label_model, "__name__", None) or type(label_model).__name__
        return json_params(self, label_model=label_model, neighbor_graph=None)

    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        from .._io import nested_state

        values, arrays = super()._get_state()
        for name in ("fallback_parts_", "search_"):
            if hasattr(self, name):
                values[name] = json_value(getattr(self, name), name)
        if self._class_balance is not None:
            arrays["balance_input"] = np.asarray(self._class_balance, dtype=np.float64)
        if getattr(self, "default_thresholds_", None) is not None:
            arrays["default_thresholds_"] = np.asarray(self.default_thresholds_, dtype=np.float64)
        return nested_state(values, graph=self.graph_, partition=self.partition_), arrays

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        from ..embeddings import KMeansPartition
        from .._io import FileFormatError, restore_nested

        values = dict(values)
        arrays = dict(arrays)
        if "L_train_" in arrays:  # derived counts: files of an earlier format do not hold them
            values.setdefault("n_lfs_", int(np.asarray(arrays["L_train_"]).shape[1]))
        if "cpt_" in arrays:
            values.setdefault("n_parts_", int(np.asarray(arrays["cpt_"]).shape[0]))
        super()._set_state(values, arrays)
        graph = restore_nested(values, "graph")
        if not isinstance(graph, NeighborGraph):
            raise FileFormatError(f"the saved {type(self).__name__} lacks its neighbour graph")
        partition = restore_nested(values, "partition")
        if partition is not None and not isinstance(partition, KMeansPartition):
            raise FileFormatError(f"the saved {type(self).__name__} holds a {type(partition).__name__} as its "
                                  "partition")
        self.graph_ = graph
        self.partition_ = partition
        self.cardinality_ = int(self.cardinality_)
        self.n_lfs_ = int(self.n_lfs_)
        self.n_parts_ = int(self.n_parts_)
        for name in ("fallback_parts_", "search_"):
            if name in values:
                setattr(self, name, values[name])
        if "default_thresholds_" in arrays:
            self.default_thresholds_ = np.asarray(arrays["default_thresholds_"], dtype=np.float64)
        self.thresholds_ = np.ascontiguousarray(self.thresholds_, dtype=np.float64)
        balance = arrays.get("balance_input")
        self._class_balance = None if balance is None else np.asarray(balance, dtype=np.float64)

    def _after_load(self) -> None:
        self._group_index = None if self.partition_ is None else GroupIndex.from_groups(
            self.partition_.labels_, n_groups=self.n_parts_)
        self.train_proba_ = self._train_posterior(check_n_threads(self.n_threads))
        try:
            self._fit_fn = resolve_fit(self.label_model)
        except (ValueError, TypeError, ImportError):
            self._fit_fn = None  # predictions work; refit needs load(path, label_model=...)
        # a callable saved by its name is unknown here: its statistics are counted without the overlap matrix, and
        # refit (the only user of stats_ besides inspection) needs the callable given back anyway
        overlap = self._fit_fn is not None and needs_overlap(self.label_model)
        self.stats_ = partitioned_stats(self.L_extended_, self.cardinality_, group_index=self._group_index,
                                        overlap_matrix=overlap)

    @classmethod
    def _from_params(cls, params: Dict[str, Any], label_model: Optional[FitFunction] = None, **options: Any):
        """``label_model``: the callable to use instead of the saved name (a callable label model is saved by its
        name only; predictions work without it, refit needs it)."""
        if label_model is not None:
            params["label_model"] = label_model
        for name in ("threshold_offsets", "parts_grid"):  # tuples by default; JSON gave them back as lists
            if isinstance(params.get(name), list):
                params[name] = tuple(params[name])
        return super()._from_params(params, **options)

    @classmethod
    def load(cls, path: Any, label_model: Optional[FitFunction] = None):
        """Read a model written by :meth:`save` (or an earlier release's .npz beside its ``.graph.npz``). Pass
        ``label_model`` when a callable was used: refit needs it (predictions do not). A file of another class is a
        TypeError naming both classes."""
        return super().load(path, **({} if label_model is None else {"label_model": label_model}))


def unsupervised_thresholds(L: np.ndarray, graph: NeighborGraph, fit_fn: FitFunction, k: int, default: np.ndarray,
                            n_threads: Optional[int]) -> np.ndarray:
    """Per-LF thresholds without dev labels: the label model fitted on the unextended votes is the yardstick
    (:func:`labelfuse.embeddings.agreement_thresholds`); an LF without enough evidence keeps ``default``."""
    from .. import _core
    from ..embeddings import agreement_thresholds

    stats = partitioned_stats(L, k, overlap_matrix=needs_overlap(fit_fn), n_threads=n_threads)
    res = fit_partitioned(stats, fit_fn, L=L)
    log_cpt = np.ascontiguousarray(np.log(np.clip(res["cpt"][0], 1e-12, 1.0)))
    log_cpt[:, 0, :] = 0.0  # abstaining says nothing about y here: the yardstick must not depend on LF j
    log_prior = np.ascontiguousarray(np.log(np.clip(res["class_balance"][0], 1e-12, 1.0)))
    Lc = np.ascontiguousarray(L)

    def proba_without(j: int) -> np.ndarray:
        L_j = Lc.copy()
        L_j[:, j] = -1
        return _core.posterior(L_j, log_cpt, log_prior, k, n_threads=n_threads)

    reference = _core.posterior(Lc, log_cpt, log_prior, k, n_threads=n_threads).argmax(axis=1)
    return agreement_thresholds(L, graph, reference, proba_without, cardinality=k, default=default,
                                n_threads=n_threads)


def _fingerprint(X: np.ndarray) -> Tuple[Tuple[int, ...], str]:
    """Shape and digest of the embeddings: the k-means cache key (equal embeddings, equal partitions)."""
    import hashlib

    return X.shape, hashlib.blake2b(np.ascontiguousarray(X).data, digest_size=16).hexdigest()


def _as_columns(columns: Any, m: int) -> list:
    """LF indices (ints, numpy ints) in 0..m-1, sorted and deduplicated."""
    if isinstance(columns, (str, bytes)) or not hasattr(columns, "__iter__"):
        raise TypeError(f"columns: expected a sequence of LF indices, got {columns!r}")
    cols = list(columns)
    for c in cols:
        check_count(c, "columns", 0)
    if any(c >= m for c in cols):
        raise ValueError(f"columns: expected LF indices in 0..{m - 1}, got {cols!r}")
    return sorted({int(c) for c in cols})


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
        random_state, n_threads: reproducibility (the IVF index and k-means seed: an int, None or a numpy
            Generator); native threads (None = all cores).
        seed: deprecated alias of ``random_state``.
"""


class Epoxy(_FusionBase):
    """Extend every LF to abstaining rows near its voters, then fit one label model on the extended votes.

    Example::

        from labelfuse.fusion import Epoxy
        epoxy = Epoxy("triplet").fit(L_train, X_train, L_dev, X_dev, Y_dev)
        epoxy.predict_proba(L_test, X_test)
        epoxy.save("epoxy.lf")             # one file, neighbour graph included; Epoxy.load("epoxy.lf")
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    def __init__(self, label_model: Union[str, FitFunction] = "triplet", thresholds: Any = "auto", *,
                 threshold_quantile: float = 0.9, threshold_offsets: Sequence[float] = (-0.1, -0.05, 0.0, 0.05, 0.1),
                 n_neighbors: int = 64, index: str = "flat", neighbor_graph: Any = None,
                 cardinality: Optional[int] = None, scoring: str = "accuracy", random_state: Any = 0,
                 n_threads: Optional[int] = None, seed: Any = DEPRECATED):
        self.label_model = label_model
        self.thresholds = thresholds
        self.threshold_quantile = threshold_quantile
        self.threshold_offsets = threshold_offsets
        self.n_neighbors = n_neighbors
        self.index = index
        self.neighbor_graph = neighbor_graph
        self.cardinality = cardinality
        self.scoring = scoring
        self.random_state = random_state
        self.n_threads = n_threads
        self.seed = seed


class Liger(_FusionBase):
    """Epoxy's extension plus one label model per k-means part of the embedding space.

    Example::

        from labelfuse.fusion import Liger
        liger = Liger("triplet", n_parts="auto").fit(L_train, X_train, L_dev, X_dev, Y_dev)
        liger.refit(L_edited)              # after editing an LF: reuses the graph and the parts
        liger.save("liger.lf")             # one file, graph and parts included; Liger.load("liger.lf")

    Extra parameters:
        n_parts: parts of the training embeddings, or "auto" (searched over ``parts_grid`` on dev; 1 without dev
            labels, where no part count can be checked).
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
                 scoring: str = "accuracy", random_state: Any = 0, n_threads: Optional[int] = None,
                 seed: Any = DEPRECATED):
        Epoxy.__init__(self, label_model, thresholds, threshold_quantile=threshold_quantile,
                       threshold_offsets=threshold_offsets, n_neighbors=n_neighbors, index=index,
                       neighbor_graph=neighbor_graph, cardinality=cardinality, scoring=scoring,
                       random_state=random_state, n_threads=n_threads, seed=seed)
        self.n_parts = n_parts
        self.parts_grid = parts_grid
        self.shrinkage = shrinkage
        self.balance_pseudocount = balance_pseudocount

    _parameter_constraints = {
        "n_parts": [Options("auto"), Interval(int, 1, None)],
        "parts_grid": [SequenceOf(Interval(int, 1, None), min_len=1)],
        "shrinkage": [Interval(float, 0.0, None)],  # NaN silently meant "global tables only"
        "balance_pseudocount": [Interval(float, 0.0, None)],
    }

    def _parts_candidates(self, has_dev: bool) -> Sequence[int]:
        if isinstance(self.n_parts, str):  # "auto"
            # without dev labels a part count cannot be checked, and per-part tables and balances fitted without
            # them fell below the single label model (wrench_youtube .86 -> .82 with 4 parts): one part
            return [int(g) for g in self.parts_grid] if has_dev else [1]
        return [int(self.n_parts)]

    def _shrinkage(self) -> float:
        return float(self.shrinkage)

    def _balance_pseudocount(self) -> float:
        return float(self.balance_pseudocount)
