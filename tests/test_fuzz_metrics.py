"""Property-based fuzzing of labelfuse.metrics: a result equal to a plain per-class numpy reference, or a
ValueError/TypeError naming the wrong argument (never a MemoryError from a huge label, a NaN score, or a change to the
caller's arrays)."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import SIGNED, UNSIGNED, assert_unchanged, check_call, snapshot
from labelfuse import metrics

LABEL_FUNCTIONS = ("precision", "recall", "f1")


def reference_per_class(t, p, k, name, average):
    """The textbook definitions over the classes seen in y_true or y_pred."""
    scores = {}
    for c in sorted(set(t.tolist()) | set(p[p >= 0].tolist())):
        tp = np.sum((t == c) & (p == c))
        predicted, actual = np.sum(p == c), np.sum(t == c)
        denominator = {"precision": predicted, "recall": actual, "f1": predicted + actual}[name]
        scores[c] = (2 * tp if name == "f1" else tp) / denominator if denominator else 0.0
    if (average or ("binary" if k == 2 else "macro")) == "binary":
        return scores.get(1, 0.0)
    return float(np.mean(list(scores.values())))


@st.composite
def label_pairs(draw):
    """(y_true, y_pred, their int64 values or None, k, bad argument names)."""
    k = draw(st.integers(2, 6))
    n = draw(st.sampled_from([0, 1, 2, 7, 50]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.integers(0, k, n)
    p = rng.integers(-1, k, n)
    bad = set()
    fault = draw(st.sampled_from(["none"] * 5 + ["t_negative", "t_big", "p_low", "p_huge", "length", "t_float",
                                                "p_bool", "t_2d"]))
    if n == 0:
        bad.add("y_true")
    if fault == "t_negative" and n:
        t[draw(st.integers(0, n - 1))] = -1
        bad.add("y_true")
    if fault == "t_big" and n:
        t[draw(st.integers(0, n - 1))] = draw(st.sampled_from([k, 2**40, 2**62]))
    if fault == "p_low" and n:
        p[draw(st.integers(0, n - 1))] = -2
        bad.add("y_pred")
    if fault == "p_huge" and n:
        p[draw(st.integers(0, n - 1))] = 2**40
    dtype = draw(st.sampled_from(SIGNED + UNSIGNED))
    T, P = t.astype(np.int64), p.astype(np.int64)
    if fault == "length":
        P = np.append(P, 0)
        bad.add("y_pred")
    if fault == "t_float":
        T = T + 0.5
        bad.add("y_true")
    if fault == "p_bool":
        P = P > 0
        bad.add("y_pred")
    if fault == "t_2d":
        T = T.reshape(-1, 1)
        bad.add("y_true")
    small = max(np.abs(t).max(initial=0), np.abs(p).max(initial=0)) < 127
    unsigned_ok = np.dtype(dtype).kind == "i" or (t.min(initial=0) >= 0 and p.min(initial=0) >= 0)
    if draw(st.booleans()) and fault not in ("t_float", "p_bool", "t_2d") and small and unsigned_ok:
        T, P = T.astype(dtype), P.astype(dtype)
    return T, P, t, p, k, bad, fault


@given(label_pairs(), st.sampled_from(LABEL_FUNCTIONS + ("accuracy",)),
       st.sampled_from(["none", "k", "small", "huge", "bool", "float"]),
       st.sampled_from([None, None, "binary", "macro", "micro"]))
def test_label_metrics(case, name, card, average):
    T, P, t, p, k, bad, fault = case
    bad = set(bad)
    kwargs = {}
    if name != "accuracy":
        value = {"none": None, "k": k, "small": 1, "huge": 2**40, "bool": True, "float": 2.0}[card]
        kwargs["cardinality"] = value
        if card in ("small", "bool", "float"):
            bad.add("cardinality")
        if average is not None:
            kwargs["average"] = average
    effective_k = kwargs.get("cardinality") if card in ("k", "huge") else None
    if effective_k is None and not bad:
        effective_k = max(2, int(max(t.max(initial=0), p.max(initial=0))) + 1)
    if fault in ("t_big", "p_huge") and not bad:
        offender = "y_true" if fault == "t_big" else "y_pred"
        if effective_k is not None and max(t.max(), p.max()) >= effective_k:
            bad.add(offender)
    if name != "accuracy" and not bad:
        if average == "micro" or (average == "binary" and effective_k != 2):
            bad.add("average")
    snaps = snapshot(T, P)

    def verify(result):
        assert isinstance(result, float) and np.isfinite(result) and 0.0 <= result <= 1.0
        if name == "accuracy":
            assert result == np.mean(t == p)
        else:
            assert abs(result - reference_per_class(t, p, effective_k, name, average)) < 1e-12

    # a huge label with k inferred is a legal class index: the answer must come without a k-sized allocation
    check_call(lambda: getattr(metrics, name)(T, P, **kwargs), bad, verify)
    assert_unchanged(snaps)


@st.composite
def proba_cases(draw):
    k = draw(st.integers(1, 5))
    n = draw(st.sampled_from([0, 1, 3, 40]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    P = rng.dirichlet(np.ones(k), size=n) if n else np.zeros((0, k))
    t = rng.integers(0, k, n)
    bad = set() if n else {"y_true"}
    fault = draw(st.sampled_from(["none"] * 4 + ["nan", "inf", "negative", "unnormalised", "wide_label", "shape",
                                                "object", "complex"]))
    if n and fault in ("nan", "inf", "negative", "unnormalised"):
        r = draw(st.integers(0, n - 1))
        P[r, 0] = {"nan": np.nan, "inf": np.inf, "negative": -0.1, "unnormalised": P[r, 0] + 0.5}[fault]
        bad.add("proba")
    if n and fault == "wide_label":
        t[0] = k
        bad.add("y_true")
    if fault == "shape":
        P = P[:-1] if n else np.zeros((1, k))
        bad.add("proba")
    if fault == "object":
        P = P.astype(object)
        bad.add("proba")
    if fault == "complex":
        P = P.astype(np.complex128)
        bad.add("proba")
    return t, P, bad


@given(proba_cases(), st.sampled_from(["brier", "log_loss"]))
def test_probability_metrics(case, name):
    t, P, bad = case
    snaps = snapshot(t, P)

    def verify(result):
        assert isinstance(result, float) and np.isfinite(result) and result >= 0
        onehot = np.eye(P.shape[1])[t]
        if name == "brier":
            want = np.mean(np.sum((P - onehot) ** 2, axis=1)) / (2 if P.shape[1] == 2 else 1)
        else:
            want = -np.mean(np.log(np.clip(P[np.arange(len(t)), t], 1e-15, 1)))
        assert abs(result - want) < 1e-12

    check_call(lambda: getattr(metrics, name)(t, P), bad, verify)
    assert_unchanged(snaps)


# ---- what the fuzzing found (each failed before the fix) ---------------------------------------------------------
def test_a_huge_label_does_not_allocate_one_counter_per_class():
    """Was a MemoryError: the per-class counts were a bincount of length max(label) + 1 (2**62 here)."""
    y = np.array([0, 2**62, 1])
    assert metrics.f1(y, y) == 1.0 and metrics.precision(y, np.array([0, 1, 1])) == 0.5


def test_probabilities_that_are_not_distributions_are_refused():
    """Were scored: NaN gave a NaN Brier score, and negative or unnormalised rows a number with no meaning."""
    y = np.array([0, 1])
    for bad in ([[np.nan, 0.5], [0.5, 0.5]], [[1.2, -0.2], [0.5, 0.5]], [[0.9, 0.9], [0.5, 0.5]]):
        for fn in (metrics.brier, metrics.log_loss):
            with np.testing.assert_raises_regex(ValueError, "^proba: "):
                fn(y, np.array(bad))


def test_cardinality_and_label_ranges_are_checked():
    """cardinality=1 / True were accepted (bincount's own error, or k = 1); a true label of -1 or >= k was
    silently left out of the per-class counts."""
    y = np.array([0, 1, 1])
    for bad in (1, 0, True, 2.0):
        with np.testing.assert_raises_regex((ValueError, TypeError), "^cardinality: "):
            metrics.f1(y, y, cardinality=bad)
    with np.testing.assert_raises_regex(ValueError, "^y_true: "):
        metrics.recall(np.array([0, -1, 1]), y)
    with np.testing.assert_raises_regex(ValueError, "^y_true: "):
        metrics.recall(np.array([0, 2, 1]), y, cardinality=2)
