"""Inputs past 2**31 entries (and past 2**31 rows) give exact counts: every index and count in the core is int64.

The matrices cost nothing to build: one real row repeated through a zero row stride, so every statistic has a
closed form (n times what the single row contributes). Slow: run with ``-m slow``.
"""
from __future__ import annotations

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _core
from labelfuse.synthetic import bayes_posterior, conditional_table
from reference import reference_stats

pytestmark = pytest.mark.slow


def repeated_row(row, n):
    row = np.ascontiguousarray(row, dtype=np.int8)
    return np.lib.stride_tricks.as_strided(row, shape=(n, row.shape[0]), strides=(0, 1), writeable=False)


def assert_counts_scale(stats, row, k, n):
    """Every count of n identical rows is n times the count of that row alone (from the numpy reference)."""
    one = reference_stats(np.asarray(row)[None, :], k)
    for name, value in one.items():
        np.testing.assert_array_equal(getattr(stats, name), value * n, err_msg=name)


def test_more_than_2_31_entries():
    row = np.array([0, 1, -1, 2, 2, -1, 0, 0, 1, -1, -1, 2, 0, 1, 2, -1], np.int8)  # m = 16, k = 3
    n = 2**27 + 3  # n * m = 2**31 + 48 entries
    L = repeated_row(row, n)
    s = lf.label_stats(L, 3)
    assert s.rows[0] == n and s.covote[0, 0, 1] == n
    assert_counts_scale(s, row, 3, n)


def test_more_than_2_31_rows():
    row = np.array([1, 0, -1], np.int8)
    n = 2**31 + 7  # row ids themselves past int32
    s = lf.label_stats(repeated_row(row, n), 2)
    assert s.rows[0] == n and s.conflicting[0] == n
    assert_counts_scale(s, row, 2, n)


def test_posterior_past_2_31_entries():
    row = np.array([0, 1, -1, 1] * 4, np.int8)  # m = 16
    n = 2**27 + 5  # 2**31 + 80 votes; the output is n x 2 float64 = 2 GiB
    cpt = conditional_table(np.linspace(0.6, 0.9, 16), np.full(16, 0.5), 2)
    prior = np.array([0.3, 0.7])
    P = _core.posterior(repeated_row(row, n), np.log(cpt), np.log(prior), 2)
    want = bayes_posterior(row[None, :], cpt, prior)[0]
    assert P.shape == (n, 2)
    np.testing.assert_allclose(P[[0, n // 2, n - 1]], np.broadcast_to(want, (3, 2)), rtol=1e-12)
    assert np.all(P[:, 0] == P[0, 0])
