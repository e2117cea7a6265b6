"""Triplet and covariance label models: fit (statistics included), fit alone, and posteriors, on 2 threads.

Goal: at n = 1e6, m = 50, k in {2, 10}, fit with statistics <= 100 ms. Each (n, m, k) is one
pytest-benchmark group so the table lines the contenders up on the same L.
Run:  PYTHONPATH=python pytest bench/bench_moment_models.py --benchmark-columns=min,median,rounds
Quick (n = 1e5 only):  ... -m "not slow"
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from labelfuse import _core, label_stats
from labelfuse.models.covariance import fit_covariance
from labelfuse.models.triplet import fit_triplet
from labelfuse.synthetic import make_label_matrix

THREADS = 2
CONFIGS = [
    pytest.param(n, m, k, id=f"n{n:.0e}-m{m}-k{k}".replace("+0", ""),
                 marks=[pytest.mark.slow] if n >= 1_000_000 else [])
    for n in (100_000, 1_000_000) for m in (50,) for k in (2, 10)
]
METHODS = {
    "triplet": (fit_triplet, False),
    "covariance": (fit_covariance, True),
}


@functools.lru_cache(maxsize=None)
def label_matrix(n: int, m: int, k: int) -> np.ndarray:
    L = make_label_matrix(n, m, k, random_state=100 + m + k).L
    L.setflags(write=False)
    return L


@functools.lru_cache(maxsize=None)
def stats_for(n: int, m: int, k: int, overlap: bool):
    return label_stats(label_matrix(n, m, k), k, overlap_matrix=overlap, n_threads=THREADS)


def group(n, m, k):
    return f"moments n={n:.0e} m={m} k={k}".replace("+0", "")


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("n,m,k", CONFIGS)
def test_fit_with_statistics(benchmark, method, n, m, k):
    fit, overlap = METHODS[method]
    L = label_matrix(n, m, k)
    benchmark.group = group(n, m, k)
    benchmark.extra_info["goal_s"] = 0.1
    benchmark.pedantic(
        lambda: fit(label_stats(L, k, overlap_matrix=overlap, n_threads=THREADS)), rounds=5, warmup_rounds=1
    )


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("n,m,k", CONFIGS)
def test_statistics_only(benchmark, method, n, m, k):
    _, overlap = METHODS[method]
    L = label_matrix(n, m, k)
    benchmark.group = group(n, m, k)
    benchmark.pedantic(lambda: label_stats(L, k, overlap_matrix=overlap, n_threads=THREADS), rounds=5,
                       warmup_rounds=1)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("n,m,k", CONFIGS)
def test_fit_only(benchmark, method, n, m, k):
    fit, overlap = METHODS[method]
    st = stats_for(n, m, k, overlap)
    benchmark.group = group(n, m, k)
    benchmark.pedantic(lambda: fit(st), rounds=20, warmup_rounds=2)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("n,m,k", CONFIGS)
def test_predict_proba(benchmark, method, n, m, k):
    fit, overlap = METHODS[method]
    result = fit(stats_for(n, m, k, overlap))
    L = label_matrix(n, m, k)
    tables = result.log_tables()
    benchmark.group = group(n, m, k)
    benchmark.pedantic(lambda: _core.posterior(L, *tables, k, n_threads=THREADS), rounds=5, warmup_rounds=1)
