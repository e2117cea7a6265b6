"""Majority vote: each row's vote shares, counted natively."""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from .. import _core
from .._validation import as_label_matrix, require_rows
from .._base import Options
from .._validation import check_class_balance
from .base import BaseLabelModel, ProbabilityVector, class_balance_from_labels, resolve_cardinality

__all__ = ["MajorityVote"]


class MajorityVote(BaseLabelModel):
    """P(y = c | votes) = the share of the row's votes for c; a row with no votes gets ``class_balance_``.

    Args:
        cardinality: number of classes k; inferred from L (max label + 1, at least 2) when None.
        class_balance: used for rows without votes and by the "prior" tie policy. None (default) = uniform:
            majority vote has no model of when LFs abstain, so it knows nothing about a row no LF voted on
            (Snorkel's MajorityLabelVoter does the same). "votes" = the mean vote share over rows with at least one
            vote, which is P(y | some LF voted) and not P(y): with one-sided LFs (each voting one class only) it is
            biased towards the classes whose LFs fire most often (on spouse, 92% negatives, it puts 59% on the
            positive class). "uniform"; or k probabilities. For a real estimate pass ``Y_dev`` to ``fit``.
        tie_policy: how ``predict`` resolves ties (a row without votes is a tie between all classes): "abstain" (-1, Snorkel's default),
            "random" (seeded by ``random_state``) or "prior" (the tied class most probable a priori).
        random_state: int or None, seeds the "random" tie policy (a fresh generator per ``predict`` call).
        n_threads: None = all cores, -1 = all, -2 = all but one, ...

    Example::

        mv = MajorityVote(tie_policy="prior").fit(L, Y_dev=Y_dev)
        mv.predict(L)
    """

    _parameter_constraints = {"class_balance": [None, Options("uniform", "votes"), ProbabilityVector()]}
    _fitted_arrays = ("class_balance_",)

    def __init__(
        self,
        cardinality: Optional[int] = None,
        class_balance: Union[None, str, np.ndarray] = None,
        tie_policy: str = "abstain",
        random_state: Optional[int] = None,
        n_threads: Optional[int] = None,
    ) -> None:
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.tie_policy = tie_policy
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, L: Any, *, Y_dev: Any = None, class_balance: Any = None) -> "MajorityVote":
        """Learn the class balance (unless given). ``Y_dev``: labels of a small dev set to estimate it from
        (add-one smoothed); ``class_balance``: fix it for this fit. Returns self."""
        L = as_label_matrix(L)
        require_rows(L)
        # one (k + 1) vote-count scratch row per thread, and the k-vector of the balance
        threads = _core.resolve_threads(self._threads())
        k = resolve_cardinality(L, self.cardinality, table_bytes=lambda k: 8 * (k + 1) * (threads + 1),
                                tables=f"vote counts on {threads} threads")
        if class_balance is not None and Y_dev is not None:
            raise ValueError("class_balance: pass either class_balance or Y_dev to fit, not both")
        # One native pass that also validates every vote (ValueError naming the entry), whichever balance is used.
        total, covered = _core.majority_share_sum(L, k, n_threads=self._threads())
        if class_balance is not None:
            balance = check_class_balance(class_balance, k)
        elif Y_dev is not None:
            balance = class_balance_from_labels(Y_dev, k)
        elif isinstance(self.class_balance, str) and self.class_balance == "votes":
            balance = total / covered if covered else np.full(k, 1.0 / k)
        elif self.class_balance is not None:
            balance = check_class_balance(self.class_balance, k)
        else:
            balance = np.full(k, 1.0 / k)
        self.cardinality_ = k
        self.n_lfs_ = int(L.shape[1])
        self.class_balance_ = np.ascontiguousarray(balance, dtype=np.float64)
        return self

    def _predict_proba(self, L: np.ndarray) -> np.ndarray:
        return _core.majority_proba(L, self.cardinality_, self.class_balance_, n_threads=self._threads())

    def _decision_proba(self, L: np.ndarray):
        # A row without votes is a tie between all classes for predict (abstain / random / prior), while
        # predict_proba reports the class balance for it.
        k = self.cardinality_
        P = _core.majority_proba(L, k, np.full(k, np.nan), n_threads=self._threads())
        empty = np.isnan(P[:, 0])
        decision = P.copy() if empty.any() else P
        P[empty] = self.class_balance_
        decision[empty] = 1.0 / k
        return P, decision
