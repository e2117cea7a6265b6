import numpy as np
import pytest

from labelfuse.models import NotFittedError

faiss = pytest.importorskip("faiss")

from labelfuse.embeddings import NeighborGraph  # noqa: E402


def exact_neighbours(X, k):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn.astype(np.float64) @ Xn.T.astype(np.float64)
    np.fill_diagonal(S, -np.inf)
    return np.sort(S, axis=1)[:, ::-1][:, :k]


def test_flat_graph_matches_brute_force_and_excludes_self():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 12)).astype(np.float32)
    g = NeighborGraph(n_neighbors=10, block_size=64).fit(X)
    assert g.ids_.shape == (300, 10) and g.sims_.dtype == np.float32
    assert not (g.ids_ == np.arange(300)[:, None]).any()
    np.testing.assert_allclose(g.sims_, exact_neighbours(X, 10), atol=1e-5)
    assert (np.diff(g.sims_, axis=1) <= 0).all()


def test_blocks_do_not_change_the_result():
    X = np.random.default_rng(1).standard_normal((257, 8)).astype(np.float32)
    a = NeighborGraph(n_neighbors=5, block_size=7).fit(X)
    b = NeighborGraph(n_neighbors=5, block_size=10_000).fit(X)
    np.testing.assert_array_equal(a.ids_, b.ids_)
    np.testing.assert_allclose(a.sims_, b.sims_, atol=1e-6)


def test_duplicates_keep_the_copy_and_drop_self():
    X = np.random.default_rng(2).standard_normal((50, 6)).astype(np.float32)
    X[10] = X[20]
    g = NeighborGraph(n_neighbors=3).fit(X)
    assert g.ids_[10, 0] == 20 and g.ids_[20, 0] == 10
    assert g.sims_[10, 0] == pytest.approx(1.0, abs=1e-6)


def test_n_neighbors_clamped_to_database():
    X = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    g = NeighborGraph(n_neighbors=10).fit(X)
    assert g.ids_.shape == (4, 3)
    assert sorted(g.ids_[0]) == [1, 2, 3]


def test_query_other_split_may_return_identical_rows():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((100, 8)).astype(np.float32)
    g = NeighborGraph(n_neighbors=4).fit(X)
    ids, sims, Xq = g.query(X[:5])
    np.testing.assert_array_equal(ids[:, 0], np.arange(5))  # no self-exclusion across splits
    assert Xq.dtype == np.float32 and np.allclose(np.linalg.norm(Xq, axis=1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="X: expected 8 columns"):
        g.query(rng.standard_normal((3, 5)))


def test_float16_accepted_and_caller_array_untouched():
    X = np.random.default_rng(5).standard_normal((60, 8)).astype(np.float16)
    before = X.copy()
    g = NeighborGraph(n_neighbors=3).fit(X)
    np.testing.assert_array_equal(X, before)
    assert g.X_.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(g.X_, axis=1), 1, atol=1e-6)


def test_nan_rows_raise_or_become_zero():
    X = np.random.default_rng(6).standard_normal((20, 4)).astype(np.float32)
    X[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"X: row 7"):
        NeighborGraph(n_neighbors=3).fit(X)
    g = NeighborGraph(n_neighbors=3, nan_policy="zero").fit(X)
    assert np.all(g.X_[7] == 0)
    assert np.all(g.sims_[7] == 0)  # a zero row is at similarity 0 from every row
    with pytest.raises(ValueError, match="nan_policy"):
        NeighborGraph(nan_policy="drop").fit(X)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_most_neighbours(kind):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((500, 16)).astype(np.float32)
    exact = NeighborGraph(n_neighbors=5).fit(X)
    approx = NeighborGraph(n_neighbors=5, index=kind, ivf_n_lists=8, ivf_n_probe=8).fit(X)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact.ids_, approx.ids_)])
    assert recall > 0.9
    assert not (approx.ids_ == np.arange(500)[:, None]).any()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_load_roundtrip(tmp_path, kind):
    X = np.random.default_rng(8).standard_normal((120, 8)).astype(np.float32)
    g = NeighborGraph(n_neighbors=4, index=kind, ivf_n_lists=4).fit(X)
    path = tmp_path / "graph.npz"
    g.save(path)
    h = NeighborGraph.load(path)
    np.testing.assert_array_equal(g.ids_, h.ids_)
    np.testing.assert_array_equal(g.X_, h.X_)
    assert h.get_params() == g.get_params()
    np.testing.assert_array_equal(g.query(X[:9])[0], h.query(X[:9])[0])


def test_load_rejects_newer_format(tmp_path):
    # a neighbour-graph file of the earlier .npz format claiming a version that format never had
    from saved_files import FIXTURES, rewrite_version

    path = tmp_path / "g.npz"
    rewrite_version(FIXTURES / "NeighborGraph" / "v1-0.1.0.npz", path, 2)
    with pytest.raises(ValueError, match="format_version 2"):
        NeighborGraph.load(path)


def test_bad_parameters():
    X = np.ones((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="n_neighbors"):
        NeighborGraph(n_neighbors=0).fit(X)
    with pytest.raises(ValueError, match="index"):
        NeighborGraph(index="lsh").fit(X)
    with pytest.raises(TypeError, match="X: expected a numeric array"):
        NeighborGraph().fit(np.array([["a", "b"]]))
    with pytest.raises(NotFittedError, match="not fitted"):
        NeighborGraph().query(X)


def test_seed_is_a_deprecated_alias_of_random_state():
    X = np.random.default_rng(10).standard_normal((200, 8)).astype(np.float32)
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        old = NeighborGraph(n_neighbors=4, index="ivf", ivf_n_lists=8, ivf_n_probe=1, seed=3).fit(X)
    new = NeighborGraph(n_neighbors=4, index="ivf", ivf_n_lists=8, ivf_n_probe=1, random_state=3).fit(X)
    np.testing.assert_array_equal(old.ids_, new.ids_)
    assert "seed" not in repr(new)
