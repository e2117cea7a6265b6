"""Partitions of the embedding space (Liger): seeded spherical k-means on the training embeddings."""
from __future__ import annotations

import warnings
from typing import Any, Dict

import numpy as np

from ._checks import NAN_POLICIES, as_unit_embeddings
from .graph import _faiss, int_seed, json_params
from .._base import DEPRECATED, RANDOM_STATE, Estimator, Interval, Options

__all__ = ["KMeansPartition"]


class KMeansPartition(Estimator):
    """Seeded spherical k-means (faiss) on unit training embeddings; other splits go to the nearest centre.

    Parameters:
        n_parts: parts requested. Fewer are kept when some end up empty (fewer distinct points than parts):
            empty parts are dropped and the ids renumbered 0..n_parts_-1, so every kept part has training rows.
        n_iter, n_redo, random_state: faiss k-means settings (the best of ``n_redo`` runs is kept).
        nan_policy: as for :class:`NeighborGraph`.
        seed: deprecated alias of ``random_state``.

    Fitted attributes: ``labels_`` (n,) int64 part of every training row, ``centers_`` (n_parts_, d) unit
    centres, ``n_parts_``, ``sizes_`` (n_parts_,) training rows per part.

    Example::

        from labelfuse.embeddings import KMeansPartition
        parts = KMeansPartition(4, random_state=0).fit(X_train)
        parts.predict(X_test)              # the part of each test row
        parts.save("parts.lf")             # one file; KMeansPartition.load("parts.lf") reads it back
    """

    _parameter_constraints = {
        "n_parts": [Interval(int, 1, None)],
        "n_iter": [Interval(int, 0, None)],
        "n_redo": [Interval(int, 1, None)],
        "random_state": [RANDOM_STATE],
        "nan_policy": [Options(*NAN_POLICIES)],
    }
    _deprecated_aliases = {"seed": "random_state"}
    _fitted_values = ("n_parts_",)
    _fitted_arrays = ("labels_", "centers_", "sizes_")

    def __init__(self, n_parts: int = 4, *, n_iter: int = 25, n_redo: int = 1, random_state: Any = 0,
                 nan_policy: str = "raise", seed: Any = DEPRECATED):
        self.n_parts = n_parts
        self.n_iter = n_iter
        self.n_redo = n_redo
        self.random_state = random_state
        self.nan_policy = nan_policy
        self.seed = seed

    def fit(self, X: Any) -> "KMeansPartition":
        """Cluster the training embeddings X (n, d) into ``n_parts`` parts (fewer when some are empty)."""
        Xu = as_unit_embeddings(X, "X", self.nan_policy)
        n, d = Xu.shape
        if n == 0:
            raise ValueError("X: has no rows")
        k = int(min(self.n_parts, n))
        if k == 1:
            centers = Xu.mean(axis=0, keepdims=True)
            norm = np.linalg.norm(centers)
            self._set(np.zeros(n, dtype=np.int64), centers / norm if norm > 0 else centers)
            return self
        faiss = _faiss()
        km = faiss.Kmeans(d, k, niter=int(self.n_iter), nredo=int(self.n_redo),
                          seed=int_seed(self._param("random_state")), spherical=True, verbose=False,
                          min_points_per_centroid=1, max_points_per_centroid=1 << 30)
        km.train(Xu)
        labels = self._assign(Xu, km.centroids)
        self._set(labels, km.centroids)
        return self

    def _set(self, labels: np.ndarray, centers: np.ndarray) -> None:
        sizes = np.bincount(labels, minlength=centers.shape[0])
        kept = np.flatnonzero(sizes > 0)
        if kept.size < centers.shape[0]:
            warnings.warn(f"KMeansPartition: {centers.shape[0] - kept.size} of {centers.shape[0]} parts were "
                          f"empty and dropped (fewer distinct points than parts)", RuntimeWarning, stacklevel=3)
            remap = np.full(centers.shape[0], -1, dtype=np.int64)
            remap[kept] = np.arange(kept.size)
            labels = remap[labels]
            centers = centers[kept]
            sizes = sizes[kept]
        self.labels_ = labels.astype(np.int64)
        self.centers_ = np.ascontiguousarray(centers, dtype=np.float32)
        self.n_parts_ = int(centers.shape[0])
        self.sizes_ = sizes.astype(np.int64)

    @staticmethod
    def _assign(Xu: np.ndarray, centers: np.ndarray) -> np.ndarray:
        # nearest centre by inner product; argmax takes the lowest id on ties, so the result is deterministic
        labels = np.empty(Xu.shape[0], dtype=np.int64)
        for start in range(0, Xu.shape[0], 65536):
            block = Xu[start:start + 65536] @ centers.T
            labels[start:start + 65536] = block.argmax(axis=1)
        return labels

    def predict(self, X: Any) -> np.ndarray:
        """Part of each row of X (any split): its nearest centre."""
        self._check_fitted()
        Xu = as_unit_embeddings(X, "X", self.nan_policy, dim=self.centers_.shape[1])
        return self._assign(Xu, self.centers_)

    def _state_params(self) -> Dict[str, Any]:
        return json_params(self)

    def _after_load(self) -> None:
        self.n_parts_ = int(self.n_parts_)
        self.labels_ = np.ascontiguousarray(self.labels_, dtype=np.int64)
        self.centers_ = np.ascontiguousarray(self.centers_, dtype=np.float32)
        self.sizes_ = np.ascontiguousarray(self.sizes_, dtype=np.int64)
