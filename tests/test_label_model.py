"""LabelModel facade: class balance sources, dispatch, fitted attributes, incremental refit, bad input."""
import sys
import warnings
import types

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import label_stats
from labelfuse.models import FitResult, LabelModel, NotFittedError
from labelfuse.models.label_model import accuracies_from_cpt
from labelfuse.synthetic import bayes_posterior, conditional_table, make_label_matrix


def test_fitted_attributes_and_posterior_kernel():
    s = make_label_matrix(20_000, 8, 3, class_balance=[0.5, 0.3, 0.2], random_state=1)
    lm = LabelModel(method="dawid_skene")
    assert lm.fit(s.L) is lm
    assert lm.cpt_.shape == (8, 4, 3) and lm.class_balance_.shape == (3,)
    assert np.allclose(lm.cpt_.sum(axis=1), 1.0)
    assert np.allclose(lm.coverage_, (s.L >= 0).mean(axis=0))
    assert np.array_equal(lm.classes_, [0, 1, 2]) and lm.n_lfs_ == 8 and lm.cardinality_ == 3
    assert lm.n_iter_ == lm.info_["n_iter"] > 0
    P = lm.predict_proba(s.L)
    assert np.allclose(P, bayes_posterior(s.L, lm.cpt_, lm.class_balance_), atol=1e-10)
    assert np.allclose(P.sum(axis=1), 1.0)
    assert np.array_equal(lm.predict(s.L, tie_policy="prior"), P.argmax(axis=1))


def test_accuracies_from_cpt_matches_the_generative_definition():
    acc, cov = np.array([0.9, 0.6, 0.75]), np.array([0.3, 1.0, 0.5])
    prior = np.array([0.7, 0.2, 0.1])
    assert np.allclose(accuracies_from_cpt(conditional_table(acc, cov, 3), prior), acc)


def test_class_balance_sources():
    s = make_label_matrix(20_000, 8, 2, class_balance=[0.8, 0.2], random_state=2)
    estimated = LabelModel(method="dawid_skene").fit(s.L)
    assert abs(estimated.class_balance_[0] - 0.8) < 0.03  # the MLE itself is ~0.02 off at this n
    given = LabelModel(method="dawid_skene", class_balance=[0.7, 0.3]).fit(s.L)
    assert np.allclose(given.class_balance_, [0.7, 0.3])
    assert np.allclose(LabelModel(method="dawid_skene", class_balance="uniform").fit(s.L).class_balance_, 0.5)
    assert np.allclose(LabelModel(method="dawid_skene").fit(s.L, class_balance=[0.6, 0.4]).class_balance_,
                       [0.6, 0.4])
    dev = np.array([0] * 78 + [1] * 20)  # (78 + 1) / 100, (20 + 1) / 100
    from_dev = LabelModel(method="dawid_skene", class_balance="uniform").fit(s.L, Y_dev=dev)
    assert np.allclose(from_dev.class_balance_, [0.79, 0.21])
    # held fixed through EM (not just reported) and used by the posterior
    balanced_dev = LabelModel(method="dawid_skene").fit(s.L, Y_dev=[0, 1] * 50)
    assert np.allclose(balanced_dev.class_balance_, 0.5)
    assert np.allclose(balanced_dev.predict_proba(s.L), bayes_posterior(s.L, balanced_dev.cpt_, [0.5, 0.5]))
    assert (balanced_dev.predict_proba(s.L)[:, 1] > estimated.predict_proba(s.L)[:, 1] + 1e-3).mean() > 0.5
    with pytest.raises(ValueError, match="either"):
        LabelModel(method="dawid_skene").fit(s.L, Y_dev=dev, class_balance=[0.5, 0.5])
    with pytest.raises(ValueError, match="Y_dev"):
        LabelModel(method="dawid_skene").fit(s.L, Y_dev=[0, 2])


