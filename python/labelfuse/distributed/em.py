"""Distributed Dawid-Skene: EM whose E-step runs on the workers and whose M-step sees only expected counts.

Dawid-Skene needs the rows at every iteration (the posteriors depend on the current tables), so unlike the
triplet / covariance fits it cannot work from one reduction of LabelStats. Each iteration instead sends the current
tables (a few KB, one shared graph node) to the workers; every block returns its expected counts
``sum_i p(y | votes_i) [lambda_ij = c]`` (G, m, k, k), class masses (G, k) and log-likelihood (G,), which are added
in a tree; the driver does the M-step. Cost: one pass over the persisted label blocks per iteration.

The iteration is the plain EM of the single-machine fit (``fit_dawid_skene(..., abstentions="model",
accelerate=False)``): the same soft-majority-vote start (rows without votes start at the class balance), the same
smoothing and M-step, the same stopping rule (the mean log-likelihood per row changes by less than ``tol``).
SQUAREM acceleration is not used here: an extrapolated point that lowers the likelihood costs an extra pass over
the data to detect, and plain EM keeps every iteration one pass. Sums of float expected counts over blocks differ
from the single-machine order by rounding only (~1e-16 relative per iteration).

With groups (Liger partitions) every group runs its own EM on the same passes; a group that has converged is
frozen, so each group's result is what an EM on that group alone would give.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

from .._validation import check_count, check_n_threads, check_number
from ..models.registry import FitResult
from ._dask import (SPLIT_EVERY, aligned, as_label_array, block_offsets, check_groups_args, compute, dask,
                    in_matrix_rows, row_blocks)
from .stats import tree_sum

_FLOOR = 1e-300  # as the native EM: log(max(theta, 1e-300))


@dataclass
class EMCounts:
    """Expected sufficient statistics of one set of rows, per group; additive."""

    counts: np.ndarray   # (G, m, k, k): [g, j, c, y] expected number of rows with class y where LF j votes c
    mass: np.ndarray     # (G, k): expected rows per class (in the majority pass: covered rows only)
    loglik: np.ndarray   # (G,): sum of log p(votes_i) (0 in the majority pass)
    rows: np.ndarray     # (G,) int64
    empty: np.ndarray    # (G,) int64 rows without any vote

    def __add__(self, other: "EMCounts") -> "EMCounts":
        return EMCounts(self.counts + other.counts, self.mass + other.mass, self.loglik + other.loglik,
                        self.rows + other.rows, self.empty + other.empty)


def em_block(L: np.ndarray, groups: Optional[np.ndarray], n_groups: int, k: int,
             log_tables: Optional[Tuple[np.ndarray, np.ndarray]]) -> EMCounts:
    """E-step on one block: soft majority vote when ``log_tables`` is None, else posteriors under
    (log_cpt (G, m, k+1, k), log_prior (G, k))."""
    L = np.asarray(L)
    n, m = L.shape
    G = n_groups
    g = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    voted = L >= 0
    n_votes = voted.sum(axis=1)
    loglik = np.zeros(G)
    if log_tables is None:
        s = np.zeros((n, k))
        for c in range(k):
            s[:, c] = (L == c).sum(axis=1)
        s /= np.maximum(n_votes, 1)[:, None]  # rows without votes stay 0 here; the driver fills them in
    else:
        log_cpt, log_prior = log_tables
        logp = log_prior[g].copy()
        for j in range(m):
            logp += log_cpt[g, j, L[:, j].astype(np.int64) + 1, :]
        top = logp.max(axis=1, keepdims=True) if n else np.zeros((0, 1))
        s = np.exp(logp - top)
        z = s.sum(axis=1, keepdims=True)
        s /= z
        loglik = np.bincount(g, weights=(top + np.log(z))[:, 0], minlength=G)
    counts = np.zeros((G, m, k, k))
    for j in range(m):
        rows = voted[:, j]
        idx = g[rows] * k + L[rows, j].astype(np.int64)
        sj = s[rows]
        for y in range(k):
            counts[:, j, :, y] = np.bincount(idx, weights=sj[:, y], minlength=G * k).reshape(G, k)
    mass = np.stack([np.bincount(g, weights=s[:, y], minlength=G) for y in range(k)], axis=1)
    return EMCounts(counts, mass, loglik, np.bincount(g, minlength=G).astype(np.int64),
                    np.bincount(g[n_votes == 0], minlength=G).astype(np.int64))


def m_step(stats: EMCounts, smoothing: float, fixed_prior: Optional[np.ndarray],
           majority: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Tables (G, m, k+1, k) and priors (G, k) from expected counts (abstentions modelled)."""
    G, m, k, _ = stats.counts.shape
    mass = stats.mass.copy()
    if majority:
        # Rows without votes start at the class balance: given, or the majority-vote label frequencies.
        covered = stats.rows - stats.empty
        for g in range(G):
            if fixed_prior is not None:
                start = fixed_prior
            elif covered[g] > 0:
                start = mass[g] / covered[g]
            else:
                start = np.full(k, 1.0 / k)
            mass[g] += stats.empty[g] * start
    alpha = smoothing
    total = mass.sum(axis=1, keepdims=True)
    if fixed_prior is not None:
        prior = np.broadcast_to(fixed_prior, (G, k)).copy()
    else:
        prior = np.where(total > 0, (mass + alpha) / np.maximum(total + k * alpha, _FLOOR), 1.0 / k)
    voted = stats.counts.sum(axis=2)  # (G, m, k)
    denom = mass[:, None, :] + alpha * (k + 1)  # (G, 1, k)
    cpt = np.empty((G, m, k + 1, k))
    with np.errstate(invalid="ignore", divide="ignore"):
        cpt[:, :, 0, :] = (np.maximum(0.0, mass[:, None, :] - voted) + alpha) / denom
        cpt[:, :, 1:, :] = (stats.counts + alpha) / denom[:, :, None, :]
    cpt = np.where(denom[:, :, None, :] > 0, cpt, 1.0 / (k + 1))
    return cpt, prior


