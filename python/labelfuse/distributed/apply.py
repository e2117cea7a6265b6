"""Applying labeling functions on a Dask cluster: each partition of a dask DataFrame is labeled on its worker and
its votes stay there as one int8 block of a dask array; failures come back to the client as a small table."""
from __future__ import annotations

import operator
import traceback
import warnings
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .._validation import check_cardinality, check_count, label_dtype
from ..labeling.apply import LFApplier, LFApplyError, LFFailureWarning
from ..labeling.lf import as_lfs
from ._dask import da, dask, distributed, get_client

__all__ = ["DaskLFApplier", "DistributedLFError", "apply_lfs", "local_cluster"]


class DistributedLFError(RuntimeError):
    """A labeling function raised on a worker (non-fault-tolerant mode). The message names the LF, the partition,
    the row (global position and index label) and carries the worker-side traceback as text (the original
    exception object may not be picklable).

    Args:
        message: the LF, the partition, the row and the worker-side traceback.

    Example::

        try:
            L = lfd.apply_lfs(lfs, ddf)
        except lfd.DistributedLFError as e:
            print(e)                      # which LF failed where, with the worker's traceback
    """


# -- cluster and client ------------------------------------------------------------------------------------------------
def local_cluster(n_workers: int = 2, threads_per_worker: int = 1, **kwargs: Any) -> "distributed.LocalCluster":
    """A LocalCluster of ``n_workers`` spawn-started worker processes (never forked: OpenMP is not fork-safe, see
    :mod:`labelfuse.distributed`).

    Extra keyword arguments go to :class:`distributed.LocalCluster` (e.g. ``memory_limit``, ``dashboard_address``).

    Example::

        from dask.distributed import Client
        from labelfuse import distributed as lfd

        client = Client(lfd.local_cluster(n_workers=2))

    Args:
        n_workers: worker processes.
        threads_per_worker: threads per worker.
        kwargs: passed to :class:`distributed.LocalCluster`.

    Returns:
        The started LocalCluster (use it with ``Client(cluster)``; close it when done).
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


# -- applying labeling functions ---------------------------------------------------------------------------------------
def _label_dtype(k: Optional[int]) -> Optional[np.dtype]:
    return None if k is None else label_dtype(k)


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

    Example::

        applier = DaskLFApplier(lfs, cardinality=2, fault_tolerant=True)
        L = applier.apply(ddf)                  # ddf: a dask DataFrame; L: (n, m) int8 dask array
        applier.failure_counts_                 # failures per LF
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
        max_failure_rows = check_count(self.max_failure_rows, "max_failure_rows", 0)
        client = get_client(self.client)
        names = [lf.name for lf in lfs]
        # The LFs enter the task graph once, as a literal every task refers to by key (not scattered: scattered data
        # has no lineage, so a worker lost later would take the blocks of L with it for good; from the graph the
        # scheduler recomputes a lost block from its partition and the LFs).
        shared_lfs = dask.delayed(lfs, traverse=False, pure=False)
        parts = data.to_delayed()
        tasks = [
            dask.delayed(_apply_partition, pure=False)(
                p, shared_lfs, k, bool(self.fault_tolerant), i, max_failure_rows)
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
    ``(L, failures)`` (a DataFrame, see :class:`DaskLFApplier`) when ``return_failures`` is True.

    Example::

        L = apply_lfs(lfs, ddf, cardinality=2)   # ddf: a dask DataFrame, one block of L per partition

    Args:
        lfs: labeling functions (as for :func:`labelfuse.apply_lfs`).
        data: a dask DataFrame.
        cardinality: number of classes k; when given, votes outside -1..k-1 are errors.
        fault_tolerant: record an LF that raises on a row instead of stopping.
        progress: tqdm bar over the partitions on the client.
        return_failures: also return the recorded failures.
        client: compute on this Client (default: the current one).

    Returns:
        The (n, m) int8 dask array L, or ``(L, failures)``.
    """
    applier = DaskLFApplier(lfs, cardinality=cardinality, fault_tolerant=fault_tolerant, progress=progress,
                            client=client)
    L = applier.apply(data)
    return (L, applier.failures_) if return_failures else L


