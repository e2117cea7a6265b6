"""Property-based fuzzing of the end models: Adapter, SingleTask / FlatMTL / HierMTL, SliceClassifier, Ensemble.

For fit (X, soft or hard labels, dev data, mask, sample weights), predict_proba, predict, predict_task_proba,
predict_head_proba and score: either a correct result — probabilities finite, non-negative, rows summing to 1,
shape (n, k); end-label probabilities the product of the task heads along each path; a slice model's output the
mean of its base head and the heads of the row's slices; an ensemble's the mean of its members'; predictions the
argmax; the same predictions whatever the layout / dtype X was passed in — or a ValueError/TypeError whose message
starts with the name of an argument that really is wrong. Never a crash, another exception, an unexpected warning,
a NaN in an output, or a changed input array. Networks are tiny (1-2 epochs, widths <= 4, CPU) to keep each
example cheap; torch examples run at a fraction of the profile's count (``scaled_settings``).

Features must be finite and within +-1e18 (the networks train in float32; beyond that products overflow): NaN, inf
and 1e30 raise a ValueError naming the argument and the first bad entry — as NaN/inf embeddings do in
labelfuse.embeddings (whose rows are normalised, so any finite magnitude is fine there).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from labelfuse.endmodels import (  # noqa: E402
    Adapter,
    Ensemble,
    FlatMTL,
    HierMTL,
    SingleTask,
    SliceClassifier,
    load_model,
)
from labelfuse.endmodels._checks import FEATURE_LIMIT  # noqa: E402
from labelfuse.hierarchy import TaskGraph  # noqa: E402
from labelfuse.metrics import break_ties  # noqa: E402
from labelfuse.models import NotFittedError  # noqa: E402

from fuzz_inputs import (  # noqa: E402
    EmbeddingInput,
    assert_unchanged,
    check_call,
    embedding_inputs,
    faults,
    label_vectors,
    scaled_settings,
    snapshot,
)

# fuzzed inputs abstain on rows by design; scoring them warns
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.AbstentionWarning")

TREES = (
    {"y": {"cardinality": 3, "parent": None}},
    {"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 1)}},
    {"a": {"cardinality": 3, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 0)},
     "c": {"cardinality": 2, "parent": ("a", 2)}},
)
TORCH_EXAMPLES = 1.0  # of the profile's count (60 in CI, ~1 s per test here: tiny networks, 1-2 epochs)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # tiny networks train faster on one thread than on two busy shared cores; restored afterwards
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- oracle pieces -----------------------------------------------------------------------------------------------
def feature_errors(emb: EmbeddingInput) -> bool:
    """Features are invalid when not a real 2-D matrix with columns, or when an entry is NaN/inf or beyond
    +-FEATURE_LIMIT (1e18: larger values overflow the networks' float32 training)."""
    if emb.problem is not None:
        return True
    return bool(emb.nonfinite.any()) or bool(np.any(np.abs(emb.values) > FEATURE_LIMIT))


def assert_proba(P, n: int, k: int) -> None:
    assert isinstance(P, np.ndarray) and P.shape == (n, k), (getattr(P, "shape", None), (n, k))
    assert np.isfinite(P).all() and (P >= 0).all(), "probabilities not finite / negative"
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)


def uniform(P: np.ndarray) -> np.ndarray:
    return np.all(np.abs(P - 1.0 / P.shape[1]) <= 1e-6, axis=1)


