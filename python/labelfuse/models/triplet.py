"""Triplet recovery of LF accuracies (FlyingSquid's idea), binary and multi-class, from pairwise moments.

Model: y ~ Cat(pi); LF i votes independently of y and of the other LFs, and when it votes it is right with
probability ``acc_i`` and otherwise picks one of the k-1 other classes uniformly. With
``a_i = (k acc_i - 1) / (k - 1)`` (accuracy above chance) and ``M_ij = (k P(agree | both vote) - 1) / (k - 1)``,
the model gives ``M_ij = a_i a_j`` whatever the class balance, so three LFs identify
``|a_i| = sqrt|M_ij M_il / M_jl|``. For k = 2 ``M_ij`` is the second moment ``E[v_i v_j | both vote]`` with
v = +-1. The sign is fixed by the better-than-random assumption (a_i >= 0).

One-sided LFs (binary): an LF that only ever votes one class agrees with every co-voting LF of its class and
disagrees with every other, so its agreement moments say nothing about its accuracy (the symmetric fit turns such
LFs into a majority vote). For k = 2 their vote *indicators* x_i = 1[LF i votes] carry the signal instead: with
delta_i = P(x_i | y=1) - P(x_i | y=0), conditional independence gives Cov(x_i, x_j) = pi_0 pi_1 delta_i delta_j,
the same triplet identity, so |delta_i| = sqrt|C_ij C_il / C_jl| / sqrt(pi_0 pi_1), and the class-conditional vote
rates follow from the LF's coverage; the sign puts the higher rate on the class it votes (better than random).

Multi-class is native: the class-conditional tables ``P(lambda_i = c | y)`` follow from ``acc_i``, the coverage and
the estimated class balance (no one-vs-rest models). Posteriors use the class prior once (the shared kernel).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from ..stats import LabelStats
from .._validation import check_class_balance, check_count, check_number
from ._moments import (
    FIT_BALANCE,
    check_probability,
    one_sided_warning,
    single_group,
)
from .registry import FitResult

__all__ = ["fit_triplet", "SOURCES"]

# How each LF's accuracy was obtained (info["source"]); the codes come from cpp/triplet.hpp.
# The last, "coverage", is set here in Python (binary one-sided LFs, see fit_triplet's one_sided).
SOURCES = ("triplets", "pairs", "fallback", "never_votes", "duplicate", "coverage")


def fit_triplet(
    stats: LabelStats,
    class_balance: Optional[np.ndarray] = None,
    *,
    min_overlap: int = 10,
    min_denominator_z: float = 3.0,
    fallback_accuracy: float = 0.7,
    max_accuracy: float = 0.999,
    aggregate: str = "weighted_mean",
    dedupe: bool = True,
    one_sided: str = "coverage",
) -> FitResult:
    """Fit the triplet label model from one group of label statistics.

    Args:
        stats: :func:`labelfuse.label_stats` output with a single group (no overlap matrix needed).
        class_balance: the class prior, or None to estimate it from first moments: for an LF that votes,
            ``P(vote = c) = (1 - acc)/(k-1) + a pi_c``, so each identified LF gives an estimate of ``pi_c``; they are
            averaged with inverse-variance weights (votes x a^2). LFs that vote one class only are left out (that
            formula assumes errors spread over the other classes and y-independent abstention; a one-sided LF's
            vote share is 1 for its class whatever the balance); with no two-sided LF the balance is uniform.
        min_overlap: co-votes a pair of LFs needs before its moment is used.
        min_denominator_z: a triplet (i; j, l) is skipped when ``|M_jl|`` is within this many standard errors of 0
            (a ratio by a ~0 denominator is noise; skipped, not counted as 0).
        fallback_accuracy: for LFs that neither a triplet nor a pair with an identified LF pins down (fewer than 3
            LFs, LFs that never overlap); reported in ``info["warnings"]``.
        max_accuracy: accuracies are capped here so that no vote is treated as certain.
        aggregate: how the estimates of ``a_i^2`` over the valid triplets are combined: ``"weighted_mean"`` (weights
            are inverse delta-method variances, so low-overlap pairs and ~0 moments count little) or ``"median"``.
        dedupe: identical LF columns are fitted once; the copies get the same accuracy but a table independent of y,
            so the posterior counts their vote once.
        one_sided: ``"coverage"`` (k = 2): LFs that vote one class only get class-conditional vote rates
            ``P(vote | y)`` from the covariances of the vote indicators (module docstring; info["source"] says
            ``"coverage"``), so their table's abstention depends on y; ``"symmetric"``: the symmetric-noise fit for
            every LF. No effect for k > 2 or when no triplet of indicators is informative.

    Returns:
        FitResult with ``cpt`` (m, k+1, k), ``class_balance`` (k,) and ``info``: ``accuracy`` (NaN for LFs that never
        vote), ``source`` (one of :data:`SOURCES` per LF), ``n_triplets``, ``duplicate_of``,
        ``class_balance_estimated``, ``warnings``.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> from labelfuse.models import fit_triplet
        >>> L = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0]] * 10, dtype=np.int8)
        >>> fit_triplet(lf.label_stats(L, 2)).class_balance.shape
        (2,)
    """
    stats = single_group(stats)
    k, m = stats.cardinality, stats.n_lfs
    prior = check_class_balance(class_balance, k, **FIT_BALANCE)
    min_denominator_z = check_number(min_denominator_z, "min_denominator_z", 0.0)
    if one_sided not in ("coverage", "symmetric"):
        raise ValueError(f"one_sided: expected 'coverage' or 'symmetric', got {one_sided!r}")
    if aggregate not in ("weighted_mean", "median"):
        raise ValueError(f"aggregate: expected 'weighted_mean' or 'median', got {aggregate!r}")
    r = _core.triplet_fit(
        np.ascontiguousarray(stats.covote[0], dtype=np.int64).ravel(),
        np.ascontiguousarray(stats.agree[0], dtype=np.int64).ravel(),
        np.ascontiguousarray(stats.class_counts[0], dtype=np.int64).ravel(),
        int(stats.rows[0]),
        k,
        class_balance=prior,
        min_overlap=check_count(min_overlap, "min_overlap"),
        min_denominator_z=float(min_denominator_z),
        fallback_accuracy=check_probability(fallback_accuracy, "fallback_accuracy"),
        max_accuracy=check_probability(max_accuracy, "max_accuracy"),
        median=aggregate == "median",
        dedupe=bool(dedupe),
    )
    source = [SOURCES[s] for s in r["source"]]
    cpt, accuracy = r["cpt"], r["accuracy"]
    if one_sided == "coverage" and k == 2:
        cpt, accuracy = cpt.copy(), accuracy.copy()
        for i in _one_sided_rates(stats, source, r["class_balance"], cpt, min_denominator_z):
            source[i] = "coverage"
            c = int(np.argmax(stats.class_counts[0][i]))
            # P(vote correct | votes) under the fitted balance, as for the other LFs
            accuracy[i] = cpt[i, 1 + c, c] * r["class_balance"][c] / (cpt[i, 1 + c, :] @ r["class_balance"])
    info = {
        "method": "triplet",
        "accuracy": accuracy,
        "source": source,
        "n_triplets": r["n_triplets"],
        "duplicate_of": r["duplicate_of"],
        "class_balance_estimated": prior is None,
        "warnings": (_warnings(source, r["duplicate_of"], fallback_accuracy, m)
                     + one_sided_warning(stats, prior is None)),
    }
    return FitResult(cpt=cpt, class_balance=r["class_balance"], info=info)


def _one_sided_rates(stats: LabelStats, source: list, pi: np.ndarray, cpt: np.ndarray, z: float) -> list:
    """Binary one-sided LFs: write P(vote | y) from vote-indicator covariance triplets into ``cpt`` (in place);
    returns the LFs done. O(m^3) over LFs, no pass over rows (the counts are in ``stats``)."""
    counts = stats.class_counts[0]
    n = float(stats.rows[0])
    fitted = np.array([s in ("triplets", "pairs", "fallback") for s in source])
    one = fitted & ((counts > 0).sum(axis=1) == 1)
    if not one.any() or n <= 0:
        return []
    usable = fitted  # duplicates and silent LFs carry nothing new
    mean = counts.sum(axis=1) / n
    C = stats.covote[0] / n - np.outer(mean, mean)
    se = np.sqrt(np.outer(mean * (1 - mean), mean * (1 - mean)) / n)
    denominator_ok = (np.abs(C) > z * se) & (np.abs(C) > 0) & np.outer(usable, usable)
    np.fill_diagonal(denominator_ok, False)
    # the usable pairs (a < b) once, in row-major order; LF i's triplets are those without i (the same elements in
    # the same order as masking the matrix per i, so the sums below are the same floating-point sums)
    first, second = np.nonzero(np.triu(denominator_ok, 1))
    pair_cov = C[first, second]
    pair_weight = pair_cov ** 2  # large covariances are the well-determined denominators
    done = []
    for i in np.flatnonzero(one):
        ok = (first != i) & (second != i)
        if not ok.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = C[i, first[ok]] * C[i, second[ok]] / pair_cov[ok]
        weights = pair_weight[ok]
        d2 = max(float(np.multiply(ratio, weights).sum() / weights.sum()), 0.0) / (pi[0] * pi[1])
        c = int(np.argmax(counts[i]))
        d = np.sqrt(d2)
        own = np.clip(mean[i] + (1 - pi[c]) * d, 1e-4, 1 - 1e-4)
        other = np.clip(mean[i] - pi[c] * d, 1e-4, 1 - 1e-4)
        table = np.zeros((3, 2))
        table[1 + c, c], table[1 + c, 1 - c] = own, other
        table[0, c], table[0, 1 - c] = 1 - own, 1 - other
        cpt[i] = table
        done.append(int(i))
    return done


def _warnings(source: list, duplicate_of: np.ndarray, fallback_accuracy: float, m: int) -> list:
    out = []
    fallback = [j for j, s in enumerate(source) if s == "fallback"]
    if fallback:
        why = "fewer than 3 LFs" if m < 3 else "no valid triplet and no overlap with an identified LF"
        out.append(f"LFs {fallback}: accuracy not identifiable ({why}); using fallback_accuracy={fallback_accuracy}")
    pairs = [j for j, s in enumerate(source) if s == "pairs"]
    if pairs:
        out.append(f"LFs {pairs}: no valid triplet; accuracy from pairwise agreement with identified LFs")
    never = [j for j, s in enumerate(source) if s == "never_votes"]
    if never:
        out.append(f"LFs {never}: never vote; they do not affect the posterior")
    dups = [(j, int(duplicate_of[j])) for j, s in enumerate(source) if s == "duplicate"]
    if dups:
        out.append(f"duplicate LF columns (copy, original) {dups}: fitted once and counted once in the posterior")
    return out
