"""The appliers that run labeling functions (:mod:`labelfuse.labeling.lf`) over a data set to build the label
matrix L, and the failures they record::

    L = apply_lfs([has_link, ...], df)          # (n, m) int8, -1 = abstain
    L, failures = apply_lfs(lfs, df, fault_tolerant=True, return_failures=True)

Calling the LFs is Python work per (row, LF) and cannot be moved into the native core, so the appliers keep
everything else out of the loop: rows are materialised once (no per-row pandas indexing), votes are written to a
flat typed buffer, and preprocessors shared by several LFs run once per row.
"""
from __future__ import annotations

import warnings
from array import array
from collections import Counter, namedtuple
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import check_cardinality, label_dtype
from ..diagnostics import LabelfuseWarning
from .lf import ABSTAIN, MAX_CLASS_ID, LabelingFunction, as_lfs, check_vote, labeling_function  # noqa: F401
# (LabelingFunction and labeling_function are re-exported: ``from labelfuse.labeling.apply import
# labeling_function`` keeps working)

__all__ = [
    "LFApplier",
    "LFApplyError",
    "LFFailure",
    "LFFailureWarning",
    "LFFailures",
    "apply_lfs",
]

_BAR_EVERY = 256  # rows per progress-bar update: tqdm's per-call cost is comparable to a cheap LF


class LFFailureWarning(LabelfuseWarning):
    """Emitted once per fault-tolerant run in which some LF calls failed."""


# -- failures --------------------------------------------------------------------------------------------------------
class LFApplyError(RuntimeError):
    """A labeling function raised on some row; the original exception is ``__cause__``."""

    def __init__(self, lf: str, row: int, exception: BaseException) -> None:
        super().__init__(
            f"labeling function {lf!r} failed on row {row}: {type(exception).__name__}: {exception} "
            "(use fault_tolerant=True to record failures and keep going)"
        )
        self.lf = lf
        self.row = row


@dataclass(frozen=True)
class LFFailure:
    """One LF that failed on one row (positional row number, 0-based); its entry in L was left at -1."""

    row: int
    lf: str
    exception: BaseException


class LFFailures(Sequence[LFFailure]):
    """The failures recorded by a fault-tolerant application, in row order."""

    def __init__(self, failures: Iterable[LFFailure] = (), lf_names: Sequence[str] = ()) -> None:
        self._failures = list(failures)
        self._lf_names = list(lf_names)

    def __len__(self) -> int:
        return len(self._failures)

    def __getitem__(self, i: Any) -> Any:
        return self._failures[i]

    def __iter__(self) -> Iterator[LFFailure]:
        return iter(self._failures)

    def counts(self) -> pd.Series:
        """Number of failed rows per LF (every LF listed, zeros included)."""
        c = Counter(f.lf for f in self._failures)
        return pd.Series([c.get(n, 0) for n in self._lf_names], index=pd.Index(self._lf_names, name="lf"),
                         name="failures", dtype=np.int64)

    def to_frame(self) -> pd.DataFrame:
        """One row per failure: row, lf, error (exception type) and message."""
        return pd.DataFrame({
            "row": pd.Series([f.row for f in self._failures], dtype=np.int64),
            "lf": pd.Series([f.lf for f in self._failures], dtype=object),
            "error": pd.Series([type(f.exception).__name__ for f in self._failures], dtype=object),
            "message": pd.Series([str(f.exception) for f in self._failures], dtype=object),
        })

    def __repr__(self) -> str:
        if not self._failures:
            return "LFFailures(none)"
        per_lf = ", ".join(f"{n}: {k}" for n, k in Counter(f.lf for f in self._failures).most_common())
        return f"LFFailures({len(self._failures)} failures; {per_lf})"


# -- rows ------------------------------------------------------------------------------------------------------------
def dataframe_rows(df: pd.DataFrame) -> List[Any]:
    """The rows of a DataFrame as light namedtuples readable by attribute *and* by column name.

    ``x.text`` and ``x["text"]`` both work (as on the pandas Series rows Snorkel passes), ``x[0]`` is the first
    column. Columns whose names are not Python identifiers are reachable by ``x["my col"]`` (pandas-style
    positional attribute names like ``x._1`` also work). Values are Python scalars, as ``Series.tolist`` gives.
    Built column-wise in one pass; no per-row pandas indexing.
    """
    columns = [str(c) for c in df.columns]
    base = namedtuple("Row", columns, rename=True)  # type: ignore[misc]
    index_of = {c: i for i, c in enumerate(columns)}

    class Row(base):  # type: ignore[valid-type, misc]
        __slots__ = ()

        def __getitem__(self, key: Any) -> Any:
            if isinstance(key, str):
                try:
                    return tuple.__getitem__(self, index_of[key])
                except KeyError:
                    raise KeyError(f"row has no column {key!r}; columns: {columns}") from None
            return tuple.__getitem__(self, key)

    Row.__qualname__ = "Row"
    values = [df.iloc[:, j].tolist() for j in range(df.shape[1])]
    make = Row._make
    return [make(v) for v in zip(*values)] if values else [make(()) for _ in range(len(df))]


