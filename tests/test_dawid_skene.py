"""Dawid-Skene: equality with a slow numpy EM, recovery of known parameters, degenerate input, determinism."""
import numpy as np
import pytest

import labelfuse as lf

from labelfuse import _core
from labelfuse.models import LabelModel
from labelfuse.models.dawid_skene import fit_dawid_skene
from labelfuse.synthetic import bayes_posterior, make_label_matrix


def reference_dawid_skene(L, k, max_iter, tol=0.0, smoothing=0.01, abstentions="model", fixed_prior=None):
    """Textbook EM on the rows (no pattern compression), written for clarity."""
    n, m = L.shape
    a = smoothing
    model = abstentions == "model"
    onehot = np.stack([(L == c) for c in range(-1, k)], axis=2).astype(float)  # (n, m, k+1), slot 0 = abstain
    votes = onehot[:, :, 1:].sum(axis=(1, 2))
    covered = votes > 0
    T = onehot[:, :, 1:].sum(axis=1)
    T[covered] /= votes[covered, None]
    if fixed_prior is not None:
        start = np.asarray(fixed_prior)
    else:
        start = T[covered].sum(axis=0) / covered.sum() if covered.any() else np.full(k, 1 / k)
    T[~covered] = start if model else 0.0

    def m_step(T):
        N = T.sum(axis=0)
        prior = np.asarray(fixed_prior) if fixed_prior is not None else (N + a) / (N.sum() + k * a)
        counts = np.einsum("njv,ny->jvy", onehot, T)  # (m, k+1, k) expected counts, slot 0 = abstain
        if model:
            theta = (counts + a) / (N[None, None, :] + a * (k + 1))
        else:
            theta = (counts[:, 1:, :] + a) / (counts[:, 1:, :].sum(axis=1, keepdims=True) + a * k)
        return theta, prior

    def e_step(theta, prior):
        if model:
            logp = np.log(prior)[None, :] + np.einsum("njv,jvy->ny", onehot, np.log(theta))
        else:
            logp = np.log(prior)[None, :] + np.einsum("njv,jvy->ny", onehot[:, :, 1:], np.log(theta))
        top = logp.max(axis=1, keepdims=True)
        z = np.exp(logp - top).sum(axis=1, keepdims=True)
        rows = np.ones(n, bool) if model else covered
        ll = float((top + np.log(z))[rows].sum() / rows.sum())
        T = np.exp(logp - top) / z
        if not model:
            T[~covered] = 0.0
        return T, ll

    theta, prior = m_step(T)
    prev, it = None, 0
    for it in range(1, max_iter + 1):
        T, ll = e_step(theta, prior)
        theta, prior = m_step(T)
        if prev is not None and abs(ll - prev) < tol:
            break
        prev = ll
    if model:
        cpt = theta
    else:
        cov = (L >= 0).mean(axis=0)
        cpt = np.concatenate([np.repeat((1 - cov)[:, None, None], k, axis=2), cov[:, None, None] * theta], axis=1)
    return cpt, prior, it


def true_accuracy_estimate(cpt, prior):
    k = prior.shape[0]
    idx = np.arange(k)
    return (cpt[:, 1 + idx, idx] * prior).sum(1) / ((1 - cpt[:, 0, :]) * prior).sum(1)


@pytest.mark.parametrize("abstentions", ["model", "ignore"])
@pytest.mark.parametrize("k,fixed", [(2, None), (3, None), (3, [0.5, 0.3, 0.2])])
def test_matches_numpy_reference(k, fixed, abstentions):
    s = make_label_matrix(400, 5, k, coverage=(0.2, 0.9), random_state=k)
    L = s.L.copy()
    L[:7] = -1  # some rows without votes
    for max_iter in (0, 1, 6):
        fit = fit_dawid_skene(L, k, None if fixed is None else np.array(fixed), max_iter=max_iter, tol=0.0,
                              abstentions=abstentions, accelerate=False)
        cpt, prior, _ = reference_dawid_skene(L, k, max_iter, abstentions=abstentions, fixed_prior=fixed)
        assert fit.info["n_iter"] == max_iter
        assert np.allclose(fit.cpt, cpt, atol=1e-10, rtol=1e-9)
        assert np.allclose(fit.class_balance, prior, atol=1e-12)
        assert np.allclose(fit.cpt.sum(axis=1), 1.0)


def test_matches_reference_with_convergence():
    s = make_label_matrix(300, 4, 2, random_state=9)
    fit = fit_dawid_skene(s.L, 2, max_iter=500, tol=1e-7, accelerate=False)
    cpt, prior, it = reference_dawid_skene(s.L, 2, 500, tol=1e-7)
    assert fit.info["converged"] and fit.info["n_iter"] == it
    assert np.allclose(fit.cpt, cpt, atol=1e-9) and np.allclose(fit.class_balance, prior, atol=1e-10)


