"""Workspace edit-to-posterior latency: one LF updated on 5% of the rows, against a fresh fit in the same run.

For each n and label model: the time of ``ws.update(lf, votes=...)`` (the LF's votes given, so its own application
is left out: what remains is the statistics delta, the refit from the statistics and the posteriors of the changed
rows), then ``ws.proba()`` (every row's posterior, computed on demand), against a fresh ``LabelModel.fit(L)`` plus
``predict_proba(L)`` on the same votes. Wall and CPU (process) time, medians over ``--repeats`` edits. With
``--liger``: the same for a workspace with Liger fusion and its cached neighbour graph.

    python bench/workspace_latency.py                      # n in 1e4, 1e5, 1e6; m = 50
    python bench/workspace_latency.py --sizes 100000 --liger
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import labelfuse as lf
from labelfuse.synthetic import make_label_matrix


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def noop_lf(name):
    return lf.LabelingFunction(name, lambda x: -1)  # its votes are passed in; it is never applied


def build(n, m, method, fusion=None, X=None, seed=0):
    syn = make_label_matrix(n, m, 2, accuracy=(0.6, 0.9), coverage=(0.05, 0.5), random_state=seed)
    ws = lf.Workspace(pd.DataFrame({"text": np.full(n, "")}), cardinality=2, label_model=method, fusion=fusion,
                      embeddings=X)
    for j in range(m):
        ws.add(noop_lf(f"lf{j}"), votes=syn.L[:, j])
    return ws, syn


def median(xs):
    return float(np.median(xs))


def run(n, m, method, repeats, fusion=None, X=None):
    ws, syn = build(n, m, method, fusion, X)
    rng = np.random.default_rng(1)
    edit, full = [], []
    for rep in range(repeats):
        j = rep % m
        col = np.array(ws.L[:, j])
        rows = rng.choice(n, n // 20, replace=False)
        col[rows] = np.where(col[rows] == -1, rng.integers(0, 2, rows.size), -1)
        _, w, c = timed(lambda: ws.update(noop_lf(f"lf{j}"), votes=col))
        edit.append((w, c))
        _, w, c = timed(ws.proba)
        full.append((w, c))
    L = np.ascontiguousarray(ws.L)
    if fusion is None:
        fresh = [timed(lambda: lf.LabelModel(cardinality=2, method=method).fit(L).predict_proba(L))[1:]
                 for _ in range(2)]
    else:
        cls = lf.Liger if fusion == "liger" else lf.Epoxy
        fresh = [timed(lambda: cls(label_model=method, neighbor_graph=ws._graph, cardinality=2).fit(L, X))[1:]
                 for _ in range(1)]
    e_w, e_c = median([e[0] for e in edit]), median([e[1] for e in edit])
    f_w = median([e[0] for e in full])
    b_w, b_c = median([e[0] for e in fresh]), median([e[1] for e in fresh])
    name = method if fusion is None else f"{fusion} ({method})"
    print(f"| {n:>9,} | {name:<18} | {e_w * 1e3:8.1f} | {e_c * 1e3:8.1f} | {f_w * 1e3:8.1f} | {b_w * 1e3:9.1f} | "
          f"{b_c * 1e3:9.1f} | {b_w / e_w:7.1f}x |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--methods", nargs="+", default=["triplet", "covariance"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--liger", action="store_true", help="also Liger with a cached graph at n = 1e5, m = 20")
    args = ap.parse_args()
    print("| n | model | edit wall ms | edit CPU ms | proba() all rows ms | fresh fit+proba wall ms | "
          "fresh CPU ms | fresh / edit |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for method in args.methods:
            run(n, args.m, method, args.repeats)
    if args.liger:
        n = 100_000
        X = np.random.default_rng(0).normal(size=(n, 32)).astype(np.float32)
        run(n, 20, "triplet", args.repeats, fusion="liger", X=X)


if __name__ == "__main__":
    main()
