import numpy as np
import pytest

from labelfuse.embeddings.smoothness import label_smoothness, plot_smoothness

from _fusion_helpers import clustered_embeddings


def brute(X, lab, radii):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    iu = np.triu_indices(len(X), k=1)
    s, eq = S[iu], (lab[:, None] == lab[None, :])[iu]
    return np.array([eq[s > r].mean() if (s > r).any() else np.nan for r in radii]), \
        np.array([(s > r).sum() for r in radii])


def test_gold_curve_matches_all_pairs():
    X, z = clustered_embeddings(150, d=6, n_clusters=3, spread=0.4, seed=0)
    radii = [0.0, 0.5, 0.8, 0.95, 0.999]
    c = label_smoothness(X, z, radii=radii)
    agree, pairs = brute(X.astype(np.float64), z, radii)
    np.testing.assert_array_equal(c.pairs, pairs)
    np.testing.assert_allclose(c.agreement, agree, atol=1e-12, equal_nan=True)
    counts = np.bincount(z)
    assert c.baseline == pytest.approx((counts * (counts - 1)).sum() / (150 * 149))
    assert c.agreement[2] > c.baseline  # clustered labels are smooth
    assert c.source == "gold"


def test_vote_curve_pools_lfs_and_suggests_a_radius():
    X, z = clustered_embeddings(200, d=6, n_clusters=4, spread=0.3, seed=1)
    rng = np.random.default_rng(1)
    L = np.full((200, 2), -1, dtype=np.int8)
    L[rng.random(200) < 0.5, 0] = 1
    L[:, 0] = np.where(L[:, 0] >= 0, z % 2, -1)
    L[rng.random(200) < 0.4, 1] = 0
    L[:, 1] = np.where(L[:, 1] >= 0, (z > 1).astype(int), -1)
    radii = [0.2, 0.6, 0.9]
    c = label_smoothness(X, L=L, radii=radii)
    pairs = np.zeros(3)
    same = np.zeros(3)
    for j in range(2):
        rows = L[:, j] >= 0
        a, p = brute(X[rows].astype(np.float64), L[rows, j], radii)
        pairs += p
        same += np.nan_to_num(a) * p
    np.testing.assert_array_equal(c.pairs, pairs)
    np.testing.assert_allclose(c.agreement, same / pairs)
    r = c.suggest_radius(min_agreement=0.95, min_pairs=5)
    ok = (c.agreement >= 0.95) & (c.pairs >= 5)
    assert r == (radii[int(np.argmax(ok))] if ok.any() else radii[-1])
    assert list(c.to_frame().columns) == ["radius", "agreement", "pairs"]


def test_plot_and_errors(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, z = clustered_embeddings(80, seed=2)
    a = label_smoothness(X, z)
    b = label_smoothness(X[:, ::-1].copy(), z)
    ax = plot_smoothness({"emb A": a, "emb B": b})
    ax.figure.savefig(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 0
    with pytest.raises(ValueError, match="exactly one"):
        label_smoothness(X)
    with pytest.raises(ValueError, match="labels: expected one label per row"):
        label_smoothness(X, z[:5])


def test_seed_is_a_deprecated_name_of_random_state():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 8))
    labels = rng.integers(0, 2, 300)
    expected = label_smoothness(X, labels, max_rows=50, random_state=1)
    with pytest.warns(FutureWarning, match="label_smoothness: 'seed' is deprecated"):
        got = label_smoothness(X, labels, max_rows=50, seed=1)
    np.testing.assert_array_equal(got.pairs, expected.pairs)
    np.testing.assert_array_equal(got.agreement, expected.agreement)
