"""LabelModel.refit after one LF edited on 5% of the rows (n = 1e6, m = 50), against a fresh fit in the same run.

Rows: ``refit(L_new, columns=[j])`` and ``refit(L_new)`` (changed columns found by comparison), with ``L_new`` in C
order (the usual layout: reading one column touches every cache line of L) and in Fortran order (one column is
contiguous), against ``LabelModel(...).fit(L_new)``. Wall and CPU (process) time, medians over ``--repeats`` edits.

    python bench/refit_latency.py
    python bench/refit_latency.py --n 100000 --threads 1
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import labelfuse as lf
from labelfuse.synthetic import make_label_matrix


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="n_threads of the model (None: all cores)")
    args = ap.parse_args()
    n, m = args.n, args.m
    L = make_label_matrix(n, m, 2, accuracy=(0.6, 0.9), coverage=(0.05, 0.5), random_state=0).L
    rng = np.random.default_rng(1)
    print(f"n = {n:,}, m = {m}, one LF edited on 5% of the rows; medians of {args.repeats}")
    print("| method | path | wall ms | CPU ms | fresh fit wall ms | fresh fit CPU ms | fresh / refit (wall) |")
    print("|---|---|---|---|---|---|---|")
    for method in ("triplet", "covariance"):
        fresh = [timed(lambda: lf.LabelModel(cardinality=2, method=method, n_threads=args.threads).fit(L))
                 for _ in range(2)]
        fw, fc = np.median([f[0] for f in fresh]), np.median([f[1] for f in fresh])
        for layout in ("C", "F"):
            for path in ("columns=", "auto"):
                lm = lf.LabelModel(cardinality=2, method=method, n_threads=args.threads).fit(L)
                current = np.array(L, order=layout)
                times = []
                for rep in range(args.repeats):
                    j = rep % m
                    rows = rng.choice(n, n // 20, replace=False)
                    edited = current.copy(order="K")
                    edited[rows, j] = np.where(edited[rows, j] == -1, rng.integers(0, 2, rows.size), -1)
                    cols = [j] if path == "columns=" else None
                    times.append(timed(lambda: lm.refit(edited, columns=cols)))
                    current = edited
                w, c = np.median([t[0] for t in times]), np.median([t[1] for t in times])
                print(f"| {method} | {path} L_new {layout}-order | {w * 1e3:.1f} | {c * 1e3:.1f} | {fw * 1e3:.0f} | "
                      f"{fc * 1e3:.0f} | {fw / w:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
