"""Property-based fuzzing of the embedding side: NeighborGraph, extend_votes, the threshold helpers, KMeansPartition,
label_smoothness, ws_knn_proba, and the Epoxy / Liger estimators.

The property, as in tests/test_fuzz_stats.py: either the result is right (checked against numpy brute force: cosine
top-k lists, the extension rule, pair counts, the posterior of the extended votes) or the call raises a
ValueError/TypeError whose message starts with the name of an argument that really is wrong. Anything else (a crash,
an IndexError or RuntimeError, a NaN in a result, an unexpected warning, a changed input array) fails.

NaN/inf embeddings (the documented behaviour, see labelfuse.embeddings._checks): a ValueError naming the argument
and the first bad row, unless the graph / partition was built with ``nan_policy="zero"``, which treats such rows as
zero vectors (cosine 0 to everything). Epoxy and Liger inherit the policy of the graph they use.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

faiss = pytest.importorskip("faiss")

from labelfuse.embeddings import (  # noqa: E402
    KMeansPartition,
    NeighborGraph,
    extend_votes,
    label_smoothness,
    nearest_neighbor_thresholds,
    tune_thresholds,
)
from labelfuse.fusion import Epoxy, Liger, ws_knn_proba  # noqa: E402
from labelfuse.models import NotFittedError  # noqa: E402
from labelfuse.synthetic import bayes_posterior  # noqa: E402

from _fusion_helpers import symmetric_fit  # noqa: E402
from fuzz_inputs import (  # noqa: E402
    SIGNED,
    THREADS_BAD,
    THREADS_OK,
    EmbeddingInput,
    assert_unchanged,
    check_call,
    check_top_k,
    embedding_inputs,
    faults,
    first_invalid_vote,
    label_inputs,
    label_vectors,
    snapshot,
    unit_rows,
    vote_values,
)

# Random votes: the fits' diagnostics (FitWarning) and convention checks fire on many draws; they are tested in
# test_diagnostics.py and test_assumptions.py, here only crashes and contracts are.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning", "ignore::labelfuse.ConventionWarning")

EMPTY_PARTS = "ignore:KMeansPartition.*empty:RuntimeWarning"  # documented: fewer distinct points than parts
THRESHOLD_VALUES = (-2.0, -1.0, -0.25, 0.0, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0, 1.5, np.inf, -np.inf)


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread():
    # faiss's OpenMP threads spin on a busy 2-core machine (k-means of 50 rows: 100 ms instead of 0.2 ms)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


# ---- oracle pieces -----------------------------------------------------------------------------------------------
def embedding_errors(emb: EmbeddingInput, nan_policy: str = "raise") -> bool:
    """Whether X is invalid under the policy (a non-matrix, a wrong dtype, NaN/inf rows with "raise")."""
    return emb.problem is not None or (nan_policy == "raise" and bool(emb.nonfinite.any()))


def assert_proba(P, n: int, k: int) -> None:
    assert isinstance(P, np.ndarray) and P.shape == (n, k), (getattr(P, "shape", None), (n, k))
    assert np.isfinite(P).all() and (P >= 0).all(), "probabilities not finite / negative"
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)


def reference_extension(L_db, L_query, U_db, U_query, thresholds, k, self_query):
    """The extension rule over all pairs in float64, and per cell how far its decision is from a boundary (a tie
    between classes or the threshold); cells that were not abstentions get an infinite margin."""
    S = np.asarray(U_query, np.float64) @ np.asarray(U_db, np.float64).T
    if self_query:
        np.fill_diagonal(S, -np.inf)
    out = np.array(L_query, dtype=np.int64, copy=True)
    margin = np.full(out.shape, np.inf)
    for j in range(L_db.shape[1]):
        best = np.full((S.shape[0], k), -np.inf)
        for c in range(k):
            voters = L_db[:, j] == c
            if voters.any():
                best[:, c] = S[:, voters].max(axis=1)
        order = -np.sort(-best, axis=1)
        top = order[:, 0]
        second = order[:, 1]
        abstain = out[:, j] == -1
        take = abstain & (top > second) & (top > thresholds[j])
        with np.errstate(invalid="ignore"):
            gap = np.where(np.isfinite(top), np.minimum(top - second, np.abs(top - thresholds[j])), np.inf)
        margin[abstain, j] = np.nan_to_num(gap[abstain], nan=np.inf)
        out[take, j] = best[take].argmax(axis=1)
    return out, margin


def assert_extension(got, L_db, L_query, U_db, U_query, thresholds, k, self_query, exact) -> None:
    """Equal to the brute-force rule; when the cosines are not exact in float32, cells within 1e-5 of a tie or of
    the threshold may go either way (ties aside)."""
    want, margin = reference_extension(L_db, L_query, U_db, U_query, thresholds, k, self_query)
    got = np.asarray(got, dtype=np.int64)
    assert got.shape == want.shape
    decided = margin > (-1.0 if exact else 1e-5)
    np.testing.assert_array_equal(got[decided], want[decided])
    query = np.asarray(L_query, dtype=np.int64)
    np.testing.assert_array_equal(got[query >= 0], query[query >= 0])  # votes are never changed
    assert ((got >= -1) & (got < k)).all()


def posterior_reference(L_ext, cpt, prior, parts):
    cpt = np.clip(cpt, 1e-12, 1.0)
    prior = np.clip(prior, 1e-12, 1.0)
    out = np.empty((L_ext.shape[0], cpt.shape[-1]))
    for g in np.unique(parts):
        rows = parts == g
        out[rows] = bayes_posterior(L_ext[rows], cpt[g], prior[g])
    return out


@st.composite
def threshold_args(draw, m: int, bad: bool = False):
    """(value as passed, the (m,) thresholds it means or None when the value is wrong)."""
    good_kinds = ["scalar"] * 3 + ["per_lf"] * 3 + ["numpy", "list"]
    kind = draw(st.sampled_from(["short", "long", "nan", "2d", "strings", "none"] if bad else good_kinds))
    values = np.array([draw(st.sampled_from(THRESHOLD_VALUES)) for _ in range(m)])
    if kind == "scalar":
        v = draw(st.sampled_from(THRESHOLD_VALUES))
        return v, np.full(m, v)
    if kind == "per_lf":
        return values, values
    if kind == "numpy":
        return np.float32(values[0]), np.full(m, float(np.float32(values[0])))
    if kind == "list":
        return values.tolist(), values
    if kind == "short":
        return values[:-1], None
    if kind == "long":
        return np.append(values, 0.5), None
    if kind == "nan":
        values[draw(st.integers(0, m - 1))] = np.nan
        return values, None
    if kind == "2d":
        return values.reshape(1, -1), None
    if kind == "strings":
        return ["high"] * m, None
    return None, None


def cardinality_arg(draw, k: int, bad: bool = False):
    """(value, the k it means, or "bad")."""
    choice = draw(st.sampled_from(["one", "bool", "str", "float"] if bad else ["none", "none", "k", "numpy", "more"]))
    return {"none": (None, None), "k": (k, k), "numpy": (np.int64(k), k), "more": (k + 1, k + 1),
            "one": (1, "bad"), "bool": (True, "bad"), "str": ("2", "bad"), "float": (2.0, "bad")}[choice]


def threads_arg(draw, bad: bool = False):
    return draw(THREADS_BAD if bad else THREADS_OK)


def effective_k(values, cardinality_k, extra=None) -> int:
    if cardinality_k is not None:
        return cardinality_k
    top = int(values.max()) if values.size else -1
    if extra is not None and len(extra):
        top = max(top, int(np.max(extra)))
    return max(2, top + 1)


def votes_are_bad(inp, k_eff) -> bool:
    """L is wrong: not a signed-integer matrix, or a vote outside -1..k-1 (k_eff None: not known)."""
    return not inp.signed_int or (k_eff is not None and first_invalid_vote(inp.values, k_eff) is not None)


# ---- NeighborGraph -------------------------------------------------------------------------------------------------
@given(st.data())
def test_neighbor_graph(data):
    draw = data.draw
    fault = draw(faults(["X", "nan_policy", "index", "n_neighbors", "index_params"]))
    emb = draw(embedding_inputs(allow_bad="X" in fault, allow_nonfinite="X" in fault or draw(st.booleans())))
    index = "bogus" if "index" in fault else draw(st.sampled_from(["flat"] * 4 + ["hnsw", "ivf"]))
    nan_policy = "bogus" if "nan_policy" in fault else draw(st.sampled_from(["raise", "zero"]))
    n_neighbors = draw(st.sampled_from([0, -1, True, 2.5] if "n_neighbors" in fault else
                                       [1, 2, 5, 64, emb.n, emb.n + 3, max(emb.n - 1, 1), np.int64(3)]))
    index_params = {}
    if "index_params" in fault or (index in ("hnsw", "ivf") and draw(st.booleans())):
        name = draw(st.sampled_from(["hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_n_lists",
                                     "ivf_n_probe", "block_size"]))
        index_params[name] = draw(st.sampled_from([1, 0, -3, 1.5, True, None] if "index_params" in fault else
                                                  [2, 3, 7, 16]))
    bad = set()
    if embedding_errors(emb, "raise" if nan_policy == "bogus" else nan_policy) or emb.n == 0:
        bad.add("X")
    if nan_policy == "bogus":
        bad.add("nan_policy")
    if index == "bogus":
        bad.add("index")
    if isinstance(n_neighbors, (bool, float)) or n_neighbors < 1:
        bad.add("n_neighbors")
    for name, v in index_params.items():
        least = 2 if name == "hnsw_m" else 1  # HNSW with fewer than 2 links per node crashes faiss
        if v is None and name == "ivf_n_lists":
            continue
        if v is None or isinstance(v, (bool, float)) or v < least:
            bad.add(name)
    graph = NeighborGraph(n_neighbors, index=index, nan_policy=nan_policy, **index_params)
    snaps = emb.snapshot()
    exact = index == "flat"

    def verify(g):
        U = emb.unit()
        assert g.X_.dtype == np.float32 and g.X_.flags.c_contiguous and np.isfinite(g.X_).all()
        np.testing.assert_allclose(g.X_, U, atol=2e-6)
        K = min(int(n_neighbors), emb.n - 1)
        assert g.n_neighbors_ == K and g.n_rows == emb.n
        check_top_k(g.ids_, g.sims_, U, U, K, exclude_self=True, exact=exact)

    exc = check_call(lambda: graph.fit(emb.X), bad, verify)
    assert_unchanged(snaps)
    if exc is not None:
        return

    # queries from another split (another embedding input of the same, or a wrong, dimension)
    d = emb.shape[1]
    fault = draw(faults(["X", "n_neighbors"]))
    q = draw(embedding_inputs(d=d + 1 if "X" in fault and draw(st.booleans()) else d, max_rows=30,
                              allow_bad="X" in fault, allow_nonfinite="X" in fault or nan_policy == "zero"))
    k_arg = draw(st.sampled_from([-1, 2.5, "3", True] if "n_neighbors" in fault else
                                 [None, None, 0, 1, 3, emb.n, emb.n + 4, np.int32(2)]))
    bad = set()
    if embedding_errors(q, nan_policy) or q.shape[1] != d:
        bad.add("X")
    if k_arg is not None and (isinstance(k_arg, (bool, float, str)) or k_arg < 0):
        bad.add("n_neighbors")
    snaps = q.snapshot()

    def verify_query(result):
        ids, sims, Xq = result
        Uq = q.unit()
        np.testing.assert_allclose(Xq, Uq, atol=2e-6)
        K = min(graph.n_neighbors_ if k_arg is None else int(k_arg), emb.n)
        check_top_k(ids, sims, emb.unit(), Uq, K, exclude_self=False, exact=exact)

    check_call(lambda: graph.query(q.X, n_neighbors=k_arg), bad, verify_query)
    assert_unchanged(snaps)

    if draw(st.integers(0, 3)) == 0:  # save / load round trip: same lists, same answers
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "graph.npz"
            graph.save(path)
            loaded = NeighborGraph.load(path)
        assert loaded.get_params() == graph.get_params()
        for name in ("X_", "ids_", "sims_"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(graph, name))
        probe = graph.X_[: min(emb.n, 5)]
        for a, b in zip(loaded.query(probe), graph.query(probe)):
            np.testing.assert_array_equal(a, b)


# ---- extend_votes --------------------------------------------------------------------------------------------------
@st.composite
def fitted_graph(draw, n: int, d: int):
    emb = draw(embedding_inputs(n=n, d=d, allow_bad=False, allow_nonfinite=False))
    K = draw(st.sampled_from([1, 2, 3, 5, max(n - 1, 1), n + 2]))
    return emb, NeighborGraph(K).fit(emb.X)


@st.composite
def corrupt_neighbors(draw, ids, sims, Xq, n: int, d: int):
    """A cached query triple that is wrong in one way, or None when the query is too small to corrupt that way."""
    how = draw(st.sampled_from(["array", "pair", "int32", "out_of_range", "below_padding", "unsorted", "nan",
                                "Xq_rows", "Xq_dim", "none_ids"]))
    if how == "array":
        return ids
    if how == "pair":
        return ids, sims
    if how == "int32":
        return ids.astype(np.int32), sims, Xq
    if how in ("out_of_range", "below_padding", "nan") and not ids.size:
        return None
    if how == "out_of_range":
        ids = ids.copy()
        ids[0, 0] = n + draw(st.sampled_from([0, 5, 2**40]))
        return ids, sims, Xq
    if how == "below_padding":
        ids = ids.copy()
        ids[0, 0] = -7
        return ids, sims, Xq
    if how == "unsorted":
        if sims.shape[1] < 2 or not sims.shape[0] or not np.isfinite(sims[0, 1]):
            return None
        sims = sims.copy()
        sims[0, 1] = sims[0, 0] + 0.5
        return ids, sims, Xq
    if how == "nan":
        sims = sims.copy()
        sims[0, 0] = np.nan
        return ids, sims, Xq
    if how == "Xq_rows":
        return ids, sims, np.vstack([Xq, np.ones((1, d), np.float32)])
    if how == "Xq_dim":
        return ids, sims, np.hstack([Xq, Xq[:, :1]])
    return None, sims, Xq


@given(st.data())
def test_extend_votes(data):
    draw = data.draw
    fault = draw(faults(["L", "thresholds", "cardinality", "n_threads", "L_query", "X_query", "neighbors",
                         "mode"]))
    k = draw(st.integers(2, 4))
    n, m, d = draw(st.integers(1, 40)), draw(st.integers(1, 6)), draw(st.integers(4, 10))
    emb, graph = draw(fitted_graph(n, d))
    n_L = n + 1 if "L" in fault and draw(st.booleans()) else n
    inp = draw(label_inputs(k=k, n_m=(n_L, m), allow_invalid="L" in fault, allow_bad_dtype="L" in fault))
    thresholds, t = draw(threshold_args(m, bad="thresholds" in fault))
    cardinality, card_k = cardinality_arg(draw, k, bad="cardinality" in fault)
    n_threads = threads_arg(draw, bad="n_threads" in fault)
    bad = set()
    if t is None:
        bad.add("thresholds")
    if card_k == "bad":
        bad.add("cardinality")
        card_k = None
    if "n_threads" in fault:
        bad.add("n_threads")
    k_eff = effective_k(inp.values, card_k) if inp.signed_int else None
    if votes_are_bad(inp, k_eff) or n_L != n:
        bad.add("L")

    if "mode" in fault:
        mode = draw(st.sampled_from(["missing_query", "orphan_query"]))
    elif bad & {"L_query", "X_query", "neighbors"} or fault & {"L_query", "X_query", "neighbors"}:
        mode = "neighbors" if "neighbors" in fault else "X_query"
    else:
        mode = draw(st.sampled_from(["self", "self", "X_query", "neighbors"]))
    kwargs = {}
    q_emb = q_inp = None
    snaps = inp.snapshot()
    if mode != "self":
        nq = draw(st.integers(0, 25))
        m_q = m + 1 if "L_query" in fault and draw(st.booleans()) else m
        q_inp = draw(label_inputs(k=k, n_m=(nq, m_q), allow_invalid="L_query" in fault,
                                  allow_bad_dtype="L_query" in fault))
        snaps += q_inp.snapshot()
        if q_inp.shape[1] != m or votes_are_bad(q_inp, k_eff):
            bad.add("L_query")
        x_bad = "X_query" in fault
        n_xq = nq + 1 if x_bad and draw(st.booleans()) else nq
        q_emb = draw(embedding_inputs(n=n_xq, d=d + 1 if x_bad and draw(st.booleans()) else d, max_rows=25,
                                      allow_bad=x_bad, allow_nonfinite=x_bad, allow_lattice=True))
        snaps += q_emb.snapshot()
        if mode == "X_query":
            kwargs.update(L_query=q_inp.L, X_query=q_emb.X)
            if embedding_errors(q_emb) or q_emb.shape[1] != d:
                bad.add("X_query")
            elif n_xq != nq:
                bad |= {"L_query", "X_query"}
        elif mode == "neighbors":
            if embedding_errors(q_emb) or q_emb.shape[1] != d:  # a query of the right shape to corrupt below
                q_emb = draw(embedding_inputs(n=n_xq, d=d, allow_bad=False, allow_nonfinite=False, max_rows=25))
            triple = graph.query(q_emb.X)
            if n_xq != nq:
                bad |= {"L_query", "neighbors"}
            if "neighbors" in fault:
                corrupted = draw(corrupt_neighbors(*triple, n, d))
                if corrupted is not None:
                    triple = corrupted
                    bad.add("neighbors")
            kwargs.update(L_query=q_inp.L, neighbors=triple)
        elif mode == "missing_query":  # L_query without its embeddings
            kwargs["L_query"] = q_inp.L
            bad.add("X_query")
        else:  # embeddings without the votes they belong to
            kwargs["X_query"] = q_emb.X
            bad.add("L_query")

    def verify(result):
        out, report = result
        assert out.dtype.kind == "i" and out.dtype.isnative
        if mode == "self":
            assert_extension(out, inp.values, inp.values, graph.X_, graph.X_, t, k_eff, True, emb.lattice)
            query_values = inp.values
        else:
            Xq = kwargs["neighbors"][2] if "neighbors" in kwargs else graph.query(q_emb.X)[2]
            np.testing.assert_allclose(Xq, unit_rows(q_emb.values), atol=2e-6)
            assert_extension(out, inp.values, q_inp.values, graph.X_, Xq, t, k_eff, False,
                             emb.lattice and q_emb.lattice)
            query_values = q_inp.values
        new = (query_values == -1) & (np.asarray(out) >= 0)
        np.testing.assert_array_equal(report.extended, new.sum(axis=0))

    check_call(lambda: extend_votes(inp.L, graph, thresholds, cardinality=cardinality, n_threads=n_threads,
                                    return_report=True, **kwargs), bad, verify,
               also_named=("cardinality",) if bad & {"L", "L_query"} else ())
    assert_unchanged(snaps)


# ---- thresholds ----------------------------------------------------------------------------------------------------
@given(st.data())
def test_nearest_neighbor_thresholds(data):
    draw = data.draw
    fault = draw(faults(["L", "quantile", "floor"]))
    k = draw(st.integers(2, 3))
    n, m, d = draw(st.integers(1, 40)), draw(st.integers(1, 5)), draw(st.integers(1, 8))
    emb, graph = draw(fitted_graph(n, d))
    n_L = n + 1 if "L" in fault and draw(st.booleans()) else n
    inp = draw(label_inputs(k=k, n_m=(n_L, m), allow_invalid=False, allow_bad_dtype="L" in fault))
    quantile = draw(st.sampled_from([1.5, -0.1, np.nan, "0.5", None] if "quantile" in fault else
                                    [0.9, 0.0, 1.0, 0.5, np.float32(0.25), 1]))
    floor = draw(st.sampled_from([np.nan, "x", None] if "floor" in fault else [0.0, 0.0, -1.0, 0.5, 2.0, -np.inf]))
    bad = set()
    if not inp.signed_int or n_L != n:
        bad.add("L")
    if isinstance(quantile, (str, type(None))) or not 0 <= quantile <= 1:
        bad.add("quantile")
    if isinstance(floor, (str, type(None))) or np.isnan(floor):
        bad.add("floor")
    snaps = inp.snapshot()

    def verify(t):
        assert t.shape == (m,) and t.dtype == np.float64
        votes = inp.values >= 0
        complete = graph.n_neighbors_ == n - 1
        S = graph.X_.astype(np.float64) @ graph.X_.T.astype(np.float64)
        np.fill_diagonal(S, np.nan)
        for j in range(m):
            if not votes[:, j].any() or n == 1:
                assert t[j] == np.inf
                continue
            assert floor <= t[j] <= max(1.0 + 1e-5, floor)
            if complete and not np.any((S > 1 - 1e-5) & (S < 1 - 1e-7)):
                # nearest other row that is not an exact duplicate (the least similar one when all are)
                others = [row[~np.isnan(row)] for row in S]
                nearest = np.array([r[r < 1 - 1e-6].max() if (r < 1 - 1e-6).any() else r.min() for r in others])
                want = max(float(np.quantile(nearest[votes[:, j]], float(quantile))), floor)
                assert t[j] == pytest.approx(want, abs=2e-5)

    check_call(lambda: nearest_neighbor_thresholds(inp.L, graph, quantile=quantile, floor=floor), bad, verify)
    assert_unchanged(snaps)


@given(st.data())
def test_tune_thresholds(data):
    draw = data.draw
    fault = draw(faults(["L_dev", "Y_dev", "default", "candidates", "dev_neighbors", "cardinality"]))
    k = draw(st.integers(2, 3))
    n, m, d = draw(st.integers(1, 30)), draw(st.integers(1, 4)), draw(st.integers(4, 8))
    emb, graph = draw(fitted_graph(n, d))
    L = draw(vote_values(n, m, k, allow_invalid=False))
    nd = draw(st.integers(0, 20))
    dev = draw(embedding_inputs(n=nd, d=d, allow_bad=False, allow_nonfinite=False, max_rows=20))
    m_dev = m + 1 if "L_dev" in fault and draw(st.booleans()) else m
    dev_inp = draw(label_inputs(k=k, n_m=(nd, m_dev), allow_invalid="L_dev" in fault,
                                allow_bad_dtype="L_dev" in fault))
    if "Y_dev" in fault:
        Y_dev, Y_values, y_kind = draw(label_vectors(nd, k))
    else:
        Y_dev = Y_values = np.random.default_rng(nd).integers(0, k, nd)
        y_kind = "ok"
    default = draw(st.sampled_from(["short", "nan", "strings"] if "default" in fault else ["ok"]))
    default_arg = {"ok": np.full(m, 0.8), "short": np.full(max(m - 1, 0), 0.8), "nan": np.full(m, np.nan),
                   "strings": ["x"] * m}[default]
    candidates = draw(st.sampled_from([(0.5, np.nan), ("a",), ((0.5,),)] if "candidates" in fault else
                                      [(0.5, 0.75, 0.9), (0.25,), (), (0.9, 0.25, np.inf)]))
    cardinality = draw(st.sampled_from([1, 2.0, None])) if "cardinality" in fault else k
    neighbors = graph.query(dev.X)
    bad = set()
    if dev_inp.shape[1] != m or votes_are_bad(dev_inp, k):
        bad.add("L_dev")
    if y_kind != "ok":
        bad.add("Y_dev")
    if default != "ok":
        bad.add("default")
    if "candidates" in fault:
        bad.add("candidates")
    if "cardinality" in fault:
        bad.add("cardinality")
    if "dev_neighbors" in fault:
        neighbors = (neighbors[0][:-1], neighbors[1][:-1], neighbors[2][:-1]) if nd else "nope"
        bad.add("dev_neighbors")
    snaps = dev_inp.snapshot() + snapshot(Y_dev, default_arg)

    def verify(res):
        per_lf, thr = res["per_lf"], res["thresholds"]
        assert per_lf.shape == (m,) and thr.shape == (m,)
        assert not np.isnan(per_lf).any()
        if not (emb.lattice and dev.lattice):  # the brute force is exact only when the cosines are
            return
        Lq = dev_inp.values
        for j in range(m):  # the per-LF search, redone with the brute-force rule
            gains = []
            for c in sorted(candidates, reverse=True):
                ext, _ = reference_extension(L[:, [j]], Lq[:, [j]], graph.X_, neighbors[2], [c], k, False)
                new = (Lq[:, j] == -1) & (ext[:, 0] >= 0)
                right = (new & (ext[:, 0] == np.asarray(Y_values))).sum()
                gains.append((int(new.sum()), right - (new.sum() - right), c))
            useful = [(g, c) for n_new, g, c in gains if n_new > 0]
            if useful and max(g for g, _ in useful) > 0:
                top = max(g for g, _ in useful)
                assert per_lf[j] == pytest.approx(max(c for g, c in useful if g == top))
            elif not useful:
                assert per_lf[j] == default_arg[j]

    check_call(lambda: tune_thresholds(L, graph, dev_inp.L, Y_dev, dev_neighbors=neighbors, cardinality=cardinality,
                                       default=default_arg, candidates=candidates), bad, verify)
    assert_unchanged(snaps)


# ---- KMeansPartition -----------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings(EMPTY_PARTS)
@given(st.data())
def test_kmeans_partition(data):
    draw = data.draw
    fault = draw(faults(["X", "n_parts", "n_iter", "n_redo", "nan_policy"]))
    nan_policy = "bogus" if "nan_policy" in fault else draw(st.sampled_from(["raise", "zero"]))
    emb = draw(embedding_inputs(allow_bad="X" in fault, allow_nonfinite="X" in fault or nan_policy == "zero"))
    n_parts = draw(st.sampled_from([0, -2, True, 2.0, "4"] if "n_parts" in fault else
                                   [1, 2, 3, 4, max(emb.n, 1), emb.n + 3, 50, np.int64(2)]))
    n_iter = draw(st.sampled_from([-1, 2.5] if "n_iter" in fault else [25, 25, 1, 5, 0]))
    n_redo = draw(st.sampled_from([0, -1] if "n_redo" in fault else [1, 1, 2]))
    bad = set()
    if embedding_errors(emb, "raise" if nan_policy == "bogus" else nan_policy) or emb.n == 0:
        bad.add("X")
    for name in fault - {"X"}:
        bad.add(name)
    part = KMeansPartition(n_parts, n_iter=n_iter, n_redo=n_redo, nan_policy=nan_policy)
    snaps = emb.snapshot()

    def verify(p):
        U = emb.unit()
        G = p.n_parts_
        assert 1 <= G <= min(int(n_parts), emb.n)
        assert p.labels_.shape == (emb.n,) and p.labels_.dtype == np.int64
        assert p.labels_.min() >= 0 and p.labels_.max() < G
        np.testing.assert_array_equal(p.sizes_, np.bincount(p.labels_, minlength=G))
        assert (p.sizes_ > 0).all(), "an empty part was kept"
        assert p.centers_.shape == (G, emb.shape[1]) and np.isfinite(p.centers_).all()
        # every training row sits in its nearest centre (inner product, lowest id on ties)
        scores = U @ p.centers_.astype(np.float64).T
        assert np.all(scores[np.arange(emb.n), p.labels_] >= scores.max(axis=1) - 1e-5)

    exc = check_call(lambda: part.fit(emb.X), bad, verify)
    assert_unchanged(snaps)
    if exc is not None:
        return
    fault = draw(faults(["X"]))
    d = emb.shape[1]
    q = draw(embedding_inputs(d=d + 1 if "X" in fault and draw(st.booleans()) else d, max_rows=20,
                              allow_bad="X" in fault, allow_nonfinite="X" in fault or nan_policy == "zero"))
    bad = {"X"} if embedding_errors(q, nan_policy) or q.shape[1] != d else set()
    snaps = q.snapshot()

    def verify_predict(labels):
        assert labels.shape == (q.n,) and labels.dtype == np.int64
        scores = q.unit() @ part.centers_.astype(np.float64).T
        if q.n:
            assert np.all(scores[np.arange(q.n), labels] >= scores.max(axis=1) - 1e-5)

    check_call(lambda: part.predict(q.X), bad, verify_predict)
    assert_unchanged(snaps)


# ---- label_smoothness ----------------------------------------------------------------------------------------------
def smoothness_reference(U, labels, radii):
    """(pairs with similarity > r, of which same label) per radius, over all pairs i < j, and the pairs' sims."""
    S = U @ U.T
    iu = np.triu_indices(len(U), k=1)
    s, eq = S[iu], (labels[:, None] == labels[None, :])[iu]
    return np.array([(s > r).sum() for r in radii]), np.array([(eq & (s > r)).sum() for r in radii]), s


