"""Shared checks for the moment-based fits (triplet, covariance): one group of statistics, a valid class balance."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._validation import check_count  # noqa: F401  (re-exported for the fit functions)
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


def check_class_balance(class_balance: Any, k: int, name: str = "class_balance") -> Optional[np.ndarray]:
    """None, or k positive probabilities summing to 1, as a contiguous float64 copy."""
    if class_balance is None:
        return None
    p = np.array(class_balance, dtype=np.float64, copy=True)
    if p.shape != (k,):
        raise ValueError(f"{name}: expected {k} values (one per class), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p <= 0) or not np.isclose(p.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{name}: expected positive probabilities summing to 1, got {p.tolist()}")
    return np.ascontiguousarray(p / p.sum())


def check_probability(value: Any, name: str, low_open: float = 0.0) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: expected a float, got {type(value).__name__}")
    value = float(value)
    if not low_open < value <= 1.0:
        raise ValueError(f"{name}: expected a value in ({low_open}, 1], got {value}")
    return value


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
