"""Defaults that do not collapse and numerical traps that are warned: each case on synthetic data whose answer is
known (labelfuse.synthetic or a one-sided generative model written out here)."""
import warnings

import numpy as np
import pytest

import labelfuse as lf
from labelfuse.models import assumptions
from labelfuse.synthetic import make_label_matrix


def one_sided_votes(n=20_000, m=8, positive=0.13, seed=0):
    """Binary LFs that each vote one class (keyword rules): LF j votes class j % 2 on that class's rows with
    probability tpr_j and on the other class's with fpr_j; conditionally independent given y."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive).astype(np.int64)
    L = np.full((n, m), -1, dtype=np.int8)
    for j in range(m):
        c = j % 2
        fire = np.where(y == c, rng.random(n) < rng.uniform(0.2, 0.5), rng.random(n) < rng.uniform(0.01, 0.05))
        L[fire, j] = c
    return L, y


@pytest.mark.parametrize("method", ["triplet", "covariance"])
@pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")  # (the other diagnostics of one-sided LFs)
def test_class_balance_survives_all_one_sided_lfs(method):
    L, y = one_sided_votes()
    with pytest.warns(lf.ClassBalanceWarning, match="all 8 voting LFs vote a single class"):
        lm = lf.LabelModel(method=method).fit(L)
    assert abs(lm.class_balance_[1] - y.mean()) < 0.05, lm.class_balance_  # was [0.5, 0.5]
    # the estimate of each source is in the recorded text
    assert "indicator third moments" in " ".join(lm.info_["warnings"])


def test_third_moment_balance_recovers_the_prior():
    for positive in (0.1, 0.3, 0.7):
        L, y = one_sided_votes(n=50_000, positive=positive, seed=1)
        b = assumptions.one_sided_class_balance(L)
        assert b is not None and abs(b[1] - y.mean()) < 0.03, (positive, b)


def test_dawid_skene_ignore_collapse_is_warned():
    L, y = one_sided_votes(positive=0.4, seed=2)
    with pytest.warns(lf.MethodWarning, match=r"collapsed: predicts class \d for 100%.*abstentions='model'"):
        lm = lf.LabelModel(method="dawid_skene", abstentions="ignore").fit(L)
    assert np.unique(lm.predict(L, tie_policy="prior")[(L >= 0).any(axis=1)]).size == 1
    with warnings.catch_warnings():  # the default (abstentions modelled) does not collapse here
        warnings.simplefilter("error", lf.MethodWarning)
        good = lf.LabelModel(method="dawid_skene").fit(L)
    covered = (L >= 0).any(axis=1)
    assert np.mean(good.predict(L, tie_policy="prior")[covered] == y[covered]) > 0.8


def test_covariance_refused_above_the_documented_number_of_classes():
    k = assumptions.COVARIANCE_MAX_CLASSES + 1
    s = make_label_matrix(500, 5, k, random_state=0)
    with pytest.raises(ValueError, match=rf"^method: 'covariance' is refused for {k} classes.*k\^3"):
        lf.LabelModel(method="covariance", cardinality=k).fit(s.L)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lf.LabelfuseWarning)
        lf.LabelModel(method="triplet", cardinality=k).fit(s.L)  # the advised method works


@pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")  # (the other diagnostics of one-sided LFs)
def test_covariance_warns_on_many_sparse_one_sided_multiclass_lfs():
    rng = np.random.default_rng(3)
    n, k, m = 20_000, 5, 40
    y = rng.integers(0, k, n)
    L = np.full((n, m), -1, dtype=np.int8)
    for j in range(m):
        c = j % k
        fire = np.where(y == c, rng.random(n) < 0.04, rng.random(n) < 0.003)
        L[fire, j] = c
    with pytest.warns(lf.MethodWarning, match="matrix completion is unreliable"):
        lf.LabelModel(method="covariance").fit(L)


def test_copies_of_one_lf_are_warned_for_dawid_skene():
    s = make_label_matrix(20_000, 6, 2, random_state=4)
    L = np.concatenate([s.L, s.L[:, [2, 2]]], axis=1)
    with pytest.warns(lf.LFQualityWarning, match=r"LFs \[2, 6, 7\] give the same answer"):
        lf.LabelModel(method="dawid_skene").fit(L)
    # near-identical, not equal: one vote in 500 changed
    L2 = L.copy()
    flip = np.flatnonzero(L2[:, 6] >= 0)[::500]
    L2[flip, 6] = 1 - L2[flip, 6]
    assert [2, 6, 7] in assumptions.near_identical_lfs(L2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lf.LFQualityWarning)
        lf.LabelModel(method="dawid_skene").fit(s.L)  # independent LFs: no warning


def test_flipped_lf_is_warned():
    acc = [0.34, 0.8, 0.75, 0.85, 0.7, 0.8, 0.78, 0.72]
    s = make_label_matrix(20_000, 8, 2, accuracy=acc, coverage=(0.3, 0.6), random_state=5)
    with pytest.warns(lf.LFQualityWarning, match=r"LFs \[0\] disagree with most other LFs.*flipped"):
        lm = lf.LabelModel(method="triplet").fit(s.L)
    assert lm.accuracies_[0] > 0.6  # what the warning is about: the fit reports 1 - 0.34
    s_ok = make_label_matrix(20_000, 8, 2, accuracy=acc[1:] + [0.75], coverage=(0.3, 0.6), random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lf.LFQualityWarning)
        lf.LabelModel(method="triplet").fit(s_ok.L)


def test_near_identical_from_statistics_matches_the_row_check():
    # a refit from statistics (the workspace, LabelModel.refit) finds copies from pair counts over all rows; the
    # row check reads a sample: on a matrix smaller than the sample they must agree
    from labelfuse import label_stats
    from labelfuse.models import assumptions

    for seed in range(3):
        s = make_label_matrix(20_000, 6, 2, random_state=seed)
        L = np.concatenate([s.L, s.L[:, [0, 0]]], axis=1)
        L[:50, 6] = -1  # one copy differs on a few rows: still near-identical
        L[:, 3] = np.where(L[:, 3] >= 0, 1 - L[:, 3], -1)  # a flipped LF is not a copy of anything
        stats = label_stats(L, 2)
        expected = assumptions.near_identical_lfs(L)
        assert expected == [[0, 6, 7]]
        assert assumptions.near_identical_from_stats(stats.covote[0], stats.agree[0]) == expected
