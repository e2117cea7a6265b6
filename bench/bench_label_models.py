"""pytest-benchmark suite: majority vote and Dawid-Skene fit / predict_proba / refit at n = 1e6, m = 50.

    PYTHONPATH=python python -m pytest bench/bench_label_models.py --benchmark-only \
        --benchmark-columns=min,median,max,rounds

LABELFUSE_BENCH_N overrides n (e.g. 100000 for a quick look). Peers are timed in compare_label_models.py.
"""
import os

import numpy as np
import pytest

from labelfuse.models import LabelModel, MajorityVote
from labelfuse.synthetic import make_label_matrix

N = int(os.environ.get("LABELFUSE_BENCH_N", 1_000_000))
M = 50


@pytest.fixture(scope="module", params=[2, 10], ids=lambda k: f"k{k}")
def data(request):
    k = request.param
    s = make_label_matrix(N, M, k, random_state=0)
    # the same L with one LF edited on 5% of its rows: what an interactive refit sees
    rng = np.random.default_rng(1)
    edited = s.L.copy()
    rows = rng.random(N) < 0.05
    edited[rows, 7] = rng.integers(-1, k, size=int(rows.sum()))
    return k, s.L, edited


def test_majority_fit(benchmark, data):
    k, L, _ = data
    benchmark(lambda: MajorityVote(k).fit(L))


def test_majority_predict_proba(benchmark, data):
    k, L, _ = data
    mv = MajorityVote(k).fit(L)
    P = benchmark(mv.predict_proba, L)
    assert P.shape == (N, k)


def test_dawid_skene_fit(benchmark, data):
    k, L, _ = data
    model = benchmark.pedantic(lambda: LabelModel(k, method="dawid_skene").fit(L), rounds=3, iterations=1)
    benchmark.extra_info["em_passes"] = model.n_iter_


def test_dawid_skene_predict_proba(benchmark, data):
    k, L, _ = data
    lm = LabelModel(k, method="dawid_skene").fit(L)
    P = benchmark(lm.predict_proba, L)
    assert P.shape == (N, k)


@pytest.mark.parametrize("hint", [False, True], ids=["find-changes", "columns-given"])
def test_dawid_skene_refit_one_lf(benchmark, data, hint):
    """Each round flips LF 7 between its two versions: one changed column per refit."""
    k, L, edited = data
    lm = LabelModel(k, method="dawid_skene").fit(L)
    versions = [edited, L]
    state = {"i": 0}

    def refit():
        target = versions[state["i"] % 2]
        state["i"] += 1
        return lm.refit(target, columns=[7] if hint else None)

    benchmark.pedantic(refit, rounds=4, iterations=1)
    benchmark.extra_info["em_passes_last"] = lm.n_iter_
