"""LabelModel.refit from the changed rows alone: the same result as a fresh fit whatever the layout of L_new, with
the changed columns given or found by comparison (the column-major private copy against any layout)."""
import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _core
from labelfuse.synthetic import make_label_matrix

# the edited matrices (an LF silenced or flipped) make fits warn; these tests compare refits with fresh fits
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")


def edited(L, column, fraction, rng):
    out = L.copy()
    rows = rng.choice(L.shape[0], int(fraction * L.shape[0]), replace=False)
    out[rows, column] = np.where(out[rows, column] == -1, rng.integers(0, 2, rows.size), -1)
    return out


@pytest.mark.parametrize("method", ["triplet", "covariance", "dawid_skene"])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("given", [True, False])
def test_refit_equals_a_fresh_fit(method, layout, given):
    rng = np.random.default_rng(0)
    L = make_label_matrix(4000, 12, 2, random_state=5).L
    lm = lf.LabelModel(cardinality=2, method=method).fit(L)
    assert lm._last_L.flags.f_contiguous == (method != "dawid_skene")
    for column in (3, 0, 11):
        L = np.array(edited(L, column, 0.05, rng), order=layout)
        lm.refit(L, columns=[column] if given else None)
        np.testing.assert_array_equal(lm._last_L, L)
        if method == "dawid_skene":  # a warm start: the same fixed point, not the same iterate
            np.testing.assert_allclose(lm.cpt_, lf.LabelModel(cardinality=2, method=method).fit(L).cpt_, atol=1e-3)
            continue
        fresh = lf.LabelModel(cardinality=2, method=method).fit(L)
        assert lm._stats == fresh._stats
        np.testing.assert_array_equal(lm.cpt_, fresh.cpt_)


@pytest.mark.parametrize("layouts", [("C", "F"), ("F", "F"), ("F", "C"), ("C", "C")])
def test_changed_columns_in_every_layout(layouts):
    rng = np.random.default_rng(1)
    base = rng.integers(-1, 3, size=(3001, 9)).astype(np.int8)
    for cols in ([], [0], [4, 8], [2, 3, 5]):
        new = base.copy()
        for j in cols:
            new[rng.integers(0, 3001), j] = 3  # one entry per changed column
        a, b = np.array(new, order=layouts[0]), np.array(base, order=layouts[1])
        for threads in (1, 2):
            assert np.flatnonzero(_core.changed_columns(a, b, n_threads=threads)).tolist() == cols


def test_a_bad_vote_in_a_changed_row_is_named():
    L = make_label_matrix(500, 5, 2, random_state=1).L
    lm = lf.LabelModel(cardinality=2).fit(L)
    bad = L.copy()
    bad[7, 2] = 4
    with pytest.raises(ValueError, match=r"row 7, column 2\) is 4"):
        lm.refit(bad, columns=[2])
    np.testing.assert_array_equal(lm._last_L, L)
