"""Dawid-Skene fit: the native EM (cpp/dawid_skene.cpp) behind the FitResult contract."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from .._validation import (as_label_matrix, check_cardinality, check_class_balance, check_count, check_model_memory,
                           check_number)
from ._moments import FIT_BALANCE
from .registry import FitResult, check_fit_result

ABSTENTION_MODES = ("model", "ignore")


def fit_dawid_skene(
    L: np.ndarray,
    cardinality: int,
    class_balance: Optional[np.ndarray] = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-8,
    smoothing: float = 0.01,
    abstentions: str = "model",
    init: Optional[FitResult] = None,
    accelerate: bool = True,
    n_threads: Optional[int] = None,
) -> FitResult:
    """EM for the Dawid-Skene model over the unique vote patterns of L.

    Parameters: per LF a confusion table P(lambda_j = c | y) and the class prior (kept fixed when
    ``class_balance`` is given). ``abstentions="model"`` makes P(abstain | y) a parameter too (an LF that votes
    for one class only is then still informative); ``"ignore"`` drops abstentions as crowd-kit does, and the
    returned table gives every class the LF's observed abstention rate (which leaves posteriors unchanged).
    EM starts from the soft majority vote, or from ``init`` (a previous fit: warm start), adds ``smoothing``
    to every expected count, and stops when the mean log-likelihood per row changes by less than ``tol`` or
    after ``max_iter`` E-steps (passes over the patterns). ``accelerate`` extrapolates between EM steps
    (SQUAREM): the same fixed points in far fewer passes when plain EM crawls (weak LFs, imbalanced classes).
    Deterministic for any thread count.
    """
    L = as_label_matrix(L)
    k = check_cardinality(cardinality)
    check_model_memory(8 * L.shape[1] * (k + 1) * k, k, inferred=False, what=f"the tables of {L.shape[1]} LFs")
    if abstentions not in ABSTENTION_MODES:
        raise ValueError(f"abstentions: expected one of {ABSTENTION_MODES}, got {abstentions!r}")
    max_iter = check_count(max_iter, "max_iter", 0)
    # finite: an infinite tolerance or pseudo-count has no meaning
    tol = check_number(tol, "tol", 0.0, np.finfo(np.float64).max)
    smoothing = check_number(smoothing, "smoothing", 0.0, np.finfo(np.float64).max)
    init_cpt = init_prior = None
    if init is not None:
        init = check_fit_result(init, L.shape[1], k, "init")
        init_cpt = np.ascontiguousarray(init.cpt, dtype=np.float64)
        init_prior = np.ascontiguousarray(init.class_balance, dtype=np.float64)
    fixed = check_class_balance(class_balance, k, **FIT_BALANCE)  # (None, or k positive probabilities)
    out = _core.dawid_skene(
        L, k, max_iter=int(max_iter), tol=float(tol), smoothing=float(smoothing),
        model_abstentions=abstentions == "model", class_balance=fixed, init_cpt=init_cpt, init_prior=init_prior,
        accelerate=bool(accelerate), n_threads=n_threads,
    )
    info = {
        "n_iter": int(out["n_iter"]),
        "converged": bool(out["converged"]),
        "log_likelihood": float(out["log_likelihood"]),
        "n_patterns": int(out["n_patterns"]),
        "warm_start": init is not None,
        "coverage": out["coverage"],  # (m,) fraction of rows each LF votes on (LabelModel takes it out)
        "warnings": [] if out["converged"] or max_iter == 0 else [
            f"EM did not converge within max_iter={max_iter} (tol={tol:g}): raise max_iter or tol"],
    }
    return FitResult(cpt=out["cpt"], class_balance=out["class_balance"], info=info)
