"""Property-based fuzzing of labelfuse.synthetic.make_label_matrix (the data generator users run benchmarks with):
a draw of the requested shape and model, or a ValueError/TypeError naming the wrong argument."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import check_call
from labelfuse.synthetic import conditional_table, make_label_matrix

PROBABILITY = st.one_of(st.floats(0, 1), st.sampled_from([-0.1, 1.5, float("nan"), float("inf")]))


@st.composite
def generator_args(draw):
    bad = set()
    n = draw(st.one_of(st.integers(0, 300), st.sampled_from([-1, 2.0, True, "5"])))
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        bad.add("n")
    m = draw(st.one_of(st.integers(1, 8), st.sampled_from([0, -3, 1.5])))
    if not isinstance(m, int) or m < 1:
        bad.add("m")
    k = draw(st.one_of(st.integers(2, 6), st.sampled_from([130, 1, 0, 2**40, 2.0, None])))
    if not isinstance(k, int) or not 2 <= k <= 2**15:
        bad.add("cardinality")
    kwargs = {}
    for name in ("accuracy", "coverage"):
        if draw(st.booleans()):
            size = draw(st.sampled_from([2, m if isinstance(m, int) and m > 0 else 2, 3]))
            values = [draw(PROBABILITY) for _ in range(size)]
            kwargs[name] = values
            per_lf = size == m
            if any(not 0 <= v <= 1 for v in values) or (not per_lf and size != 2) or \
                    (not per_lf and size == 2 and values[0] > values[1]):
                bad.add(name)
    if draw(st.booleans()) and isinstance(k, int) and 2 <= k <= 6:
        balance = np.random.default_rng(draw(st.integers(0, 99))).dirichlet(np.ones(k))
        fault = draw(st.sampled_from(["none", "none", "short", "negative", "nan", "sum"]))
        if fault == "short":
            balance = balance[:-1]
        elif fault == "negative":
            balance[0] = -balance[0] - 0.1
        elif fault == "nan":
            balance[0] = np.nan
        elif fault == "sum":
            balance = balance * 0.5
        if fault != "none":
            bad.add("class_balance")
        kwargs["class_balance"] = balance
    return n, m, k, kwargs, bad


@given(generator_args(), st.integers(0, 2**32 - 1))
def test_make_label_matrix(args, seed):
    n, m, k, kwargs, bad = args

    def verify(s):
        assert s.L.shape == (n, m) and s.Y.shape == (n,)
        assert s.L.min(initial=-1) >= -1 and s.L.max(initial=-1) < k and s.Y.max(initial=0) < k
        assert np.all((s.accuracy >= 0) & (s.accuracy <= 1)) and np.all((s.coverage >= 0) & (s.coverage <= 1))
        np.testing.assert_allclose(s.cpt, conditional_table(s.accuracy, s.coverage, k))
        np.testing.assert_allclose(s.cpt.sum(axis=1), 1.0)
        again = make_label_matrix(n, m, k, random_state=seed, **kwargs)  # the seed decides everything
        np.testing.assert_array_equal(again.L, s.L)

    check_call(lambda: make_label_matrix(n, m, k, random_state=seed, **kwargs), bad, verify)


def test_what_the_fuzzing_found():
    """Each is refused with an error naming the argument (rather than numpy's own error, or a silent draw from a
    meaningless model)."""
    import pytest

    cases = [((-1, 3, 2), {}, "n"), ((10, 3, 2**40), {}, "cardinality"),
             ((10, 1, 2), {"accuracy": [1.0, 0.0]}, "accuracy"),          # a reversed (low, high) range
             ((10, 3, 2), {"coverage": [0.5, float("nan"), 0.5]}, "coverage"),
             ((10, 3, 2), {"accuracy": [1.5, 0.2, 0.3]}, "accuracy")]
    for args, kwargs, name in cases:
        with pytest.raises((ValueError, TypeError), match=f"^{name}: "):
            make_label_matrix(*args, **kwargs)
