"""The benchmark suite: every labelfuse method (and the peers that are importable) on every data set, one run.

Protocol, the same for every method: fit on the train split (its votes only, and its embeddings for the fusion
methods), choose hyperparameters on the valid split only (the candidates are listed per method in
:data:`TUNING`: that is the tuning budget), score the test split once. Stochastic methods (Liger's k-means, the
Adapter) run with several seeds and report mean ± std. Sets without a train, valid or test split are skipped and
listed. Run with ``labelfuse bench`` or ``python bench/run_suite.py``; the peers need the peers venv::

    PYTHONPATH=python $PEERS_PYTHON bench/run_suite.py
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..datasets import Dataset, load_dataset
from ..diagnostics import BaselineWarning
from ..metrics import score
from ..models.assumptions import COVARIANCE_MAX_CLASSES

__all__ = ["METHODS", "TUNING", "SuiteResult", "discover_datasets", "run_suite", "to_markdown", "write_outputs"]

METHODS = ("majority vote", "triplet", "covariance", "Dawid-Skene", "auto", "Epoxy", "Liger", "WS + kNN",
           "WS-Adapter")
LABEL_MODELS = {"triplet": "triplet", "covariance": "covariance", "Dawid-Skene": "dawid_skene"}
EMBEDDING_METHODS = ("Epoxy", "Liger", "WS + kNN", "WS-Adapter")
KNN_GRID = (5, 10, 20, 40, 64)
# Every row is scored by the one contract (labelfuse.metrics.score) with WRENCH's tie-breaking (a per-row hash
# among tied classes), so the tables compare like for like with WRENCH's published numbers.
TIE_POLICY = "hash"

TUNING = {
    "majority vote": "none (no hyperparameters); ties and all-abstain rows go to the class balance",
    "triplet": "class balance: estimated from L or from valid gold (2 candidates)",
    "covariance": "class balance: estimated from L or from valid gold (2 candidates)",
    "Dawid-Skene": "class balance: estimated from L or from valid gold (2 candidates)",
    "auto": "labelfuse.fit_labels: label model x class balance x fusion (Epoxy / Liger: unsupervised thresholds "
            "shifted by {-0.1, -0.05, 0, 0.05} or tuned per LF, parts {2, 4, 8}) by 5-fold x 2 cross-validation on "
            "valid and the one-standard-error rule toward the simpler choice",
    "Epoxy": "label model = the one auto chose (triplet when it chose majority vote); per-LF thresholds tuned on "
             "valid, then a joint offset in {-0.1, -0.05, 0, 0.05, 0.1, off} (6 candidates)",
    "Liger": "as Epoxy, times k-means parts in {1, 2, 3, 4, 6, 8} (36 candidates); seeds for k-means",
    "WS + kNN": "neighbours in {5, 10, 20, 40, 64} averaged over auto's train posteriors (5 candidates)",
    "WS-Adapter": "Adapter (MLP on embeddings) trained on auto's train posteriors (fused when a fusion won on "
                  "valid); early stopping "
                  "on valid (the Adapter's defaults, no grid); seeds",
    "peers": "Snorkel LabelModel: class balance estimated or from valid gold (2 candidates); "
             "MajorityLabelVoter, FlyingSquid, crowd-kit DawidSkene (100 EM iterations): none",
}


@dataclass
class SuiteResult:
    meta: Dict[str, Any]
    datasets: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {"meta": self.meta, "datasets": self.datasets, "skipped": self.skipped}


# -- data sets -------------------------------------------------------------------------------------------------------
def default_data_folder() -> Optional[Path]:
    """The folder of WRENCH-style data sets, if one is here: ``$LABELFUSE_BENCH_DATA``, else the first folder of
    ``$LABELFUSE_DATA`` (os.pathsep-separated, as :func:`labelfuse.load_dataset` reads it) that exists, else the
    nearest shared/data beside the current folder or the source tree (``../shared/data`` from a checkout)."""
    env = os.environ.get("LABELFUSE_BENCH_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(p) for p in os.environ.get("LABELFUSE_DATA", "").split(os.pathsep) if p]
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        candidates += [p / "shared" / "data" for p in start.parents]
    return next((c for c in candidates if c.is_dir()), None)


def discover_datasets(data: Optional[Path], bundled: bool = True) -> List[Tuple[str, Any]]:
    """(name, what load_dataset takes): the bundled youtube set, then every WRENCH-style folder (one with
    train/valid/test JSON files) directly under ``data``; a folder named like the bundled set is not repeated."""
    out: List[Tuple[str, Any]] = [("youtube (bundled)", "wrench_youtube")] if bundled else []
    if data is not None:
        for folder in sorted(Path(data).iterdir()):
            if not folder.is_dir() or not any((folder / f"{s}.json").is_file() for s in ("train", "valid", "test")):
                continue
            if bundled and folder.name == "wrench_youtube":
                continue
            out.append((folder.name, folder))
    return out


# -- scoring ---------------------------------------------------------------------------------------------------------
def _scores(P: np.ndarray, Y: np.ndarray, k: int) -> Dict[str, float]:
    report = score(Y, P, ("accuracy", "f1"), tie_policy=TIE_POLICY, cardinality=k, warn=False)
    return {"accuracy": report["accuracy"], "f1": report["f1"], "abstained": report.n_abstained}


def _below_baseline(ds: Dataset, method: str, valid_accuracy: float, flags: List[str]) -> None:
    """Flag (and warn) a method whose valid accuracy is below always predicting valid's most frequent class."""
    baseline = float(np.bincount(ds.valid.Y, minlength=ds.cardinality).max() / ds.valid.n)
    if valid_accuracy < baseline:
        message = (f"{method}: valid accuracy {valid_accuracy:.3f} is below the majority-class baseline "
                   f"{baseline:.3f}")
        flags.append(message)
        warnings.warn(message, BaselineWarning, stacklevel=2)


