"""Labeling functions and the appliers that run them over a data set to build the label matrix L.

A labeling function (LF) looks at one example and votes a class id (0..k-1) or abstains (-1 or None)::

    @labeling_function(resources={"keywords": ("http", "www")})
    def has_link(x, keywords):
        return SPAM if any(w in x.text.lower() for w in keywords) else ABSTAIN

    L = apply_lfs([has_link, ...], df)          # (n, m) int8, -1 = abstain

Calling the LFs is Python work per (row, LF) and cannot be moved into the native core, so the appliers keep
everything else out of the loop: rows are materialised once (no per-row pandas indexing), votes are written to a
flat typed buffer, and preprocessors shared by several LFs run once per row.
"""
from __future__ import annotations

import numbers
import warnings
from array import array
from collections import Counter, namedtuple
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import check_cardinality

__all__ = [
    "ABSTAIN",
    "LFApplier",
    "LFApplyError",
    "LFFailure",
    "LFFailureWarning",
    "LFFailures",
    "LabelingFunction",
    "apply_lfs",
    "labeling_function",
]

ABSTAIN = -1

Preprocessor = Callable[[Any], Any]
_MISSING = object()
_BAR_EVERY = 256  # rows per progress-bar update: tqdm's per-call cost is comparable to a cheap LF


class LFFailureWarning(UserWarning):
    """Emitted once per fault-tolerant run in which some LF calls failed."""


