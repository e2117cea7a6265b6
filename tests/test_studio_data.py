"""What `labelfuse studio DATA` opens: tables (CSV, JSONL, parquet) and WRENCH folders, as a Workspace."""
import numpy as np
import pandas as pd
import pytest

from _studio_data import studio_frame
from labelfuse.studio.data import load_studio_data


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_tables_with_label_and_split_columns(tmp_path, suffix):
    frame, X = studio_frame(n=200)
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        pytest.importorskip("pyarrow")
        frame.to_parquet(path)
    np.save(tmp_path / "X.npy", X)
    ws, names = load_studio_data(path, embeddings=tmp_path / "X.npy", class_names=["HAM", "SPAM"])
    assert ws.n_rows == 200 and names == ["HAM", "SPAM"]
    np.testing.assert_array_equal(ws.gold, frame["label"].to_numpy())
    np.testing.assert_array_equal(ws.dev_rows, np.flatnonzero(frame["split"] == "dev"))  # "label"/"split" found
    np.testing.assert_allclose(ws.embeddings, X)


def test_gold_given_as_class_names(tmp_path):
    frame, _ = studio_frame(n=100)
    frame["label"] = np.array(["HAM", "SPAM"])[frame["label"]]
    frame.loc[3, "label"] = None
    frame.to_csv(tmp_path / "named.csv", index=False)
    ws, names = load_studio_data(tmp_path / "named.csv", class_names=["HAM", "SPAM"])
    expected = np.array(frame["label"] == "SPAM", dtype=np.int64)
    expected[3] = -1
    np.testing.assert_array_equal(ws.gold, expected)


def test_a_table_without_gold(tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"body": ["a b", "c d", "e"]}).to_csv(path, index=False)
    ws, names = load_studio_data(path, text="body")
    assert ws.gold is None and ws.dev_rows.size == 0 and names == ["0", "1"]


def test_bundled_wrench_folder_keeps_splits_names_and_embeddings():
    from labelfuse.datasets import load_dataset

    ds = load_dataset("wrench_youtube")
    ws, names = load_studio_data("wrench_youtube")
    n = sum(ds.split(s).n for s in ds.splits)
    assert ws.n_rows == n and names == ds.class_names and ws.embeddings.shape[0] == n
    assert ws.dev_rows.size == ds.valid.n  # valid is the dev split
    np.testing.assert_array_equal(ws.gold[ws.dev_rows], ds.valid.Y)
    assert ws.lfs == {}  # WRENCH's precomputed votes are not editable LFs


def test_unreadable_inputs_say_what_is_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_studio_data(tmp_path / "missing.csv")
    bad = tmp_path / "data.xlsx"
    bad.write_text("x")
    with pytest.raises(ValueError, match="expected a CSV file"):
        load_studio_data(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(ValueError, match="cannot read"):
        load_studio_data(broken)
