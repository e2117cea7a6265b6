"""The warning categories of labelfuse, and the one way a diagnostic reaches the user.

Every diagnostic a fit records (``info_["warnings"]`` and the like) is also emitted with :func:`warnings.warn`
under one of these categories, so it can be filtered like any Python warning; the library itself never installs a
warnings filter. All categories derive from :class:`LabelfuseWarning` (a ``UserWarning``)::

    LabelfuseWarning
    ├── FitWarning                  a fit's diagnostic (the model may be poor; the text says why)
    │   ├── ConvergenceWarning      an iterative fit stopped at its iteration limit
    │   ├── ClassBalanceWarning     the class balance could not be estimated reliably
    │   ├── LFQualityWarning        duplicated, flipped or otherwise degenerate LFs
    │   └── MethodWarning           the method's assumptions break on this data (or it was switched)
    ├── AbstentionWarning           a score counted rows on which the model abstained (the count is in the text)
    ├── ConventionWarning           an input that looks written in another library's convention
    └── BaselineWarning             a model below the majority-class baseline, or a class balance far off

Example::

    import warnings
    import labelfuse as lf

    with warnings.catch_warnings():
        warnings.simplefilter("error", lf.ConvergenceWarning)   # make non-convergence an error
        lf.LabelModel(method="dawid_skene", max_iter=3).fit(L)

    warnings.filterwarnings("ignore", category=lf.AbstentionWarning)  # the user's choice, never the library's
"""
from __future__ import annotations

import re
import warnings
from typing import Iterable, Optional, Type

__all__ = ["AbstentionWarning", "BaselineWarning", "ClassBalanceWarning", "ConvergenceWarning",
           "ConventionWarning", "FitWarning", "LFQualityWarning", "LabelfuseWarning", "MethodWarning",
           "category_for", "emit"]


class LabelfuseWarning(UserWarning):
    """Base class of every warning labelfuse emits."""


class FitWarning(LabelfuseWarning):
    """A diagnostic recorded by a fit: the fitted model may be poor, and the message says why."""


class ConvergenceWarning(FitWarning):
    """An iterative fit (EM, sweeps) stopped at its iteration limit before its tolerance was met."""


class ClassBalanceWarning(FitWarning):
    """The class balance could not be estimated reliably from the votes (e.g. every LF votes one class only)."""


class LFQualityWarning(FitWarning):
    """Labeling functions that break the model's assumptions: duplicated or near-identical LFs, LFs that look
    worse than random (flipped), LFs that never vote."""


class MethodWarning(FitWarning):
    """The method's assumptions do not hold on this data, or the method was switched for a cheaper one."""


class AbstentionWarning(LabelfuseWarning):
    """A score included rows on which the model abstained (tied top classes, or no LF vote); the message gives the
    count and how they were resolved (see ``labelfuse.metrics.score``)."""


class ConventionWarning(LabelfuseWarning):
    """An input that looks written in another convention (0 = abstain with votes +-1, or 1-based classes)."""


class BaselineWarning(LabelfuseWarning):
    """A model scores below the majority-class baseline on the valid split, or its class balance is far from the
    valid split's (``labelfuse run``, ``labelfuse bench``)."""


# Which category a recorded message belongs to, by what it says (the fit functions record plain strings).
_PATTERNS = (
    (re.compile(r"converge", re.I), ConvergenceWarning),
    (re.compile(r"class balance", re.I), ClassBalanceWarning),
    (re.compile(r"duplicate|identical|flipped|worse than random|never vote", re.I), LFQualityWarning),
    (re.compile(r"collapsed|matrix completion|assumption", re.I), MethodWarning),
)


def category_for(message: str, default: Type[Warning] = FitWarning) -> Type[Warning]:
    """The category of a recorded diagnostic: convergence, class balance and LF quality are recognised from the
    text; anything else is ``default``. Example: ``category_for("did not converge ...")`` is ConvergenceWarning."""
    for pattern, category in _PATTERNS:
        if pattern.search(message):
            return category
    return default


def emit(messages: Iterable[str], source: str, category: Optional[Type[Warning]] = None,
         stacklevel: int = 3) -> None:
    """Emit each recorded diagnostic as a Python warning, prefixed with ``source`` (the estimator and method).
    ``category``: one category for all; None picks one per message (:func:`category_for`).

    Example: ``emit(model.info_["warnings"], "LabelModel(method='triplet')")``."""
    for message in messages:
        text = str(message)
        warnings.warn(f"{source}: {text}", category or category_for(text), stacklevel=stacklevel)