def test_threads_do_not_change_results():
    s = make_label_matrix(60_000, 10, 4, random_state=3)
    a = LabelModel(method="dawid_skene", n_threads=1).fit(s.L)
    b = LabelModel(method="dawid_skene", n_threads=2).fit(s.L)
    assert np.array_equal(a.cpt_, b.cpt_)
    assert np.array_equal(a.predict_proba(s.L), b.predict_proba(s.L))


# -- refit -----------------------------------------------------------------------------------------------------------
def edit(L, column, seed, fraction=0.2):
    rng = np.random.default_rng(seed)
    out = L.copy()
    rows = rng.random(L.shape[0]) < fraction
    out[rows, column] = rng.integers(-1, int(L.max()) + 1, size=rows.sum())
    return out


def test_refit_updates_statistics_exactly_and_matches_a_fresh_fit():
    s = make_label_matrix(30_000, 8, 3, random_state=4)
    opts = dict(method="dawid_skene", tol=1e-12, max_iter=5000)
    lm = LabelModel(**opts).fit(s.L)
    L_new = edit(edit(s.L, 2, 0, fraction=0.02), 5, 1, fraction=0.02)
    before = s.L.copy()
    lm.refit(L_new)
    assert np.array_equal(s.L, before)  # the caller's arrays are never touched
    assert np.array_equal(lm._last_L, L_new)
    fresh = LabelModel(**opts).fit(L_new)
    assert lm.info_["warm_start"] and not fresh.info_["warm_start"]
    assert np.allclose(lm.cpt_, fresh.cpt_, atol=1e-5)
    assert np.allclose(lm.predict_proba(L_new), fresh.predict_proba(L_new), atol=1e-5)
    assert np.allclose(lm.coverage_, fresh.coverage_)
    # naming the changed column skips the comparison and gives the same statistics
    named = LabelModel(**opts).fit(s.L).refit(L_new, columns=[5, 2])
    assert np.array_equal(named._last_L, L_new) and np.array_equal(named.cpt_, lm.cpt_)
    # nothing changed: nothing to do
    n_iter = lm.n_iter_
    assert lm.refit(L_new) is lm and lm.n_iter_ == n_iter


def test_refit_errors():
    s = make_label_matrix(1000, 4, 2, random_state=5)
    lm = LabelModel(method="dawid_skene")
    with pytest.raises(NotFittedError):
        lm.refit(s.L)
    with pytest.warns(lf.ConvergenceWarning, match="dawid_skene.*did not converge within max_iter=100"):
        lm.fit(s.L)  # (4 LFs on 1000 rows: EM crawls below tol=1e-8, and says so)
    with pytest.raises(ValueError, match="L_new"):
        lm.refit(s.L[:10])
    bad = s.L.copy()
    bad[3, 1] = 7
    with pytest.raises(ValueError, match=r"L_new: entry \(row 3, column 1\)"):
        lm.refit(bad)
    with pytest.raises(ValueError, match="columns"):
        lm.refit(s.L, columns=[4])


@pytest.fixture
def fake_moment_methods(monkeypatch):
    """Stand-ins for the triplet / covariance fit functions (they land on main separately): a deterministic
    function of the statistics, which is all the facade's contract needs."""
    calls = []

    def from_stats(stats, class_balance, **opts):
        calls.append((stats, class_balance, opts))
        k = stats.cardinality
        counts = stats.class_counts[0].astype(float) + 1.0  # (m, k)
        cov = stats.lf_coverage()
        cpt = np.empty((stats.n_lfs, k + 1, k))
        cpt[:, 0, :] = (1 - cov)[:, None]
        cpt[:, 1:, :] = (cov[:, None] * counts / counts.sum(1, keepdims=True))[:, :, None]
        balance = np.full(k, 1 / k) if class_balance is None else class_balance
        return FitResult(cpt, balance, {"n_iter": 0})

    for name, fn in (("triplet", "fit_triplet"), ("covariance", "fit_covariance")):
        module = types.ModuleType(f"labelfuse.models.{name}")
        setattr(module, fn, from_stats)
        monkeypatch.setitem(sys.modules, f"labelfuse.models.{name}", module)
    return calls


