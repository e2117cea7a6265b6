"""What every label model shares: declared hyperparameters (:class:`labelfuse._base.Estimator`), tie-aware
prediction and scoring. Saving and loading go through the base and :mod:`labelfuse._io` (one safetensors file);
files of the first releases' zip format are read by :mod:`labelfuse.models._legacy`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Union

import numpy as np

from .._base import N_THREADS, RANDOM_STATE, Constraint, Estimator, Interval, Options, check_param
from .._base import check_random_state  # noqa: F401  (re-exported: the label models' seed check)
from .._io import load as _io_load
from .._validation import NotFittedError, as_label_matrix, as_labels, check_cardinality
from .._validation import check_class_balance  # noqa: F401  (re-exported for the label models)
from ..metrics import TIE_POLICIES, TIE_TOLERANCE, break_ties  # noqa: F401  (re-exported)
from ..metrics import score as _score

__all__ = ["BaseLabelModel", "NotFittedError", "TIE_POLICIES", "TIE_TOLERANCE", "break_ties", "check_random_state",
           "load", "resolve_tie_policy"]

def resolve_tie_policy(policy: Any, name: str = "tie_policy") -> str:
    """``policy`` if it is one of :data:`TIE_POLICIES`; else a ValueError (a string) or TypeError naming ``name``."""
    check_param(name, policy, [Options(*TIE_POLICIES)])
    return policy


class ProbabilityVector(Constraint):
    """A class balance given as numbers: a list, tuple or array (its length and values are checked at fit, where
    the number of classes is known)."""

    description = "a list or array of class probabilities"

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, (list, tuple, np.ndarray)) or (
            hasattr(value, "__array__") and not isinstance(value, (str, bytes)))


def class_balance_from_labels(Y: Any, cardinality: int, name: str = "Y_dev") -> np.ndarray:
    """Class frequencies of labelled examples with add-one (Laplace) smoothing: (count + 1) / (n + k), so a
    class missing from a small dev set keeps a small probability instead of being ruled out."""
    Y = np.asarray(Y)
    y = as_labels(Y, Y.shape[0] if Y.ndim == 1 else -1, cardinality, name)
    if y.size == 0:
        raise ValueError(f"{name}: is empty")
    counts = np.bincount(y, minlength=cardinality).astype(np.float64)
    return (counts + 1.0) / (counts.sum() + cardinality)


class BaseLabelModel(Estimator):
    """Shared behaviour; subclasses implement ``fit`` and ``_predict_proba`` and list their fitted state in
    ``_fitted_arrays`` (numpy arrays) and ``_fitted_values`` (JSON-able values)."""

    _parameter_constraints: Dict[str, list] = {
        "cardinality": [None, Interval(int, 2, None)],
        "class_balance": [None, Options("uniform"), ProbabilityVector()],
        "tie_policy": [Options(*TIE_POLICIES)],
        "random_state": [RANDOM_STATE],
        "n_threads": [N_THREADS],
    }
    _fitted_arrays: Sequence[str] = ()
    _fitted_values: Sequence[str] = ("cardinality_", "n_lfs_")

    # -- fitted state -------------------------------------------------------------------------------------------
    def _is_fitted(self) -> bool:
        return getattr(self, "cardinality_", None) is not None

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(L) before using this method."
            )

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, 0..k-1."""
        self._check_fitted()
        return np.arange(self.cardinality_)

    def _check_L(self, L: Any) -> np.ndarray:
        L = as_label_matrix(L)
        if L.shape[1] != self.n_lfs_:
            raise ValueError(f"L: expected {self.n_lfs_} columns (LFs) as in fit, got {L.shape[1]}")
        return L

    def _threads(self) -> Optional[int]:
        from .._validation import check_n_threads

        return check_n_threads(getattr(self, "n_threads", None))

    # -- prediction -----------------------------------------------------------------------------------------------
    def predict_proba(self, L: Any) -> np.ndarray:
        """(n, k) class probabilities; every row sums to 1."""
        self._check_fitted()
        return self._predict_proba(self._check_L(L))

    def _predict_proba(self, L: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, L: Any, tie_policy: Optional[str] = None) -> np.ndarray:
        """Most probable class per row; ties follow ``tie_policy`` (default: the estimator's ``tie_policy``):
        "abstain" -> -1, "random" -> a tied class drawn with ``random_state``, "prior" -> the tied class that is
        most probable a priori (``class_balance_``)."""
        self._check_fitted()
        return self._decide(self._decision_proba(self._check_L(L))[1], tie_policy)

    def _decision_proba(self, L: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
        """(probabilities, the scores ``predict`` decides on); the same array unless a subclass treats some
        rows as ties (majority vote: rows without votes)."""
        P = self._predict_proba(L)
        return P, P

    def _decide(self, P: np.ndarray, tie_policy: Optional[str]) -> np.ndarray:
        policy = resolve_tie_policy(self.tie_policy if tie_policy is None else tie_policy)
        return break_ties(P, policy, self.class_balance_, check_random_state(self.random_state))

    def score(
        self,
        L: Any,
        Y: Any,
        metrics: Union[str, Iterable[str]] = ("accuracy",),
        tie_policy: Optional[str] = None,
        warn: bool = True,
    ) -> Dict[str, float]:
        """Metrics against gold labels Y, by name (:func:`labelfuse.metrics.resolve_metric`): accuracy, f1,
        precision, recall (binary: class 1 is positive; multi-class: macro average), macro_f1, macro_precision,
        macro_recall, brier, log_loss. Scored by the one contract, :func:`labelfuse.metrics.score`: rows the model
        abstains on (tied top classes; for majority vote also rows without votes) follow ``tie_policy`` (default:
        the estimator's; "abstain" counts them wrong), and an AbstentionWarning names their count (``warn=False``:
        not, for a caller that reports ``n_abstained`` itself). Returns a
        :class:`labelfuse.metrics.ScoreReport` (a dict with ``n_abstained``, ``tie_policy``, ``resolution``).

        Example: ``MajorityVote(tie_policy="prior").fit(L).score(L, Y, metrics=["accuracy", "brier"])``."""
        self._check_fitted()
        P, decision = self._decision_proba(self._check_L(L))
        if P.shape[0] == 0:  # every metric is a mean over rows
            raise ValueError("L: has no rows, so there is nothing to score")
        Y = as_labels(Y, P.shape[0], self.cardinality_)
        policy = resolve_tie_policy(self.tie_policy if tie_policy is None else tie_policy)
        return _score(Y, P, metrics, tie_policy=policy, prior=self.class_balance_,
                      random_state=check_random_state(self.random_state), decision=decision,
                      cardinality=self.cardinality_, source=type(self).__name__, warn=warn)


def load(path: Any) -> BaseLabelModel:
    """Load a label model saved with ``save`` (``labelfuse._io.load`` restricted to label models; files of the
    first releases' zip format load too). Example: ``lm = labelfuse.models.load("model.lf")``."""
    return _io_load(path, expected=BaseLabelModel)


def resolve_cardinality(L: np.ndarray, cardinality: Any, Y: Any = None, *,
                        table_bytes: Optional[Callable[[int], int]] = None, tables: str = "tables") -> int:
    """The number of classes: ``cardinality`` checked, or inferred from L (and Y). ``table_bytes(k)``: what the
    model allocates for k classes; more than the memory limit is a ValueError naming cardinality."""
    from .._validation import check_label_convention, check_model_memory, infer_cardinality

    check_label_convention(L)  # (the user's votes: warned when they look written in another convention)
    if cardinality is not None:
        k = check_cardinality(cardinality)
    else:
        k = infer_cardinality(L, None, Y)
    if table_bytes is not None:
        check_model_memory(table_bytes(k), k, inferred=cardinality is None, what=tables)
    return k
