"""Property-based fuzzing of LF application (labelfuse.apply_lfs / LFApplier): LFs that return anything at all.

The property: with fault_tolerant=False the label matrix equals the votes, or the first bad call raises (an LF's
exception as LFApplyError naming the LF and row; a bad return value as TypeError/ValueError naming the LF and row);
with fault_tolerant=True every bad call leaves -1 and is recorded in ``failures_`` at its (row, LF), nothing else is.
Never a silently wrapped vote (a class id too large for the matrix dtype)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelfuse.labeling.apply import LFApplier, LFApplyError
from labelfuse.labeling.lf import labeling_function

GOOD = [-1, 0, 1, 2, None, np.int8(1), np.int64(0), np.uint8(2)]
BAD = [True, 1.0, "1", -2, 2**31, 2**40, 2**63, -(2**63) - 1, np.float32(1), [1], "boom"]  # "boom": raises


def expected_vote(value, k):
    """The vote an LF's return value stands for, or None when the call is a failure."""
    if value is None:
        return -1
    if value == "boom" or isinstance(value, (bool, np.bool_, float, np.floating, str, list)):
        return None
    v = int(value)
    upper = k if k is not None else 2**31
    return v if -1 <= v < upper else None


@given(st.data())
def test_apply_lfs(data):
    draw = data.draw
    n, m = draw(st.integers(0, 12)), draw(st.integers(1, 4))
    k = draw(st.sampled_from([None, 3, 300]))
    table = [[draw(st.sampled_from(GOOD + BAD if draw(st.integers(0, 6)) == 0 else GOOD)) for _ in range(m)]
             for _ in range(n)]

    def make_lf(j):
        @labeling_function(name=f"lf{j}")
        def lf(x):
            value = table[x][j]
            if value == "boom":
                raise KeyError("boom")
            return value
        return lf

    lfs = [make_lf(j) for j in range(m)]
    want = [[expected_vote(table[i][j], k) for j in range(m)] for i in range(n)]
    failures = [(i, j) for i in range(n) for j in range(m) if want[i][j] is None]
    tolerant = draw(st.booleans())
    applier = LFApplier(lfs, cardinality=k, fault_tolerant=tolerant, progress=False)
    rows = list(range(n))
    if not tolerant and failures:
        i, j = failures[0]
        with pytest.raises((LFApplyError, TypeError, ValueError)) as info:
            applier.apply(rows)
        message = str(info.value)
        assert f"'lf{j}'" in message and f"row {i}" in message, message
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        L = applier.apply(rows)
    assert L.shape == (n, m) and L.dtype.kind == "i"
    ref = np.array([[-1 if v is None else v for v in row] for row in want], dtype=np.int64).reshape(n, m)
    np.testing.assert_array_equal(L.astype(np.int64), ref)
    assert sorted((f.row, int(f.lf[2:])) for f in applier.failures_) == failures


@pytest.mark.parametrize("value", [2**31, 2**40, 2**63])
def test_a_class_id_too_large_for_the_matrix_is_refused(value):
    """Refused even without a cardinality: 2**40 would wrap to 0 in an int32 matrix, 2**63 overflow numpy."""
    with pytest.raises(ValueError, match=r"'big' returned \d+ on row 0; expected a class id in 0..2147483647"):
        LFApplier([labeling_function(name="big")(lambda x: value)], progress=False).apply([0])
