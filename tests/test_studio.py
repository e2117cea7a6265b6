"""The studio's server through Starlette's TestClient: the token on every request, LF add / update / undo / remove,
errors shown instead of raised, samples, neighbours, plots and exports. The numbers it serves are checked against
the LFs applied by hand to the rows."""
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")  # starlette's TestClient

from starlette.testclient import TestClient  # noqa: E402

from _studio_data import CLASS_NAMES, studio_frame, studio_workspace  # noqa: E402
from labelfuse.studio import create_app  # noqa: E402
from labelfuse.studio.runner import check_host  # noqa: E402

# small fixtures with one or two LFs, whose fits warn (not identifiable); these tests are about the server
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

TOKEN = "t" * 12 + "-studio-test-token"
HEADER = {"X-Labelfuse-Token": TOKEN}


@pytest.fixture
def client():
    app = create_app(studio_workspace(), token=TOKEN, class_names=CLASS_NAMES, title="test", max_body=4096)
    with TestClient(app) as c:
        yield c


def post(c, path, body=None):
    return c.post(path, json=body if body is not None else {}, headers=HEADER)


def has_word(word):
    texts = studio_frame()[0]["text"]
    return np.array([re.search(rf"(?<!\w){word}(?!\w)", t) is not None for t in texts])


# -- the token -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/api/state", "/static/studio.js", "/api/plots/lf_bars.svg",
                                  "/api/export/labels.csv", "/api/rows?kind=uncovered"])
def test_every_page_needs_the_token(client, path):
    assert client.get(path).status_code == 403
    assert client.get(path, headers={"X-Labelfuse-Token": "wrong" * 5}).status_code == 403
    assert client.get(path + ("&" if "?" in path else "?") + "token=wrong").status_code == 403
    assert client.get(path, headers=HEADER).status_code == 200


def test_changes_need_the_header_not_just_the_cookie(client):
    assert post(client, "/api/undo").status_code == 400  # with the header: served (nothing to undo)
    bare = client.post("/api/lfs", json={"kind": "keyword", "name": "a", "keywords": "win", "label": 1})
    assert bare.status_code == 403
    first = client.get(f"/?token={TOKEN}")  # the first load sets the cookie ...
    assert first.status_code == 200 and "set-cookie" in first.headers and "HttpOnly" in first.headers["set-cookie"]
    assert TOKEN in first.text  # ... and hands the page its token (meta tag)
    assert "script-src 'self'" in first.headers["content-security-policy"]
    assert client.get("/api/state").status_code == 200  # the cookie serves reads
    forged = client.post("/api/lfs", json={"kind": "keyword", "name": "a", "keywords": "win", "label": 1})
    assert forged.status_code == 403 and "X-Labelfuse-Token" in forged.text  # but not changes
    assert client.delete("/api/lfs/a").status_code == 403


def test_request_bodies_are_bounded(client):
    big = {"kind": "python", "code": "#" * 5000}
    r = post(client, "/api/lfs", big)
    assert r.status_code == 413
    chunked = client.post("/api/lfs", content=iter([b"{" + b" " * 3000, b" " * 3000 + b"}"]), headers=HEADER)
    assert chunked.status_code == 413
    assert client.get("/api/state", headers=HEADER).status_code == 200  # still serving


def test_only_loopback_binds_without_the_flag():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_host(host, allow_remote=False)
    for host in ("0.0.0.0", "192.168.1.5", "example.org", "::"):
        with pytest.raises(ValueError, match="allow_remote"):
            check_host(host, allow_remote=False)
        check_host(host, allow_remote=True)


def test_cli_refuses_a_remote_bind_without_the_flag(capsys):
    from labelfuse.cli import main

    assert main(["studio", "--host", "0.0.0.0"]) == 1
    assert "--allow-remote" in capsys.readouterr().err


