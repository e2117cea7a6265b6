"""The one estimator base: parameters declared once with their constraints, one checker, all-or-nothing fits,
scikit-learn's get_params / set_params / clone / repr, and one save format (see :mod:`labelfuse._io`).

Every estimator of labelfuse (label models, fusion models, neighbour graphs, partitions, hierarchical label models,
end models, ensembles) derives from :class:`Estimator`:

- ``__init__`` takes hyperparameters only and stores each under its own name;
- ``_parameter_constraints`` maps every hyperparameter to the list of constraints it may satisfy (any one of them);
  :meth:`Estimator._validate_params` checks them all at the start of every ``fit`` with one rule: a value of a type
  that no constraint accepts is a TypeError, a value of an accepted type but outside what is allowed a ValueError;
  both messages start with the parameter's name;
- ``fit`` (and ``refit``) are all or nothing: when one raises (Ctrl-C included) a fit leaves no fitted state and a
  refit leaves the model as it was before the call;
- fitted attributes end with ``_``; ``_fitted_values`` (JSON-able) and ``_fitted_arrays`` (numpy arrays) list what
  :meth:`save` writes, and :meth:`_after_load` rebuilds derived caches.

Example::

    from labelfuse import LabelModel, clone
    lm = LabelModel(cardinality=2, method="triplet", random_state=0)
    lm.get_params()["method"]          # 'triplet'
    clone(lm).set_params(method="covariance")
"""
from __future__ import annotations

import copy
import functools
import inspect
import numbers
import threading
import warnings
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._validation import NotFittedError

__all__ = ["Estimator", "FittedArray", "FittedInt", "Interval", "Options", "InstanceOf", "Predicate", "SequenceOf", "RANDOM_STATE",
           "N_THREADS", "BOOLEAN", "clone", "json_value", "check_random_state", "renamed_argument", "DEPRECATED"]

DEPRECATED = "deprecated"  # default of a parameter kept only as a deprecated alias


# -- constraints ----------------------------------------------------------------------------------------------------
class Constraint:
    """One acceptable kind of value. ``type_ok``: the value's type is the one this constraint is about (so a
    failure is a ValueError); ``ok``: the value is acceptable."""

    description = "a valid value"

    def type_ok(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def ok(self, value: Any) -> bool:
        return self.type_ok(value)

    def __str__(self) -> str:
        return self.description


def _is_int(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class Interval(Constraint):
    """An int (``kind=int``) or a real number (``kind=float``, ints accepted, NaN refused) in an interval;
    ``None`` for an open end. ``closed``: "both", "left", "right" or "neither"."""

    def __init__(self, kind: type, low: Optional[float] = None, high: Optional[float] = None,
                 closed: str = "both") -> None:
        if kind not in (int, float) or closed not in ("both", "left", "right", "neither"):
            raise ValueError("Interval: kind must be int or float, closed one of both/left/right/neither")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        lo = "(-inf" if low is None else ("[" if closed in ("both", "left") else "(") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + ("]" if closed in ("both", "right") else ")")
        self.description = f"{'an int' if kind is int else 'a number'} in {lo}, {hi}"

    def type_ok(self, value: Any) -> bool:
        return _is_int(value) if self.kind is int else _is_real(value)

    def ok(self, value: Any) -> bool:
        if not self.type_ok(value):
            return False
        v = float(value)
        if np.isnan(v):
            return False
        if self.low is not None and (v < self.low or (v == self.low and self.closed in ("right", "neither"))):
            return False
        if self.high is not None and (v > self.high or (v == self.high and self.closed in ("left", "neither"))):
            return False
        return True


class Options(Constraint):
    """One of a fixed set of values (usually strings)."""

    def __init__(self, *values: Any) -> None:
        self.values = tuple(values)
        self.description = "one of " + ", ".join(repr(v) for v in self.values)

    def type_ok(self, value: Any) -> bool:
        return any(type(value) is type(v) for v in self.values)

    def ok(self, value: Any) -> bool:
        return self.type_ok(value) and any(value == v for v in self.values)


class InstanceOf(Constraint):
    """An instance of one of ``types`` (``description`` says what in words)."""

    def __init__(self, *types: type, description: Optional[str] = None) -> None:
        self.types = types
        self.description = description or " or ".join(f"a {t.__name__}" for t in types)

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, self.types)


class Predicate(Constraint):
    """A value of one of ``types`` for which ``check(value)`` is true."""

    def __init__(self, types: Union[type, Tuple[type, ...]], check: Callable[[Any], bool], description: str) -> None:
        self.types = types if isinstance(types, tuple) else (types,)
        self.check = check
        self.description = description

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, self.types) and not isinstance(value, (bool, np.bool_)) or (
            bool in self.types and isinstance(value, (bool, np.bool_)))

    def ok(self, value: Any) -> bool:
        if not self.type_ok(value):
            return False
        try:
            return bool(self.check(value))
        except (TypeError, ValueError):
            return False


