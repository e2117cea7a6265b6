"""Triplet label model: recovery on the generative model, equality with a numpy reference, degenerate input."""
from __future__ import annotations

import numpy as np
import pytest

from labelfuse import _core, label_stats
from labelfuse.models.triplet import fit_triplet
from labelfuse.synthetic import bayes_posterior, make_label_matrix

from _moment_reference import triplet_reference

N = 100_000
IMBALANCED = {2: [0.8, 0.2], 4: [0.6, 0.25, 0.1, 0.05], 10: list(np.array([8, 6, 5, 4, 3, 2, 2, 1, 1, 1]) / 33)}


def posterior(L, fit):
    return _core.posterior(L, *fit.log_tables(), fit.class_balance.shape[0])


@pytest.mark.parametrize("k", [2, 4, 10])
@pytest.mark.parametrize("balanced", [True, False])
def test_recovers_accuracies_prior_and_posterior(k, balanced):
    prior = None if balanced else IMBALANCED[k]
    data = make_label_matrix(N, 10, k, class_balance=prior, random_state=11 + k)
    fit = fit_triplet(label_stats(data.L, k))
    assert fit.info["source"] == ["triplets"] * 10
    np.testing.assert_allclose(fit.info["accuracy"], data.accuracy, atol=0.02)
    np.testing.assert_allclose(fit.class_balance, data.class_balance, atol=0.01)
    P, exact = posterior(data.L, fit), bayes_posterior(data.L, data.cpt, data.class_balance)
    assert np.abs(P - exact).mean() < 0.01
    top2 = np.sort(exact, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.05  # ties (e.g. all-abstain rows under a uniform prior) have no argmax
    assert np.mean(P[clear].argmax(1) == exact[clear].argmax(1)) > 0.99


def test_given_class_balance_is_used_and_counted_once():
    data = make_label_matrix(20_000, 8, 2, class_balance=[0.85, 0.15], random_state=3)
    fit = fit_triplet(label_stats(data.L, 2), class_balance=[0.85, 0.15])
    np.testing.assert_array_equal(fit.class_balance, [0.85, 0.15])
    assert fit.info["class_balance_estimated"] is False
    # the shared kernel applies the prior exactly once: it equals the plain Bayes formula with the fitted tables
    np.testing.assert_allclose(posterior(data.L, fit), bayes_posterior(data.L, fit.cpt, fit.class_balance), atol=1e-12)


@pytest.mark.parametrize("k,prior", [(2, None), (2, [0.7, 0.3]), (3, [0.5, 0.3, 0.2])])
@pytest.mark.parametrize("given", [False, True])
def test_matches_numpy_reference(k, prior, given):
    data = make_label_matrix(3000, 6, k, class_balance=prior, random_state=5)
    L = data.L.copy()
    L[:, 5] = L[:, 2]  # a duplicate
    L[:, 4] = -1       # an LF that never votes
    balance = data.class_balance if given else None
    fit = fit_triplet(label_stats(L, k), class_balance=balance)
    ref = triplet_reference(L, k, class_balance=balance)
    assert fit.info["source"] == ref["source"]
    np.testing.assert_array_equal(fit.info["duplicate_of"], ref["duplicate_of"])
    np.testing.assert_allclose(fit.info["accuracy"], ref["accuracy"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.class_balance, ref["class_balance"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.cpt, ref["cpt"], rtol=1e-10, atol=1e-12)


def test_median_aggregate_also_recovers():
    data = make_label_matrix(N, 10, 4, random_state=2)
    fit = fit_triplet(label_stats(data.L, 4), aggregate="median")
    np.testing.assert_allclose(fit.info["accuracy"], data.accuracy, atol=0.03)


def test_near_zero_denominators_are_skipped_not_counted():
    # LF 0 is a coin flip: every M_0j is ~0, so triplets (i; 0, j) are skipped instead of dividing by ~0
    acc = np.array([0.5, 0.9, 0.85, 0.8, 0.75, 0.7, 0.9, 0.8])
    data = make_label_matrix(N, 8, 2, accuracy=acc, coverage=np.full(8, 0.5), random_state=4)
    fit = fit_triplet(label_stats(data.L, 2))
    full = 6 * 7 // 2  # pairs (j, l) among the 7 other LFs
    assert all(fit.info["n_triplets"][i] < full for i in range(1, 8))
    np.testing.assert_allclose(fit.info["accuracy"][1:], acc[1:], atol=0.02)
    assert abs(fit.info["accuracy"][0] - 0.5) < 0.03


@pytest.mark.parametrize("m", [1, 2])
def test_fewer_than_three_lfs_fall_back(m):
    data = make_label_matrix(5000, m, 2, random_state=1)
    fit = fit_triplet(label_stats(data.L, 2), fallback_accuracy=0.8)
    assert fit.info["source"] == ["fallback"] * m
    np.testing.assert_allclose(fit.info["accuracy"], 0.8)
    assert any("fewer than 3 LFs" in w for w in fit.info["warnings"])
    P = posterior(data.L, fit)
    np.testing.assert_allclose(P.sum(1), 1.0)


def test_lf_that_never_overlaps_uses_fallback_or_pairs():
    data = make_label_matrix(20_000, 5, 2, coverage=np.full(5, 0.5), random_state=8)
    L = data.L.copy()
    L[: 10_000, 4] = -1  # LF 4 votes only on rows where LFs 0..3 abstain
    L[10_000:, :4] = -1
    fit = fit_triplet(label_stats(L, 2))
    assert fit.info["source"][:4] == ["triplets"] * 4
    assert fit.info["source"][4] == "fallback"
    assert fit.info["accuracy"][4] == pytest.approx(0.7)
    assert any("LFs [4]" in w for w in fit.info["warnings"])


def test_pair_tier_when_no_triplet_is_valid():
    # LF 3 overlaps LF 0 only: no triplet contains it, but M_30 / a_0 identifies it
    acc = np.array([0.9, 0.8, 0.85, 0.75])
    data = make_label_matrix(60_000, 4, 2, accuracy=acc, coverage=np.full(4, 0.7), random_state=9)
    L = data.L.copy()
    L[:30_000, 3] = -1
    L[30_000:, 1:3] = -1
    fit = fit_triplet(label_stats(L, 2))
    assert fit.info["source"] == ["triplets", "triplets", "triplets", "pairs"]
    assert fit.info["accuracy"][3] == pytest.approx(0.75, abs=0.03)


def test_never_voting_lf_is_inert():
    data = make_label_matrix(20_000, 6, 3, random_state=6)
    L = data.L.copy()
    L[:, 3] = -1
    fit = fit_triplet(label_stats(L, 3))
    without = fit_triplet(label_stats(np.delete(L, 3, axis=1), 3))
    assert fit.info["source"][3] == "never_votes"
    assert np.isnan(fit.info["accuracy"][3])
    np.testing.assert_array_equal(fit.cpt[3, 0], 1.0)
    np.testing.assert_allclose(np.delete(fit.info["accuracy"], 3), without.info["accuracy"], rtol=1e-12)
    np.testing.assert_allclose(posterior(L, fit), posterior(np.delete(L, 3, axis=1), without), atol=1e-12)


def test_duplicate_lf_is_fitted_and_counted_once():
    data = make_label_matrix(20_000, 6, 2, random_state=7)
    L = np.concatenate([data.L, data.L[:, [1]]], axis=1)
    fit = fit_triplet(label_stats(L, 2))
    base = fit_triplet(label_stats(data.L, 2))
    assert fit.info["source"][6] == "duplicate" and fit.info["duplicate_of"][6] == 1
    assert fit.info["accuracy"][6] == fit.info["accuracy"][1]
    np.testing.assert_allclose(fit.info["accuracy"][:6], base.info["accuracy"], rtol=1e-12)
    np.testing.assert_allclose(posterior(L, fit), posterior(data.L, base), atol=1e-12)
    # without dedupe the copy makes the pair (1, 6) agree perfectly and inflates LF 1
    naive = fit_triplet(label_stats(L, 2), dedupe=False)
    assert naive.info["accuracy"][1] > base.info["accuracy"][1] + 0.02


def test_always_voting_lf():
    cov = np.array([1.0, 0.4, 0.3, 0.5, 0.6])
    data = make_label_matrix(N, 5, 2, coverage=cov, random_state=10)
    fit = fit_triplet(label_stats(data.L, 2))
    np.testing.assert_allclose(fit.info["accuracy"], data.accuracy, atol=0.02)
    np.testing.assert_allclose(fit.cpt[0, 0], 0.0)


def test_all_abstain():
    L = np.full((100, 4), -1, dtype=np.int8)
    fit = fit_triplet(label_stats(L, 3))
    assert fit.info["source"] == ["never_votes"] * 4
    np.testing.assert_allclose(fit.class_balance, 1 / 3)
    np.testing.assert_allclose(posterior(L, fit), 1 / 3)


def test_class_no_lf_votes():
    data = make_label_matrix(20_000, 6, 3, class_balance=[0.5, 0.5, 0.0], random_state=12)
    fit = fit_triplet(label_stats(data.L, 3))
    assert np.all(np.isfinite(fit.cpt)) and np.all(np.isfinite(fit.class_balance))
    assert fit.class_balance[2] < 0.02
    np.testing.assert_allclose(posterior(data.L, fit).sum(1), 1.0)


def test_results_do_not_depend_on_threads():
    data = make_label_matrix(50_000, 8, 4, random_state=13)
    a = fit_triplet(label_stats(data.L, 4, n_threads=1))
    b = fit_triplet(label_stats(data.L, 4, n_threads=2))
    np.testing.assert_array_equal(a.cpt, b.cpt)


def test_bad_arguments():
    data = make_label_matrix(1000, 4, 2, random_state=0)
    st = label_stats(data.L, 2)
    with pytest.raises(TypeError, match="stats"):
        fit_triplet(data.L)
    with pytest.raises(ValueError, match="groups"):
        fit_triplet(label_stats(data.L, 2, groups=np.arange(1000) % 2))
    with pytest.raises(ValueError, match="class_balance"):
        fit_triplet(st, class_balance=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="class_balance"):
        fit_triplet(st, class_balance=[0.2, 0.2])
    with pytest.raises(ValueError, match="aggregate"):
        fit_triplet(st, aggregate="mode")
    with pytest.raises(ValueError, match="fallback_accuracy"):
        fit_triplet(st, fallback_accuracy=1.5)
    with pytest.raises(ValueError, match="min_denominator_z"):
        fit_triplet(st, min_denominator_z=-1.0)
    with pytest.raises(TypeError, match="min_overlap"):
        fit_triplet(st, min_overlap=2.5)


def one_sided_matrix(n=20_000, seed=0):
    """Spouse-like: 90% class 0; three LFs vote only class 1 (often), two only class 0 (rarely)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    L = np.full((n, 5), -1, dtype=np.int8)
    for j, (cls, hit, false) in enumerate([(1, 0.7, 0.02), (1, 0.6, 0.03), (1, 0.5, 0.01), (0, 0.1, 0.05),
                                           (0, 0.08, 0.04)]):
        p = np.where(y == cls, hit, false)
        L[rng.random(n) < p, j] = cls
    return L, y


def test_one_sided_lfs_do_not_estimate_the_balance():
    L, y = one_sided_matrix()
    fit = fit_triplet(label_stats(L, 2), one_sided="symmetric")
    # their vote shares would put most mass on class 1 (vote counts: ~4200 for 1 vs ~1600 for 0)
    np.testing.assert_allclose(fit.class_balance, 0.5)
    P = posterior(L, fit)
    empty = (L < 0).all(axis=1)
    np.testing.assert_allclose(P[empty], 0.5)
    assert (P.argmax(1) == y).mean() > 0.85
    ref = triplet_reference(L, 2)
    np.testing.assert_allclose(fit.class_balance, ref["class_balance"], atol=1e-12)
    # two-sided LFs still estimate it (roughly: their accuracies come from triplets with the one-sided LFs)
    rng = np.random.default_rng(1)
    extra = np.where(rng.random(len(y)) < 0.85, y, 1 - y).astype(np.int8)
    L2 = np.column_stack([L, extra, np.where(rng.random(len(y)) < 0.8, y, 1 - y).astype(np.int8)])
    fit2 = fit_triplet(label_stats(L2, 2))
    assert 0.8 < fit2.class_balance[0] < 0.99
    np.testing.assert_allclose(fit2.class_balance, triplet_reference(L2, 2)["class_balance"], atol=1e-9)
    assert np.array_equal(fit_triplet(label_stats(L, 2)).class_balance, fit.class_balance)


@pytest.mark.parametrize("prior", [[0.5, 0.5], [0.8, 0.2]])
def test_one_sided_lfs_recover_class_conditional_vote_rates(prior):
    # Binary, every LF votes one class only, with its own rates P(vote | y = its class) and P(vote | other class).
    rng = np.random.default_rng(7)
    n = N
    y = (rng.random(n) < prior[1]).astype(int)
    spec = [(1, 0.7, 0.05), (1, 0.5, 0.1), (1, 0.4, 0.02), (0, 0.3, 0.1), (0, 0.6, 0.2), (0, 0.25, 0.05)]
    L = np.full((n, len(spec)), -1, dtype=np.int8)
    for j, (cls, own, other) in enumerate(spec):
        L[rng.random(n) < np.where(y == cls, own, other), j] = cls
    given = None if prior == [0.5, 0.5] else prior  # no two-sided LF: the balance is uniform unless given
    fit = fit_triplet(label_stats(L, 2), given)
    assert fit.info["source"] == ["coverage"] * len(spec)
    np.testing.assert_allclose(fit.class_balance, prior)
    for j, (cls, own, other) in enumerate(spec):
        np.testing.assert_allclose(fit.cpt[j, 1 + cls, [cls, 1 - cls]], [own, other], atol=0.02)
        assert fit.cpt[j, 2 - cls].max() == 0  # never votes the other class
    np.testing.assert_allclose(fit.cpt.sum(axis=1), 1.0)
    truth = np.zeros((len(spec), 3, 2))
    for j, (cls, own, other) in enumerate(spec):
        truth[j, 1 + cls, [cls, 1 - cls]] = own, other
        truth[j, 0, [cls, 1 - cls]] = 1 - own, 1 - other
    P, exact = posterior(L, fit), bayes_posterior(L, truth, np.array(prior))
    assert np.abs(P - exact).max() < 0.05
    # against the symmetric fit, which reduces these LFs to a vote count
    sym = fit_triplet(label_stats(L, 2), given, one_sided="symmetric")
    assert (P.argmax(1) == y).mean() > (posterior(L, sym).argmax(1) == y).mean()
    with pytest.raises(ValueError, match="one_sided"):
        fit_triplet(label_stats(L, 2), one_sided="yes")


def test_warns_about_lfs_that_vote_one_class():
    data = make_label_matrix(20_000, 6, 3, random_state=14)
    L = data.L.copy()
    L[L[:, 0] != 2, 0] = -1  # LF 0 now only ever votes class 2
    fit = fit_triplet(label_stats(L, 3))
    assert any("1 of 6 LFs vote a single class ([0])" in w and "class_balance" in w for w in fit.info["warnings"])
    assert not any("single class" in w for w in fit_triplet(label_stats(data.L, 3)).info["warnings"])


def test_one_sided_rates_match_loop_reference():
    # Small input, plain loops over the triplets (i; j, l) of vote indicators.
    rng = np.random.default_rng(3)
    n = 3000
    y = (rng.random(n) < 0.4).astype(int)
    L = np.full((n, 5), -1, dtype=np.int8)
    for j, (cls, own, other) in enumerate([(1, 0.6, 0.1), (1, 0.5, 0.05), (0, 0.4, 0.1), (0, 0.5, 0.2), (1, 0.3, 0.1)]):
        L[rng.random(n) < np.where(y == cls, own, other), j] = cls
    pi = np.array([0.6, 0.4])
    fit = fit_triplet(label_stats(L, 2), pi)
    X = (L >= 0).astype(float)
    mean = X.mean(axis=0)
    for i in range(5):
        num = den = 0.0
        for j in range(5):
            for l in range(j + 1, 5):
                if i in (j, l):
                    continue
                cjl = np.mean(X[:, j] * X[:, l]) - mean[j] * mean[l]
                se = np.sqrt(mean[j] * (1 - mean[j]) * mean[l] * (1 - mean[l]) / n)
                if abs(cjl) <= 3.0 * se:
                    continue
                cij = np.mean(X[:, i] * X[:, j]) - mean[i] * mean[j]
                cil = np.mean(X[:, i] * X[:, l]) - mean[i] * mean[l]
                num += cjl ** 2 * (cij * cil / cjl)
                den += cjl ** 2
        d = np.sqrt(max(num / den, 0.0) / (pi[0] * pi[1]))
        c = int(L[L[:, i] >= 0, i][0])
        own, other = mean[i] + (1 - pi[c]) * d, mean[i] - pi[c] * d
        np.testing.assert_allclose(fit.cpt[i, 1 + c, [c, 1 - c]], [own, other], atol=1e-10)
        np.testing.assert_allclose(fit.cpt[i, 0, [c, 1 - c]], [1 - own, 1 - other], atol=1e-10)
        assert fit.info["source"][i] == "coverage"
