"""The benchmark suite's shape on the bundled data set (no peers, no external data): every method has a row, the
Markdown table and the JSON agree, scores are in range. Speed is not tested here."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from labelfuse.bench import suite as benchmark
from labelfuse.cli import main as cli_main


@pytest.fixture(scope="module")
def suite():
    pytest.importorskip("faiss")
    with warnings.catch_warnings(record=True) as caught:  # (the fits' diagnostics are tested where they arise)
        warnings.simplefilter("always")
        result = benchmark.run_suite(None, seeds=(0, 1), peers=False, adapter=False, progress=False)
    result.caught = caught
    return result


def test_majority_vote_reproduces_wrench_published_score(suite):
    """WRENCH's table reports majority vote at 84.00 test accuracy on youtube; the bench's scoring (tie policy
    "hash", WRENCH's rule) gives the same number, and the rows it tied on are reported."""
    mv = suite.datasets["youtube (bundled)"]["rows"][0]
    assert mv["method"] == "majority vote"
    assert mv["accuracy"] == pytest.approx(0.84, abs=1e-9)
    assert mv["abstained"] > 0


def test_every_method_has_a_row(suite):
    assert list(suite.datasets) == ["youtube (bundled)"]
    rows = suite.datasets["youtube (bundled)"]["rows"]
    expected = [m for m in benchmark.METHODS if m != "WS-Adapter"]
    assert [r["method"] for r in rows] == expected
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["f1"] <= 1.0 and 0.0 < r["coverage"] <= 1.0
        assert r["fit_s"] >= 0 and r["predict_s"] >= 0 and r["family"] == "labelfuse"
    liger = next(r for r in rows if r["method"] == "Liger")
    assert liger["runs"] == 2 and "accuracy_std" in liger  # seeds give mean ± std
    assert "accuracy_std" not in rows[0]  # deterministic methods: one run


def test_markdown_and_json(suite, tmp_path):
    paths = benchmark.write_outputs(suite, tmp_path / "suite", figure=False)
    md, js = paths[0].read_text(), json.loads(paths[1].read_text())
    assert set(js) == {"meta", "datasets", "skipped"}
    assert js["meta"]["tuning"] == benchmark.TUNING and js["meta"]["seeds"] == [0, 1]
    table = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    assert len(table) == len(js["datasets"]["youtube (bundled)"]["rows"])
    assert "Tuning budget" in md and "| Liger | " in md and " ± " in md
    acc = {r["method"]: r["accuracy"] for r in js["datasets"]["youtube (bundled)"]["rows"]}
    assert acc["majority vote"] == pytest.approx(suite.datasets["youtube (bundled)"]["rows"][0]["accuracy"])


def test_peer_ratios_are_against_the_counterpart():
    rows = [{"method": "triplet", "family": "labelfuse", "fit_s": 0.5, "predict_s": 0.1},
            {"method": "FlyingSquid", "family": "peer", "fit_s": 2.0, "predict_s": 1.0}]
    benchmark._ratios(rows)
    assert rows[1]["vs"] == "triplet"
    assert rows[1]["fit_s_ratio"] == pytest.approx(4.0) and rows[1]["predict_s_ratio"] == pytest.approx(10.0)


def test_discover_skips_non_wrench_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "train.json").write_text("{}")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "L_train.npy").write_bytes(b"")
    (tmp_path / "wrench_youtube").mkdir()
    (tmp_path / "wrench_youtube" / "test.json").write_text("{}")
    assert [n for n, _ in benchmark.discover_datasets(tmp_path)] == ["youtube (bundled)", "a"]
    assert [n for n, _ in benchmark.discover_datasets(tmp_path, bundled=False)] == ["a", "wrench_youtube"]


def test_cli_bench_writes_outputs(tmp_path, capsys):
    pytest.importorskip("faiss")
    code = cli_main(["bench", "--no-data", "--no-peers", "--no-adapter", "--seeds", "1", "--out",
                     str(tmp_path / "s")])
    assert code == 0
    assert (tmp_path / "s.md").is_file() and (tmp_path / "s.json").is_file()
    assert "| WS + kNN |" in capsys.readouterr().out


def test_scaling_measures_every_phase_in_a_subprocess(tmp_path):
    from labelfuse.bench import scaling as bench_scaling

    res = bench_scaling.run_grid(grid=[(2000, 5, 2)], peers=False, timeout=120, progress=False)
    assert [r["contender"] for r in res["rows"]] == ["labelfuse triplet", "labelfuse Dawid-Skene"]
    for r in res["rows"]:
        assert r["status"] == "ok", r
        assert set(r["phases"]) == {"statistics", "fit", "predict_proba", "refit"}
        assert all(p["s"] >= 0 and p["traced_peak_mib"] >= 0 for p in r["phases"].values())
    md = bench_scaling.to_markdown(res)
    assert md.count("| labelfuse ") == 2


def test_scaling_records_where_a_contender_stopped():
    from labelfuse.bench import scaling as bench_scaling

    res = bench_scaling.run_grid(grid=[(2000, 5, 2), (4000, 5, 2)], peers=False, timeout=0.05, progress=False)
    first, bigger = res["rows"][0], res["rows"][2]
    assert first["status"] == "timeout" and first["stopped_at"].startswith("statistics (timeout")
    assert bigger["status"] == "skipped"  # not retried on a larger configuration
    assert "stopped at" in bench_scaling.to_markdown(res)


# -- peer patches: applied only while a peer runs ---------------------------------------------------------------------
def test_peer_patches_are_undone_on_exit():
    from labelfuse.bench.peers import peer_patches

    before = hasattr(np, "product")
    with peer_patches():
        assert np.product is np.prod or before
        with peer_patches():  # nested: the inner block leaves the outer one's patch in place
            pass
        assert hasattr(np, "product")
    assert hasattr(np, "product") == before
    with pytest.raises(KeyError):
        with peer_patches():
            raise KeyError("a peer that fails still leaves numpy as it was")
    assert hasattr(np, "product") == before


def test_flyingsquid_wrapper_leaves_numpy_as_it_was(monkeypatch):
    """A stand-in FlyingSquid that needs np.product at import, fit and predict time, like the real one."""
    import sys
    import types

    from labelfuse.bench.peers import flyingsquid

    class LabelModel:
        def __init__(self, m):
            self.m = m

        def fit(self, votes):
            self.rate = float(np.product([0.5]))  # AttributeError on numpy 2 without the patch

        def predict_proba_marginalized(self, votes):
            return np.full(len(votes), np.product([self.rate]))

    package = types.ModuleType("flyingsquid")
    module = types.ModuleType("flyingsquid.label_model")
    module.LabelModel = LabelModel
    package.label_model = module
    monkeypatch.setitem(sys.modules, "flyingsquid", package)
    monkeypatch.setitem(sys.modules, "flyingsquid.label_model", module)
    before = hasattr(np, "product")
    L = np.array([[0, 1, -1], [1, 1, 0]], dtype=np.int8)
    predict = flyingsquid(L, 2)
    assert hasattr(np, "product") == before
    np.testing.assert_allclose(predict(L), [[0.5, 0.5], [0.5, 0.5]])
    assert hasattr(np, "product") == before