def _tuning_score(P: np.ndarray, Y: np.ndarray, k: int) -> float:
    return _scores(P, Y, k)["accuracy"]


def _covered(L: np.ndarray) -> float:
    return float((L >= 0).any(axis=1).mean())


def _timed(fn: Callable[[], Any]) -> Tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _row(method: str, runs: List[Dict[str, float]], chosen: str, family: str = "labelfuse") -> Dict[str, Any]:
    """Mean (and std over seeds when there are several runs) of each measured quantity."""
    row: Dict[str, Any] = {"method": method, "family": family, "chosen": chosen, "runs": len(runs)}
    for key in runs[0]:
        vals = np.array([r[key] for r in runs], dtype=np.float64)
        row[key] = float(vals.mean())
        if len(runs) > 1:
            row[f"{key}_std"] = float(vals.std())
    return row


# -- methods ---------------------------------------------------------------------------------------------------------
def _label_models(ds: Dataset, n_threads: Optional[int],
                  flags: List[str]) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    from ..models import LabelModel, MajorityVote

    tr, va, te, k = ds.train, ds.valid, ds.test, ds.cardinality
    rows, fitted = [], {}
    mv, fit_s = _timed(lambda: MajorityVote(cardinality=k).fit(tr.L))
    _below_baseline(ds, "majority vote", _tuning_score(mv.predict_proba(va.L), va.Y, k), flags)
    P, pred_s = _timed(lambda: mv.predict_proba(te.L))
    rows.append(_row("majority vote", [{**_scores(P, te.Y, k), "coverage": _covered(te.L), "fit_s": fit_s,
                                         "predict_s": pred_s}], "-"))
    for name, method in LABEL_MODELS.items():
        if method == "covariance" and k > COVARIANCE_MAX_CLASSES:  # refused by LabelModel (time grows as k^3)
            continue
        best = None
        for source in ("estimated", "valid gold"):
            extra = {"Y_dev": va.Y} if source == "valid gold" else {}
            model, fit_s = _timed(lambda: LabelModel(cardinality=k, method=method, n_threads=n_threads)
                                  .fit(tr.L, **extra))
            score = _tuning_score(model.predict_proba(va.L), va.Y, k)
            if best is None or score > best[0]:
                best = (score, source, model, fit_s)
        score, source, model, fit_s = best
        _below_baseline(ds, f"{name} (class balance {source})", score, flags)
        P, pred_s = _timed(lambda: model.predict_proba(te.L))
        rows.append(_row(name, [{**_scores(P, te.Y, k), "coverage": _covered(te.L), "fit_s": fit_s,
                                  "predict_s": pred_s}], f"class balance {source}"))
        fitted[name] = (score, method, source, model)
    return rows, fitted


