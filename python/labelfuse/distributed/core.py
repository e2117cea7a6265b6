"""The Dask implementation behind :mod:`labelfuse.distributed`."""
from __future__ import annotations

import operator
import re
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

try:
    import dask
    import dask.array as da
    import distributed
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "labelfuse.distributed.core needs dask and distributed: pip install 'labelfuse[dask]'"
    ) from exc

from .. import _core
from .._validation import NotFittedError, check_cardinality, check_n_threads
from ..labeling.apply import LFApplier, LFApplyError, LFFailureWarning, as_lfs
from ..models.registry import FitResult
from ..stats import LabelStats
from ..stats import label_stats as _local_label_stats
from .._params import Params

__all__ = [
    "DaskLFApplier",
    "DaskLabelModel",
    "DistributedLFError",
    "apply_lfs",
    "assign_partitions",
    "extend_votes",
    "fit_partitions",
    "label_stats",
    "local_cluster",
    "predict_proba",
    "tree_sum",
]

SPLIT_EVERY = 8  # fan-in of the reduction tree: log_8(partitions) levels, each node adds 8 small objects


class DistributedLFError(RuntimeError):
    """A labeling function raised on a worker (non-fault-tolerant mode). The message names the LF, the partition,
    the row (global position and index label) and carries the worker-side traceback as text (the original
    exception object may not be picklable)."""


# -- cluster and client ------------------------------------------------------------------------------------------------
def local_cluster(n_workers: int = 2, threads_per_worker: int = 1, **kwargs: Any) -> "distributed.LocalCluster":
    """A LocalCluster of ``n_workers`` spawn-started worker processes (never forked: see the module notes).

    Extra keyword arguments go to :class:`distributed.LocalCluster` (e.g. ``memory_limit``, ``dashboard_address``).
    """
    method = dask.config.get("distributed.worker.multiprocessing-method")
    if method != "spawn":
        raise ValueError(
            f"distributed.worker.multiprocessing-method is {method!r}; labelfuse's native core uses OpenMP, which "
            "is not fork-safe: set it to 'spawn' (dask.config.set({'distributed.worker.multiprocessing-method': "
            "'spawn'}))"
        )
    kwargs.setdefault("dashboard_address", ":0")  # a free port: never collide with another cluster
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                                    **kwargs)


def _client(client: Optional["distributed.Client"]) -> "distributed.Client":
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client: expected a dask.distributed.Client, got {type(client).__name__}")
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "client: no dask.distributed Client is running; start one, e.g. "
            "Client(labelfuse.distributed.core.local_cluster()), or pass client="
        ) from None


def _compute(obj: Any, client: Optional["distributed.Client"]) -> Any:
    """Compute one lazy object on the given client, the default client, or dask's default scheduler."""
    if client is not None:
        return _client(client).compute(obj).result()
    return dask.compute(obj)[0]


# -- applying labeling functions ---------------------------------------------------------------------------------------
def _label_dtype(k: Optional[int]) -> Optional[np.dtype]:
    if k is None:
        return None
    return np.dtype(np.int8 if k <= 128 else np.int16 if k <= 32768 else np.int32)


