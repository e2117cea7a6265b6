"""The thread count a caller asks for reaches the native kernels, and results do not depend on it.

``_core.label_stats`` reports ``n_threads_used``, the size of the OpenMP team its pass ran on: the count asked
for, or 1 below the serial cutoff (small inputs are not worth waking threads) and without OpenMP.
"""
from __future__ import annotations

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _core

# compute_stats stays serial below 2**16 votes and runs at most one thread per 8192-row task and per 1024 rows:
# 50,000 rows x 8 LFs (7 tasks, 400,000 votes) is well above every cutoff
N_PARALLEL, M = 50_000, 8


def random_votes(n, m, k, seed=0, abstain=0.4):
    rng = np.random.default_rng(seed)
    L = rng.integers(0, k, size=(n, m)).astype(np.int8)
    L[rng.random((n, m)) < abstain] = -1
    return L


@pytest.fixture(scope="module")
def L():
    return random_votes(N_PARALLEL, M, 3, seed=1)


def counts(d):
    return {name: value for name, value in d.items() if name != "n_threads_used"}


def assert_same_counts(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_one_thread_when_asked_for_one(L):
    assert _core.label_stats(L, 3, n_threads=1)["n_threads_used"] == 1


def test_two_threads_when_asked_for_two(L):
    used = _core.label_stats(L, 3, n_threads=2)["n_threads_used"]
    if not _core.openmp_enabled:
        assert used == 1
        pytest.skip("the core is built without OpenMP: every kernel runs on one thread")
    assert used == 2


@pytest.mark.skipif(not _core.openmp_enabled, reason="the core is built without OpenMP")
@pytest.mark.parametrize("options", [
    dict(overlap_matrix=True),
    dict(gold=np.arange(N_PARALLEL, dtype=np.int64) % 3),  # gold labels (bit planes, confusion from gold masks)
    dict(order=np.arange(N_PARALLEL, dtype=np.int64), offsets=np.array([0, 20_000, N_PARALLEL], dtype=np.int64)),
])
def test_every_path_runs_on_the_threads_asked_for(L, options):
    assert _core.label_stats(L, 3, n_threads=2, **options)["n_threads_used"] == 2
    assert _core.label_stats(L, 3, n_threads=1, **options)["n_threads_used"] == 1


def test_small_inputs_stay_serial():
    small = random_votes(1000, M, 3)
    assert _core.label_stats(small, 3, n_threads=2)["n_threads_used"] == 1


def test_default_and_negative_counts_resolve_to_the_machine(L):
    tasks = -(-N_PARALLEL // 8192)
    expected = min(_core.max_threads(), tasks) if _core.openmp_enabled else 1
    assert _core.label_stats(L, 3)["n_threads_used"] == expected
    assert _core.label_stats(L, 3, n_threads=-1)["n_threads_used"] == expected
    assert _core.label_stats(L, 3, n_threads=np.int64(1))["n_threads_used"] == 1


def test_public_label_stats_passes_the_thread_count_on(L, monkeypatch):
    seen = []
    native = _core.label_stats

    def recording(*args, **kwargs):
        out = native(*args, **kwargs)
        seen.append(out["n_threads_used"])
        return out

    monkeypatch.setattr(_core, "label_stats", recording)
    two = lf.label_stats(L, 3, n_threads=2)
    one = lf.label_stats(L, 3, n_threads=1)
    assert seen == [2 if _core.openmp_enabled else 1, 1]
    assert one == two
    assert not hasattr(one, "n_threads_used")  # a property of the call, not of the counts

    changed = L.copy()
    changed[: N_PARALLEL // 2, 4] = 0  # enough changed rows for the delta passes to run in parallel too
    base = lf.label_stats(L, 3, n_threads=1)
    seen.clear()
    updated = base.update_column(changed, 4, L[:, 4], n_threads=2)
    assert seen == [2 if _core.openmp_enabled else 1] * 2
    assert updated == lf.label_stats(changed, 3, n_threads=1)


@pytest.mark.parametrize("options", [
    dict(),
    dict(overlap_matrix=True),
    dict(gold=np.arange(N_PARALLEL, dtype=np.int64) % 3),
    dict(order=np.argsort(np.arange(N_PARALLEL) % 5, kind="stable").astype(np.int64),
         offsets=np.arange(0, N_PARALLEL + 1, N_PARALLEL // 5, dtype=np.int64), overlap_matrix=True),
])
def test_counts_are_identical_for_every_thread_count(L, options):
    reference = counts(_core.label_stats(L, 3, n_threads=1, **options))
    for n_threads in (2, 3, -1, None):
        assert_same_counts(counts(_core.label_stats(L, 3, n_threads=n_threads, **options)), reference)


def test_binding_checks_the_thread_count(L):
    with pytest.raises(ValueError, match="^n_threads"):
        _core.label_stats(L, 3, n_threads=0)
    with pytest.raises(TypeError, match="^n_threads"):
        _core.label_stats(L, 3, n_threads=True)
    with pytest.raises(TypeError, match="^n_threads"):
        _core.label_stats(L, 3, n_threads=2.0)


def test_model_kernels_agree_across_thread_counts(L):
    k = 3
    # (m, k+1, k): P(vote | y) over the k+1 votes (abstain first) for each class y
    log_cpt = np.ascontiguousarray(np.log(np.random.default_rng(4).dirichlet(np.ones(k + 1), size=(M, k))).transpose(0, 2, 1))
    log_prior = np.log(np.full(k, 1.0 / k))
    P1 = _core.posterior(L, log_cpt, log_prior, k, n_threads=1)
    np.testing.assert_array_equal(_core.posterior(L, log_cpt, log_prior, k, n_threads=2), P1)

    fallback = np.full(k, 1.0 / k)
    np.testing.assert_array_equal(_core.majority_proba(L, k, fallback, n_threads=2),
                                  _core.majority_proba(L, k, fallback, n_threads=1))
    s1, c1 = _core.majority_share_sum(L, k, n_threads=1)
    s2, c2 = _core.majority_share_sum(L, k, n_threads=2)
    np.testing.assert_array_equal(s1, s2)
    assert c1 == c2

    d1 = _core.dawid_skene(L, k, max_iter=20, n_threads=1)
    d2 = _core.dawid_skene(L, k, max_iter=20, n_threads=2)
    for name in ("cpt", "class_balance", "coverage"):
        np.testing.assert_array_equal(d1[name], d2[name], err_msg=name)
    assert d1["n_iter"] == d2["n_iter"] and d1["log_likelihood"] == d2["log_likelihood"]


def test_returned_arrays_own_their_buffers_without_a_copy(L):
    d = _core.label_stats(L, 3, n_threads=2)
    for name, value in counts(d).items():
        assert isinstance(value, np.ndarray), name
        assert value.dtype == np.int64 and value.flags.c_contiguous and value.flags.writeable, name
        assert type(value.base).__name__ == "PyCapsule", name  # the vector itself, kept alive by the array
    order, offsets = _core.group_order(np.arange(10, dtype=np.int64) % 3, 3)
    np.testing.assert_array_equal(offsets, [0, 4, 7, 10])
    np.testing.assert_array_equal(order, [0, 3, 6, 9, 1, 4, 7, 2, 5, 8])
    del d, order  # freeing the capsules frees the vectors (the sanitizer build checks this)