# -- edits -----------------------------------------------------------------------------------------------------------
def test_add_update_undo_remove_keyword_lf(client):
    y = studio_frame()[0]["label"].to_numpy()
    dev = np.arange(len(y)) < 120
    win = has_word("win")
    r = post(client, "/api/lfs", {"kind": "keyword", "name": "kw", "keywords": "win", "label": 1})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["edit"]["kind"] == "add" and out["edit"]["changed_rows"] == int(win.sum())
    (lf,) = out["state"]["lfs"]
    assert lf["name"] == "kw" and lf["kind"] == "keyword" and lf["polarity"] == ["SPAM"]
    assert lf["coverage"] == pytest.approx(win.mean())
    assert lf["correct"] == int((win & dev & (y == 1)).sum()) and lf["incorrect"] == int((win & dev & (y == 0)).sum())
    assert out["edit"]["dev_before"]["accuracy"] == 0.0  # no LF: every dev row undecided

    # update: same name, more keywords
    both = win | has_word("click")
    r = post(client, "/api/lfs", {"kind": "keyword", "name": "kw", "keywords": "win, click", "label": "SPAM"})
    out = r.json()
    assert out["edit"]["kind"] == "update" and out["state"]["lfs"][0]["coverage"] == pytest.approx(both.mean())
    assert out["edit"]["changed_rows"] == int((both & ~win).sum())

    # a second LF, then undo it and the update
    thanks = has_word("thanks")
    post(client, "/api/lfs", {"kind": "regex", "name": "re_thanks", "pattern": r"\bthank", "label": 0})
    state = client.get("/api/state", headers=HEADER).json()
    assert [x["name"] for x in state["lfs"]] == ["kw", "re_thanks"]
    assert state["lfs"][1]["coverage"] == pytest.approx(thanks.mean())
    assert state["totals"]["coverage"] == pytest.approx((both | thanks).mean())
    assert state["dev"]["accuracy"] > 0.6 and len(state["log"]) == 3
    assert post(client, "/api/undo").json()["edit"]["kind"] == "undo"
    state = post(client, "/api/undo").json()["state"]
    assert [x["name"] for x in state["lfs"]] == ["kw"] and state["lfs"][0]["coverage"] == pytest.approx(win.mean())

    # remove
    r = client.delete("/api/lfs/kw", headers=HEADER)
    assert r.status_code == 200 and r.json()["state"]["lfs"] == []
    assert client.delete("/api/lfs/kw", headers=HEADER).json()["error"].startswith("name: no LF 'kw'")


def test_python_lf_and_its_source(client):
    code = "@labeling_function()\ndef short_ham(x):\n    return HAM if 'thanks' in x.text else ABSTAIN\n"
    r = post(client, "/api/lfs", {"kind": "python", "code": code})
    assert r.status_code == 200, r.text
    (lf,) = r.json()["state"]["lfs"]
    assert lf["kind"] == "python" and lf["code"] == code and lf["polarity"] == ["HAM"]
    texts = studio_frame()[0]["text"]
    assert lf["coverage"] == pytest.approx(np.mean(["thanks" in t for t in texts]))


@pytest.mark.parametrize("code, message, detail", [
    ("@labeling_function()\ndef f(x)\n    return 1\n", "SyntaxError", "def f(x)"),
    ("@labeling_function()\ndef f(x):\n    return 1 / 0\n", "ZeroDivisionError", 'line 3, in f'),
    ("@labeling_function()\ndef f(x):\n    return 'SPAM'\n", "returned 'SPAM'", ""),
    ("@labeling_function()\ndef f(x):\n    return 7\n", "returned 7", ""),
    ("raise RuntimeError('boom')\n", "RuntimeError", "boom"),
    ("def f(x):\n    return 1\n", "defines no labeling function", ""),
    ("import sys\nsys.exit(3)\n", "SystemExit", ""),
    ("import sys\n@labeling_function()\ndef f(x):\n    sys.exit(3)\n", "SystemExit", "line 4, in f"),
])
def test_lf_code_errors_are_shown_not_raised(client, code, message, detail):
    r = post(client, "/api/lfs", {"kind": "python", "code": code})
    assert r.status_code == 400
    body = r.json()
    assert message in body["error"] and detail in body["detail"]
    state = client.get("/api/state", headers=HEADER).json()
    assert state["lfs"] == [] and state["log"] == []  # nothing half-applied, the server still serves


