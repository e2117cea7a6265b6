"""Workspace: every edit gives what a fresh fit on the edited LF set gives (statistics, parameters, posteriors)."""
import runpy

import numpy as np
import pandas as pd
import pytest

import labelfuse as lf
from labelfuse.labeling import LabelingFunction, LFApplyError, apply_lfs
from labelfuse.labeling.export import SourceError, lfs_from_source
from labelfuse.synthetic import make_label_matrix
from labelfuse.workspace import Workspace

# the small fixtures start from one or two LFs, whose fits warn (not identifiable, no triplet);
# these tests compare edits with fresh fits
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

N, M = 3000, 8
METHODS = ["triplet", "covariance", "majority", "dawid_skene"]


def vote_column(x, column):
    """An LF that reads its vote from a column of the generated data (the generative model's votes)."""
    return x[column]


def noisy_column(x, column, flip):
    v = x[column]
    return -1 if v == -1 else (1 - v if x["row"] % flip == 0 else v)


def column_lf(j, name=None):
    return LabelingFunction(name or f"lf{j}", vote_column, resources={"column": f"v{j}"})


@pytest.fixture(scope="module")
def frame():
    syn = make_label_matrix(N, M + 2, 2, accuracy=(0.6, 0.9), coverage=(0.2, 0.6), random_state=3)
    rng = np.random.default_rng(0)
    data = {"text": [f"row {i}" for i in range(N)], "row": np.arange(N)}
    for j in range(M + 2):
        data[f"v{j}"] = syn.L[:, j].astype(np.int64)
    known = rng.random(N) < 0.3
    data["label"] = np.where(known, syn.Y, np.nan)
    data["split"] = np.where(known, "dev", "train")
    return pd.DataFrame(data)


def fresh_model(method, L):
    L = np.array(L)
    if method == "majority":
        return lf.MajorityVote(cardinality=2, random_state=0).fit(L)
    return lf.LabelModel(cardinality=2, method=method, random_state=0).fit(L)


def check_as_fresh(ws, method):
    """The workspace's votes, statistics, parameters and posteriors equal those of a fresh fit on its votes."""
    L = np.array(ws.L)
    expected_L = apply_lfs(list(ws.lfs.values()), ws.data, cardinality=2, progress=False)
    np.testing.assert_array_equal(L, expected_L)
    assert ws.stats == lf.label_stats(L, 2, overlap_matrix=method == "covariance")
    fresh = fresh_model(method, L)
    if method != "majority":
        np.testing.assert_allclose(ws.model.cpt_, fresh.cpt_, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ws.model.class_balance_, fresh.class_balance_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ws.proba(), fresh.predict_proba(L), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ws.predict(), fresh.predict(L))


@pytest.mark.parametrize("method", METHODS)
def test_edits_equal_a_fresh_fit(frame, method):
    ws = Workspace(frame, label="label", split="split", label_model=method)
    for j in range(M):
        r = ws.add(column_lf(j))
        assert r.kind == "add" and r.name == f"lf{j}"
        assert r.changed_rows == int((frame[f"v{j}"] != -1).sum())
    check_as_fresh(ws, method)
    ws.proba()  # a cached posterior must be updated (majority) or dropped by the next edit
    r = ws.update(LabelingFunction("lf2", noisy_column, resources={"column": "v2", "flip": 3}))
    expected = int(((frame["v2"] != -1) & (frame["row"] % 3 == 0)).sum())
    assert r.changed_rows == expected and r.rows.size == expected
    np.testing.assert_allclose(r.proba_rows, fresh_model(method, ws.L).predict_proba(np.array(ws.L)[r.rows]),
                               rtol=0, atol=1e-12)
    check_as_fresh(ws, method)
    ws.remove("lf1")
    assert "lf1" not in ws.names and len(ws.names) == M - 1
    check_as_fresh(ws, method)
    ws.update(column_lf(M, name="lf5"))  # an LF replaced by another one's votes
    check_as_fresh(ws, method)


@pytest.mark.parametrize("method", ["triplet", "majority"])
def test_undo_restores_each_state(frame, method):
    ws = Workspace(frame, label="label", split="split", label_model=method)
    states = []

    def snapshot():
        return (list(ws.names), np.array(ws.L), ws.stats.copy(), np.array(ws.proba()), ws.dev_metrics())

    for j in range(4):
        ws.add(column_lf(j))
    states.append(snapshot())
    ws.update(LabelingFunction("lf0", noisy_column, resources={"column": "v0", "flip": 2}))
    states.append(snapshot())
    ws.remove("lf1")
    states.append(snapshot())
    ws.add(column_lf(7))
    for before in reversed(states):
        r = ws.undo()
        assert r.kind == "undo"
        names, L, stats, P, dev = before
        assert ws.names == names
        np.testing.assert_array_equal(ws.L, L)
        assert ws.stats == stats
        np.testing.assert_allclose(ws.proba(), P, rtol=0, atol=1e-12)
        assert ws.dev_metrics() == dev
    for _ in range(4):
        ws.undo()
    assert ws.names == [] and ws.model is None
    with pytest.raises(ValueError, match="no edit to undo"):
        ws.undo()


