import json
import re
from pathlib import Path

import numpy as np
import pytest

import labelfuse
from labelfuse.datasets import Dataset, Split, load_dataset
from labelfuse.labeling import ABSTAIN, apply_lfs, labeling_function



# -- the bundled data set --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def youtube():
    return load_dataset()


def test_bundled_youtube_documented_sizes(youtube):
    assert isinstance(youtube, Dataset) and youtube.name == "wrench_youtube"
    assert {s: len(v) for s, v in youtube.splits.items()} == {"train": 1686, "valid": 120, "test": 250}
    assert youtube.n_lfs == 10 and youtube.cardinality == 2 and youtube.class_names == ["HAM", "SPAM"]
    assert youtube.lf_names[0] == "keyword_my" and len(youtube.lf_names) == 10
    for split in youtube.splits.values():
        assert isinstance(split, Split)
        assert split.L.dtype == np.int8 and split.L.shape == (split.n, 10)
        assert split.Y.dtype == np.int64 and split.has_gold and set(np.unique(split.Y)) == {0, 1}
        np.testing.assert_array_equal(split.ids, np.arange(split.n))
        assert len(split.texts) == len(split.data) == split.n and split.texts[0] == split.data[0]["text"]
        assert split.embeddings.dtype == np.float32 and split.embeddings.shape == (split.n, 384)
        np.testing.assert_allclose(np.linalg.norm(split.embeddings, axis=1), 1.0, atol=2e-3)  # stored float16
        assert int(split.L.min()) == -1 and int(split.L.max()) == 1
    # coverage quoted in the data set's README
    coverage = {s: round(float((v.L != -1).any(axis=1).mean()), 3) for s, v in youtube.splits.items()}
    assert coverage == {"train": 0.893, "valid": 0.875, "test": 0.928}


def test_bundled_data_found_through_the_package_not_the_source_tree(youtube):
    package_dir = Path(labelfuse.__file__).resolve().parent
    assert Path(youtube.source).resolve() == package_dir / "data" / "wrench_youtube"
    assert load_dataset("youtube").name == "wrench_youtube"  # alias


def test_labeled_exemplars_kept_by_default_and_droppable(youtube):
    train = youtube.train
    np.testing.assert_array_equal(train.labeled_index, np.arange(1586, 1686))
    assert train.lf_exemplar_index.size == 0
    # the exemplars duplicate earlier train texts
    assert set(train.texts[i] for i in train.labeled_index) <= set(train.texts[:1586])
    dropped = load_dataset(drop_labeled=True).train
    assert dropped.n == 1586 and dropped.labeled_index.size == 0
    np.testing.assert_array_equal(dropped.L, train.L[:1586])
    np.testing.assert_array_equal(dropped.Y, train.Y[:1586])
    np.testing.assert_array_equal(dropped.embeddings, train.embeddings[:1586])
    assert dropped.texts == train.texts[:1586] and dropped.ids.tolist() == list(range(1586))


def test_snorkel_tutorial_lfs_reproduce_bundled_votes(youtube):
    """Re-implementing the tutorial's keyword/regex/length LFs with apply_lfs gives the stored columns 0-6."""
    def keyword_lf(name, words, label):
        @labeling_function(name=name, resources={"words": words})
        def lf(x, words):
            return label if any(w in x.lower() for w in words) else ABSTAIN
        return lf

    @labeling_function()
    def regex_check_out(x):
        return 1 if re.search(r"check.*out", x, flags=re.I) else ABSTAIN

    @labeling_function()
    def short_comment(x):
        return 0 if len(x.split()) < 5 else ABSTAIN

    lfs = [keyword_lf("keyword_my", ["my"], 1), keyword_lf("keyword_subscribe", ["subscribe"], 1),
           keyword_lf("keyword_link", ["http"], 1), keyword_lf("keyword_please", ["please", "plz"], 1),
           keyword_lf("keyword_song", ["song"], 0), regex_check_out, short_comment]
    assert [lf.name for lf in lfs] == youtube.lf_names[:7]
    for split in youtube.splits.values():
        L = apply_lfs(lfs, split.texts, cardinality=2, progress=False)
        np.testing.assert_array_equal(L, split.L[:, :7])


def test_load_without_embeddings_and_subset_of_splits():
    ds = load_dataset("wrench_youtube", splits=["valid"], embeddings=False)
    assert list(ds.splits) == ["valid"] and ds.valid.embeddings is None and ds.train is None
    assert load_dataset(splits="test").test.n == 250
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_dataset(splits=["dev"])


