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
from .preprocess import PreprocessorError
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
    """Emitted once per fault-tolerant run in which some LF calls failed.

    Args:
        message: which LFs failed on how many rows.

    Example:
        >>> import warnings, labelfuse as lf
        >>> @lf.labeling_function()
        ... def inverse(x):
        ...     return 1 // x
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     L = lf.apply_lfs([inverse], [1, 0], fault_tolerant=True, progress=False)
        >>> L.tolist(), any(issubclass(w.category, lf.labeling.LFFailureWarning) for w in caught)
        ([[1], [-1]], True)
    """


# -- failures --------------------------------------------------------------------------------------------------------
class LFApplyError(RuntimeError):
    """A labeling function, or one of its preprocessors, raised on some row; the original exception is
    ``__cause__``. ``preprocessor`` names the preprocessor that failed (None when the LF itself raised).

    Args:
        lf: the LF's name.
        row: the row it failed on.
        exception: what it raised.
        preprocessor: the name of the preprocessor that raised, or None.

    Example:
        >>> import labelfuse as lf
        >>> @lf.labeling_function()
        ... def inverse(x):
        ...     return 1 // x
        >>> try:
        ...     lf.apply_lfs([inverse], [1, 0], progress=False)
        ... except lf.labeling.LFApplyError as e:
        ...     print(type(e.__cause__).__name__)
        ZeroDivisionError
    """

    def __init__(self, lf: str, row: int, exception: BaseException, preprocessor: Optional[str] = None) -> None:
        what = (f"labeling function {lf!r}" if preprocessor is None
                else f"preprocessor {preprocessor!r} (in the pre=[...] of labeling function {lf!r})")
        super().__init__(
            f"{what} failed on row {row}: {type(exception).__name__}: {exception} "
            "(use fault_tolerant=True to record failures and keep going)"
        )
        self.lf = lf
        self.row = row
        self.preprocessor = preprocessor


@dataclass(frozen=True)
class LFFailure:
    """One LF that failed on one row (positional row number, 0-based); its entry in L was left at -1.
    ``preprocessor`` names the preprocessor that raised, when it was one of the LF's preprocessors. The first
    :data:`TRACEBACKS_PER_LF` failures of each LF keep the exception's traceback; later ones keep the exception
    (type and message) without it, so that a run with many failures does not keep every failed call's frames.

    Args:
        row: positional row number (0-based).
        lf: the LF's name.
        exception: what it raised.
        preprocessor: the preprocessor that raised, or None.

    Example:
        >>> import labelfuse as lf
        >>> @lf.labeling_function()
        ... def fails(x):
        ...     return 1 // x
        >>> L, failures = lf.apply_lfs([fails], [1, 0], fault_tolerant=True, return_failures=True, progress=False)
        ... # doctest: +SKIP
    """

    row: int
    lf: str
    exception: BaseException
    preprocessor: Optional[str] = None


# Tracebacks kept per LF: the first few tell what went wrong; every later failure keeps its row, type and message
# but not its traceback, whose frames (an LF's locals, the row) would otherwise stay alive for every failed call.
TRACEBACKS_PER_LF = 5


def _strip(exc: BaseException) -> BaseException:
    """``exc`` without its traceback and chained exceptions (which hold the frames of the failed call)."""
    exc.__traceback__ = None
    exc.__context__ = None
    exc.__cause__ = None
    return exc


class LFFailures(Sequence[LFFailure]):
    """The failures recorded by a fault-tolerant application, in row order.

    Args:
        failures: the recorded :class:`LFFailure` entries.
        lf_names: the names of every applied LF (for per-LF counts).

    Example:
        >>> from labelfuse.labeling import LFFailures
        >>> len(LFFailures([], ["a", "b"]))
        0
    """

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
            "preprocessor": pd.Series([f.preprocessor for f in self._failures], dtype=object),
        })

    def __repr__(self) -> str:
        if not self._failures:
            return "LFFailures(none)"
        per_lf = ", ".join(f"{n}: {k}" for n, k in Counter(
            f.lf if f.preprocessor is None else f"{f.lf} (preprocessor {f.preprocessor})" for f in self._failures
        ).most_common())
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
    Row._columns = tuple(columns)  # the original names (a preprocessor's copy of the row keeps them)
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
            the failure is recorded in ``failures_`` instead of stopping the run (every failure with its row, type
            and message; the first few of each LF with their traceback).
        progress: show a tqdm progress bar.

    After :meth:`apply`, ``failures_`` holds an :class:`LFFailures` (empty when nothing failed).

    ``apply(data)`` accepts a DataFrame (rows passed to the LFs as namedtuples, see :func:`dataframe_rows`),
    a numpy array (rows; elements of a 1-D array), or any sequence/iterable of examples. L is int8 when every label
    fits (class ids <= 127, and cardinality <= 128 when given), else int16 (int32 beyond 32767).

    Example:
        >>> import pandas as pd, labelfuse as lf
        >>> @lf.labeling_function()
        ... def short(x):
        ...     return 0 if len(x.text) < 5 else -1
        >>> lf.LFApplier([short], progress=False).apply(pd.DataFrame({"text": ["hi", "hello there"]})).tolist()
        [[0], [-1]]
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
        with_traceback = [0] * m  # failures of each LF recorded with their traceback so far

        def record(i: int, j: int, exc: BaseException, preprocessor: Optional[str] = None) -> None:
            if with_traceback[j] < TRACEBACKS_PER_LF:
                with_traceback[j] += 1
            else:
                _strip(exc)
            failures.append(LFFailure(i, lfs[j].name, exc, preprocessor=preprocessor))

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
                        pre = exc.preprocessor if isinstance(exc, PreprocessorError) else None
                        cause = exc.exception if isinstance(exc, PreprocessorError) else exc
                        if not self.fault_tolerant:
                            raise LFApplyError(lfs[j].name, i, cause, preprocessor=pre) from cause
                        record(i, j, cause, pre)
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
                            record(i, j, exc)
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

    Args:
        lfs: labeling functions (or plain callables); names must be unique.
        data: a DataFrame, a numpy array or any sequence of examples.
        cardinality: number of classes k; when given, votes outside -1..k-1 are errors.
        fault_tolerant: record an LF that raises on a row (its entry stays -1) instead of stopping.
        progress: show a tqdm progress bar.
        return_failures: also return the recorded failures.

    Returns:
        L, or ``(L, failures)`` when ``return_failures`` is True.

    Example:
        >>> import labelfuse as lf
        >>> @lf.labeling_function()
        ... def has_link(x):
        ...     return 1 if "http" in x else -1
        >>> lf.apply_lfs([has_link], ["see http://x.co", "hi"], progress=False).tolist()
        [[1], [-1]]
    """
    applier = LFApplier(lfs, cardinality=cardinality, fault_tolerant=fault_tolerant, progress=progress)
    L = applier.apply(data)
    return (L, applier.failures_) if return_failures else L
