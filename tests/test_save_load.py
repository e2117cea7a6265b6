"""One save format for every estimator class: save writes exactly the path it is given (one file, with or without
an extension), ``labelfuse.load`` and the class's own ``load`` give back an estimator that predicts the same, and a
file of another class through a class's ``load`` is a clear error naming both classes."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import labelfuse
from labelfuse import _io

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import make_fixtures  # noqa: E402  (the fixture builders: one fitted estimator per saving class)

# Small fixtures (save and load are the point): their fits stop early or fall back and say so (FitWarning, rightly);
# the diagnostics are tested in test_diagnostics.py and test_assumptions.py.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_FAISS = importlib.util.find_spec("faiss") is not None
NEEDS_TORCH = {"Adapter", "SingleTask", "FlatMTL", "HierMTL", "SliceClassifier", "Ensemble"}
NEEDS_FAISS = {"NeighborGraph", "Epoxy", "Liger"}
HAS_DASK = importlib.util.find_spec("dask") is not None and importlib.util.find_spec("distributed") is not None
# classes the generic round trip below does not cover, and why
NOT_SAVED: dict = {"AutoLabels": "a choice wrapper: its chosen model (model_) is saved and loaded",
                   "Workspace": "not an estimator (data + LFs, no get_params); its round trip is tested in "
                                "tests/test_workspace.py::test_save_load_round_trip"}


def dask_label_model():
    """A DaskLabelModel fitted on a chunked label matrix with dask's default scheduler (no cluster needed)."""
    import dask.array as da

    from labelfuse.distributed import DaskLabelModel
    from labelfuse.synthetic import make_label_matrix

    L = da.from_array(make_label_matrix(400, 5, 3, random_state=9).L, chunks=(100, 5))
    model = DaskLabelModel(3, method="triplet").fit(L)
    return model, "predict_proba", [L[:60]], 1e-12


def _umask() -> int:
    import subprocess
    return int(subprocess.run(["sh", "-c", "umask"], capture_output=True, text=True).stdout.strip(), 8)


def _builders():
    out = {"DaskLabelModel": ("DaskLabelModel", dask_label_model)}
    for name, variants in make_fixtures.BUILDERS.items():
        for variant, build in variants.items():
            out[f"{name}-{variant}" if variant else name] = (name, build)
    return out


BUILDERS = _builders()


def _skip_missing(class_name: str) -> None:
    if class_name == "DaskLabelModel" and not HAS_DASK:
        pytest.skip("needs dask and distributed")
    if class_name in NEEDS_TORCH and not HAS_TORCH:
        pytest.skip("needs torch")
    if class_name in NEEDS_FAISS and not HAS_FAISS:
        pytest.skip("needs faiss")


def _same_output(a, b, rtol):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            _same_output(x, y, rtol)
        return
    a, b = (x.compute() if hasattr(x, "compute") else x for x in (a, b))  # a dask array's values
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=1e-12)


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = BUILDERS[key][1]()
        return cache[key]
    return get


def test_every_estimator_class_is_covered():
    _io._import_families()
    # labelfuse's own classes (tests define subclasses of their own, which register too)
    classes = {name for name, cls in _io._CLASSES.items() if cls.__module__.startswith("labelfuse.")}
    ours = [_io._CLASSES[name] for name in classes]
    concrete = {name for name in classes  # abstract bases (BaseLabelModel, EndModel) have subclasses here
                if not any(other is not _io._CLASSES[name] and issubclass(other, _io._CLASSES[name]) for other in ours)}
    covered = {name for name, _ in BUILDERS.values()}
    missing = sorted(concrete - covered - set(NOT_SAVED))
    assert not missing, f"estimator classes without a save/load round-trip builder: {missing}"


@pytest.mark.parametrize("key", sorted(BUILDERS))
@pytest.mark.parametrize("suffix", [".lf", ""])
def test_round_trip(key, suffix, fitted, tmp_path):
    class_name = BUILDERS[key][0]
    _skip_missing(class_name)
    model, method, inputs, rtol = fitted(key)
    path = tmp_path / f"model{suffix}"
    assert model.save(path) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # exactly the path it was given
    assert path.stat().st_mode & 0o044 == 0o044 & ~_umask()  # the usual permissions, not a private temp file's
    expected = getattr(model, method)(*inputs)
    for loaded in (labelfuse.load(path), type(model).load(path)):
        assert type(loaded) is type(model)
        assert loaded.get_params().keys() == model.get_params().keys()
        _same_output(getattr(loaded, method)(*inputs), expected, rtol)


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_wrong_class_is_refused(key, fitted, tmp_path):
    class_name = BUILDERS[key][0]
    _skip_missing(class_name)
    model = fitted(key)[0]
    path = model.save(tmp_path / "model.lf")
    other = labelfuse.MajorityVote if class_name != "MajorityVote" else labelfuse.LabelModel
    with pytest.raises(TypeError, match=rf"{class_name}.*{other.__name__}"):
        other.load(path)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a labelfuse model"):
        labelfuse.load(path)
    with pytest.raises(FileNotFoundError):
        labelfuse.load(tmp_path / "missing.lf")


def test_failed_save_keeps_the_earlier_file(tmp_path, monkeypatch):
    model = labelfuse.MajorityVote().fit(np.array([[0, 1], [1, 1], [-1, 0]]))
    path = model.save(tmp_path / "mv.lf")
    before = path.read_bytes()

    class Interrupted:
        @staticmethod
        def save_file(tensors, filename, metadata=None):
            Path(filename).write_bytes(b"half a file")
            raise KeyboardInterrupt

    monkeypatch.setattr(_io, "_safetensors", lambda: (Interrupted, None))
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mv.lf"]