def _auto(ds: Dataset, with_embeddings: bool, n_threads: Optional[int]) -> Tuple[Dict[str, Any], Any]:
    """The auto row (labelfuse.fit_labels on valid) and the fitted AutoLabels."""
    from ..selection import fit_labels

    tr, va, te, k = ds.train, ds.valid, ds.test, ds.cardinality
    X = tr.embeddings if with_embeddings else None
    auto, fit_s = _timed(lambda: fit_labels(tr.L, X, va.L, va.Y, va.embeddings if with_embeddings else None,
                                            cardinality=k, random_state=0, n_threads=n_threads))
    fused = auto.chosen_["fusion"] != "none"
    P, pred_s = _timed(lambda: auto.predict_proba(te.L, te.embeddings if fused else None))
    coverage = _covered(auto.model_.extend(te.L, te.embeddings)) if fused else _covered(te.L)
    return _row("auto", [{**_scores(P, te.Y, k), "coverage": coverage, "fit_s": fit_s, "predict_s": pred_s}],
                auto.describe()), auto


def _embedding_methods(ds: Dataset, auto: Any, seeds: Sequence[int], n_threads: Optional[int],
                       adapter: bool) -> Tuple[List[Dict[str, Any]], List[str]]:
    from ..embeddings import NeighborGraph
    from ..fusion import Epoxy, Liger, ws_knn_proba

    tr, va, te, k = ds.train, ds.valid, ds.test, ds.cardinality
    notes: List[str] = []
    method = auto.chosen_["label_model"] if auto.chosen_["label_model"] != "majority_vote" else "triplet"
    lm_note = f"label model {method}"
    rows = []
    graph, graph_s = _timed(lambda: NeighborGraph(n_neighbors=64).fit(tr.embeddings))
    notes.append(f"neighbour graph (K = 64, exact) built once in {graph_s:.2f} s and shared by Epoxy, Liger and "
                 "WS + kNN (not in their fit times)")
    for cls, seed_list in ((Epoxy, [seeds[0]]), (Liger, list(seeds))):
        runs, chosen = [], ""
        for seed in seed_list:
            est, fit_s = _timed(lambda: cls(label_model=method, neighbor_graph=graph, cardinality=k,
                                            random_state=seed, n_threads=n_threads).fit(
                tr.L, tr.embeddings, va.L, va.embeddings, va.Y))
            P, pred_s = _timed(lambda: est.predict_proba(te.L, te.embeddings))
            coverage = _covered(est.extend(te.L, te.embeddings))
            runs.append({**_scores(P, te.Y, k), "coverage": coverage, "fit_s": fit_s, "predict_s": pred_s})
            parts = getattr(est, "n_parts_", None)
            chosen = lm_note + (f", {parts} parts" if cls is Liger else "") + (
                ", extension off" if not np.isfinite(np.asarray(est.thresholds_, dtype=float)).any() else "")
        rows.append(_row(cls.__name__, runs, chosen))

    # auto's train posteriors: the fused ones when a fusion won on valid
    P_train = auto.model_.train_proba_ if auto.chosen_["fusion"] != "none" else auto.model_.predict_proba(tr.L)
    lm_note = f"auto's labels ({auto.describe()})"
    ids_v = graph.query(va.embeddings)[0]
    t = time.perf_counter()
    best_nn = max(KNN_GRID, key=lambda nn: (_tuning_score(ws_knn_proba(P_train, ids_v, nn), va.Y, k), -nn))
    fit_s = time.perf_counter() - t
    P, pred_s = _timed(lambda: ws_knn_proba(P_train, graph.query(te.embeddings)[0], best_nn))
    rows.append(_row("WS + kNN", [{**_scores(P, te.Y, k), "coverage": 1.0, "fit_s": fit_s, "predict_s": pred_s}],
                     f"{lm_note}, {best_nn} neighbours"))

    if adapter:
        try:
            from ..endmodels import Adapter
        except ImportError as exc:
            notes.append(f"WS-Adapter skipped (needs torch: {exc})")
        else:
            runs = []
            for seed in seeds:
                model, fit_s = _timed(lambda: Adapter(random_state=seed, progress=False, n_threads=1, device="cpu").fit(
                    tr.embeddings, P_train, X_dev=va.embeddings, Y_dev=va.Y))
                P, pred_s = _timed(lambda: model.predict_proba(te.embeddings))
                runs.append({**_scores(P, te.Y, k), "coverage": 1.0, "fit_s": fit_s, "predict_s": pred_s})
            rows.append(_row("WS-Adapter", runs, f"{lm_note}, 1 thread, early stopping on valid"))
    return rows, notes


