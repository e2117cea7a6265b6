"""The core releases the GIL, so several Python threads really do run it at once: results must not depend on
what the other threads are doing (no shared scratch buffers, no global OpenMP state, errors go to their caller)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _core
from labelfuse.synthetic import make_label_matrix

N, M, K = 100_000, 20, 3
N_CALLS, N_WORKERS = 8, 4


@pytest.fixture(scope="module")
def problems():
    """One label matrix per call (different seeds), with gold labels, groups and the true model's tables."""
    out = []
    for seed in range(N_CALLS):
        syn = make_label_matrix(N, M, K, random_state=seed)
        groups = (syn.Y + seed) % 3
        log_cpt = np.ascontiguousarray(np.log(np.stack([syn.cpt] * 3)))
        log_prior = np.ascontiguousarray(np.log(np.stack([syn.class_balance] * 3)))
        out.append((syn, groups, log_cpt, log_prior))
    return out


def stats_call(problem, n_threads=None):
    syn, groups, _, _ = problem
    return lf.label_stats(syn.L, K, Y=syn.Y, groups=groups, n_groups=3, n_threads=n_threads)


def posterior_call(problem, n_threads=None):
    syn, groups, log_cpt, log_prior = problem
    return _core.posterior(syn.L, log_cpt, log_prior, K, n_groups=3, groups=groups, n_threads=n_threads)


@pytest.mark.parametrize("n_threads", [1, 2])  # serial inside each call, and OpenMP teams inside each thread
def test_label_stats_from_several_threads_equals_serial(problems, n_threads):
    serial = [stats_call(p, n_threads) for p in problems]
    with ThreadPoolExecutor(N_WORKERS) as pool:
        concurrent = list(pool.map(lambda p: stats_call(p, n_threads), problems))
    for one, other in zip(serial, concurrent):
        assert one == other


@pytest.mark.parametrize("n_threads", [1, 2])
def test_posterior_from_several_threads_equals_serial(problems, n_threads):
    serial = [posterior_call(p, n_threads) for p in problems]
    with ThreadPoolExecutor(N_WORKERS) as pool:
        concurrent = list(pool.map(lambda p: posterior_call(p, n_threads), problems))
    for one, other in zip(serial, concurrent):
        np.testing.assert_array_equal(one, other)  # bit-identical: each row is computed the same way


def test_same_input_shared_by_all_threads(problems):
    """Every thread reads the very same arrays (read-only views into one buffer)."""
    problem = problems[0]
    want_stats, want_post = stats_call(problem), posterior_call(problem)
    with ThreadPoolExecutor(N_WORKERS) as pool:
        stats = list(pool.map(lambda _: stats_call(problem), range(N_CALLS)))
        posts = list(pool.map(lambda _: posterior_call(problem), range(N_CALLS)))
    assert all(s == want_stats for s in stats)
    for p in posts:
        np.testing.assert_array_equal(p, want_post)


def test_errors_reach_their_own_caller_while_others_succeed(problems):
    syn = problems[0][0]
    bad = syn.L.copy()
    bad[77_777, 5] = 9
    want = lf.label_stats(syn.L, K)

    def call(i):
        if i % 2:
            with pytest.raises(ValueError, match=r"row 77777, column 5\) is 9"):
                lf.label_stats(bad, K, n_threads=2)
            with pytest.raises(RuntimeError, match=f"iteration {1000 + i}"):
                _core._raise_in_parallel(50_000, 1000 + i, 2)
            return None
        return lf.label_stats(syn.L, K, n_threads=2)

    with ThreadPoolExecutor(N_WORKERS) as pool:
        results = list(pool.map(call, range(N_CALLS)))
    assert all(r == want for r in results if r is not None)


# ---- fitted estimators -------------------------------------------------------------------------------------------
def _fusion_problem():
    syn = make_label_matrix(3000, 6, 2, random_state=3)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 16)).astype(np.float32) + 2.0 * syn.Y[:, None]  # embeddings that know the class
    return syn.L, X / np.linalg.norm(X, axis=1, keepdims=True)


ESTIMATORS = {
    "majority": lambda: lf.MajorityVote(tie_policy="random", random_state=0),
    "triplet": lambda: lf.LabelModel(method="triplet"),
    "covariance": lambda: lf.LabelModel(method="covariance"),
    "dawid_skene": lambda: lf.LabelModel(method="dawid_skene", max_iter=30),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_one_fitted_model_called_from_several_threads_equals_serial(problems, name):
    """The same fitted model object, predict_proba / predict / score from 4 threads at once."""
    model = ESTIMATORS[name]().fit(problems[0][0].L)
    calls = [(p[0].L, p[0].Y) for p in problems]

    def use(args):
        L, Y = args
        return model.predict_proba(L), model.predict(L), model.score(L, Y, warn=False)  # (warnings: elsewhere)

    serial = [use(c) for c in calls]
    with ThreadPoolExecutor(N_WORKERS) as pool:
        concurrent = list(pool.map(use, calls))
    for (p1, y1, s1), (p2, y2, s2) in zip(serial, concurrent):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(y1, y2)
        assert s1 == s2


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_models_fitted_in_several_threads_equal_serial_fits(problems, name):
    serial = [ESTIMATORS[name]().fit(p[0].L).predict_proba(p[0].L[:1000]) for p in problems]
    with ThreadPoolExecutor(N_WORKERS) as pool:
        concurrent = list(pool.map(lambda p: ESTIMATORS[name]().fit(p[0].L).predict_proba(p[0].L[:1000]), problems))
    for one, other in zip(serial, concurrent):
        np.testing.assert_array_equal(one, other)


@pytest.mark.parametrize("cls", ["Epoxy", "Liger"])
def test_fusion_model_from_several_threads_equals_serial(cls):
    pytest.importorskip("faiss")
    L, X = _fusion_problem()
    extra = {"n_parts": 2} if cls == "Liger" else {}
    model = getattr(lf.fusion, cls)(thresholds=0.8, n_neighbors=16, **extra).fit(L[:2000], X[:2000])
    chunks = [(L[i:i + 250], X[i:i + 250]) for i in range(2000, 3000, 125)]
    serial = [model.predict_proba(*c) for c in chunks]
    with ThreadPoolExecutor(N_WORKERS) as pool:
        concurrent = list(pool.map(lambda c: model.predict_proba(*c), chunks))
    for one, other in zip(serial, concurrent):
        np.testing.assert_array_equal(one, other)
