"""Slicing functions: like labeling functions, but they return membership (True/False) instead of a vote."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import pandas as pd


class SlicingFunction:
    """A named predicate over one raw example: f(x) -> bool (membership in the slice).

    Args:
        name: the slice's name (no ".").
        f: ``f(x) -> bool``.

    Example:
        >>> from labelfuse.labeling import SlicingFunction
        >>> SlicingFunction("short", lambda x: len(x) < 5)("hi")
        True
    """

    def __init__(self, name: str, f: Callable[[Any], Any]):
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"name: expected a non-empty string without '.', got {name!r}")
        self.name = name
        self.f = f

    def __call__(self, x: Any) -> bool:
        return bool(self.f(x))

    def __repr__(self) -> str:
        return f"SlicingFunction({self.name!r})"


def slicing_function(name: Optional[str] = None) -> Callable[[Callable[[Any], Any]], SlicingFunction]:
    """Decorator: ``@slicing_function()`` names the slice after the function, ``@slicing_function("short")``
    names it explicitly.

    Args:
        name: the slice's name (default: the function's name).

    Returns:
        A decorator turning ``f(x) -> bool`` into a :class:`SlicingFunction`.

    Example:
        >>> from labelfuse.labeling import slicing_function
        >>> @slicing_function()
        ... def short(x):
        ...     return len(x) < 5
        >>> short.name, short("hi")
        ('short', True)
    """

    def wrap(f: Callable[[Any], Any]) -> SlicingFunction:
        return SlicingFunction(name or f.__name__, f)

    return wrap


def apply_slicing_functions(sfs: Sequence[SlicingFunction], data: Iterable[Any]) -> pd.DataFrame:
    """Membership DataFrame (n_rows, n_slices) of bools, one column per slicing function.

    data: a sequence of examples, or a pandas DataFrame (each row is passed as a namedtuple, as Snorkel does).

    Args:
        sfs: slicing functions.
        data: a sequence of examples, or a DataFrame.

    Returns:
        A DataFrame of bools, one row per example and one column per slicing function.

    Example:
        >>> from labelfuse.labeling import apply_slicing_functions, slicing_function
        >>> @slicing_function()
        ... def short(x):
        ...     return len(x) < 5
        >>> apply_slicing_functions([short], ["hi", "hello there"])["short"].tolist()
        [True, False]
    """
    sfs = list(sfs)
    names = [sf.name for sf in sfs]
    if len(set(names)) != len(names):
        raise ValueError(f"sfs: slice names must be unique, got {names}")
    for sf in sfs:
        if not isinstance(sf, SlicingFunction):
            raise TypeError(f"sfs: expected SlicingFunction objects (use @slicing_function()), got {type(sf).__name__}")
    rows = data.itertuples(index=False) if isinstance(data, pd.DataFrame) else data
    member = np.array([[sf(x) for sf in sfs] for x in rows], dtype=bool).reshape(-1, len(sfs))
    return pd.DataFrame(member, columns=names)
