"""End models and ensembles save to exactly one file (labelfuse._io: safetensors, no pickle) and load back through
``labelfuse._io.load`` and through their class, predicting the same; the folders of earlier releases still load."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

import labelfuse._io as lf_io  # noqa: E402
from labelfuse.endmodels import (  # noqa: E402
    Adapter,
    Ensemble,
    FlatMTL,
    HierMTL,
    SingleTask,
    SliceClassifier,
    load_model,
)

FAST = dict(max_epochs=2, progress=False, n_threads=1, device="cpu")
TASKS = {"coarse": {"cardinality": 2, "parent": None}, "fine": {"cardinality": 3, "parent": ("coarse", 1)}}
FIXTURES = Path(__file__).parent / "fixtures"


def problem(n=60, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    P = rng.dirichlet(np.ones(k), size=n)
    return X, P


def fitted(name):
    """(fitted model, positional prediction inputs) for each end-model class."""
    if name in ("SingleTask", "FlatMTL", "HierMTL"):
        X, P = problem(k=4)  # the end labels of TASKS: (coarse 0), (coarse 1, fine 0..2)
        cls = {"SingleTask": SingleTask, "FlatMTL": FlatMTL, "HierMTL": HierMTL}[name]
        return cls(TASKS, hidden=(5, 3), random_state=0, **FAST).fit(X, P), (X,)
    X, P = problem()
    if name == "SliceClassifier":
        S = np.stack([X[:, 0] > 0, X[:, 1] > 0.5], axis=1)
        return SliceClassifier(hidden=(5,), random_state=0, **FAST).fit(X, P, S), (X, S)
    if name == "Ensemble":
        return Ensemble(Adapter(hidden=(5,), **FAST), n_members=2, random_state=3).fit(X, P), (X,)
    return Adapter(hidden=(5,), random_state=0, **FAST).fit(X, P), (X,)


CLASSES = {"Adapter": Adapter, "SingleTask": SingleTask, "FlatMTL": FlatMTL, "HierMTL": HierMTL,
           "SliceClassifier": SliceClassifier, "Ensemble": Ensemble}


@pytest.fixture(scope="module")
def models():
    return {name: fitted(name) for name in CLASSES}


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("file_name", ["model.lf", "model"])
def test_save_writes_one_file_that_loads_everywhere(models, name, file_name, tmp_path: Path):
    model, inputs = models[name]
    out = tmp_path / "out"
    out.mkdir()
    assert model.save(out / file_name) == out / file_name
    assert [p.name for p in out.iterdir()] == [file_name] and (out / file_name).is_file()
    expected = model.predict_proba(*inputs)
    for loaded in (lf_io.load(out / file_name), lf_io.load(str(out / file_name), device="cpu"),
                   CLASSES[name].load(out / file_name, device="cpu"), load_model(out / file_name, device="cpu")):
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict_proba(*inputs), expected)
        assert loaded.get_params().keys() == model.get_params().keys()


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_another_class_file_is_a_type_error_naming_both(models, name, tmp_path: Path):
    model, _ = models[name]
    model.save(tmp_path / "m")
    loader = SingleTask if name == "Adapter" else Adapter
    with pytest.raises(TypeError, match=f"holds a {name}, not a {loader.__name__}"):
        loader.load(tmp_path / "m")


def test_saved_file_is_safetensors_and_loads_without_torch_load(models, tmp_path: Path, monkeypatch):
    from safetensors import safe_open

    model, inputs = models["HierMTL"]
    model.save(tmp_path / "h")
    with safe_open(str(tmp_path / "h"), framework="numpy") as f:
        meta, keys = f.metadata(), set(f.keys())
    assert meta["format"] == "labelfuse" and meta["class"] == "HierMTL"
    assert keys == {"network." + k for k in model.network_.state_dict()}

    def no_torch_load(*args, **kwargs):
        raise AssertionError("torch.load used to read the current format")

    monkeypatch.setattr(torch, "load", no_torch_load)
    loaded = HierMTL.load(tmp_path / "h", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(*inputs), model.predict_proba(*inputs))
    assert loaded.random_state == 0 and loaded.seed_ == 0 and loaded.hidden == (5, 3)


def test_ensemble_members_are_nested_in_the_same_file(models, tmp_path: Path):
    from safetensors import safe_open

    ens, inputs = models["Ensemble"]
    ens.save(tmp_path / "e.lf")
    with safe_open(str(tmp_path / "e.lf"), framework="numpy") as f:
        keys = set(f.keys())
    assert {k.split("/")[0] for k in keys} == {"member_0", "member_1"}
    loaded = Ensemble.load(tmp_path / "e.lf", device="cpu")
    assert [m.seed_ for m in loaded.members_] == [3, 4]
    assert isinstance(loaded.estimator, Adapter) and loaded.estimator.hidden == (5,)
    assert loaded.n_members == 2 and loaded.random_state == 3
    # the loaded ensemble can be refit from its estimator
    X, P = problem()
    np.testing.assert_array_equal(loaded.fit(X, P).predict_proba(X), ens.predict_proba(X))


def test_ensemble_of_given_models_saves_only_end_models(models, tmp_path: Path):
    adapter, (X,) = models["Adapter"]
    ens = Ensemble.from_models([adapter, adapter])
    ens.save(tmp_path / "e")
    back = lf_io.load(tmp_path / "e")
    assert back.estimator is None and len(back.members_) == 2
    np.testing.assert_array_equal(back.predict_proba(X), adapter.predict_proba(X))

    class Constant:
        def predict_proba(self, X):
            return np.full((len(X), 3), 1 / 3)

    with pytest.raises(TypeError, match="members: only labelfuse end models"):
        Ensemble.from_models([adapter, Constant()]).save(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_slice_and_task_names_with_slashes_round_trip(tmp_path: Path):
    X, P = problem()
    S = pd.DataFrame({"a/b": X[:, 0] > 0, "c%2Fd": X[:, 1] > 0})
    model = SliceClassifier(hidden=(3,), random_state=0, **FAST).fit(X, P, S)
    model.save(tmp_path / "s")
    loaded = lf_io.load(tmp_path / "s", device="cpu")
    assert loaded.slice_names_ == ["a/b", "c%2Fd"]
    np.testing.assert_array_equal(loaded.predict_proba(X, S), model.predict_proba(X, S))


def test_unfitted_models_do_not_save(tmp_path: Path):
    from labelfuse.models import NotFittedError

    for model in (Adapter(), Ensemble(Adapter())):
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "m")
    assert not list(tmp_path.iterdir())


def test_seed_is_a_deprecated_alias_of_random_state(tmp_path: Path):
    X, P = problem()
    new = Adapter(hidden=(3,), random_state=5, **FAST).fit(X, P)
    old = Adapter(hidden=(3,), seed=5, **FAST)
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        old.fit(X, P)
    assert old.seed_ == new.seed_ == 5
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    old.save(tmp_path / "m")  # saved under the new name
    loaded = Adapter.load(tmp_path / "m", device="cpu")
    assert loaded.random_state == 5 and loaded.seed == "deprecated"
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        ens = Ensemble(Adapter(hidden=(3,), **FAST), n_members=2, seed=7).fit(X, P)
    assert [m.seed_ for m in ens.members_] == [7, 8]


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_folders_of_earlier_releases_load_through_io(name, tmp_path: Path):
    folder = next(p for p in sorted((FIXTURES / name).iterdir()) if p.is_dir())
    expected = np.load(folder.with_name(folder.name + ".expected.npz"), allow_pickle=False)
    inputs = [expected[f"in_{i}"] for i in range(len(expected.files)) if f"in_{i}" in expected.files]
    for loaded in (lf_io.load(folder), lf_io.load(folder, device="cpu"), CLASSES[name].load(folder, device="cpu")):
        assert type(loaded) is CLASSES[name]
        np.testing.assert_allclose(loaded.predict_proba(*inputs), expected["out_0"], rtol=float(expected["rtol"]),
                                   atol=1e-7)
    # saving it again gives one file of the current format that predicts the same
    loaded.save(tmp_path / "again")
    np.testing.assert_array_equal(lf_io.load(tmp_path / "again").predict_proba(*inputs), loaded.predict_proba(*inputs))