@pytest.mark.parametrize("method", ["triplet", "covariance"])
# the fake fit's tables do not depend on y, so its labels collapse onto one class: rightly warned, not the point here
@pytest.mark.filterwarnings("ignore::labelfuse.MethodWarning")
def test_dispatch_to_moment_methods_and_exact_refit(fake_moment_methods, method):
    s = make_label_matrix(5000, 6, 3, random_state=6)
    lm = LabelModel(method=method, class_balance=[0.5, 0.3, 0.2], method_options={"alpha": 1}).fit(s.L)
    stats, balance, opts = fake_moment_methods[-1]
    assert opts == {"alpha": 1} and np.allclose(balance, [0.5, 0.3, 0.2])
    assert (stats.overlap is not None) == (method == "covariance")
    assert stats == label_stats(s.L, 3, overlap_matrix=method == "covariance")
    L_new = edit(s.L, 1, 7)
    lm.refit(L_new)
    assert lm._stats == label_stats(L_new, 3, overlap_matrix=method == "covariance")  # updated, not recounted
    fresh = LabelModel(method=method, class_balance=[0.5, 0.3, 0.2], method_options={"alpha": 1}).fit(L_new)
    assert np.array_equal(lm.cpt_, fresh.cpt_)
    assert np.array_equal(lm.predict_proba(L_new), fresh.predict_proba(L_new))


def test_abstentions_in_the_posterior(tmp_path):
    # Class-dependent coverage (LF 0 votes only class 1, mostly when y = 1), so P(abstain | y) differs by class.
    rng = np.random.default_rng(5)
    s = make_label_matrix(20_000, 6, 2, class_balance=[0.7, 0.3], random_state=5)
    L = s.L.copy()
    L[:, 0] = np.where((s.Y == 1) & (rng.random(len(s.Y)) < 0.6), 1, -1)
    with pytest.warns(lf.FitWarning, match=r"1 of 6 LFs vote a single class \(\[0\]\)"):
        ignore = LabelModel(method="covariance").fit(L)  # default for covariance: abstentions are not evidence
    with pytest.warns(lf.FitWarning, match="vote a single class"):
        model = LabelModel(method="covariance", abstentions="model").fit(L)
    assert np.array_equal(ignore.cpt_, model.cpt_)  # the fit is the same; only the posterior differs
    assert ignore.cpt_[0, 0, 0] > ignore.cpt_[0, 0, 1] + 0.3  # the fit did learn class-dependent abstention
    assert np.allclose(model.predict_proba(L), bayes_posterior(L, model.cpt_, model.class_balance_), atol=1e-10)
    flat = ignore.cpt_.copy()
    flat[:, 0, :] = 1.0  # the same abstention factor for every class
    assert np.allclose(ignore.predict_proba(L), bayes_posterior(L, flat, ignore.class_balance_), atol=1e-10)
    empty = np.full((3, 6), -1, dtype=np.int8)
    assert np.allclose(ignore.predict_proba(empty), ignore.class_balance_)
    assert not np.allclose(model.predict_proba(empty), model.class_balance_)
    ignore.save(tmp_path / "cov.json")
    assert np.array_equal(LabelModel.load(tmp_path / "cov.json").predict_proba(L), ignore.predict_proba(L))
    # triplet tables do not depend on y when abstaining: both modes give the same posterior
    with pytest.warns(lf.FitWarning, match="vote a single class"):
        t_model = LabelModel(method="triplet", abstentions="model").fit(L)
    with pytest.warns(lf.FitWarning, match="vote a single class"):
        t_ignore = LabelModel(method="triplet", abstentions="ignore").fit(L)
    assert np.allclose(t_model.predict_proba(L), t_ignore.predict_proba(L), atol=1e-12)
    with pytest.raises(ValueError, match="abstentions"):
        LabelModel(method="covariance", abstentions="drop").fit(L)