def _peer_rows(ds: Dataset) -> List[Dict[str, Any]]:
    from .peers import available_peers, warm_up

    tr, va, te, k = ds.train, ds.valid, ds.test, ds.cardinality
    rows = []
    for name, fit in available_peers(k).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warm_up(fit, k)  # imports and first-call set-up are not part of the timed fit
        tunable = name == "Snorkel LabelModel"
        best = None
        for source in ("estimated", "valid gold") if tunable else ("estimated",):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    predict, fit_s = _timed(lambda: fit(tr.L, k, va.Y if source == "valid gold" else None))
                    score = _tuning_score(predict(va.L), va.Y, k)
            except Exception as exc:  # a peer failing on a data set is a result, not a crash of the suite
                rows.append({"method": name, "family": "peer", "error": f"{type(exc).__name__}: {exc}"[:200]})
                best = None
                break
            if best is None or score > best[0]:
                best = (score, source, predict, fit_s)
        if best is None:
            continue
        _, source, predict, fit_s = best
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            P, pred_s = _timed(lambda: predict(te.L))
        chosen = f"class balance {source}" if tunable else "-"
        rows.append(_row(name, [{**_scores(P, te.Y, k), "coverage": _covered(te.L), "fit_s": fit_s,
                                  "predict_s": pred_s}], chosen, family="peer"))
    return rows


def _ratios(rows: List[Dict[str, Any]]) -> None:
    """Time ratios peer / labelfuse counterpart (same family of model), in place on the peer rows."""
    from .peers import PEER_COUNTERPART

    ours = {r["method"]: r for r in rows if r["family"] == "labelfuse"}
    for r in rows:
        mate = ours.get(PEER_COUNTERPART.get(r["method"], ""))
        if r["family"] != "peer" or mate is None or "fit_s" not in r:
            continue
        r["vs"] = mate["method"]
        for key in ("fit_s", "predict_s"):
            r[f"{key}_ratio"] = r[key] / mate[key] if mate[key] > 0 else float("nan")


# -- the run ---------------------------------------------------------------------------------------------------------
def _meta(seeds: Sequence[int], peers: bool, data: Optional[Path]) -> Dict[str, Any]:
    from .. import __version__
    from .peers import PATCHES, peer_versions

    versions = {"labelfuse": __version__, "numpy": np.__version__, "python": platform.python_version()}
    for mod in ("torch", "faiss", "scipy"):
        if mod in sys.modules or _importable(mod):
            try:
                versions[mod] = __import__(mod).__version__
            except Exception:  # an optional module that fails to import is just not listed
                pass
    if peers:
        versions.update(peer_versions())
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "machine": platform.platform(),
            "processor": _cpu_name(), "cpus": os.cpu_count(), "load_average_start": load, "versions": versions,
            "seeds": list(seeds), "tuning": TUNING, "peer_patches": PATCHES if peers else [],
            "data": str(data) if data else None,
            "protocol": "fit on train, hyperparameters chosen on valid (accuracy), scored once on test",
            "tie_policy": f"{TIE_POLICY} (WRENCH's: a tied row gets the tied class chosen by a hash of its index)"}