def _apply_partition(part: pd.DataFrame, lfs: list, k: Optional[int], fault_tolerant: bool, partition: int,
                     max_failure_rows: int) -> Tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Worker side: votes of one partition, a few failure rows (local row numbers) and failures per LF."""
    applier = LFApplier(lfs, cardinality=k, fault_tolerant=fault_tolerant, progress=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LFFailureWarning)  # reported once, on the client
            L = applier.apply(part)
    except LFApplyError as exc:
        raise _lf_error(exc, exc.lf, exc.row, part, partition, exc.__cause__) from None
    except (TypeError, ValueError) as exc:  # an invalid vote (check_vote) in non-fault-tolerant mode
        raise _lf_error(exc, None, None, part, partition, exc) from None
    dtype = _label_dtype(k)
    if dtype is not None and L.dtype != dtype:
        L = L.astype(dtype)
    failures = applier.failures_
    per_lf = failures.counts().to_numpy()
    frame = failures.to_frame().head(max_failure_rows)
    frame.insert(0, "partition", np.full(len(frame), partition, dtype=np.int64))
    frame.insert(2, "index", part.index[frame["row"].to_numpy()] if len(frame) else pd.Index([], dtype=object))
    return L, frame, per_lf


def _lf_error(exc: BaseException, lf: Optional[str], row: Optional[int], part: pd.DataFrame, partition: int,
              cause: Optional[BaseException]) -> DistributedLFError:
    where = f"partition {partition}"
    if row is not None:
        where += f", row {row} of the partition (index label {part.index[row]!r})"
    trace = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__)) if cause is not None else ""
    return DistributedLFError(f"{exc} [{where}]\n--- worker traceback ---\n{trace}".rstrip())


def _block_meta(result: Tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> Tuple[int, str, np.ndarray]:
    L, _, per_lf = result
    return int(L.shape[0]), L.dtype.str, per_lf


class DaskLFApplier:
    """Applies labeling functions to a Dask DataFrame, partition by partition, on a dask.distributed cluster.

    Args:
        lfs: labeling functions (as for :class:`labelfuse.LFApplier`); names must be unique. They (with their
            resources) are scattered to every worker once per :meth:`apply`, not sent with each task.
        cardinality: number of classes k. When given, votes are checked against it and L is int8 for k <= 128;
            when None, each partition picks its own width and the blocks are cast to the widest.
        fault_tolerant: when True, an LF that raises (or returns an invalid label) leaves -1 and is recorded
            (``failures_`` / ``failure_counts_``); when False the first failure cancels the run and raises
            :class:`DistributedLFError` on the client, with the worker's traceback.
        progress: tqdm bar over the partitions on the client.
        max_failure_rows: at most this many failure rows per partition are sent to the client (``failures_``);
            the counts per LF (``failure_counts_``) are always exact. Keeps the driver's memory bounded when an LF
            fails on every row.
        client: the dask.distributed Client (default: the current one).

    After :meth:`apply`: ``failures_`` (DataFrame: partition, row (global position), index (the frame's index
    label), lf, error, message), ``failure_counts_`` (Series: failures per LF), ``partition_sizes_``.
    """

    def __init__(self, lfs: Sequence[Any], *, cardinality: Optional[int] = None, fault_tolerant: bool = False,
                 progress: bool = True, max_failure_rows: int = 1000,
                 client: Optional["distributed.Client"] = None) -> None:
        self.lfs = lfs
        self.cardinality = cardinality
        self.fault_tolerant = fault_tolerant
        self.progress = progress
        self.max_failure_rows = max_failure_rows
        self.client = client

    def apply(self, data: Any) -> "da.Array":
        """Votes of every row of ``data`` (a dask DataFrame) as an (n, m) dask array with known chunk sizes (one
        block per partition), computed and held in the workers' memory (n * m bytes in all for int8)."""
        from tqdm.auto import tqdm

        import dask.dataframe as dd

        if not isinstance(data, dd.DataFrame):
            raise TypeError(f"data: expected a dask DataFrame, got {type(data).__name__}")
        lfs = as_lfs(self.lfs)
        k = check_cardinality(self.cardinality) if self.cardinality is not None else None
        if isinstance(self.max_failure_rows, bool) or not isinstance(self.max_failure_rows, (int, np.integer)) \
                or self.max_failure_rows < 0:
            raise ValueError(f"max_failure_rows: expected a non-negative int, got {self.max_failure_rows!r}")
        client = _client(self.client)
        names = [lf.name for lf in lfs]
        # One copy on every worker; each task refers to it by key.
        [shared_lfs] = client.scatter([lfs], broadcast=True, hash=False)
        parts = data.to_delayed()
        tasks = [
            dask.delayed(_apply_partition, pure=False)(
                p, shared_lfs, k, bool(self.fault_tolerant), i, int(self.max_failure_rows))
            for i, p in enumerate(parts)
        ]
        results = client.compute(tasks)
        try:
            with tqdm(total=len(results), desc="Applying LFs", unit="partition", disable=not self.progress) as bar:
                for fut in distributed.as_completed(results):
                    if fut.status != "finished":
                        fut.result()  # re-raises the worker's exception (DistributedLFError, KilledWorker, ...)
                    bar.update(1)
        except BaseException:
            client.cancel(results)
            raise
        finally:
            del shared_lfs  # the scattered LFs are released once no task needs them
        meta = client.gather([client.submit(_block_meta, r, pure=False) for r in results])
        sizes = np.array([s for s, _, _ in meta], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        dtype = np.result_type(*[np.dtype(d) for _, d, _ in meta]) if meta else (_label_dtype(k) or np.int8)
        blocks = [client.submit(operator.getitem, r, 0, pure=False) for r in results]
        frames = client.gather([client.submit(operator.getitem, r, 1, pure=False) for r in results])
        distributed.wait(blocks)
        del results  # the (votes, failures) tuples; the blocks now live on their own
        self.partition_sizes_ = sizes
        self.failure_counts_ = pd.Series(
            np.sum([c for _, _, c in meta], axis=0, dtype=np.int64) if meta else np.zeros(len(lfs), np.int64),
            index=pd.Index(names, name="lf"), name="failures")
        self.failures_ = _failure_frame(frames, offsets)
        total = int(self.failure_counts_.sum())
        if total:
            warnings.warn(
                f"{total} labeling-function calls failed and were left as abstains; see failures_ and "
                "failure_counts_", LFFailureWarning, stacklevel=2)
        arrays = [
            da.from_delayed(dask.delayed(b), shape=(int(n), len(lfs)), dtype=np.dtype(d))
            for b, (n, d, _) in zip(blocks, meta)
        ]
        L = da.concatenate(arrays, axis=0) if arrays else da.empty((0, len(lfs)), dtype=dtype, chunks=(0, len(lfs)))
        return L.astype(dtype) if any(np.dtype(d) != dtype for _, d, _ in meta) else L


def _failure_frame(frames: List[pd.DataFrame], offsets: np.ndarray) -> pd.DataFrame:
    columns = ["partition", "row", "index", "lf", "error", "message"]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=np.int64 if c in ("partition", "row") else object)
                             for c in columns})
    out = pd.concat(frames, ignore_index=True)
    out["row"] = out["row"].to_numpy() + offsets[out["partition"].to_numpy()]
    return out[columns]