@given(st.data())
def test_label_smoothness(data):
    draw = data.draw
    fault = draw(faults(["X", "labels", "L", "radii", "max_rows", "source"]))
    emb = draw(embedding_inputs(max_rows=50, allow_bad="X" in fault, allow_nonfinite="X" in fault))
    n = emb.n
    source = draw(st.sampled_from(["both", "neither"] if "source" in fault else ["gold", "votes"]))
    radii = draw(st.sampled_from([(), (0.5, np.nan), ((0.1, 0.2),), ("a",)] if "radii" in fault else
                                 [(0.0, 0.5, 0.9), (0.25, 0.5, 0.75), (-1.0, 1.0), (0.3,), (0.9, 0.1)]))
    max_rows = draw(st.sampled_from([1, 0, -5, 2.5] if "max_rows" in fault else [4000, 4000, 10, 2]))
    bad = set()
    if embedding_errors(emb):
        bad.add("X")
    labels = L_inp = None
    if source in ("gold", "both"):
        if "labels" in fault:
            labels, lab_values, kind = draw(label_vectors(n, draw(st.integers(2, 4))))
        else:
            labels = lab_values = np.random.default_rng(n).integers(0, draw(st.integers(2, 4)), n)
            kind = "ok"
        if kind not in ("ok", "too_big"):  # any non-negative class id is a label here
            bad.add("labels")
    if source in ("votes", "both"):
        L_inp = draw(label_inputs(k=draw(st.integers(2, 3)), n_m=(n + ("L" in fault and draw(st.booleans())),
                                                                 draw(st.integers(1, 3))),
                                  allow_invalid="L" in fault, allow_bad_dtype="L" in fault))
        if not L_inp.signed_int or L_inp.shape[0] != n or (L_inp.values < -1).any():
            bad.add("L")
    if source in ("both", "neither"):
        bad.add("labels")
    if "radii" in fault:
        bad.add("radii")
    if "max_rows" in fault:
        bad.add("max_rows")
    snaps = emb.snapshot() + snapshot(labels) + (L_inp.snapshot() if L_inp is not None else [])

    def verify(curve):
        r = np.sort(np.asarray(radii, dtype=np.float64))
        U = emb.unit()
        if source == "gold":
            groups = [(np.arange(n), np.asarray(lab_values, dtype=np.int64))]
        else:
            groups = [(np.flatnonzero(L_inp.values[:, j] >= 0), L_inp.values[L_inp.values[:, j] >= 0, j])
                      for j in range(L_inp.shape[1])]
        assert curve.pairs.shape == r.shape and curve.agreement.shape == r.shape
        assert np.all(np.isnan(curve.agreement) == (curve.pairs == 0))  # NaN exactly where no pair is that close
        ok = curve.pairs > 0
        assert np.all((curve.agreement[ok] >= 0) & (curve.agreement[ok] <= 1))
        if any(len(rows) > max_rows for rows, _ in groups):
            return  # a seeded subsample: only the properties above
        total = np.zeros(r.size, np.int64)
        same = np.zeros(r.size, np.int64)
        near = False
        for rows, lab in groups:
            if len(rows) < 2:
                continue
            t, s_, sims = smoothness_reference(U[rows], lab, r)
            total += t
            same += s_
            near |= bool(np.any(np.abs(sims[:, None] - r[None, :]) < 1e-5))
        if emb.lattice or not near:  # ties aside: a pair within 1e-5 of a radius may fall on either side
            np.testing.assert_array_equal(curve.pairs, total)
            np.testing.assert_allclose(curve.agreement[ok], same[ok] / total[ok], rtol=1e-12)

    L_arg = None if L_inp is None else L_inp.L
    check_call(lambda: label_smoothness(emb.X, labels, L=L_arg, radii=radii, max_rows=max_rows), bad, verify)
    assert_unchanged(snaps)


