"""Neighbourhood fusion at scale (Liger partitions, Epoxy extension): fit a partitioner on a sample on the driver,
assign partition ids on the workers, and extend abstentions block by block from a training database that every
worker holds once."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._base import DEPRECATED, check_random_state, renamed_argument
from .._validation import check_cardinality, check_count, check_n_threads
from ._dask import as_label_array, block_offsets, compute, da, dask, distributed, get_client, in_matrix_rows

__all__ = ["assign_partitions", "extend_votes", "fit_partitions"]


def fit_partitions(X: Any, partitioner: Any, *, sample_size: int = 100_000, random_state: Any = 0,
                   client: Optional["distributed.Client"] = None, seed: Any = DEPRECATED) -> Any:
    """Fit ``partitioner`` (e.g. :class:`labelfuse.embeddings.KMeansPartition`, anything with ``fit(X)`` /
    ``predict(X)``) on a uniform random sample of at most ``sample_size`` rows of the dask array ``X``; only the
    sample reaches the driver. Returns the fitted partitioner.

    ``random_state`` (None, an int seed or a numpy Generator / SeedSequence / BitGenerator) draws the sample;
    ``seed`` is its deprecated former name.

    Example::

        from labelfuse import distributed as lfd
        from labelfuse.embeddings import KMeansPartition

        part = lfd.fit_partitions(X, KMeansPartition(8), sample_size=50_000, random_state=0)
        groups = lfd.assign_partitions(X, part)          # int64 dask array, one id per row

    Args:
        X: (n, d) dask array of embeddings.
        partitioner: an unfitted partitioner with ``fit`` / ``predict``.
        sample_size: rows sampled to the driver.
        random_state: draws the sample.
        client: compute on this Client (default: the current one).
        seed: deprecated name of ``random_state``.

    Returns:
        The fitted partitioner.
    """
    random_state = check_random_state(renamed_argument("fit_partitions", random_state, seed))
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise TypeError("X: expected a 2-D dask array of embeddings")
    sample_size = check_count(sample_size, "sample_size", 1)
    n = X.shape[0]
    if np.isnan(n):
        raise ValueError("X: has unknown chunk sizes; call X.compute_chunk_sizes() first")
    rng = np.random.default_rng(random_state)
    take = np.sort(rng.choice(n, size=min(sample_size, n), replace=False))
    sample = compute(X[take], client)
    return partitioner.fit(sample)


def _predict_block(X: np.ndarray, partitioner: Any) -> np.ndarray:
    return np.asarray(partitioner.predict(X), dtype=np.int64)


def assign_partitions(X: Any, partitioner: Any) -> "da.Array":
    """Partition id of every row of the dask array ``X``, computed on the workers by ``partitioner.predict``
    (the fitted partitioner is one shared graph node, sent to each worker once). Lazy; int64, chunked like X.

    Example::

        groups = assign_partitions(X, fit_partitions(X, KMeansPartition(8)))
        model = DaskLabelModel(2).fit(L, groups=groups, n_groups=8)

    Args:
        X: (n, d) dask array of embeddings.
        partitioner: a fitted partitioner.

    Returns:
        A lazy (n,) int64 dask array of partition ids.
    """
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise TypeError("X: expected a 2-D dask array of embeddings")
    X = X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X
    shared = dask.delayed(partitioner, pure=True)
    arrays = [
        da.from_delayed(dask.delayed(_predict_block, pure=True)(b, shared), shape=(int(n),), dtype=np.int64)
        for b, n in zip(X.to_delayed().ravel(), X.chunks[0])
    ]
    return da.concatenate(arrays, axis=0)


# -- extension (Epoxy / Liger) -----------------------------------------------------------------------------------------
def _extend_block(L: np.ndarray, X: np.ndarray, database: Tuple[np.ndarray, Any, np.ndarray], k: int,
                  n_threads: Optional[int]) -> np.ndarray:
    from ..embeddings.extend import extend_votes as extend_local

    L_train, graph, thresholds = database
    if L.shape[0] == 0:
        return L.copy()
    return extend_local(L_train, graph, thresholds, L_query=L, X_query=X, cardinality=k, n_threads=n_threads)


def extend_votes(L: Any, X: Any, L_train: Any, graph: Any, thresholds: Any, *, cardinality: int,
                 n_threads: Optional[int] = None, client: Optional["distributed.Client"] = None) -> "da.Array":
    """Extend the abstentions of a distributed label matrix from a training database (the Epoxy rule of
    :func:`labelfuse.embeddings.extend_votes`), block by block on the workers.

    Args:
        L: (n, m) dask array of votes to extend; X: (n, d) dask array of their embeddings (rechunked to L's rows).
        L_train, graph: the training database: its votes (n_train, m) and a fitted
            :class:`~labelfuse.embeddings.NeighborGraph` on its embeddings (faiss index inside). Scattered to every
            worker once (``client.scatter(..., broadcast=True)``); each task searches its own rows in the local
            copy, so the index is built once, on the driver, and never rebuilt or re-sent per task.
        thresholds: one cosine threshold or one per LF (as for the single-machine function).
        cardinality: k. n_threads: OpenMP threads per task on the worker (faiss search and extension kernel).

    Returns a lazy (n, m) dask array (L's dtype and chunks); equal to the single-machine extension of the
    concatenated rows. The database must fit in every worker's memory (n_train x (d floats + m votes)).

    Example::

        graph = NeighborGraph().fit(X_train)                  # on the driver
        L_ext = extend_votes(L, X, L_train, graph, 0.8, cardinality=2)

    Returns:
        The extended votes: a lazy (n, m) dask array, chunked like L.
    """
    from ..embeddings.extend import as_thresholds
    from ..embeddings.graph import NeighborGraph

    L = as_label_array(L)
    if not isinstance(X, da.Array) or X.ndim != 2 or X.shape[0] != L.shape[0]:
        raise ValueError(f"X: expected a 2-D dask array with {L.shape[0]} rows (one per row of L)")
    if not isinstance(graph, NeighborGraph):
        raise TypeError(f"graph: expected a fitted NeighborGraph, got {type(graph).__name__}")
    graph._check_fitted()
    L_train = np.asarray(L_train)
    if L_train.ndim != 2 or L_train.shape[1] != L.shape[1] or L_train.shape[0] != graph.n_rows:
        raise ValueError(f"L_train: expected shape ({graph.n_rows}, {L.shape[1]}) (the graph's rows x L's LFs), "
                         f"got {L_train.shape}")
    k = check_cardinality(cardinality)
    t = as_thresholds(thresholds, L.shape[1])
    n_threads = check_n_threads(n_threads)
    client = get_client(client)
    [database] = client.scatter([(L_train, graph, t)], broadcast=True, hash=False)
    X = X.rechunk((L.chunks[0], -1))
    arrays = [
        da.from_delayed(dask.delayed(in_matrix_rows, pure=True)(at, _extend_block, b, x, database, k, n_threads),
                        shape=(int(n), L.shape[1]), dtype=L.dtype)
        for at, b, x, n in zip(block_offsets(L), L.to_delayed().ravel(), X.to_delayed().ravel(), L.chunks[0])
    ]
    return da.concatenate(arrays, axis=0)


