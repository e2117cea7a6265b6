"""What every label-model fit produces: per-LF conditional tables and a class balance.

A fit function (triplet, covariance, Dawid-Skene) maps statistics to a ``FitResult``; posteriors then come from
the shared native kernel ``_core.posterior``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict

import numpy as np


@dataclass
class FitResult:
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
