import numpy as np
import pytest

pytest.importorskip("faiss")

from labelfuse.embeddings import NeighborGraph, nearest_neighbor_thresholds, tune_thresholds  # noqa: E402

from _fusion_helpers import brute_force_extend, clustered_embeddings  # noqa: E402


def smooth_task(n, seed, n_clusters=6, k=2):
    """Labels constant per cluster; LFs vote right in a few clusters and abstain elsewhere."""
    X, z = clustered_embeddings(n, d=12, n_clusters=n_clusters, spread=0.35, seed=seed)
    rng = np.random.default_rng(seed)
    cluster_label = rng.integers(0, k, size=n_clusters)
    Y = cluster_label[z]
    L = np.full((n, 4), -1, dtype=np.int8)
    for j in range(4):
        home = rng.choice(n_clusters, size=2, replace=False)
        votes = np.isin(z, home) & (rng.random(n) < 0.3)
        noisy = np.where(rng.random(n) < 0.1, (Y + 1) % k, Y)
        L[votes, j] = noisy[votes]
    return X, L, Y


def test_unsupervised_default_is_a_quantile_of_voters_nearest_similarities():
    X, L, _ = smooth_task(300, seed=0)
    X[5] = X[6]  # an exact duplicate: skipped in favour of the next neighbour
    L[:, 3] = -1  # never votes
    g = NeighborGraph(n_neighbors=5).fit(X)
    t = nearest_neighbor_thresholds(L, g, quantile=0.3)
    S = g.X_.astype(np.float64) @ g.X_.T.astype(np.float64)
    np.fill_diagonal(S, -np.inf)
    S[S >= 1 - 1e-6] = -np.inf
    nearest = S.max(axis=1)
    for j in range(3):
        assert t[j] == pytest.approx(np.quantile(nearest[L[:, j] >= 0], 0.3), abs=1e-5)
    assert t[3] == np.inf
    with pytest.raises(ValueError, match="quantile"):
        nearest_neighbor_thresholds(L, g, quantile=2.0)


def test_per_lf_search_matches_a_numpy_search_and_never_uses_test():
    X, L, Y = smooth_task(500, seed=1)
    Xd, Ld, Yd = X[400:], L[400:], Y[400:]
    X, L = X[:400], L[:400]
    g = NeighborGraph(n_neighbors=8).fit(X)
    default = nearest_neighbor_thresholds(L, g)
    cands = np.round(np.arange(0.3, 0.99, 0.05), 3)
    res = tune_thresholds(L, g, Ld, Yd, dev_neighbors=g.query(Xd), cardinality=2, default=default,
                          candidates=cands)
    Xdn = Xd / np.linalg.norm(Xd, axis=1, keepdims=True)
    checked = 0
    for j in range(L.shape[1]):
        gains = []
        for t in cands[::-1]:
            ext, _ = brute_force_extend(L[:, [j]], Ld[:, [j]], g.X_, Xdn, [t], 2, self_query=False)
            new = (Ld[:, j] == -1) & (ext[:, 0] >= 0)
            right = (new & (ext[:, 0] == Yd)).sum()
            gains.append((new.sum(), right - (new.sum() - right), t))
        useful = [(gain, t) for n_new, gain, t in gains if n_new > 0]
        if useful and max(u[0] for u in useful) > 0:
            top = max(u[0] for u in useful)
            assert res["per_lf"][j] == pytest.approx(max(t for gain, t in useful if gain == top))
            checked += 1
    assert checked >= 2
    assert res["offset"] == 0.0 and np.array_equal(res["thresholds"], res["per_lf"])


def test_joint_refinement_picks_the_best_offset_ties_to_smallest():
    X, L, Y = smooth_task(300, seed=2)
    g = NeighborGraph(n_neighbors=5).fit(X[:250])
    kwargs = dict(dev_neighbors=g.query(X[250:]), cardinality=2, default=np.full(4, 0.8))
    base = tune_thresholds(L[:250], g, L[250:], Y[250:], **kwargs)["per_lf"]
    res = tune_thresholds(L[:250], g, L[250:], Y[250:], score=lambda t: -abs(t[0] - base[0] - 0.05),
                          offsets=(-0.05, 0.0, 0.05), **kwargs)
    assert res["offset"] == pytest.approx(0.05)
    np.testing.assert_allclose(res["thresholds"], base + 0.05)
    flat = tune_thresholds(L[:250], g, L[250:], Y[250:], score=lambda t: 1.0, offsets=(-0.1, 0.1, 0.0), **kwargs)
    assert flat["offset"] == 0.0
