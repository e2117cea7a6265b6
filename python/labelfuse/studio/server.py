"""The studio's web app: a Starlette app over one :class:`labelfuse.Workspace`, serving a static page and a small
JSON API that the page calls.

Every request needs the token (see :mod:`.security`). Workspace calls run one at a time under a lock, in
Starlette's thread pool, so a slow LF never blocks the event loop. Whatever an LF or a request does wrong comes back
as ``{"error": ..., "detail": ...}`` with status 400 (the page shows it); the server keeps running. Warnings the
workspace emits during a call are sent along with the answer (``"warnings"``), so the page shows them too.

API (all JSON unless said otherwise)::

    GET    /                      the page (the token goes in a meta tag for its script)
    GET    /api/state             data set, per-LF table, totals, dev metrics, edit log
    POST   /api/lfs               add or update an LF: {"kind": "keyword"|"regex"|"python", ...}
    DELETE /api/lfs/{name}        remove an LF
    POST   /api/undo              undo the last edit
    GET    /api/rows?kind=labeled|uncovered|conflict&lf=NAME&n=20
    GET    /api/neighbors?row=I&n=10
    GET    /api/plots/{lf_bars|label_histogram|confusion}.svg
    GET    /api/export/lfs.py     GET /api/export/labels.csv     GET /api/export/labels.parquet

Example::

    import uvicorn
    from labelfuse.studio import create_app

    app = create_app(ws, token="a-long-random-token")
    uvicorn.run(app, host="127.0.0.1", port=8765)     # open http://127.0.0.1:8765/?token=a-long-random-token
"""
from __future__ import annotations

import html
import inspect
import json
import math
import tempfile
import textwrap
import threading
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .code import LFCodeError, lf_from_code, starter_code
from .security import MAX_BODY_BYTES, BodyTooLarge, TokenGuard, new_token

__all__ = ["Studio", "create_app"]

MAX_ROWS = 200  # the most rows one sample or neighbour request returns
_PLOTS = ("lf_bars", "label_histogram", "confusion")
_EDIT_LOG = 50
BUSY_TIMEOUT_S = 10.0  # a request waiting longer than this for the workspace is answered 503 "busy"
# The page runs only its own script (data shown in it is escaped, and this stops any script that slipped through);
# inline style attributes draw the bars.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")


