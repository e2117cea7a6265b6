"""Automatic choice on dev (labelfuse.selection, LabelModel(method="auto")) and fusion without dev labels."""
import numpy as np
import pytest

from labelfuse import LabelModel
from labelfuse.selection import AutoLabels, Candidate, fit_labels, one_standard_error, repeated_folds
from labelfuse.synthetic import bayes_posterior, make_label_matrix

from _fusion_helpers import clustered_embeddings

# the chosen model's own fit diagnostics on these small synthetic sets (e.g. an LF without a valid triplet) are
# beside the point here; the warnings themselves are tested with the label models
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.diagnostics.FitWarning")


def split(data, n_dev):
    return (data.L[n_dev:], data.Y[n_dev:]), (data.L[:n_dev], data.Y[:n_dev])


def test_equal_lfs_choose_majority_vote():
    # seven conditionally independent LFs of one accuracy, always voting, uniform balance: majority vote is the
    # Bayes rule and no row ties, so every model labels alike and the one-standard-error rule picks the simplest
    data = make_label_matrix(6000, m=7, accuracy=np.full(7, 0.75), coverage=np.full(7, 1.0), random_state=3)
    (L, _), (L_dev, Y_dev) = split(data, 300)
    auto = fit_labels(L, L_dev=L_dev, Y_dev=Y_dev, random_state=0)
    assert auto.chosen_["label_model"] == "majority_vote" and auto.chosen_["fusion"] == "none"
    assert auto.supervised_ and "one standard error" in auto.chosen_["why"]


def test_unequal_lfs_choose_a_weighted_model_near_the_bayes_rule():
    # two excellent LFs and five poor ones that outvote them: majority vote is far from the Bayes rule
    acc = np.array([0.97, 0.97, 0.6, 0.6, 0.6, 0.6, 0.6])
    data = make_label_matrix(8000, m=7, accuracy=acc, coverage=np.full(7, 0.7), random_state=5)
    (L, Y), (L_dev, Y_dev) = split(data, 400)
    auto = fit_labels(L, L_dev=L_dev, Y_dev=Y_dev, random_state=0)
    assert auto.chosen_["label_model"] != "majority_vote"
    bayes = (bayes_posterior(L, data.cpt, data.class_balance).argmax(1) == Y).mean()
    mv = (np.array([np.bincount(r[r >= 0], minlength=2).argmax() if (r >= 0).any() else 0 for r in L]) == Y).mean()
    got = (auto.predict(L) == Y).mean()
    assert bayes - mv > 0.03  # the case is a real test of the choice
    assert got >= bayes - 0.01
    assert "<- chosen" in auto.report()


def test_label_model_auto_chooses_and_keeps_the_choice_on_save(tmp_path):
    acc = np.array([0.97, 0.97, 0.6, 0.6, 0.6, 0.6, 0.6])
    data = make_label_matrix(5000, m=7, accuracy=acc, coverage=np.full(7, 0.7), random_state=6)
    (L, Y), (L_dev, Y_dev) = split(data, 300)
    lm = LabelModel(cardinality=2, method="auto", random_state=0).fit(L, L_dev=L_dev, Y_dev=Y_dev)
    assert lm.method_ in ("triplet", "covariance", "dawid_skene") and lm.selection_
    assert sum(row["chosen"] for row in lm.selection_) == 1
    same = LabelModel(cardinality=2, method=lm.method_).fit(
        L, **({"Y_dev": Y_dev} if next(r for r in lm.selection_ if r["chosen"])["class_balance"] == "dev" else {}))
    np.testing.assert_allclose(lm.predict_proba(L), same.predict_proba(L))
    back = LabelModel.load(lm.save(tmp_path / "auto.lf"))
    assert back.method == "auto" and back.method_ == lm.method_
    np.testing.assert_allclose(back.predict_proba(L), lm.predict_proba(L))
    # without dev labels: the documented unsupervised choice
    assert LabelModel(cardinality=2, method="auto").fit(L).method_ == "triplet"