def apply_lfs(lfs: Sequence[Any], data: Any, *, cardinality: Optional[int] = None, fault_tolerant: bool = False,
              progress: bool = True, return_failures: bool = False,
              client: Optional["distributed.Client"] = None) -> Any:
    """``DaskLFApplier(lfs, ...).apply(data)``: the label matrix as a distributed (n, m) dask array, or
    ``(L, failures)`` (a DataFrame, see :class:`DaskLFApplier`) when ``return_failures`` is True."""
    applier = DaskLFApplier(lfs, cardinality=cardinality, fault_tolerant=fault_tolerant, progress=progress,
                            client=client)
    L = applier.apply(data)
    return (L, applier.failures_) if return_failures else L


# -- statistics --------------------------------------------------------------------------------------------------------
def _as_label_array(L: Any) -> "da.Array":
    if not isinstance(L, da.Array):
        raise TypeError(f"L: expected a dask array (from labelfuse.distributed.core.apply_lfs), got {type(L).__name__}")
    if L.ndim != 2:
        raise ValueError(f"L: expected a 2-D label matrix, got {L.ndim}-D")
    if any(np.isnan(c) for c in L.chunks[0]):
        raise ValueError("L: has unknown chunk sizes; call L.compute_chunk_sizes() first")
    if L.dtype.kind != "i":
        raise TypeError(f"L: expected a signed integer dtype (-1 = abstain), got {L.dtype}")
    return L.rechunk({1: -1}) if len(L.chunks[1]) > 1 else L


