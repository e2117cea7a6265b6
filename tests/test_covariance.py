"""Covariance (matrix-completion) label model: recovery, the stated objective, a numpy reference, degenerate input."""
from __future__ import annotations

import numpy as np
import pytest

from labelfuse import _core, label_stats
from labelfuse.models.covariance import fit_covariance
from labelfuse.synthetic import bayes_posterior, make_label_matrix

from _moment_reference import covariance_objective, covariance_reference, one_hot_overlap

N = 100_000


def stats(L, k, **kw):
    return label_stats(L, k, overlap_matrix=True, **kw)


def posterior(L, fit):
    return _core.posterior(L, *fit.log_tables(), fit.class_balance.shape[0])


@pytest.mark.parametrize(
    "k,prior",
    [(2, None), (2, [0.8, 0.2]), (4, None), (4, [0.6, 0.25, 0.1, 0.05]), (10, None),
     (10, list(np.array([8, 6, 5, 4, 3, 2, 2, 1, 1, 1]) / 33))],
)
def test_recovers_tables_prior_and_posterior(k, prior):
    data = make_label_matrix(N, 10, k, class_balance=prior, random_state=21 + k)
    fit = fit_covariance(stats(data.L, k))
    np.testing.assert_allclose(fit.info["accuracy"], data.accuracy, atol=0.02)
    np.testing.assert_allclose(fit.class_balance, data.class_balance, atol=0.01)
    # full class-conditional tables, not only accuracies
    assert np.abs(fit.cpt - data.cpt).max() < 0.03
    P, exact = posterior(data.L, fit), bayes_posterior(data.L, data.cpt, data.class_balance)
    assert np.abs(P - exact).mean() < 0.01
    top2 = np.sort(exact, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.05  # ties (e.g. all-abstain rows under a uniform prior) have no argmax
    assert np.mean(P[clear].argmax(1) == exact[clear].argmax(1)) > 0.99


def class_dependent_binary(n=N, m=8, p1=0.4, seed=0):
    """LFs much better on class 1 than on class 0 (outside the symmetric model the triplet fit assumes)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < p1).astype(np.int64)
    acc = np.stack([rng.uniform(0.55, 0.7, m), rng.uniform(0.8, 0.95, m)])  # [y, lf]
    cov = rng.uniform(0.2, 0.6, m)
    votes = rng.random((n, m)) < cov
    right = rng.random((n, m)) < acc[y]
    L = np.where(votes, np.where(right, y[:, None], 1 - y[:, None]), -1).astype(np.int8)
    return L, acc, cov


def test_recovers_class_dependent_accuracies_binary_given_the_balance():
    L, acc, cov = class_dependent_binary()
    fit = fit_covariance(stats(L, 2), class_balance=[0.6, 0.4])
    mu = fit.info["mu"]  # [lf, vote, y]
    np.testing.assert_allclose(mu[:, 0, 0] / cov, acc[0], atol=0.03)
    np.testing.assert_allclose(mu[:, 1, 1] / cov, acc[1], atol=0.03)


def test_class_dependent_tables_and_balance_are_not_jointly_identified():
    # Documented limit: O and the first moments fix Z = mu P^(1/2) only up to a rotation R with
    # R sqrt(pi') = sqrt(pi); with the balance unknown a one-parameter family fits equally well, so the fit
    # lands on another member (here near the triplet's symmetric-model balance) with the same loss.
    L, acc, cov = class_dependent_binary()
    st = stats(L, 2)
    given = fit_covariance(st, class_balance=[0.6, 0.4], ridge=1e-7, tol=1e-10, max_sweeps=2000)
    free = fit_covariance(st, ridge=1e-7, tol=1e-10, max_sweeps=2000, max_outer=50)
    assert abs(free.class_balance[1] - 0.4) > 0.1
    assert free.info["loss"] == pytest.approx(given.info["loss"], rel=1e-3)


@pytest.mark.parametrize("k,prior", [(2, [0.7, 0.3]), (3, [0.5, 0.3, 0.2])])
@pytest.mark.parametrize("given", [False, True])
def test_matches_numpy_reference(k, prior, given):
    data = make_label_matrix(3000, 6, k, class_balance=prior, random_state=5)
    L = data.L.copy()
    L[:, 5] = L[:, 2]
    L[:, 4] = -1
    balance = data.class_balance if given else None
    fit = fit_covariance(stats(L, k), class_balance=balance)
    ref = covariance_reference(L, k, class_balance=balance)
    assert fit.info["sweeps"] == ref["sweeps"]
    np.testing.assert_allclose(fit.class_balance, ref["class_balance"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.info["mu"][ref["active"]], ref["mu"][ref["active"]], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.cpt, ref["cpt"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.info["accuracy"], ref["accuracy"], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("k", [2, 3])
def test_minimises_the_stated_objective(k):
    # with the balance given and no ridge to speak of, the fit is a stationary point of the off-diagonal objective:
    # no small perturbation of mu lowers it (checked against scipy's optimiser started from the fit)
    scipy_optimize = pytest.importorskip("scipy.optimize")
    data = make_label_matrix(20_000, 6, k, random_state=3)
    fit = fit_covariance(stats(data.L, k), class_balance=data.class_balance, ridge=1e-9, tol=1e-12,
                         max_sweeps=5000, clamp=False)
    O, o = one_hot_overlap(data.L, k)
    active = np.ones(6, dtype=bool)
    mu = fit.info["mu"]
    f0 = covariance_objective(mu, data.class_balance, O, o, active)
    shape = mu.shape
    res = scipy_optimize.minimize(
        lambda x: covariance_objective(x.reshape(shape), data.class_balance, O, o, active), mu.ravel(),
        method="L-BFGS-B", options={"maxiter": 200, "ftol": 1e-15, "gtol": 1e-12},
    )
    assert res.fun >= f0 * (1 - 1e-6) - 1e-14
    assert fit.info["loss"] == pytest.approx(
        covariance_objective(mu, data.class_balance, O, o, active, w=0.0), rel=1e-6, abs=1e-14
    )


def test_unanimous_votes_predict_their_class():
    data = make_label_matrix(N, 10, 4, random_state=30)
    fit = fit_covariance(stats(data.L, 4))
    L = data.L
    voted = (L >= 0).any(1)
    top = np.where(L >= 0, L, 0).max(1)
    low = np.where(L >= 0, L, 99).min(1)
    unanimous = voted & (top == low)
    assert unanimous.sum() > 1000
    assert np.all(posterior(L, fit)[unanimous].argmax(1) == top[unanimous])


def test_imbalanced_unanimous_votes_agree_with_bayes():
    # with a skewed prior a lone weak vote can rightly lose to the prior; the fit must agree with the exact posterior
    data = make_label_matrix(N, 10, 4, class_balance=[0.6, 0.25, 0.1, 0.05], random_state=31)
    fit = fit_covariance(stats(data.L, 4))
    L = data.L
    top = np.where(L >= 0, L, 0).max(1)
    low = np.where(L >= 0, L, 99).min(1)
    unanimous = (L >= 0).any(1) & (top == low)
    ours = posterior(L, fit)[unanimous].argmax(1)
    exact = bayes_posterior(L[unanimous], data.cpt, data.class_balance).argmax(1)
    assert np.mean(ours == exact) > 0.995


def test_clamp_keeps_votes_from_counting_against_their_class():
    # LF 0 is worse than random: unclamped, its vote for c is evidence against c
    acc = np.array([0.3, 0.8, 0.85, 0.75, 0.9, 0.8])
    data = make_label_matrix(50_000, 6, 2, accuracy=acc, coverage=np.full(6, 0.5), random_state=32)
    st = stats(data.L, 2)
    raw = fit_covariance(st, clamp=False)
    assert raw.info["clamped"] == 0
    assert raw.info["mu"][0, 1, 0] > raw.info["mu"][0, 1, 1]  # P(vote 1 | y=0) > P(vote 1 | y=1)
    fit = fit_covariance(st)
    assert fit.info["clamped"] > 0
    mu = fit.info["mu"]
    diag = mu[:, np.arange(2), np.arange(2)]
    assert np.all(mu <= diag[:, :, None] + 1e-15)
    only0 = np.full((1, 6), -1, dtype=np.int8)
    only0[0, 0] = 1  # a row where only the bad LF votes, for class 1
    assert posterior(only0, fit)[0, 1] >= posterior(only0, raw)[0, 1]


@pytest.mark.parametrize("m", [1, 2])
def test_fewer_than_three_lfs(m):
    data = make_label_matrix(5000, m, 2, random_state=1)
    fit = fit_covariance(stats(data.L, 2))
    assert np.all(np.isfinite(fit.cpt))
    assert any("LFs" in w for w in fit.info["warnings"])
    np.testing.assert_allclose(fit.cpt.sum(1), 1.0)
    np.testing.assert_allclose(posterior(data.L, fit).sum(1), 1.0)


def test_never_voting_and_duplicate_lfs():
    data = make_label_matrix(20_000, 6, 3, random_state=6)
    L = np.concatenate([data.L, data.L[:, [1]], np.full((20_000, 1), -1, dtype=np.int8)], axis=1)
    fit = fit_covariance(stats(L, 3))
    base = fit_covariance(stats(data.L, 3))
    assert fit.info["duplicate_of"][6] == 1
    assert np.isnan(fit.info["accuracy"][7])
    np.testing.assert_array_equal(fit.cpt[7, 0], 1.0)
    np.testing.assert_allclose(fit.info["accuracy"][:6], base.info["accuracy"], rtol=1e-10)
    np.testing.assert_allclose(fit.class_balance, base.class_balance, rtol=1e-10)
    np.testing.assert_allclose(posterior(L, fit), posterior(data.L, base), atol=1e-10)
    assert len(fit.info["warnings"]) >= 2


def test_all_abstain_and_a_class_nobody_votes():
    L = np.full((100, 4), -1, dtype=np.int8)
    fit = fit_covariance(stats(L, 3))
    np.testing.assert_allclose(posterior(L, fit), 1 / 3)
    data = make_label_matrix(20_000, 6, 3, class_balance=[0.5, 0.5, 0.0], random_state=12)
    fit = fit_covariance(stats(data.L, 3))
    assert np.all(np.isfinite(fit.cpt)) and fit.class_balance[2] < 0.02
    np.testing.assert_allclose(posterior(data.L, fit).sum(1), 1.0)


def test_deterministic_and_thread_independent():
    data = make_label_matrix(50_000, 8, 4, random_state=13)
    a = fit_covariance(stats(data.L, 4, n_threads=1))
    b = fit_covariance(stats(data.L, 4, n_threads=2))
    np.testing.assert_array_equal(a.cpt, b.cpt)
    np.testing.assert_array_equal(a.class_balance, b.class_balance)


def test_bad_arguments():
    data = make_label_matrix(1000, 4, 2, random_state=0)
    with pytest.raises(ValueError, match="overlap_matrix=True"):
        fit_covariance(label_stats(data.L, 2))
    with pytest.raises(ValueError, match="groups"):
        fit_covariance(stats(data.L, 2, groups=np.arange(1000) % 2))
    st = stats(data.L, 2)
    with pytest.raises(ValueError, match="class_balance"):
        fit_covariance(st, class_balance=[1.0])
    with pytest.raises(ValueError, match="ridge"):
        fit_covariance(st, ridge=0.0)
    with pytest.raises(ValueError, match="max_sweeps"):
        fit_covariance(st, max_sweeps=0)
    with pytest.raises(TypeError, match="tol"):
        fit_covariance(st, tol="small")
