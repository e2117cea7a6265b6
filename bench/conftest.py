"""pytest-benchmark fixtures for bench/: matrices are drawn once per session and shared by every benchmark.

Run: PYTHONPATH=python pytest bench/bench_stats.py [-m "not slow"]  (see bench/README.md).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import _common  # noqa: E402

# The statistics grid. n = 1e6 with m = 200 (or k = 10 with m >= 50) takes seconds per call and ~200 MB per
# matrix: those are marked `slow` so that `-m "not slow"` gives a quick run.
NS = (10_000, 100_000, 1_000_000)
MS = (10, 50, 200)
KS = (2, 10)


def is_large(n: int, m: int, k: int) -> bool:
    return n >= 1_000_000 and (m >= 200 or (k >= 10 and m >= 50))


def grid(ns=NS, ms=MS, ks=KS):
    return [
        pytest.param(n, m, k, id=f"n{n:.0e}-m{m}-k{k}".replace("+0", ""),
                     marks=[pytest.mark.slow] if is_large(n, m, k) else [])
        for n in ns for m in ms for k in ks
    ]


@pytest.fixture
def L_for():
    """L_for(n, m, k) -> the cached int8 matrix."""
    return _common.label_matrix
