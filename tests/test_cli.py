import json

import numpy as np
import pytest

from labelfuse import LFAnalysis, load_dataset
from labelfuse.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def summary_lines(out):
    """The LF rows of the printed table: name followed by its numbers."""
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:-1]}


def test_analyze_bundled_default(capsys):
    code, out, err = run(capsys, "analyze")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "wrench_youtube / train: 1686 examples, 10 LFs, 2 classes (HAM, SPAM)"
    header = lines[1].split()
    assert header == ["j", "Polarity", "Coverage", "Overlaps", "Conflicts"]
    rows = summary_lines(out)
    ds = load_dataset()
    assert list(rows) == ds.lf_names
    expected = LFAnalysis(ds.train.L, cardinality=2).lf_summary()
    printed_coverage = [float(r[2]) for r in rows.values()]
    np.testing.assert_allclose(printed_coverage, expected["Coverage"].to_numpy(), atol=5e-4)
    assert lines[-1].startswith("label coverage 0.893,")


def test_analyze_gold_adds_accuracy_columns(capsys):
    code, out, _ = run(capsys, "analyze", "--split", "test", "--gold")
    assert code == 0
    assert out.splitlines()[0].startswith("wrench_youtube / test: 250 examples")
    assert out.splitlines()[1].split()[-4:] == ["Correct", "Incorrect", "Emp.", "Acc."]
    ds = load_dataset(splits=["test"])
    expected = LFAnalysis(ds.test.L, cardinality=2).lf_summary(Y=ds.test.Y)
    correct = [int(r[5]) for r in summary_lines(out).values()]
    assert correct == expected["Correct"].tolist()


def test_analyze_drop_labeled(capsys):
    code, out, _ = run(capsys, "analyze", "--drop-labeled")
    assert code == 0 and "train: 1586 examples" in out.splitlines()[0]


def test_analyze_folder_without_train_uses_first_split(capsys, tmp_path):
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "label.json").write_text(json.dumps({"0": "a", "1": "b", "2": "c"}))
    rows = {"0": {"label": 2, "weak_labels": [2, -1], "data": {}}, "1": {"label": 0, "weak_labels": [0, 1], "data": {}}}
    (folder / "valid.json").write_text(json.dumps(rows))
    code, out, _ = run(capsys, "analyze", str(folder), "--gold")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "mini / valid: 2 examples, 2 LFs, 3 classes (a, b, c)"
    assert lines[2].split()[:3] == ["0", "0", "[0,"]  # unnamed LFs are numbered; polarity [0, 2]
    code, _, err = run(capsys, "analyze", str(folder), "--split", "train")
    assert code == 1 and "no 'train' split; available: valid" in err


def test_analyze_gold_refused_when_labels_missing(capsys, tmp_path):
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    (folder / "label.json").write_text(json.dumps({"0": "a", "1": "b"}))
    rows = {"0": {"label": None, "weak_labels": [1], "data": {}}, "1": {"label": 0, "weak_labels": [0], "data": {}}}
    (folder / "train.json").write_text(json.dumps(rows))
    assert run(capsys, "analyze", str(folder))[0] == 0
    code, _, err = run(capsys, "analyze", str(folder), "--gold")
    assert code == 1 and "1 of 2 examples in 'train' have no gold label" in err


def test_analyze_errors_are_one_line_messages(capsys, tmp_path):
    code, out, err = run(capsys, "analyze", "no_such_data_set")
    assert code == 1 and out == ""
    assert err.startswith("labelfuse analyze: error: name_or_path: 'no_such_data_set' is neither")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "label.json").write_text("{not json")
    (bad / "train.json").write_text("{}")
    code, _, err = run(capsys, "analyze", str(bad))
    assert code == 1 and "label.json: not valid JSON" in err


def test_no_command_prints_help(capsys):
    code, out, err = run(capsys)
    assert code == 2 and "analyze" in err


def test_argparse_rejects_bad_split(capsys):
    with pytest.raises(SystemExit) as info:
        main(["analyze", "--split", "dev"])
    assert info.value.code == 2
    assert "invalid choice: 'dev'" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("labelfuse ")


def test_analyze_shared_chemprot(capsys, shared_data):
    code, out, _ = run(capsys, "analyze", str(shared_data("wrench_chemprot")), "--gold")
    assert code == 0 and out.startswith("wrench_chemprot / valid: 1607 examples, 26 LFs, 10 classes")


def test_run_main_job_on_bundled_data(capsys, tmp_path):
    from labelfuse.cli import main

    out_json = tmp_path / "report.json"
    plots = tmp_path / "plots"
    assert main(["run", "--no-fusion", "--no-end-model", "--json", str(out_json), "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    assert "1. Labeling functions" in out and "label model: dawid_skene" in out and "What to do next" in out
    for name in ("lf_bars.png", "label_histogram.png", "confusion_valid.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    import json

    report = json.loads(out_json.read_text())
    assert report["cardinality"] == 2 and len(report["lfs"]) == 10
    best = max(report["stages"], key=lambda s: s["valid acc"])
    assert best["test acc"] > 0.75  # every label model beats the 0.53 majority class here


def test_run_rejects_a_data_set_without_splits(tmp_path, capsys):
    from labelfuse.cli import main

    assert main(["run", str(tmp_path / "missing")]) == 1