def test_dev_votes_without_labels_are_an_error():
    from labelfuse.fusion import Epoxy

    data = make_label_matrix(300, m=4, random_state=1)
    X, _ = clustered_embeddings(300, d=8, seed=1)
    with pytest.raises(ValueError, match="Y_dev"):
        Epoxy(n_neighbors=5).fit(data.L[:200], X[:200], data.L[200:], X[200:])
    with pytest.raises(ValueError, match="Y_dev"):
        fit_labels(data.L[:200], X[:200], L_dev=data.L[200:], X_dev=X[200:])
    with pytest.raises(ValueError, match="Y_dev"):
        LabelModel(method="auto").fit(data.L[:200], L_dev=data.L[200:])
    with pytest.raises(ValueError, match="L_dev"):
        LabelModel(method="triplet").fit(data.L[:200], L_dev=data.L[200:], Y_dev=data.Y[200:])


def smooth_task(n, seed, m=6, coverage=0.12, accuracy=0.85, n_clusters=8):
    """Labels constant per embedding cluster; LFs vote on random rows with one accuracy (many rows uncovered)."""
    rng = np.random.default_rng(seed)
    X, z = clustered_embeddings(n, d=12, n_clusters=n_clusters, spread=0.3, seed=seed)
    Y = rng.integers(0, 2, size=n_clusters)[z]
    L = np.full((n, m), -1, dtype=np.int8)
    for j in range(m):
        votes = rng.random(n) < coverage
        right = rng.random(n) < accuracy
        L[votes, j] = np.where(right, Y, 1 - Y)[votes]
    return X, L, Y


@pytest.mark.parametrize("seed", [0, 1])
def test_fusion_without_dev_is_not_below_its_label_model(seed):
    from labelfuse.fusion import Epoxy, Liger

    X, L, Y = smooth_task(1500, seed)
    train, test = slice(0, 1000), slice(1000, None)
    lm = LabelModel(cardinality=2, method="triplet").fit(L[train])
    base = (lm.predict_proba(L[test]).argmax(1) == Y[test]).mean()
    for cls in (Epoxy, Liger):
        model = cls("triplet", n_neighbors=10, cardinality=2).fit(L[train], X[train])
        got = (model.predict_proba(L[test], X[test]).argmax(1) == Y[test]).mean()
        assert got >= base, (cls.__name__, got, base)
    epoxy = Epoxy("triplet", n_neighbors=10, cardinality=2).fit(L[train], X[train])
    # and the unsupervised thresholds extend well beyond the conservative quantile default
    assert (epoxy.L_extended_ >= 0).any(1).mean() > (L[train] >= 0).any(1).mean() + 0.1


def test_auto_with_embeddings_picks_fusion_where_it_helps():
    X, L, Y = smooth_task(1600, 2)
    train, dev, test = slice(0, 1100), slice(1100, 1300), slice(1300, None)
    auto = AutoLabels(parts_grid=(2,), offsets=(0.0,), n_neighbors=10, random_state=0).fit(
        L[train], X[train], L_dev=L[dev], Y_dev=Y[dev], X_dev=X[dev])
    assert auto.chosen_["fusion"] != "none"
    lm = LabelModel(cardinality=2).fit(L[train])
    got = (auto.predict(L[test], X[test]) == Y[test]).mean()
    assert got > (lm.predict_proba(L[test]).argmax(1) == Y[test]).mean() + 0.05
    unsupervised = fit_labels(L[train], X[train], n_neighbors=10)
    assert unsupervised.chosen_["fusion"] == "Epoxy" and not unsupervised.supervised_


def test_one_standard_error_rule_and_folds():
    cands = [Candidate("none", "dawid_skene", "dev"), Candidate("none", "majority_vote", "dev"),
             Candidate("Liger", "triplet", "dev", 0.0, 4)]
    scores = np.array([[0.80, 0.90, 0.85, 0.95], [0.82, 0.84, 0.86, 0.88], [0.7, 0.7, 0.7, 0.7]])
    rule = one_standard_error(cands, scores, n_splits=4)
    assert rule["best"] == 0 and rule["chosen"] == 1  # 0.85 is within one SE (0.0323) of 0.875
    rule = one_standard_error(cands, scores * [[1], [0.9], [1]], n_splits=4)
    assert rule["chosen"] == 0
    Y = np.array([0] * 30 + [1] * 10)
    folds = repeated_folds(Y, 5, 2, random_state=0)
    assert len(folds) == 10
    for r in range(2):
        rows = np.concatenate(folds[5 * r:5 * r + 5])
        assert np.array_equal(np.sort(rows), np.arange(40))
        assert all((Y[f] == 1).sum() == 2 for f in folds[5 * r:5 * r + 5])  # stratified