def as_rows(data: Any) -> Sequence[Any]:
    """The examples in ``data`` as an indexable sequence, built once before the LF loop.

    DataFrame: :func:`dataframe_rows`; Series and 1-D arrays: Python scalars; 2-D+ arrays: row views; other
    sequences as they are; other iterables (generators) are materialised into a list.
    """
    if isinstance(data, pd.DataFrame):
        return dataframe_rows(data)
    if isinstance(data, pd.Series):
        return data.tolist()
    if isinstance(data, np.ndarray):
        if data.ndim == 0:
            raise TypeError("data: expected a sequence of examples, got a 0-d array")
        return data.tolist() if data.ndim == 1 else data
    if isinstance(data, (str, bytes)):
        raise TypeError("data: expected a sequence of examples, got a single str/bytes (wrap it in a list)")
    if isinstance(data, Mapping):
        raise TypeError("data: expected a sequence of examples, got a mapping (pass list(d.values()) or a DataFrame)")
    if isinstance(data, Sequence):
        return data
    if isinstance(data, Iterable):
        return list(data)
    raise TypeError(f"data: expected a sequence, numpy array or DataFrame of examples, got {type(data).__name__}")


# -- appliers --------------------------------------------------------------------------------------------------------
class LFApplier:
    """Applies labeling functions to every example and returns the label matrix L.

    Args:
        lfs: labeling functions (or plain callables, named by ``__name__``); names must be unique.
        cardinality: number of classes k; when given, votes outside -1..k-1 are errors.
        fault_tolerant: when True, an LF that raises (or returns an invalid label) on a row leaves -1 there and
            the failure is recorded in ``failures_`` instead of stopping the run.
        progress: show a tqdm progress bar.

    After :meth:`apply`, ``failures_`` holds an :class:`LFFailures` (empty when nothing failed).

    ``apply(data)`` accepts a DataFrame (rows passed to the LFs as namedtuples, see :func:`dataframe_rows`),
    a numpy array (rows; elements of a 1-D array), or any sequence/iterable of examples. L is int8 when every label
    fits (class ids <= 127, and cardinality <= 128 when given), else int16 (int32 beyond 32767).
    """

    def __init__(self, lfs: Sequence[Any], *, cardinality: Optional[int] = None, fault_tolerant: bool = False,
                 progress: bool = True) -> None:
        self.lfs = lfs
        self.cardinality = cardinality
        self.fault_tolerant = fault_tolerant
        self.progress = progress

    @property
    def lf_names(self) -> List[str]:
        return [lf.name for lf in as_lfs(self.lfs)]

    def apply(self, data: Any) -> np.ndarray:
        lfs = as_lfs(self.lfs)
        k = check_cardinality(self.cardinality) if self.cardinality is not None else None
        rows = as_rows(data)
        n, m = len(rows), len(lfs)
        votes = array("q", bytes(8 * n * m))  # flat int64 buffer; typed writes are cheaper than ndarray item sets
        failures: List[LFFailure] = []
        # One preprocessor cache shared by every LF and cleared per row; LFs without preprocessors or resources
        # are called directly, without going through LabelingFunction.
        cache: Dict[Tuple[int, ...], Any] = {}
        calls = [lf._caller(cache) for lf in lfs]
        any_pre = any(lf.pre for lf in lfs)
        upper = k if k is not None else MAX_CLASS_ID + 1
        bar = tqdm(total=n, desc="Applying LFs", unit="row", disable=not self.progress)
        try:
            pos = 0
            for i in range(n):
                x = rows[i]
                if any_pre:
                    cache.clear()
                for j in range(m):
                    try:
                        raw = calls[j](x)
                    except Exception as exc:
                        if not self.fault_tolerant:
                            raise LFApplyError(lfs[j].name, i, exc) from exc
                        failures.append(LFFailure(i, lfs[j].name, exc))
                        raw = ABSTAIN
                    # Fast path: a Python int in range needs no further checks.
                    if type(raw) is int and ABSTAIN <= raw < upper:
                        votes[pos] = raw
                    else:
                        try:
                            votes[pos] = check_vote(raw, lfs[j].name, k, row=i)
                        except (TypeError, ValueError) as exc:
                            if not self.fault_tolerant:
                                raise
                            failures.append(LFFailure(i, lfs[j].name, exc))
                            votes[pos] = ABSTAIN
                    pos += 1
                if (i + 1) % _BAR_EVERY == 0:
                    bar.update(_BAR_EVERY)
            bar.update(n - bar.n)
        finally:
            bar.close()
        self.failures_ = LFFailures(failures, [lf.name for lf in lfs])
        if failures:
            warnings.warn(
                f"{len(failures)} labeling-function calls failed and were left as abstains ({self.failures_!r}); "
                "see .failures_ for the rows and exceptions",
                LFFailureWarning, stacklevel=2,
            )
        flat = np.frombuffer(votes, dtype=np.int64)
        top = int(flat.max()) if flat.size else -1
        if k is not None:
            top = max(top, k - 1)
        return flat.astype(label_dtype(max(top + 1, 2))).reshape(n, m)


def apply_lfs(lfs: Sequence[Any], data: Any, *, cardinality: Optional[int] = None, fault_tolerant: bool = False,
              progress: bool = True, return_failures: bool = False) -> Any:
    """Apply labeling functions to every example: ``LFApplier(lfs, ...).apply(data)``.

    Returns L ((n, m) int8, -1 = abstain; see :class:`LFApplier` for dtypes and row types), or ``(L, failures)``
    with an :class:`LFFailures` when ``return_failures`` is True.
    """
    applier = LFApplier(lfs, cardinality=cardinality, fault_tolerant=fault_tolerant, progress=progress)
    L = applier.apply(data)
    return (L, applier.failures_) if return_failures else L
