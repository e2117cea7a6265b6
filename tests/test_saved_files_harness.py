"""The saved-file harness (tests/saved_files.py) itself: it passes for an estimator that checks its format
version, and fails for one that does not, for each file layout it supports."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from saved_files import check_saved_file, find_version, fixture_files, rewrite_version

SUPPORTED = (1,)


class ToyModel:
    """Saves like the label models do (zip: metadata.json + .npy), or as .json / .npz / a directory."""

    strict = True

    def __init__(self, weights=None):
        self.weights_ = np.arange(3.0) if weights is None else weights

    def save(self, path: Path, layout: str = "zip") -> None:
        meta = {"format": "toy", "format_version": 1, "weights": self.weights_.tolist()}
        if layout == "zip":
            with zipfile.ZipFile(path, "w") as zf:
                zf.writestr("metadata.json", json.dumps(meta))
        elif layout == "json":
            path.write_text(json.dumps(meta))
        elif layout == "npz":
            np.savez(path, metadata=np.array(json.dumps(meta)), weights=self.weights_)
        elif layout == "dir":
            path.mkdir()
            (path / "model.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: Path) -> "ToyModel":
        path = Path(path)
        if path.is_dir():
            meta = json.loads((path / "model.json").read_text())
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["metadata"]))
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                meta = json.loads(zf.read("metadata.json"))
        else:
            meta = json.loads(path.read_text())
        if cls.strict and meta.get("format_version") not in SUPPORTED:
            raise ValueError(f"path: {path} has format_version {meta.get('format_version')!r}, expected {SUPPORTED}")
        return cls(np.asarray(meta["weights"]))


class CarelessModel(ToyModel):
    strict = False  # loads whatever version it is given: the harness must catch this


@pytest.mark.parametrize("layout,name", [("zip", "m.lfm"), ("json", "m.json"), ("npz", "m.npz"), ("dir", "m")])
def test_harness_accepts_a_versioned_estimator(tmp_path, layout, name):
    path = tmp_path / name
    ToyModel().save(path, layout)
    assert find_version(path) == 1
    model = check_saved_file(ToyModel, path, tmp_path)
    np.testing.assert_array_equal(model.weights_, np.arange(3.0))


@pytest.mark.parametrize("layout,name", [("zip", "m.lfm"), ("npz", "m.npz")])
def test_harness_fails_an_estimator_that_ignores_the_version(tmp_path, layout, name):
    path = tmp_path / name
    CarelessModel().save(path, layout)
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        check_saved_file(CarelessModel, path, tmp_path)


def test_harness_fails_a_file_without_a_version(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"weights": [1, 2]}))
    with pytest.raises(AssertionError, match="format_version"):
        check_saved_file(ToyModel, path, tmp_path)
    with pytest.raises(AssertionError, match="no JSON metadata"):
        rewrite_version(path, tmp_path / "x.json", 2)


def test_rewrite_keeps_the_other_members(tmp_path):
    path = tmp_path / "m.npz"
    ToyModel(np.array([4.0, 5.0])).save(path, "npz")
    rewrite_version(path, tmp_path / "v2.npz", 2)
    assert find_version(tmp_path / "v2.npz") == 2
    with np.load(tmp_path / "v2.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["weights"], [4.0, 5.0])


def test_fixture_files_lists_saved_files_only(tmp_path):
    folder = tmp_path / "ToyModel"
    folder.mkdir()
    for name in ("v1-0.1.0.lfm", "v1-0.1.0.expected.npz", "README.md", "v2-0.3.0.lfm"):
        (folder / name).write_text("")
    assert [p.name for p in fixture_files("ToyModel", root=tmp_path)] == ["v1-0.1.0.lfm", "v2-0.3.0.lfm"]
    assert fixture_files("NoSuchModel", root=tmp_path) == []
