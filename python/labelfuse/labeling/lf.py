"""Labeling functions: what one LF is, how it is declared, and what it may return.

A labeling function (LF) looks at one example and votes a class id (0..k-1) or abstains (-1 or None)::

    @labeling_function(resources={"keywords": ("http", "www")})
    def has_link(x, keywords):
        return SPAM if any(w in x.text.lower() for w in keywords) else ABSTAIN

    has_link(row)        # a plain int: 1 or -1

Preprocessors (``pre=[...]``) map an example to a richer one before the LF sees it; the appliers of
:mod:`labelfuse.labeling.apply` run a preprocessor chain shared by several LFs once per row. :func:`check_vote`
is the one rule for what an LF may return.
"""
from __future__ import annotations

import numbers
from collections import Counter
from functools import partial, update_wrapper
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .preprocess import Preprocessor as PreprocessorClass, PreprocessorError, mutable_copy

__all__ = ["ABSTAIN", "MAX_CLASS_ID", "LabelingFunction", "as_lfs", "check_vote", "labeling_function"]

ABSTAIN = -1

Preprocessor = Callable[[Any], Any]
_MISSING = object()


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

    ``spec`` is None for an LF written as Python code; the keyword / regex factories of
    :mod:`labelfuse.labeling.templates` set it to a JSON-able dict from which the LF can be rebuilt without code.
    """

    spec: Optional[Dict[str, Any]] = None

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
    """One preprocessor step: a :class:`~labelfuse.labeling.preprocess.Preprocessor` runs as it is (copy, memo);
    a plain callable gets a copy it may modify (:func:`~labelfuse.labeling.preprocess.mutable_copy`). Either way an
    exception inside it comes out as a PreprocessorError naming it."""
    if isinstance(p, PreprocessorClass):
        return p(x)
    try:
        out = p(mutable_copy(x))
    except PreprocessorError:
        raise
    except Exception as exc:
        raise PreprocessorError(_name(p), exc) from exc
    if out is None:
        raise ValueError(f"preprocessor {_name(p)!r} returned None; a preprocessor must return the (new) example")
    return out


def _name(p: Preprocessor) -> str:
    return getattr(p, "__name__", None) or repr(p)


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

