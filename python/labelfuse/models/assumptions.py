"""Checks of the data against the label models' assumptions, run by ``LabelModel.fit``; what they find is recorded
in ``info_["warnings"]`` and emitted as labelfuse warnings (:mod:`labelfuse.diagnostics`).

- near-identical LFs (conditionally independent models count copies as independent evidence: Dawid-Skene with
  three copies of one LF reports that LF at accuracy 1.0 and loses accuracy);
- flipped LFs (worse than random: the moment fits assume better than random and report 1 - accuracy);
- a collapse (the model gives almost every covered row one class where majority vote spreads them);
- many sparse one-sided multi-class LFs (the covariance fit's matrix completion breaks down);
- the class balance of all-one-sided binary LFs, from third moments of the vote indicators (the first-moment
  estimate needs two-sided LFs, and without them falls back to uniform).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

# covariance's fit costs O((m k)^2 k) per sweep: measured 19 s at k = 100 and > 240 s at k = 200 (n = 100); above
# this many classes LabelModel refuses method="covariance" (triplet and Dawid-Skene scale to many classes).
COVARIANCE_MAX_CLASSES = 50
# two LFs that give the same answer (vote or abstain) on at least this share of rows where either votes are
# near-identical
NEAR_IDENTICAL = 0.98
SAMPLE_ROWS = 20_000      # rows read by the row-level checks (an evenly spaced sample)
COLLAPSE_SAMPLE_ROWS = 5_000  # rows the collapse check predicts on
MAX_LFS_FOR_PAIRS = 400   # the pairwise check is skipped above this many LFs (it is O(sample m^2))


def _sample(L: np.ndarray, rows: int = SAMPLE_ROWS) -> np.ndarray:
    step = max(1, L.shape[0] // rows)
    return np.asarray(L[::step][:rows])


def near_identical_lfs(L: np.ndarray, threshold: float = NEAR_IDENTICAL, min_votes: int = 30) -> List[List[int]]:
    """Groups of LFs (column indices) whose votes are the same on at least ``threshold`` of the rows where one of
    them votes (on a row sample), each with at least ``min_votes`` votes there."""
    m = L.shape[1]
    if m < 2 or m > MAX_LFS_FOR_PAIRS:
        return []
    # pair counts on the sample (co-votes, agreements), then the same rule as from full statistics
    # (one LF against all at a time: O(m^2) per sampled row whatever the number of classes, and no BLAS threads)
    T = np.ascontiguousarray(_sample(L).T)  # LF-major: each comparison reads contiguous rows
    voted = T >= 0
    covote = np.empty((m, m), dtype=np.int64)
    agree = np.empty((m, m), dtype=np.int64)
    for j in range(m):
        covote[j] = np.count_nonzero(voted & voted[j], axis=1)
        agree[j] = np.count_nonzero((T == T[j]) & voted[j], axis=1)
    return near_identical_from_stats(covote, agree, threshold, min_votes)


def near_identical_from_stats(covote: np.ndarray, agree: np.ndarray, threshold: float = NEAR_IDENTICAL,
                              min_votes: int = 30) -> List[List[int]]:
    """:func:`near_identical_lfs` from pair counts over all rows (``covote``, ``agree``: (m, m), coverages on the
    diagonal) instead of a row sample: LFs i, j give the same answer on ``agree_ij`` of the
    ``cov_i + cov_j - covote_ij`` rows where one of them votes. O(m^2), so a refit from statistics stays cheap."""
    m = covote.shape[0]
    if m < 2:
        return []
    cov = np.diag(covote).astype(np.float64)
    either = cov[:, None] + cov[None, :] - covote
    share = np.where(either > 0, agree / np.maximum(either, 1), 0.0)
    enough = cov >= min_votes
    close = (share >= threshold) & enough[:, None] & enough[None, :]
    np.fill_diagonal(close, False)
    parent = list(range(m))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(close))):
        parent[find(int(j))] = find(int(i))
    groups: dict = {}
    for i in range(m):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def flipped_lfs(covote: np.ndarray, agree: np.ndarray, class_counts: np.ndarray, k: int,
                min_overlap: int = 50, z: float = 3.0) -> List[Tuple[int, float]]:
    """(LF, mean moment) for two-sided LFs that disagree with most other two-sided LFs beyond chance.

    Under the symmetric-noise model ``M_ij = (k P(agree | both vote) - 1) / (k - 1) = a_i a_j`` with ``a`` the
    accuracy above chance; most LFs are better than random, so an LF whose significant moments with them are
    mostly negative has ``a_i < 0``: it is worse than random (flipped), which the triplet's sign assumption turns
    into accuracy 1 - acc. One-sided LFs are left out (their agreement says nothing about their accuracy)."""
    two_sided = (class_counts > 0).sum(axis=1) >= 2
    m = covote.shape[0]
    # every pair at once (a refit from statistics runs this per LF edit): M and its standard error per pair
    n = covote.astype(np.float64)
    pair = two_sided[:, None] & two_sided[None, :] & (n >= min_overlap)
    np.fill_diagonal(pair, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(pair, agree / np.maximum(n, 1), 0.0)
        M = (k * p - 1) / (k - 1)
        se = k / (k - 1) * np.sqrt(np.maximum(p * (1 - p), 1e-12) / np.maximum(n, 1))
    significant = pair & (np.abs(M) > z * se)
    n_sig = significant.sum(axis=1)
    n_neg = (significant & (M < 0)).sum(axis=1)
    flipped = (n_sig >= 2) & (n_neg > n_sig / 2)
    out = [(int(i), float(M[i][significant[i]].mean())) for i in np.flatnonzero(flipped)]
    return out if len(out) < m / 2 else []  # most LFs "flipped" means the reference is wrong, not the LFs


def collapse(pred: np.ndarray, L: np.ndarray, k: int, share: float = 0.95,
             vote_share: float = 0.8) -> Optional[Tuple[int, float, float]]:
    """(class, the model's share, majority vote's share) when the model gives at least ``share`` of the rows
    with votes one class while majority vote gives that class less than ``vote_share`` of them; else None."""
    S = _sample(L)
    covered = (S >= 0).any(axis=1)
    if covered.sum() < 50:
        return None
    p = _sample(pred.reshape(-1, 1))[:, 0][covered]
    counts = np.bincount(p[p >= 0], minlength=k)
    if counts.sum() == 0:
        return None
    top = int(np.argmax(counts))
    model_share = counts[top] / counts.sum()
    Sc = S[covered]
    votes = np.stack([(Sc == c).sum(axis=1) for c in range(k)], axis=1) if k <= 64 else None
    if votes is None:
        return None
    mv = np.argmax(votes, axis=1)
    mv_share = float(np.mean(mv == top))
    if model_share >= share and mv_share < vote_share:
        return top, float(model_share), mv_share
    return None


def sparse_one_sided_multiclass(class_counts: np.ndarray, n: int, k: int) -> Optional[str]:
    """Why the covariance fit is unreliable here, or None: k > 2 with most LFs one-sided and sparse (median
    coverage under 5%), the regime where its matrix completion breaks down (seen on semeval: 57.0 against
    majority vote's 77.3)."""
    if k <= 2 or n == 0:
        return None
    voting = class_counts.sum(axis=1) > 0
    if voting.sum() < 10:
        return None
    one_sided = ((class_counts > 0).sum(axis=1) == 1)[voting].mean()
    coverage = float(np.median(class_counts.sum(axis=1)[voting] / n))
    if one_sided >= 0.5 and coverage < 0.05:
        return (f"{one_sided:.0%} of the voting LFs vote a single class and their median coverage is "
                f"{coverage:.1%}: the covariance fit's matrix completion is unreliable with many sparse one-sided "
                f"multi-class LFs; compare method='triplet' or 'dawid_skene' (or majority vote) on dev labels")
    return None


def one_sided_class_balance(L: np.ndarray, min_votes: int = 30) -> Optional[np.ndarray]:
    """Binary class balance from the vote indicators of one-sided LFs, or None when it cannot be told.

    With x_i = 1[LF i votes], conditionally independent given y, and z = y - pi_1:
    Cov(x_i, x_j) = d_i d_j pi_0 pi_1 and E[(x_i - m_i)(x_j - m_j)(x_l - m_l)] = d_i d_j d_l pi_0 pi_1 (pi_0 - pi_1),
    so T^2 / (C_ij C_il C_jl) = (pi_0 - pi_1)^2 / (pi_0 pi_1) =: r for every triplet, and pi_0 pi_1 = 1 / (r + 4).
    The sign of pi_0 - pi_1 is that of T d_i d_j d_l, where sign(d_i) is +1 for an LF voting class 1 and -1 for
    class 0 (better than random). The median over the informative triplets is used."""
    T = np.ascontiguousarray(_sample(L, 50_000).T)  # LF-major: contiguous per-LF rows
    if T.shape[1] < 200:
        return None
    voted = T >= 0
    counts = voted.sum(axis=1)
    low = np.where(voted, T, np.iinfo(T.dtype).max).min(axis=1)
    high = T.max(axis=1)
    use = np.flatnonzero((low == high) & (counts >= min_votes))  # LFs voting one class only
    if use.size < 3:
        return None
    use = use[np.argsort(-counts[use])][:8]  # the 8 most active: 56 triplets at most (refits stay fast)
    X = voted[use].astype(np.float64)
    X -= X.mean(axis=1, keepdims=True)
    n = X.shape[1]
    # sums of products, not BLAS: a threaded BLAS call on a busy machine cost 7-45 ms per 1e5-vector here
    C = np.array([[float((X[i] * X[j]).sum()) / n for j in range(use.size)] for i in range(use.size)])
    sign = np.where(high[use] == 1, 1.0, -1.0)
    se = np.sqrt(np.outer(np.diag(C), np.diag(C)) / n)  # standard error of a covariance near 0
    ratios, signs = [], []
    for a in range(use.size):
        for b in range(a + 1, use.size):
            for c in range(b + 1, use.size):
                denom = C[a, b] * C[a, c] * C[b, c]
                # only triplets whose covariances all have the sign the model predicts (d_i d_j > 0 iff same class)
                if not all(np.sign(C[p, q]) == sign[p] * sign[q] and abs(C[p, q]) > 2.0 * se[p, q]
                           for p, q in ((a, b), (a, c), (b, c))):
                    continue
                third = float((X[a] * X[b] * X[c]).sum() / n)
                ratios.append(third * third / denom)
                signs.append(np.sign(third) * sign[a] * sign[b] * sign[c])
    if len(ratios) < 3:
        return None
    q = 1.0 / (float(np.median(ratios)) + 4.0)  # pi_0 pi_1, at most 1/4
    low = 0.5 * (1.0 - np.sqrt(max(0.0, 1.0 - 4.0 * q)))
    low = float(np.clip(low, 0.01, 0.5))
    return np.array([1 - low, low]) if np.median(signs) >= 0 else np.array([low, 1 - low])