class SequenceOf(Constraint):
    """A list, tuple or 1-D array of at least ``min_len`` items, each satisfying ``item``."""

    def __init__(self, item: Constraint, min_len: int = 1) -> None:
        self.item, self.min_len = item, min_len
        count = f"at least {min_len} value{'s' if min_len != 1 else ''}" if min_len else "values"
        self.description = f"a sequence of {count}, each {item.description}"

    def type_ok(self, value: Any) -> bool:
        if isinstance(value, np.ndarray):
            return value.ndim == 1
        return isinstance(value, (list, tuple))

    def ok(self, value: Any) -> bool:
        return self.type_ok(value) and len(value) >= self.min_len and all(self.item.ok(v) for v in value)


class _RandomState(Constraint):
    description = "None, a non-negative int seed or a numpy Generator / SeedSequence / BitGenerator"

    def type_ok(self, value: Any) -> bool:
        return value is None or _is_int(value) or isinstance(
            value, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator))

    def ok(self, value: Any) -> bool:
        return self.type_ok(value) and not (_is_int(value) and value < 0)


class _NThreads(Constraint):
    description = "None or a non-zero int (None = all cores, -1 = all, -2 = all but one, ...)"

    def type_ok(self, value: Any) -> bool:
        return value is None or _is_int(value)

    def ok(self, value: Any) -> bool:
        return self.type_ok(value) and value != 0


class _Boolean(Constraint):
    description = "True or False"

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))


class _NoneConstraint(Constraint):
    description = "None"

    def type_ok(self, value: Any) -> bool:
        return value is None


RANDOM_STATE = _RandomState()
N_THREADS = _NThreads()
BOOLEAN = _Boolean()


def _as_constraint(c: Any) -> Constraint:
    if c is None:
        return _NoneConstraint()
    if isinstance(c, Constraint):
        return c
    if isinstance(c, type):
        return InstanceOf(c)
    raise TypeError(f"not a parameter constraint: {c!r}")


def check_param(name: str, value: Any, constraints: Sequence[Any]) -> None:
    """Raise TypeError (no constraint accepts the value's type) or ValueError (the type is right, the value is not),
    naming ``name``, unless ``value`` satisfies one of ``constraints``."""
    cs = [_as_constraint(c) for c in constraints]
    if any(c.ok(value) for c in cs):
        return
    expected = " or ".join(dict.fromkeys(str(c) for c in cs))
    shown = f"{type(value).__name__} {value!r:.80}" if not isinstance(value, str) else repr(value)
    error = ValueError if any(c.type_ok(value) for c in cs) else TypeError
    raise error(f"{name}: expected {expected}, got {shown}")


def check_random_state(value: Any, name: str = "random_state") -> Any:
    """None, a non-negative int seed (Python or numpy), or a numpy Generator / SeedSequence / BitGenerator."""
    check_param(name, value, [RANDOM_STATE])
    return value


def renamed_argument(where: str, random_state: Any, seed: Any) -> Any:
    """The random state a function was given: ``random_state``, or its deprecated former name ``seed`` (with a
    FutureWarning) when that was passed instead. Functions keep ``seed=DEPRECATED`` as their last keyword."""
    if isinstance(seed, str) and seed == DEPRECATED:
        return random_state
    warnings.warn(f"{where}: 'seed' is deprecated and will be removed in the next release; use 'random_state'",
                  FutureWarning, stacklevel=3)
    return seed