def _aligned(x: Any, L: "da.Array", name: str) -> Optional["da.Array"]:
    """A per-row vector chunked like L's rows (numpy input is wrapped, dask input rechunked)."""
    if x is None:
        return None
    if not isinstance(x, da.Array):
        x = np.asarray(x)
        if x.ndim != 1 or x.shape[0] != L.shape[0]:
            raise ValueError(f"{name}: expected a 1-D array of length {L.shape[0]}, got shape {x.shape}")
        return da.from_array(x, chunks=(L.chunks[0],))
    if x.ndim != 1 or x.shape[0] != L.shape[0]:
        raise ValueError(f"{name}: expected a 1-D dask array of length {L.shape[0]}, got shape {x.shape}")
    return x if x.chunks[0] == L.chunks[0] else x.rechunk((L.chunks[0],))


# "L: entry (row 12, column 3) ...", "groups: entry 12 is ...": the row a block-local check names
_LOCAL_ROW = re.compile(r"^(L: entry \(row |(?:Y|groups): entry )(\d+)")


def _in_matrix_rows(offset: int, task: Any, *args: Any) -> Any:
    """Runs a per-block task; an error about one row names it by its row in the whole matrix, not in the block."""
    try:
        return task(*args)
    except ValueError as exc:
        match = _LOCAL_ROW.match(str(exc))
        if match is None or offset == 0:
            raise
        raise ValueError(f"{match[1]}{int(match[2]) + offset}{str(exc)[match.end():]}") from None


def _block_offsets(L: "da.Array") -> List[int]:
    return [0] + np.cumsum(L.chunks[0][:-1], dtype=np.int64).tolist()


def _row_blocks(x: Optional["da.Array"], count: int) -> List[Any]:
    return [None] * count if x is None else list(x.to_delayed().ravel())


def _block_stats(L: np.ndarray, k: int, Y: Optional[np.ndarray], groups: Optional[np.ndarray],
                 n_groups: Optional[int], overlap_matrix: bool, n_threads: Optional[int]) -> LabelStats:
    return _local_label_stats(L, k, Y=Y, groups=groups, n_groups=n_groups, overlap_matrix=overlap_matrix,
                              n_threads=n_threads)


def _sum(*items: Any) -> Any:
    total = items[0]
    for x in items[1:]:
        total = total + x
    return total


def tree_sum(parts: Sequence[Any], split_every: int = SPLIT_EVERY) -> Any:
    """A Delayed sum of Delayed additive objects, as a tree with fan-in ``split_every`` (deterministic order:
    exact for integer counts, and floats are always added in the same order for a given partitioning)."""
    if isinstance(split_every, bool) or not isinstance(split_every, (int, np.integer)) or split_every < 2:
        raise ValueError(f"split_every: expected an int >= 2, got {split_every!r}")
    level = list(parts)
    if not level:
        raise ValueError("parts: nothing to sum (no partitions)")
    while len(level) > 1:
        level = [dask.delayed(_sum, pure=True)(*level[i:i + split_every]) for i in range(0, len(level), split_every)]
    return level[0]


def label_stats(
    L: Any,
    cardinality: int,
    *,
    Y: Any = None,
    groups: Any = None,
    n_groups: Optional[int] = None,
    overlap_matrix: bool = False,
    n_threads: Optional[int] = None,
    split_every: int = SPLIT_EVERY,
    client: Optional["distributed.Client"] = None,
) -> LabelStats:
    """:func:`labelfuse.label_stats` of a distributed label matrix: each block counted on its worker by the native
    core, the counts summed in a tree reduction; only LabelStats objects (O(G m^2 + G m k), or O(G (mk)^2) with
    the overlap matrix) move, and the result equals the single-machine statistics exactly for any partitioning.

    Args:
        L: (n, m) dask array with known row chunks (e.g. from :func:`apply_lfs`).
        cardinality: k (required: inferring it would cost a pass over L).
        Y, groups: optional per-row gold labels / group ids (dask arrays, rechunked to L's rows, or numpy).
        n_groups: number of groups; required with ``groups`` so that every block counts the same groups.
        overlap_matrix, n_threads: as for :func:`labelfuse.label_stats` (``n_threads`` per task, on the worker).
        split_every: fan-in of the reduction tree.
        client: compute on this Client (default: the current client, else dask's default scheduler).
    """
    return _compute(
        _stats_delayed(L, cardinality, Y=Y, groups=groups, n_groups=n_groups, overlap_matrix=overlap_matrix,
                       n_threads=n_threads, split_every=split_every),
        client,
    )