@st.composite
def soft_labels(draw, n: int, k: int, fixed_width: bool = False, bad: bool = False):
    """(P as passed, float64 probabilities or None when P is wrong, has-label mask).

    Valid: probability rows (Dirichlet or one-hot; float64, float32, lists, integer one-hot), with uniform rows (no
    signal), all-NaN rows (no label) and rows off 1 by 1e-6; or hard labels (integer classes, -1 = no label).
    Wrong (``bad``): a row summing to 0 or 1.5, a negative or > 1 entry, a partly NaN row, inf, a hard label below
    -1, a wrong width / row count / dimension / dtype."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alpha = draw(st.sampled_from([0.1, 1.0, 10.0]))
    P = rng.dirichlet(np.full(k, alpha), size=n) if n else np.zeros((0, k))
    if draw(st.integers(0, 3)) == 0 and n:
        P = np.eye(k)[rng.integers(0, k, n)]
    has = np.ones(n, bool)
    valid_forms = ["matrix"] * 4 + ["float32", "list", "int_onehot", "hard"] + ([] if fixed_width else ["wide"])
    bad_forms = ["row_defect"] * 4 + ["hard_bad", "narrow", "rows", "3d", "1d_float", "object"] + (
        ["wide"] if fixed_width else [])
    form = draw(st.sampled_from(bad_forms if bad else valid_forms))
    used = set()
    for _ in range(draw(st.integers(0, 3)) if n and form in ("matrix", "float32", "list", "row_defect") else 0):
        r = draw(st.integers(0, n - 1))
        if r in used:  # one change per row: a later one must not undo an earlier defect
            continue
        used.add(r)
        what = draw(st.sampled_from(["uniform", "nan_row", "tiny_off"]))
        if what == "uniform":
            P[r] = 1.0 / k
        elif what == "nan_row":
            P[r] = np.nan
            has[r] = False
        else:
            P[r] = P[r] * (1 + 1e-6)
    if form == "row_defect":
        if not n or len(used) == n:
            form = "narrow"
        else:
            r = draw(st.sampled_from(sorted(set(range(n)) - used)))
            what = draw(st.sampled_from(["zero_row", "scaled", "negative", "over_one", "partial_nan", "inf"]))
            if what == "zero_row":
                P[r] = 0.0
            elif what == "scaled":
                P[r] = P[r] * 1.5 + 0.1
            elif what == "negative":
                P[r, 0] = -0.25
            elif what == "over_one":
                P[r, 0] = 1.5
            elif what == "partial_nan":
                P[r] = 1.0 / k
                P[r, 0] = np.nan
            else:
                P[r, 0] = np.inf
            return (P.astype(np.float32) if draw(st.booleans()) else P), None, has
    values = np.where(np.isnan(P), 1.0 / k, P)
    if form == "float32":
        return P.astype(np.float32), values, has
    if form == "list":
        return (P.tolist() if n else P), values, has
    if form == "int_onehot":
        onehot = np.eye(k, dtype=np.int64)[rng.integers(0, k, n)]
        return onehot, onehot.astype(np.float64), np.ones(n, bool)
    if form in ("hard", "hard_bad"):
        y = rng.integers(-1, k, n)
        has = y >= 0
        if form == "hard_bad":
            if not n:
                return np.zeros((0, 1)), None, has
            y[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-2, -100]))
            return y, None, has
        # the number of classes of hard labels is inferred (the largest class + 1, at least 2) unless fixed
        width = k if fixed_width else max(2, int(y.max()) + 1 if n else 2)
        out = np.full((n, width), 1.0 / width)
        out[has] = np.eye(width)[y[has]]
        return y, out, has
    if form == "wide":
        return np.hstack([P, np.zeros((n, 1))]), (None if fixed_width else np.hstack([values, np.zeros((n, 1))])), has
    if form == "narrow":
        return P[:, :1], None, has
    if form == "rows":
        return (np.vstack([P, P[:1]]) if n else np.full((1, k), 1.0 / k)), None, has
    if form == "3d":
        return P[:, :, None], None, has
    if form == "1d_float":
        return P[:, 0], None, has
    if form == "object":
        return P.astype(object), None, has
    return P, values, has


@st.composite
def row_masks(draw, n: int, bad: bool = False):
    """(mask as passed, bool values or None when wrong)."""
    kind = draw(st.sampled_from(["short", "int", "float"] if bad else ["none"] * 3 + ["ok", "ok", "all_false"]))
    m = np.random.default_rng(draw(st.integers(0, 2**16))).random(n) < 0.7
    if kind == "none":
        return None, np.ones(n, bool)
    if kind == "all_false":
        return np.zeros(n, bool), np.zeros(n, bool)
    if kind == "short":
        return np.ones(n + 1, bool), None
    if kind == "int":
        return m.astype(np.int64), None
    if kind == "float":
        return m.astype(np.float64), None
    return m, m


@st.composite
def sample_weights(draw, n: int, bad: bool = False):
    """(weights as passed, float values or None when wrong)."""
    kind = draw(st.sampled_from(["negative", "nan", "inf", "short", "bool", "strings"] if bad else
                                ["none"] * 3 + ["ok", "ok", "int", "zeros", "list"]))
    w = np.random.default_rng(draw(st.integers(0, 2**16))).random(n) * 3
    if kind == "none":
        return None, np.ones(n)
    if kind == "int":
        wi = np.round(w).astype(np.int64) + 1  # counts (a duplicate-row weighting)
        return wi, wi.astype(np.float64)
    if kind == "zeros":
        return np.zeros(n), np.zeros(n)
    if kind == "list":
        return w.tolist(), w
    if kind in ("negative", "nan", "inf"):
        if not n:
            return np.ones(1), None
        w[0] = {"negative": -1.0, "nan": np.nan, "inf": np.inf}[kind]
        return w, None
    if kind == "short":
        return (w[:-1] if n else np.ones(1)), None
    if kind == "bool":
        return w > 1, None
    if kind == "strings":
        return w.astype(str), None
    return w, w


@st.composite
def training_params(draw, with_schedule: bool = False, bad: bool = False):
    """(params, names of the wrong ones)."""
    p = dict(hidden=draw(st.sampled_from([(), (4,), (3, 2)])), max_epochs=draw(st.sampled_from([1, 2])),
             batch_size=draw(st.sampled_from([1, 7, 64])), lr=draw(st.sampled_from([1e-3, 0.1])),
             dropout=draw(st.sampled_from([0.0, 0.5])), patience=draw(st.sampled_from([None, 1])),
             confidence_weighted=draw(st.booleans()), exclude_uniform=draw(st.sampled_from([True, True, False])),
             n_threads=draw(st.sampled_from([None, 1])), device="cpu", progress=False,
             random_state=draw(st.sampled_from([0, 1, None])))
    if with_schedule:
        p["schedule"] = draw(st.sampled_from(["mmtl", "joint"]))
        p["finetune_epochs"] = draw(st.sampled_from([0, 1]))
    if not bad:
        return p, set()
    name, value = draw(st.sampled_from(
        [("max_epochs", 0), ("max_epochs", 1.5), ("batch_size", 0), ("batch_size", 2.5), ("lr", -1.0),
         ("lr", np.nan), ("dropout", 1.0), ("dropout", np.nan), ("hidden", (0,)), ("hidden", 3), ("patience", 0),
         ("n_threads", 0), ("weight_decay", -1.0), ("device", "tpu"), ("mixed_precision", "sometimes")]
        + ([("schedule", "bogus"), ("finetune_epochs", -1)] if with_schedule else [])))
    p[name] = value
    return p, {name}


def signal_rows(values: np.ndarray, has: np.ndarray, params: dict) -> np.ndarray:
    """Rows that carry a label signal for the loss (before mask / sample weights)."""
    rows = has.copy()
    if params.get("exclude_uniform", True) or params.get("confidence_weighted", False):
        rows &= ~uniform(values)
    return rows


def add_weight_blame(bad: set, P_signal: np.ndarray, mask_values, w_values, mask, weight) -> None:
    """No row left to learn from: P is to blame when it has no signal at all, else mask / sample_weight."""
    if not P_signal.any():
        bad.add("P")
        return
    if mask_values is None or w_values is None:
        return  # already wrong
    if not (P_signal & mask_values & (w_values > 0)).any():
        bad |= {name for name, given in (("mask", mask), ("sample_weight", weight)) if given is not None}


@st.composite
def dev_data(draw, d: int, k: int, bad: bool = False):
    """(X_dev, Y_dev, names of the wrong ones)."""
    kind = draw(st.sampled_from(["X_only", "Y_only", "X_bad", "Y_bad", "rows"] if bad else
                                ["none", "none", "ok", "ok", "empty"]))
    if kind == "none":
        return None, None, set()
    nd = 0 if kind == "empty" else draw(st.integers(1, 12))
    Xd = draw(embedding_inputs(n=nd, d=d + 1 if kind == "X_bad" and draw(st.booleans()) else d,
                               allow_bad=kind == "X_bad", allow_nonfinite=kind == "X_bad", allow_lattice=False,
                               allow_huge=kind == "X_bad", max_rows=12))
    if kind == "X_bad" and not (feature_errors(Xd) or Xd.shape[1] != d):
        return Xd.X, np.arange(nd) % k, set()  # a "wrong" draw that came out right
    Y = np.arange(nd) % k
    if kind == "Y_bad":
        Y, _, y_kind = draw(label_vectors(nd, k))
        return Xd.X, Y, ({"Y_dev"} if y_kind != "ok" else set())
    if kind == "rows":
        return Xd.X, np.append(Y, 0), {"X_dev", "Y_dev"}
    if kind == "X_only":
        return Xd.X, None, {"X_dev", "Y_dev"}
    if kind == "Y_only":
        return None, Y, {"X_dev", "Y_dev"}
    return Xd.X, Y, ({"X_dev"} if kind == "X_bad" else set())


def twin_features(emb: EmbeddingInput) -> np.ndarray:
    """The same features as a plain C-contiguous float32 array."""
    return np.ascontiguousarray(emb.values, dtype=np.float32)


def assert_round_trip(model, X: np.ndarray) -> None:
    """save / load_model give back a model with the same predictions."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "model")
        back = load_model(Path(tmp) / "model", device="cpu")
    assert type(back) is type(model)
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X), atol=1e-6)


