"""Preprocessors: functions that map an example to a richer one before labeling functions see it (``pre=[...]``).

Snorkel's idiom works as written: a preprocessor receives its own copy of the row, may add fields to it and
returns it, and the caller's data is never modified::

    from labelfuse.labeling import labeling_function, preprocessor

    @preprocessor(memoize=True)
    def lowercase(x):
        x.lower = x.text.lower()
        return x

    @labeling_function(pre=[lowercase])
    def mentions_free(x):
        return 1 if "free" in x.lower else -1

An exception raised inside a preprocessor is reported as a :class:`PreprocessorError` naming the preprocessor
(the appliers add the LF and the row).
"""
from __future__ import annotations

import copy
import math
import types
from collections import OrderedDict
from functools import update_wrapper
from typing import Any, Callable, Dict, Hashable, Iterator, Optional

import numpy as np
import pandas as pd

__all__ = ["MutableRow", "Preprocessor", "PreprocessorError", "preprocessor"]


class PreprocessorError(RuntimeError):
    """A preprocessor raised; ``preprocessor`` is its name and ``exception`` (also ``__cause__``) the original."""

    def __init__(self, preprocessor: str, exception: BaseException) -> None:
        super().__init__(f"preprocessor {preprocessor!r} failed: {type(exception).__name__}: {exception}")
        self.preprocessor = preprocessor
        self.exception = exception


class MutableRow:
    """A copy of one example's fields that a preprocessor may extend: ``x.new = ...`` and ``x["new"] = ...``.

    Fields read by attribute (``x.text``) and by name (``x["my col"]``); ``x[0]`` is the first field, as on the
    rows the appliers pass. Iterating yields the values, as on a pandas row.
    """

    def __init__(self, fields: Dict[str, Any]) -> None:
        self.__dict__.update(fields)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self.__dict__[key]
            except KeyError:
                raise KeyError(f"row has no field {key!r}; fields: {list(self.__dict__)}") from None
        return list(self.__dict__.values())[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"row fields are named by str, got {type(key).__name__}")
        self.__dict__[key] = value

    def __contains__(self, key: Any) -> bool:
        return key in self.__dict__

    def __iter__(self) -> Iterator[Any]:
        return iter(self.__dict__.values())

    def __len__(self) -> int:
        return len(self.__dict__)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MutableRow) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return "MutableRow(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


def _row_fields(x: Any) -> Optional[Dict[str, Any]]:
    """The fields of a row type the appliers pass (namedtuple rows), or None for anything else."""
    fields = getattr(type(x), "_fields", None)
    if isinstance(x, tuple) and fields is not None:
        # the appliers' rows carry their DataFrame's column names (namedtuple renames "my col" to "_1")
        return dict(zip(getattr(type(x), "_columns", fields), x))
    return None


def mutable_copy(x: Any) -> Any:
    """What a preprocessor receives: a copy it may modify, so neither the caller's data nor another preprocessor's
    cached output changes. Rows (namedtuples, :class:`MutableRow`) become a :class:`MutableRow`; a pandas Series is
    copied as object dtype; a dict or SimpleNamespace is copied shallowly; anything else (str, arrays, custom objects) is passed as it is."""
    if isinstance(x, str):  # the common case for lists of texts: immutable, nothing to copy
        return x
    columns = getattr(type(x), "_columns", None)  # the appliers' DataFrame rows: the fast path
    if columns is not None and isinstance(x, tuple):
        row = object.__new__(MutableRow)
        row.__dict__.update(zip(columns, x))
        return row
    fields = _row_fields(x)
    if fields is not None:
        return MutableRow(fields)
    if isinstance(x, MutableRow):
        return MutableRow(x.__dict__)
    if isinstance(x, pd.Series):
        return x.astype(object)  # a copy that accepts new fields of any type (a str-dtype row would refuse ints)
    if isinstance(x, (dict, types.SimpleNamespace)):
        return copy.copy(x)
    return x


def hashable_key(x: Any) -> Hashable:
    """The default memoization key of an example: its content (field names and values), not its identity, so the
    same row read twice (two applier runs, a workspace re-applying an LF) hits the cache. Lists, dicts, Series and
    arrays are turned into tuples / bytes; anything else unhashable raises TypeError (pass ``memoize_key``)."""
    if isinstance(x, (str, bytes, int, bool)) or x is None:
        return x
    if isinstance(x, float):
        return ("nan",) if math.isnan(x) else x
    fields = _row_fields(x)
    if fields is not None:
        return ("row",) + tuple((k, hashable_key(v)) for k, v in fields.items())
    if isinstance(x, MutableRow):
        return ("row",) + tuple((k, hashable_key(v)) for k, v in x.__dict__.items())
    if isinstance(x, pd.Series):
        return ("row",) + tuple((str(k), hashable_key(v)) for k, v in x.items())
    if isinstance(x, dict):
        return ("dict",) + tuple((hashable_key(k), hashable_key(v)) for k, v in x.items())
    if isinstance(x, types.SimpleNamespace):
        return ("row",) + tuple((k, hashable_key(v)) for k, v in vars(x).items())
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, (list, tuple)):
        return (type(x).__name__,) + tuple(hashable_key(v) for v in x)
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"cannot build a memoization key for a {type(x).__name__}; pass memoize_key=") from None
    return x


