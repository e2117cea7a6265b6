import numpy as np
import pytest

pytest.importorskip("faiss")

from labelfuse import _core  # noqa: E402
from labelfuse.embeddings import NeighborGraph, extend_votes  # noqa: E402

from _fusion_helpers import brute_force_extend, clustered_embeddings, lattice_embeddings  # noqa: E402


def random_votes(n, m, k, coverage, seed):
    rng = np.random.default_rng(seed)
    L = rng.integers(0, k, size=(n, m)).astype(np.int8)
    L[rng.random((n, m)) > coverage] = -1
    return L


@pytest.mark.parametrize("K", [1, 3, 8, 40])
@pytest.mark.parametrize("k", [2, 3])
def test_lattice_equals_brute_force_with_exact_ties(K, k):
    # similarities are exact multiples of 1/4: ties everywhere, including across the K-th neighbour
    X = lattice_embeddings(200, seed=K + k)
    L = random_votes(200, 6, k, 0.15, seed=K)
    thr = np.array([0.0, 0.25, 0.5, 0.6, 0.75, -1.0])  # 0.25/0.5/0.75 sit exactly on similarity values
    g = NeighborGraph(n_neighbors=K).fit(X)
    got, report = extend_votes(L, g, thr, cardinality=k, return_report=True)
    want, _ = brute_force_extend(L, L, g.X_, g.X_, thr, k, self_query=True)
    np.testing.assert_array_equal(got, want)
    assert (report.extended == ((got != L).sum(axis=0))).all()
    if K <= 3:
        assert report.fallback.sum() > 0  # the lists alone cannot decide: the exact scan must have run


def test_lattice_other_split_equals_brute_force():
    X = lattice_embeddings(150, seed=1)
    Xq = lattice_embeddings(80, seed=2)
    L = random_votes(150, 5, 3, 0.2, seed=3)
    Lq = random_votes(80, 5, 3, 0.2, seed=4).astype(np.int16)  # another dtype: cast to L's
    thr = np.array([0.25, 0.5, 0.1, 0.75, 0.0])
    g = NeighborGraph(n_neighbors=4).fit(X)
    got = extend_votes(L, g, thr, L_query=Lq, X_query=Xq, cardinality=3)
    want, _ = brute_force_extend(L, Lq, g.X_, Xq, thr, 3, self_query=False)  # lattice rows are unit already
    np.testing.assert_array_equal(got, want)


def test_random_embeddings_equal_brute_force_up_to_rounding():
    X, _ = clustered_embeddings(400, d=12, seed=5)
    L = random_votes(400, 8, 3, 0.1, seed=6)
    thr = np.linspace(0.5, 0.95, 8)
    g = NeighborGraph(n_neighbors=5).fit(X)
    got = extend_votes(L, g, thr, cardinality=3)
    want, S = brute_force_extend(L, L, g.X_, g.X_, thr, 3, self_query=True)
    differ = got != want
    # faiss (float32 BLAS) and the float64 reference may round a similarity differently; any disagreement must be
    # a near-tie with the threshold or between classes
    for i, j in zip(*np.nonzero(differ)):
        best = [S[i, L[:, j] == c].max() if (L[:, j] == c).any() else -np.inf for c in range(3)]
        top = sorted(best)[-2:]
        assert min(abs(top[1] - thr[j]), top[1] - top[0]) < 1e-5
    assert differ.sum() <= 2


def test_nearest_voter_beyond_top_k_is_found_by_the_exact_scan():
    # row 0's 5 nearest rows all abstain; the only voter of the LF is further away but above the threshold
    rng = np.random.default_rng(7)
    base = rng.standard_normal(16)
    X = np.stack([base + 0.01 * rng.standard_normal(16) for _ in range(7)] + [base + 0.2 * rng.standard_normal(16)])
    X = np.vstack([X, rng.standard_normal((20, 16))]).astype(np.float32)
    L = np.full((X.shape[0], 1), -1, dtype=np.int8)
    L[7, 0] = 1
    g = NeighborGraph(n_neighbors=5).fit(X)
    assert 7 not in g.ids_[0]
    got, report = extend_votes(L, g, 0.5, cardinality=2, return_report=True)
    assert got[0, 0] == 1 and report.fallback[0] > 0
    want, _ = brute_force_extend(L, L, g.X_, g.X_, [0.5], 2, self_query=True)
    np.testing.assert_array_equal(got, want)


