"""Fusion speed: Liger fit tuned on dev (YouTube with MiniLM embeddings) and Liger refit at n = 1e5, m = 20, each
against its baseline measured in the same process, wall time next to CPU time.

Fit, three ways, interleaved:
  - before: one extension kernel call per grid point (every per-LF candidate on dev, every joint offset on train and
    dev) and a fresh estimator (k-means for every part count): the per-grid-point path, reproduced by swapping the
    one-pass ExtensionSweep for a stand-in that calls extend_votes at each threshold;
  - after, cold: a fresh estimator, one kernel pass per split for the whole grid;
  - after, warm: the same estimator fitted again (k-means cached per part count).
Their chosen thresholds, part counts, dev scores and training posteriors must be identical (checked here).

Refit: after editing one LF, against a fresh Liger fit on the same cached graph and against LabelModel.refit on the
same edit, timed in the same loop (so under the same load).

    PYTHONPATH=python python bench/compare_fusion_speed.py [--repeat 5] [--n 100000] [--label-model triplet]

Results: bench/results/compare_fusion_speed.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_fusion import load_wrench, synthetic_task  # noqa: E402

from labelfuse import LabelModel  # noqa: E402
from labelfuse.embeddings import NeighborGraph, extend_votes  # noqa: E402
from labelfuse.embeddings import extend as extend_module  # noqa: E402
from labelfuse.embeddings import thresholds as thresholds_module  # noqa: E402
from labelfuse.fusion import Liger  # noqa: E402

RESULTS = HERE / "results"
GOALS = {"fit_s": 0.5, "refit_ms": 20.0}


class PerThresholdSweep:
    """The per-grid-point path: ``at(t)`` is one extend_votes call at t (what the tuning did before the sweep)."""

    def __init__(self, L, graph, floor, **kw):
        self.args, self.kw = (L, graph), kw

    def at(self, thresholds, return_report=False):
        return extend_votes(*self.args, thresholds, return_report=return_report, **self.kw)


class per_threshold_path:
    """Context manager: the estimators and tune_thresholds use PerThresholdSweep while inside."""

    def __enter__(self):
        self.saved = extend_module.extension_sweep, thresholds_module.extension_sweep
        extend_module.extension_sweep = thresholds_module.extension_sweep = PerThresholdSweep

    def __exit__(self, *exc):
        extend_module.extension_sweep, thresholds_module.extension_sweep = self.saved


def clock(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def summary(runs):
    wall = [r[0] for r in runs]
    cpu = [r[1] for r in runs]
    return {"wall_min": min(wall), "wall_median": statistics.median(wall), "cpu_min": min(cpu),
            "cpu_median": statistics.median(cpu), "runs": len(runs)}


def same_fit(a, b):
    return (np.array_equal(a.thresholds_, b.thresholds_) and a.n_parts_ == b.n_parts_ and a.search_ == b.search_
            and np.array_equal(a.train_proba_, b.train_proba_) and np.array_equal(a.L_extended_, b.L_extended_))


def run_fit(label_model, repeat):
    (L, _, X), (Ld, Yd, Xd) = load_wrench("wrench_youtube", "train"), load_wrench("wrench_youtube", "valid")
    runs = {"before": [], "after_cold": [], "after_warm": []}
    warm = Liger(label_model).fit(L, X, Ld, Xd, Yd)  # also the warm-up of faiss and the core
    identical = True
    for _ in range(repeat):
        with per_threshold_path():
            before, w, c = clock(lambda: Liger(label_model).fit(L, X, Ld, Xd, Yd))
        runs["before"].append((w, c))
        cold, w, c = clock(lambda: Liger(label_model).fit(L, X, Ld, Xd, Yd))
        runs["after_cold"].append((w, c))
        _, w, c = clock(lambda: warm.fit(L, X, Ld, Xd, Yd))
        runs["after_warm"].append((w, c))
        identical &= same_fit(before, cold) and same_fit(before, warm)
    res = {key: summary(v) for key, v in runs.items()}
    res.update(n=int(L.shape[0]), m=int(L.shape[1]), n_dev=int(Ld.shape[0]), label_model=label_model,
               identical_results=bool(identical), chosen_parts=int(cold.n_parts_))
    for key in ("after_cold", "after_warm"):
        res[f"speedup_{key}_wall"] = res["before"]["wall_min"] / res[key]["wall_min"]
        res[f"speedup_{key}_cpu"] = res["before"]["cpu_min"] / res[key]["cpu_min"]
    return res


def run_refit(label_model, n, m, parts, repeat):
    X, L, _ = synthetic_task(n, m)
    graph = NeighborGraph(n_neighbors=64).fit(X)
    thr = Liger(label_model, n_parts=parts, neighbor_graph=graph, cardinality=2).fit(L, X).thresholds_
    est = Liger(label_model, thresholds=thr, n_parts=parts, neighbor_graph=graph, cardinality=2).fit(L, X)
    lm = LabelModel(label_model, cardinality=2).fit(L)
    edited = L.copy()
    edited[:, 3] = np.where(L[:, 3] >= 0, 1 - L[:, 3], -1)  # the user edits one LF, back and forth
    flip = [L, edited]
    runs = {"liger_refit": [], "liger_fresh_fit": [], "label_model_refit": []}
    for i in range(repeat):
        Li = flip[(i + 1) % 2]
        _, w, c = clock(lambda: est.refit(Li))
        runs["liger_refit"].append((w, c))
        _, w, c = clock(lambda: Liger(label_model, thresholds=thr, n_parts=parts, neighbor_graph=graph,
                                      cardinality=2).fit(Li, X))
        runs["liger_fresh_fit"].append((w, c))
        _, w, c = clock(lambda: lm.refit(Li))
        runs["label_model_refit"].append((w, c))
    res = {key: summary(v) for key, v in runs.items()}
    res.update(n=n, m=m, parts=parts, label_model=label_model)
    refit = res["liger_refit"]["wall_median"]
    res["ratio_fresh_fit_to_refit"] = res["liger_fresh_fit"]["wall_median"] / refit
    res["ratio_refit_to_label_model_refit"] = refit / res["label_model_refit"]["wall_median"]
    return res


def write_markdown(res, path):
    f, r = res["fit"], res["refit"]
    lines = ["| path | before | after | goal |", "|---|---|---|---|"]
    lines.append(f"| Liger fit tuned on dev, YouTube {f['n']} rows, MiniLM ({f['label_model']}) | "
                 f"{f['before']['wall_min']:.2f} s wall / {f['before']['cpu_min']:.2f} s CPU | "
                 f"cold {f['after_cold']['wall_min']:.2f} s / {f['after_cold']['cpu_min']:.2f} s CPU "
                 f"({f['speedup_after_cold_wall']:.1f}x); k-means cached {f['after_warm']['wall_min']:.2f} s / "
                 f"{f['after_warm']['cpu_min']:.2f} s CPU ({f['speedup_after_warm_wall']:.1f}x); identical results: "
                 f"{f['identical_results']} | <= {GOALS['fit_s']} s |")
    lines.append(f"| Liger refit, n = {r['n']}, m = {r['m']}, {r['parts']} parts, cached graph | | median "
                 f"{r['liger_refit']['wall_median'] * 1e3:.1f} ms wall / {r['liger_refit']['cpu_median'] * 1e3:.1f} ms "
                 f"CPU; fresh fit / refit {r['ratio_fresh_fit_to_refit']:.1f}x; refit / LabelModel.refit "
                 f"{r['ratio_refit_to_label_model_refit']:.2f}x | <= {GOALS['refit_ms']:.0f} ms |")
    path.write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label-model", default="triplet")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--only", choices=["fit", "refit"])
    args = ap.parse_args()
    res = {}
    if args.only != "refit":
        res["fit"] = run_fit(args.label_model, args.repeat)
        print(json.dumps(res["fit"], indent=1), flush=True)
    if args.only != "fit":
        res["refit"] = run_refit(args.label_model, args.n, args.m, args.parts, args.repeat)
        print(json.dumps(res["refit"], indent=1), flush=True)
    RESULTS.mkdir(exist_ok=True)
    if args.only is None:
        (RESULTS / "compare_fusion_speed.json").write_text(json.dumps(res, indent=1))
        write_markdown(res, RESULTS / "compare_fusion_speed.md")


if __name__ == "__main__":
    main()
