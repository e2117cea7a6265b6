"""Top-K cosine neighbour graph over training embeddings (faiss), computed once and cached.

The graph is the embedding-dependent half of Epoxy/Liger: it does not change when an LF is edited, so the
extension can be redone from it in milliseconds.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Tuple, Union

import numpy as np

from ._checks import as_unit_embeddings
from .._params import Params, json_value
from .._saving import check_format_version, version_stamp
from .._validation import NotFittedError

__all__ = ["NeighborGraph", "GRAPH_FORMAT_VERSION"]

GRAPH_FORMAT_VERSION = 1
_INDEX_KINDS = ("flat", "hnsw", "ivf")


def _faiss():
    try:
        import faiss  # noqa: WPS433 (optional dependency, imported on use)
    except ImportError as exc:  # pragma: no cover - exercised only without faiss
        raise ImportError("NeighborGraph needs faiss: pip install faiss-cpu (or labelfuse[embed])") from exc
    return faiss


class NeighborGraph(Params):
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
        seed: for the IVF training.

    Fitted attributes: ``X_`` (n, d) unit float32 database, ``ids_`` (n, K) int64 and ``sims_`` (n, K) float32
    neighbours of every training row sorted by decreasing similarity, never the row itself (-1 / -inf pad a
    list that an approximate index returned short).
    """

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
        seed: int = 0,
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
        self.seed = seed

    # -- sklearn-style parameters -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        _check_int("n_neighbors", self.n_neighbors, 1)
        if self.index not in _INDEX_KINDS:
            raise ValueError(f"index: expected one of {_INDEX_KINDS}, got {self.index!r}")
        _check_int("block_size", self.block_size, 1)
        # faiss does not check these: hnsw_m < 2 divides by log(1) and crashes the interpreter (SIGSEGV / abort),
        # a negative list count reaches a C++ size_t
        _check_int("hnsw_m", self.hnsw_m, 2)
        _check_int("hnsw_ef_construction", self.hnsw_ef_construction, 1)
        _check_int("hnsw_ef_search", self.hnsw_ef_search, 1)
        if self.ivf_n_lists is not None:
            _check_int("ivf_n_lists", self.ivf_n_lists, 1)
        _check_int("ivf_n_probe", self.ivf_n_probe, 1)
        _check_int("seed", self.seed, 0)

    # -- building -----------------------------------------------------------------------------------------------
    def fit(self, X: Any) -> "NeighborGraph":
        """Index the training embeddings X (n, d) and compute every row's K nearest other rows."""
        self._check_params()
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
            index.cp.seed = int(self.seed)
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
    def _check_fitted(self) -> None:
        if not hasattr(self, "ids_"):
            raise NotFittedError("NeighborGraph: not fitted; call fit(X) first")

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
            _check_int("n_neighbors", n_neighbors, 0)
        Xu = as_unit_embeddings(X, name, self.nan_policy, dim=self.X_.shape[1])
        k = self.n_neighbors_ if n_neighbors is None else int(n_neighbors)
        k = int(min(k, self.X_.shape[0]))
        ids, sims = self._search(Xu, k, exclude_self=False)
        return ids, sims, Xu

    # -- persistence --------------------------------------------------------------------------------------------
    def save(self, path: Union[str, Path]) -> None:
        """Write an .npz (no pickle): parameters as JSON, the database, the neighbour lists, the faiss index."""
        self._check_fitted()
        faiss = _faiss()
        meta = {**version_stamp(GRAPH_FORMAT_VERSION), "params": json_value(self.get_params()),
                "n_neighbors_": self.n_neighbors_}
        np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), X=self.X_, ids=self.ids_,
                 sims=self.sims_, index=faiss.serialize_index(self.index_))

    @classmethod
    def load(cls, path: Union[str, Path]) -> "NeighborGraph":
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(bytes(f["meta"]).decode())
            check_format_version(meta, GRAPH_FORMAT_VERSION, path, "neighbour graph")
            graph = cls(**meta["params"])
            graph.X_ = np.ascontiguousarray(f["X"], dtype=np.float32)
            graph.ids_ = np.ascontiguousarray(f["ids"], dtype=np.int64)
            graph.sims_ = np.ascontiguousarray(f["sims"], dtype=np.float32)
            graph.n_neighbors_ = int(meta["n_neighbors_"])
            graph.index_ = _faiss().deserialize_index(np.ascontiguousarray(f["index"]))
        if graph.index == "hnsw":
            graph.index_.hnsw.efSearch = int(graph.hnsw_ef_search)
        elif graph.index == "ivf":
            _faiss().extract_index_ivf(graph.index_).nprobe = int(graph.ivf_n_probe)
        return graph


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")


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
