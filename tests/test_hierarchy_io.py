"""Saving the hierarchical label models in the one save format, and the one task graph shared with the end models."""
from __future__ import annotations

import inspect

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from labelfuse import _io
from labelfuse.hierarchy import HardMV, HierarchicalLabelModel, SoftMV, TaskGraph
from labelfuse.synthetic import make_hierarchical_votes

# Small fixtures (save and load are the point): their fits stop early or fall back and say so (FitWarning, rightly);
# the diagnostics are tested in test_diagnostics.py and test_assumptions.py.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

TASKS = {
    "coarse": {"cardinality": 2, "parent": None, "labels": ["corporate", "markets"]},
    "corp": {"cardinality": 2, "parent": ("coarse", "corporate")},
    "mkt": {"cardinality": 3, "parent": ("coarse", 1)},
}


def _fitted(cls, graph, votes):
    if cls is HierarchicalLabelModel:
        return cls(graph, max_iter=30, smoothing=0.05).fit(votes.L, Y_dev=votes.Y[:100])
    if cls is SoftMV:
        return cls(graph, accuracy=0.8).fit(Y_dev=votes.Y[:100])
    return cls(graph, random_state=5).fit(votes.L)


@pytest.mark.parametrize("name", ["model", "model.lf", "model.safetensors"])
@pytest.mark.parametrize("cls", [HierarchicalLabelModel, SoftMV, HardMV])
@pytest.mark.parametrize("as_dict", [False, True])
def test_saved_model_loads_through_io_and_its_class(cls, name, as_dict, tmp_path):
    graph = TaskGraph(TASKS)
    votes = make_hierarchical_votes(graph, 600, lfs_per_task=2, random_state=3)
    model = _fitted(cls, TASKS if as_dict else graph, votes)
    path = tmp_path / name
    assert model.save(path) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # exactly one file, the one asked for
    for loaded in (_io.load(path), cls.load(path)):
        assert type(loaded) is cls
        assert isinstance(loaded.graph, TaskGraph) and loaded.graph == graph
        assert loaded.graph.end_label_names() == graph.end_label_names()
        params = {k: v for k, v in model.get_params().items() if k != "graph"}
        assert {k: v for k, v in loaded.get_params().items() if k != "graph"} == params
        np.testing.assert_array_equal(loaded.predict(votes.L), model.predict(votes.L))
        np.testing.assert_array_equal(loaded.predict_proba(votes.L), model.predict_proba(votes.L))
    if cls is HierarchicalLabelModel:
        for a, b in zip(loaded.tables_, model.tables_):
            np.testing.assert_array_equal(a, b)
        assert loaded.lf_tasks_ == model.lf_tasks_ and loaded.n_iter_ == model.n_iter_
        assert loaded.converged_ == model.converged_


@pytest.mark.parametrize("cls", [SoftMV, HardMV])
def test_models_that_need_no_fit_save_unfitted(cls, tmp_path):
    graph = TaskGraph(TASKS)
    votes = make_hierarchical_votes(graph, 200, lfs_per_task=2, random_state=4)
    model = cls(graph)
    model.save(tmp_path / "m")
    loaded = cls.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(votes.L), model.predict_proba(votes.L))


def test_unfitted_hierarchical_label_model_does_not_save(tmp_path):
    from labelfuse.models import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        HierarchicalLabelModel(TaskGraph(TASKS)).save(tmp_path / "m")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("saved, other", [(HierarchicalLabelModel, SoftMV), (SoftMV, HardMV),
                                          (HardMV, HierarchicalLabelModel)])
def test_loading_through_another_class_names_both(saved, other, tmp_path):
    graph = TaskGraph(TASKS)
    votes = make_hierarchical_votes(graph, 300, lfs_per_task=2, random_state=5)
    _fitted(saved, graph, votes).save(tmp_path / "m")
    with pytest.raises(TypeError, match=f"holds a {saved.__name__}, not a {other.__name__}"):
        other.load(tmp_path / "m")


