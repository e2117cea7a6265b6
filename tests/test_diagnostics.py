"""Warnings reach the user: labelfuse's categories, the fits' recorded diagnostics emitted, convention checks."""
import warnings

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import diagnostics
from labelfuse.synthetic import make_label_matrix


def test_categories_form_one_hierarchy():
    for name in diagnostics.__all__:
        obj = getattr(diagnostics, name)
        if isinstance(obj, type):
            assert issubclass(obj, lf.LabelfuseWarning) and issubclass(obj, UserWarning)
            assert getattr(lf, name) is obj  # exported at the top level
    assert issubclass(lf.ConvergenceWarning, lf.FitWarning)
    from labelfuse.labeling.apply import LFFailureWarning

    assert issubclass(LFFailureWarning, lf.LabelfuseWarning)


def test_every_recorded_diagnostic_is_emitted():
    s = make_label_matrix(1000, 4, 2, random_state=25)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lm = lf.LabelModel(method="triplet").fit(s.L)
    recorded = lm.info_["warnings"]
    assert recorded, "the fixture must record a diagnostic"
    emitted = [str(w.message) for w in caught if issubclass(w.category, lf.FitWarning)]
    assert emitted == [f"LabelModel(method='triplet'): {m}" for m in recorded]


def test_dawid_skene_non_convergence_is_a_convergence_warning():
    s = make_label_matrix(3000, 8, 3, random_state=1)
    with pytest.warns(lf.ConvergenceWarning, match="max_iter=2"):
        lm = lf.LabelModel(method="dawid_skene", max_iter=2).fit(s.L)
    assert not lm.info_["converged"] and lm.info_["warnings"]


def test_a_user_filter_silences_one_category():
    s = make_label_matrix(3000, 8, 3, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=lf.ConvergenceWarning)
        lf.LabelModel(method="dawid_skene", max_iter=2).fit(s.L)  # no error: filtered by category


# -- convention checks -----------------------------------------------------------------------------------------------
def _plus_minus_one(s):
    """The same votes in the 0 = abstain, +-1 convention."""
    return np.where(s.L < 0, 0, 2 * s.L - 1).astype(np.int8)


def test_plus_minus_one_convention_is_warned_with_the_fix():
    s = make_label_matrix(2000, 8, 2, coverage=(0.1, 0.3), random_state=3)
    L_pm = _plus_minus_one(s)
    fix = r"np.where\(L == 0, -1, \(L \+ 1\) // 2\)"
    with pytest.warns(lf.ConventionWarning, match=r"0 = abstain, \+-1 convention.*" + fix):
        lf.MajorityVote().fit(L_pm)
    fixed = np.where(L_pm == 0, -1, (L_pm + 1) // 2)
    np.testing.assert_array_equal(fixed, s.L)  # the fix the message gives restores the votes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lf.MajorityVote().fit(fixed)  # and the converted matrix raises nothing


def test_labelfuse_convention_is_not_flagged():
    for cov in [(0.05, 0.3), (0.6, 0.95)]:
        s = make_label_matrix(3000, 10, 2, coverage=cov, random_state=4)
        with warnings.catch_warnings():
            warnings.simplefilter("error", lf.ConventionWarning)
            lf.MajorityVote().fit(s.L)


def test_one_based_votes_are_warned_with_the_fix():
    s = make_label_matrix(2000, 8, 3, coverage=(0.2, 0.5), random_state=5)
    one_based = np.where(s.L >= 0, s.L + 1, -1).astype(np.int8)
    with pytest.warns(lf.ConventionWarning, match=r"look 1-based.*4 classes.*np.where\(L > 0, L - 1, -1\)"):
        mv = lf.MajorityVote().fit(one_based)
    assert mv.cardinality_ == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", lf.ConventionWarning)
        lf.MajorityVote(cardinality=4).fit(one_based)  # a cardinality given says it is intended
        lf.MajorityVote().fit(np.where(one_based > 0, one_based - 1, -1))