@pytest.mark.parametrize("abstentions", ["model", "ignore"])
def test_acceleration_reaches_the_same_fixed_point(abstentions):
    s = make_label_matrix(20_000, 8, 2, class_balance=[0.8, 0.2], random_state=2)  # weak LFs: plain EM crawls
    plain = fit_dawid_skene(s.L, 2, max_iter=20_000, tol=1e-13, accelerate=False, abstentions=abstentions)
    fast = fit_dawid_skene(s.L, 2, max_iter=20_000, tol=1e-13, abstentions=abstentions)
    assert plain.info["converged"] and fast.info["converged"]
    assert fast.info["n_iter"] * 3 < plain.info["n_iter"]
    # plain EM is still creeping at tol 1e-13 (linear convergence with a rate near 1): agree to 1e-4
    assert np.allclose(fast.cpt, plain.cpt, atol=1e-4) and np.allclose(fast.class_balance, plain.class_balance, atol=1e-4)


def test_duplicate_rows_compress_to_patterns():
    L = np.array([[0, 1, -1], [0, 1, -1], [-1, -1, -1], [1, 1, 1], [0, 1, -1], [-1, -1, -1]], dtype=np.int8)
    fit = fit_dawid_skene(np.tile(L, (50, 1)), 2, max_iter=3, tol=0.0, accelerate=False)
    assert fit.info["n_patterns"] == 3
    cpt, prior, _ = reference_dawid_skene(np.tile(L, (50, 1)), 2, 3)
    assert np.allclose(fit.cpt, cpt, atol=1e-10)