def test_bad_input():
    L = np.array([[0, 1], [1, -1]], dtype=np.int8)
    with pytest.raises(ValueError, match="method"):
        LabelModel(method="snorkel").fit(L)
    with pytest.raises(ValueError, match="abstentions"):
        LabelModel(method="dawid_skene", abstentions="drop").fit(L)
    with pytest.raises(ValueError, match="tie_policy"):
        LabelModel(method="dawid_skene", tie_policy="first").fit(L)
    with pytest.raises(ValueError, match="L: entry"):
        LabelModel(method="dawid_skene", cardinality=2).fit(np.array([[0, 2]], dtype=np.int8))
    with pytest.raises(TypeError, match="L"):
        LabelModel(method="dawid_skene").fit([[0.5, 1.0]])
    with pytest.raises(ValueError, match="L"):
        LabelModel(method="dawid_skene").fit(np.array([0, 1, -1]))
    with pytest.raises(TypeError, match="cardinality"):
        LabelModel(method="dawid_skene", cardinality=2.0).fit(L)
    with pytest.raises(ValueError, match="class_balance"):
        LabelModel(method="dawid_skene", class_balance=[0.2, 0.2, 0.6]).fit(L)
    lm = LabelModel(method="dawid_skene").fit(L)
    with pytest.raises(ValueError, match="columns"):
        lm.predict_proba(np.zeros((3, 5), dtype=np.int8))
    with pytest.raises(ValueError, match="L: entry"):
        lm.predict_proba(np.array([[0, 3]], dtype=np.int8))


# -- declared constraints -------------------------------------------------------------------------------------------
L_SMALL = np.array([[0, 1], [1, -1], [1, 1]], dtype=np.int8)


@pytest.mark.parametrize("param, value, error", [
    ("method", "snorkel", ValueError), ("method", 3, TypeError), ("method", None, TypeError),
    ("cardinality", 1, ValueError), ("cardinality", 2.0, TypeError), ("cardinality", True, TypeError),
    ("class_balance", "balanced", ValueError), ("class_balance", 1.0, TypeError),
    ("abstentions", "drop", ValueError), ("abstentions", 1, TypeError),
    ("max_iter", -1, ValueError), ("max_iter", 2.5, TypeError), ("max_iter", True, TypeError),
    ("tol", np.nan, ValueError), ("tol", np.inf, ValueError), ("tol", -1.0, ValueError), ("tol", "x", TypeError),
    ("smoothing", -0.1, ValueError), ("smoothing", None, TypeError),
    ("method_options", 3, TypeError), ("method_options", ["dedupe"], TypeError),
    ("tie_policy", "first", ValueError), ("tie_policy", None, TypeError),
    ("random_state", -1, ValueError), ("random_state", "x", TypeError), ("random_state", 1.5, TypeError),
    ("n_threads", 0, ValueError), ("n_threads", 1.5, TypeError),
])
def test_label_model_constraints(param, value, error):
    """A value of a wrong type is a TypeError, a wrong value of the right type a ValueError; the message starts
    with the parameter's name, whatever the method (checked before L is looked at)."""
    for method in ("triplet", "dawid_skene"):
        params = {"method": method, param: value}
        with pytest.raises(error, match=f"^{param}:"):
            LabelModel(**params).fit(L_SMALL)
        with pytest.raises(error, match=f"^{param}:"):
            LabelModel(**params).fit("not a label matrix")  # the parameters are checked first