class LabelingFunction:
    """A named function that votes a class id for one example, or abstains.

    Args:
        name: unique name of the LF (the column name in summaries).
        f: ``f(x, **resources) -> int | None``; return a class id in 0..k-1, or -1 / None to abstain.
        resources: keyword arguments passed to ``f`` on every call (keyword lists, models, lookup tables).
        pre: preprocessors applied in order before ``f``: each maps an example to a (richer) example, e.g. adding
            a parsed document. Within one applier run, a preprocessor chain shared by several LFs runs once per row
            and its result is shared, so LFs must not mutate what a preprocessor returns.

    Calling the LF on one example returns a plain ``int`` (-1 = abstain) and raises TypeError/ValueError when
    ``f`` returns something that is not a label.
    """

    def __init__(self, name: str, f: Callable[..., Any], resources: Optional[Mapping[str, Any]] = None,
                 pre: Optional[Sequence[Preprocessor]] = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name: expected a non-empty str, got {name!r}")
        if not callable(f):
            raise TypeError(f"f: expected a callable, got {type(f).__name__}")
        if resources is not None and not isinstance(resources, Mapping):
            raise TypeError(f"resources: expected a mapping of keyword arguments, got {type(resources).__name__}")
        pre = list(pre) if pre is not None else []
        for p in pre:
            if not callable(p):
                raise TypeError(f"pre: expected callables, got {type(p).__name__}")
        self.name = name
        self.f = f
        self.resources: Dict[str, Any] = dict(resources or {})
        self.pre: List[Preprocessor] = pre
        # Identity of each preprocessor prefix: the applier caches chain results per row under these keys.
        self._pre_keys = [tuple(id(p) for p in pre[: i + 1]) for i in range(len(pre))]

    def __call__(self, x: Any) -> int:
        return check_vote(self._vote(x, None), self.name)

    def _vote(self, x: Any, cache: Optional[Dict[Tuple[int, ...], Any]]) -> Any:
        """The raw return value of ``f`` after preprocessing; ``cache`` shares preprocessor results within a row."""
        for p, key in zip(self.pre, self._pre_keys):
            if cache is None:
                x = _preprocess(p, x)
            else:
                hit = cache.get(key, _MISSING)
                x = cache[key] = _preprocess(p, x) if hit is _MISSING else hit
        return self.f(x, **self.resources) if self.resources else self.f(x)

    def _caller(self, cache: Dict[Tuple[int, ...], Any]) -> Callable[[Any], Any]:
        """``x -> raw vote`` for an applier loop: the bare function when there is nothing to add."""
        if self.pre:
            return partial(self._vote, cache=cache)
        if self.resources:
            return partial(self.f, **self.resources)
        return self.f

    def __repr__(self) -> str:
        pre = f", pre={[getattr(p, '__name__', repr(p)) for p in self.pre]}" if self.pre else ""
        res = f", resources={sorted(self.resources)}" if self.resources else ""
        return f"LabelingFunction({self.name!r}{res}{pre})"


def _preprocess(p: Preprocessor, x: Any) -> Any:
    out = p(x)
    if out is None:
        name = getattr(p, "__name__", repr(p))
        raise ValueError(f"preprocessor {name!r} returned None; a preprocessor must return the (new) example")
    return out


def labeling_function(name: Union[str, Callable[..., Any], None] = None, resources: Optional[Mapping[str, Any]] = None,
                      pre: Optional[Sequence[Preprocessor]] = None) -> Any:
    """Decorator turning a function into a :class:`LabelingFunction` (named after the function by default).

    Works with and without parentheses: ``@labeling_function`` and ``@labeling_function(name=..., pre=[...])``.
    """
    if callable(name) and resources is None and pre is None:  # bare @labeling_function
        return labeling_function()(name)

    def decorate(f: Callable[..., Any]) -> LabelingFunction:
        lf = LabelingFunction(name if name is not None else f.__name__, f, resources=resources, pre=pre)
        update_wrapper(lf, f, assigned=("__module__", "__name__", "__qualname__", "__doc__"), updated=())
        return lf

    return decorate


# L is at most int32: a larger class id would wrap around silently when the matrix is narrowed
MAX_CLASS_ID = 2**31 - 1


def check_vote(value: Any, lf_name: str, cardinality: Optional[int] = None, row: Optional[int] = None) -> int:
    """An LF's return value as an int label: None -> -1; ints (Python or numpy, not bool) checked for range."""
    if value is None:
        return ABSTAIN
    where = f" on row {row}" if row is not None else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"labeling function {lf_name!r} returned {value!r} of type {type(value).__name__}{where}; "
            "expected an int class id, or -1 / None to abstain"
        )
    value = int(value)
    upper = cardinality if cardinality is not None else MAX_CLASS_ID + 1
    if value < ABSTAIN or value >= upper:
        expected = f"a class id in 0..{upper - 1}"
        raise ValueError(
            f"labeling function {lf_name!r} returned {value}{where}; expected {expected}, or -1 / None to abstain"
        )
    return value


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
def as_lfs(lfs: Any) -> List[LabelingFunction]:
    """LabelingFunctions (plain callables are wrapped, named by ``__name__``) with unique names."""
    if isinstance(lfs, (LabelingFunction, str)) or not isinstance(lfs, Iterable):
        raise TypeError("lfs: expected a list of labeling functions")
    out = []
    for i, lf in enumerate(lfs):
        if isinstance(lf, LabelingFunction):
            out.append(lf)
        elif callable(lf):
            out.append(LabelingFunction(getattr(lf, "__name__", f"lf_{i}"), lf))
        else:
            raise TypeError(f"lfs: entry {i} is a {type(lf).__name__}, not a labeling function")
    if not out:
        raise ValueError("lfs: expected at least one labeling function")
    counts = Counter(lf.name for lf in out)
    dup = sorted(n for n, c in counts.items() if c > 1)
    if dup:
        raise ValueError(f"lfs: labeling function names must be unique; repeated: {dup}")
    return out


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
        dtype = np.int8 if top <= np.iinfo(np.int8).max else np.int16 if top <= np.iinfo(np.int16).max else np.int32
        return flat.astype(dtype).reshape(n, m)


def apply_lfs(lfs: Sequence[Any], data: Any, *, cardinality: Optional[int] = None, fault_tolerant: bool = False,
              progress: bool = True, return_failures: bool = False) -> Any:
    """Apply labeling functions to every example: ``LFApplier(lfs, ...).apply(data)``.

    Returns L ((n, m) int8, -1 = abstain; see :class:`LFApplier` for dtypes and row types), or ``(L, failures)``
    with an :class:`LFFailures` when ``return_failures`` is True.
    """
    applier = LFApplier(lfs, cardinality=cardinality, fault_tolerant=fault_tolerant, progress=progress)
    L = applier.apply(data)
    return (L, applier.failures_) if return_failures else L
