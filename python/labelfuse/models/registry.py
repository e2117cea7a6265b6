"""The label-model methods and what every fit produces: per-LF conditional tables and a class balance.

A fit function maps statistics (triplet, covariance) or the votes themselves (Dawid-Skene) to a ``FitResult``;
posteriors then come from the shared native kernel ``_core.posterior``. :func:`get_method` is the one place that
turns a method name (or a user's fit function) into the function to call and says what it needs.

Example::

    from labelfuse.models.registry import get_method
    method = get_method("covariance")
    method.needs_overlap, method.uses_rows     # (True, False)
    result = method.fit(label_stats(L, 2, overlap_matrix=True), None)
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np


@dataclass
class FitResult:
    """What a label-model method's fit returns: the per-LF vote tables and the class prior.

    Args:
        cpt: (m, k+1, k) P(vote = c | y), vote index 0 = abstain.
        class_balance: (k,) the class prior.
        info: the method's report (iterations, fallbacks, ...).

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> from labelfuse.models import fit_triplet
        >>> L = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0]] * 10, dtype=np.int8)
        >>> fit_triplet(lf.label_stats(L, 2)).cpt.shape
        (3, 3, 2)
    """

    cpt: np.ndarray            # (m, k+1, k) P(lambda_j = c | y), vote axis index 0 = abstain; columns sum to 1
    class_balance: np.ndarray  # (k,)
    info: Dict[str, Any] = field(default_factory=dict)  # iterations, loss, warnings for the user

    def log_tables(self, floor: float = 1e-12):
        """(log_cpt, log_prior) laid out for ``_core.posterior`` (contiguous float64)."""
        log_cpt = np.ascontiguousarray(np.log(np.clip(self.cpt, floor, 1.0)))
        log_prior = np.ascontiguousarray(np.log(np.clip(self.class_balance, floor, 1.0)))
        return log_cpt, log_prior


def check_fit_result(result: Any, m: int, k: int, name: str = "result") -> FitResult:
    """A fit result from elsewhere: (m, k+1, k) finite tables whose columns sum to 1, k probabilities."""
    if not all(hasattr(result, attr) for attr in ("cpt", "class_balance", "info")):
        raise TypeError(f"{name}: expected a FitResult (cpt, class_balance, info), got {type(result).__name__}")
    try:
        cpt = np.array(result.cpt, dtype=np.float64)
        balance = np.array(result.class_balance, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: cpt and class_balance must be arrays of numbers") from None
    if cpt.shape != (m, k + 1, k):
        raise ValueError(f"{name}: cpt has shape {cpt.shape}, expected {(m, k + 1, k)} (n_lfs, cardinality + 1, "
                         "cardinality)")
    if not np.all(np.isfinite(cpt)) or np.any(cpt < 0) or np.any(cpt > 1) or not np.allclose(
            cpt.sum(axis=1), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"{name}: cpt must hold probabilities in [0, 1] whose columns P(vote | y) sum to 1")
    if balance.shape != (k,) or not np.all(np.isfinite(balance)) or np.any(balance < 0) or abs(
            balance.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}: class_balance must be {k} non-negative probabilities summing to 1, got "
                         f"{balance.tolist()}")
    if not isinstance(result.info, dict):
        raise TypeError(f"{name}: info must be a dict, got {type(result.info).__name__}")
    return FitResult(cpt, balance, dict(result.info))


@dataclass(frozen=True)
class Method:
    """A label-model method: its ``name``, the ``fit`` function to call, and what that function reads.

    ``uses_rows``: ``fit(L_rows, cardinality, class_balance, init=None, **options) -> FitResult`` works on the
    votes (Dawid-Skene's EM); otherwise ``fit(stats, class_balance, **options) -> FitResult`` works on
    :class:`~labelfuse.stats.LabelStats`. ``needs_overlap``: the statistics must include the one-hot overlap
    matrix (``label_stats(..., overlap_matrix=True)``; costly, so counted only when needed).

    Args:
        name: the method's name.
        fit: the fit function.
        uses_rows: whether ``fit`` reads the votes rather than the statistics.
        needs_overlap: whether the statistics must include the overlap matrix.

    Example:
        >>> from labelfuse.models import get_method
        >>> m = get_method("covariance")
        >>> m.name, m.uses_rows, m.needs_overlap
        ('covariance', False, True)
    """

    name: str
    fit: Callable[..., FitResult]
    uses_rows: bool = False
    needs_overlap: bool = False


# name -> (module under labelfuse.models, function, uses_rows, needs_overlap); the modules are imported on use
# (they import this one for FitResult).
_METHODS: Dict[str, Tuple[str, str, bool, bool]] = {
    "triplet": ("triplet", "fit_triplet", False, False),
    "covariance": ("covariance", "fit_covariance", False, True),
    "dawid_skene": ("dawid_skene", "fit_dawid_skene", True, False),
}
METHODS: Tuple[str, ...] = tuple(_METHODS)


def get_method(label_model: Union[str, Callable[..., FitResult]], n_threads: Optional[int] = None, *,
               name: str = "label_model") -> Method:
    """The :class:`Method` for a method name ("triplet", "covariance", "dawid_skene") or a fit function.

    A callable is a statistics fit unless it has an attribute ``uses_rows = True`` (then it is called on the
    votes, as Dawid-Skene); ``needs_overlap = True`` asks for the overlap matrix. ``n_threads`` is bound into the
    fit of a named row method (the statistics fits are single-threaded). ``name``: the argument named in errors
    (an unknown name is a ValueError, anything else but a callable a TypeError).

    Example: ``get_method("dawid_skene", n_threads=2).fit(L, 3, None)``.

    Args:
        label_model: a method name or a fit function.
        n_threads: threads for the fit functions that take them.
        name: the argument name used in error messages.

    Returns:
        The :class:`Method`.

    Example:
        >>> from labelfuse.models import get_method
        >>> get_method("dawid_skene").uses_rows
        True
    """
    if callable(label_model):
        return Method(getattr(label_model, "__name__", type(label_model).__name__), label_model,
                      uses_rows=bool(getattr(label_model, "uses_rows", False)),
                      needs_overlap=bool(getattr(label_model, "needs_overlap", False)))
    if not isinstance(label_model, str):
        raise TypeError(f"{name}: expected a method name ({', '.join(map(repr, METHODS))}) or a fit function, got "
                        f"{type(label_model).__name__}")
    if label_model not in _METHODS:
        raise ValueError(f"{name}: unknown method {label_model!r}; expected one of {', '.join(map(repr, METHODS))} "
                         "or a fit function")
    module, function, uses_rows, needs_overlap = _METHODS[label_model]
    fit = getattr(importlib.import_module(f"labelfuse.models.{module}"), function)
    if uses_rows and n_threads is not None:
        bound = functools.partial(fit, n_threads=n_threads)
        functools.update_wrapper(bound, fit)
        fit = bound
    return Method(label_model, fit, uses_rows=uses_rows, needs_overlap=needs_overlap)