def feature_input(draw, n: int, d: int, bad: bool):
    """(features, rows they were drawn with): wrong ones have NaN/inf, values beyond float32, a bad dtype or shape,
    or one row too many."""
    n_X = n + 1 if bad and draw(st.integers(0, 3)) == 0 else n
    return draw(embedding_inputs(n=n_X, d=d, allow_bad=bad, allow_nonfinite=bad, allow_lattice=False,
                                 allow_huge=bad)), n_X


# ---- Adapter -----------------------------------------------------------------------------------------------------
@scaled_settings(TORCH_EXAMPLES)
@given(st.data())
def test_adapter(data):
    draw = data.draw
    fault = draw(faults(["X", "P", "mask", "sample_weight", "params", "dev", "dev_metric"]))
    n, d, k = draw(st.integers(0, 40)), draw(st.integers(1, 8)), draw(st.integers(2, 4))
    emb, n_X = feature_input(draw, n, d, "X" in fault)
    P, p_values, has = draw(soft_labels(n, k, bad="P" in fault))
    k_model = p_values.shape[1] if p_values is not None else k
    mask, mask_values = draw(row_masks(n, bad="mask" in fault))
    weight, w_values = draw(sample_weights(n, bad="sample_weight" in fault))
    params, bad = draw(training_params(bad="params" in fault))
    X_dev, Y_dev, dev_bad = draw(dev_data(d, k_model, bad="dev" in fault))
    bad |= dev_bad
    if "dev_metric" in fault:
        params["dev_metric"] = draw(st.sampled_from(["bogus", "f1"] if k_model != 2 else ["bogus"]))
        bad.add("dev_metric")
    else:
        params["dev_metric"] = draw(st.sampled_from(["accuracy", "macro_f1"] + (["f1"] if k_model == 2 else [])))
    if feature_errors(emb):
        bad.add("X")
    if n_X != n:
        bad |= {"X", "P"}
    if p_values is None:
        bad.add("P")
    if mask_values is None:
        bad.add("mask")
    if w_values is None:
        bad.add("sample_weight")
    if p_values is not None:
        add_weight_blame(bad, signal_rows(p_values, has, params), mask_values, w_values, mask, weight)
    model = Adapter(**params)
    snaps = emb.snapshot() + snapshot(P, mask, weight, X_dev, Y_dev)

    def verify(est):
        assert est is model and est.n_classes_ == k_model and est.n_features_in_ == d

    exc = check_call(lambda: model.fit(emb.X, P, X_dev, Y_dev, mask=mask, sample_weight=weight), bad, verify,
                     also_named=("X",) if n == 0 else ())
    assert_unchanged(snaps)
    if exc is not None:  # a failed fit leaves no fitted model behind
        with pytest.raises(NotFittedError, match="not fitted"):
            model.predict_proba(np.zeros((1, d), np.float32))
        return
    check_predictions(draw, model, d, k_model, model.predict_proba)
    if draw(st.integers(0, 4)) == 0:
        assert_round_trip(model, twin_features(emb))
    if (emb.layout != "C" or emb.dtype != np.float32) and params["random_state"] is not None:
        # the same model whatever layout / dtype X came in
        twin = Adapter(**params).fit(twin_features(emb), P, X_dev, Y_dev, mask=mask, sample_weight=weight)
        probe = twin_features(emb)
        np.testing.assert_allclose(twin.predict_proba(probe), model.predict_proba(probe), atol=1e-6)


