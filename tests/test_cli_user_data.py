"""``labelfuse run / analyze DATA --lfs my_lfs.py`` on a user's CSV, Parquet, JSON Lines table and WRENCH folder."""
import json

import numpy as np
import pandas as pd
import pytest

from labelfuse import LFAnalysis
from labelfuse.cli import main
from labelfuse.labeling import apply_lfs, lfs_from_file

LF_FILE = '''
from labelfuse.labeling import ABSTAIN, keyword_lf, labeling_function, preprocessor

kw_spam = keyword_lf("kw_spam", ["free", "win"], label=1)
kw_ham = keyword_lf("kw_ham", ["song", "thanks"], label=0)


@preprocessor(memoize=True)
def lower(x):
    x.lower = x.text.lower()
    return x


@labeling_function(pre=[lower])
def link(x):
    return 1 if "http" in x.lower else ABSTAIN
'''

RARE_LFS = '''
rare = [keyword_lf(f"kw_rare_{i}", [f"rare{i}"], label=1) for i in range(20)]
lfs = [kw_spam, kw_ham, link] + rare
'''


def make_frame(n=400, seed=0, rare=False):
    """Comments whose words depend on the class: spam (1) says free / win / http, ham (0) song / thanks."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    texts = []
    for i, c in enumerate(y):
        words = list(rng.choice(["nice", "video", "lol", "the", "a", "great"], size=3))
        for w, p_spam, p_ham in (("free", 0.5, 0.05), ("win", 0.3, 0.05), ("http://x.y", 0.3, 0.02),
                                 ("song", 0.05, 0.5), ("thanks", 0.05, 0.4)):
            if rng.random() < (p_spam if c == 1 else p_ham):
                words.append(w.upper() if rng.random() < 0.3 else w)
        if rare and i < 20:
            words.append(f"rare{i}")
        texts.append(" ".join(rng.permutation(words)))
    split = np.where(np.arange(n) % 5 == 3, "valid", np.where(np.arange(n) % 5 == 4, "test", "train"))
    return pd.DataFrame({"id": np.arange(n), "text": texts, "label": y, "split": split})


def write(df, path):
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)
    return path


def write_wrench(df, folder):
    folder.mkdir()
    (folder / "label.json").write_text(json.dumps({"0": "0", "1": "1"}))
    for s in ("train", "valid", "test"):
        part = df[df["split"] == s]
        rows = {str(i): {"label": int(r.label), "weak_labels": [-1], "data": {"text": r.text}}
                for i, r in zip(range(len(part)), part.itertuples())}
        (folder / f"{s}.json").write_text(json.dumps(rows))
    return folder


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def lf_file(tmp_path):
    path = tmp_path / "my_lfs.py"
    path.write_text(LF_FILE)
    return path


def comparable(report):
    """The report without timings."""
    return {"lfs": report["lfs"], "stages": [{k: v for k, v in s.items() if k != "seconds"}
                                              for s in report["stages"]], "advice": report["advice"]}


def test_run_on_csv_parquet_jsonl_and_a_wrench_folder_agree(tmp_path, lf_file, capsys):
    df = make_frame()
    reports = {}
    sources = [write(df, tmp_path / "comments.csv"), write(df, tmp_path / "comments.parquet"),
               write(df, tmp_path / "comments.jsonl"), write_wrench(df, tmp_path / "wrench")]
    for src in sources:
        out_json = tmp_path / f"report_{src.name}.json"
        code, out, err = cli(capsys, "run", src, "--lfs", lf_file, "--no-fusion", "--no-end-model",
                             "--json", out_json)
        assert code == 0, err
        assert "1. Labeling functions" in out and "What to do next" in out
        reports[src.name] = json.loads(out_json.read_text())
    first = comparable(reports["comments.csv"])
    for name, rep in reports.items():
        assert comparable(rep) == first, name
    # the LF table is the user's LFs, by name, with the statistics of those LFs on the train rows
    lfs = lfs_from_file(lf_file)
    assert list(first["lfs"]) == ["kw_spam", "kw_ham", "link"]
    train = df[df["split"] == "train"]
    expected = LFAnalysis(apply_lfs(lfs, train, progress=False), [lf.name for lf in lfs]).lf_summary()
    got = [first["lfs"][n]["Coverage"] for n in expected.index]
    np.testing.assert_allclose(got, expected["Coverage"].to_numpy())
    best = max(first["stages"], key=lambda s: s["valid acc"])
    assert best["test acc"] > 0.7  # the LFs are informative by construction; chance is about 0.5


def test_run_without_split_column_makes_a_seeded_split_and_says_so(tmp_path, lf_file, capsys):
    df = make_frame().drop(columns=["split"])
    src = write(df, tmp_path / "comments.csv")
    reports = []
    for _ in range(2):
        out_json = tmp_path / "report.json"
        code, out, err = cli(capsys, "run", src, "--lfs", lf_file, "--no-fusion", "--no-end-model", "--seed", "3",
                             "--json", out_json)
        assert code == 0
        assert "note: comments: no split column 'split'; made a seeded split (random_state=3): train 320, " \
               "valid 40, test 40 rows" in err
        reports.append(comparable(json.loads(out_json.read_text())))
    assert reports[0] == reports[1]  # the same seed, the same split


def test_partly_labelled_table_scores_on_its_gold_rows(tmp_path, lf_file, capsys):
    df = make_frame().drop(columns=["split"])
    df["label"] = df["label"].astype(float)
    df.loc[df.index % 4 != 0, "label"] = np.nan  # a quarter of the rows have a gold label
    src = write(df, tmp_path / "part.csv")
    code, _, err = cli(capsys, "run", src, "--lfs", lf_file, "--no-fusion", "--no-end-model")
    assert code == 0
    assert "train 300, valid 50, test 50 rows (valid and test share the rows with a gold label)" in err


def test_without_embeddings_fusion_and_end_model_are_skipped_unless_encode(tmp_path, lf_file, capsys,
                                                                           monkeypatch):
    src = write(make_frame(), tmp_path / "comments.csv")
    code, out, _ = cli(capsys, "run", src, "--lfs", lf_file, "--no-end-model")
    assert code == 0 and "embedding fusion (the data set has no embeddings; --encode computes them)" in out
    seen = []

    def fake_minilm(texts):  # stands in for the MiniLM encoder: a deterministic bag of words
        seen.append(len(texts))
        vocab = ["free", "win", "http", "song", "thanks", "nice", "video", "lol"]
        X = np.array([[t.lower().count(w) for w in vocab] + [1.0] for t in texts], dtype=np.float32)
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    import labelfuse.cli

    monkeypatch.setattr(labelfuse.cli, "_minilm", fake_minilm)
    code, out, _ = cli(capsys, "run", src, "--lfs", lf_file, "--encode", "--no-end-model")
    assert code == 0 and seen == [400]  # one call for every row, before the split
    assert "Epoxy" in out and "Liger" in out and "no embeddings" not in out


def test_analyze_a_table_text_and_json(tmp_path, lf_file, capsys):
    df = make_frame()
    src = write(df, tmp_path / "comments.jsonl")
    code, out, _ = cli(capsys, "analyze", src, "--lfs", lf_file)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "comments / all rows: 400 examples, 3 LFs, 2 classes (0, 1)"
    assert [ln.split()[0] for ln in lines[2:5]] == ["kw_spam", "kw_ham", "link"]
    code, out, _ = cli(capsys, "analyze", src, "--lfs", lf_file, "--gold", "--json")
    assert code == 0
    doc = json.loads(out)
    lfs = lfs_from_file(lf_file)
    L = apply_lfs(lfs, df, progress=False)
    expected = LFAnalysis(L, [lf.name for lf in lfs]).lf_summary(Y=df["label"].to_numpy())
    assert doc["n"] == 400 and list(doc["lfs"]) == list(expected.index)
    assert [doc["lfs"][n]["Correct"] for n in expected.index] == expected["Correct"].tolist()
    np.testing.assert_allclose(doc["label_coverage"], (L >= 0).any(axis=1).mean())
    out_path = tmp_path / "summary.json"
    code, out, _ = cli(capsys, "analyze", src, "--lfs", lf_file, "--split", "valid", "--json", out_path)
    assert code == 0 and json.loads(out_path.read_text())["n"] == 80 and "valid: 80 examples" in out


def test_advice_is_grouped_named_and_capped(tmp_path, capsys):
    lf_path = tmp_path / "many_lfs.py"
    lf_path.write_text(LF_FILE + RARE_LFS)
    src = write(make_frame(rare=True), tmp_path / "comments.csv")
    code, out, _ = cli(capsys, "run", src, "--lfs", lf_path, "--no-fusion", "--no-end-model")
    assert code == 0
    # (the advice section ends at the blank line before the list of warnings the run emitted)
    advice = out.split("What to do next:")[1].strip().split("\n\n")[0].splitlines()
    assert len(advice) <= 5
    sparse = [a for a in advice if "fire on fewer than" in a]
    assert len(sparse) == 1
    assert sparse[0].startswith("- 20 LFs fire on fewer than 0.5% of train rows: 'kw_rare_")
    assert "and 14 more" in sparse[0] and sparse[0].count("kw_rare_") == 6


@pytest.mark.parametrize("name, content, match", [
    ("data.xlsx", b"PK\x03\x04", "unknown extension '.xlsx'"),
    ("data.parquet", b"not parquet at all", "cannot read .* as PARQUET"),
    ("data.jsonl", b"{not json\n", "cannot read .* as JSONL"),
    ("data.csv", b"", "cannot read .* as CSV"),
    ("train.json", b'{"0": {"label": 1, "weak_labels": [1]},\n "1": {}}', "cannot read .* as JSON"),
])
def test_unreadable_input_lists_the_accepted_formats(tmp_path, lf_file, capsys, name, content, match):
    src = tmp_path / name
    src.write_bytes(content)
    code, out, err = cli(capsys, "run", src, "--lfs", lf_file)
    assert code == 1 and out == ""
    assert err.startswith("labelfuse run: error: DATA: ")
    import re
    assert re.search(match, err)
    assert "CSV file (.csv, .tsv), a Parquet file (.parquet, .pq), a JSON Lines file" in err
    assert "WRENCH folder" in err


def test_analyze_a_wrench_folder_with_the_users_lfs_and_a_renamed_text_column(tmp_path, lf_file, capsys):
    df = make_frame(n=100)
    code, out, _ = cli(capsys, "analyze", write_wrench(df, tmp_path / "wrench"), "--lfs", lf_file, "--json")
    assert code == 0
    doc = json.loads(out)
    lfs = lfs_from_file(lf_file)
    train = df[df["split"] == "train"]
    expected = LFAnalysis(apply_lfs(lfs, train, progress=False), [lf.name for lf in lfs]).lf_summary()
    assert doc["split"] == "train" and doc["n"] == len(train)
    np.testing.assert_allclose([doc["lfs"][n]["Coverage"] for n in expected.index], expected["Coverage"])
    # a table whose text column is called CONTENT: the LFs' default field "text" still reads it
    src = write(df.rename(columns={"text": "CONTENT"}), tmp_path / "renamed.csv")
    code, out, _ = cli(capsys, "analyze", src, "--lfs", lf_path_for_content(tmp_path), "--text-column", "CONTENT",
                       "--split", "train", "--json")
    assert code == 0 and json.loads(out)["lfs"] == doc["lfs"]


def lf_path_for_content(tmp_path):
    path = tmp_path / "content_lfs.py"
    path.write_text(LF_FILE.replace("x.text.lower()", "x.CONTENT.lower()"))
    return path


def test_a_json_array_of_records_reads_like_json_lines(tmp_path, lf_file, capsys):
    df = make_frame(n=60)
    (tmp_path / "rows.json").write_text(df.to_json(orient="records"))
    write(df, tmp_path / "rows.jsonl")
    outs = [cli(capsys, "analyze", tmp_path / name, "--lfs", lf_file, "--json") for name in ("rows.json", "rows.jsonl")]
    assert outs[0][0] == outs[1][0] == 0
    a, b = json.loads(outs[0][1]), json.loads(outs[1][1])
    assert a["n"] == 60 and a["lfs"] == b["lfs"]


def test_clear_errors_for_tables(tmp_path, lf_file, capsys):
    df = make_frame(n=50)
    src = write(df, tmp_path / "t.csv")
    code, _, err = cli(capsys, "run", src)
    assert code == 1 and "is a table, so the votes come from your labeling functions: pass --lfs" in err
    code, _, err = cli(capsys, "run", src, "--lfs", lf_file, "--text-column", "body")
    assert code == 1 and "text column 'body' not in the data (columns: ['id', 'text', 'label', 'split'])" in err
    code, _, err = cli(capsys, "run", tmp_path / "missing.csv", "--lfs", lf_file)
    assert code == 1 and "no such file or folder" in err
    code, _, err = cli(capsys, "run", src, "--lfs", tmp_path / "nope.py")
    assert code == 1 and err.startswith("labelfuse run: error: --lfs: ")
    bad_split = write(df.assign(split="holdout"), tmp_path / "bad_split.csv")
    code, _, err = cli(capsys, "run", bad_split, "--lfs", lf_file)
    assert code == 1 and "split column 'split': row 0 holds 'holdout'" in err
    fractional = write(df.assign(label=df["label"] * 0.5), tmp_path / "fractional.csv")
    code, _, err = cli(capsys, "run", fractional, "--lfs", lf_file)
    first = int(np.flatnonzero(df["label"] == 1)[0])
    assert code == 1 and f"label column 'label': row {first} holds 0.5; expected a class id" in err
    named = write(df.assign(label=np.where(df["label"] == 1, "spam", "ham")), tmp_path / "named.csv")
    code, _, err = cli(capsys, "run", named, "--lfs", lf_file)
    assert code == 1 and "pass --classes" in err
    code, out, _ = cli(capsys, "analyze", named, "--lfs", lf_file, "--classes", "ham,spam", "--gold")
    assert code == 0 and "2 classes (ham, spam)" in out
    unlabeled = write(df.drop(columns=["label"]), tmp_path / "unlabeled.csv")
    code, _, err = cli(capsys, "run", unlabeled, "--lfs", lf_file)
    assert code == 1 and "has no valid / test split" in err and "`labelfuse analyze` works without gold labels" in err
    assert cli(capsys, "analyze", unlabeled, "--lfs", lf_file)[0] == 0


def test_a_failing_preprocessor_is_named_in_the_cli_error(tmp_path, capsys):
    lf_path = tmp_path / "lfs.py"
    lf_path.write_text('''
from labelfuse.labeling import labeling_function, preprocessor

@preprocessor()
def parse_price(x):
    x.price = float(x.text.split("$")[1])
    return x

@labeling_function(pre=[parse_price])
def cheap(x):
    return 1 if x.price < 5 else 0
''')
    src = write(pd.DataFrame({"text": ["only $3", "no price here"], "label": [1, 0]}), tmp_path / "p.csv")
    code, _, err = cli(capsys, "analyze", src, "--lfs", lf_path)
    assert code == 1
    assert "preprocessor 'parse_price' (in the pre=[...] of labeling function 'cheap') failed on row 1: IndexError" \
        in err
