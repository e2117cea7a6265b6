"""Covariance / matrix-completion recovery (Snorkel / MeTaL's idea) of class-conditional LF tables.

With ``psi_i`` the one-hot vote of LF i (zeros when it abstains) and ``mu_i[c, y] = P(lambda_i = c | y)``,
conditional independence makes the blocks of the overlap matrix between two different LFs low rank,
``O_ij = mu_i P mu_j^T`` (P = diag(class balance)), and the first moments ``o_i = mu_i pi``. The fit minimises

    sum_{i != j} ||O_ij - mu_i P mu_j^T||^2 + w^2 sum_i ||mu_i pi - o_i||^2 + lambda sum_i ||mu_i - mu0_i||^2

in the native core by block-coordinate least squares (each k x k block ``mu_i`` in closed form, Gauss-Seidel),
alternating, when the class balance is not given, with a closed-form step along the scale valley O cannot see
(mu D with P D^-2 fits O equally; the first moments choose the point). The within-LF blocks
O_ii are not used: they are diagonal (one vote per LF) and not explained by the low-rank term. ``mu0`` is the triplet
fit with each vote row rescaled to the LF's observed vote frequencies (so LFs that vote only some classes get
zero rows and class-dependent abstention), used as the warm start and as a weak ridge target. Deterministic; no torch.

Identifiability: O determines ``Z = mu P^{1/2}`` only up to a rotation R with ``R^T sqrt(pi) = sqrt(pi)`` (the
first moments pin that vector). For k = 2 that leaves only the label swap, broken by the better-than-random
assumption, so the full class-conditional tables (two accuracies per LF) are identified. For k >= 3 a continuum of
rotations fits the second moments equally well; the ridge towards the triplet (symmetric-noise) fit picks the member
closest to it, so class-specific deviations from that model are recovered only as far as they move the optimum.

Memory: the statistics' overlap counts, 8 (m k)^2 bytes, plus one float64 copy of the off-diagonal blocks of the
same size (m = 50, k = 10: 2 MB each; m = 200, k = 20: 128 MB each). Time per sweep: (m k)^2 k multiply-adds.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from ..stats import LabelStats
from .._validation import check_class_balance, check_count, check_number
from ._moments import FIT_BALANCE, one_sided_warning, single_group
from .registry import FitResult

__all__ = ["fit_covariance"]


def fit_covariance(
    stats: LabelStats,
    class_balance: Optional[np.ndarray] = None,
    *,
    max_sweeps: int = 30,
    max_outer: int = 6,
    tol: float = 1e-4,
    ridge: float = 1e-2,
    first_moment_weight: float = 1.0,
    clamp: bool = True,
    dedupe: bool = True,
) -> FitResult:
    """Fit the covariance label model from one group of statistics computed with ``overlap_matrix=True``.

    Args:
        stats: :func:`labelfuse.label_stats` output (single group, with the overlap matrix).
        class_balance: the class prior, or None: estimated jointly with mu (the least-squares class balance for
            the current mu). The first moments
            fix the scale that O alone leaves free (mu D with D^-2 P fits O equally well): pi is the balance whose
            rescaled mu best explains the first moments, alternated with the mu sweeps, from the triplet estimate.
        max_sweeps: Gauss-Seidel sweeps per class-balance step (each costs (m k)^2 k multiply-adds).
        max_outer: alternations between mu and the class balance (1 when the balance is given).
        tol: stop when no entry of mu (a probability) moves by more than this in a sweep and the class balance
            by no more than this in a step (1e-4 is well below the sampling noise of O at n = 1e6).
        ridge: weight of ||mu - mu0||^2 relative to the mean curvature of a block (keeps blocks of LFs with little
            overlap, and the directions O cannot see for k >= 3, at the triplet fit).
        first_moment_weight: w above.
        clamp: after the fit, cap ``P(vote c | y)`` at ``P(vote c | y = c)`` for every LF, vote and class, so that a
            vote is never evidence against its own class (unanimous votes then predict their class unless the prior
            and the abstentions outweigh them).
        dedupe: identical columns are fitted once and counted once in the posterior (as in the triplet fit).

    Returns:
        FitResult with ``cpt`` (m, k+1, k), ``class_balance`` and ``info``: ``mu``, ``accuracy`` (P(vote = y | votes)
        under the fitted balance; NaN for LFs that never vote), ``warm_accuracy``, ``sweeps``, ``loss``
        (off-diagonal squared residual), ``converged``, ``clamped`` (entries capped),
        ``permutation`` (the better-than-random relabelling of the classes; with a given class balance only one that
        maps it onto itself, so ``class_balance`` comes back as given), ``warnings``.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> from labelfuse.models import fit_covariance
        >>> L = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0]] * 10, dtype=np.int8)
        >>> fit_covariance(lf.label_stats(L, 2, overlap_matrix=True)).cpt.shape
        (3, 3, 2)
    """
    stats = single_group(stats)
    if stats.overlap is None:
        raise ValueError("stats: computed without the overlap matrix; use label_stats(..., overlap_matrix=True)")
    k, m = stats.cardinality, stats.n_lfs
    prior = check_class_balance(class_balance, k, **FIT_BALANCE)
    tol = check_number(tol, "tol", 0.0, low_open=True)
    ridge = check_number(ridge, "ridge", 0.0, low_open=True)
    first_moment_weight = check_number(first_moment_weight, "first_moment_weight", 0.0)
    r = _core.covariance_fit(
        np.ascontiguousarray(stats.overlap[0], dtype=np.int64).ravel(),
        np.ascontiguousarray(stats.covote[0], dtype=np.int64).ravel(),
        np.ascontiguousarray(stats.agree[0], dtype=np.int64).ravel(),
        np.ascontiguousarray(stats.class_counts[0], dtype=np.int64).ravel(),
        int(stats.rows[0]),
        k,
        class_balance=prior,
        max_sweeps=check_count(max_sweeps, "max_sweeps", 1),
        max_outer=check_count(max_outer, "max_outer", 1),
        tol=float(tol),
        ridge=float(ridge),
        first_moment_weight=float(first_moment_weight),
        clamp=bool(clamp),
        dedupe=bool(dedupe),
    )
    warnings = []
    coverage = stats.class_counts[0].sum(axis=1)
    never = np.flatnonzero(coverage == 0).tolist()
    if never:
        warnings.append(f"LFs {never}: never vote; they do not affect the posterior")
    dups = [(j, int(d)) for j, d in enumerate(r["duplicate_of"]) if d >= 0]
    if dups:
        warnings.append(f"duplicate LF columns (copy, original) {dups}: fitted once and counted once in the posterior")
    if not r["converged"]:
        warnings.append(f"did not converge within max_sweeps={max_sweeps}, max_outer={max_outer}")
    if m < 3:
        warnings.append(f"{m} LFs: the off-diagonal blocks do not identify mu; the fit stays near the triplet fallback")
    if not np.array_equal(r["permutation"], np.arange(k)):
        warnings.append(f"columns relabelled {r['permutation'].tolist()} by the better-than-random assumption")
    warnings += one_sided_warning(stats, prior is None)
    info = {
        "method": "covariance",
        "mu": r["mu"],
        "accuracy": r["accuracy"],
        "warm_accuracy": r["warm_accuracy"],
        "duplicate_of": r["duplicate_of"],
        "sweeps": int(r["sweeps"]),
        "outer": int(r["outer"]),
        "loss": float(r["loss"]),
        "converged": bool(r["converged"]),
        "clamped": int(r["clamped"]),
        "permutation": r["permutation"],
        "class_balance_estimated": prior is None,
        "warnings": warnings,
    }
    return FitResult(cpt=r["cpt"], class_balance=r["class_balance"], info=info)