class Preprocessor:
    """A named example -> example map for ``pre=[...]``, optionally memoized across calls.

    Args:
        name: the name used in error messages.
        f: ``f(x) -> x'``; ``x`` is a copy the function may modify (see :func:`mutable_copy`); it must return the
            (new) example.
        memoize: keep each result, keyed by ``memoize_key(x)``, and return it again for an equal example (for
            expensive preprocessors such as a parser, when the same rows are labelled repeatedly). Results are
            shared: LFs must not modify what a preprocessor returns.
        memoize_key: ``x -> hashable`` (default :func:`hashable_key`: the example's content).
        max_cache: at most this many results are kept (least recently used dropped first); None = no bound.

    ``reset_cache()`` empties the memo.
    """

    def __init__(self, name: str, f: Callable[[Any], Any], *, memoize: bool = False,
                 memoize_key: Optional[Callable[[Any], Hashable]] = None, max_cache: Optional[int] = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name: expected a non-empty str, got {name!r}")
        if not callable(f):
            raise TypeError(f"f: expected a callable, got {type(f).__name__}")
        if memoize_key is not None and not callable(memoize_key):
            raise TypeError(f"memoize_key: expected a callable, got {type(memoize_key).__name__}")
        if max_cache is not None and (isinstance(max_cache, bool) or not isinstance(max_cache, int)
                                      or max_cache < 1):
            raise ValueError(f"max_cache: expected a positive int or None, got {max_cache!r}")
        self.name = name
        self.f = f
        self.memoize = bool(memoize)
        self.memoize_key = memoize_key if memoize_key is not None else hashable_key
        self.max_cache = max_cache
        self._cache: "OrderedDict[Hashable, Any]" = OrderedDict()

    def reset_cache(self) -> None:
        self._cache.clear()

    def __call__(self, x: Any) -> Any:
        if not self.memoize:
            return self._run(x)
        try:
            key = self.memoize_key(x)
            hit = self._cache.get(key, self)
        except Exception as exc:
            raise PreprocessorError(self.name, exc) from exc
        if hit is not self:
            self._cache.move_to_end(key)
            return hit
        out = self._run(x)
        self._cache[key] = out
        if self.max_cache is not None and len(self._cache) > self.max_cache:
            self._cache.popitem(last=False)
        return out

    def _run(self, x: Any) -> Any:
        try:
            out = self.f(mutable_copy(x))
        except Exception as exc:
            raise PreprocessorError(self.name, exc) from exc
        if out is None:
            raise ValueError(f"preprocessor {self.name!r} returned None; a preprocessor must return the (new) "
                             "example (Snorkel idiom: modify x, then `return x`)")
        return out

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()  # a memo is not shipped to workers or saved
        return state

    def __repr__(self) -> str:
        return f"Preprocessor({self.name!r}{', memoize=True' if self.memoize else ''})"


def preprocessor(name: Any = None, *, memoize: bool = False, memoize_key: Optional[Callable[[Any], Hashable]] = None,
                 max_cache: Optional[int] = None) -> Any:
    """Decorator turning ``f(x) -> x'`` into a :class:`Preprocessor` (named after the function by default), for
    ``labeling_function(pre=[...])``. Works with and without parentheses, as Snorkel's ``@preprocessor()``.

    Example::

        @preprocessor(memoize=True)
        def add_words(x):
            x.words = x.text.split()
            return x

        @labeling_function(pre=[add_words])
        def long_comment(x):
            return 0 if len(x.words) > 30 else -1
    """
    if callable(name) and memoize is False and memoize_key is None and max_cache is None:  # bare @preprocessor
        return preprocessor()(name)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")

    def decorate(f: Callable[[Any], Any]) -> Preprocessor:
        p = Preprocessor(name if name is not None else getattr(f, "__name__", "preprocessor"), f, memoize=memoize,
                         memoize_key=memoize_key, max_cache=max_cache)
        update_wrapper(p, f, assigned=("__module__", "__name__", "__qualname__", "__doc__"), updated=())
        return p

    return decorate
