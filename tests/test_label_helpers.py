"""filter_unlabeled_dataframe, get_label_buckets, probs_to_preds against Snorkel's documented behaviour and slow
per-row references."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from labelfuse.labeling import filter_unlabeled_dataframe, get_label_buckets, probs_to_preds


# -- probs_to_preds --------------------------------------------------------------------------------------------------
def slow_probs_to_preds(P, policy, tol=1e-5):
    """Per-row reference of the documented rule; "random" picks tied[sha1(str(row)) % n_tied]."""
    out = []
    for i, row in enumerate(P):
        tied = [j for j in range(len(row)) if abs(row[j] - max(row)) < tol]
        if len(tied) == 1:
            out.append(tied[0])
        elif policy == "abstain":
            out.append(-1)
        else:
            out.append(tied[int(hashlib.sha1(str(i).encode()).hexdigest(), 16) % len(tied)])
    return out


def test_probs_to_preds_snorkel_doc_examples():
    np.testing.assert_array_equal(probs_to_preds(np.array([[0.5, 0.5, 0.5]]), tie_break_policy="abstain"), [-1])
    np.testing.assert_array_equal(probs_to_preds(np.array([[0.8, 0.1, 0.1]])), [0])


@pytest.mark.parametrize("policy", ["random", "abstain"])
def test_probs_to_preds_matches_the_reference(policy):
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=300)
    P[::3] = [0.3, 0.3, 0.3, 0.1]               # three-way ties
    P[1::7] = [0.25, 0.25, 0.25, 0.25]
    P[2::11] = [0.4, 0.4 + 5e-6, 0.1, 0.1 - 5e-6]  # a tie within tol
    got = probs_to_preds(P, tie_break_policy=policy)
    assert got.dtype == np.int64 and got.shape == (300,)
    np.testing.assert_array_equal(got, slow_probs_to_preds(P, policy))
    if policy == "random":  # deterministic, and the ties really spread over the tied classes
        np.testing.assert_array_equal(probs_to_preds(P), got)
        three_way = [i for i in range(0, 300, 3) if i % 7 != 1 and i % 11 != 2]
        assert set(got[three_way].tolist()) == {0, 1, 2}


def test_probs_to_preds_true_random_is_seeded_and_stays_in_the_tie():
    P = np.tile([0.45, 0.1, 0.45], (200, 1))
    a = probs_to_preds(P, "true-random", random_state=1)
    np.testing.assert_array_equal(a, probs_to_preds(P, "true-random", random_state=1))
    assert set(a.tolist()) == {0, 2}


def test_probs_to_preds_errors():
    with pytest.raises(ValueError, match="at least 2 classes"):
        probs_to_preds(np.ones((3, 1)))
    with pytest.raises(ValueError, match="tie_break_policy"):
        probs_to_preds(np.ones((3, 2)) / 2, tie_break_policy="first")
    with pytest.raises(ValueError, match="2-D"):
        probs_to_preds(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        probs_to_preds(np.array([[np.nan, 1.0]]))


# -- get_label_buckets -----------------------------------------------------------------------------------------------
def test_get_label_buckets_snorkel_doc_example():
    # Snorkel's docstring: y1 = [1, 1, 1, 0], y2 = [1, 1, 0, 0] -> {(1, 1): [0, 1], (1, 0): [2], (0, 0): [3]}
    buckets = get_label_buckets(np.array([1, 1, 1, 0]), np.array([1, 1, 0, 0]))
    assert list(buckets) == [(1, 1), (1, 0), (0, 0)]
    np.testing.assert_array_equal(buckets[(1, 1)], [0, 1])
    np.testing.assert_array_equal(buckets[(1, 0)], [2])
    np.testing.assert_array_equal(buckets[(0, 0)], [3])


def test_get_label_buckets_matches_a_dict_of_lists():
    rng = np.random.default_rng(3)
    a, b, c = rng.integers(-1, 3, 500), rng.integers(0, 2, 500), rng.integers(-1, 2, (500, 1))
    want = {}
    for i, key in enumerate(zip(a.tolist(), b.tolist(), c[:, 0].tolist())):
        want.setdefault(key, []).append(i)
    got = get_label_buckets(a, pd.Series(b), c)
    assert list(got) == list(want)  # first-occurrence order
    for key, rows in want.items():
        assert got[key].dtype == np.int64
        np.testing.assert_array_equal(got[key], rows)
    # numpy-scalar keys look up the same buckets
    np.testing.assert_array_equal(got[(np.int64(a[0]), np.int64(b[0]), np.int64(c[0, 0]))],
                                  want[(int(a[0]), int(b[0]), int(c[0, 0]))])


def test_get_label_buckets_errors():
    with pytest.raises(ValueError, match="same length"):
        get_label_buckets(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="1-D"):
        get_label_buckets(np.zeros((3, 2)))
    assert get_label_buckets(np.array([], dtype=int)) == {}


# -- filter_unlabeled_dataframe --------------------------------------------------------------------------------------
def test_filter_unlabeled_dataframe_snorkel_semantics():
    X = pd.DataFrame({"A": ["x", "y", "z"], "B": [1, 2, 3]}, index=[10, 11, 12])
    y = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.2, 0.3, 0.5, 0.0]])
    L = np.array([[0, 1, -1], [-1, -1, -1], [1, 1, 0]])
    X_before, y_before = X.copy(), y.copy()
    X_f, y_f = filter_unlabeled_dataframe(X, y, L)
    assert X_f.values.tolist() == [["x", 1], ["z", 3]] and X_f.index.tolist() == [10, 12]
    np.testing.assert_array_equal(y_f, y[[0, 2]])
    pd.testing.assert_frame_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    X_arr, _ = filter_unlabeled_dataframe(np.arange(3), y, L)
    np.testing.assert_array_equal(X_arr, [0, 2])


def test_filter_unlabeled_dataframe_checks_lengths():
    L = np.array([[0], [-1]])
    with pytest.raises(ValueError, match="X: expected 2 rows"):
        filter_unlabeled_dataframe(pd.DataFrame({"a": [1, 2, 3]}), np.zeros(2), L)
    with pytest.raises(ValueError, match="y: expected 2 rows"):
        filter_unlabeled_dataframe(pd.DataFrame({"a": [1, 2]}), np.zeros(3), L)
    with pytest.raises(TypeError, match="L"):
        filter_unlabeled_dataframe(pd.DataFrame({"a": [1, 2]}), np.zeros(2), np.zeros((2, 1)))
