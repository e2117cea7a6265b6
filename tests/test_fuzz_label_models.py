"""Property-based fuzzing of the label models: MajorityVote and LabelModel (triplet, covariance, Dawid-Skene).

Every public method that takes arrays (fit with each keyword, predict_proba, predict, score, refit, save/load) gets
label matrices in every integer dtype and layout, 0/1 rows, 1 column, degenerate LF sets (duplicates, all abstain,
a class never voted, one-sided LFs), out-of-range votes, wrong cardinalities, bad class balances and gold labels.
The property: either a correct result, or a ValueError/TypeError whose message starts with the name of an argument
that really is wrong (``check_call``); never another exception, a NaN/inf probability or a changed input.

"Correct" is checked against references that do not share the code under test: majority vote against a numpy
vote count, LabelModel posteriors against ``bayes_posterior`` from the model's own fitted tables, predictions
against an independent tie-policy implementation, a fit on the fuzzed layout/dtype against a fit on C-ordered
int64 values, refits against fresh fits, loaded models against the saved ones.
"""
from __future__ import annotations

import os
import tempfile
from typing import Optional

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import labelfuse as lf
from fuzz_inputs import (
    CLASS_BALANCE_KINDS,
    CLASS_BALANCE_VALID,
    LAYOUTS,
    SIGNED,
    LabelInput,
    assert_unchanged,
    cardinality_args,
    check_call,
    class_balance_args,
    effective_cardinality,
    first_invalid_vote,
    label_vectors,
    model_votes,
    n_threads_args,
    passed_as,
    snapshot,
)
from labelfuse.models import METHODS, TIE_POLICIES, BaseLabelModel, NotFittedError
from labelfuse.synthetic import bayes_posterior

# Random votes: the fits' diagnostics (FitWarning) and convention checks fire on many draws; they are tested in
# test_diagnostics.py and test_assumptions.py, here only crashes and contracts are.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning", "ignore::labelfuse.ConventionWarning")

MODELS = ("majority",) + METHODS
# Documented behaviour these oracles rely on (label_model.py / base.py / _params.py docstrings):
DEFAULT_ABSTENTIONS = {"triplet": "ignore", "covariance": "ignore", "dawid_skene": "model"}
LOG_FLOOR = 1e-12       # FitResult.log_tables clips tables and prior here before the posterior takes logs
TIE_TOLERANCE = 1e-9    # classes this close to a row's maximum are tied
REFERENCE_MAX_CELLS = 200_000  # n * m * k above which the slow numpy posterior is skipped
REFIT_LAYOUTS = tuple(x for x in LAYOUTS if x != "broadcast")
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "brier", "log_loss")