def test_ties_between_classes_stay_abstain():
    X = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    L = np.array([[-1], [0], [1], [-1]], dtype=np.int8)  # rows 1 and 2 are duplicates voting differently
    g = NeighborGraph(n_neighbors=1).fit(X)
    got = extend_votes(L, g, 0.5, cardinality=2)
    np.testing.assert_array_equal(got[:, 0], [-1, 0, 1, -1])


def test_threshold_is_strict():
    X = lattice_embeddings(60, seed=8)
    L = random_votes(60, 1, 2, 0.3, seed=9)
    g = NeighborGraph(n_neighbors=60).fit(X)
    got = extend_votes(L, g, 0.5, cardinality=2)
    want, S = brute_force_extend(L, L, g.X_, g.X_, [0.5], 2, self_query=True)
    np.testing.assert_array_equal(got, want)
    at_threshold = np.nonzero((L[:, 0] == -1) & (S[:, L[:, 0] >= 0].max(axis=1) == 0.5))[0]
    assert at_threshold.size and (got[at_threshold, 0] == -1).all()


def test_degenerate_inputs():
    X, _ = clustered_embeddings(50, seed=10)
    g = NeighborGraph(n_neighbors=4).fit(X)
    all_abstain = np.full((50, 3), -1, dtype=np.int8)
    np.testing.assert_array_equal(extend_votes(all_abstain, g, 0.0, cardinality=2), all_abstain)
    L = random_votes(50, 3, 2, 0.3, seed=11)
    L[:, 1] = -1  # an LF that never votes: empty support
    L = np.column_stack([L, L[:, 0]])  # a duplicated LF
    got = extend_votes(L, g, 0.3, cardinality=2)
    assert (got[:, 1] == -1).all()
    np.testing.assert_array_equal(got[:, 0], got[:, 3])
    assert (got[L >= 0] == L[L >= 0]).all()  # votes never change


def test_threads_give_identical_results_and_inputs_untouched():
    X, _ = clustered_embeddings(3000, d=8, seed=12)
    L = random_votes(3000, 10, 4, 0.05, seed=13)
    before = L.copy()
    g = NeighborGraph(n_neighbors=6).fit(X)
    a = extend_votes(L, g, 0.8, cardinality=4, n_threads=1)
    b = extend_votes(L, g, 0.8, cardinality=4, n_threads=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(L, before)


def test_bad_arguments():
    X, _ = clustered_embeddings(30, seed=14)
    g = NeighborGraph(n_neighbors=3).fit(X)
    L = random_votes(30, 2, 2, 0.3, seed=15)
    with pytest.raises(ValueError, match="thresholds"):
        extend_votes(L, g, [0.5, 0.5, 0.5], cardinality=2)
    with pytest.raises(ValueError, match="L: has 29 rows"):
        extend_votes(L[:29], g, 0.5, cardinality=2)
    L_bad = L.copy()
    L_bad[3, 1] = 5
    with pytest.raises(ValueError, match=r"^L: entry \(row 3, column 1\) is 5"):
        extend_votes(L_bad, g, 0.5, cardinality=2)
    with pytest.raises(ValueError, match="X_query"):
        extend_votes(L, g, 0.5, L_query=L, cardinality=2)
    with pytest.raises(TypeError, match="nbr_sims"):
        _core.extend_votes(L, L, g.ids_, g.sims_.astype(np.float64), g.X_, g.X_, np.zeros(2), 2)
    unsorted = g.sims_[:, ::-1].copy()
    with pytest.raises(ValueError, match="not sorted"):
        _core.extend_votes(L, L, g.ids_, unsorted, g.X_, g.X_, np.full(2, -2.0), 2, self_query=True)


def test_fallback_is_identical_for_any_thread_count():
    X = lattice_embeddings(3000, d=8, seed=21)  # many exact ties and many pairs left to the exact scan
    L = random_votes(3000, 6, 3, 0.02, seed=22)
    g = NeighborGraph(n_neighbors=3).fit(X)
    a, ra = extend_votes(L, g, 0.25, cardinality=3, n_threads=1, return_report=True)
    b, rb = extend_votes(L, g, 0.25, cardinality=3, n_threads=2, return_report=True)
    assert ra.fallback.sum() > 100
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ra.extended, rb.extended)
