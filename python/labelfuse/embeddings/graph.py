"""Top-K cosine neighbour graph over training embeddings (faiss), computed once and cached.

The graph is the embedding-dependent half of Epoxy/Liger: it does not change when an LF is edited, so the
extension can be redone from it in milliseconds.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ._checks import NAN_POLICIES, as_unit_embeddings
from .._base import DEPRECATED, RANDOM_STATE, Estimator, Interval, Options, json_value
from .._validation import check_count

__all__ = ["NeighborGraph"]

_INDEX_KINDS = ("flat", "hnsw", "ivf")


def _faiss():
    try:
        import faiss  # noqa: WPS433 (optional dependency, imported on use)
    except ImportError as exc:  # pragma: no cover - exercised only without faiss
        raise ImportError("NeighborGraph needs faiss: pip install faiss-cpu (or labelfuse[embed])") from exc
    return faiss


def int_seed(random_state: Any) -> int:
    """A faiss seed (a C int) from a ``random_state``: an int as given (folded into 0..2**31-1), a numpy
    Generator / SeedSequence / BitGenerator drawn from, None a fresh random seed."""
    if random_state is None:
        random_state = np.random.default_rng()
    if isinstance(random_state, np.random.SeedSequence):
        return int(random_state.generate_state(1)[0] % (2**31))
    if isinstance(random_state, np.random.BitGenerator):
        random_state = np.random.Generator(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    return int(random_state) % (2**31)


def saved_random_state(random_state: Any) -> Any:
    """``random_state`` as a saved parameter: an int or None as is; a Generator (which JSON cannot hold, and
    which only mattered for the fit that was saved) as None."""
    return json_value(random_state, "random_state") if random_state is None or isinstance(
        random_state, (int, np.integer)) else None


class NeighborGraph(Estimator):
    """Top-K cosine neighbours of every training row (itself excluded), plus queries from any other split.

    Parameters:
        n_neighbors: K, neighbours kept per row (clamped to the database size).
        index: "flat" (exact inner product on unit vectors; the default), "hnsw" or "ivf" (approximate, for
            large n). The extension is exact with "flat"; with the approximate indexes it is exact only where a
            row's neighbour list is exact.
        hnsw_m (>= 2), hnsw_ef_construction, hnsw_ef_search: faiss HNSW parameters.
        ivf_n_lists (None: about 4 sqrt(n)), ivf_n_probe: faiss IVF parameters.
        block_size: query rows searched per faiss call (bounds the memory of the results in flight).
        nan_policy: "raise" (ValueError naming the argument) or "zero" (non-finite rows become zero vectors,
            similarity 0 to everything).
        random_state: seed of the IVF training (an int, None or a numpy Generator).
        seed: deprecated alias of ``random_state``.

    Fitted attributes: ``X_`` (n, d) unit float32 database, ``ids_`` (n, K) int64 and ``sims_`` (n, K) float32
    neighbours of every training row sorted by decreasing similarity, never the row itself (-1 / -inf pad a
    list that an approximate index returned short), ``index_`` the faiss index.

    Example::

        from labelfuse.embeddings import NeighborGraph
        graph = NeighborGraph(n_neighbors=16).fit(X_train)
        ids, sims, Xq = graph.query(X_test)
        graph.save("graph.lf")             # one file; NeighborGraph.load("graph.lf") reads it back
    """

    # faiss does not check its settings: hnsw_m < 2 divides by log(1) and crashes the interpreter (SIGSEGV /
    # abort), a negative list count reaches a C++ size_t
    _parameter_constraints = {
        "n_neighbors": [Interval(int, 1, None)],
        "index": [Options(*_INDEX_KINDS)],
        "hnsw_m": [Interval(int, 2, None)],
        "hnsw_ef_construction": [Interval(int, 1, None)],
        "hnsw_ef_search": [Interval(int, 1, None)],
        "ivf_n_lists": [Interval(int, 1, None), None],
        "ivf_n_probe": [Interval(int, 1, None)],
        "block_size": [Interval(int, 1, None)],
        "nan_policy": [Options(*NAN_POLICIES)],
        "random_state": [RANDOM_STATE],
    }
    _deprecated_aliases = {"seed": "random_state"}
    _fitted_values = ("n_neighbors_",)
    _fitted_arrays = ("X_", "ids_", "sims_")

    def __init__(
        self,
        n_neighbors: int = 64,
        index: str = "flat",
        *,
        hnsw_m: int = 32,
        hnsw_ef_construction: int = 80,
        hnsw_ef_search: int = 128,
        ivf_n_lists: Optional[int] = None,
        ivf_n_probe: int = 16,
        block_size: int = 16384,
        nan_policy: str = "raise",
        random_state: Any = 0,
        seed: Any = DEPRECATED,
    ):
        self.n_neighbors = n_neighbors
        self.index = index
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.hnsw_ef_search = hnsw_ef_search
        self.ivf_n_lists = ivf_n_lists
        self.ivf_n_probe = ivf_n_probe
        self.block_size = block_size
        self.nan_policy = nan_policy
        self.random_state = random_state
        self.seed = seed

    # -- building -----------------------------------------------------------------------------------------------
    def fit(self, X: Any) -> "NeighborGraph":
        """Index the training embeddings X (n, d) and compute every row's K nearest other rows."""
        Xu = as_unit_embeddings(X, "X", self.nan_policy)
        if Xu.shape[0] == 0:
            raise ValueError("X: has no rows")
        self.X_ = Xu
        self.index_ = self._build_index(Xu)
        self.n_neighbors_ = int(min(self.n_neighbors, max(Xu.shape[0] - 1, 0)))
        self.ids_, self.sims_ = self._search(Xu, self.n_neighbors_, exclude_self=True)
        return self

    def _build_index(self, Xu: np.ndarray):
        faiss = _faiss()
        n, d = Xu.shape
        if self.index == "flat":
            index = faiss.IndexFlatIP(d)
        elif self.index == "hnsw":
            index = faiss.IndexHNSWFlat(d, int(self.hnsw_m), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(self.hnsw_ef_construction)
            index.hnsw.efSearch = int(self.hnsw_ef_search)
        else:
            n_lists = self.ivf_n_lists if self.ivf_n_lists is not None else max(1, int(4 * np.sqrt(n)))
            n_lists = int(min(n_lists, n))
            quantizer = faiss.IndexFlatIP(d)
            # faiss's Python wrapper keeps a reference to the quantizer inside the index
            index = faiss.IndexIVFFlat(quantizer, d, n_lists, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = int_seed(self._param("random_state"))
            index.train(Xu)
            index.nprobe = int(self.ivf_n_probe)
        index.add(Xu)
        return index

    def _search(self, Q: np.ndarray, k: int, exclude_self: bool) -> Tuple[np.ndarray, np.ndarray]:
        n = Q.shape[0]
        ids = np.empty((n, k), dtype=np.int64)
        sims = np.empty((n, k), dtype=np.float32)
        if k == 0:
            return ids, sims
        extra = 1 if exclude_self else 0
        for start in range(0, n, int(self.block_size)):
            stop = min(n, start + int(self.block_size))
            D, I = self.index_.search(Q[start:stop], k + extra)
            if exclude_self:
                I, D = _drop_self(I, D, np.arange(start, stop))
            ids[start:stop] = I
            sims[start:stop] = D
        bad = ids < 0
        if bad.any():
            sims[bad] = -np.inf
        return ids, sims

    # -- queries ------------------------------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        self._check_fitted()
        return int(self.X_.shape[0])

    def query(self, X: Any, n_neighbors: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """K nearest training rows of each row of X (another split): (ids, sims, X as unit float32)."""
        return self._query(X, n_neighbors, "X")

    def _query(self, X: Any, n_neighbors: Optional[int], name: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """query, with errors about X naming the caller's argument (``X_query``, ``X_dev``, ...)."""
        self._check_fitted()
        if n_neighbors is not None:
            check_count(n_neighbors, "n_neighbors", 0)
        Xu = as_unit_embeddings(X, name, self.nan_policy, dim=self.X_.shape[1])
        k = self.n_neighbors_ if n_neighbors is None else int(n_neighbors)
        k = int(min(k, self.X_.shape[0]))
        ids, sims = self._search(Xu, k, exclude_self=False)
        return ids, sims, Xu

    # -- persistence --------------------------------------------------------------------------------------------
    def _state_params(self) -> Dict[str, Any]:
        return json_params(self)

    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        values, arrays = super()._get_state()
        arrays["index_"] = np.asarray(_faiss().serialize_index(self.index_), dtype=np.uint8)
        return values, arrays

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        from .._io import FileFormatError

        super()._set_state(values, arrays)
        if "index_" not in arrays:
            raise FileFormatError("the saved NeighborGraph lacks its fitted array 'index_'")
        self.n_neighbors_ = int(self.n_neighbors_)
        self.X_ = np.ascontiguousarray(self.X_, dtype=np.float32)
        self.ids_ = np.ascontiguousarray(self.ids_, dtype=np.int64)
        self.sims_ = np.ascontiguousarray(self.sims_, dtype=np.float32)
        faiss = _faiss()
        self.index_ = faiss.deserialize_index(np.ascontiguousarray(arrays["index_"], dtype=np.uint8))
        # search settings are not part of a serialized index
        if self.index == "hnsw":
            self.index_.hnsw.efSearch = int(self.hnsw_ef_search)
        elif self.index == "ivf":
            faiss.extract_index_ivf(self.index_).nprobe = int(self.ivf_n_probe)


def json_params(est: Estimator, **overrides: Any) -> Dict[str, Any]:
    """An estimator's hyperparameters as saved: JSON values, a random state that JSON cannot hold as None (see
    :func:`saved_random_state`), ``overrides`` replacing what needs another form."""
    out = {}
    for name, value in est.get_params().items():
        if name in overrides:
            out[name] = overrides[name]
        elif name in ("random_state", "seed") and not isinstance(value, str):
            out[name] = saved_random_state(value)
        else:
            out[name] = json_value(value, name)
    return out


def _drop_self(I: np.ndarray, D: np.ndarray, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Remove each row's own id from its K+1 list; where it is absent (a duplicate outranked it, or an
    approximate index missed it) drop the last entry instead."""
    is_self = I == rows[:, None]
    first = is_self.argmax(axis=1)
    has_self = is_self[np.arange(len(rows)), first]
    drop = np.where(has_self, first, I.shape[1] - 1)
    keep = np.ones(I.shape, dtype=bool)
    keep[np.arange(len(rows)), drop] = False
    k = I.shape[1] - 1
    return I[keep].reshape(-1, k), D[keep].reshape(-1, k)