def test_summary_matches_lf_analysis(frame):
    ws = Workspace(frame, label="label", split="split")
    for j in range(5):
        ws.add(column_lf(j))
    s = ws.summary()
    L = np.array(ws.L)
    full = lf.LFAnalysis(L, ws.names).lf_summary()
    for col in ["Coverage", "Overlaps", "Conflicts"]:
        np.testing.assert_allclose(s[col].to_numpy(), full[col].to_numpy())
    dev = ws.dev_rows
    gold = frame["label"].to_numpy()[dev].astype(np.int64)
    on_dev = lf.LFAnalysis(L[dev], ws.names).lf_summary(gold)
    np.testing.assert_allclose(s["Emp. Acc."].to_numpy(), on_dev["Emp. Acc."].to_numpy())
    assert list(s["Polarity"]) == list(full["Polarity"])
    metrics = ws.dev_metrics()
    pred = ws.predict()[dev]
    assert metrics["accuracy"] == pytest.approx(np.mean(pred == gold))
    assert metrics["n"] == dev.size == int((frame["split"] == "dev").sum())


def test_rows_samples_what_they_say(frame):
    ws = Workspace(frame, label="label", split="split")
    for j in range(4):
        ws.add(column_lf(j))
    L = np.array(ws.L)
    labeled = ws.rows("labeled", lf="lf2", n=50)
    assert len(labeled) == 50 and np.all(L[labeled["row"], 2] != -1)
    assert all("lf2" in v for v in labeled["votes"])
    uncovered = ws.rows("uncovered", n=1000)
    assert len(uncovered) == int((L == -1).all(axis=1).sum()) and np.all(L[uncovered["row"]] == -1)
    conflict = ws.rows("conflict", n=30)
    for votes in conflict["votes"]:
        assert len(set(votes.values())) == 2
    np.testing.assert_array_equal(conflict["predicted"], ws.predict()[conflict["row"]])
    with pytest.raises(ValueError, match="kind"):
        ws.rows("wrong")
    with pytest.raises(ValueError, match="lf"):
        ws.rows("labeled")