def _stats_delayed(L: Any, cardinality: int, *, Y: Any = None, groups: Any = None, n_groups: Optional[int] = None,
                   overlap_matrix: bool = False, n_threads: Optional[int] = None,
                   split_every: int = SPLIT_EVERY) -> Any:
    L = _as_label_array(L)
    k = check_cardinality(cardinality)
    n_threads = check_n_threads(n_threads)
    G = _check_groups_args(groups, n_groups)
    Yd, gd = _aligned(Y, L, "Y"), _aligned(groups, L, "groups")
    blocks = list(L.to_delayed().ravel())
    parts = [
        dask.delayed(_in_matrix_rows, pure=True)(at, _block_stats, b, k, y, g, G, bool(overlap_matrix), n_threads)
        for at, b, y, g in zip(_block_offsets(L), blocks, _row_blocks(Yd, len(blocks)), _row_blocks(gd, len(blocks)))
    ]
    return tree_sum(parts, split_every)


def _check_groups_args(groups: Any, n_groups: Optional[int]) -> Optional[int]:
    if groups is None:
        if n_groups is not None:
            raise ValueError("n_groups: given without groups")
        return None
    if n_groups is None:
        raise ValueError("n_groups: required with groups (every block must count the same groups)")
    if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)) or n_groups < 1:
        raise ValueError(f"n_groups: expected a positive int, got {n_groups!r}")
    return int(n_groups)


# -- posteriors --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tables:
    """Log tables of a fitted model for ``_core.posterior``; G stacked groups (G = 1 when ungrouped)."""

    log_cpt: np.ndarray    # (G, m, k+1, k)
    log_prior: np.ndarray  # (G, k)

    @classmethod
    def from_fits(cls, fits: Sequence[FitResult]) -> "_Tables":
        logs = [f.log_tables() for f in fits]
        return cls(np.ascontiguousarray(np.stack([c for c, _ in logs])),
                   np.ascontiguousarray(np.stack([p for _, p in logs])))


def _posterior_block(L: np.ndarray, tables: _Tables, groups: Optional[np.ndarray],
                     n_threads: Optional[int]) -> np.ndarray:
    G, _, _, k = tables.log_cpt.shape
    if groups is not None:
        groups = np.ascontiguousarray(groups, dtype=np.int64)
    return _core.posterior(L, tables.log_cpt, tables.log_prior, k, n_groups=G, groups=groups, n_threads=n_threads)


def predict_proba(L: Any, fit: Union[FitResult, Sequence[FitResult]], *, groups: Any = None,
                  n_threads: Optional[int] = None) -> "da.Array":
    """Posteriors p(y | votes) of a distributed label matrix, computed block by block on the workers (lazy).

    Args:
        L: (n, m) dask array.
        fit: a :class:`~labelfuse.models.FitResult`, or one per group (then ``groups`` is required).
        groups: per-row group ids (dask or numpy array) selecting each row's tables.
        n_threads: OpenMP threads per task on the worker.

    The fitted tables are one shared node of the graph (sent to each worker once, not with every task).
    Returns an (n, k) float64 dask array chunked like L's rows; rows sum to 1.
    """
    L = _as_label_array(L)
    fits = [fit] if isinstance(fit, FitResult) else list(fit)
    if not fits or not all(isinstance(f, FitResult) for f in fits):
        raise TypeError("fit: expected a FitResult or a sequence of FitResult (one per group)")
    m = L.shape[1]
    k = fits[0].class_balance.shape[0]
    for f in fits:
        if f.cpt.shape != (m, k + 1, k) or f.class_balance.shape != (k,):
            raise ValueError(f"fit: expected cpt of shape {(m, k + 1, k)} and class_balance ({k},), got "
                             f"{f.cpt.shape} / {f.class_balance.shape}")
    if len(fits) > 1 and groups is None:
        raise ValueError(f"groups: required with {len(fits)} fits (one per group)")
    n_threads = check_n_threads(n_threads)
    tables = dask.delayed(_Tables.from_fits(fits), pure=True)
    gd = _aligned(groups, L, "groups")
    blocks = list(L.to_delayed().ravel())
    arrays = [
        da.from_delayed(dask.delayed(_in_matrix_rows, pure=True)(at, _posterior_block, b, tables, g, n_threads),
                        shape=(int(n), k), dtype=np.float64)
        for at, b, g, n in zip(_block_offsets(L), blocks, _row_blocks(gd, len(blocks)), L.chunks[0])
    ]
    return da.concatenate(arrays, axis=0)