# -- WRENCH folders written by the tests -----------------------------------------------------------------------------
def write_wrench(folder, splits, classes=("neg", "pos"), emb_dim=None, extra=None):
    """splits: {name: [(id, label, weak_labels, data), ...]} written in the given (file) order."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "label.json").write_text(json.dumps({str(i): c for i, c in enumerate(classes)}))
    for name, rows in splits.items():
        (folder / f"{name}.json").write_text(json.dumps(
            {str(i): {"label": y, "weak_labels": wl, "data": d} for i, y, wl, d in rows}))
        if emb_dim:
            (folder / "minilm").mkdir(exist_ok=True)
            # embedding row r (ascending id order) = [id, id, ...], so alignment is checkable
            ids = sorted(i for i, *_ in rows)
            np.save(folder / "minilm" / f"{name}.npy", np.repeat(np.array(ids, np.float16)[:, None], emb_dim, 1))
    for filename, content in (extra or {}).items():
        (folder / filename).write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


ROWS = [(2, 1, [1, -1], {"text": "c"}), (0, 0, [0, 0], {"text": "a"}), (10, 1, [-1, 1], {"text": "k"}),
        (1, None, [-1, -1], {"text": "b"})]


def test_rows_sorted_by_integer_id_with_embeddings_aligned(tmp_path):
    ds = load_dataset(write_wrench(tmp_path / "toy", {"train": ROWS, "test": ROWS[:2]}, emb_dim=3))
    tr = ds.train
    assert tr.ids.tolist() == [0, 1, 2, 10] and tr.texts == ["a", "b", "c", "k"]
    np.testing.assert_array_equal(tr.L, [[0, 0], [-1, -1], [1, -1], [-1, 1]])
    np.testing.assert_array_equal(tr.Y, [0, -1, 1, 1])  # null label -> -1
    assert not tr.has_gold and ds.test.has_gold
    np.testing.assert_array_equal(tr.embeddings[:, 0], [0, 1, 2, 10])
    assert ds.lf_names is None and ds.name == "toy"
    assert "test" in ds and "valid" not in ds and ds.valid is None


def test_missing_train_split_handled(tmp_path):
    ds = load_dataset(write_wrench(tmp_path / "nt", {"valid": ROWS, "test": ROWS}))
    assert list(ds.splits) == ["valid", "test"] and ds.train is None
    with pytest.raises(KeyError, match="no 'train' split; available: valid, test"):
        ds["train"]
    with pytest.raises(FileNotFoundError, match="no 'train' split"):
        load_dataset(tmp_path / "nt", splits=["train"])


def test_labeled_ids_with_lf_exemplars(tmp_path):
    folder = write_wrench(tmp_path / "lab", {"train": ROWS},
                          extra={"labeled_ids.json": {"labeled_ids": ["10", "1"], "lf_exemplar_ids": ["2", "10"]}})
    tr = load_dataset(folder).train
    assert tr.labeled_index.tolist() == [3, 1] and tr.lf_exemplar_index.tolist() == [2, 3]
    dropped = load_dataset(folder, drop_labeled=True).train
    assert dropped.ids.tolist() == [0, 2] and dropped.lf_exemplar_index.tolist() == [1]  # id 2, re-indexed
    bad = write_wrench(tmp_path / "lab2", {"train": ROWS}, extra={"labeled_ids.json": {"labeled_ids": ["99"]}})
    with pytest.raises(ValueError, match="id '99' is not in the train split"):
        load_dataset(bad)


def test_lf_names_file(tmp_path):
    ok = write_wrench(tmp_path / "n1", {"test": ROWS}, extra={"lf_names.json": ["a", "b"]})
    assert load_dataset(ok).lf_names == ["a", "b"]
    short = write_wrench(tmp_path / "n2", {"test": ROWS}, extra={"lf_names.json": ["a"]})
    with pytest.raises(ValueError, match="list of 2 LF names"):
        load_dataset(short)
    dup = write_wrench(tmp_path / "n3", {"test": ROWS}, extra={"lf_names.json": ["a", "a"]})
    with pytest.raises(ValueError, match="unique"):
        load_dataset(dup)


def test_more_than_128_classes_widens_L(tmp_path):
    classes = [f"c{i}" for i in range(200)]
    ds = load_dataset(write_wrench(tmp_path / "wide", {"test": [(0, 150, [199, -1], {})]}, classes=classes))
    assert ds.test.L.dtype == np.int16 and ds.test.L.tolist() == [[199, -1]] and ds.test.texts is None


# -- bad input -------------------------------------------------------------------------------------------------------
def test_unknown_name_or_missing_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LABELFUSE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="neither a folder nor a bundled data set"):
        load_dataset("no_such_set")
    with pytest.raises(FileNotFoundError, match="no data set folder"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(TypeError, match="name_or_path"):
        load_dataset(3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no split files"):
        load_dataset(tmp_path / "empty")


def test_search_path_env(tmp_path, monkeypatch):
    write_wrench(tmp_path / "root" / "mine", {"test": ROWS})
    monkeypatch.setenv("LABELFUSE_DATA", str(tmp_path / "root"))
    assert load_dataset("mine").test.n == 4


def test_missing_label_json(tmp_path):
    folder = write_wrench(tmp_path / "nl", {"test": ROWS})
    (folder / "label.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"label\.json: file not found"):
        load_dataset(folder)


@pytest.mark.parametrize("filename", ["test.json", "label.json"])
def test_malformed_json_names_the_file(tmp_path, filename):
    folder = write_wrench(tmp_path / "mj", {"test": ROWS})
    (folder / filename).write_text('{"0": {"label": 1, ')
    with pytest.raises(ValueError, match=re.escape(filename) + ": not valid JSON"):
        load_dataset(folder)


@pytest.mark.parametrize("rows, message", [
    ([(0, 1, [1, -1], {}), (1, 0, [1], {})], r"example '1': weak_labels must be a list with one vote per LF \(2\)"),
    ([(0, 1, [1, 2], {})], r"example '0', LF 1: vote 2; expected -1 \(abstain\) or 0..1"),
    ([(0, 1, [1, -2], {})], "vote -2"),
    ([(0, 1, [1.5, 0], {})], "weak_labels must be integers"),
    ([(0, 1, [True, 0], {})], "weak_labels must be integers"),
    ([(0, 3, [1, 0], {})], r"label 3; expected 0..1"),
    ([(0, "spam", [1, 0], {})], "label must be integers"),
    ([(0, 1, [], {})], "no weak labels"),
])
def test_bad_entries_name_the_example(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(write_wrench(tmp_path / "bad", {"test": rows}))


def test_bad_structure(tmp_path):
    folder = write_wrench(tmp_path / "s", {"test": ROWS})
    (folder / "test.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object keyed by example id"):
        load_dataset(folder)
    (folder / "test.json").write_text('{"a": {"label": 0, "weak_labels": [0], "data": {}}}')
    with pytest.raises(ValueError, match="ids must be integers.*'a'"):
        load_dataset(folder)
    (folder / "test.json").write_text('{"0": {"weak_labels": [0]}}')
    with pytest.raises(ValueError, match="example '0': expected an object with 'label'"):
        load_dataset(folder)
    (folder / "test.json").write_text("{}")
    with pytest.raises(ValueError, match="has no examples"):
        load_dataset(folder)
    (folder / "label.json").write_text('{"1": "a", "2": "b"}')
    with pytest.raises(ValueError, match="class ids must be 0..k-1"):
        load_dataset(folder)


def test_splits_disagree_on_lf_count(tmp_path):
    folder = write_wrench(tmp_path / "d", {"valid": ROWS, "test": [(0, 1, [1, 0, 1], {})]})
    with pytest.raises(ValueError, match="disagree on the number of LFs"):
        load_dataset(folder)


def test_embeddings_with_wrong_rows(tmp_path):
    folder = write_wrench(tmp_path / "e", {"test": ROWS}, emb_dim=4)
    np.save(folder / "minilm" / "test.npy", np.zeros((3, 4), np.float16))
    with pytest.raises(ValueError, match=r"one row per example \(4\), got shape \(3, 4\)"):
        load_dataset(folder)
    assert load_dataset(folder, embeddings=False).test.embeddings is None


# -- the shared WRENCH copies ($LABELFUSE_DATA or ../shared/data; skipped when absent) -------------------------------
SHARED_SIZES = {
    "wrench_youtube": ({"train": 1686, "valid": 120, "test": 250}, 10, 2),
    "wrench_sms": ({"train": 4571, "valid": 500, "test": 500}, 73, 2),
    "wrench_trec": ({"train": 5033, "valid": 500, "test": 500}, 68, 6),
    "wrench_semeval": ({"train": 1749, "valid": 178, "test": 600}, 164, 9),
    "wrench_chemprot": ({"valid": 1607, "test": 1607}, 26, 10),
}


@pytest.mark.parametrize("name", sorted(SHARED_SIZES))
def test_shared_wrench_sets_load(name, shared_data):
    sizes, m, k = SHARED_SIZES[name]
    ds = load_dataset(shared_data(name))
    assert {s: len(v) for s, v in ds.splits.items()} == sizes
    assert ds.n_lfs == m and ds.cardinality == k
    for split in ds.splits.values():
        assert split.embeddings.shape == (split.n, 384)
        assert (np.diff(split.ids) > 0).all()


def test_shared_shuffled_file_order_embeddings_follow_ascending_ids(shared_data):
    """chemprot's files are shuffled; rows sharing a text must share an embedding in our (ascending id) order."""
    test = load_dataset(shared_data("wrench_chemprot"), splits=["test"]).test
    first = {}
    pairs = 0
    for i, t in enumerate(test.texts):
        if t in first:
            np.testing.assert_allclose(test.embeddings[i], test.embeddings[first[t]], atol=1e-3)
            pairs += 1
        else:
            first[t] = i
    assert pairs > 100
