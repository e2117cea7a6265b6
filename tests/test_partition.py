import numpy as np
import pytest

from labelfuse.models import NotFittedError

pytest.importorskip("faiss")

from labelfuse.embeddings import KMeansPartition  # noqa: E402

from _fusion_helpers import clustered_embeddings  # noqa: E402


def test_recovers_well_separated_clusters_and_is_seeded():
    X, z = clustered_embeddings(600, d=16, n_clusters=4, spread=0.05, seed=0)
    a = KMeansPartition(4, random_state=3).fit(X)
    b = KMeansPartition(4, random_state=3).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    # each true cluster lands in exactly one part
    for c in range(4):
        assert len(np.unique(a.labels_[z == c])) == 1
    assert a.n_parts_ == 4 and a.sizes_.sum() == 600
    np.testing.assert_allclose(np.linalg.norm(a.centers_, axis=1), 1, atol=1e-5)


def test_other_split_goes_to_nearest_centre():
    X, _ = clustered_embeddings(400, d=8, n_clusters=3, spread=0.1, seed=1)
    p = KMeansPartition(3, random_state=0).fit(X)
    np.testing.assert_array_equal(p.predict(X), p.labels_)
    Xq = np.random.default_rng(2).standard_normal((50, 8))
    Xn = Xq / np.linalg.norm(Xq, axis=1, keepdims=True)
    np.testing.assert_array_equal(p.predict(Xq), (Xn @ p.centers_.T).argmax(axis=1))


def test_empty_parts_are_dropped_and_renumbered():
    X = np.repeat(np.eye(3, dtype=np.float32), 10, axis=0)  # 3 distinct points, 5 parts asked
    with pytest.warns(RuntimeWarning, match="empty and dropped"):
        p = KMeansPartition(5, random_state=0).fit(X)
    assert p.n_parts_ == 3
    assert sorted(np.unique(p.labels_)) == [0, 1, 2]
    assert (p.sizes_ == 10).all()


def test_one_part_and_more_parts_than_rows():
    X = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    assert (KMeansPartition(1).fit(X).labels_ == 0).all()
    p = KMeansPartition(50, random_state=0).fit(X)
    assert p.n_parts_ <= 5 and p.sizes_.min() >= 1


def test_bad_arguments():
    X = np.ones((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="n_parts"):
        KMeansPartition(0).fit(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        KMeansPartition(2).predict(X)


def test_a_fit_refused_for_its_parameters_leaves_no_fitted_state():
    X = np.random.default_rng(4).standard_normal((20, 4)).astype(np.float32)
    p = KMeansPartition(2, random_state=0).fit(X)
    p.set_params(n_redo=0)
    with pytest.raises(ValueError, match="^n_redo:"):
        p.fit(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        p.predict(X)


def test_seed_is_a_deprecated_alias_of_random_state():
    X = np.random.default_rng(5).standard_normal((60, 4)).astype(np.float32)
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        old = KMeansPartition(3, seed=7).fit(X)
    np.testing.assert_array_equal(old.labels_, KMeansPartition(3, random_state=7).fit(X).labels_)
