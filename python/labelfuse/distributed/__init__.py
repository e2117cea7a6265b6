"""Scale-out on Dask: labeling functions, statistics, label models and posteriors over a cluster.

The label matrix never travels to the driver. Labeling functions run partition by partition on the workers and
their votes stay there as int8 blocks of a Dask array; each block's statistics are counted by the native core and
summed in a tree (statistics are int64 counts, so the sum is exact and does not depend on the partitioning); the
driver receives one small :class:`~labelfuse.LabelStats`, fits the label model from it, and sends the fitted tables
back so that posteriors are computed block by block on the workers::

    from labelfuse import distributed as lfd

    client = Client(lfd.local_cluster(n_workers=2))      # spawn-based worker processes
    L = lfd.apply_lfs(lfs, ddf, cardinality=2)          # dask array (n, m) int8, persisted on the workers
    stats = lfd.label_stats(L, 2)                        # LabelStats, summed in a tree reduction
    model = lfd.DaskLabelModel(2, method="triplet").fit(L)
    P = model.predict_proba(L)                           # dask array (n, k) float64

Label models: the triplet and covariance fits need only the reduced statistics. Dawid-Skene needs the rows at
every iteration: it runs as a distributed EM (one pass over the persisted blocks per iteration, per-block expected
counts reduced in the same tree; see ``labelfuse.distributed.em``). Liger-style partitioned models: fit the partitioner
on a sample (:func:`fit_partitions`), assign partition ids on the workers (:func:`assign_partitions`) and pass
them as ``groups`` to :func:`label_stats` / :class:`DaskLabelModel`: one model per partition from one reduction.
Extension (Epoxy / Liger): :func:`extend_votes` scatters the training database (votes + the fitted faiss
NeighborGraph) to every worker once; each worker extends its own blocks.

Threads: Dask's nanny starts workers with ``OMP_NUM_THREADS=1``, so the native core runs one OpenMP thread per
task by default (``n_threads=None``), and parallelism comes from the worker threads and processes. Pass
``n_threads`` to give each task more OpenMP threads: worth it with few, large partitions and idle cores; harmful
when ``threads_per_worker * n_workers * n_threads`` exceeds the cores (oversubscription). Results do not depend
on it.

Processes: workers must be started with ``spawn`` (Dask's default, config key
``distributed.worker.multiprocessing-method``): OpenMP (libgomp) is not fork-safe, and a forked worker of a
parent that already ran the core can deadlock. :func:`local_cluster` checks this.

The workflow, one module each: :mod:`.apply` (labeling functions on the workers), :mod:`.stats` (statistics in a
tree reduction), :mod:`.models` (label models and posteriors; :mod:`.em` holds the distributed Dawid-Skene EM),
:mod:`.fusion` (partitions and extension); :mod:`._dask` holds the Dask plumbing they share.

This package needs the ``dask`` extra (``pip install 'labelfuse[dask]'``); ``import labelfuse`` does not.
"""
from __future__ import annotations

from .apply import DaskLFApplier, DistributedLFError, apply_lfs, local_cluster
from .fusion import assign_partitions, extend_votes, fit_partitions
from .models import DaskLabelModel, predict_proba
from .stats import label_stats, tree_sum

__all__ = ["DaskLFApplier", "DaskLabelModel", "DistributedLFError", "apply_lfs", "assign_partitions", "extend_votes",
           "fit_partitions", "label_stats", "local_cluster", "predict_proba", "tree_sum"]