def _log_tables(cpt: np.ndarray, prior: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    return np.log(np.maximum(cpt, _FLOOR)), np.log(np.maximum(prior, _FLOOR))


def fit_dawid_skene_dask(
    L: Any,
    cardinality: int,
    class_balance: Optional[np.ndarray] = None,
    *,
    groups: Any = None,
    n_groups: Optional[int] = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    smoothing: float = 0.01,
    n_threads: Optional[int] = None,
    split_every: int = SPLIT_EVERY,
    client: Any = None,
) -> Tuple[List[FitResult], None]:
    """Distributed plain EM (see the module docstring). Returns one FitResult per group (one when ungrouped) and None
    in place of LabelStats (Dawid-Skene is not fitted from them)."""
    check_n_threads(n_threads)  # numpy E-step: accepted for a uniform API, numpy decides its own threads
    max_iter = check_count(max_iter, "max_iter", 0)
    tol = check_number(tol, "tol", 0.0, np.inf, high_open=True)
    smoothing = check_number(smoothing, "smoothing", 0.0, np.inf, high_open=True)
    L = as_label_array(L)
    k = int(cardinality)
    G = check_groups_args(groups, n_groups) or 1
    fixed = None
    if class_balance is not None:
        fixed = np.asarray(class_balance, dtype=np.float64)
        if fixed.shape != (k,) or np.any(fixed <= 0) or not np.isclose(fixed.sum(), 1.0):
            raise ValueError(f"class_balance: expected {k} positive probabilities summing to 1")
    gd = aligned(groups, L, "groups")
    blocks = list(L.to_delayed().ravel())
    group_blocks = row_blocks(gd, len(blocks))
    offsets = block_offsets(L)

    def e_step(tables: Optional[Tuple[np.ndarray, np.ndarray]]) -> EMCounts:
        shared = dask.delayed(tables, pure=True)  # one node: sent to each worker once per iteration
        parts = [dask.delayed(in_matrix_rows, pure=True)(at, em_block, b, gb, G, k, shared)
                 for at, b, gb in zip(offsets, blocks, group_blocks)]
        return compute(tree_sum(parts, split_every), client)

    first = e_step(None)
    cpt, prior = m_step(first, smoothing, fixed, majority=True)
    # majority pass: each covered row spreads weight 1 over the classes, so these are vote counts per LF
    coverage = np.rint(first.counts.sum(axis=(2, 3))) / np.maximum(first.rows, 1)[:, None]
    rows = np.maximum(first.rows, 1).astype(np.float64)
    n_iter = np.zeros(G, dtype=np.int64)
    converged = np.zeros(G, dtype=bool)
    previous = np.zeros(G)
    loglik = np.zeros(G)
    while not converged.all() and int(n_iter.max(initial=0)) < max_iter:
        stats = e_step(_log_tables(cpt, prior))
        ll = stats.loglik / rows
        new_cpt, new_prior = m_step(stats, smoothing, fixed, majority=False)
        active = ~converged
        n_iter[active] += 1
        loglik[active] = ll[active]
        # a frozen group keeps its tables: what an EM on that group alone would have returned
        cpt[active], prior[active] = new_cpt[active], new_prior[active]
        converged |= active & (n_iter > 1) & (np.abs(ll - previous) < tol)
        previous = np.where(active, ll, previous)
    return [
        FitResult(cpt=cpt[g], class_balance=prior[g], info={
            "method": "dawid_skene", "n_iter": int(n_iter[g]), "converged": bool(converged[g]),
            "log_likelihood": float(loglik[g]), "distributed": True, "accelerate": False,
            "coverage": coverage[g]})
        for g in range(G)
    ], None