# ---- ws_knn_proba --------------------------------------------------------------------------------------------------
@given(st.data())
def test_ws_knn_proba(data):
    draw = data.draw
    fault = draw(faults(["P_train", "neighbor_ids", "n_neighbors"]))
    n, k, nq, K = draw(st.integers(0, 30)), draw(st.integers(2, 4)), draw(st.integers(0, 20)), draw(st.integers(0, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    P = rng.dirichlet(np.ones(k), size=n)
    ids = rng.integers(0, max(n, 1), size=(nq, K)) if n else np.full((nq, K), -1)
    if nq and K:
        ids[rng.random((nq, K)) < 0.2] = -1  # short lists are padded with -1
    ids = ids.astype(draw(st.sampled_from([np.int64, np.int64, np.int32])))
    n_neighbors = draw(st.sampled_from([0, -1, 2.5, True] if "n_neighbors" in fault else
                                       [10, 1, 3, max(K, 1), np.int64(2)]))
    bad = {"n_neighbors"} if "n_neighbors" in fault else set()
    P_arg, ids_arg = P, ids
    if "P_train" in fault:
        how = draw(st.sampled_from(["1d", "nan", "negative", "rowsum", "strings"]))
        if how == "1d":
            P_arg = P.ravel()
        elif how == "strings":
            P_arg = P.astype(str)
        elif n:
            P_arg = P.copy()
            P_arg[0, 0] = {"nan": np.nan, "negative": -0.5, "rowsum": 3.0}[how]
        if P_arg is not P:
            bad.add("P_train")
    if "neighbor_ids" in fault:
        how = draw(st.sampled_from(["float", "1d", "range", "low"]))
        if how == "float":
            ids_arg = ids.astype(np.float64)
        elif how == "1d":
            ids_arg = ids.ravel()
        elif nq and K:
            ids_arg = ids.copy()
            ids_arg[0, 0] = n + 3 if how == "range" else -7
        if ids_arg is not ids:
            bad.add("neighbor_ids")
    snaps = snapshot(P_arg, ids_arg)

    def verify(out):
        assert_proba(out, nq, k)
        want = np.zeros((nq, k))
        for i in range(nq):
            row = ids[i, :int(n_neighbors)]
            row = row[row >= 0]
            want[i] = P[row].mean(axis=0) if row.size else 1.0 / k  # no neighbour: no information
        np.testing.assert_allclose(out, want, atol=1e-12)

    check_call(lambda: ws_knn_proba(P_arg, ids_arg, n_neighbors), bad, verify)
    assert_unchanged(snaps)


# ---- Epoxy / Liger -------------------------------------------------------------------------------------------------
LABEL_MODELS = ("symmetric", "symmetric", "triplet", "dawid_skene")


def label_model_arg(name):
    return symmetric_fit(0.8) if name == "symmetric" else name


@st.composite
def fusion_dev_data(draw, m: int, d: int, k: int, bad: bool):
    """(dev kwargs, Y_dev values or None, names of the wrong arguments)."""
    # "unlabeled" (L_dev and X_dev without Y_dev) is refused: dev data is used only with its labels
    kind = draw(st.sampled_from(["X_rows", "X_nan", "L_cols", "L_dtype", "Y_bad", "Y_only", "L_only", "unlabeled"]
                                if bad else ["none", "full"]))
    if kind == "none":
        return {}, None, set()
    nd = draw(st.integers(1, 15))
    Ld = draw(vote_values(nd, m + (kind == "L_cols"), k, allow_invalid=False)).astype(
        np.float64 if kind == "L_dtype" else draw(st.sampled_from(SIGNED)))
    Xd = draw(embedding_inputs(n=nd + (kind == "X_rows"), d=d, allow_bad=False, allow_nonfinite=False,
                               max_rows=16))
    X_dev = Xd.X
    if kind == "X_nan":
        with np.errstate(over="ignore"):  # a 1e200 row becomes inf in float32: non-finite either way
            X_dev = np.array(Xd.values, dtype=np.float32)
        X_dev[draw(st.integers(0, nd - 1)), 0] = draw(st.sampled_from([np.nan, np.inf]))
    Y = np.random.default_rng(nd).integers(0, k, nd)
    args = {"L_dev": Ld, "X_dev": X_dev, "Y_dev": Y}
    wrong = {"X_rows": {"X_dev"}, "X_nan": {"X_dev"}, "L_cols": {"L_dev"}, "L_dtype": {"L_dev"}}.get(kind, set())
    if kind == "unlabeled":
        del args["Y_dev"]
        wrong = {"Y_dev"}
    elif kind == "Y_bad":
        args["Y_dev"] = np.append(Y, 0)
        wrong = {"Y_dev"}
    elif kind == "Y_only":
        args = {"Y_dev": Y}
        wrong = {"L_dev", "X_dev", "Y_dev"}
    elif kind == "L_only":
        del args["X_dev"]
        wrong = {"L_dev", "X_dev"}
    return args, (None if wrong else Y), wrong


@pytest.mark.filterwarnings(EMPTY_PARTS)
@given(st.data())
def test_epoxy_liger(data):
    draw = data.draw
    fault = draw(faults(["L", "X", "thresholds", "cardinality", "n_threads", "n_neighbors", "threshold_quantile",
                         "dev", "n_parts", "shrinkage", "label_model"]))
    k = draw(st.integers(2, 3))
    n, m, d = draw(st.integers(1, 40)), draw(st.integers(1, 5)), draw(st.integers(1, 8))
    if "L" in fault and draw(st.integers(0, 3)) == 0:
        n = 0
    cls = draw(st.sampled_from([Epoxy, Liger]))
    n_X = n + 1 if "X" in fault and draw(st.booleans()) else n
    emb = draw(embedding_inputs(n=n_X, d=d, allow_bad="X" in fault, allow_nonfinite="X" in fault))
    inp = draw(label_inputs(k=k, n_m=(n, m), allow_invalid="L" in fault, allow_bad_dtype="L" in fault))
    lm = "bogus" if "label_model" in fault else draw(st.sampled_from(LABEL_MODELS))
    if "thresholds" in fault:
        thresholds, t_given = draw(st.one_of(st.just(("bogus", None)), threshold_args(m, bad=True)))
    else:
        thresholds, t_given = draw(st.one_of(st.sampled_from([("unsupervised", None), ("auto", None),
                                                               ("tune", None)]), threshold_args(m)))
    params = dict(thresholds=thresholds,
                  n_neighbors=0 if "n_neighbors" in fault else draw(st.sampled_from([1, 3, 5, max(n - 1, 1), n + 4])),
                  threshold_quantile=draw(st.sampled_from([1.5, np.nan, "x"] if "threshold_quantile" in fault else
                                                          [0.9, 0.9, 0.0, 1.0])),
                  threshold_offsets=(-0.05, 0.0, 0.05), n_threads=threads_arg(draw, "n_threads" in fault))
    params["cardinality"], card_k = cardinality_arg(draw, k, bad="cardinality" in fault)
    if cls is Liger:
        params.update(n_parts=draw(st.sampled_from([0, -1, 2.5] if "n_parts" in fault else
                                                   [1, 2, 3, n + 2, "auto", "auto"])),
                      parts_grid=(1, 2),
                      shrinkage=draw(st.sampled_from([-1.0, np.nan] if "shrinkage" in fault else [0.0, 10.0, 100.0])))
    dev_args, Y_values, bad = draw(fusion_dev_data(m, d, k, bad="dev" in fault))
    if isinstance(thresholds, str) and thresholds == "tune" and "Y_dev" not in dev_args:
        bad.add("Y_dev")
    bad |= fault & {"n_threads", "n_neighbors", "threshold_quantile", "label_model"}
    if cls is Liger:
        bad |= fault & {"n_parts", "shrinkage"}
    if t_given is None and not (isinstance(thresholds, str) and thresholds in ("unsupervised", "auto", "tune")):
        bad.add("thresholds")
    if card_k == "bad":
        bad.add("cardinality")
        card_k = None
    if embedding_errors(emb) or emb.n != n or n == 0:
        bad.add("X")
    k_eff = effective_k(inp.values, card_k, Y_values) if inp.signed_int else None
    if votes_are_bad(inp, k_eff) or n == 0:
        bad.add("L")
    if "L_dev" in dev_args and k_eff is not None and first_invalid_vote(
            np.asarray(dev_args["L_dev"]).astype(np.int64), k_eff) is not None:
        bad.add("L_dev")
    model = cls(label_model_arg(lm), **params)
    snaps = inp.snapshot() + emb.snapshot() + snapshot(*dev_args.values())

    def verify(est):
        assert est is model
        L_vals = inp.values
        assert_proba(est.train_proba_, n, k_eff)
        assert est.thresholds_.shape == (m,) and not np.isnan(est.thresholds_).any()
        if t_given is not None:
            np.testing.assert_array_equal(est.thresholds_, t_given)
        U = est.graph_.X_
        np.testing.assert_allclose(U, emb.unit(), atol=2e-6)
        assert_extension(est.L_extended_, L_vals, L_vals, U, U, est.thresholds_, k_eff, True, emb.lattice)
        parts = np.zeros(n, np.int64) if est.partition_ is None else est.partition_.labels_
        want = posterior_reference(np.asarray(est.L_extended_, np.int64), est.cpt_, est.class_balance_, parts)
        np.testing.assert_allclose(est.train_proba_, want, atol=1e-8)

    exc = check_call(lambda: model.fit(inp.L, emb.X, **dev_args), bad, verify,
                     also_named=("cardinality",) if bad & {"L", "L_dev", "Y_dev"} else ())
    assert_unchanged(snaps)
    if exc is not None:  # a failed fit leaves no half-fitted model behind
        with pytest.raises(NotFittedError):
            model.predict_proba(np.zeros((1, m), np.int8), np.ones((1, d), np.float32))
        return

    # predictions on another split: the extension against the training votes, then the per-part posterior
    fault = draw(faults(["L", "X"]))
    nq = draw(st.integers(0, 12))
    q_inp = draw(label_inputs(k=k, n_m=(nq, m + ("L" in fault and draw(st.booleans()))),
                              allow_invalid="L" in fault, allow_bad_dtype="L" in fault))
    nq_X = nq + 1 if "X" in fault and draw(st.booleans()) else nq
    q_emb = draw(embedding_inputs(n=nq_X, d=d + 1 if "X" in fault and draw(st.booleans()) else d, max_rows=13,
                                  allow_bad="X" in fault, allow_nonfinite="X" in fault))
    bad = set()
    if q_inp.shape[1] != m or votes_are_bad(q_inp, k_eff):
        bad.add("L")
    if embedding_errors(q_emb) or q_emb.shape[1] != d:
        bad.add("X")
    elif nq_X != nq:
        bad |= {"L", "X"}
    snaps = q_inp.snapshot() + q_emb.snapshot()

    def verify_predict(P):
        assert_proba(P, nq, k_eff)
        Uq = unit_rows(q_emb.values)
        L_ext, margin = reference_extension(inp.values, q_inp.values, model.graph_.X_, Uq, model.thresholds_,
                                            k_eff, False)
        parts = np.zeros(nq, np.int64) if model.partition_ is None else model.partition_.predict(q_emb.X)
        want = posterior_reference(L_ext, model.cpt_, model.class_balance_, parts)
        sure = (margin > (-1.0 if emb.lattice and q_emb.lattice else 1e-5)).all(axis=1)
        np.testing.assert_allclose(P[sure], want[sure], atol=1e-6)
        np.testing.assert_array_equal(model.predict(q_inp.L, q_emb.X), P.argmax(axis=1))
        np.testing.assert_array_equal(np.asarray(model.extend(q_inp.L, q_emb.X), np.int64)[sure], L_ext[sure])

    check_call(lambda: model.predict_proba(q_inp.L, q_emb.X), bad, verify_predict)
    assert_unchanged(snaps)

    if draw(st.integers(0, 3)) == 0:  # save / load: the same predictions (a callable label model is passed back)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.npz"
            model.save(path)
            back = cls.load(path, label_model=label_model_arg(lm) if lm == "symmetric" else None)
        probe_L, probe_X = np.ascontiguousarray(inp.values[:5]), emb.X[:5] if emb.n else emb.X
        np.testing.assert_allclose(back.predict_proba(probe_L, probe_X), model.predict_proba(probe_L, probe_X),
                                   atol=1e-12)
        np.testing.assert_allclose(back.train_proba_, model.train_proba_, atol=1e-12)

    # the layout and dtype of L do not change anything
    if inp.layout != "C" or inp.dtype != np.int64:
        twin = cls(label_model_arg(lm), **params).fit(np.ascontiguousarray(inp.values), emb.X, **dev_args)
        np.testing.assert_array_equal(twin.L_extended_, np.asarray(model.L_extended_, np.int64))
        np.testing.assert_allclose(twin.train_proba_, model.train_proba_, atol=1e-12)

    # refit with an edited LF (any dtype, or edited in place), a different number of LFs, or bad columns
    fault = draw(faults(["L", "columns"]))
    edit = draw(st.sampled_from(["one", "one", "all", "same", "in_place"]))
    L2 = inp.values.copy()
    j = draw(st.integers(0, m - 1))
    L2[:, j] = np.random.default_rng(j).integers(-1, k_eff, n)
    if edit == "all":
        L2 = np.random.default_rng(1).integers(-1, k_eff, (n, m))
    elif edit == "same":
        L2 = inp.values.copy()
    L2_arg = L2.astype(draw(st.sampled_from([t for t in SIGNED if np.iinfo(t).max >= k_eff])))
    if edit == "in_place":  # the interactive loop: fit on an array, edit one LF's column in it, refit on it
        L2_arg = inp.values.copy()
        model = cls(label_model_arg(lm), **params).fit(L2_arg, emb.X, **dev_args)
        L2_arg[:, j] = L2[:, j]
    columns, bad = None, set()
    if "L" in fault:
        L2_arg = draw(st.sampled_from([np.hstack([L2_arg, L2_arg[:, :1]]), L2_arg[:-1], L2_arg.astype(np.float64),
                                       np.where(L2_arg == 0, -2, L2_arg) if (L2 == 0).any() else L2_arg[:, :0]]))
        bad.add("L")
    if "columns" in fault:
        columns = draw(st.sampled_from([[m], [-1], [0.5], ["a"], [True], 3]))
        bad.add("columns")
    before = model.train_proba_.copy()

    def verify_refit(est):
        assert_proba(est.train_proba_, n, k_eff)
        assert_extension(est.L_extended_, L2, L2, est.graph_.X_, est.graph_.X_, est.thresholds_, k_eff, True,
                         emb.lattice)
        if edit == "same":
            np.testing.assert_allclose(est.train_proba_, before, atol=1e-10)

    check_call(lambda: model.refit(L2_arg, columns=columns), bad, verify_refit,
               also_named=("cardinality",) if "L" in bad else ())


@given(st.data())
def test_unfitted_fusion_estimators_raise_not_fitted(data):
    draw = data.draw
    n, m, d = draw(st.integers(0, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    L = np.zeros((n, m), np.int8)
    X = np.ones((n, d), np.float32)
    est = draw(st.sampled_from([Epoxy(), Liger(), NeighborGraph(), KMeansPartition()]))
    calls = {
        "fusion": [lambda: est.predict_proba(L, X), lambda: est.predict(L, X), lambda: est.extend(L, X),
                   lambda: est.refit(L), lambda: est.save("never-written.npz")],
        "graph": [lambda: est.query(X), lambda: est.save("never-written.npz"), lambda: est.n_rows],
        "partition": [lambda: est.predict(X)],
    }["fusion" if isinstance(est, (Epoxy, Liger)) else "graph" if isinstance(est, NeighborGraph) else "partition"]
    call = draw(st.sampled_from(calls))
    with pytest.raises(NotFittedError, match="not fitted"):
        call()
    assert not Path("never-written.npz").exists()
