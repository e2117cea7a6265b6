"""Label statistics of a distributed label matrix: every block is counted on its worker by the native core and the
counts are added in a tree reduction, so only small :class:`~labelfuse.LabelStats` objects move."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .._validation import check_cardinality, check_count, check_n_threads
from ..stats import LabelStats
from ..stats import label_stats as _local_label_stats
from ._dask import (SPLIT_EVERY, aligned, as_label_array, block_offsets, check_groups_args, compute, dask,
                    distributed, in_matrix_rows, row_blocks)

__all__ = ["label_stats", "tree_sum"]


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
    exact for integer counts, and floats are always added in the same order for a given partitioning).

    Example::

        parts = [dask.delayed(count)(block) for block in L.to_delayed().ravel()]
        total = tree_sum(parts, split_every=8).compute()

    Args:
        parts: Delayed objects that support ``+``.
        split_every: fan-in of the reduction tree (at least 2).

    Returns:
        One Delayed object: the sum.
    """
    split_every = check_count(split_every, "split_every", 2)
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

    Example::

        stats = label_stats(L, 2)              # L from apply_lfs; == labelfuse.label_stats(L.compute(), 2)
        stats.lf_coverage()                    # (m,) fraction of rows each LF votes on

    Returns:
        One :class:`labelfuse.LabelStats`, equal to the statistics of the whole matrix counted in one process.
    """
    return compute(
        _stats_delayed(L, cardinality, Y=Y, groups=groups, n_groups=n_groups, overlap_matrix=overlap_matrix,
                       n_threads=n_threads, split_every=split_every),
        client,
    )


def _stats_delayed(L: Any, cardinality: int, *, Y: Any = None, groups: Any = None, n_groups: Optional[int] = None,
                   overlap_matrix: bool = False, n_threads: Optional[int] = None,
                   split_every: int = SPLIT_EVERY) -> Any:
    L = as_label_array(L)
    k = check_cardinality(cardinality)
    n_threads = check_n_threads(n_threads)
    G = check_groups_args(groups, n_groups)
    Yd, gd = aligned(Y, L, "Y"), aligned(groups, L, "groups")
    blocks = list(L.to_delayed().ravel())
    parts = [
        dask.delayed(in_matrix_rows, pure=True)(at, _block_stats, b, k, y, g, G, bool(overlap_matrix), n_threads)
        for at, b, y, g in zip(block_offsets(L), blocks, row_blocks(Yd, len(blocks)), row_blocks(gd, len(blocks)))
    ]
    return tree_sum(parts, split_every)