def _importable(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_suite(data: Optional[Path] = None, *, bundled: bool = True, datasets: Optional[Sequence[str]] = None,
              seeds: Sequence[int] = (0, 1, 2), peers: bool = True, embeddings: bool = True, adapter: bool = True,
              n_threads: Optional[int] = None, progress: bool = True) -> SuiteResult:
    """Run every method (and the importable peers, when ``peers``) on the bundled set and the WRENCH-style sets
    under ``data``; ``datasets`` keeps only those names."""
    from tqdm.auto import tqdm

    sets = discover_datasets(data, bundled)
    if datasets:
        sets = [s for s in sets if s[0] in datasets or Path(str(s[1])).name in datasets]
    result = SuiteResult(_meta(seeds, peers, data))
    for name, where in tqdm(sets, desc="data sets", disable=not progress):
        ds = load_dataset(where)
        missing = [s for s in ("train", "valid", "test") if getattr(ds, s) is None]
        if missing:
            result.skipped.append(f"{name}: no {' / '.join(missing)} split (the protocol needs train, valid, test)")
            continue
        t0 = time.perf_counter()
        flags: List[str] = []
        rows, fitted = _label_models(ds, n_threads, flags)
        notes: List[str] = []
        with_embeddings = embeddings and ds.train.embeddings is not None and _importable("faiss")
        auto_row, auto = _auto(ds, with_embeddings, n_threads)
        rows.append(auto_row)
        if with_embeddings:
            more, notes = _embedding_methods(ds, auto, seeds, n_threads, adapter)
            rows += more
        else:
            notes.append("embedding methods skipped (" + ("no embeddings" if ds.train.embeddings is None
                                                            else "faiss not installed or disabled") + ")")
        if peers:
            rows += _peer_rows(ds)
        _ratios(rows)
        result.datasets[name] = {"k": ds.cardinality, "m": ds.n_lfs, "n_train": ds.train.n, "n_valid": ds.valid.n,
                                 "n_test": ds.test.n, "metric": "F1" if ds.cardinality == 2 else "macro-F1",
                                 "rows": rows, "notes": notes, "flags": flags,
                                 "seconds": time.perf_counter() - t0}
    result.meta["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return result


# -- output ----------------------------------------------------------------------------------------------------------
def _pm(row: Dict[str, Any], key: str, fmt: str = "{:.3f}") -> str:
    if key not in row:
        return "-"
    s = fmt.format(row[key])
    return s + (" ± " + fmt.format(row[f"{key}_std"]) if f"{key}_std" in row else "")


def to_markdown(result: SuiteResult) -> str:
    meta = result.meta
    v = ", ".join(f"{k} {x}" for k, x in meta["versions"].items())
    lines = [f"Measured {meta['started']} on {meta['processor']} ({meta['cpus']} CPUs, load average at start "
             f"{_load(meta.get('load_average_start'))}, at end {_load(meta.get('load_average_end'))}); {v}.",
             f"Protocol: {meta['protocol']}. Seeds {meta['seeds']} for stochastic methods (mean ± std over seeds).",
             f"Scoring: labelfuse.metrics.score, tie policy {meta.get('tie_policy', 'argmax')}; 'abstained': test "
             "rows whose top classes tied (majority vote's rows without votes included).",
             "Times are wall seconds on a shared machine (noisy). fit: one fit of the configuration chosen on valid "
             "for the label models and peers; Epoxy's and Liger's fit includes their own search on valid; WS + kNN's "
             "is the neighbour-count search; the Adapter's is training with early stopping. predict: predict_proba "
             "on test. Coverage: test rows with at "
             "least one (extended) vote; 1.0 for methods that label every row.", "",
             "Tuning budget (all on valid):", ""]
    lines += [f"- {m}: {t}" for m, t in meta["tuning"].items()]
    if meta["peer_patches"]:
        lines += ["", "Patches applied to the peers in the harness (labelfuse.bench.peers), not in the library:", ""]
        lines += [f"- {p}" for p in meta["peer_patches"]]
    for name, d in result.datasets.items():
        lines += ["", f"### {name} (k = {d['k']}, {d['m']} LFs, train / valid / test = {d['n_train']} / "
                      f"{d['n_valid']} / {d['n_test']}; {d['seconds']:.0f} s)", "",
                  f"| method | accuracy | {d['metric']} | abstained | coverage | fit s | predict s "
                  "| peer / ours (time) | chosen on valid |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in d["rows"]:
            if "error" in r:
                lines.append(f"| {r['method']} | failed: {r['error']} | | | | | | | |")
                continue
            ratio = _ratio_cell(r)
            lines.append(f"| {r['method']} | {_pm(r, 'accuracy')} | {_pm(r, 'f1')} | {_pm(r, 'abstained', '{:.0f}')} | "
                         f"{r['coverage']:.3f} | "
                         f"{_pm(r, 'fit_s', '{:.4f}')} | {_pm(r, 'predict_s', '{:.4f}')} | {ratio} | {r['chosen']} |")
        lines += [f"\n- {n}" for n in d["notes"]]
        lines += [f"\n- flag: {f}" for f in d.get("flags", [])]
    if result.skipped:
        lines += ["", "Skipped: " + "; ".join(result.skipped)]
    return "\n".join(lines) + "\n"


def _ratio_cell(r: Dict[str, Any]) -> str:
    """'fit 27x, predict 4.1x vs triplet'; a ratio is left out where the peer has no fit (MajorityLabelVoter)."""
    parts = [f"{what} {r[key + '_ratio']:.3g}x" for what, key in (("fit", "fit_s"), ("predict", "predict_s"))
             if key + "_ratio" in r and r[key] > 1e-4 and np.isfinite(r[key + "_ratio"])]
    return f"{', '.join(parts)} vs {r['vs']}" if parts else ""


def _load(x: Any) -> str:
    return "n/a" if not x else " ".join(f"{v:.2f}" for v in x)


def plot(result: SuiteResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.datasets)
    methods: List[str] = []
    for d in result.datasets.values():
        methods += [r["method"] for r in d["rows"] if "accuracy" in r and r["method"] not in methods]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names) * max(1, len(methods)) / 6), 4.5))
    width = 0.8 / max(1, len(methods))
    cmap = plt.get_cmap("tab20")
    for j, m in enumerate(methods):
        acc, err = [], []
        for n in names:
            r = next((r for r in result.datasets[n]["rows"] if r["method"] == m and "accuracy" in r), None)
            acc.append(np.nan if r is None else r["accuracy"])
            err.append(0.0 if r is None else r.get("accuracy_std", 0.0))
        ax.bar(np.arange(len(names)) + (j - (len(methods) - 1) / 2) * width, acc, width, yerr=err, label=m,
               color=cmap(j % 20), hatch="//" if m not in METHODS else None, edgecolor="white")
    ax.set_xticks(np.arange(len(names)), names, rotation=15)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("labelfuse benchmark suite (hatched: peers; error bars: std over seeds)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(result: SuiteResult, out: Path, figure: bool = True) -> List[Path]:
    """``out``.md, ``out``.json and (when matplotlib is importable) ``out``.png; returns the paths written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".md"), out.with_suffix(".json")]
    paths[0].write_text("# labelfuse benchmark suite\n\n" + to_markdown(result))
    paths[1].write_text(json.dumps(result.to_dict(), indent=1, default=float))
    if figure and _importable("matplotlib") and result.datasets:
        plot(result, out.with_suffix(".png"))
        paths.append(out.with_suffix(".png"))
    elif figure and result.datasets:  # e.g. the peers venv has no matplotlib
        print(f"matplotlib not importable: draw the figure with python -m labelfuse.bench.suite {paths[1]}")
    return paths


def _from_json(path: Path) -> SuiteResult:
    d = json.loads(Path(path).read_text())
    return SuiteResult(d["meta"], d["datasets"], d["skipped"])


if __name__ == "__main__":  # python -m labelfuse.bench.suite suite.json: redraw the figure and table from a saved run
    source = Path(sys.argv[1])
    write_outputs(_from_json(source), source.with_suffix(""))


def add_arguments(p: Any) -> None:
    p.add_argument("--data", type=Path, default=None,
                   help="folder of WRENCH-style data sets (default: ../shared/data when it exists)")
    p.add_argument("--no-data", action="store_true", help="only the bundled youtube set")
    p.add_argument("--no-bundled", action="store_true", help="skip the bundled youtube set")
    p.add_argument("--datasets", nargs="*", default=None, help="keep only these data set names")
    p.add_argument("--seeds", type=int, default=3, help="seeds for stochastic methods (default 3)")
    p.add_argument("--no-peers", action="store_true", help="skip Snorkel / FlyingSquid / crowd-kit")
    p.add_argument("--no-embeddings", action="store_true", help="skip Epoxy, Liger, WS + kNN, WS-Adapter")
    p.add_argument("--no-adapter", action="store_true", help="skip WS-Adapter (torch)")
    p.add_argument("--n-threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("bench_results") / "suite",
                   help="output prefix: writes .md, .json, .png (default bench_results/suite)")
    p.add_argument("--scaling", action="store_true", help="also run the scaling grid (labelfuse.bench.scaling)")
    p.add_argument("--scaling-only", action="store_true", help="only the scaling grid")
    p.add_argument("--full", action="store_true", help="the full scaling grid (n to 1e7, m to 1000, k to 100)")
    p.add_argument("--timeout", type=float, default=45.0,
                   help="seconds per scaling measurement, subprocess start included (default 45)")


def main_from_args(args: Any) -> int:
    if not args.scaling_only:
        data = None if args.no_data else (args.data or default_data_folder())
        # the command (an application) collects the warnings of the run to list them after the tables
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_suite(data, bundled=not args.no_bundled, datasets=args.datasets, seeds=range(args.seeds),
                               peers=not args.no_peers, embeddings=not args.no_embeddings,
                               adapter=not args.no_adapter, n_threads=args.n_threads, progress=sys.stderr.isatty())
        print(to_markdown(result))
        shown = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        if shown:
            print("Warnings:\n" + "\n".join(f"  {line}" for line in shown))
        for p in write_outputs(result, args.out):
            print(f"wrote {p}")
    if args.scaling or args.scaling_only:
        from .scaling import run_grid, write_scaling

        res = run_grid(full=args.full, timeout=args.timeout, peers=not args.no_peers)
        for p in write_scaling(res, args.out.with_name(args.out.name + "_scaling")):
            print(f"wrote {p}")
    return 0