@pytest.mark.parametrize("param, value, error", [
    ("class_balance", "uniformly", ValueError), ("class_balance", 2, TypeError),
    ("cardinality", 0, ValueError), ("cardinality", "3", TypeError),
    ("tie_policy", "coin", ValueError), ("tie_policy", ["abstain"], TypeError),
    ("random_state", -3, ValueError), ("random_state", "seed", TypeError),
    ("n_threads", 0, ValueError), ("n_threads", "2", TypeError),
])
def test_majority_vote_constraints(param, value, error):
    from labelfuse.models import MajorityVote

    with pytest.raises(error, match=f"^{param}:"):
        MajorityVote(**{param: value}).fit(L_SMALL)
    assert MajorityVote(class_balance="votes").fit(L_SMALL).class_balance_.shape == (2,)


def test_constraints_are_declared_for_every_parameter():
    from labelfuse.models import MajorityVote

    for cls in (LabelModel, MajorityVote):
        assert set(cls._constraints()) >= set(cls._param_names())


# -- all-or-nothing fit and refit ------------------------------------------------------------------------------------
@pytest.mark.parametrize("failing_fit", [
    dict(params={"method": "triplet", "method_options": {"min_overlap": -1}}, L=None),   # inside fit_triplet
    dict(params={"method": "covariance", "method_options": {"ridge": 0.0}}, L=None),     # inside fit_covariance
    dict(params={"method": "dawid_skene", "cardinality": 2}, L="bad vote"),              # a vote out of range
])
def test_a_failed_fit_leaves_no_fitted_state(failing_fit):
    s = make_label_matrix(2000, 5, 2, random_state=21)
    lm = LabelModel(method="dawid_skene").fit(s.L)
    assert lm.predict_proba(s.L).shape == (2000, 2)
    lm.set_params(**failing_fit["params"])
    L = s.L.copy()
    if failing_fit["L"] == "bad vote":
        L[1234, 3] = 5
    with pytest.raises(ValueError):
        lm.fit(L)
    # not "fitted with the new method and the old tables": not fitted at all
    with pytest.raises(NotFittedError):
        lm.predict_proba(s.L)
    with pytest.raises(NotFittedError):
        lm.refit(s.L)
    assert not any(name.endswith("_") or (name.startswith("_") and not name.startswith("__"))
                   for name in vars(lm)), sorted(vars(lm))
    assert lm.get_params()["method"] == failing_fit["params"]["method"]  # the hyperparameters stay as set


def _snapshot(lm):
    return {"cpt_": lm.cpt_.copy(), "class_balance_": lm.class_balance_.copy(), "n_iter_": lm.n_iter_,
            "_last_L": lm._last_L.copy(), "_stats": lm._stats, "P": lm.predict_proba(lm._last_L)}


def _assert_unchanged(lm, snap):
    assert np.array_equal(lm.cpt_, snap["cpt_"]) and np.array_equal(lm.class_balance_, snap["class_balance_"])
    assert lm.n_iter_ == snap["n_iter_"]
    assert np.array_equal(lm._last_L, snap["_last_L"])  # the private copy of L, edited in place by refit
    assert lm._stats is snap["_stats"] or lm._stats == snap["_stats"]
    assert np.array_equal(lm.predict_proba(snap["_last_L"]), snap["P"])


