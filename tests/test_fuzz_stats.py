"""Property-based fuzzing of every public entry point that takes arrays (statistics, analysis, posterior kernel).

The property, for any input hypothesis can build: either the result equals the numpy reference, or the call raises
a ValueError/TypeError whose message starts with the name of an argument that really is wrong. Anything else (a
crash, MemoryError, IndexError, RuntimeError, a wrong number, a changed input array) fails. The number of examples
comes from the hypothesis profile chosen in conftest.py (LABELFUSE_FUZZ=long for an on-demand long run).
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import labelfuse as lf
from fuzz_inputs import (
    ABSURD_SIZES,
    LAYOUTS,
    SIGNED,
    assert_unchanged,
    cardinalities,
    cardinality_args,
    check_call,
    effective_cardinality,
    first_invalid_vote,
    label_inputs,
    label_vectors,
    n_threads_args,
    odd_dimensional,
    shapes,
    snapshot,
    vote_values,
    _layout,
)
from labelfuse import _core
from labelfuse.synthetic import bayes_posterior
from reference import reference_stats

# fuzzed label matrices often look 1-based or 0-abstain by chance
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.ConventionWarning")

FIELDS = ("rows", "covered", "overlapping", "conflicting", "class_counts", "lf_overlaps", "lf_conflicts", "covote",
          "agree")
OVERLAP_MAX_MK = 400  # keep the (m*k)^2 reference cheap


# ---- shared oracle pieces ----------------------------------------------------------------------------------------
def vote_error_named_correctly(exc, values, k) -> None:
    """When the error is about a vote in L, it names the first offending entry (row-major) and its value."""
    msg = str(exc)
    if msg.startswith("L: entry"):
        r, c, v = first_invalid_vote(values, k)
        assert f"(row {r}, column {c}) is {v};" in msg, msg


def assert_stats_equal(s, ref, k, grouped, extra=()) -> None:
    assert s.cardinality == k and s.grouped == grouped
    for name in FIELDS + tuple(extra):
        got = getattr(s, name)
        assert got.dtype == np.int64, name
        np.testing.assert_array_equal(got, ref[name], err_msg=name)


def Y_is_integer(Y) -> bool:
    return np.asarray(Y).dtype.kind in "iu"


# ---- label_stats -------------------------------------------------------------------------------------------------
@given(st.data())
def test_label_stats(data):
    draw = data.draw
    k = draw(cardinalities())
    inp = draw(label_inputs(k=k))
    n, m = inp.shape
    bad = set()
    if not inp.signed_int:
        bad.add("L")
    cardinality, card_bad, card_absurd = draw(cardinality_args(k))
    if card_bad:
        bad.add("cardinality")

    Y = Y_values = None
    if draw(st.booleans()):
        Y, Y_values, kind = draw(label_vectors(n, k))
        if kind != "ok" and not (kind == "too_big" and cardinality is None):
            bad.add("Y")

    groups = n_groups = group_index = None
    G = 1
    grouping = draw(st.sampled_from(["none", "none", "groups", "index", "both"]))
    if grouping in ("groups", "both"):
        G = draw(st.integers(1, 6))
        groups, g_values, kind = draw(label_vectors(n, G))
        n_groups = draw(st.sampled_from([None, G, G, 0, -1, True] + list(ABSURD_SIZES[:2])))
        if n_groups is None and kind in ("ok", "too_big", "negative") and g_values is not None:
            G = max(int(g_values.max()) + 1, 1) if n else 1
            if kind == "negative":
                bad.add("groups")
        elif kind != "ok":
            bad.add("groups")
        if isinstance(n_groups, bool) or (n_groups is not None and n_groups < 1):
            bad.add("n_groups")
        if n_groups in ABSURD_SIZES:
            bad.add("n_groups")
    if grouping in ("index", "both"):
        G = draw(st.integers(1, 6))
        g_values = np.random.default_rng(draw(st.integers(0, 99))).integers(0, G, n)
        wrong_length = draw(st.integers(0, 6)) == 0
        group_index = lf.GroupIndex.from_groups(np.append(g_values, 0) if wrong_length else g_values, n_groups=G)
        if wrong_length:
            bad.add("group_index")
        if grouping == "both":
            bad.add("groups")
    overlap = draw(st.booleans()) and m * k <= OVERLAP_MAX_MK
    n_threads, threads_bad = draw(n_threads_args())
    if threads_bad:
        bad.add("n_threads")

    k_eff = None
    if inp.signed_int and not card_bad:
        k_eff = effective_cardinality(inp.values, cardinality, Y_values, Y is not None and Y_is_integer(Y))
        if k_eff > 2**31:  # inferred from an absurd label: the allocation must be refused, not attempted
            bad |= {"cardinality", "L"}
        elif first_invalid_vote(inp.values, k_eff) is not None:
            bad.add("L")
    if overlap and (card_absurd or n_groups in ABSURD_SIZES):
        bad.add("overlap_matrix")  # its own size check may come first

    snaps = inp.snapshot() + snapshot(Y, groups)

    def verify(s):
        yv = None if Y is None else np.asarray(Y_values, dtype=np.int64)
        gv = None if groups is None and group_index is None else (
            np.asarray(g_values, dtype=np.int64) if group_index is None else group_index.groups)
        ref = reference_stats(inp.values, k_eff, Y=yv, groups=gv, n_groups=G, overlap=overlap)
        extra = (("overlap",) if overlap else ()) + (("confusion", "gold_counts") if Y is not None else ())
        assert_stats_equal(s, ref, k_eff, grouped=gv is not None, extra=extra)

    exc = check_call(
        lambda: lf.label_stats(inp.L, cardinality, Y=Y, groups=groups, n_groups=n_groups, group_index=group_index,
                               overlap_matrix=overlap, n_threads=n_threads),
        bad, verify)
    if exc is not None and k_eff is not None and k_eff <= 2**31:
        vote_error_named_correctly(exc, inp.values, k_eff)
    assert_unchanged(snaps)


# ---- LabelStats.update_column ------------------------------------------------------------------------------------
@given(st.data())
def test_update_column(data):
    draw = data.draw
    k = draw(st.one_of(st.integers(2, 5), st.just(17)))
    n, m = draw(shapes())
    old_values = draw(vote_values(n, m, k, allow_invalid=False))
    with_gold, grouped = draw(st.booleans()), draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Y = rng.integers(0, k, n) if with_gold else None
    G = draw(st.integers(1, 4))
    groups = rng.integers(0, G, n) if grouped else None
    overlap = draw(st.booleans()) and m * k <= OVERLAP_MAX_MK
    stats = lf.label_stats(old_values.astype(np.int8 if k < 128 else np.int16), k, Y=Y, groups=groups,
                           n_groups=G if grouped else None, overlap_matrix=overlap)
    before = stats.copy()

    j = draw(st.integers(0, m - 1))
    new_values = old_values.copy()
    flip = rng.random(n) < draw(st.sampled_from([0.0, 0.1, 1.0]))
    new_values[flip, j] = rng.integers(-1, k, int(flip.sum()))
    bad = set()
    if flip.any() and draw(st.integers(0, 6)) == 0:  # an invalid vote in the edited column (so, a changed row)
        new_values[int(np.flatnonzero(flip)[0]), j] = draw(st.sampled_from([-2, k, 100]))
        bad.add("L")
    dtype = draw(st.sampled_from(SIGNED if k < 100 else SIGNED[1:]))
    layout = draw(st.sampled_from([x for x in LAYOUTS if x != "broadcast"]))
    if layout in ("unaligned", "byteswapped", "odd_strides") and np.dtype(dtype).itemsize == 1:
        layout = "C"
    L_new, buf = _layout(new_values, dtype, layout)
    if layout == "list" and n == 0:  # [] is not a matrix any more
        bad.add("L")

    column = draw(st.sampled_from([j, j, j, np.int64(j), m, -1, True, 1.5]))
    if isinstance(column, (bool, float)) or column != j:
        bad.add("column")
    old_kind = draw(st.sampled_from(["ok"] * 5 + ["short", "float", "unsigned", "2d", "out_of_range"]))
    old_column = old_values[:, j].astype(draw(st.sampled_from(SIGNED)))
    if old_kind == "short":
        old_column = old_column[:-1] if n else np.zeros(1, np.int64)
        bad.add("old_column")
    elif old_kind == "float":
        old_column = old_column.astype(np.float64)
        bad.add("old_column")
    elif old_kind == "unsigned" and n:
        old_column = old_column.astype(np.uint8)
        bad.add("old_column")
    elif old_kind == "2d":
        old_column = old_column.reshape(-1, 1)
        bad.add("old_column")
    elif old_kind == "out_of_range" and n:
        old_column = old_values[:, j].copy()
        old_column[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-2, k, 1000]))
        if np.any(old_column != np.asarray(new_values[:, j])):
            bad.add("old_column")
    Y_arg = Y
    if draw(st.integers(0, 6)) == 0:
        Y_arg = None if with_gold else np.zeros(n, np.int64)
        bad.add("Y")
    groups_arg = groups
    if grouped and draw(st.integers(0, 6)) == 0:
        groups_arg = None
        bad.add("groups")
    n_threads, threads_bad = draw(n_threads_args())
    if threads_bad:
        bad.add("n_threads")

    snaps = snapshot(L_new, buf, old_column, Y_arg, groups_arg)

    def verify(updated):
        ref = reference_stats(new_values, k, Y=Y, groups=groups, n_groups=G if grouped else 1, overlap=overlap)
        extra = (("overlap",) if overlap else ()) + (("confusion", "gold_counts") if with_gold else ())
        assert_stats_equal(updated, ref, k, grouped=grouped, extra=extra)

    check_call(lambda: stats.update_column(L_new, column, old_column, Y=Y_arg, groups=groups_arg,
                                           n_threads=n_threads), bad, verify)
    assert_unchanged(snaps)
    assert stats == before  # update_column returns a new object


# ---- GroupIndex.from_groups --------------------------------------------------------------------------------------
@given(st.data())
def test_group_index_from_groups(data):
    draw = data.draw
    n = draw(st.one_of(st.integers(0, 50), st.just(9000)))
    G = draw(st.integers(1, 8))
    if draw(st.integers(0, 8)) == 0:
        groups, values, kind = draw(st.sampled_from([5, [[0, 1]], np.zeros((2, 2), np.int64)])), None, "type"
    else:
        groups, values, kind = draw(label_vectors(n, G))
    if kind in ("short", "long"):  # a valid vector of another length: wrong only against an explicit n
        values, kind = np.asarray(groups, dtype=np.int64), "ok"
    n_arg = {"none": None, "n": n, "wrong": n + 1}[draw(st.sampled_from(["none", "none", "n", "wrong"]))]
    n_groups = draw(st.sampled_from([None, G, G, 0, True] + list(ABSURD_SIZES[:2])))
    bad = set()
    if kind == "type" or (n_arg is not None and values is not None and n_arg != len(values)):
        bad.add("groups")
    G_eff = n_groups
    if n_groups is None:
        G_eff = max(int(values.max()) + 1, 1) if (values is not None and len(values)) else 1
        if kind == "negative":
            bad.add("groups")
    else:
        if kind in ("negative", "too_big"):
            bad.add("groups")
        if isinstance(n_groups, bool) or n_groups < 1 or n_groups in ABSURD_SIZES:
            bad.add("n_groups")
    snaps = snapshot(groups)

    def verify(gi):
        assert gi.n_groups == G_eff
        np.testing.assert_array_equal(gi.groups, values)
        np.testing.assert_array_equal(gi.order, np.argsort(values, kind="stable"))
        np.testing.assert_array_equal(gi.offsets,
                                      np.concatenate([[0], np.cumsum(np.bincount(values, minlength=G_eff))]))

    check_call(lambda: lf.GroupIndex.from_groups(groups, n_arg, n_groups), bad, verify)
    assert_unchanged(snaps)


# ---- LFAnalysis --------------------------------------------------------------------------------------------------
def summary_reference(values, k, Y=None):
    ref = reference_stats(values, k, Y=Y)
    n = max(values.shape[0], 1)
    cc = ref["class_counts"][0]
    out = {"Polarity": [np.flatnonzero(row).tolist() for row in cc], "Coverage": cc.sum(axis=1) / n,
           "Overlaps": ref["lf_overlaps"][0] / n, "Conflicts": ref["lf_conflicts"][0] / n}
    if Y is not None:
        conf = ref["confusion"][0]
        correct = np.trace(conf, axis1=1, axis2=2)
        votes = conf.sum(axis=(1, 2))
        out["Correct"], out["Incorrect"] = correct, votes - correct
        with np.errstate(invalid="ignore", divide="ignore"):
            out["Emp. Acc."] = np.where(votes > 0, correct / np.maximum(votes, 1), np.nan)
        probs = np.zeros((cc.shape[0], k + 1, k))
        probs[:, 1:, :] = np.transpose(conf, (0, 2, 1))
        probs[:, 0, :] = ref["gold_counts"][0][None, :] - probs[:, 1:, :].sum(axis=1)
        out["probs"] = probs / np.maximum(ref["gold_counts"][0], 1)[None, None, :]
    return out


@given(st.data())
def test_lf_analysis(data):
    draw = data.draw
    k = draw(st.one_of(st.integers(2, 6), st.just(17)))
    inp = draw(label_inputs(k=k))
    n, m = inp.shape
    bad = set()
    if not inp.signed_int:
        bad.add("L")
    elif n == 0:
        bad.add("L")
    lfs_kind = draw(st.sampled_from(["none", "names", "objects", "short", "duplicate", "not_str"]))
    names = [f"lf_{j}" for j in range(m)]
    lfs = {"none": None, "names": names, "objects": [type("LF", (), {"name": nm})() for nm in names],
           "short": names[:-1], "duplicate": ["same"] * m, "not_str": list(range(m))}[lfs_kind]
    if lfs_kind in ("short", "not_str") or (lfs_kind == "duplicate" and m > 1):
        bad.add("lfs")
    cardinality, card_bad, _ = draw(cardinality_args(k))
    if card_bad:
        bad.add("cardinality")
    n_threads, threads_bad = draw(n_threads_args())
    if threads_bad:
        bad.add("n_threads")
    Y = Y_values = None
    if draw(st.booleans()):
        Y, Y_values, kind = draw(label_vectors(n, k))
        if kind != "ok" and not (kind == "too_big" and cardinality is None):
            bad.add("Y")
    est = draw(st.sampled_from(["none", "ok", "short", "strings"]))
    est_weights = {"none": None, "ok": np.linspace(0, 1, m), "short": np.ones(m + 1), "strings": ["w"] * m}[est]
    if est in ("short", "strings"):
        bad.add("est_weights")
    normalize = draw(st.booleans())
    k0 = kY = None
    if inp.signed_int and not card_bad:
        k0 = effective_cardinality(inp.values, cardinality)
        kY = effective_cardinality(inp.values, cardinality, Y_values, Y is not None and Y_is_integer(Y))
        if max(k0, kY) > 2**31:
            bad |= {"cardinality", "L"}
        elif first_invalid_vote(inp.values, kY) is not None or first_invalid_vote(inp.values, k0) is not None:
            bad.add("L")
    snaps = inp.snapshot() + snapshot(Y, est_weights)

    def run():
        a = lf.LFAnalysis(inp.L, lfs, cardinality=cardinality, n_threads=n_threads)
        out = {"summary": a.lf_summary(Y, est_weights=est_weights), "polarities": a.lf_polarities(),
               "coverages": a.lf_coverages(), "overlaps": a.lf_overlaps(normalize), "conflicts": a.lf_conflicts(normalize),
               "label": (a.label_coverage(), a.label_overlap(), a.label_conflict())}
        if Y is not None:
            out["accuracies"] = a.lf_empirical_accuracies(Y)
            out["probs"] = a.lf_empirical_probs(Y)
        return out

    def verify(out):
        ref0 = summary_reference(inp.values, k0)
        refY = summary_reference(inp.values, kY, None if Y is None else np.asarray(Y_values, dtype=np.int64))
        summary = out["summary"]
        want_index = [str(j) for j in range(m)] if lfs is None else [x if isinstance(x, str) else x.name for x in lfs]
        assert list(summary.index) == want_index
        assert summary["Polarity"].tolist() == refY["Polarity"] == out["polarities"] == ref0["Polarity"]
        for col in ("Coverage", "Overlaps", "Conflicts"):
            np.testing.assert_allclose(summary[col].to_numpy(), refY[col], err_msg=col)
        np.testing.assert_allclose(out["coverages"], ref0["Coverage"])
        cov = ref0["Coverage"]
        for key, col in (("overlaps", "Overlaps"), ("conflicts", "Conflicts")):
            want = np.divide(ref0[col], cov, out=np.zeros_like(cov), where=cov > 0) if normalize else ref0[col]
            np.testing.assert_allclose(out[key], want, err_msg=key)
        valid = inp.values >= 0
        nv = valid.sum(axis=1)
        np.testing.assert_allclose(out["label"][:2], [np.mean(nv >= 1), np.mean(nv >= 2)])
        if Y is not None:
            for col in ("Correct", "Incorrect", "Emp. Acc."):
                np.testing.assert_allclose(summary[col].to_numpy(dtype=float), refY[col], err_msg=col)
            np.testing.assert_allclose(out["accuracies"], refY["Emp. Acc."])
            np.testing.assert_allclose(out["probs"], refY["probs"])
        if est_weights is not None:
            np.testing.assert_allclose(summary["Learned Weight"].to_numpy(), est_weights)

    exc = check_call(run, bad, verify)
    if exc is not None and k0 is not None and max(k0, kY) <= 2**31 and str(exc).startswith("L: entry"):
        # the first pass is the one without gold labels (k0) unless lf_summary(Y) ran first
        assert any(first_invalid_vote(inp.values, kk) and
                   "(row {}, column {}) is {};".format(*first_invalid_vote(inp.values, kk)) in str(exc)
                   for kk in (k0, kY)), str(exc)
    assert_unchanged(snaps)


# ---- _core.posterior (the raw kernel every label model calls) ----------------------------------------------------
@st.composite
def cpts(draw, G: int, m: int, k: int):
    """Strictly positive conditional tables (G, m, k+1, k) (columns sum to 1) and priors (G, k)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cpt = rng.random((G, m, k + 1, k)) + 0.05
    cpt /= cpt.sum(axis=2, keepdims=True)
    prior = rng.random((G, k)) + 0.05
    prior /= prior.sum(axis=1, keepdims=True)
    return cpt, prior