def test_save_load_round_trip(frame, tmp_path):
    ws = Workspace(frame, label="label", split="split", label_model="covariance")
    for j in range(5):
        ws.add(column_lf(j))
    ws.update(LabelingFunction("lf3", noisy_column, resources={"column": "v3", "flip": 4}))
    path = ws.save(tmp_path / "work.lf")
    with pytest.raises(ValueError, match=r"Python LFs \['lf0', 'lf1', 'lf2', 'lf3', 'lf4'\].*trust_code=True"):
        lf.load(path)
    back = lf.load(path, trust_code=True)
    assert isinstance(back, Workspace) and back.names == ws.names
    np.testing.assert_array_equal(back.L, ws.L)
    assert back.stats == ws.stats
    np.testing.assert_allclose(back.proba(), ws.proba(), rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(back.data, ws.data)
    np.testing.assert_array_equal(back.dev_rows, ws.dev_rows)
    back.remove("lf0")  # the loaded LFs are live: edits apply them again
    check_as_fresh(back, "covariance")
    assert Workspace.load(path, trust_code=True).names == ws.names


def test_export_lfs_reimports(frame, tmp_path):
    ws = Workspace(frame, label="label", split="split")
    for j in range(3):
        ws.add(column_lf(j))
    ws.add(LabelingFunction("noisy", noisy_column, resources={"column": "v4", "flip": 5}))
    path = ws.export_lfs(tmp_path / "my_lfs.py")
    module = runpy.run_path(str(path))
    again = module["lfs"]
    assert [f.name for f in again] == ws.names
    np.testing.assert_array_equal(apply_lfs(again, frame, cardinality=2, progress=False), ws.L)
    assert [f.name for f in lfs_from_source(path.read_text())] == ws.names
    with pytest.raises(ValueError, match=r"\.py"):
        ws.export_lfs(tmp_path / "lfs.txt")


def test_export_lfs_refuses_a_lambda(frame, tmp_path):
    ws = Workspace(frame)
    ws.add(LabelingFunction("lam", lambda x: x["v0"]))
    with pytest.raises(SourceError, match="lam.*lambda"):
        ws.export_lfs(tmp_path / "x.py")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_labels(frame, tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    ws = Workspace(frame, label="label", split="split")
    for j in range(4):
        ws.add(column_lf(j))
    path = ws.export_labels(tmp_path / f"labels{suffix}")
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(back.columns) == ["row", "label", "proba_0", "proba_1"]
    np.testing.assert_array_equal(back["label"], ws.predict())
    np.testing.assert_allclose(back[["proba_0", "proba_1"]].to_numpy(), ws.proba(), rtol=1e-12)
    with pytest.raises(ValueError, match="csv or .parquet"):
        ws.export_labels(tmp_path / "labels.json")


def test_a_failing_edit_changes_nothing(frame, monkeypatch):
    ws = Workspace(frame, label="label", split="split", label_model="covariance")
    for j in range(4):
        ws.add(column_lf(j))
    before = (list(ws.names), np.array(ws.L), ws.stats.copy(), np.array(ws.proba()), ws.model)

    def broken(x):
        if x["row"] == 17:
            raise RuntimeError("boom")
        return -1

    with pytest.raises(LFApplyError, match="lf1.*row 17"):
        ws.update(LabelingFunction("lf1", broken))

    def interrupted(rows):
        raise KeyboardInterrupt

    for edit in (lambda: ws.update(LabelingFunction("lf1", noisy_column, resources={"column": "v1", "flip": 2})),
                 lambda: ws.remove("lf0"), lambda: ws.add(column_lf(5))):
        monkeypatch.setattr(ws, "_refit", interrupted)
        with pytest.raises(KeyboardInterrupt):
            edit()
        monkeypatch.undo()
        assert ws.names == before[0]
        np.testing.assert_array_equal(ws.L, before[1])
        assert ws.stats == before[2] and ws.model is before[4]
        np.testing.assert_array_equal(ws.proba(), before[3])
    ws.update(LabelingFunction("lf1", noisy_column, resources={"column": "v1", "flip": 2}))
    check_as_fresh(ws, "covariance")


def test_capacity_grows(frame):
    ws = Workspace(frame[["text"] + [f"v{j}" for j in range(M + 2)] + ["row"]], label_model="triplet")
    for j in range(M + 2):
        ws.add(column_lf(j))
    for j in range(M + 2):  # more LFs than the first buffer holds
        ws.add(LabelingFunction(f"noisy{j}", noisy_column, resources={"column": f"v{j}", "flip": 3}))
    assert ws.L.shape == (N, 2 * (M + 2)) and ws.L.flags.f_contiguous and not ws.L.flags.writeable
    check_as_fresh(ws, "triplet")


def test_bad_input_is_named(frame):
    with pytest.raises(TypeError, match="data"):
        Workspace(42)
    with pytest.raises(TypeError, match="data.*item 1"):
        Workspace(["a", 3])
    with pytest.raises(ValueError, match="text.*'body'"):
        Workspace(frame, text="body")
    with pytest.raises(ValueError, match="label.*'gold'"):
        Workspace(frame, label="gold")
    with pytest.raises(ValueError, match="label.*'yes'"):
        Workspace(pd.DataFrame({"text": ["a", "b"], "y": ["yes", 1]}), label="y")
    with pytest.raises(ValueError, match="label.*cardinality is 2"):
        Workspace(pd.DataFrame({"text": ["a", "b"], "y": [0, 2]}), label="y", cardinality=2)
    with pytest.raises(ValueError, match="label_model"):
        Workspace(frame, label_model="snorkel")
    with pytest.raises(ValueError, match="embeddings"):
        Workspace(frame, fusion="liger")
    with pytest.raises(ValueError, match="embeddings: has 2 rows"):
        Workspace(frame, embeddings=np.zeros((2, 4), dtype=np.float32))
    ws = Workspace(frame)
    ws.add(column_lf(0))
    with pytest.raises(ValueError, match="already.*update"):
        ws.add(column_lf(0))
    with pytest.raises(KeyError, match="nope"):
        ws.update(column_lf(1, name="nope"))
    with pytest.raises(KeyError, match="nope"):
        ws.remove("nope")
    with pytest.raises(TypeError, match="lf"):
        ws.add("lf0")
    with pytest.raises(ValueError, match="lf3"):  # a vote outside the classes
        ws.add(LabelingFunction("lf3", lambda x: 5))
    with pytest.raises(ValueError, match="embeddings"):
        ws.neighbors(0)
    assert ws.names == ["lf0"]


def test_texts_and_neighbors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    texts = [f"text {i}" + (" good" if i % 3 == 0 else "") for i in range(200)]
    ws = Workspace(texts, embeddings=X)
    ws.add(LabelingFunction("good", lambda x: 1 if "good" in x.text else -1))
    assert ws.dev_metrics() is None
    nb = ws.neighbors(5, n=7)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    sims = U @ U[5]
    sims[5] = -np.inf
    np.testing.assert_array_equal(nb["row"], np.argsort(-sims)[:7])
    np.testing.assert_allclose(nb["similarity"], np.sort(sims)[::-1][:7], rtol=1e-5)
    with pytest.raises(ValueError, match="row"):
        ws.neighbors(200)


def test_liger_in_the_workspace_equals_a_fresh_liger_fit(frame):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(N, 16)).astype(np.float32)
    ws = Workspace(frame, label="label", split="split", embeddings=X, fusion="liger")
    for j in range(4):
        ws.add(column_lf(j))
    graph = ws._graph
    ws.update(LabelingFunction("lf2", noisy_column, resources={"column": "v2", "flip": 3}))
    assert ws._graph is graph  # the embedding-dependent work is not redone by an edit
    fresh = lf.Liger(label_model="triplet", neighbor_graph=graph, cardinality=2, thresholds="unsupervised",
                     random_state=0).fit(np.ascontiguousarray(ws.L), X)
    np.testing.assert_allclose(ws.proba(), fresh.train_proba_, rtol=0, atol=1e-12)
    ws.remove("lf0")
    fresh = lf.Liger(label_model="triplet", neighbor_graph=graph, cardinality=2, thresholds="unsupervised",
                     random_state=0).fit(np.ascontiguousarray(ws.L), X)
    np.testing.assert_allclose(ws.proba(), fresh.train_proba_, rtol=0, atol=1e-12)
    assert set(ws.dev_metrics()) >= {"accuracy", "f1", "coverage"}


def test_keyword_and_regex_lfs_save_without_trust_and_export_as_factory_calls(tmp_path):
    templates = pytest.importorskip("labelfuse.labeling.templates")
    texts = ["win cash now", "hello friend", "cash prize", "see you at 5", "WIN a prize", "call 555-1234"]
    ws = Workspace(texts)
    ws.add(templates.keyword_lf("money", ["cash", "prize"], 1))
    ws.add(templates.regex_lf("phone", r"\d{3}-\d{4}", 1))
    ws.add(LabelingFunction("short", vote_short))
    path = ws.save(tmp_path / "kw.lf")
    with pytest.raises(ValueError, match=r"\['short'\]"):  # only the Python LF needs trust
        lf.load(path)
    ws.remove("short")
    ws.save(path)
    back = lf.load(path)  # keyword / regex LFs rebuild from their spec: no code executed
    assert back.names == ["money", "phone"]
    np.testing.assert_array_equal(back.L, ws.L)
    text = ws.export_lfs(tmp_path / "kw.py").read_text()
    assert "keyword_lf(" in text and "regex_lf(" in text
    again = runpy.run_path(str(tmp_path / "kw.py"))["lfs"]
    np.testing.assert_array_equal(apply_lfs(again, pd.DataFrame({"text": texts}), cardinality=2, progress=False),
                                  ws.L)


def vote_short(x):
    return 0 if len(x.text) < 12 else -1


def test_snorkel_preprocessor_idiom_survives_export_and_save(tmp_path):
    texts = ["FREE money", "hello", "Free entry", "see you"]
    ws = Workspace(texts)
    ws.add(mentions_free)
    np.testing.assert_array_equal(ws.L[:, 0], [1, -1, 1, -1])
    ws.export_lfs(tmp_path / "pre.py")
    again = runpy.run_path(str(tmp_path / "pre.py"))["lfs"]
    np.testing.assert_array_equal(apply_lfs(again, pd.DataFrame({"text": texts}), progress=False), ws.L)
    back = lf.load(ws.save(tmp_path / "pre.lf"), trust_code=True)
    back.update(back.lfs["mentions_free"])  # the rebuilt LF (with its preprocessor) applies again
    np.testing.assert_array_equal(back.L, ws.L)


def _lowercase(x):
    x.lower = x.text.lower()
    return x


def _mentions_free(x):
    return 1 if "free" in x.lower else -1


def _make_mentions_free():
    from labelfuse.labeling import labeling_function, preprocessor

    return labeling_function(name="mentions_free", pre=[preprocessor(memoize=True)(_lowercase)])(_mentions_free)


mentions_free = _make_mentions_free()