@pytest.mark.parametrize("method, module, function", [
    ("triplet", "labelfuse.models.triplet", "fit_triplet"),
    ("covariance", "labelfuse.models.covariance", "fit_covariance"),
    ("dawid_skene", "labelfuse.models.dawid_skene", "fit_dawid_skene"),
])
@pytest.mark.parametrize("exception", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.filterwarnings("ignore::labelfuse.ConvergenceWarning")  # (covariance stops at max_sweeps; not the point)
def test_a_failed_refit_leaves_the_model_as_it_was(monkeypatch, method, module, function, exception):
    s = make_label_matrix(3000, 6, 2, random_state=22)
    opts = dict(method=method)
    lm = LabelModel(**opts).fit(s.L)
    snap = _snapshot(lm)
    L_new = edit(edit(s.L, 1, 0, fraction=0.05), 4, 1, fraction=0.05)

    def boom(*args, **kwargs):
        raise exception

    with monkeypatch.context() as patch:
        patch.setattr(sys.modules[module], function, boom)
        with pytest.raises(type(exception)):
            lm.refit(L_new)
    _assert_unchanged(lm, snap)
    # the model still refits, exactly as one whose refit never failed (its private L was restored, so the changed
    # columns are found again, and the warm start is the previous fit)
    lm.refit(L_new)
    reference = LabelModel(**opts).fit(s.L).refit(L_new)
    assert np.array_equal(lm.cpt_, reference.cpt_) and np.array_equal(lm._last_L, L_new)


def test_a_refit_interrupted_between_columns_restores_the_private_copy(monkeypatch):
    from labelfuse.stats import LabelStats

    s = make_label_matrix(3000, 6, 3, random_state=23)
    lm = LabelModel(method="triplet").fit(s.L)
    snap = _snapshot(lm)
    L_new = edit(edit(s.L, 0, 2, fraction=0.05), 5, 1, fraction=0.05)
    original = LabelStats.update_rows  # the statistics delta refit runs per changed column
    calls = []

    def second_call_interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # column 0 is already written into the private L
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LabelStats, "update_rows", second_call_interrupted)
    with pytest.raises(KeyboardInterrupt):
        lm.refit(L_new)
    monkeypatch.undo()
    assert len(calls) == 2
    _assert_unchanged(lm, snap)
    assert np.array_equal(lm._last_L, s.L)


def test_private_copy_uses_the_narrowest_label_dtype():
    from labelfuse._validation import label_dtype

    s = make_label_matrix(500, 4, 3, random_state=24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lf.ConvergenceWarning)  # (classes with no votes: EM crawls; not the point)
        assert LabelModel(method="dawid_skene").fit(s.L)._last_L.dtype == np.int8
        assert LabelModel(method="dawid_skene", cardinality=128).fit(s.L)._last_L.dtype == np.int8
        assert LabelModel(method="dawid_skene", cardinality=200).fit(s.L)._last_L.dtype == np.int16
    # -1..k-1 must fit: int8 up to k = 128 (votes 0..127), int16 up to k = 32768
    assert [label_dtype(k) for k in (2, 128, 129, 32768, 32769)] == [np.int8, np.int8, np.int16, np.int16, np.int32]
    with pytest.raises(ValueError, match="cardinality"):
        label_dtype(1)


def test_refit_checks_parameters_changed_since_the_fit():
    s = make_label_matrix(1000, 4, 2, random_state=25)
    with pytest.warns(lf.FitWarning, match="accuracy not identifiable"):
        lm = LabelModel(method="triplet").fit(s.L)
    snap = _snapshot(lm)
    lm.set_params(method_options=3)
    with pytest.raises(TypeError, match="^method_options:"):
        lm.refit(edit(s.L, 1, 0, fraction=0.1))
    _assert_unchanged(lm, snap)


@pytest.mark.parametrize("method", ["triplet", "covariance"])
def test_binary_posteriors_are_bit_identical_across_dtypes_and_layouts(method):
    # the k = 2 kernel has a fast path for contiguous int8 rows; every other dtype and layout must sum the same
    # tables in the same order (a refit's private copy is column-major, a user's L row-major)
    s = make_label_matrix(3000, 7, 2, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lf.FitWarning)
        lm = LabelModel(method=method).fit(s.L)
    reference = lm.predict_proba(np.ascontiguousarray(s.L, dtype=np.int8))
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        for order in "CF":
            assert np.array_equal(lm.predict_proba(np.asarray(s.L, dtype=dtype, order=order)), reference)
    strided = np.asarray(s.L, dtype=np.int8)[::2]
    assert np.array_equal(lm.predict_proba(strided), reference[::2])
