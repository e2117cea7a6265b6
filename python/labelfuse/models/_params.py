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