# -- saving helpers -------------------------------------------------------------------------------------------------
def json_value(value: Any, name: str = "value") -> Any:
    """A value as plain JSON: numpy scalars become Python numbers, arrays and tuples lists; anything else that JSON
    cannot hold is a TypeError naming ``name``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return json_value(value.tolist(), name)
    if isinstance(value, (tuple, list)):
        return [json_value(v, name) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v, f"{name}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{name}: a {type(value).__name__} cannot be saved (only numbers, strings, lists, dicts, None)")


# -- what a saved file may hold ---------------------------------------------------------------------------------------
Dim = Union[int, str, Tuple[str, int]]  # a length, a fitted int value's name, or (name, offset): ("cardinality_", 1)


class FittedInt:
    """A fitted value that must be an int in [low, high] (``optional``: None accepted too)."""

    def __init__(self, low: int = 0, high: Optional[int] = None, optional: bool = False) -> None:
        self.low, self.high, self.optional = low, high, optional

    def check(self, value: Any) -> Optional[str]:
        if value is None and self.optional:
            return None
        if not _is_int(value) or value < self.low or (self.high is not None and value > self.high):
            upper = "" if self.high is None else f" and at most {self.high}"
            return f"is {str(value)[:40]!r}, not an int of at least {self.low}{upper}"
        return None


class FittedArray:
    """A fitted array as a saved file must hold it: ``kind`` (numpy dtype kinds it may have: "f" float, "iu"
    integers, "b" bool), ``shape`` (each dim an int, a fitted int value's name or (name, offset); None: any
    length; the whole shape None: any shape), ``finite`` (no NaN / inf; ``allow_nan``: NaN allowed, inf not),
    ``low`` / ``high`` bounds, and ``sums_to_one``: the axis along which entries are probabilities summing to 1."""

    def __init__(self, kind: str = "f", shape: Optional[Tuple[Optional[Dim], ...]] = None, *, finite: bool = True,
                 allow_nan: bool = False, low: Optional[float] = None, high: Optional[float] = None,
                 sums_to_one: Optional[int] = None) -> None:
        self.kind, self.shape, self.finite, self.allow_nan = kind, shape, finite, allow_nan
        self.low, self.high, self.sums_to_one = low, high, sums_to_one

    def expected_shape(self, values: Mapping[str, Any]) -> Optional[Tuple[Optional[int], ...]]:
        if self.shape is None:
            return None
        dims: List[Optional[int]] = []
        for d in self.shape:
            if isinstance(d, tuple):
                dims.append(int(values[d[0]]) + d[1])
            elif isinstance(d, str):
                dims.append(int(values[d]))
            else:
                dims.append(d)
        return tuple(dims)

    def check(self, arr: np.ndarray, values: Mapping[str, Any]) -> Optional[str]:
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in self.kind:
            return f"has dtype {getattr(arr, 'dtype', type(arr).__name__)}, expected kind {self.kind!r}"
        want = self.expected_shape(values)
        if want is not None and (arr.ndim != len(want) or any(w is not None and w != a for w, a in zip(want, arr.shape))):
            return f"has shape {arr.shape}, but the model's fitted values imply {want}"
        if arr.dtype.kind == "f" and self.finite:
            bad = np.isinf(arr) if self.allow_nan else ~np.isfinite(arr)
            if bad.any():
                return "holds NaN or infinite values" if not self.allow_nan else "holds infinite values"
        if self.low is not None and (arr < self.low).any() or self.high is not None and (arr > self.high).any():
            return f"holds values outside [{self.low}, {self.high}]"
        if self.sums_to_one is not None and arr.size and not np.allclose(arr.sum(axis=self.sums_to_one), 1.0,
                                                                         atol=1e-6):
            return f"holds probabilities that do not sum to 1 along axis {self.sums_to_one}"
        return None


# -- the estimator base ---------------------------------------------------------------------------------------------
_FIT_LOCKS: Dict[int, threading.RLock] = {}
_FIT_LOCKS_GUARD = threading.Lock()


def _fit_lock(est: Any) -> threading.RLock:
    """The lock that serialises the fits and refits of one estimator. Kept outside the instance (keyed by id and
    dropped when the instance is collected) so that pickling, deep copies, clone and save never meet a lock."""
    key = id(est)
    with _FIT_LOCKS_GUARD:
        lock = _FIT_LOCKS.get(key)
        if lock is None:
            lock = _FIT_LOCKS[key] = threading.RLock()
            weakref.finalize(est, _FIT_LOCKS.pop, key, None)
    return lock


def _all_or_nothing(method: Callable, *, keep_previous: bool) -> Callable:
    """Wrap fit (``keep_previous=False``: a failure leaves no fitted state) or refit (``keep_previous=True``: a
    failure restores the model as it was). Nested calls (a subclass's fit calling its parent's) are handled by
    the outermost wrapper only. Fits and refits of one estimator from several threads run one after the other
    (a per-instance lock), so each starts from the state the previous one left."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _fit_lock(self):
            if getattr(self, "_in_fit", False):
                return method(self, *args, **kwargs)
            before = dict(self.__dict__)
            object.__setattr__(self, "_in_fit", True)
            try:
                if not keep_previous:
                    self._validate_params()
                result = method(self, *args, **kwargs)
            except BaseException:
                # The old state is put back by one assignment of the instance dict, built completely first: a
                # second Ctrl-C during the clean-up cannot leave a half-restored model.
                if keep_previous:
                    restored = before
                else:
                    params = set(self._param_names())
                    restored = {k: v for k, v in before.items() if k in params or not (
                        _is_fitted_name(k) or (k.startswith("_") and not k.startswith("__")))}
                object.__setattr__(self, "__dict__", restored)
                raise
            finally:
                self.__dict__.pop("_in_fit", None)
            return result

    wrapper._all_or_nothing = True  # type: ignore[attr-defined]
    return wrapper