@given(st.data())
def test_core_posterior(data):
    draw = data.draw
    k = draw(st.one_of(st.integers(2, 5), st.sampled_from([16, 17, 130])))
    n, m = draw(shapes())
    inp = draw(label_inputs(k=k, n_m=(n, m), allow_list=False))  # private: takes ndarrays (the API converts)
    n, m = inp.shape  # (n may have been capped to keep the reference cheap)
    G = draw(st.sampled_from([1, 1, 2, 5]))
    cpt, prior = draw(cpts(G, m, k))
    bad = set()
    # the raw kernel must not read byte-swapped, misaligned or odd-strided data as native ints (the API copies)
    if not inp.signed_int or not inp.L.dtype.isnative or not inp.L.flags.aligned or any(
            stride % inp.L.itemsize for stride in inp.L.strides):
        bad.add("L")
    log_cpt, log_prior = np.log(cpt), np.log(prior)
    cpt_kind = draw(st.sampled_from(["ok"] * 6 + ["float32", "size", "fortran", "list"]))
    if cpt_kind == "float32":
        log_cpt = log_cpt.astype(np.float32)
    elif cpt_kind == "size":
        log_cpt = log_cpt.reshape(-1)[:-1]
    elif cpt_kind == "fortran" and log_cpt.size > 1:
        log_cpt = np.asfortranarray(log_cpt.reshape(-1, k)) if k > 1 and log_cpt.size // k > 1 else log_cpt
    elif cpt_kind == "list":
        log_cpt = log_cpt.tolist()
    if cpt_kind != "ok" and not (isinstance(log_cpt, np.ndarray) and log_cpt.flags.c_contiguous
                                 and log_cpt.dtype == np.float64 and log_cpt.size == G * m * (k + 1) * k):
        bad.add("log_cpt")
    if draw(st.integers(0, 9)) == 0:
        log_prior = log_prior.reshape(-1)[1:]
        bad.add("log_prior")
    cardinality = draw(st.sampled_from([k] * 8 + [k + 1, 0, 2**33, 2**62]))
    if cardinality != k:
        bad |= {"cardinality", "log_cpt", "log_prior"}
    groups_kind = draw(st.sampled_from(["ok"] * 5 + ["none", "int32", "short", "out_of_range"]))
    g_values = np.random.default_rng(draw(st.integers(0, 99))).integers(0, G, n).astype(np.int64)
    groups = g_values if G > 1 or draw(st.booleans()) else None
    n_groups = G
    if groups_kind == "none":
        groups = None
        if G > 1:
            bad.add("groups")
    elif groups_kind == "int32":
        groups = g_values.astype(np.int32)
        bad.add("groups")
    elif groups_kind == "short":
        groups = g_values[:-1] if n else np.zeros(1, np.int64)
        bad.add("groups")
    elif groups_kind == "out_of_range" and n:
        groups = g_values.copy()
        groups[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1, G, 2**40]))
        bad.add("groups")
    if draw(st.integers(0, 19)) == 0:
        n_groups = 0
        bad.add("n_groups")
    n_threads, threads_bad = draw(n_threads_args())
    if threads_bad:
        bad.add("n_threads")
    if inp.signed_int and first_invalid_vote(inp.values, k) is not None:
        bad.add("L")
    snaps = inp.snapshot() + snapshot(log_cpt, log_prior, groups)

    def verify(P):
        assert P.shape == (n, k) and P.dtype == np.float64
        want = np.empty((n, k))
        gv = g_values if groups is not None else np.zeros(n, np.int64)
        for g in range(G):
            rows = gv == g
            if rows.any():
                want[rows] = bayes_posterior(inp.values[rows], cpt[g], prior[g])
        np.testing.assert_allclose(P, want, rtol=1e-9, atol=1e-12)

    exc = check_call(lambda: _core.posterior(inp.L, log_cpt, log_prior, cardinality, n_groups=n_groups,
                                             groups=groups, n_threads=n_threads), bad, verify)
    if exc is not None and str(exc).startswith("L: entry") and inp.signed_int:
        # rows run in parallel: any invalid entry may be the one reported, but it must be a real one
        r, c, v = map(int, re.search(r"row (\d+), column (\d+)\) is (-?\d+)", str(exc)).groups())
        assert inp.values[r, c] == v and not -1 <= v < k, str(exc)
    assert_unchanged(snaps)


# ---- not a matrix at all -----------------------------------------------------------------------------------------
@given(odd_dimensional(), st.sampled_from(["label_stats", "LFAnalysis", "update_column", "posterior"]))
def test_non_matrices_are_rejected_naming_L(L, entry):
    snaps = snapshot(L)
    calls = {
        "label_stats": lambda: lf.label_stats(L, 2),
        "LFAnalysis": lambda: lf.LFAnalysis(L).lf_summary(),
        "update_column": lambda: lf.label_stats(np.zeros((3, 2), np.int8), 2).update_column(L, 0, np.zeros(3, int)),
        "posterior": lambda: _core.posterior(L, np.zeros(2 * 3 * 2), np.zeros(2), 2),
    }
    # the raw kernel accepts zero LFs (the posterior is the prior); there the table sizes no longer match
    expected = r"^(L|log_cpt)\b" if entry == "posterior" else r"^L\b"
    with pytest.raises((ValueError, TypeError), match=expected):
        calls[entry]()
    assert_unchanged(snaps)
