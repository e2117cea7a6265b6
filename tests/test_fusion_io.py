"""Saving the embedding-side estimators through labelfuse._io: NeighborGraph, KMeansPartition, Epoxy and Liger
write exactly one file at the path given (the graph and the partition nested in a fusion model's file), and
read back through labelfuse._io.load and through their class, answering as before."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faiss")

import labelfuse._io as lfio  # noqa: E402
from labelfuse.embeddings import KMeansPartition, NeighborGraph  # noqa: E402
from labelfuse.fusion import Epoxy, Liger  # noqa: E402

from _fusion_helpers import clustered_embeddings, symmetric_fit  # noqa: E402

# Small fixtures whose triplet fits fall back (FitWarning, rightly); save/load is the point here, the diagnostics
# are tested in test_diagnostics.py.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")


def _task(n=120, m=4, seed=0):
    rng = np.random.default_rng(seed)
    X, z = clustered_embeddings(n, d=8, n_clusters=4, spread=0.2, seed=seed)
    Y = z % 2
    L = np.where(rng.random((n, m)) < 0.3, np.where(rng.random((n, m)) < 0.8, Y[:, None], 1 - Y[:, None]), -1)
    return X, L.astype(np.int8)


def _fitted(name):
    X, L = _task()
    if name == "NeighborGraph":
        return NeighborGraph(n_neighbors=5).fit(X), (X, L)
    if name == "NeighborGraph-hnsw":
        return NeighborGraph(n_neighbors=5, index="hnsw", hnsw_ef_search=40).fit(X), (X, L)
    if name == "NeighborGraph-ivf":
        return NeighborGraph(n_neighbors=5, index="ivf", ivf_n_lists=4, ivf_n_probe=2).fit(X), (X, L)
    if name == "KMeansPartition":
        return KMeansPartition(3, random_state=1).fit(X), (X, L)
    if name == "Epoxy":
        return Epoxy("triplet", thresholds=0.5, n_neighbors=6).fit(L, X), (X, L)
    if name == "Liger":
        return Liger("triplet", thresholds="unsupervised", n_parts=3, n_neighbors=6).fit(L, X), (X, L)
    raise AssertionError(name)


def _same_answers(a, b, data):
    X, L = data
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    if isinstance(a, NeighborGraph):
        for name in ("X_", "ids_", "sims_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        for got, want in zip(a.query(X[:17]), b.query(X[:17])):
            np.testing.assert_array_equal(got, want)
    elif isinstance(a, KMeansPartition):
        for name in ("labels_", "centers_", "sizes_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.n_parts_ == b.n_parts_
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
    else:
        np.testing.assert_array_equal(a.predict_proba(L[:40], X[:40]), b.predict_proba(L[:40], X[:40]))
        np.testing.assert_array_equal(a.train_proba_, b.train_proba_)
        np.testing.assert_array_equal(a.thresholds_, b.thresholds_)
        assert a.stats_ == b.stats_
        assert (a.partition_ is None) == (b.partition_ is None)


NAMES = ["NeighborGraph", "NeighborGraph-hnsw", "NeighborGraph-ivf", "KMeansPartition", "Epoxy", "Liger"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("filename", ["model.lf", "model"])
def test_save_writes_one_file_that_loads_both_ways(tmp_path, name, filename):
    model, data = _fitted(name)
    path = tmp_path / filename
    assert model.save(path) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == [filename]  # exactly the path given, nothing beside it
    _same_answers(lfio.load(path), model, data)
    _same_answers(type(model).load(path), model, data)
    _same_answers(type(model).load(str(path)), model, data)


@pytest.mark.parametrize("cls", [Epoxy, Liger])
def test_a_loaded_fusion_model_refits_as_the_original(tmp_path, cls):
    X, L = _task(seed=1)
    extra = {"n_parts": 2} if cls is Liger else {}
    model = cls("triplet", thresholds="unsupervised", n_neighbors=6, **extra).fit(L, X)
    model.save(tmp_path / "m")
    back = cls.load(tmp_path / "m")
    assert isinstance(back.graph_, NeighborGraph) and (cls is Epoxy) == (back.partition_ is None)
    L2 = L.copy()
    L2[:, 2] = -1
    np.testing.assert_allclose(back.refit(L2).train_proba_, model.refit(L2).train_proba_, atol=1e-12)
    np.testing.assert_array_equal(back.L_extended_, model.L_extended_)


def test_a_callable_label_model_is_given_back_on_load(tmp_path):
    from labelfuse.models import NotFittedError

    X, L = _task(seed=2)
    model = Liger(symmetric_fit(), thresholds=0.5, n_parts=2, n_neighbors=5).fit(L, X)
    model.save(tmp_path / "liger.lf")
    plain = Liger.load(tmp_path / "liger.lf")  # predictions work without it, refit does not
    assert plain.get_params()["label_model"] == "fit"  # the callable's name
    np.testing.assert_array_equal(plain.predict_proba(L, X), model.predict_proba(L, X))
    with pytest.raises(NotFittedError, match="label_model"):
        plain.refit(L)
    for back in (Liger.load(tmp_path / "liger.lf", label_model=symmetric_fit()),
                 lfio.load(tmp_path / "liger.lf", label_model=symmetric_fit())):
        assert callable(back.label_model)
        L2 = L.copy()
        L2[:, 0] = -1
        np.testing.assert_allclose(back.refit(L2).train_proba_, model.refit(L2).train_proba_, atol=1e-12)
        model.refit(L)


@pytest.mark.parametrize("saved, loader", [("Liger", Epoxy), ("Epoxy", Liger), ("NeighborGraph", Liger),
                                           ("KMeansPartition", NeighborGraph), ("Liger", NeighborGraph)])
def test_a_file_of_another_class_is_a_type_error_naming_both(tmp_path, saved, loader):
    model, _ = _fitted(saved)
    model.save(tmp_path / "m.lf")
    with pytest.raises(TypeError, match=f"holds a {saved}, not a {loader.__name__}"):
        loader.load(tmp_path / "m.lf")


def test_unsaved_or_unfitted(tmp_path):
    from labelfuse.models import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        Liger().save(tmp_path / "x")
    with pytest.raises(NotFittedError, match="not fitted"):
        KMeansPartition().save(tmp_path / "x")
    assert not any(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError):
        Liger.load(tmp_path / "missing.lf")


def test_a_generator_random_state_is_saved_as_none(tmp_path):
    X, L = _task(seed=4)
    model = Liger("triplet", thresholds=0.5, n_parts=2, random_state=np.random.default_rng(0)).fit(L, X)
    model.save(tmp_path / "m")
    back = Liger.load(tmp_path / "m")
    assert back.random_state is None and back.partition_.random_state is None
    np.testing.assert_array_equal(back.predict_proba(L, X), model.predict_proba(L, X))


@pytest.mark.parametrize("name", ["NeighborGraph", "Epoxy", "Liger"])
def test_files_of_the_earlier_format_load_both_ways(name):
    from saved_files import FIXTURES

    path = FIXTURES / name / "v1-0.1.0.npz"
    expected = np.load(FIXTURES / name / "v1-0.1.0.expected.npz", allow_pickle=False)
    for model in (lfio.load(path), {"NeighborGraph": NeighborGraph, "Epoxy": Epoxy, "Liger": Liger}[name].load(path)):
        assert type(model).__name__ == name
        got = getattr(model, str(expected["method"]))(*[expected[f"in_{i}"] for i in range(3)
                                                         if f"in_{i}" in expected.files])
        got = got if isinstance(got, tuple) else (got,)
        for i, g in enumerate(got):
            np.testing.assert_allclose(g, expected[f"out_{i}"], rtol=float(expected["rtol"]), atol=1e-7)
    if name == "Liger":
        assert isinstance(model.partition_, KMeansPartition) and model.partition_.n_parts_ == 2


def test_an_earlier_fusion_file_without_its_graph_is_refused(tmp_path):
    import shutil

    from saved_files import FIXTURES

    shutil.copy(FIXTURES / "Epoxy" / "v1-0.1.0.npz", tmp_path / "e.npz")
    with pytest.raises(ValueError, match="e.npz.graph.npz, which is missing"):
        Epoxy.load(tmp_path / "e.npz")


def test_an_earlier_file_resaved_is_one_file(tmp_path):
    from saved_files import FIXTURES

    model = Liger.load(FIXTURES / "Liger" / "v1-0.1.0.npz")
    model.save(tmp_path / "liger")
    assert [p.name for p in tmp_path.iterdir()] == ["liger"]
    back = Liger.load(tmp_path / "liger")
    X, L = _task()
    X = X[:, :8]
    np.testing.assert_array_equal(back.predict_proba(L[:, :4], X), model.predict_proba(L[:, :4], X))
