"""Shared helpers for the embedding-fusion tests: slow, obviously-correct numpy references and small data."""
from __future__ import annotations

import numpy as np


def brute_force_extend(L_db, L_query, X_db, X_query, thresholds, k, self_query):
    """The extension rule over all pairs, in float64: the reference the native code must equal."""
    X_db = np.asarray(X_db, dtype=np.float64)
    X_query = np.asarray(X_query, dtype=np.float64)
    S = X_query @ X_db.T
    if self_query:
        np.fill_diagonal(S, -np.inf)
    out = np.array(L_query, copy=True)
    best = np.full((S.shape[0], k), -np.inf)
    for j in range(L_db.shape[1]):
        for c in range(k):
            voters = L_db[:, j] == c
            best[:, c] = S[:, voters].max(axis=1) if voters.any() else -np.inf
        top = best.max(axis=1)
        unique = (best == top[:, None]).sum(axis=1) == 1
        take = (out[:, j] == -1) & unique & (top > thresholds[j])
        out[take, j] = best[take].argmax(axis=1)
    return out, S


def lattice_embeddings(n, d=8, nonzero=4, seed=0):
    """Unit vectors with entries in {0, +-1/2}: every cosine similarity is a multiple of 1/4, computed exactly
    in float32 by any summation order, so ties are real ties for faiss, the core and numpy alike."""
    assert nonzero == 4
    rng = np.random.default_rng(seed)
    X = np.zeros((n, d), dtype=np.float32)
    for i in range(n):
        cols = rng.choice(d, size=nonzero, replace=False)
        X[i, cols] = rng.choice([-0.5, 0.5], size=nonzero)
    return X


def clustered_embeddings(n, d=16, n_clusters=5, spread=0.3, seed=0):
    """Gaussian blobs (labels smooth in embedding space), returns (X float32, cluster ids)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d))
    z = rng.integers(0, n_clusters, size=n)
    X = centres[z] + spread * rng.standard_normal((n, d))
    return X.astype(np.float32), z


def symmetric_fit(accuracy=0.8):
    """A stand-in label model (a fit function of the statistics): every LF right with a fixed probability,
    coverage from the counts, class balance given or uniform. Deterministic, so the plumbing can be checked
    against numpy exactly."""
    from labelfuse.models.registry import FitResult
    from labelfuse.synthetic import conditional_table

    def fit(stats, class_balance):
        k = stats.cardinality
        coverage = stats.class_counts[0].sum(axis=1) / max(int(stats.rows[0]), 1)
        coverage = np.clip(coverage, 1e-3, 1 - 1e-3)
        cpt = conditional_table(np.full(stats.n_lfs, accuracy), coverage, k)
        cb = np.full(k, 1.0 / k) if class_balance is None else np.asarray(class_balance, dtype=np.float64)
        return FitResult(cpt=cpt, class_balance=cb)

    return fit