def check_predictions(draw, model, d: int, k: int, proba):
    """proba (predict_proba, possibly with extra checks) / predict / score on another split (possibly wrong)."""
    fault = draw(faults(["X", "Y", "metric"]))
    nq = draw(st.integers(0, 15))
    q = draw(embedding_inputs(n=nq, d=d + 1 if "X" in fault and draw(st.booleans()) else d, allow_lattice=False,
                              max_rows=15, allow_bad="X" in fault, allow_nonfinite="X" in fault,
                              allow_huge="X" in fault))
    bad = {"X"} if feature_errors(q) or q.shape[1] != d else set()
    snaps = q.snapshot()
    got = []

    def verify(P):
        assert_proba(P, nq, k)
        got.append(P)

    exc = check_call(lambda: proba(q.X), bad, verify)
    assert_unchanged(snaps)
    if exc is not None or getattr(model, "slice_names_", None):  # a slice model's score needs the membership
        return
    P = got[0]
    np.testing.assert_array_equal(model.predict(q.X), P.argmax(axis=1))
    if "Y" in fault:
        Y, y_values, y_kind = draw(label_vectors(nq, k))
    else:
        Y = y_values = np.random.default_rng(nq).integers(0, k, nq)
        y_kind = "ok"
    if "metric" in fault:
        metric = draw(st.sampled_from(["bogus", "f1"] if k != 2 else ["bogus"]))
    else:
        metric = draw(st.sampled_from(["accuracy", "macro_f1"] + (["f1"] if k == 2 else [])))
    bad = set()
    if y_kind != "ok":
        bad.add("Y")
    if "metric" in fault:
        bad.add("metric")
    if nq == 0:
        bad.add("X")  # no rows to score

    def verify_score(s):
        assert isinstance(s, float) and 0.0 <= s <= 1.0
        if metric == "accuracy":
            # the scoring contract: rows whose top classes tie are abstentions, counted wrong by default
            assert s == pytest.approx(float(np.mean(break_ties(P, "abstain") == np.asarray(y_values))))

    check_call(lambda: model.score(q.X, Y, metric=metric), bad, verify_score,
               also_named=("Y",) if nq == 0 else ())
    assert_unchanged(snaps)


