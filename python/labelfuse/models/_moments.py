"""Shared checks for the moment-based fits (triplet, covariance): one group of statistics, how they take a class
balance (:data:`FIT_BALANCE`), probabilities, and the one-sided-LF warning."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_number
from ..stats import LabelStats


def single_group(stats: Any, name: str = "stats") -> LabelStats:
    """The statistics as one ungrouped group; grouped statistics must be split by the caller (``stats.group(g)``)."""
    if not isinstance(stats, LabelStats):
        raise TypeError(f"{name}: expected LabelStats (from labelfuse.label_stats), got {type(stats).__name__}")
    if stats.n_groups != 1:
        raise ValueError(
            f"{name}: has {stats.n_groups} groups; fit one group at a time (stats.group(g)) or all together "
            "(stats.total())"
        )
    return stats


# How the fit functions take their class_balance argument (labelfuse._validation.check_class_balance): None
# (estimate it) or k positive probabilities.
FIT_BALANCE = {"positive": True, "allow_none": True, "allow_uniform": False}


def check_probability(value: Any, name: str, low_open: float = 0.0) -> float:
    """A number in (low_open, 1]."""
    return check_number(value, name, low_open, 1.0, low_open=True)


def one_sided_lfs(stats: LabelStats, min_votes: int = 30) -> list:
    """LFs with at least ``min_votes`` votes, all for one class.

    The moment models assume that an LF's abstention does not depend on y and that its errors spread over the
    other classes; an LF that only ever votes one class breaks both (its abstention carries information about y),
    and moment estimates of the class balance from such LFs are biased.
    """
    counts = stats.class_counts[0]
    return [int(j) for j in np.flatnonzero((counts.sum(axis=1) >= min_votes) & ((counts > 0).sum(axis=1) == 1))]


def one_sided_warning(stats: LabelStats, estimated_balance: bool) -> list:
    lfs = one_sided_lfs(stats)
    if not lfs:
        return []
    advice = (" The class balance was estimated from moments and may be far off: pass class_balance (e.g. from a "
              "labeled dev set) or compare with Dawid-Skene." if estimated_balance else "")
    return [f"{len(lfs)} of {stats.n_lfs} LFs vote a single class ({lfs[:10]}{' ...' if len(lfs) > 10 else ''}): "
            f"outside the symmetric-noise, class-independent-abstention model.{advice}"]
