"""Hostile WRENCH data folders: each is refused by ``load_dataset`` / ``labelfuse run`` with one short ValueError
naming the file (and the example or split), never an OverflowError, RecursionError or codec error traceback, and
never echoing a huge value whole."""
from __future__ import annotations

import json

import pytest

from labelfuse import pipeline
from labelfuse.datasets import load_dataset

from test_datasets import ROWS, write_wrench


def _raw_split(folder, name, text):
    (folder / f"{name}.json").write_text(text)
    return folder


@pytest.mark.parametrize("value", ["9223372036854775808", str(2**70), "-" + str(2**70)])
@pytest.mark.parametrize("field", ["weak_labels", "label"])
def test_votes_and_labels_beyond_64_bits(tmp_path, value, field):
    folder = write_wrench(tmp_path / "d", {"train": ROWS})
    entry = {"label": 0, "weak_labels": [0, 1]}
    text = json.dumps({"0": {**entry, "data": {}}}).replace(
        '"weak_labels": [0, 1]' if field == "weak_labels" else '"label": 0',
        f'"weak_labels": [0, {value}]' if field == "weak_labels" else f'"label": {value}')
    _raw_split(folder, "train", text)
    with pytest.raises(ValueError, match=rf"train.json: example '0': {field} -?\d+ is out of range"):
        load_dataset(folder)


def test_a_5000_digit_vote_or_id_is_not_echoed(tmp_path):
    folder = write_wrench(tmp_path / "d", {"train": ROWS})
    huge = "7" * 5000
    _raw_split(folder, "train", '{"0": {"label": 0, "weak_labels": [0, %s], "data": {}}}' % huge)
    with pytest.raises(ValueError, match=r"train.json: not valid JSON") as err:
        load_dataset(folder)  # (Python refuses to parse integers of over 4,300 digits)
    assert len(str(err.value)) < 400
    _raw_split(folder, "train", '{"%s": {"label": 0, "weak_labels": [0, 1], "data": {}}}' % huge)
    with pytest.raises(ValueError, match=r"train.json: example ids must be integers \(as strings\) of at most") as err:
        load_dataset(folder)
    assert len(str(err.value)) < 400


def test_deep_nesting(tmp_path):
    folder = write_wrench(tmp_path / "d", {"train": ROWS})
    _raw_split(folder, "train", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match=r"train.json: nested too deeply"):
        load_dataset(folder)


@pytest.mark.parametrize("filename,content,what", [
    ("lf_names.json", '["a", "\\ud800"]', "LF name 1"),
    ("label.json", '{"0": "neg", "1": "\\udfff"}', "class name 1"),
])
def test_lone_surrogates_in_names_name_the_file(tmp_path, filename, content, what):
    folder = write_wrench(tmp_path / "d", {"train": ROWS}, extra={filename: content})
    with pytest.raises(ValueError, match=rf"{filename}: {what} .* holds a lone surrogate"):
        load_dataset(folder)


@pytest.mark.parametrize("split", ["valid", "test"])
def test_run_names_the_split_without_gold_labels(tmp_path, split):
    labeled = [(i, y if y is not None else 0, wl, d) for i, y, wl, d in ROWS]
    splits = {"train": ROWS, "valid": labeled, "test": labeled}
    splits[split] = ROWS  # example 1 has no gold label
    folder = write_wrench(tmp_path / "d", splits)
    with pytest.raises(ValueError, match=rf"{split}.json: 1 of 4 examples have no gold label"):
        pipeline.run(folder, fusion=False, end_model=False, progress=False)