# ---- multi-task --------------------------------------------------------------------------------------------------
@scaled_settings(TORCH_EXAMPLES)
@given(st.data())
def test_multitask(data):
    draw = data.draw
    fault = draw(faults(["X", "P", "mask", "sample_weight", "params", "dev"]))
    cls = draw(st.sampled_from([SingleTask, FlatMTL, HierMTL]))
    tree = TaskGraph(draw(st.sampled_from(TREES))).validate()
    n, d = draw(st.integers(0, 30)), draw(st.integers(1, 6))
    k_end = tree.n_end_labels
    emb, n_X = feature_input(draw, n, d, "X" in fault)
    params, bad = draw(training_params(with_schedule=True, bad="params" in fault))
    if cls is HierMTL:
        params["feed"] = draw(st.sampled_from(["children", "parent"]))
    mask, mask_values = draw(row_masks(n, bad="mask" in fault))
    weight, w_values = draw(sample_weights(n, bad="sample_weight" in fault))
    if draw(st.integers(0, 2)) == 0:  # per-task labels: a dict of soft or hard labels, missing tasks allowed
        P, signal, p_bad = {}, np.zeros(n, bool), False
        tasks = draw(st.lists(st.sampled_from(sorted(tree.tasks)), min_size=1, max_size=3, unique=True))
        wrong_task = draw(st.sampled_from(tasks)) if "P" in fault else None
        for task in tasks:
            Pt, values, has = draw(soft_labels(n, tree.cardinality(task), fixed_width=True,
                                               bad=task == wrong_task))
            P[task] = Pt
            if values is None:
                p_bad = True
            else:
                signal |= signal_rows(values, has, params)
        if "P" in fault and draw(st.integers(0, 3)) == 0:
            P["not_a_task"] = np.full((n, 2), 0.5)
            p_bad = True
        if p_bad:
            bad.add("P")
        else:
            add_weight_blame(bad, signal, mask_values, w_values, mask, weight)
    else:
        P, values, has = draw(soft_labels(n, k_end, fixed_width=True, bad="P" in fault))
        if values is None:
            bad.add("P")
        else:
            add_weight_blame(bad, signal_rows(values, has, params), mask_values, w_values, mask, weight)
    if feature_errors(emb):
        bad.add("X")
    if n_X != n:
        bad |= {"X", "P"}
    if mask_values is None:
        bad.add("mask")
    if w_values is None:
        bad.add("sample_weight")
    X_dev, Y_dev, dev_bad = draw(dev_data(d, k_end, bad="dev" in fault))
    bad |= dev_bad
    model = cls(tree.to_dict(), **params)
    snaps = emb.snapshot() + snapshot(mask, weight, X_dev, Y_dev) + (
        snapshot(*P.values()) if isinstance(P, dict) else snapshot(P))

    def verify(est):
        assert est is model and est.n_classes_ == k_end

    exc = check_call(lambda: model.fit(emb.X, P, X_dev, Y_dev, mask=mask, sample_weight=weight), bad, verify,
                     also_named=("X",) if n == 0 else ())
    assert_unchanged(snaps)
    if exc is not None:
        with pytest.raises(NotFittedError, match="not fitted"):
            model.predict_task_proba(np.zeros((1, d), np.float32))
        return

    def proba(X):
        P_end = model.predict_proba(X)
        tasks = model.predict_task_proba(X)
        assert set(tasks) == set(tree.tasks)
        for task, Pt in tasks.items():
            assert_proba(Pt, P_end.shape[0], tree.cardinality(task))
        if cls is not SingleTask:  # end labels: the product of the task heads along each path, renormalised
            want = np.ones_like(P_end)
            for e, path in enumerate(tree.end_label_paths()):
                for task, label in path:
                    want[:, e] *= tasks[task][:, label]
            want /= np.maximum(want.sum(axis=1, keepdims=True), 1e-300)
            np.testing.assert_allclose(P_end, want, atol=1e-9)
        return P_end

    check_predictions(draw, model, d, k_end, proba)
    if draw(st.integers(0, 4)) == 0:
        assert_round_trip(model, twin_features(emb))