# ---- problems and hyperparameters --------------------------------------------------------------------------------
@st.composite
def model_problem(draw, model: str, min_rows: int = 0, allow_invalid: bool = True):
    """(k, V): int64 votes (n, m) of a size the model fits in milliseconds."""
    big_k = [128, 300] if model in ("majority", "triplet") else []
    k = draw(st.one_of(st.integers(2, 5), st.sampled_from([2, 3, 17] + big_k)))
    n = draw(st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 60), st.sampled_from([257, 2000])))
    m = draw(st.one_of(st.just(1), st.integers(1, 8), st.sampled_from([16, 17])))
    n = max(n, min_rows)
    if model == "covariance":
        m = min(m, max(1, 100 // k))  # a sweep costs (m k)^2 k
    if k > 17:
        n = min(n, 300)
    return k, draw(model_votes(n, m, k, allow_invalid))


def _choice(draw, good, bad, p_bad: Optional[int] = 6):
    """(value, is_bad): one of ``good``, or with probability 1/p_bad one of ``bad`` (never when p_bad is None)."""
    if bad and p_bad and draw(st.integers(0, p_bad - 1)) == 0:
        return draw(st.sampled_from(bad)), True
    return draw(st.sampled_from(good)), False


BAD_SEEDS = ["x", -1, 1.5]
TRIPLET_OPTIONS = ([{}, {"min_overlap": 0}, {"aggregate": "median"}, {"one_sided": "symmetric"}, {"dedupe": False},
                    {"fallback_accuracy": 0.6, "max_accuracy": 0.99}, {"min_denominator_z": 0.0}],
                   [{"min_overlap": -1}, {"aggregate": "mode"}, {"fallback_accuracy": 0.0},
                    {"min_denominator_z": np.nan}, {"max_accuracy": 1.5}])
COVARIANCE_OPTIONS = ([{}, {"ridge": 0.1}, {"max_sweeps": 3, "max_outer": 1}, {"clamp": False}, {"dedupe": False},
                       {"first_moment_weight": 0.0}, {"tol": 1e-3}],
                      [{"ridge": 0.0}, {"max_sweeps": 0}, {"tol": np.nan}, {"first_moment_weight": -1.0}])
DAWID_SKENE_OPTIONS = ([{}, {"accelerate": False}], [{"max_iter": 5}, {"init": None}, {"n_threads": 2}])
OPTIONS = {"triplet": TRIPLET_OPTIONS, "covariance": COVARIANCE_OPTIONS, "dawid_skene": DAWID_SKENE_OPTIONS}
NOT_OPTIONS = [{"bogus": 1}, 3, ["dedupe"], {1: 2}]


@st.composite
def label_model_params(draw, method: str, allow_bad: bool = True):
    """(LabelModel hyperparameters except cardinality / class_balance, names of the bad ones, option keys)."""
    bad = set()
    odds = (lambda p: p) if allow_bad else (lambda p: None)
    params = {"method": method}
    params["method"], is_bad = _choice(draw, [method], ["Triplet", "snorkel", "", None, 3], odds(15))
    if is_bad:
        bad.add("method")
    params["abstentions"], is_bad = _choice(draw, [None, None, "model", "ignore"], ["bogus", 1, True], odds(10))
    if is_bad:
        bad.add("abstentions")
    params["tie_policy"], is_bad = _choice(draw, list(TIE_POLICIES), ["bogus", None, "Abstain"], odds(10))
    if is_bad:
        bad.add("tie_policy")
    params["random_state"], is_bad = _choice(draw, [None, 0, 7, np.int64(3)], BAD_SEEDS, odds(10))
    if is_bad:
        bad.add("random_state")
    params["n_threads"], is_bad = draw(n_threads_args(allow_bad))
    if is_bad:
        bad.add("n_threads")
    if method == "dawid_skene":
        for name, good, wrong in (("max_iter", [100, 100, 0, 1, 3, np.int64(20)], [-1, 2.5, True, "5"]),
                                  ("tol", [1e-8, 1e-8, 0.0, 1e-3, np.float32(1e-4)], [np.nan, -1.0, "x", np.inf]),
                                  ("smoothing", [0.01, 0.01, 0.0, 1.0], [np.nan, -0.1, np.inf, None])):
            params[name], is_bad = _choice(draw, good, wrong, odds(12))
            if is_bad:
                bad.add(name)
    good, wrong = OPTIONS[method]
    options, is_bad = _choice(draw, [None, None, None] + good, wrong + NOT_OPTIONS, odds(5))
    params["method_options"] = options
    keys = []
    if is_bad:
        bad.add("method_options")
        keys = [key for key in options if isinstance(key, str)] if isinstance(options, dict) else []
    return params, bad, keys


@st.composite
def majority_params(draw, allow_bad: bool = True):
    bad = set()
    params = {}
    params["tie_policy"], is_bad = _choice(draw, list(TIE_POLICIES), ["bogus", None], 10 if allow_bad else None)
    if is_bad:
        bad.add("tie_policy")
    params["random_state"], is_bad = _choice(draw, [None, 0, 7, np.int64(3)], BAD_SEEDS, 10 if allow_bad else None)
    if is_bad:
        bad.add("random_state")
    params["n_threads"], is_bad = draw(n_threads_args(allow_bad))
    if is_bad:
        bad.add("n_threads")
    return params, bad


@st.composite
def balance_arguments(draw, k: int, model: str, allow_bad: bool = True):
    """Where a class balance comes from, as (hyperparameter value, fit keywords, expected balance or None, bad).

    Precedence (documented): fit's class_balance, then Y_dev, then the class_balance hyperparameter."""
    where = draw(st.sampled_from(["none", "none", "fit", "hyper", "dev", "dev", "dev+hyper"] + ["fit+dev"] * allow_bad))
    kinds = CLASS_BALANCE_KINDS if allow_bad else CLASS_BALANCE_VALID + ("zero",) * (model == "majority")
    if model == "majority" and draw(st.integers(0, 4)) == 0:
        where = "votes"
    hyper, fit_kwargs, expected, bad = None, {}, None, set()

    def balance(value, kind):
        # a class with probability 0 is fine as majority vote's prior, but a label model could never predict it
        # (and the moment methods divide by it): LabelModel refuses it, whatever the method
        ok = kind in CLASS_BALANCE_VALID or (kind == "zero" and model == "majority") or (
            model == "majority" and where == "hyper" and isinstance(value, str) and value == "votes")
        if not ok:
            bad.add("class_balance")
            return None
        if isinstance(value, str):
            return None if value == "votes" else np.full(k, 1.0 / k)
        p = np.asarray(value, dtype=np.float64)
        return p / p.sum()

    if where in ("fit", "hyper", "fit+dev"):
        value, kind = draw(class_balance_args(k, kinds))
        expected = balance(value, kind)
        if where == "hyper":
            hyper = value
        else:
            fit_kwargs["class_balance"] = value
    if where == "votes":
        hyper = "votes"
    if where == "dev+hyper":
        hyper = draw(st.sampled_from(["uniform", np.full(k, 1.0 / k)]))
    if where in ("dev", "dev+hyper", "fit+dev"):
        n_dev = draw(st.one_of(st.integers(0 if allow_bad else 1, 30), st.just(1)))
        Y_dev, _, _ = draw(label_vectors(n_dev, k, allow_bad))
        fit_kwargs["Y_dev"] = Y_dev
        y = np.asarray(Y_dev)
        if (y.ndim == 1 and y.size and y.dtype.kind in "iu" and y.min() >= 0 and y.max() < k):
            expected = (np.bincount(y.astype(np.int64), minlength=k) + 1.0) / (y.size + k)  # add-one smoothed
        else:
            bad.add("Y_dev")
    if where == "fit+dev":
        bad.add("class_balance")  # both given
    return hyper, fit_kwargs, expected, bad


# ---- references ----------------------------------------------------------------------------------------------------
def vote_counts(values: np.ndarray, k: int) -> np.ndarray:
    return np.stack([(values == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64) if k else None


def reference_majority(values: np.ndarray, k: int, balance: np.ndarray):
    """(P, rows without votes): each row's vote shares; the class balance where no LF voted."""
    counts = vote_counts(values, k)
    votes = counts.sum(axis=1)
    empty = votes == 0
    P = np.where(empty[:, None], balance[None, :], counts / np.maximum(votes, 1)[:, None])
    return P, empty


def reference_posterior(model, values: np.ndarray) -> np.ndarray:
    """p(y | votes) from the fitted tables (floored as documented); with abstentions="ignore" an abstention is
    the same factor for every class."""
    cpt = np.clip(model.cpt_, LOG_FLOOR, 1.0)
    mode = model.abstentions or DEFAULT_ABSTENTIONS[model.method]
    if mode == "ignore":
        cpt[:, 0, :] = 1.0
    return bayes_posterior(values, cpt, np.clip(model.class_balance_, LOG_FLOOR, 1.0))


def assert_probabilities(P, n: int, k: int) -> None:
    assert isinstance(P, np.ndarray) and P.shape == (n, k) and P.dtype == np.float64, (type(P), getattr(P, "shape", 0))
    assert np.all(np.isfinite(P)), "non-finite probability"
    assert np.all(P >= 0), "negative probability"
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)


def tied_classes(P: np.ndarray, all_tied=None) -> np.ndarray:
    tied = P >= P.max(axis=1, keepdims=True) - TIE_TOLERANCE if P.shape[0] else np.zeros(P.shape, bool)
    if all_tied is not None:
        tied[all_tied] = True  # majority vote: a row without votes is a tie between all classes
    return tied


def assert_tie_policy(pred, tied: np.ndarray, policy: str, prior: np.ndarray) -> None:
    """pred follows the documented tie policy: the only top class; for ties -1 ("abstain"), the tied class with
    the largest prior, then the smallest index ("prior"), or any tied class ("random")."""
    n, k = tied.shape
    assert isinstance(pred, np.ndarray) and pred.shape == (n,) and pred.dtype == np.int64
    for i in range(n):
        top = np.flatnonzero(tied[i])
        if len(top) == 1:
            assert pred[i] == top[0], (i, pred[i], top)
        elif policy == "abstain":
            assert pred[i] == -1, (i, pred[i])
        elif policy == "prior":
            best = max(top, key=lambda c: (prior[c], -c))
            assert pred[i] == best, (i, pred[i], top, prior[top])
        else:
            assert pred[i] in top, (i, pred[i], top)


def check_fitted_tables(model, values: np.ndarray, k: int, expected_balance) -> None:
    m = values.shape[1]
    cpt, balance = model.cpt_, model.class_balance_
    assert model.cardinality_ == k and model.n_lfs_ == m
    np.testing.assert_array_equal(model.classes_, np.arange(k))
    assert cpt.shape == (m, k + 1, k) and np.all(np.isfinite(cpt))
    assert np.all(cpt >= 0) and np.all(cpt <= 1 + 1e-12)
    np.testing.assert_allclose(cpt.sum(axis=1), 1.0, atol=1e-9, err_msg="P(vote | y) columns must sum to 1")
    assert balance.shape == (k,) and np.all(np.isfinite(balance)) and np.all(balance >= 0)
    np.testing.assert_allclose(balance.sum(), 1.0, atol=1e-9)
    if expected_balance is not None:
        np.testing.assert_allclose(balance, expected_balance, rtol=1e-9, atol=1e-12)
    coverage = (values >= 0).mean(axis=0)
    np.testing.assert_allclose(model.coverage_, coverage, atol=1e-12)
    acc = model.accuracies_
    assert acc.shape == (m,)
    # documented: NaN for an LF that never votes in L, or never under the fitted model (e.g. a covariance fit on a
    # handful of rows whose clamp zeroes an LF's vote rows)
    silent_in_model = ((1.0 - cpt[:, 0, :]) * balance[None, :]).sum(axis=1) <= 1e-12
    np.testing.assert_array_equal(np.isnan(acc), (coverage == 0) | silent_in_model)
    known = acc[~np.isnan(acc)]
    assert np.all((known >= -1e-12) & (known <= 1 + 1e-12))


def check_label_model_outputs(model, L, values: np.ndarray) -> np.ndarray:
    """predict_proba against the numpy posterior, predict against every tie policy; returns P."""
    n, m = values.shape
    k = model.cardinality_
    P = model.predict_proba(L)
    assert_probabilities(P, n, k)
    if n * m * k <= REFERENCE_MAX_CELLS:
        np.testing.assert_allclose(P, reference_posterior(model, values), rtol=1e-9, atol=1e-12)
    tied = tied_classes(P)
    assert_tie_policy(model.predict(L), tied, model.tie_policy, model.class_balance_)
    for policy in TIE_POLICIES:
        assert_tie_policy(model.predict(L, tie_policy=policy), tied, policy, model.class_balance_)
    return P


def check_majority_outputs(model, L, values: np.ndarray) -> np.ndarray:
    n = values.shape[0]
    k = model.cardinality_
    P = model.predict_proba(L)
    assert_probabilities(P, n, k)
    want, empty = reference_majority(values, k, model.class_balance_)
    np.testing.assert_allclose(P, want, rtol=1e-12, atol=1e-15)
    tied = tied_classes(want, empty)
    assert_tie_policy(model.predict(L), tied, model.tie_policy, model.class_balance_)
    for policy in TIE_POLICIES:
        pred = model.predict(L, tie_policy=policy)
        assert_tie_policy(pred, tied, policy, model.class_balance_)
        if policy == "random" and model.random_state is not None:  # a fresh generator per call
            np.testing.assert_array_equal(pred, model.predict(L, tie_policy=policy))
    return P


def check_outputs(model, L, values):
    if isinstance(model, lf.MajorityVote):
        return check_majority_outputs(model, L, values)
    return check_label_model_outputs(model, L, values)


# ---- fit -------------------------------------------------------------------------------------------------------------
def _L_problems(inp: LabelInput, cardinality, card_bad: bool):
    """(names wrong about L / cardinality, the effective cardinality or None)."""
    bad = set()
    n, _ = inp.shape
    if not inp.signed_int or n == 0:
        return {"L"}, None
    if card_bad:
        return bad, None
    k_eff = effective_cardinality(inp.values, cardinality)
    if k_eff > 2**31:  # explicit, or inferred from a stray huge vote: refused before anything is allocated
        return {"cardinality", "L"}, None
    if first_invalid_vote(inp.values, k_eff) is not None:
        bad.add("L")
    return bad, k_eff


@given(st.data())
def test_label_model_fit(data):
    draw = data.draw
    method = draw(st.sampled_from(METHODS))
    any_input = draw(st.sampled_from([False, False, True]))  # else only valid arguments: the fit really runs
    k, V = draw(model_problem(method, min_rows=0 if any_input else 1, allow_invalid=any_input))
    inp = draw(passed_as(V, allow_bad_dtype=any_input))
    params, bad, option_keys = draw(label_model_params(method, any_input))
    cardinality, card_bad, _ = draw(cardinality_args(k, any_input))
    if card_bad:
        bad.add("cardinality")
    L_bad, k_eff = _L_problems(inp, cardinality, card_bad)
    bad |= L_bad
    if method == "covariance" and k_eff is not None:
        assume(k_eff * V.shape[1] <= 300)  # a stray vote of 127 makes k = 128: valid, but minutes per fit
    hyper, fit_kwargs, expected_balance, balance_bad = draw(balance_arguments(k_eff if k_eff else k, method,
                                                                              any_input))
    if k_eff is not None or not bad:
        bad |= balance_bad
    else:  # the balance is checked against a cardinality that is not known: only its own type errors count
        option_keys = option_keys + ["class_balance", "Y_dev"]
    model = lf.LabelModel(cardinality=cardinality, class_balance=hyper, **params)
    snaps = inp.snapshot() + snapshot(hyper, *fit_kwargs.values())

    def verify(fitted):
        assert fitted is model
        check_fitted_tables(model, inp.values, k_eff, expected_balance)
        check_label_model_outputs(model, inp.L, inp.values)
        # the fit does not depend on the layout, dtype or thread count of L
        plain = lf.LabelModel(**{**model.get_params(), "n_threads": 1})
        plain.fit(np.ascontiguousarray(inp.values, dtype=np.int64), **fit_kwargs)
        np.testing.assert_allclose(model.cpt_, plain.cpt_, rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.class_balance_, plain.class_balance_, rtol=0, atol=1e-12)

    check_call(lambda: model.fit(inp.L, **fit_kwargs), bad, verify, also_named=option_keys, label=f"fit {method}")
    assert_unchanged(snaps)


@given(st.data())
def test_majority_vote_fit(data):
    draw = data.draw
    any_input = draw(st.sampled_from([False, False, True]))
    k, V = draw(model_problem("majority", min_rows=0 if any_input else 1, allow_invalid=any_input))
    inp = draw(passed_as(V, allow_bad_dtype=any_input))
    params, bad = draw(majority_params(any_input))
    cardinality, card_bad, _ = draw(cardinality_args(k, any_input))
    if card_bad:
        bad.add("cardinality")
    L_bad, k_eff = _L_problems(inp, cardinality, card_bad)
    bad |= L_bad
    hyper, fit_kwargs, expected_balance, balance_bad = draw(balance_arguments(k_eff if k_eff else k, "majority",
                                                                              any_input))
    also = []
    if k_eff is not None or not bad:
        bad |= balance_bad
    else:
        also = ["class_balance", "Y_dev"]
    model = lf.MajorityVote(cardinality=cardinality, class_balance=hyper, **params)
    snaps = inp.snapshot() + snapshot(hyper, *fit_kwargs.values())

    def verify(fitted):
        assert fitted is model and model.cardinality_ == k_eff and model.n_lfs_ == V.shape[1]
        want = expected_balance
        if want is None:
            if isinstance(hyper, str) and hyper == "votes" and "Y_dev" not in fit_kwargs:
                shares, empty = reference_majority(inp.values, k_eff, np.zeros(k_eff))
                want = shares[~empty].mean(axis=0) if (~empty).any() else np.full(k_eff, 1.0 / k_eff)
            else:
                want = np.full(k_eff, 1.0 / k_eff)
        np.testing.assert_allclose(model.class_balance_, want, rtol=1e-9, atol=1e-12)
        check_majority_outputs(model, inp.L, inp.values)

    check_call(lambda: model.fit(inp.L, **fit_kwargs), bad, verify, also_named=also, label="fit")
    assert_unchanged(snaps)


# ---- predict / score on other votes --------------------------------------------------------------------------------
@st.composite
def fitted_models(draw, kinds=MODELS):
    """(model fitted on valid votes, the votes, k)."""
    kind = draw(st.sampled_from(kinds))
    k, V = draw(model_problem(kind, min_rows=1, allow_invalid=False))
    cardinality = draw(st.sampled_from([None, k, np.int64(k)]))
    k_eff = effective_cardinality(V, cardinality)
    tie_policy = draw(st.sampled_from(TIE_POLICIES))
    random_state = draw(st.sampled_from([None, 0, 5, np.int64(9)]))
    fit_kwargs = {}
    if kind == "majority":
        balance = draw(st.sampled_from([None, "votes", "uniform", "given"]))
        if balance == "given":
            balance = draw(class_balance_args(k_eff, CLASS_BALANCE_VALID + ("zero",)))[0]
        model = lf.MajorityVote(cardinality, balance, tie_policy=tie_policy, random_state=random_state)
    else:
        good, _ = OPTIONS[kind]
        params = dict(cardinality=cardinality, method=kind, tie_policy=tie_policy, random_state=random_state,
                      abstentions=draw(st.sampled_from([None, "model", "ignore"])),
                      method_options=draw(st.sampled_from([None] + good)))
        if kind == "dawid_skene":
            params.update(max_iter=draw(st.sampled_from([100, np.int64(30)])), tol=draw(st.sampled_from([1e-8, 1e-5])),
                          smoothing=draw(st.sampled_from([0.01, np.float64(0.5), 0.0])))
        model = lf.LabelModel(**params)
    where = draw(st.sampled_from(["none", "fit", "dev"]))
    if where == "fit":
        fit_kwargs["class_balance"] = draw(class_balance_args(k_eff, CLASS_BALANCE_VALID))[0]
    elif where == "dev":
        fit_kwargs["Y_dev"] = np.random.default_rng(draw(st.integers(0, 99))).integers(0, k_eff, 7)
    if kind == "covariance":
        assume(k_eff * V.shape[1] <= 300)
    model.fit(V.astype(np.int8) if k_eff < 128 else V, **fit_kwargs)
    return model, V, k_eff, fit_kwargs


METRICS_ARGS = (["accuracy", ("accuracy",), ["brier", "log_loss"], list(METRIC_NAMES), "f1", ("precision", "recall")],
                ["bogus", [], [["accuracy"]], ["accuracy", "auc"], 3, None])


@given(st.data())
def test_predict_and_score_on_new_votes(data):
    draw = data.draw
    model, V_fit, k, _ = draw(fitted_models())
    m = V_fit.shape[1]
    any_input = draw(st.sampled_from([False, False, True]))
    shape = draw(st.sampled_from(["same", "same", "same", "other_m", "more_classes"])) if any_input else "same"
    n2 = draw(st.one_of(st.sampled_from([0, 1]), st.integers(0, 60), st.just(2000)))
    m2 = m if shape != "other_m" else draw(st.sampled_from([x for x in range(1, m + 4) if x != m]))
    k2 = k + draw(st.integers(1, 3)) if shape == "more_classes" else k
    n2 = min(n2, 300) if k > 17 else n2
    inp = draw(passed_as(draw(model_votes(n2, m2, k2, any_input)), allow_bad_dtype=any_input))
    bad_L = set()
    if not inp.signed_int or m2 != m or first_invalid_vote(inp.values, k) is not None:
        bad_L = {"L"}
    snaps = inp.snapshot()

    def verify_proba(P):
        assert_probabilities(P, n2, k)
        check_outputs(model, inp.L, inp.values)

    kind = "majority" if isinstance(model, lf.MajorityVote) else model.method
    check_call(lambda: model.predict_proba(inp.L), bad_L, verify_proba, label=f"predict_proba {kind}")

    tie, tie_bad = _choice(draw, [None, *TIE_POLICIES], ["bogus", ["abstain"]], 8 if any_input else None)
    bad_tie = {"tie_policy"} if tie_bad else set()
    policy = model.tie_policy if tie is None else tie

    def verify_predict(pred):
        P = model.predict_proba(inp.L)
        empty = (inp.values < 0).all(axis=1) if isinstance(model, lf.MajorityVote) else None
        assert_tie_policy(pred, tied_classes(P, empty), policy, model.class_balance_)

    check_call(lambda: model.predict(inp.L, tie_policy=tie), bad_L | bad_tie, verify_predict, label="predict")

    Y, Y_values, y_kind = draw(label_vectors(n2, k, any_input))
    metrics, metrics_bad = _choice(draw, *METRICS_ARGS, 6 if any_input else None)
    bad = bad_L | bad_tie | ({"Y"} if y_kind != "ok" else set()) | ({"metrics"} if metrics_bad else set())
    if n2 == 0:
        bad |= {"L", "Y"}  # nothing to score
    names = [] if metrics_bad else [metrics] if isinstance(metrics, str) else list(metrics)

    def verify_score(out):
        assert sorted(out) == sorted(set(names))
        y = np.asarray(Y_values, dtype=np.int64)
        P = model.predict_proba(inp.L)
        for name, value in out.items():
            assert isinstance(value, float) and np.isfinite(value), (name, value)
            if name == "accuracy" and (policy != "random" or model.random_state is not None):
                assert value == np.mean(model.predict(inp.L, tie_policy=tie) == y)
            elif name == "brier":
                sq = ((P - np.eye(k)[y]) ** 2).sum(axis=1).mean()
                assert np.isclose(value, sq / 2 if k == 2 else sq, rtol=1e-12)
            elif name == "log_loss":
                assert np.isclose(value, -np.mean(np.log(np.clip(P[np.arange(n2), y], 1e-15, 1))), rtol=1e-12)
            else:
                assert 0.0 <= value <= 1.0

    def scored():
        # the scoring contract: the count of abstained rows is reported, and warned about exactly when non-zero
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = model.score(inp.L, Y, metrics=metrics, tie_policy=tie)
        P = model.predict_proba(inp.L)
        empty = (inp.values < 0).all(axis=1) if isinstance(model, lf.MajorityVote) else None
        tied = lf.metrics.tied_rows(P, policy) if P.shape[0] else np.zeros(P.shape, bool)  # ("hash": WRENCH's 1e-5)
        if empty is not None:
            tied[empty] = True  # majority vote: a row without votes is a tie between all classes
        assert out.n_abstained == int((tied.sum(axis=1) > 1).sum())
        assert [w.category for w in caught] == ([lf.AbstentionWarning] if out.n_abstained else [])
        return out

    snaps += snapshot(Y)
    check_call(scored, bad, verify_score, label="score")
    assert_unchanged(snaps)


# ---- save / load -----------------------------------------------------------------------------------------------------
def _same_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
        else:
            assert x == y, (name, x, y)


@given(st.data())
def test_save_load_round_trip(data):
    draw = data.draw
    model, V, k, _ = draw(fitted_models())
    m = V.shape[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.lfm")
        model.save(path)
        loader = draw(st.sampled_from(["module", "class", "base"]))
        loaded = {"module": lf.models.load, "class": type(model).load, "base": BaseLabelModel.load}[loader](path)
        other = lf.LabelModel if isinstance(model, lf.MajorityVote) else lf.MajorityVote
        with pytest.raises(TypeError, match=r"^path\b"):
            other.load(path)
    assert type(loaded) is type(model)
    _same_params(model.get_params(), loaded.get_params())
    for name in type(model)._fitted_arrays:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name), err_msg=name)
    n2 = draw(st.one_of(st.integers(0, 40), st.just(2000)))
    n2 = min(n2, 300) if k > 17 else n2
    inp = draw(passed_as(draw(model_votes(n2, m, k, allow_invalid=False)), allow_bad_dtype=False,
                         allow_list=n2 > 0, signed=[t for t in SIGNED if np.iinfo(t).max >= k]))  # ([] is no matrix)
    np.testing.assert_array_equal(loaded.predict_proba(inp.L), model.predict_proba(inp.L))
    for policy in TIE_POLICIES:
        if policy != "random" or model.random_state is not None:
            np.testing.assert_array_equal(loaded.predict(inp.L, tie_policy=policy),
                                          model.predict(inp.L, tie_policy=policy))
    check_outputs(loaded, inp.L, inp.values)
    if isinstance(loaded, lf.LabelModel):
        with pytest.raises(NotFittedError):  # a loaded model holds no training data to refit from
            loaded.refit(V)


# ---- refit -------------------------------------------------------------------------------------------------------
@given(st.data())
def test_label_model_refit(data):
    draw = data.draw
    model, V, k, fit_kwargs = draw(fitted_models(METHODS))
    n, m = V.shape
    params = model.get_params()
    before = model.predict_proba(V)
    fixed_balance = model.class_balance_.copy() if fit_kwargs else None  # stays fixed through refits
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    any_input = draw(st.sampled_from([False, False, True]))
    changed = sorted(set(draw(st.lists(st.integers(0, m - 1), max_size=3))))
    V_new = V.copy()
    for j in changed:
        rows = rng.random(n) < draw(st.sampled_from([0.05, 0.5, 1.0]))
        V_new[rows, j] = rng.integers(-1, k, int(rows.sum()))
    bad = set()
    shape = draw(st.sampled_from(["same"] * 8 + ["rows", "cols"])) if any_input else "same"
    if shape == "rows":
        V_new = np.vstack([V_new, V_new[:1]]) if draw(st.booleans()) or n == 1 else V_new[:-1]
        bad.add("L_new")
    elif shape == "cols":
        V_new = V_new[:, :-1] if m > 1 else np.hstack([V_new, V_new])
        bad.add("L_new")
    if changed and shape == "same" and any_input and draw(st.integers(0, 5)) == 0:
        V_new[rng.integers(0, n), changed[0]] = draw(st.sampled_from([-2, k, k + 5, -128]))
    # (not broadcast: repeating row 0 would change other columns than `changed`)
    inp = draw(passed_as(V_new, allow_bad_dtype=any_input, layouts=REFIT_LAYOUTS))
    if not inp.signed_int or first_invalid_vote(inp.values, k) is not None:  # (a narrow dtype wraps votes)
        bad.add("L_new")
    if inp.signed_int and shape == "same":  # the columns that really differ, as passed
        V_new = inp.values
        changed = np.flatnonzero((V_new != V).any(axis=0)).tolist()
    superset = sorted(set(changed) | set(draw(st.lists(st.integers(0, m - 1), max_size=2))))
    columns, columns_bad = _choice(
        draw, [None, None, changed, superset, np.array(superset, dtype=np.int32), tuple(superset)],
        [[m], [-1], [0.5], [[0]], "a", m + 3], 6 if any_input else None)
    if columns_bad:
        bad.add("columns")
    snaps = inp.snapshot() + snapshot(columns)

    def fresh(values):  # (the refit keeps the fitted cardinality: a fresh fit must not infer another)
        return lf.LabelModel(**{**params, "cardinality": k}).fit(np.ascontiguousarray(values, dtype=np.int64),
                                                                  **fit_kwargs)

    def verify(result):
        assert result is model
        check_fitted_tables(model, V_new, k, fixed_balance)
        check_label_model_outputs(model, inp.L, inp.values)
        if model.method != "dawid_skene":  # documented: exactly a fresh fit's result
            again = fresh(V_new)
            np.testing.assert_allclose(model.cpt_, again.cpt_, rtol=0, atol=1e-12)
            np.testing.assert_allclose(model.class_balance_, again.class_balance_, rtol=0, atol=1e-12)

    exc = check_call(lambda: model.refit(inp.L, columns=columns), bad, verify, label=f"refit {model.method}")
    assert_unchanged(snaps)
    if exc is not None:  # a refused refit leaves the model as it was
        np.testing.assert_array_equal(model.predict_proba(V), before)
    if model.method != "dawid_skene":  # back to the original votes: the original fit (the private copy is right)
        model.refit(V)
        np.testing.assert_allclose(model.predict_proba(V), before, rtol=1e-9, atol=1e-12)


# ---- unfitted ----------------------------------------------------------------------------------------------------
@given(st.sampled_from(MODELS), st.data())
def test_unfitted_models_say_so(kind, data):
    model = lf.MajorityVote() if kind == "majority" else lf.LabelModel(method=kind)
    k, V = data.draw(model_problem(kind, min_rows=1, allow_invalid=False))
    calls = [lambda: model.predict_proba(V), lambda: model.predict(V), lambda: model.score(V, np.zeros(len(V), int)),
             lambda: model.classes_, lambda: model.save(os.devnull)]
    if kind != "majority":
        calls.append(lambda: model.refit(V))
    for call in calls:
        with pytest.raises(NotFittedError, match="not fitted"):
            call()


# ---- install_fit (a fit made elsewhere, e.g. on a Dask cluster) -----------------------------------------------------
@st.composite
def fit_results(draw, m: int, k: int, allow_bad: bool = True):
    """(FitResult-like, is_bad): tables from the generative model, sometimes broken."""
    from labelfuse.models import FitResult
    from labelfuse.synthetic import conditional_table

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cpt = conditional_table(rng.uniform(1.0 / k, 0.95, m), rng.uniform(0.0, 1.0, m), k)
    balance = rng.dirichlet(np.ones(k))
    kind = draw(st.sampled_from(["ok"] * 8 + ["lfs", "classes", "nan", "negative", "unnormalised", "balance_len",
                                              "balance_sum", "balance_nan", "strings", "info", "not_a_result"]
                                 * allow_bad))
    # (never the shape of the wrong n_lfs = m + 1 or cardinality = k + 1 the test may pass alongside)
    if kind == "lfs":
        cpt = cpt[:-1] if m > 1 else np.concatenate([cpt, cpt, cpt])
    elif kind == "classes":
        cpt = conditional_table(np.full(m, 0.7), np.full(m, 0.5), k + 2)
    elif kind == "nan":
        cpt[draw(st.integers(0, m - 1)), 0, 0] = np.nan
    elif kind == "negative":
        cpt[draw(st.integers(0, m - 1)), 1, 0] = -0.1
    elif kind == "unnormalised":
        cpt = cpt * 1.5
    elif kind == "balance_len":
        balance = np.append(balance, 0.0)
    elif kind == "balance_sum":
        balance = balance * 2
    elif kind == "balance_nan":
        balance[0] = np.nan
    elif kind == "strings":
        cpt = np.full(cpt.shape, "x")
    result = FitResult(cpt, balance, {} if kind != "info" else ["not", "a", "dict"])
    if kind == "not_a_result":
        result = {"cpt": cpt, "class_balance": balance}
    return result, kind != "ok"


@given(st.data())
def test_install_fit(data):
    draw = data.draw
    method = draw(st.sampled_from(METHODS))
    k, V = draw(model_problem(method, min_rows=1, allow_invalid=False))
    n, m = V.shape
    if k > 17:
        k = 17
        V = np.minimum(V, 16)
    any_input = draw(st.sampled_from([False, False, True]))
    result, result_bad = draw(fit_results(m, k, any_input))
    bad = {"result"} if result_bad else set()
    cardinality, card_bad = _choice(draw, [k, np.int64(k)], [k + 1, 1, "2", True, None], 8 if any_input else None)
    n_lfs, lfs_bad = _choice(draw, [m, np.int64(m)], [m + 1, 0, True, 1.5], 8 if any_input else None)
    also = []
    if card_bad or lfs_bad:
        bad |= {"result"} | ({"cardinality"} if card_bad else set()) | ({"n_lfs"} if lfs_bad else set())
        also = ["stats", "L"]  # (they no longer agree with the wrong size either)
    stats_kind = draw(st.sampled_from(["none", "none", "ok", "ok"] + ["other_lfs", "grouped", "not_stats"] * any_input))
    covariance = method == "covariance"
    stats = {"none": None, "ok": lf.label_stats(V, k, overlap_matrix=covariance),
             "other_lfs": lf.label_stats(np.hstack([V, V]), k, overlap_matrix=covariance),
             "grouped": lf.label_stats(V, k, groups=np.arange(n) % 2, n_groups=2, overlap_matrix=covariance),
             "not_stats": {"class_counts": np.zeros((1, m, k))}}[stats_kind]
    if stats_kind in ("other_lfs", "grouped", "not_stats"):
        bad.add("stats")
    L_kind = draw(st.sampled_from(["none", "ok", "ok", "other_votes"] + ["wide", "bad_vote"] * any_input))
    L = None
    if L_kind != "none":
        W = {"ok": V, "wide": np.hstack([V, V]), "bad_vote": np.where(np.arange(m)[None, :] == 0, k, V),
             "other_votes": np.where(V == 0, -1, 0)}[L_kind]
        L = draw(passed_as(W, allow_bad_dtype=False, layouts=REFIT_LAYOUTS, signed=[t for t in SIGNED if
                                                                                    np.iinfo(t).max >= k]))
        if L_kind in ("wide", "bad_vote") or (L_kind == "other_votes" and stats is not None and
                                               lf.label_stats(W, k, overlap_matrix=covariance) != stats):
            bad.add("L")
    balance, balance_kind = draw(class_balance_args(k, CLASS_BALANCE_KINDS if any_input else CLASS_BALANCE_VALID)) \
        if draw(st.booleans()) else (None, "ok")
    if balance_kind not in CLASS_BALANCE_VALID:
        bad.add("class_balance")
    model = lf.LabelModel(method=method)
    snaps = snapshot(V, balance) + (L.snapshot() if L is not None else [])

    def verify(installed):
        assert installed is model and model.cardinality_ == k and model.n_lfs_ == m
        np.testing.assert_allclose(model.cpt_, result.cpt, rtol=0, atol=0)
        P = check_label_model_outputs(model, V, V)
        assert_probabilities(P, n, k)
        if stats is not None or L is not None:
            values = V if L is None else L.values
            np.testing.assert_allclose(model.coverage_, (values >= 0).mean(axis=0), atol=1e-12)
        else:
            assert model.coverage_.shape == (m,)
        if L is None:
            with pytest.raises(NotFittedError):
                model.refit(V)
            return
        V_new = L.values.copy()
        V_new[:, 0] = np.where(V_new[:, 0] >= 0, -1, 0)
        model.refit(V_new)  # re-estimates from the statistics of the installed votes, updated
        again = lf.LabelModel(k, method=method).fit(V_new, class_balance=balance)
        if method != "dawid_skene":
            np.testing.assert_allclose(model.cpt_, again.cpt_, rtol=0, atol=1e-12)

    check_call(lambda: model.install_fit(result, stats, cardinality, n_lfs, class_balance=balance,
                                         L=None if L is None else L.L), bad, verify, also_named=also,
               label=f"install_fit {method}")
    assert_unchanged(snaps)