# -- partitions (Liger) ------------------------------------------------------------------------------------------------
def fit_partitions(X: Any, partitioner: Any, *, sample_size: int = 100_000, seed: int = 0,
                   client: Optional["distributed.Client"] = None) -> Any:
    """Fit ``partitioner`` (e.g. :class:`labelfuse.embeddings.KMeansPartition`, anything with ``fit(X)`` /
    ``predict(X)``) on a uniform random sample of at most ``sample_size`` rows of the dask array ``X``; only the
    sample reaches the driver. Returns the fitted partitioner."""
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise TypeError("X: expected a 2-D dask array of embeddings")
    if isinstance(sample_size, bool) or not isinstance(sample_size, (int, np.integer)) or sample_size < 1:
        raise ValueError(f"sample_size: expected a positive int, got {sample_size!r}")
    n = X.shape[0]
    if np.isnan(n):
        raise ValueError("X: has unknown chunk sizes; call X.compute_chunk_sizes() first")
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(n, size=min(int(sample_size), n), replace=False))
    sample = _compute(X[take], client)
    return partitioner.fit(sample)


def _predict_block(X: np.ndarray, partitioner: Any) -> np.ndarray:
    return np.asarray(partitioner.predict(X), dtype=np.int64)


def assign_partitions(X: Any, partitioner: Any) -> "da.Array":
    """Partition id of every row of the dask array ``X``, computed on the workers by ``partitioner.predict``
    (the fitted partitioner is one shared graph node, sent to each worker once). Lazy; int64, chunked like X."""
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
    """
    from ..embeddings.extend import as_thresholds
    from ..embeddings.graph import NeighborGraph

    L = _as_label_array(L)
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
    client = _client(client)
    [database] = client.scatter([(L_train, graph, t)], broadcast=True, hash=False)
    X = X.rechunk((L.chunks[0], -1))
    arrays = [
        da.from_delayed(dask.delayed(_in_matrix_rows, pure=True)(at, _extend_block, b, x, database, k, n_threads),
                        shape=(int(n), L.shape[1]), dtype=L.dtype)
        for at, b, x, n in zip(_block_offsets(L), L.to_delayed().ravel(), X.to_delayed().ravel(), L.chunks[0])
    ]
    return da.concatenate(arrays, axis=0)


# -- label model -------------------------------------------------------------------------------------------------------
METHODS = ("triplet", "covariance", "dawid_skene")


class DaskLabelModel(Params):
    """A label model fitted from distributed statistics; posteriors computed on the workers.

    Args:
        cardinality: number of classes k (required).
        method: "triplet" or "covariance" (fitted from the reduced statistics alone; the covariance method
            reduces the one-hot overlap matrix, 8 (m k)^2 bytes per group) or "dawid_skene" (distributed EM: each
            iteration sends the current tables to the workers and reduces per-block expected counts).
        class_balance: None (estimated) or k probabilities.
        method_options: keyword arguments for the fit function (``fit_triplet`` / ``fit_covariance``) or, for
            Dawid-Skene, ``max_iter``, ``tol``, ``smoothing``.
        n_threads: OpenMP threads per task on the workers (see the module notes).
        split_every: fan-in of the reduction tree.

    ``fit(L, groups=..., n_groups=G)`` fits one model per group (Liger partitions, e.g. from
    :func:`assign_partitions`); ``predict_proba`` then needs the same kind of groups.

    Fitted attributes: ``stats_`` (the reduced LabelStats; None for Dawid-Skene), ``fits_`` (one FitResult per group), ``cpt_``
    ((m, k+1, k), or (G, m, k+1, k) when grouped), ``class_balance_`` ((k,) or (G, k)), ``n_groups_``.
    """

    def __init__(self, cardinality: int, method: str = "triplet", class_balance: Any = None, *,
                 method_options: Optional[Dict[str, Any]] = None, n_threads: Optional[int] = None,
                 split_every: int = SPLIT_EVERY) -> None:
        self.cardinality = cardinality
        self.method = method
        self.class_balance = class_balance
        self.method_options = method_options
        self.n_threads = n_threads
        self.split_every = split_every

    def fit(self, L: Any, *, groups: Any = None, n_groups: Optional[int] = None,
            client: Optional["distributed.Client"] = None) -> "DaskLabelModel":
        """Fit from the statistics of the distributed L (one model per group when ``groups`` is given)."""
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")
        k = check_cardinality(self.cardinality)
        balance = None if self.class_balance is None else np.asarray(self.class_balance, dtype=np.float64)
        options = dict(self.method_options or {})
        if self.method == "dawid_skene":
            from .em import fit_dawid_skene_dask

            fits, stats = fit_dawid_skene_dask(
                L, k, balance, groups=groups, n_groups=n_groups, n_threads=self.n_threads,
                split_every=self.split_every, client=client, **options)
        else:
            stats = label_stats(L, k, groups=groups, n_groups=n_groups, overlap_matrix=self.method == "covariance",
                                n_threads=self.n_threads, split_every=self.split_every, client=client)
            fit_fn = _stats_fit_function(self.method)
            parts = [stats] if groups is None else [stats.group(g) for g in range(stats.n_groups)]
            fits = [fit_fn(s, balance, **options) for s in parts]
        self.stats_ = stats
        self.fits_ = fits
        self.n_groups_ = len(fits) if groups is not None else None
        cpts = np.stack([f.cpt for f in fits])
        priors = np.stack([f.class_balance for f in fits])
        self.cpt_ = cpts if groups is not None else cpts[0]
        self.class_balance_ = priors if groups is not None else priors[0]
        return self

    def predict_proba(self, L: Any, *, groups: Any = None) -> "da.Array":
        """(n, k) posteriors as a lazy dask array computed on the workers."""
        if not hasattr(self, "fits_"):
            raise NotFittedError("DaskLabelModel: not fitted; call fit(L) first")
        if (groups is None) != (self.n_groups_ is None):
            raise ValueError("groups: pass groups exactly when the model was fitted with groups")
        return predict_proba(L, self.fits_, groups=groups, n_threads=self.n_threads)

    def to_label_model(self) -> Any:
        """The fitted parameters as a single-machine :class:`labelfuse.LabelModel` (ungrouped models only): for
        ``save``/``load`` (no pickle), ``score`` and in-memory ``predict_proba``. It holds no rows, so its
        ``refit`` asks for a fresh ``fit``."""
        from ..models import LabelModel

        if not hasattr(self, "fits_"):
            raise NotFittedError("DaskLabelModel: not fitted; call fit(L) first")
        if self.n_groups_ is not None:
            raise ValueError("to_label_model: this model has one fit per group; LabelModel holds one")
        options = dict(self.method_options or {})
        em = {key: options.pop(key) for key in ("max_iter", "tol", "smoothing") if key in options}
        model = LabelModel(self.cardinality, method=self.method, class_balance=self.class_balance,
                           method_options=options or None, n_threads=self.n_threads, **em)
        fit = self.fits_[0]
        balance = None if self.class_balance is None else np.asarray(self.class_balance, np.float64)
        return model.install_fit(fit, self.stats_, int(self.cardinality), fit.cpt.shape[0], class_balance=balance)

    def predict(self, L: Any, *, groups: Any = None) -> "da.Array":
        """Most probable class per row (lowest class id on ties), as a lazy int64 dask array."""
        return self.predict_proba(L, groups=groups).argmax(axis=1)


def _stats_fit_function(method: str) -> Any:
    try:
        if method == "triplet":
            from ..models.triplet import fit_triplet

            return fit_triplet
        from ..models.covariance import fit_covariance

        return fit_covariance
    except ImportError as exc:
        raise ImportError(f"method={method!r}: this labelfuse build has no {method} fit ({exc})") from exc