def _is_fitted_name(name: str) -> bool:
    return name.endswith("_") and not name.startswith("__")


class Estimator:
    """Base of every labelfuse estimator (see the module docstring).

    Example:
        >>> import labelfuse as lf
        >>> lm = lf.LabelModel(cardinality=2, method="triplet")
        >>> lm.set_params(method="dawid_skene").get_params()["method"]
        'dawid_skene'
    """

    _parameter_constraints: Dict[str, List[Any]] = {}
    _fitted_values: Sequence[str] = ()
    _fitted_arrays: Sequence[str] = ()
    # What a loaded file's fitted values and arrays must be (FittedInt / FittedArray per name), checked by
    # _set_state before the model is used: a damaged or hostile file is refused, naming the attribute.
    _fitted_checks: Dict[str, Any] = {}
    # Deprecated parameter names and the parameter they stand for (kept for one release).
    _deprecated_aliases: Dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from . import _io

        _io.register(cls)
        for name, keep in (("fit", False), ("refit", True)):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_all_or_nothing", False):
                setattr(cls, name, _all_or_nothing(method, keep_previous=keep))

    # -- parameters ---------------------------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> List[str]:
        names = []
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args / **kwargs (scikit-learn rule)")
            names.append(p.name)
        return names

    @classmethod
    def _constraints(cls) -> Dict[str, List[Any]]:
        merged: Dict[str, List[Any]] = {}
        for klass in reversed(cls.__mro__):
            merged.update(getattr(klass, "_parameter_constraints", None) or {})
        return merged

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Estimator":
        """Set hyperparameters (they take effect at the next ``fit``); returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{name}: not a parameter of {type(self).__name__} (valid: {', '.join(valid)})")
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        """Check every hyperparameter against its declared constraints (run at the start of every fit)."""
        constraints = self._constraints()
        for name, value in self.get_params().items():
            if name in self._deprecated_aliases:
                if not (isinstance(value, str) and value == DEPRECATED):
                    target = self._deprecated_aliases[name]
                    warnings.warn(f"{type(self).__name__}: '{name}' is deprecated and will be removed in the next "
                                  f"release; use '{target}'", FutureWarning, stacklevel=4)
                    check_param(name, value, constraints.get(target, [object]))
                continue
            if name not in constraints:
                raise RuntimeError(f"{type(self).__name__}: parameter {name!r} declares no constraint")
            check_param(name, value, constraints[name])

    def _param(self, name: str) -> Any:
        """A hyperparameter's value, taken from its deprecated alias when only the alias was set."""
        for alias, target in self._deprecated_aliases.items():
            if target == name:
                value = getattr(self, alias, DEPRECATED)
                if not (isinstance(value, str) and value == DEPRECATED):
                    return value
        return getattr(self, name)

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            if default is inspect.Parameter.empty or not _same(value, default):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- fitted state ---------------------------------------------------------------------------------------------
    def _is_fitted(self) -> bool:
        return any(_is_fitted_name(k) for k in vars(self))

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit before using this method.")

    def _forget_fit(self) -> None:
        """Drop what a fit leaves behind: fitted attributes (ending in '_') and private caches (starting with '_'
        and not set by ``__init__``)."""
        params = set(self._param_names())
        for name in list(vars(self)):
            if _is_fitted_name(name) or (name.startswith("_") and name not in params and not name.startswith("__")):
                delattr(self, name)

    # -- persistence ----------------------------------------------------------------------------------------------
    def _state_params(self) -> Dict[str, Any]:
        """The hyperparameters as JSON (override for parameters JSON cannot hold, e.g. a callable)."""
        return {name: json_value(value, name) for name, value in self.get_params().items()}

    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        """(JSON-able fitted values, named arrays) that :meth:`_set_state` restores."""
        values = {name: json_value(getattr(self, name), name) for name in self._fitted_values}
        arrays = {name: np.asarray(getattr(self, name)) for name in self._fitted_arrays}
        return values, arrays

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Install saved fitted state: exactly the declared names, nothing else (a file cannot add attributes)."""
        from ._io import FileFormatError

        for name in self._fitted_values:
            if name not in values:
                raise FileFormatError(f"the saved {type(self).__name__} lacks its fitted value {name!r}")
            setattr(self, name, values[name])
        for name in self._fitted_arrays:
            if name not in arrays:
                raise FileFormatError(f"the saved {type(self).__name__} lacks its fitted array {name!r}")
        checks: Dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):  # a subclass adds to (or overrides) its bases' checks
            checks.update(getattr(klass, "_fitted_checks", None) or {})
        for name in self._fitted_values:  # ints first: the arrays' shapes are checked against them
            if isinstance(checks.get(name), FittedInt):
                problem = checks[name].check(values[name])
                if problem:
                    raise FileFormatError(f"the saved {type(self).__name__}'s {name} {problem}")
        for name in self._fitted_arrays:
            if isinstance(checks.get(name), FittedArray):
                problem = checks[name].check(arrays[name], values)
                if problem:
                    raise FileFormatError(f"the saved {type(self).__name__}'s {name} {problem}")
            setattr(self, name, arrays[name])

    def _after_load(self) -> None:
        """Rebuild derived caches after :meth:`load`."""

    @classmethod
    def _from_params(cls, params: Dict[str, Any], **options: Any) -> "Estimator":
        """A new estimator from saved hyperparameters (a deprecated alias saved by an earlier release is renamed).
        ``options``: what the class's ``load`` accepts besides the path (none by default)."""
        if options:
            raise TypeError(f"{cls.__name__}.load takes no options besides path, got {sorted(options)}")
        for alias, target in cls._deprecated_aliases.items():
            if alias in params and target not in params:
                params[target] = params.pop(alias)
        return cls(**params)

    def save(self, path: Union[str, Path]) -> Path:
        """Write the fitted estimator to exactly ``path`` (one safetensors file: named arrays plus JSON metadata;
        no pickle). ``labelfuse.load(path)`` or ``type(self).load(path)`` reads it back. Returns the path."""
        from ._io import save

        self._check_fitted()
        return save(self, path)

    @classmethod
    def load(cls, path: Union[str, Path], **options: Any) -> "Estimator":
        """Read an estimator of this class (or a subclass) written by :meth:`save`; a file of another class is a
        TypeError naming both classes."""
        from ._io import load

        return load(path, expected=cls, **options)


def clone(estimator: Estimator) -> Estimator:
    """A new unfitted estimator with the same hyperparameters (deep-copied, as scikit-learn's clone).

    Args:
        estimator: a labelfuse estimator, fitted or not.

    Returns:
        A new unfitted estimator of the same class and hyperparameters.

    Example:
        >>> import labelfuse as lf
        >>> lm = lf.LabelModel(cardinality=2, method="covariance")
        >>> lf.clone(lm).get_params() == lm.get_params()
        True
    """
    if not isinstance(estimator, Estimator):
        raise TypeError(f"estimator: expected a labelfuse estimator, got {type(estimator).__name__}")
    params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
    return type(estimator)(**params)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # comparisons that raise or return arrays
        return False
