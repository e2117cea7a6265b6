"""Hostile and damaged model files: each is refused by ``labelfuse.load`` with one FileFormatError naming the file
and what is wrong, before the model is used and without allocating what the file claims.

The files are written as an attacker would: a genuine saved model whose safetensors header (metadata and array
table) is rewritten, or an archive of an earlier format whose members unpack to far more than the file.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import zipfile

import numpy as np
import pytest

import labelfuse as lf
from labelfuse._io import LEGACY_MIN_BOUND, MAX_HEADER_BYTES, FileFormatError
from labelfuse.synthetic import make_label_matrix

st_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402

# the saved model is fitted on a small synthetic matrix whose fit warns; these tests are about loading
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

S = make_label_matrix(1000, 5, 2, random_state=0)


def rewrite(src, dst, edit_state=None, edit_arrays=None):
    """A copy of the model file ``src`` at ``dst`` with its state JSON and/or arrays edited in place."""
    with safe_open(str(src), "numpy") as f:
        meta = f.metadata()
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    state = json.loads(meta["state"])
    if edit_state:
        edit_state(state)
    if edit_arrays:
        edit_arrays(arrays)
    meta["state"] = json.dumps(state)
    st_numpy.save_file(arrays, str(dst), metadata=meta)
    return dst


@pytest.fixture
def saved(tmp_path):
    lm = lf.LabelModel(cardinality=2).fit(S.L)
    mv = lf.MajorityVote(cardinality=2).fit(S.L)
    return {"LabelModel": lm.save(tmp_path / "lm.lf"), "MajorityVote": mv.save(tmp_path / "mv.lf")}


def _set(name, value):
    def edit(arrays):
        arrays[name] = value(arrays[name])
    return edit


ARRAY_EDITS = {
    "nan cpt": ("LabelModel", _set("cpt_", lambda a: np.full_like(a, np.nan)), r"cpt_ holds NaN"),
    "cpt of other LFs": ("LabelModel", _set("cpt_", lambda a: np.full((50, 3, 2), 1 / 3)),
                         r"cpt_ has shape \(50, 3, 2\), but the model's fitted values imply \(5, 3, 2\)"),
    "cpt not probabilities": ("LabelModel", _set("cpt_", lambda a: a * 0.5), r"cpt_ holds probabilities that do not"),
    "cpt negative": ("LabelModel", _set("cpt_", lambda a: a - 1), r"cpt_ holds values outside \[0, 1\]"),
    "cpt ints": ("LabelModel", _set("cpt_", lambda a: a.astype(np.int64)), r"cpt_ has dtype int64"),
    "nan balance": ("MajorityVote", _set("class_balance_", lambda a: np.array([np.nan, 1.0])),
                    r"class_balance_ holds NaN"),
    "balance of 3 classes": ("MajorityVote", _set("class_balance_", lambda a: np.full(3, 1 / 3)),
                             r"class_balance_ has shape \(3,\)"),
}


@pytest.mark.parametrize("case", sorted(ARRAY_EDITS))
def test_fitted_arrays_are_checked_on_load(case, saved, tmp_path):
    cls, edit, message = ARRAY_EDITS[case]
    bad = rewrite(saved[cls], tmp_path / "bad.lf", edit_arrays=edit)
    with pytest.raises(FileFormatError, match=rf"^path: {bad}: the saved {cls}'s {message}"):
        lf.load(bad)


def test_fitted_values_are_checked_against_the_arrays(saved, tmp_path):
    def huge(state):
        state["fitted"]["n_lfs_"] = 10**12
    with pytest.raises(FileFormatError, match=r"cpt_ has shape \(5, 3, 2\), but .* imply \(1000000000000, 3, 2\)"):
        lf.load(rewrite(saved["LabelModel"], tmp_path / "a.lf", edit_state=huge))

    def text(state):
        state["fitted"]["cardinality_"] = "2"
    with pytest.raises(FileFormatError, match=r"cardinality_ is '2', not an int of at least 2"):
        lf.load(rewrite(saved["LabelModel"], tmp_path / "b.lf", edit_state=text))


def test_unknown_fitted_names_never_become_attributes(saved, tmp_path):
    def inject(state):
        state["fitted"].update({"predict_proba": 1, "__dict__": {}, "__class__": "x"})
    model = lf.load(rewrite(saved["LabelModel"], tmp_path / "x.lf", edit_state=inject))
    assert type(model) is lf.LabelModel and "predict_proba" not in vars(model)
    assert np.allclose(model.predict_proba(S.L), lf.load(saved["LabelModel"]).predict_proba(S.L))


@pytest.mark.parametrize("state", ["[]", "null", "1", '"x"'])
def test_state_that_is_not_an_object_is_refused(state, saved, tmp_path):
    with safe_open(str(saved["LabelModel"]), "numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    bad = tmp_path / "s.lf"
    st_numpy.save_file(arrays, str(bad), metadata={**meta, "state": state})
    with pytest.raises(FileFormatError, match=rf"^path: {bad} is damaged"):
        lf.load(bad)


def test_deeply_nested_state_is_refused(saved, tmp_path):
    with safe_open(str(saved["LabelModel"]), "numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    bad = tmp_path / "deep.lf"
    st_numpy.save_file(arrays, str(bad), metadata={**meta, "state": "[" * 200_000 + "]" * 200_000})
    with pytest.raises(FileFormatError, match=rf"^path: {bad} is damaged"):
        lf.load(bad)


def test_an_oversized_header_is_refused_before_it_is_parsed(tmp_path):
    # a valid safetensors file (no tensors) whose JSON header is padded past the bound with spaces
    header = json.dumps({"__metadata__": {"format": "labelfuse"}}).encode()
    header += b" " * (MAX_HEADER_BYTES + 1 - len(header))
    bad = tmp_path / "padded.lf"
    bad.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(FileFormatError, match=rf"^path: {bad} declares a [\d,]+-byte header"):
        lf.load(bad)


def test_a_file_of_another_class_names_both(saved):
    with pytest.raises(TypeError, match=r"holds a MajorityVote, not a LabelModel"):
        lf.LabelModel.load(saved["MajorityVote"])


def test_legacy_archive_that_unpacks_past_its_bound_is_refused(tmp_path):
    bomb = tmp_path / "bomb.lfm"
    chunk = b" " * 2**20
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("metadata.json", "w", force_zip64=True) as member:
            member.write(b'{"format": "labelfuse-model"')
            for _ in range(LEGACY_MIN_BOUND // len(chunk) + 1):
                member.write(chunk)
            member.write(b"}")
    assert bomb.stat().st_size < LEGACY_MIN_BOUND // 100
    with pytest.raises(FileFormatError, match=rf"^path: {bomb} declares [\d,]+ bytes once unpacked"):
        lf.load(bomb)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_save_replaces_a_planted_symlink_and_never_writes_through_it(saved, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious")
    link = tmp_path / "model.lf"
    os.symlink(target, link)
    lf.LabelModel(cardinality=2).fit(S.L).save(link)
    assert target.read_text() == "precious"
    assert not link.is_symlink() and isinstance(lf.load(link), lf.LabelModel)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_end_model_weights_that_do_not_fit_the_configuration_allocate_nothing(tmp_path):
    pytest.importorskip("torch")
    from labelfuse.endmodels.adapter import Adapter

    X = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    P = np.eye(2)[np.arange(64) % 2]
    path = Adapter(hidden=(16,), max_epochs=1, progress=False).fit(X, P).save(tmp_path / "a.lf")

    def wide(state):
        state["fitted"]["input_dim_"] = 300_000_000  # a (16, 3e8) float32 layer: 19 GB if it were built
    with pytest.raises(FileFormatError, match=r"weight 'layers.0.0.weight' has shape \(16, 8\), but its "
                                              r"configuration implies \(16, 300000000\)"):
        lf.load(rewrite(path, tmp_path / "wide.lf", edit_state=wide))
