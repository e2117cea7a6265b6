"""Does calling the core from several Python threads really run in parallel (the GIL released)?

Each call uses one OpenMP thread; the same batch of calls runs from 1 and from T Python threads, and the wall-clock
speed-up is printed (ideal: T, bounded by the free cores). Results are checked equal to the serial ones.

    PYTHONPATH=python python bench/concurrency.py [--rows 1000000] [--lfs 50] [--threads 2] [--calls 8]
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import labelfuse as lf
from labelfuse.synthetic import make_label_matrix


def timed_batch(call, items, workers):
    start = time.perf_counter()
    if workers == 1:
        out = [call(x) for x in items]
    else:
        with ThreadPoolExecutor(workers) as pool:
            out = list(pool.map(call, items))
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e6)
    ap.add_argument("--lfs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=8)
    args = ap.parse_args()
    syn = make_label_matrix(int(args.rows), args.lfs, 2, random_state=0)
    L = syn.L.astype(np.int8)
    model = lf.LabelModel(method="triplet", cardinality=2, n_threads=1).fit(L)
    cases = {
        "label_stats": lambda _: lf.label_stats(L, 2, n_threads=1),
        "predict_proba": lambda _: model.predict_proba(L),
    }
    print(f"n = {L.shape[0]:,}, m = {L.shape[1]}, {args.calls} calls, one OpenMP thread per call, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for name, call in cases.items():
        call(0)  # warm-up
        t1, serial = timed_batch(call, range(args.calls), 1)
        tT, concurrent = timed_batch(call, range(args.calls), args.threads)
        same = all((a == b) if name == "label_stats" else np.array_equal(a, b) for a, b in zip(serial, concurrent))
        print(f"{name:14s} 1 thread {t1:6.2f} s | {args.threads} threads {tT:6.2f} s | speed-up {t1 / tT:4.2f}x | "
              f"results equal: {same}")


if __name__ == "__main__":
    main()
