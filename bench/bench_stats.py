"""Label-matrix statistics: labelfuse vs one read of L, a numpy reference and Snorkel, on the same matrices.

Grid: n in {1e4, 1e5, 1e6}, m in {10, 50, 200}, k in {2, 10}. Each configuration is its own
pytest-benchmark group ("stats n.. m.. k.."), so the table lines up every contender on the same L.
Quick run: PYTHONPATH=python pytest bench/bench_stats.py -m "not slow".
"""
from __future__ import annotations

import numpy as np
import pytest

import _common
from conftest import grid

from labelfuse import label_stats

GRID = grid()


def group_of(n, m, k):
    return f"stats n={n:.0e} m={m} k={k}".replace("+0", "")


def rounds_for(n, m):
    """Peers and the numpy reference take seconds at the top of the grid: fewer rounds there."""
    return 1 if n * m >= 50_000_000 else 3


@pytest.mark.parametrize("how", sorted(_common.ONE_READS))
@pytest.mark.parametrize("n,m,k", GRID)
def test_one_read(benchmark, L_for, n, m, k, how):
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    benchmark(_common.ONE_READS[how], L)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n,m,k", GRID)
def test_labelfuse_pairwise(benchmark, L_for, n, m, k, n_threads):
    """All per-LF and pairwise counts (covote, agree), no overlap matrix."""
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    benchmark(label_stats, L, k, n_threads=n_threads)


@pytest.mark.parametrize("n,m,k", GRID)
def test_labelfuse_overlap_matrix(benchmark, L_for, n, m, k):
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    benchmark(label_stats, L, k, overlap_matrix=True)


@pytest.mark.parametrize("n,m,k", GRID)
def test_labelfuse_grouped(benchmark, L_for, n, m, k):
    """16 groups through a precomputed GroupIndex (the embedding-partition case)."""
    L = L_for(n, m, k)
    gi = _common.group_index(n)
    benchmark.group = group_of(n, m, k)
    stats = benchmark(label_stats, L, k, group_index=gi)
    assert stats.total() == label_stats(L, k)


@pytest.mark.parametrize("n,m,k", GRID)
def test_labelfuse_update_column(benchmark, L_for, n, m, k):
    """Incremental refresh after editing one LF (10% of its rows changed) instead of a full recount."""
    L = L_for(n, m, k)
    L2 = _common.edited_column(L, k, column=0)
    before = label_stats(L, k)
    old = np.ascontiguousarray(L[:, 0])
    benchmark.group = group_of(n, m, k)
    after = benchmark(before.update_column, L2, 0, old)
    assert after == label_stats(L2, k)


@pytest.mark.parametrize("n,m,k", GRID)
def test_numpy_reference(benchmark, L_for, n, m, k):
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    ref = benchmark.pedantic(_common.numpy_stats, (L, k), rounds=rounds_for(n, m), iterations=1)
    _common.assert_same_counts(ref, label_stats(L, k))


@pytest.mark.parametrize("n,m,k", grid(ns=(10_000, 100_000)))
def test_numpy_reference_overlap_matrix(benchmark, L_for, n, m, k):
    """Checks the overlap matrix against the one-hot product; (m k)^2 n flops, so not at n = 1e6."""
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    ref = benchmark.pedantic(_common.numpy_stats, (L, k, True), rounds=rounds_for(n, m), iterations=1)
    _common.assert_same_counts(ref, label_stats(L, k, overlap_matrix=True))


peers = pytest.mark.skipif(not _common.HAVE_SNORKEL, reason="snorkel is not importable (run with the peers interpreter, $PEERS_PYTHON)")


@pytest.mark.peers
@peers
@pytest.mark.parametrize("n,m,k", GRID)
def test_snorkel_lf_summary(benchmark, L_for, n, m, k):
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    summary = benchmark.pedantic(_common.snorkel_lf_summary, (L,), rounds=rounds_for(n, m), iterations=1)
    ours = label_stats(L, k)
    np.testing.assert_allclose(summary["Coverage"].to_numpy(), ours.lf_coverage())
    np.testing.assert_allclose(summary["Overlaps"].to_numpy(), ours.lf_overlap())
    np.testing.assert_allclose(summary["Conflicts"].to_numpy(), ours.lf_conflict())


@pytest.mark.peers
@peers
@pytest.mark.parametrize("n,m,k", GRID)
def test_snorkel_overlap_matrix(benchmark, L_for, n, m, k):
    if not _common.snorkel_overlap_fits(n, m, k):
        pytest.skip(f"Snorkel's dense one-hot L would take {8 * n * m * k / 2**30:.1f} GiB")
    L = L_for(n, m, k)
    benchmark.group = group_of(n, m, k)
    O = benchmark.pedantic(_common.snorkel_overlap, (L, k), rounds=rounds_for(n, m), iterations=1)
    ours = label_stats(L, k, overlap_matrix=True).overlap_frequencies()
    # Snorkel's O has zero diagonal blocks off the (a, a) entries too, like ours; it is float32.
    np.testing.assert_allclose(O.numpy(), ours, rtol=1e-5, atol=1e-6)
