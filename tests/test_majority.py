"""MajorityVote: vote shares against a numpy reference, tie policies, rows without votes, input errors."""
import numpy as np
import pytest

from labelfuse.models import MajorityVote
from labelfuse.synthetic import make_label_matrix


def reference_shares(L, k, fallback):
    counts = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(float)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), fallback[None, :])


@pytest.mark.parametrize("k", [2, 4, 10])
def test_proba_matches_reference(k):
    s = make_label_matrix(5000, 8, k, random_state=k)
    mv = MajorityVote().fit(s.L)
    P = mv.predict_proba(s.L)
    assert np.allclose(P, reference_shares(s.L, k, mv.class_balance_), atol=1e-15)
    assert np.allclose(P.sum(axis=1), 1.0)
    assert np.array_equal(mv.classes_, np.arange(k))


def test_estimated_class_balance_is_mean_vote_share_of_covered_rows():
    L = np.array([[0, 0, 1], [1, -1, -1], [-1, -1, -1], [2, 2, -1]], dtype=np.int8)
    assert np.allclose(MajorityVote(cardinality=3).fit(L).class_balance_, 1 / 3)  # default: uniform
    mv = MajorityVote(cardinality=3, class_balance="votes").fit(L)
    assert np.allclose(mv.class_balance_, ([2 / 3, 1 / 3, 0] + np.array([0, 1, 0]) + np.array([0, 0, 1])) / 3)
    assert np.allclose(mv.predict_proba(L)[2], mv.class_balance_)
    assert np.allclose(MajorityVote(cardinality=3, class_balance="uniform").fit(L).class_balance_, 1 / 3)
    assert np.allclose(MajorityVote(cardinality=3).fit(L, Y_dev=[0, 0, 1]).class_balance_, [0.5, 1 / 3, 1 / 6])
    assert np.allclose(MajorityVote(cardinality=3).fit(L, class_balance=[0.2, 0.3, 0.5]).class_balance_,
                       [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="either"):
        MajorityVote(cardinality=3).fit(L, Y_dev=[0], class_balance=[0.2, 0.3, 0.5])


def test_default_balance_is_uniform_with_one_sided_lfs():
    # Spouse-like: 90% class 0; two LFs vote only class 1 (often), one only class 0 (rarely). Vote shares put
    # most mass on class 1, so the "votes" balance sends every all-abstain row (most rows) to the wrong class;
    # the uniform default leaves them a tie (argmax -> class 0, as Snorkel's MajorityLabelVoter).
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.1).astype(int)
    L = np.full((4000, 3), -1, dtype=np.int8)
    L[(y == 1) & (rng.random(4000) < 0.8), 0] = 1
    L[(y == 1) & (rng.random(4000) < 0.6), 1] = 1
    L[(y == 0) & (rng.random(4000) < 0.05), 2] = 0
    votes = MajorityVote(class_balance="votes").fit(L)
    assert votes.class_balance_[1] > 0.5
    default = MajorityVote().fit(L)
    assert np.allclose(default.class_balance_, 0.5)
    empty = (L < 0).all(axis=1)
    assert np.allclose(default.predict_proba(L)[empty], 0.5)
    assert (default.predict_proba(L).argmax(axis=1) == y).mean() > 0.95
    assert (votes.predict_proba(L).argmax(axis=1) == y).mean() < 0.3
    assert np.allclose(MajorityVote().fit(L, Y_dev=[0] * 8 + [1] * 2).class_balance_, [0.75, 0.25])


def test_tie_policies_and_rows_without_votes():
    L = np.array([[0, 1, -1], [1, 1, 0], [-1, -1, -1], [2, 0, 1]], dtype=np.int8)
    prior = [0.2, 0.5, 0.3]
    mv = MajorityVote(cardinality=3, class_balance=prior).fit(L)
    assert mv.predict(L).tolist() == [-1, 1, -1, -1]  # abstain: ties and rows without votes
    assert mv.predict(L, tie_policy="prior").tolist() == [1, 1, 1, 1]
    # a row without votes is a tie among all classes; its probabilities are the class balance
    assert np.allclose(mv.predict_proba(L)[2], prior)
    rnd = MajorityVote(cardinality=3, tie_policy="random", random_state=0).fit(L)
    a = rnd.predict(np.tile(L, (200, 1)))
    assert np.array_equal(a, rnd.predict(np.tile(L, (200, 1))))
    rows0 = a.reshape(-1, 4)[:, 0]
    assert set(np.unique(rows0)) == {0, 1}  # only tied classes
    assert set(np.unique(a.reshape(-1, 4)[:, 2])) == {0, 1, 2}


def test_threads_do_not_change_results():
    s = make_label_matrix(40000, 10, 4, random_state=1)
    a = MajorityVote(n_threads=1).fit(s.L)
    b = MajorityVote(n_threads=2).fit(s.L)
    assert np.array_equal(a.class_balance_, b.class_balance_)
    assert np.array_equal(a.predict_proba(s.L), b.predict_proba(s.L))


def test_layouts_and_dtypes_agree():
    s = make_label_matrix(3000, 6, 3, random_state=2)
    mv = MajorityVote(cardinality=3).fit(s.L)
    P = mv.predict_proba(s.L)
    for L in (s.L.astype(np.int64), np.asfortranarray(s.L), np.repeat(s.L, 2, axis=1)[:, ::2]):
        assert np.array_equal(mv.predict_proba(L), P)
    assert np.array_equal(s.L, make_label_matrix(3000, 6, 3, random_state=2).L)  # input untouched


def test_bad_input():
    L = np.array([[0, 1], [1, -1]], dtype=np.int8)
    mv = MajorityVote(cardinality=2).fit(L)
    with pytest.raises(ValueError, match="L: entry"):
        mv.predict_proba(np.array([[0, 2], [1, -1]], dtype=np.int8))
    with pytest.raises(ValueError, match="L: entry"):
        MajorityVote(cardinality=2).fit(np.array([[0, -3]]))
    with pytest.raises(ValueError, match="columns"):
        mv.predict_proba(np.zeros((2, 3), dtype=np.int8))
    with pytest.raises(TypeError, match="L"):
        MajorityVote().fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no rows"):
        MajorityVote().fit(np.zeros((0, 2), dtype=np.int8))
    with pytest.raises(ValueError, match="tie_policy"):
        MajorityVote(tie_policy="flip").fit(L)
    with pytest.raises(ValueError, match="tie_policy"):
        mv.predict(L, tie_policy="flip")
    with pytest.raises(ValueError, match="n_threads"):
        MajorityVote(n_threads=0).fit(L)
    with pytest.raises(ValueError, match="class_balance"):
        MajorityVote(class_balance=[1.0]).fit(L)