@pytest.mark.parametrize("cls", [HierarchicalLabelModel, SoftMV, HardMV])
def test_committed_files_load_through_io_and_the_class(cls):
    from make_fixtures import expected_path
    from saved_files import FIXTURES, fixture_files

    for path in fixture_files(cls.__name__):  # every format version
        expected = np.load(expected_path(path), allow_pickle=False)
        L, lf_tasks = expected["in_0"], expected["in_1"].tolist()
        for loaded in (cls.load(path), _io.load(path)):
            assert type(loaded) is cls and isinstance(loaded.graph, TaskGraph)
            np.testing.assert_allclose(loaded.predict_proba(L, lf_tasks), expected["out_0"],
                                       rtol=float(expected["rtol"]), atol=1e-7)
    assert FIXTURES.is_dir()


def test_hard_mv_seed_is_a_deprecated_alias_of_random_state(tmp_path):
    graph = TaskGraph(TASKS)
    votes = make_hierarchical_votes(graph, 300, lfs_per_task=2, random_state=6)
    new = HardMV(graph, random_state=7)
    old = HardMV(graph, seed=7)
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        np.testing.assert_array_equal(old.predict(votes.L), new.predict(votes.L))
    old.save(tmp_path / "old")
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        np.testing.assert_array_equal(HardMV.load(tmp_path / "old").predict(votes.L), new.predict(votes.L))


def test_graph_parameter_is_a_task_graph_or_its_description():
    votes = make_hierarchical_votes(TaskGraph(TASKS), 100, lfs_per_task=1, random_state=7)
    with pytest.raises(TypeError, match="^graph: expected a TaskGraph or a task description"):
        HierarchicalLabelModel(["coarse"]).fit(votes.L)
    with pytest.raises(TypeError, match=r"^graph: tasks\['coarse'\]"):
        SoftMV({"coarse": 2}).fit()
    with pytest.raises(ValueError, match="^graph: tasks: expected exactly one root"):
        HardMV({"a": {"cardinality": 2}, "b": {"cardinality": 2}}).predict(votes.L)
    from_dict = SoftMV(TASKS).fit()
    np.testing.assert_array_equal(from_dict.predict_proba(votes.L), SoftMV(TaskGraph(TASKS)).predict_proba(votes.L))


# ---- the end models use the same task graph -------------------------------------------------------------------
def _seed_kw(cls):
    return "random_state" if "random_state" in inspect.signature(cls).parameters else "seed"


def test_multitask_end_models_take_a_task_graph_and_number_end_labels_as_the_label_models():
    pytest.importorskip("torch")
    from labelfuse.endmodels import FlatMTL, HierMTL, SingleTask

    graph = TaskGraph(TASKS)
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 5))
    coarse = (X[:, 0] > 0).astype(int)
    end = np.where(coarse == 0, (X[:, 1] > 0).astype(int), 2 + X[:, 2:5].argmax(axis=1))
    # one LF per task voting the task's true label: the label models' end label of each row is `end`
    paths = graph.end_label_paths()
    L = {t: np.array([[dict(paths[e]).get(t, -1)] for e in end]) for t in graph.tasks}
    np.testing.assert_array_equal(SoftMV(graph, accuracy=0.9).predict(L), end)
    np.testing.assert_array_equal(HardMV(graph).predict(L), end)
    P = SoftMV(graph, accuracy=0.9).predict_proba(L)  # end-label soft labels, used as they are
    for cls in (SingleTask, FlatMTL, HierMTL):
        model = cls(graph, hidden=(16,), max_epochs=20, lr=2e-2, device="cpu", progress=False, n_threads=1,
                    **{_seed_kw(cls): 0}).fit(X, P)
        assert model.tree_ is graph and model.n_classes_ == graph.n_end_labels
        assert model.predict_proba(X).shape == (n, graph.n_end_labels)
        assert (model.predict(X) == end).mean() > 0.85, cls.__name__
        tasks = model.predict_task_proba(X)
        assert set(tasks) == set(graph.tasks) and tasks["mkt"].shape == (n, 3)
