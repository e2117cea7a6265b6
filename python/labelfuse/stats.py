"""Sufficient statistics of a label matrix, computed in one native pass and additive across shards.

Every count is an int64 sum over rows, so statistics of disjoint row sets add up exactly (``a + b``), which is
what lets a Dask cluster or an incremental refit reuse them. Frequencies are derived once, at the end.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional

import numpy as np

from . import _core
from ._validation import (
    as_groups,
    check_memory,
    check_stats_memory,
    as_label_matrix,
    as_labels,
    check_count,
    check_n_threads,
    infer_cardinality,
)

__all__ = ["LabelStats", "GroupIndex", "label_stats", "gather_rows"]

# Fields with a leading group axis, in the order the core returns them.
_COUNT_FIELDS = (
    "rows", "covered", "overlapping", "conflicting", "class_counts", "lf_overlaps", "lf_conflicts", "covote",
    "agree",
)
_OPTIONAL_FIELDS = ("overlap", "confusion", "gold_counts")


@dataclass(frozen=True)
class GroupIndex:
    """Rows sorted by group (stable): ``order[offsets[g]:offsets[g+1]]`` are the rows of group g.

    Computing it is an O(n) counting sort; keep it when the groups do not change (e.g. embedding partitions)
    and pass it to :func:`label_stats` instead of the group ids.

    Args:
        groups: (n,) group id of every row.
        order: (n,) the rows sorted by group (stable).
        offsets: (G + 1,) where each group starts in ``order``.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> index = lf.GroupIndex.from_groups(np.array([1, 0, 1, 0]), n_groups=2)
        >>> index.order.tolist(), index.offsets.tolist()
        ([1, 3, 0, 2], [0, 2, 4])
    """

    groups: np.ndarray
    order: np.ndarray
    offsets: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_groups(cls, groups: Any, n: Optional[int] = None, n_groups: Optional[int] = None) -> "GroupIndex":
        groups_arr = np.asarray(groups)
        if n is None:
            n = groups_arr.shape[0] if groups_arr.ndim == 1 else 0  # as_groups names the wrong shape
        g, G = as_groups(groups_arr, n, n_groups)
        order, offsets = _core.group_order(g, G)
        return cls(g, order, offsets)


@dataclass(eq=False)
class LabelStats:
    """Counts over the rows of a label matrix, per group (axis 0 has one entry per group).

    Attributes (G groups, m LFs, k classes; all int64 counts):
        rows, covered, overlapping, conflicting: (G,) rows seen / with >= 1 vote / with >= 2 votes / with two
            different votes.
        class_counts: (G, m, k) votes of each LF for each class.
        lf_overlaps, lf_conflicts: (G, m) rows where the LF votes and another LF votes (differently).
        covote, agree: (G, m, m) rows where both LFs vote / vote the same class; diagonals are coverages.
        overlap: (G, m, k, m, k) one-hot co-occurrence counts O, only when requested.
        confusion: (G, m, k, k) gold class (axis 2) x vote (axis 3), only with gold labels.
        gold_counts: (G, k) gold class counts, only with gold labels.

    Args:
        cardinality: k.
        rows: the counts described above; so are ``covered``, ``overlapping``, ``conflicting``, ``class_counts``,
            ``lf_overlaps``, ``lf_conflicts``, ``covote``, ``agree``, ``overlap``, ``confusion`` and ``gold_counts``
            (built by :func:`label_stats`, not by hand).
        grouped: whether axis 0 is one entry per group (True) or the statistics are of one group.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> L = np.array([[0, 0, -1], [1, 0, 1], [-1, -1, -1]], dtype=np.int8)
        >>> s = lf.label_stats(L, 2)
        >>> s.lf_coverage().round(2).tolist()
        [0.67, 0.67, 0.33]
    """

    cardinality: int
    rows: np.ndarray
    covered: np.ndarray
    overlapping: np.ndarray
    conflicting: np.ndarray
    class_counts: np.ndarray
    lf_overlaps: np.ndarray
    lf_conflicts: np.ndarray
    covote: np.ndarray
    agree: np.ndarray
    overlap: Optional[np.ndarray] = None
    confusion: Optional[np.ndarray] = None
    gold_counts: Optional[np.ndarray] = None
    grouped: bool = field(default=False)

    # -- shape ------------------------------------------------------------------------------------------------
    @property
    def n_groups(self) -> int:
        return int(self.rows.shape[0])

    @property
    def n_lfs(self) -> int:
        return int(self.class_counts.shape[1])

    @property
    def n_rows(self) -> int:
        return int(self.rows.sum())

    def group(self, g: int) -> "LabelStats":
        """The statistics of one group, as an ungrouped object."""
        if not 0 <= g < self.n_groups:
            raise IndexError(f"g: expected a group in 0..{self.n_groups - 1}, got {g}")
        return self._map(lambda a: a[g : g + 1], grouped=False)

    def total(self) -> "LabelStats":
        """The statistics of all groups together."""
        return self._map(lambda a: a.sum(axis=0, keepdims=True), grouped=False)

    # -- additivity -------------------------------------------------------------------------------------------
    def _check_compatible(self, other: "LabelStats") -> None:
        if not isinstance(other, LabelStats):
            raise TypeError(f"other: expected LabelStats, got {type(other).__name__}")
        if (self.cardinality, self.n_lfs, self.n_groups) != (other.cardinality, other.n_lfs, other.n_groups):
            raise ValueError(
                "other: statistics differ in shape (cardinality, n_lfs, n_groups): "
                f"{(self.cardinality, self.n_lfs, self.n_groups)} vs "
                f"{(other.cardinality, other.n_lfs, other.n_groups)}"
            )
        for name in _OPTIONAL_FIELDS:
            if (getattr(self, name) is None) != (getattr(other, name) is None):
                raise ValueError(f"other: one side has {name!r} and the other does not")

    def _combine(self, other: "LabelStats", op) -> "LabelStats":
        self._check_compatible(other)
        kw = {}
        for name in _COUNT_FIELDS + _OPTIONAL_FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            kw[name] = None if a is None else op(a, b)
        return LabelStats(cardinality=self.cardinality, grouped=self.grouped or other.grouped, **kw)

    def __add__(self, other: "LabelStats") -> "LabelStats":
        return self._combine(other, np.add)

    def __radd__(self, other: Any) -> "LabelStats":
        if isinstance(other, int) and other == 0:  # sum([...]) starts from 0
            return self
        return self.__add__(other)

    def __sub__(self, other: "LabelStats") -> "LabelStats":
        return self._combine(other, np.subtract)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelStats):
            return NotImplemented
        try:
            self._check_compatible(other)
        except ValueError:
            return False
        return all(
            (getattr(self, n) is None) or np.array_equal(getattr(self, n), getattr(other, n))
            for n in _COUNT_FIELDS + _OPTIONAL_FIELDS
        )

    def _map(self, fn, grouped: bool) -> "LabelStats":
        kw = {n: (None if getattr(self, n) is None else fn(getattr(self, n))) for n in _COUNT_FIELDS + _OPTIONAL_FIELDS}
        return LabelStats(cardinality=self.cardinality, grouped=grouped, **kw)

    def copy(self) -> "LabelStats":
        return self._map(np.array, grouped=self.grouped)

    # -- transport --------------------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """Plain arrays and ints (for npz files or sending between processes)."""
        out: Dict[str, Any] = {"cardinality": self.cardinality, "grouped": self.grouped}
        for name in _COUNT_FIELDS + _OPTIONAL_FIELDS:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "LabelStats":
        names = {f.name for f in fields(cls)}
        kw = {k: (np.asarray(v, dtype=np.int64) if k in _COUNT_FIELDS + _OPTIONAL_FIELDS else v)
              for k, v in d.items() if k in names}
        kw["cardinality"] = int(d["cardinality"])
        kw["grouped"] = bool(d.get("grouped", False))
        return cls(**kw)

    # -- frequencies ------------------------------------------------------------------------------------------
    def _per_group(self, a: np.ndarray) -> np.ndarray:
        return a if self.grouped else a[0]

    def _rows_like(self, a: np.ndarray) -> np.ndarray:
        shape = (self.n_groups,) + (1,) * (a.ndim - 1)
        return np.maximum(self.rows, 1).reshape(shape).astype(np.float64)

    def lf_coverage(self) -> np.ndarray:
        """Fraction of rows each LF votes on: (m,) or (G, m) when grouped."""
        cov = self.class_counts.sum(axis=2)
        return self._per_group(cov / self._rows_like(cov))

    def lf_overlap(self) -> np.ndarray:
        return self._per_group(self.lf_overlaps / self._rows_like(self.lf_overlaps))

    def lf_conflict(self) -> np.ndarray:
        return self._per_group(self.lf_conflicts / self._rows_like(self.lf_conflicts))

    def label_coverage(self) -> Any:
        return self._per_group(self.covered / np.maximum(self.rows, 1))

    def label_overlap(self) -> Any:
        return self._per_group(self.overlapping / np.maximum(self.rows, 1))

    def label_conflict(self) -> Any:
        return self._per_group(self.conflicting / np.maximum(self.rows, 1))

    def class_frequencies(self) -> np.ndarray:
        """P(lambda_j = c) per LF and class (abstentions are the remainder): (m, k) or (G, m, k)."""
        return self._per_group(self.class_counts / self._rows_like(self.class_counts))

    def agreement_rate(self) -> np.ndarray:
        """P(both vote and agree) for each pair: (m, m) or (G, m, m)."""
        return self._per_group(self.agree / self._rows_like(self.agree))

    def second_moment(self) -> np.ndarray:
        """Binary tasks: E[v_i v_j] with v = +1 (class 1), -1 (class 0), 0 (abstain). Diagonal: coverage."""
        if self.cardinality != 2:
            raise ValueError(f"second_moment: defined for binary tasks only (cardinality is {self.cardinality})")
        signed = 2 * self.agree - self.covote  # agreements minus disagreements; diagonal: coverage
        return self._per_group(signed / self._rows_like(signed))

    def first_moment(self) -> np.ndarray:
        """Binary tasks: E[v_i] with v = +1 / -1 / 0."""
        if self.cardinality != 2:
            raise ValueError(f"first_moment: defined for binary tasks only (cardinality is {self.cardinality})")
        diff = self.class_counts[:, :, 1] - self.class_counts[:, :, 0]
        return self._per_group(diff / self._rows_like(diff))

    def overlap_frequencies(self) -> np.ndarray:
        """O / n: P(lambda_i = a, lambda_j = b), shape (m*k, m*k) or (G, m*k, m*k)."""
        if self.overlap is None:
            raise ValueError("overlap: not computed; call label_stats(..., overlap_matrix=True)")
        G, m, k = self.n_groups, self.n_lfs, self.cardinality
        O = self.overlap.reshape(G, m * k, m * k)
        return self._per_group(O / self._rows_like(O))

    def empirical_accuracy(self) -> np.ndarray:
        """Fraction of each LF's votes that match the gold label (NaN where it never votes)."""
        if self.confusion is None:
            raise ValueError("confusion: not computed; call label_stats(..., Y=...)")
        correct = np.trace(self.confusion, axis1=2, axis2=3)
        votes = self.confusion.sum(axis=(2, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._per_group(np.where(votes > 0, correct / np.maximum(votes, 1), np.nan))

    def correct(self) -> np.ndarray:
        if self.confusion is None:
            raise ValueError("confusion: not computed; call label_stats(..., Y=...)")
        return self._per_group(np.trace(self.confusion, axis1=2, axis2=3))

    def incorrect(self) -> np.ndarray:
        if self.confusion is None:
            raise ValueError("confusion: not computed; call label_stats(..., Y=...)")
        return self._per_group(self.confusion.sum(axis=(2, 3)) - np.trace(self.confusion, axis1=2, axis2=3))

    # -- incremental update -----------------------------------------------------------------------------------
    def update_column(
        self,
        L: Any,
        column: int,
        old_column: Any,
        *,
        Y: Any = None,
        groups: Any = None,
        n_threads: Optional[int] = None,
    ) -> "LabelStats":
        """Statistics of ``L`` given these are the statistics of ``L`` with column ``column`` = ``old_column``.

        Costs O(n) to find the rows where the column changed plus O(votes) per changed row, instead of a full
        pass. ``Y`` and ``groups`` must be those the statistics were computed with.
        """
        L = as_label_matrix(L)
        n_threads = check_n_threads(n_threads)  # before the early return below: a bad argument is always reported
        n, m = L.shape
        if m != self.n_lfs:
            raise ValueError(f"L: expected {self.n_lfs} columns (as in these statistics), got {m}")
        column = check_count(column, "column")
        if column >= m:
            raise ValueError(f"column: expected an int in 0..{m - 1}, got {column}")
        old = np.asarray(old_column)
        if old.ndim != 1 or old.shape[0] != n:
            raise ValueError(f"old_column: expected a 1-D array of length {n}, got shape {old.shape}")
        if old.dtype.kind not in "i":
            raise TypeError(f"old_column: expected signed integers, got dtype {old.dtype}")
        out_of_range = (old < -1) | (old >= self.cardinality)
        if out_of_range.any():
            bad = int(np.flatnonzero(out_of_range)[0])
            raise ValueError(f"old_column: entry {bad} is {int(old[bad])}; votes must be -1 (abstain) or a class "
                             f"in 0..{self.cardinality - 1}")
        if (Y is None) != (self.confusion is None):
            raise ValueError("Y: pass the gold labels exactly when these statistics were computed with them")
        if self.grouped and groups is None:
            raise ValueError("groups: required, these statistics are grouped")
        changed = np.flatnonzero(L[:, column] != old)
        if changed.size == 0:
            return self.copy()
        gold = None if Y is None else as_labels(Y, n, self.cardinality)[changed]
        g = None
        if self.grouped or groups is not None:
            g, _ = as_groups(groups, n, self.n_groups)
            g = g[changed]
        try:
            return self.update_rows(gather_rows(L, changed), column, old[changed], Y=gold, groups=g,
                                    n_threads=n_threads)
        except ValueError as exc:  # a bad vote: name its row of L, not of the gathered rows
            message = re.sub(r"\(row (\d+),", lambda hit: f"(row {int(changed[int(hit.group(1))])},", str(exc))
            raise ValueError(message) from None

    def update_rows(
        self,
        rows: Any,
        column: int,
        old_values: Any,
        *,
        Y: Any = None,
        groups: Any = None,
        n_threads: Optional[int] = None,
    ) -> "LabelStats":
        """Statistics after some rows changed in one column only: ``rows`` holds those rows' votes now (an (r, m)
        matrix, e.g. :func:`gather_rows` of the changed rows), ``old_values`` (r,) their votes in ``column`` before,
        ``Y`` / ``groups`` their gold labels / groups when these statistics have them. Costs O(r m): the rest of
        the matrix is not read (what :meth:`update_column` calls once it has found the changed rows)."""
        rows = as_label_matrix(rows, "rows")
        n_threads = check_n_threads(n_threads)
        r, m = rows.shape
        if m != self.n_lfs:
            raise ValueError(f"rows: expected {self.n_lfs} columns (as in these statistics), got {m}")
        column = check_count(column, "column")
        if column >= m:
            raise ValueError(f"column: expected an int in 0..{m - 1}, got {column}")
        old = np.asarray(old_values)
        if old.shape != (r,) or old.dtype.kind not in "i":
            raise ValueError(f"old_values: expected {r} signed integer votes, got {old.dtype} of shape {old.shape}")
        if (Y is None) != (self.confusion is None):
            raise ValueError("Y: pass the gold labels exactly when these statistics were computed with them")
        if self.grouped and groups is None:
            raise ValueError("groups: required, these statistics are grouped")
        k = self.cardinality
        if r == 0:
            return self.copy()
        if old.min() < -1 or old.max() >= k:
            bad = int(np.flatnonzero((old < -1) | (old >= k))[0])
            raise ValueError(f"old_values: entry {bad} is {int(old[bad])}; votes must be -1 (abstain) or a class "
                             f"in 0..{k - 1}")
        gold = None if Y is None else as_labels(Y, r, k)
        if self.grouped or groups is not None:
            g, G = as_groups(groups, r, self.n_groups)
            order = np.argsort(g, kind="stable").astype(np.int64)
            offsets = np.concatenate([[0], np.cumsum(np.bincount(g, minlength=G))]).astype(np.int64)
        else:
            order = np.arange(r, dtype=np.int64)
            offsets = np.array([0, r], dtype=np.int64)
        common = dict(
            gold=gold, order=order, offsets=offsets, overlap_matrix=self.overlap is not None, focus_col=int(column),
            n_threads=n_threads,
        )
        after = _core.label_stats(rows, k, **common)
        before = _core.label_stats(
            rows, k, override_col=int(column), override_values=old[order].astype(np.int64), **common
        )
        return self + _from_core(after, k, self.grouped) - _from_core(before, k, self.grouped)


def gather_rows(L: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``L[rows]`` as a C-order matrix, fast for any layout: a column-major L (one LF's column contiguous) is
    gathered column by column (``np.take`` along axis 0 of a Fortran array reads element by element)."""
    if L.flags.f_contiguous and not L.flags.c_contiguous:
        return np.ascontiguousarray(L.T.take(rows, axis=1).T)
    return L.take(rows, axis=0)


def _from_core(d: Dict[str, Any], k: int, grouped: bool) -> LabelStats:
    # the counts only: "n_threads_used" (the threads the native pass ran on) describes the call, not the data
    counts = {name: value for name, value in d.items() if name != "n_threads_used"}
    return LabelStats(cardinality=k, grouped=grouped, **counts)


def label_stats(
    L: Any,
    cardinality: Optional[int] = None,
    *,
    Y: Any = None,
    groups: Any = None,
    n_groups: Optional[int] = None,
    group_index: Optional[GroupIndex] = None,
    overlap_matrix: bool = False,
    n_threads: Optional[int] = None,
) -> LabelStats:
    """Count everything the analysis and the label models need in one pass over L.

    Args:
        L: (n, m) votes, -1 = abstain, 0..k-1 = class; int8/int16/int32/int64 in C, Fortran or strided layout
            (read in place, no copy).
        cardinality: k; inferred as max(L) + 1 (at least 2) when None.
        Y: optional gold labels (n,) for correct / incorrect counts and per-LF confusion matrices.
        groups / n_groups: optional group id per row; every statistic is then counted per group.
        group_index: a precomputed :class:`GroupIndex` (instead of ``groups``).
        overlap_matrix: also count the one-hot overlap matrix O (memory G * (m*k)^2 * 8 bytes).
        n_threads: None = all cores, -1 = all, -2 = all but one, ...; 0 is an error. Results are identical
            for any thread count.

    Returns:
        A :class:`LabelStats` (one entry per group along axis 0 when ``groups`` or ``group_index`` is given).

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> L = np.array([[0, 0, -1], [1, 0, 1], [-1, -1, -1]], dtype=np.int8)
        >>> stats = lf.label_stats(L, 2)
        >>> int(stats.covered[0]) if stats.covered.ndim else int(stats.covered)
        2
    """
    L = as_label_matrix(L)
    n, m = L.shape
    k = infer_cardinality(L, cardinality, Y)
    n_threads = check_n_threads(n_threads)
    # the core runs at most one thread per 1024 rows, each with its own single-group accumulator
    threads = min(_core.resolve_threads(n_threads), max(1, n // 1024))
    if cardinality is None:  # first: an absurd inferred k is the root cause, and must not reach an allocation
        check_stats_memory(1, m, k, overlap=bool(overlap_matrix), gold=Y is not None, n_threads=threads,
                           inferred=True)
    if overlap_matrix:
        G = group_index.n_groups if group_index is not None else (n_groups or 1)
        check_memory(8 * G * (m * k) ** 2, "overlap_matrix", what=f" for {m} LFs x {k} classes x {G} groups",
                     advice="use the pairwise counts (covote / agree) or fewer LFs")
    gold = None if Y is None else as_labels(Y, n, k)
    if groups is not None and group_index is not None:
        raise ValueError("groups: pass either groups or group_index, not both")
    if groups is not None:
        group_index = GroupIndex.from_groups(groups, n, n_groups)
    check_stats_memory(
        1 if group_index is None else group_index.n_groups, m, k, overlap=bool(overlap_matrix), gold=Y is not None,
        n_threads=threads, inferred=cardinality is None,
        group_arg="n_groups" if n_groups is not None else ("groups" if groups is not None else "group_index"),
    )
    order = offsets = None
    if group_index is not None:
        if group_index.order.shape[0] != n:
            raise ValueError(f"group_index: built for {group_index.order.shape[0]} rows, L has {n}")
        order, offsets = group_index.order, group_index.offsets
    d = _core.label_stats(
        L, k, gold=gold, order=order, offsets=offsets, overlap_matrix=bool(overlap_matrix), n_threads=n_threads,
    )
    return _from_core(d, k, grouped=group_index is not None)