# ---- slice heads ---------------------------------------------------------------------------------------------------
@st.composite
def memberships(draw, n: int, n_slices: int, bad: bool = False, names=None):
    """(S as passed, bool (n, n_slices) values or None when wrong). ``names``: the slice names a DataFrame must
    carry (a fitted model's), else s0, s1, ..."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    S = rng.random((n, n_slices)) < 0.4
    fitted = names is not None  # a reordered frame is wrong only against fitted names (at fit it names the slices)
    names = list(names) if fitted else [f"s{j}" for j in range(n_slices)]
    kind = draw(st.sampled_from(["float", "rows", "dup_names", "bad_name", "3d", "reordered"] if bad else
                                ["bool"] * 3 + ["int", "frame", "1d"]))
    if kind == "int":
        return S.astype(np.int8), S
    if kind == "frame" and len(names) == n_slices:
        return pd.DataFrame(S, columns=names), S
    if kind == "reordered" and n_slices >= 2 and len(names) == n_slices:
        return pd.DataFrame(S, columns=names[::-1]), (None if fitted else S)
    if kind == "1d" and n_slices == 1:
        return S[:, 0], S
    if kind == "float" and S.size:
        return S.astype(np.float64) + 0.5, None
    if kind == "rows":
        return (np.vstack([S, S[:1]]) if n else np.zeros((1, n_slices), bool)), None
    if kind == "dup_names" and n_slices >= 2:
        return pd.DataFrame(S, columns=["s"] * n_slices), None
    if kind == "bad_name" and n_slices >= 1:
        return pd.DataFrame(S, columns=[f"a.{j}" for j in range(n_slices)]), None
    if kind == "3d":
        return S[:, :, None], None
    return S, S


@scaled_settings(TORCH_EXAMPLES)
@given(st.data())
def test_slice_classifier(data):
    draw = data.draw
    fault = draw(faults(["X", "P", "S", "S_dev", "params"]))
    n, d, k, s = draw(st.integers(0, 30)), draw(st.integers(1, 6)), draw(st.integers(2, 3)), draw(st.integers(0, 3))
    emb = draw(embedding_inputs(n=n, d=d, allow_lattice=False, allow_bad="X" in fault, allow_nonfinite="X" in fault,
                                allow_huge="X" in fault))
    P, p_values, has = draw(soft_labels(n, k, bad="P" in fault))
    k_model = p_values.shape[1] if p_values is not None else k
    S, S_values = draw(memberships(n, s, bad="S" in fault))
    params, bad = draw(training_params(with_schedule=True, bad="params" in fault))
    if feature_errors(emb):
        bad.add("X")
    if p_values is None:
        bad.add("P")
    else:
        add_weight_blame(bad, signal_rows(p_values, has, params), np.ones(n, bool), np.ones(n), None, None)
    if S_values is None:
        bad.add("S")
    X_dev = Y_dev = S_dev = None
    if draw(st.booleans()) or "S_dev" in fault:
        nd = draw(st.integers(1, 8))
        X_dev = np.random.default_rng(nd).standard_normal((nd, d)).astype(np.float32)
        Y_dev = np.arange(nd) % k_model
        s_dev = s + 1 if "S_dev" in fault and draw(st.booleans()) else s
        fit_names = list(S.columns) if isinstance(S, pd.DataFrame) else [f"slice{j}" for j in range(s)]
        S_dev, S_dev_values = draw(memberships(nd, s_dev, bad="S_dev" in fault, names=fit_names))
        if S_dev_values is None or S_dev_values.shape[1] != s:
            bad.add("S_dev")
        if "S_dev" in fault and s and draw(st.integers(0, 3)) == 0:
            S_dev = None  # the dev rows' membership is needed when the model has slice heads
            bad.add("S_dev")
    model = SliceClassifier(**params)
    snaps = emb.snapshot() + snapshot(P, S, X_dev, Y_dev, S_dev)

    def verify(est):
        assert est is model and est.n_classes_ == k_model and len(est.slice_names_) == s

    exc = check_call(lambda: model.fit(emb.X, P, S, X_dev, Y_dev, S_dev), bad, verify,
                     also_named=("X",) if n == 0 else ())
    assert_unchanged(snaps)
    if exc is not None:
        return

    def proba(X):
        Xa = np.array(X) if isinstance(X, list) else np.asarray(X)
        nq = Xa.shape[0] if Xa.ndim >= 1 else 0
        wrong = draw(st.integers(0, 4)) == 0
        Sq, Sq_values = draw(memberships(nq, s + 1 if wrong and draw(st.booleans()) else s, bad=wrong,
                                         names=model.slice_names_))
        if Sq_values is None or Sq_values.shape[1] != s:
            with pytest.raises((ValueError, TypeError), match=r"^(S|X)\b"):
                model.predict_proba(X, Sq)
            Sq = Sq_values = np.zeros((nq, s), bool)
        out = model.predict_proba(X, Sq)
        heads = model.predict_head_proba(X)
        total, count = heads["base"].copy(), np.ones(nq)
        for j, name in enumerate(model.slice_names_):  # the base head and the heads of the row's slices
            if model.slice_sizes_[name]:
                total[Sq_values[:, j]] += heads["slice:" + name][Sq_values[:, j]]
                count += Sq_values[:, j]
        np.testing.assert_allclose(out, total / count[:, None], atol=1e-12)
        return out

    check_predictions(draw, model, d, k_model, proba)


# ---- Ensemble ------------------------------------------------------------------------------------------------------
@scaled_settings(TORCH_EXAMPLES)
@given(st.data())
def test_ensemble(data):
    draw = data.draw
    fault = draw(faults(["n_members", "vary", "dev", "dev_fraction", "estimator"]))
    n, d, k = draw(st.integers(1, 25)), draw(st.integers(1, 5)), draw(st.integers(2, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.standard_normal((n, d)).astype(draw(st.sampled_from([np.float32, np.float64])))
    P = rng.dirichlet(np.ones(k), size=n)
    n_members = draw(st.sampled_from([0, True, 1.5] if "n_members" in fault else [1, 2, 2]))
    vary = "bogus" if "vary" in fault else draw(st.sampled_from(["seed", "dev_split"]))
    dev_fraction = draw(st.sampled_from([0.0, 1.5, np.nan] if "dev_fraction" in fault else [0.8, 1.0, 0.3]))
    X_dev, Y_dev, bad = draw(dev_data(d, k, bad="dev" in fault))
    bad |= fault & {"n_members", "vary", "dev_fraction"}  # every parameter is checked, whatever vary is
    if vary == "dev_split":
        if X_dev is None or Y_dev is None or len(Y_dev) == 0:
            bad |= {"X_dev", "Y_dev"}
    estimator = Adapter(hidden=(3,), max_epochs=1, device="cpu", progress=False, random_state=0, n_threads=1)
    if "estimator" in fault:
        estimator = draw(st.sampled_from([None, Adapter, "Adapter"]))
        bad.add("estimator")
    ens = Ensemble(estimator, n_members=n_members, vary=vary, dev_fraction=dev_fraction, random_state=3)
    snaps = snapshot(X, P, X_dev, Y_dev)
    exc = check_call(lambda: ens.fit(X, P, X_dev, Y_dev), bad, lambda e: None)
    assert_unchanged(snaps)
    if exc is not None:  # a failed fit leaves no (partly) fitted ensemble
        with pytest.raises(NotFittedError, match="not fitted"):
            ens.predict_proba(X)
        return
    assert len(ens.members_) == n_members
    assert [m.random_state for m in ens.members_] == [3 + i for i in range(n_members)]

    def proba(Xq):
        out = ens.predict_proba(Xq)
        want = np.mean([m.predict_proba(Xq) for m in ens.members_], axis=0)
        np.testing.assert_allclose(out, want, atol=1e-12)
        return out

    check_predictions(draw, ens, d, k, proba)