@pytest.mark.parametrize(
    "k,balance",
    [(2, None), (2, [0.8, 0.2]), (4, None), (4, [0.6, 0.25, 0.1, 0.05]), (10, None)],
)
def test_recovers_known_parameters(k, balance):
    s = make_label_matrix(100_000, 10, k, class_balance=balance, random_state=100 + k)
    lm = LabelModel(method="dawid_skene").fit(s.L)
    assert lm.info_["converged"]
    assert np.max(np.abs(lm.accuracies_ - s.accuracy)) < 0.02
    assert np.max(np.abs(lm.class_balance_ - s.class_balance)) < 0.01
    assert np.max(np.abs(lm.coverage_ - s.coverage)) < 0.01
    P, P_true = lm.predict_proba(s.L), bayes_posterior(s.L, s.cpt, s.class_balance)
    diff = np.abs(P - P_true)
    assert diff.mean() < 0.01 and np.quantile(diff, 0.99) < 0.06
    top2 = np.sort(P_true, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.1  # rows where the Bayes decision is not a near-tie
    assert np.mean(P.argmax(1)[clear] == P_true.argmax(1)[clear]) > 0.99


def test_ignoring_abstentions_recovers_too():
    s = make_label_matrix(50_000, 10, 3, class_balance=[0.5, 0.3, 0.2], random_state=5)
    lm = LabelModel(method="dawid_skene", abstentions="ignore").fit(s.L)
    assert np.max(np.abs(lm.accuracies_ - s.accuracy)) < 0.02
    # abstaining is equally likely under every class, so all-abstain rows get exactly the class balance
    assert np.allclose(lm.cpt_[:, 0, :], lm.cpt_[:, :1, :1][:, 0])
    empty = (s.L == -1).all(axis=1)
    assert empty.any() and np.allclose(lm.predict_proba(s.L[empty]), lm.class_balance_)


def test_threads_do_not_change_results():
    s = make_label_matrix(60_000, 10, 4, random_state=3)  # large enough for the parallel paths
    fits = [fit_dawid_skene(s.L, 4, n_threads=t) for t in (1, 2, 3)]
    for other in fits[1:]:
        assert np.array_equal(other.cpt, fits[0].cpt) and np.array_equal(other.class_balance, fits[0].class_balance)
        assert np.array_equal(other.info.pop("coverage"), fits[0].info["coverage"])
        assert other.info == {k: v for k, v in fits[0].info.items() if k != "coverage"}


def test_layout_and_dtype_do_not_matter():
    s = make_label_matrix(2000, 6, 3, random_state=4)
    base = fit_dawid_skene(s.L, 3, max_iter=5)
    for L in (s.L.astype(np.int32), np.asfortranarray(s.L), np.repeat(s.L, 2, axis=1)[:, ::2]):
        assert np.array_equal(fit_dawid_skene(L, 3, max_iter=5).cpt, base.cpt)


def test_warm_start_from_the_fixed_point_stays():
    s = make_label_matrix(20_000, 8, 3, random_state=6)
    first = fit_dawid_skene(s.L, 3, max_iter=1000, tol=1e-12)
    again = fit_dawid_skene(s.L, 3, max_iter=1000, tol=1e-12, init=first)
    assert again.info["n_iter"] < first.info["n_iter"]
    assert np.allclose(again.cpt, first.cpt, atol=1e-6)


# -- degenerate input ------------------------------------------------------------------------------------------------
def test_lf_that_never_votes_and_one_that_always_votes():
    s = make_label_matrix(20_000, 6, 2, random_state=7)
    L = s.L.copy()
    L[:, 0] = -1
    L[:, 1] = np.where(s.L[:, 1] >= 0, s.L[:, 1], s.Y)  # always votes (and is right whenever it filled in)
    lm = LabelModel(method="dawid_skene").fit(L)
    assert np.isnan(lm.accuracies_[0]) and lm.coverage_[0] == 0.0
    assert lm.coverage_[1] == 1.0 and np.isfinite(lm.accuracies_[1:]).all()
    # should the silent LF vote later, its vote carries almost no evidence: its table is the smoothing
    # pseudo-count over each class's mass, alpha / (N_y + alpha (k+1)), so only class sizes tell classes apart
    L_later = L.copy()
    L_later[:, 0] = 1
    assert np.allclose(lm.predict_proba(L), lm.predict_proba(L_later), atol=0.01)


def test_duplicate_lfs_get_identical_parameters():
    s = make_label_matrix(20_000, 6, 3, random_state=8)
    L = np.concatenate([s.L, s.L[:, :1]], axis=1)
    with pytest.warns(lf.LFQualityWarning, match=r"LFs \[0, 6\] give the same answer"):
        lm = LabelModel(method="dawid_skene").fit(L)
    assert np.allclose(lm.cpt_[0], lm.cpt_[-1], atol=1e-12)
    assert np.isfinite(lm.predict_proba(L)).all()


def test_all_abstain_rows_and_all_abstain_matrix():
    s = make_label_matrix(5000, 5, 2, random_state=9)
    L = s.L.copy()
    L[:100] = -1
    lm = LabelModel(method="dawid_skene").fit(L)
    P = lm.predict_proba(L)
    assert np.allclose(P[:100], P[0]) and np.allclose(P.sum(1), 1)
    empty = LabelModel(method="dawid_skene", cardinality=3).fit(np.full((50, 4), -1, dtype=np.int8))
    assert np.allclose(empty.class_balance_, 1 / 3) and np.allclose(empty.predict_proba(np.full((2, 4), -1)), 1 / 3)
    assert np.isnan(empty.accuracies_).all()


def test_class_that_no_lf_votes():
    s = make_label_matrix(20_000, 8, 3, random_state=10)
    L = np.where(s.L == 2, -1, s.L).astype(np.int8)  # nobody ever votes class 2
    lm = LabelModel(method="dawid_skene", cardinality=3).fit(L)
    assert lm.class_balance_[2] < 1e-4  # its prior collapses to the smoothing floor
    assert np.all(lm.predict(L, tie_policy="prior") != 2)
    kept = LabelModel(method="dawid_skene", cardinality=3, class_balance=[0.4, 0.4, 0.2]).fit(L)
    assert np.allclose(kept.class_balance_, [0.4, 0.4, 0.2])
    assert np.isfinite(kept.predict_proba(L)).all()


def test_one_lf():
    s = make_label_matrix(3000, 1, 3, coverage=[0.7], random_state=11)
    lm = LabelModel(method="dawid_skene").fit(s.L)
    votes = s.L[:, 0] >= 0
    assert np.array_equal(lm.predict(s.L)[votes], s.L[votes, 0])  # a lone LF is taken at its word


def test_bad_input():
    L = np.array([[0, 1], [1, -1]], dtype=np.int8)
    with pytest.raises(ValueError, match="L: entry"):
        fit_dawid_skene(np.array([[0, 5]], dtype=np.int8), 2)
    with pytest.raises(ValueError, match="abstentions"):
        fit_dawid_skene(L, 2, abstentions="skip")
    with pytest.raises(ValueError, match="max_iter"):
        fit_dawid_skene(L, 2, max_iter=-1)
    with pytest.raises(ValueError, match="tol"):
        fit_dawid_skene(L, 2, tol=float("nan"))
    with pytest.raises(ValueError, match="smoothing"):
        fit_dawid_skene(L, 2, smoothing=-1.0)
    with pytest.raises(ValueError, match="class_balance"):
        _core.dawid_skene(L, 2, class_balance=np.ones(3))
    with pytest.raises(TypeError, match="init_cpt"):
        _core.dawid_skene(L, 2, init_cpt=[1.0])