class RequestError(ValueError):
    """A request the studio cannot serve; answered with status 400 and shown in the page."""

    def __init__(self, message: str, detail: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.detail = detail
        self.status = status


def _json_safe(value: Any) -> Any:
    """numpy scalars and arrays to Python, NaN / inf to None, recursively."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Studio:
    """The state behind the page: the workspace, the lock that serializes its use, and the edit log.

    Args:
        workspace: a :class:`labelfuse.Workspace`.
        class_names: one name per class (default "0", "1", ...); Python LFs may use them as constants.
        title: shown in the page header (e.g. the data file's name).
    """

    def __init__(self, workspace: Any, *, class_names: Optional[Sequence[str]] = None, title: str = "",
                 busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        k = int(workspace.cardinality)
        names = [str(c) for c in class_names] if class_names is not None else [str(c) for c in range(k)]
        if len(names) != k:
            raise ValueError(f"class_names: expected {k} names (one per class), got {len(names)}")
        self.ws = workspace
        self.class_names = names
        self.title = title
        self.lock = threading.Lock()
        self.busy_timeout = busy_timeout
        self._busy_since: Optional[float] = None
        self.version = 0
        self.log: List[Dict[str, Any]] = []

    # -- calls into the workspace ----------------------------------------------------------------------------------
    def call(self, fn: Callable[[], Any]) -> Dict[str, Any]:
        """Run ``fn`` under the lock; its result goes in "result", the warnings it emitted in "warnings"."""
        if not self.lock.acquire(timeout=self.busy_timeout):
            since = self._busy_since
            running = f" for {time.monotonic() - since:.0f} s" if since is not None else ""
            raise RequestError(f"busy: the studio has been running one request{running} (an LF that never returns "
                               "holds it until the studio is restarted); try again", status=503)
        try:
            self._busy_since = time.monotonic()
            # The studio is the application here, so it may collect warnings for the page; the lock keeps two
            # requests from interleaving their collection.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fn()
        finally:
            self._busy_since = None
            self.lock.release()
        return {"result": result, "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}

    def _scores(self) -> Dict[str, Optional[float]]:
        """Dev accuracy of what the workspace serves (fusion when enabled) and, with fusion, of its label model."""
        ws = self.ws
        dev = ws.dev_metrics()
        out: Dict[str, Optional[float]] = {}
        if ws.fusion is not None:
            out[f"fusion ({ws.fusion})"] = None if dev is None else dev["accuracy"]
            out["label model"] = self._label_model_accuracy()
        else:
            out[f"label model ({ws.label_model})"] = None if dev is None else dev["accuracy"]
        return out

    def _label_model_accuracy(self) -> Optional[float]:
        from ..metrics import resolve_metric

        ws = self.ws
        rows = ws.dev_rows
        if ws.model is None or rows.size == 0:
            return None
        pred = ws.model.predict(np.take(ws.L, rows, axis=0))
        return resolve_metric("accuracy").score(ws.gold[rows], pred, ws.cardinality)

    def _edit(self, do: Callable[[], Any]) -> Dict[str, Any]:
        before = self._scores()
        result = do()
        after = self._scores()
        self.version += 1
        entry = {"version": self.version, "kind": result.kind, "name": result.name,
                 "changed_rows": result.changed_rows, "apply_ms": 1e3 * result.apply_s,
                 "refit_ms": 1e3 * result.refit_s, "dev_before": result.dev_before, "dev_after": result.dev_after,
                 "accuracy_before": before, "accuracy_after": after, "time": time.time()}
        self.log.append(entry)
        del self.log[:-_EDIT_LOG]
        return entry

    def save_lf(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """Add the LF ``body`` describes, or update the LF of that name."""
        lf = self.build_lf(body)
        ws = self.ws
        return self._edit(lambda: ws.update(lf) if lf.name in ws.lfs else ws.add(lf))

    def remove_lf(self, name: str) -> Dict[str, Any]:
        if name not in self.ws.lfs:
            raise RequestError(f"name: no LF {name!r} in the studio")
        return self._edit(lambda: self.ws.remove(name))

    def undo(self) -> Dict[str, Any]:
        return self._edit(self.ws.undo)

    def build_lf(self, body: Dict[str, Any]) -> Any:
        """A LabelingFunction from the page's form: keyword / regex LFs through their factories (checked, no code
        run), Python LFs by running the text (:func:`.code.lf_from_code`)."""
        from ..labeling.templates import keyword_lf, regex_lf

        kind = body.get("kind")
        if kind == "python":
            return lf_from_code(body.get("code", ""), self.class_names)
        if kind not in ("keyword", "regex"):
            raise RequestError(f"kind: expected 'keyword', 'regex' or 'python', got {kind!r}")
        label = body.get("label")
        if isinstance(label, str) and label in self.class_names:
            label = self.class_names.index(label)
        if isinstance(label, int) and not isinstance(label, bool) and not 0 <= label < len(self.class_names):
            raise RequestError(f"label: expected a class id in 0..{len(self.class_names) - 1}, got {label}")
        field = body.get("field", self.ws.text)
        if field not in self.ws.data.columns:
            raise RequestError(f"field: no column {field!r} in the data (columns: "
                               f"{[str(c) for c in self.ws.data.columns]})")
        name = body.get("name")
        if kind == "keyword":
            keywords = body.get("keywords")
            if isinstance(keywords, str):  # the page's text box: one keyword per line or comma
                keywords = [k.strip() for k in keywords.replace("\n", ",").split(",") if k.strip()]
            return keyword_lf(name, keywords, label, field=field,
                              case_sensitive=bool(body.get("case_sensitive", False)),
                              whole_word=bool(body.get("whole_word", True)))
        import re

        flags = re.IGNORECASE if body.get("ignore_case", True) else 0
        return regex_lf(name, body.get("pattern"), label, field=field, flags=flags)

    # -- views -----------------------------------------------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        ws = self.ws
        summary = ws.summary()
        lfs = []
        for name, lf in ws.lfs.items():
            row = summary.loc[name]
            spec = getattr(lf, "spec", None)
            lfs.append({
                "name": name, "kind": spec["kind"] if spec else "python", "spec": spec,
                "code": None if spec else _source(lf),
                "polarity": [self.class_names[c] for c in row["Polarity"]],
                "coverage": row["Coverage"], "overlaps": row["Overlaps"], "conflicts": row["Conflicts"],
                "correct": row.get("Correct"), "incorrect": row.get("Incorrect"), "accuracy": row.get("Emp. Acc."),
                "weight": row.get("Learned Weight"),
            })
        stats = ws.stats
        m = len(lfs)
        pred = ws.predict() if m else np.full(ws.n_rows, -1)
        balance = np.bincount(pred[pred >= 0], minlength=ws.cardinality) if m else np.zeros(ws.cardinality)
        return _json_safe({
            "title": self.title, "version": self.version,
            "data": {"rows": ws.n_rows, "dev_rows": int(ws.dev_rows.size), "cardinality": ws.cardinality,
                     "class_names": self.class_names, "text": ws.text,
                     "fields": [str(c) for c in ws.data.columns], "embeddings": ws.embeddings is not None,
                     "label_model": ws.label_model, "fusion": ws.fusion},
            "lfs": lfs,
            "totals": {"coverage": float(stats.label_coverage()) if m else 0.0,
                       "overlap": float(stats.label_overlap()) if m else 0.0,
                       "conflict": float(stats.label_conflict()) if m else 0.0,
                       "undecided": int((pred < 0).sum()), "predicted": balance},
            "dev": ws.dev_metrics() if m else None,
            "charts": self.charts(),
            "accuracy": self._scores() if m else {},
            "log": self.log[::-1],
            "starter_code": starter_code(self.class_names),
        })

    def rows(self, kind: str, lf: Optional[str], n: int) -> Dict[str, Any]:
        ws = self.ws
        try:
            frame = ws.rows(kind, lf=lf, n=n, random_state=self.version)
        except (KeyError, ValueError) as exc:
            raise RequestError(exc.args[0] if exc.args else str(exc)) from None
        return {"rows": self._records(frame)}

    def neighbors(self, row: int, n: int) -> Dict[str, Any]:
        ws = self.ws
        if ws.embeddings is None:
            raise RequestError("neighbors: this studio has no embeddings (start it with --embeddings, or on a "
                               "WRENCH folder with minilm/ embeddings)")
        try:
            frame = ws.neighbors(row, n=n)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        return {"row": row, "text": str(ws.data[ws.text].iloc[row]), "rows": self._records(frame)}

    def _records(self, frame: Any) -> List[Dict[str, Any]]:
        out = []
        P = self.ws.proba() if self.ws.lfs else None
        for rec in frame.to_dict(orient="records"):
            rec = _json_safe(rec)
            for key in ("gold", "predicted"):
                c = rec.get(key)
                rec[key] = self.class_names[c] if isinstance(c, int) and 0 <= c < len(self.class_names) else None
            if "votes" in rec:
                rec["votes"] = {k: self.class_names[v] for k, v in rec["votes"].items()}
            rec["confidence"] = None if P is None else float(P[rec["row"]].max())
            out.append(rec)
        return out

    def plot_data(self, name: str) -> Dict[str, Any]:
        """What plot ``name`` needs, copied out of the workspace (under the lock); :func:`render_plot` draws it
        without the lock, so a slow matplotlib render never holds up an edit."""
        ws = self.ws
        m = len(ws.lfs)
        if name not in _PLOTS:
            raise RequestError(f"plot: expected one of {list(_PLOTS)}, got {name!r}", status=404)
        data: Dict[str, Any] = {"name": name, "class_names": self.class_names, "k": ws.cardinality, "empty": None}
        if not m:
            data["empty"] = "no LFs yet"
        elif name == "lf_bars":
            data["summary"] = ws.summary()
        elif name == "label_histogram":
            data["proba"] = np.array(ws.proba())
        elif not ws.dev_rows.size:
            data["empty"] = "no dev rows with gold labels"
        else:
            data["gold"] = ws.gold[ws.dev_rows].copy()
            data["predicted"] = ws.predict()[ws.dev_rows]
        return data

    def charts(self) -> Dict[str, Any]:
        """The numbers behind the label histogram and the dev confusion matrix (the same helpers as the plots),
        for the page to draw at once."""
        from ..plotting import confusion_counts, label_histogram_counts

        ws = self.ws
        if not ws.lfs:
            return {}
        counts, edges, xlabel = label_histogram_counts(ws.proba(), class_names=self.class_names)
        out: Dict[str, Any] = {"histogram": {"counts": counts, "edges": edges, "xlabel": xlabel}}
        if ws.dev_rows.size:
            conf = confusion_counts(ws.gold[ws.dev_rows], ws.predict()[ws.dev_rows], cardinality=ws.cardinality)
            out["confusion"] = {"counts": conf,
                                "columns": self.class_names + ["undecided"] * (conf.shape[1] - ws.cardinality)}
        return out

    def export(self, what: str) -> bytes:
        ws = self.ws
        with tempfile.TemporaryDirectory(prefix="labelfuse-studio-") as tmp:
            path = Path(tmp) / what
            try:
                if what == "lfs.py":
                    ws.export_lfs(path)
                elif what in ("labels.csv", "labels.parquet"):
                    ws.export_labels(path)
                else:
                    raise RequestError(f"export: expected lfs.py, labels.csv or labels.parquet, got {what!r}",
                                       status=404)
            except (ImportError, ValueError, TypeError) as exc:
                if isinstance(exc, RequestError):
                    raise
                raise RequestError(f"{type(exc).__name__}: {exc}") from None
            return path.read_bytes()


def render_plot(data: Dict[str, Any]) -> bytes:
    """Draw what :meth:`Studio.plot_data` collected, as SVG (matplotlib, no pyplot: safe in a worker thread)."""
    from ..plotting import figure_bytes, new_figure, plot_confusion_matrix, plot_label_histogram, plot_lf_bars

    name, k, names = data["name"], data["k"], data["class_names"]
    if name == "lf_bars":
        m = len(data["summary"]) if "summary" in data else 0
        ax = new_figure((6.0, max(2.0, 0.32 * m + 1.0)))
    elif name == "label_histogram":
        ax = new_figure((6.0, 3.2))
    else:
        ax = new_figure((1.2 * k + 3.0, 1.1 * k + 1.8))
    if data["empty"]:
        _empty(ax, data["empty"])
    elif name == "lf_bars":
        plot_lf_bars(data["summary"], ax)
    elif name == "label_histogram":
        plot_label_histogram(data["proba"], ax, class_names=names)
    else:
        plot_confusion_matrix(data["gold"], data["predicted"], ax, cardinality=k, class_names=names)
    return figure_bytes(ax.figure, "svg")


def _source(lf: Any) -> Optional[str]:
    """The text of a Python LF's function (decorator included), when Python can find it."""
    try:
        return textwrap.dedent(inspect.getsource(getattr(lf.f, "__wrapped__", lf.f)))
    except (OSError, TypeError):
        return None


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_axis_off()


# -- the app ---------------------------------------------------------------------------------------------------------
def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def create_app(workspace: Any, *, token: Optional[str] = None, class_names: Optional[Sequence[str]] = None,
               title: str = "", max_body: int = MAX_BODY_BYTES, busy_timeout: float = BUSY_TIMEOUT_S) -> Any:
    """The studio as an ASGI app (Starlette) over ``workspace``; ``token`` (default: a fresh random one, in
    ``app.state.token``) is required on every request.

    Example::

        app = create_app(ws)
        print(f"http://127.0.0.1:8765/?token={app.state.token}")
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    studio = Studio(workspace, class_names=class_names, title=title, busy_timeout=busy_timeout)
    token = token if token is not None else new_token()

    def answer(fn: Callable[[], Any]) -> Response:
        """Run ``fn`` (a workspace call) and turn whatever goes wrong into a 400 the page can show."""
        try:
            out = studio.call(fn)
        except RequestError as exc:
            return JSONResponse({"error": str(exc), "detail": exc.detail}, status_code=exc.status)
        except LFCodeError as exc:
            return JSONResponse({"error": str(exc), "detail": exc.detail}, status_code=400)
        except (Exception, SystemExit) as exc:  # an LF raised (or called sys.exit) on some row, a bad argument, ...
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}", "detail": _detail(exc)},
                                status_code=400)
        result = out["result"]
        if isinstance(result, (bytes, Response)):
            return result if isinstance(result, Response) else Response(result)
        payload = dict(result) if isinstance(result, dict) else {"result": result}
        payload["warnings"] = out["warnings"]
        return JSONResponse(_json_safe(payload))

    async def body_of(request: Request) -> Dict[str, Any]:
        try:
            raw = await request.body()
        except BodyTooLarge as exc:
            raise RequestError(str(exc), status=413) from None
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise RequestError(f"body: expected JSON ({exc})") from None
        if not isinstance(body, dict):
            raise RequestError("body: expected a JSON object")
        return body

    async def index(request: Request) -> Response:
        page = _static("index.html").decode("utf-8")
        page = page.replace("{{TOKEN}}", html.escape(token)).replace("{{TITLE}}", html.escape(studio.title))
        return HTMLResponse(page, headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP,
                                           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        types = {"studio.js": "text/javascript", "studio.css": "text/css"}
        if name not in types:
            return Response("not found", status_code=404)
        return Response(_static(name), media_type=types[name], headers={"Cache-Control": "no-store"})

    async def state(request: Request) -> Response:
        return await run_in_threadpool(answer, studio.state)

    async def save_lf(request: Request) -> Response:
        try:
            body = await body_of(request)
        except RequestError as exc:
            return JSONResponse({"error": str(exc), "detail": ""}, status_code=exc.status)
        return await run_in_threadpool(answer, lambda: {"edit": studio.save_lf(body), "state": studio.state()})

    async def remove_lf(request: Request) -> Response:
        name = request.path_params["name"]
        return await run_in_threadpool(answer, lambda: {"edit": studio.remove_lf(name), "state": studio.state()})

    async def undo(request: Request) -> Response:
        return await run_in_threadpool(answer, lambda: {"edit": studio.undo(), "state": studio.state()})

    async def rows(request: Request) -> Response:
        q = request.query_params
        try:
            n = _bounded_int(q.get("n", "20"), "n", 1, MAX_ROWS)
        except RequestError as exc:
            return JSONResponse({"error": str(exc), "detail": ""}, status_code=400)
        return await run_in_threadpool(answer, lambda: studio.rows(q.get("kind", ""), q.get("lf") or None, n))

    async def neighbors(request: Request) -> Response:
        q = request.query_params
        try:
            row = _bounded_int(q.get("row", ""), "row", 0, workspace.n_rows - 1)
            n = _bounded_int(q.get("n", "10"), "n", 1, MAX_ROWS)
        except RequestError as exc:
            return JSONResponse({"error": str(exc), "detail": ""}, status_code=400)
        return await run_in_threadpool(answer, lambda: studio.neighbors(row, n))

    async def plot(request: Request) -> Response:
        name = request.path_params["name"]

        def draw() -> Response:
            try:
                data = studio.call(lambda: studio.plot_data(name))["result"]
                svg = render_plot(data)  # outside the lock
            except RequestError as exc:
                return JSONResponse({"error": str(exc), "detail": ""}, status_code=exc.status)
            except Exception as exc:
                return JSONResponse({"error": f"{type(exc).__name__}: {exc}", "detail": ""}, status_code=400)
            return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
        return await run_in_threadpool(draw)

    async def export(request: Request) -> Response:
        what = request.path_params["what"]
        media = {"lfs.py": "text/x-python", "labels.csv": "text/csv"}.get(what, "application/octet-stream")

        def make() -> Response:
            return Response(studio.export(what), media_type=media,
                            headers={"Content-Disposition": f'attachment; filename="{what}"'})
        return await run_in_threadpool(answer, make)

    app = Starlette(middleware=[Middleware(TokenGuard, token=token, max_body=max_body)], routes=[
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/state", state),
        Route("/api/lfs", save_lf, methods=["POST"]),
        Route("/api/lfs/{name}", remove_lf, methods=["DELETE"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/rows", rows),
        Route("/api/neighbors", neighbors),
        Route("/api/plots/{name}.svg", plot),
        Route("/api/export/{what}", export),
    ])
    app.state.token = token
    app.state.studio = studio
    return app


def _bounded_int(text: str, what: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise RequestError(f"{what}: expected an integer, got {text!r}") from None
    if not lo <= value <= hi:
        raise RequestError(f"{what}: expected {lo}..{hi}, got {value}")
    return value


def _detail(exc: BaseException) -> str:
    """The part of a traceback that is the user's: frames of studio LF code when there are any, else the last."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<studio-lf-")]
    cause = exc.__cause__ or exc.__context__
    while not frames and cause is not None:
        frames = [f for f in traceback.extract_tb(cause.__traceback__) if f.filename.startswith("<studio-lf-")]
        if frames:
            exc = cause
        cause = cause.__cause__ or cause.__context__
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
