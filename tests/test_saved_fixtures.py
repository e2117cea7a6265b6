"""Every saved estimator keeps loading: the committed fixtures (tests/fixtures, written by make_fixtures.py) load with
today's code and reproduce the predictions recorded when they were written; a file claiming an unknown format
version, or none, is refused with a ValueError that says so."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import labelfuse
from labelfuse import models
from labelfuse.hierarchy import models as hierarchy_models
from saved_files import FIXTURES, check_saved_file, fixture_files

sys.path.insert(0, str(FIXTURES))
from make_fixtures import BUILDERS as WRITTEN_BY_SCRIPT, expected_path  # noqa: E402


def _end_models():
    pytest.importorskip("torch")
    from labelfuse import endmodels
    return endmodels


def _loaders():
    """class folder -> (class, load function). Loaders that need torch import it only when used."""
    def end_model(name):
        def load(path):
            cls = getattr(_end_models(), name)
            return cls.load(path, device="cpu")
        return load

    def end_model_class(name):
        return lambda: getattr(_end_models(), name)

    out = {
        "MajorityVote": (lambda: models.MajorityVote, None),
        "LabelModel": (lambda: models.LabelModel, None),
        "NeighborGraph": (lambda: labelfuse.embeddings.NeighborGraph, None),
        "KMeansPartition": (lambda: labelfuse.embeddings.KMeansPartition, None),
        "Epoxy": (lambda: labelfuse.fusion.Epoxy, None),
        "Liger": (lambda: labelfuse.fusion.Liger, None),
        "HierarchicalLabelModel": (lambda: hierarchy_models.HierarchicalLabelModel, None),
        "SoftMV": (lambda: hierarchy_models.SoftMV, None),
        "HardMV": (lambda: hierarchy_models.HardMV, None),
    }
    for name in ("Adapter", "SingleTask", "FlatMTL", "HierMTL", "SliceClassifier", "Ensemble"):
        out[name] = (end_model_class(name), end_model(name))
    return out


LOADERS = _loaders()
CASES = [(folder, path) for folder in sorted(LOADERS) for path in fixture_files(folder)]


def test_every_saving_estimator_has_a_fixture():
    """A class that can save must have a committed file; a fixture folder must belong to a known class."""
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders == set(LOADERS) == set(WRITTEN_BY_SCRIPT)
    for folder in LOADERS:
        assert fixture_files(folder), f"tests/fixtures/{folder} holds no saved file"


@pytest.mark.parametrize("folder, path", CASES, ids=[f"{f}/{p.name}" for f, p in CASES])
def test_saved_file_loads_and_predicts_as_when_written(folder, path, tmp_path):
    get_class, load = LOADERS[folder]
    model = check_saved_file(get_class(), path, tmp_path, load=load)
    assert type(labelfuse.load(path)) is type(model)  # the one loader reads every class and format version
    expected = np.load(expected_path(path), allow_pickle=False)
    inputs = [expected[f"in_{i}"] for i in range(len(expected.files)) if f"in_{i}" in expected.files]
    inputs = [a.tolist() if a.dtype.kind == "U" else a for a in inputs]
    got = getattr(model, str(expected["method"]))(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    wanted = [expected[f"out_{i}"] for i in range(len(got))]
    assert f"out_{len(got)}" not in expected.files, "the call returns fewer outputs than were recorded"
    for g, w in zip(got, wanted):
        np.testing.assert_allclose(np.asarray(g), w, rtol=float(expected["rtol"]), atol=1e-7)


def test_expected_companion_names():
    assert expected_path(Path("x/v1-0.1.0-triplet.lfm")).name == "v1-0.1.0-triplet.expected.npz"
    assert expected_path(Path("x/v1-0.1.0.npz")).name == "v1-0.1.0.expected.npz"