@pytest.mark.parametrize("body, message", [
    ({"kind": "keyword", "name": "", "keywords": "win", "label": 1}, "name"),
    ({"kind": "keyword", "name": "a", "keywords": "", "label": 1}, "keywords"),
    ({"kind": "regex", "name": "a", "pattern": "(", "label": 1}, "not a valid regular expression"),
    ({"kind": "regex", "name": "a", "pattern": "x", "label": 5}, "label"),
    ({"kind": "keyword", "name": "a", "keywords": "win", "label": 1, "field": "nope"}, "field"),
    ({"kind": "sql", "name": "a"}, "kind"),
])
def test_bad_forms_are_shown(client, body, message):
    r = post(client, "/api/lfs", body)
    assert r.status_code == 400 and message in r.json()["error"]


def test_bad_json_is_a_400(client):
    r = client.post("/api/lfs", content=b"{not json", headers=HEADER)
    assert r.status_code == 400 and "JSON" in r.json()["error"]


# -- views -----------------------------------------------------------------------------------------------------------
def test_row_samples(client):
    post(client, "/api/lfs", {"kind": "keyword", "name": "win", "keywords": "win", "label": 1})
    post(client, "/api/lfs", {"kind": "keyword", "name": "thanks", "keywords": "thanks", "label": 0})
    texts = studio_frame()[0]["text"]
    rows = client.get("/api/rows?kind=labeled&lf=win&n=10", headers=HEADER).json()["rows"]
    assert len(rows) == 10 and all(re.search(r"\bwin\b", r["text"]) for r in rows)
    assert all(r["votes"]["win"] == "SPAM" for r in rows)
    rows = client.get("/api/rows?kind=uncovered&n=200", headers=HEADER).json()["rows"]
    assert rows and all(not re.search(r"\b(win|thanks)\b", texts[r["row"]]) for r in rows)
    rows = client.get("/api/rows?kind=conflict&n=200", headers=HEADER).json()["rows"]
    assert rows and all(set(r["votes"]) == {"win", "thanks"} for r in rows)
    assert client.get("/api/rows?kind=labeled&lf=nope", headers=HEADER).status_code == 400
    assert client.get("/api/rows?kind=weird", headers=HEADER).status_code == 400
    assert client.get("/api/rows?kind=uncovered&n=100000", headers=HEADER).status_code == 400


def test_neighbors_share_the_class_of_their_row(client):
    y = studio_frame()[0]["label"].to_numpy()
    agree = []
    for row in range(20):
        out = client.get(f"/api/neighbors?row={row}&n=5", headers=HEADER).json()
        assert len(out["rows"]) == 5 and row not in [r["row"] for r in out["rows"]]
        sims = [r["similarity"] for r in out["rows"]]
        assert sims == sorted(sims, reverse=True)
        agree += [y[r["row"]] == y[row] for r in out["rows"]]
    assert np.mean(agree) > 0.9  # the classes sit around separate centres
    assert client.get("/api/neighbors?row=100000", headers=HEADER).status_code == 400


def test_neighbors_without_embeddings_say_so():
    app = create_app(studio_workspace(embeddings=False), token=TOKEN)
    with TestClient(app) as c:
        r = c.get("/api/neighbors?row=0", headers=HEADER)
        assert r.status_code == 400 and "no embeddings" in r.json()["error"]


