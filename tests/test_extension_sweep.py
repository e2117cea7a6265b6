"""One kernel pass at the lowest threshold answers every threshold above it: ExtensionSweep.at(t) must equal
extend_votes(t) exactly (same array, same counts), for ties, short lists, the exact fallback and other splits."""
import numpy as np
import pytest

pytest.importorskip("faiss")

from labelfuse.embeddings import NeighborGraph, extend_votes  # noqa: E402
from labelfuse.embeddings.extend import extension_sweep  # noqa: E402

from _fusion_helpers import clustered_embeddings, lattice_embeddings  # noqa: E402


def random_votes(n, m, k, coverage, seed):
    rng = np.random.default_rng(seed)
    L = rng.integers(0, k, size=(n, m)).astype(np.int8)
    L[rng.random((n, m)) > coverage] = -1
    return L


GRID = np.round(np.arange(-0.25, 1.01, 0.125), 3)  # hits the lattice's similarity values exactly


@pytest.mark.parametrize("index", ["flat", "hnsw"])
@pytest.mark.parametrize("K", [2, 8, 40])
def test_sweep_equals_one_call_per_threshold_on_the_training_split(K, index):
    X = lattice_embeddings(180, seed=K)  # similarities on a 1/4 grid: ties between classes and at thresholds
    L = random_votes(180, 6, 3, 0.15, seed=K + 1)
    g = NeighborGraph(n_neighbors=K, index=index).fit(X)
    floor = np.array([-0.25, 0.0, 0.25, 0.5, -0.25, np.inf])  # per LF; the last never extends
    sweep = extension_sweep(L, g, floor, cardinality=3)
    fallbacks = 0
    for t in GRID:
        thr = np.maximum(floor, t)
        want, report = extend_votes(L, g, thr, cardinality=3, return_report=True)
        got, got_report = sweep.at(thr, return_report=True)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_report.extended, report.extended)
        fallbacks += report.fallback.sum()
    if K == 2:
        assert fallbacks > 0  # the exact scan took part in the calls compared


def test_sweep_equals_one_call_per_threshold_on_another_split():
    X, _ = clustered_embeddings(300, d=10, seed=2)
    Xq, _ = clustered_embeddings(90, d=10, seed=3)
    L = random_votes(300, 5, 2, 0.1, seed=4)
    Lq = random_votes(90, 5, 2, 0.2, seed=5).astype(np.int16)  # another dtype: cast to L's, as extend_votes
    g = NeighborGraph(n_neighbors=6).fit(X)
    nb = g.query(Xq)
    sweep = extension_sweep(L, g, 0.3, L_query=Lq, neighbors=nb, cardinality=2)
    for t in np.linspace(0.3, 1.0, 15):
        want = extend_votes(L, g, t, L_query=Lq, neighbors=nb, cardinality=2)
        np.testing.assert_array_equal(sweep.at(t), want)
    assert (sweep.at(0.3) != Lq).any()  # the comparison is not vacuous: votes were added


def test_sweep_refuses_a_threshold_below_its_floor_and_leaves_inputs_untouched():
    X, _ = clustered_embeddings(100, d=8, seed=1)
    L = random_votes(100, 3, 2, 0.2, seed=1)
    before = L.copy()
    g = NeighborGraph(n_neighbors=5).fit(X)
    sweep = extension_sweep(L, g, [0.5, 0.6, 0.7], cardinality=2)
    with pytest.raises(ValueError, match="thresholds: entry 1"):
        sweep.at([0.5, 0.55, 0.9])
    with pytest.raises(ValueError, match="thresholds"):
        sweep.at([0.5, np.nan, 0.9])
    out = sweep.at(0.8)
    out[:] = 0  # the result is a new array
    np.testing.assert_array_equal(L, before)
    np.testing.assert_array_equal(sweep.at(0.8), extend_votes(L, g, 0.8, cardinality=2))
