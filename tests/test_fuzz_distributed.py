"""Property-based fuzzing of the Dask entry points (labelfuse.distributed) on dask's synchronous scheduler: for any
label matrix and any partitioning, the statistics equal labelfuse.label_stats exactly and the posteriors equal the
single-machine kernel, or the call raises a ValueError/TypeError naming a wrong argument; an error about a vote
names a real offending entry by its global row. The cluster itself is tested in test_distributed.py."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("distributed")

import labelfuse as lf  # noqa: E402
from fuzz_inputs import SIGNED, assert_unchanged, check_call, snapshot, vote_values  # noqa: E402
from labelfuse import distributed as lfd  # noqa: E402
from labelfuse.models.registry import FitResult  # noqa: E402
from labelfuse.synthetic import bayes_posterior  # noqa: E402

# Random votes: the fits' diagnostics (FitWarning) fire on many draws; they are tested in test_diagnostics.py.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning", "ignore::labelfuse.ConventionWarning")

FIELDS = ("rows", "covered", "overlapping", "conflicting", "class_counts", "lf_overlaps", "lf_conflicts", "covote",
          "agree")


@pytest.fixture(autouse=True)
def synchronous_scheduler():
    with dask.config.set(scheduler="sync"):
        yield


@st.composite
def row_chunks(draw, n: int):
    """A partitioning of n rows: one block, equal blocks, or random cuts (empty blocks included)."""
    kind = draw(st.sampled_from(["one", "equal", "random"]))
    if kind == "one" or n == 0:
        return (n,)
    if kind == "equal":
        size = draw(st.integers(1, max(n, 1)))
        return tuple([size] * (n // size) + ([n % size] if n % size else []))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    edges = [0] + cuts + [n]
    return tuple(b - a for a, b in zip(edges, edges[1:]))


@st.composite
def distributed_labels(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.sampled_from([0, 1, 2, 17, 300]))
    m = draw(st.integers(1, 6))
    V = draw(vote_values(n, m, k))
    dtype = draw(st.sampled_from(SIGNED))
    chunks = draw(row_chunks(n))
    A = V.astype(dtype)  # wraps out-of-range votes, as a user's cast would
    return A, A.astype(np.int64), k, chunks


def vote_error_is_real(exc, V, k):
    match = re.search(r"\(row (\d+), column (\d+)\) is (-?\d+);", str(exc))
    if match:
        r, c, v = map(int, match.groups())
        assert V[r, c] == v and not -1 <= v < k, f"names an entry that is not wrong: {exc}"


@given(distributed_labels(), st.data())
def test_distributed_label_stats_equals_local(case, data):
    A, V, k, chunks = case
    n, m = A.shape
    draw = data.draw
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kwargs, bad = {}, set()
    if draw(st.booleans()) and n:
        Y = rng.integers(0, k, n)
        if draw(st.integers(0, 4)) == 0:
            Y = Y[:-1]
            bad.add("Y")
        kwargs["Y"] = Y if draw(st.booleans()) else da.from_array(Y, chunks=max(len(Y), 1))
    if draw(st.booleans()) and n:
        G = draw(st.integers(1, 4))
        kwargs["groups"] = rng.integers(0, G, n)
        choice = draw(st.sampled_from(["ok", "ok", "missing", "small", "bool"]))
        if choice == "ok":
            kwargs["n_groups"] = G
        elif choice == "small":  # one too few: a group id reaches past it (or n_groups is 0)
            kwargs["n_groups"] = int(kwargs["groups"].max())
            bad.add("groups" if kwargs["n_groups"] >= 1 else "n_groups")
        elif choice == "bool":
            kwargs["n_groups"] = True
            bad.add("n_groups")
        else:
            bad.add("n_groups")
    if draw(st.booleans()):
        kwargs["overlap_matrix"] = True
    bad_votes = bool(((V < -1) | (V >= k)).any())
    if bad_votes:
        bad.add("L")
    as_numpy = draw(st.integers(0, 9)) == 0
    L = A if as_numpy else da.from_array(A, chunks=(chunks, m))
    if as_numpy:
        bad.add("L")
    snaps = snapshot(A, *[v for v in kwargs.values() if isinstance(v, np.ndarray)])

    def verify(stats):
        local_kwargs = {key: (np.asarray(v) if key in ("Y", "groups") else v) for key, v in kwargs.items()}
        want = lf.label_stats(V, k, **local_kwargs)
        for name in FIELDS + (("overlap",) if kwargs.get("overlap_matrix") else ()):
            np.testing.assert_array_equal(getattr(stats, name), getattr(want, name), err_msg=name)

    exc = check_call(lambda: lfd.label_stats(L, k, **kwargs), bad, verify)
    if exc is not None:
        vote_error_is_real(exc, V, k)
    assert_unchanged(snaps)


@given(distributed_labels(), st.data())
def test_distributed_predict_proba_equals_local(case, data):
    A, V, k, chunks = case
    n, m = A.shape
    draw = data.draw
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cpt = rng.dirichlet(np.ones(k + 1), size=(m, k)).transpose(0, 2, 1)  # (m, k+1, k): columns sum to 1
    fit = FitResult(cpt=np.ascontiguousarray(cpt), class_balance=rng.dirichlet(np.ones(k)))
    bad = set()
    fits = fit
    groups = None
    shape_fault = draw(st.sampled_from(["none"] * 4 + ["m", "k"]))
    if shape_fault == "m":
        fits = FitResult(cpt=np.ascontiguousarray(cpt[:, :, :][np.r_[0:m, 0]]), class_balance=fit.class_balance)
        bad.add("fit")
    elif shape_fault == "k" and k > 2:
        fits = FitResult(cpt=np.ascontiguousarray(cpt[:, :k, :k - 1] / cpt[:, :k, :k - 1].sum(axis=1, keepdims=True)),
                         class_balance=fit.class_balance)
        bad.add("fit")
    if draw(st.booleans()) and n and not bad:
        fits = [fit, fit]
        if draw(st.booleans()):
            groups = rng.integers(0, 2, n)
        else:
            bad.add("groups")
    if ((V < -1) | (V >= k)).any():
        bad.add("L")
    L = da.from_array(A, chunks=(chunks, m))
    snaps = snapshot(A, cpt)

    def verify(P):
        got = P.compute()
        np.testing.assert_allclose(got, bayes_posterior(V, fit.cpt, fit.class_balance), rtol=1e-9, atol=1e-12)

    def call():
        return lfd.predict_proba(L, fits, groups=groups).persist()  # lazy: errors show when computed

    exc = check_call(call, bad, verify)
    if exc is not None:
        vote_error_is_real(exc, V, k)
    assert_unchanged(snaps)


def test_a_bad_vote_is_named_by_its_row_in_the_whole_matrix():
    """The error names the row in L, not in its block: row 0 of the third block of 2 rows is row 4 of L."""
    V = np.zeros((6, 2), dtype=np.int8)
    V[4, 1] = 5
    L = da.from_array(V, chunks=((2, 2, 2), 2))
    for call in (lambda: lfd.label_stats(L, 2),
                 lambda: lfd.predict_proba(L, FitResult(cpt=np.full((2, 3, 2), 1 / 3), class_balance=np.ones(2) / 2))
                 .compute()):
        with pytest.raises(ValueError, match=r"^L: entry \(row 4, column 1\) is 5;"):
            call()


def test_an_unfitted_dask_label_model_raises_not_fitted():
    """An unfitted DaskLabelModel raises NotFittedError, as every estimator does."""
    from labelfuse._validation import NotFittedError

    L = da.from_array(np.zeros((4, 2), dtype=np.int8), chunks=2)
    with pytest.raises(NotFittedError, match="not fitted"):
        lfd.DaskLabelModel(2, method="triplet").predict_proba(L)