@pytest.mark.parametrize("name", ["lf_bars", "label_histogram", "confusion"])
def test_plots_are_svg_before_and_after_an_edit(client, name):
    assert b"<svg" in client.get(f"/api/plots/{name}.svg", headers=HEADER).content
    post(client, "/api/lfs", {"kind": "keyword", "name": "win", "keywords": "win", "label": 1})
    r = client.get(f"/api/plots/{name}.svg", headers=HEADER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content
    assert client.get("/api/plots/nope.svg", headers=HEADER).status_code == 404


def test_exports_round_trip(client, tmp_path):
    from labelfuse.labeling import apply_lfs
    from labelfuse.labeling.lf_file import lfs_from_file

    post(client, "/api/lfs", {"kind": "keyword", "name": "win", "keywords": "win, click", "label": 1})
    post(client, "/api/lfs", {"kind": "python", "code":
                              "@labeling_function()\ndef thanks(x):\n    return HAM if 'thanks' in x.text else ABSTAIN\n"})
    r = client.get("/api/export/lfs.py", headers=HEADER)
    assert r.status_code == 200 and 'filename="lfs.py"' in r.headers["content-disposition"]
    path = tmp_path / "exported_lfs.py"
    path.write_bytes(r.content)
    lfs = lfs_from_file(path)
    frame = studio_frame()[0]
    L = apply_lfs(lfs, frame, progress=False)
    assert [lf.name for lf in lfs] == ["win", "thanks"]
    np.testing.assert_array_equal(L[:, 0], np.where(has_word("win") | has_word("click"), 1, -1))
    np.testing.assert_array_equal(L[:, 1], np.where(frame["text"].str.contains("thanks"), 0, -1))

    r = client.get("/api/export/labels.csv", headers=HEADER)
    path = tmp_path / "labels.csv"
    path.write_bytes(r.content)
    labels = pd.read_csv(path)
    assert list(labels.columns) == ["row", "label", "proba_0", "proba_1"] and len(labels) == len(frame)
    np.testing.assert_allclose(labels[["proba_0", "proba_1"]].sum(axis=1), 1.0)
    assert client.get("/api/export/secrets.txt", headers=HEADER).status_code == 404



def test_with_fusion_both_dev_accuracies_are_shown_before_and_after():
    pytest.importorskip("faiss")
    from labelfuse import Workspace
    from labelfuse.models import LabelModel

    frame, X = studio_frame()
    ws = Workspace(frame, label="label", split="split", dev_split="dev", cardinality=2, embeddings=X,
                   fusion="liger")
    with TestClient(create_app(ws, token=TOKEN, class_names=CLASS_NAMES)) as c:
        post(c, "/api/lfs", {"kind": "keyword", "name": "win", "keywords": "win", "label": 1})
        edit = post(c, "/api/lfs", {"kind": "keyword", "name": "thanks", "keywords": "thanks", "label": 0}).json()["edit"]
    dev = ws.dev_rows
    y = frame["label"].to_numpy()[dev]
    fresh = LabelModel(cardinality=2, method="triplet").fit(ws.L).predict(ws.L[dev])
    assert edit["accuracy_after"]["label model"] == pytest.approx(np.mean(fresh == y))
    assert edit["accuracy_after"]["fusion (liger)"] == pytest.approx(ws.dev_metrics()["accuracy"])
    assert edit["accuracy_before"]["fusion (liger)"] == pytest.approx(edit["dev_before"]["accuracy"])


def test_cli_opens_a_table_with_the_users_lfs(tmp_path, monkeypatch):
    import labelfuse.studio
    from labelfuse.cli import main

    frame, _ = studio_frame()
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "my_lfs.py").write_text(
        "from labelfuse.labeling import keyword_lf, labeling_function\n"
        "win = keyword_lf('win', ['win'], label=1)\n"
        "@labeling_function()\n"
        "def thanks(x):\n"
        "    return 0 if 'thanks' in x.text else -1\n")
    served = {}
    monkeypatch.setattr(labelfuse.studio, "serve", lambda ws, **kw: served.update(ws=ws, **kw))
    assert main(["studio", str(tmp_path / "data.csv"), "--lfs", str(tmp_path / "my_lfs.py"), "--classes",
                 "HAM,SPAM", "--port", "0"]) == 0
    ws = served["ws"]
    assert ws.names == ["win", "thanks"] and served["class_names"] == ["HAM", "SPAM"]
    assert served["host"] == "127.0.0.1" and not served["allow_remote"]
    np.testing.assert_array_equal(ws.dev_rows, np.arange(120))  # split column found, "dev" rows
    np.testing.assert_array_equal(ws.L[:, 0], np.where(has_word("win"), 1, -1))


def test_a_request_behind_a_long_edit_is_told_the_studio_is_busy():
    import threading

    from labelfuse.studio.server import RequestError, Studio

    studio = Studio(studio_workspace(n=50, embeddings=False), busy_timeout=0.05)
    started, release = threading.Event(), threading.Event()

    def slow():  # stands in for an LF that takes long on every row
        started.set()
        release.wait(10)

    worker = threading.Thread(target=studio.call, args=(slow,))
    worker.start()
    started.wait(10)
    try:
        with pytest.raises(RequestError, match="busy: the studio has been running one request") as info:
            studio.call(studio.state)
        assert info.value.status == 503
    finally:
        release.set()
        worker.join()
    assert studio.call(studio.state)["result"]["lfs"] == []  # free again
