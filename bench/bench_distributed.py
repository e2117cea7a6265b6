"""Throughput of the Dask path vs one process, and the driver's peak memory (must not grow with n).

Two pipelines, each timed distributed (LocalCluster, spawn-started workers, 1 thread each) and in one process:

* ``lf``: Python labeling functions on a DataFrame (apply + statistics + fit + posteriors). The frame is generated
  on the workers (``dd.from_map``), so the driver never holds the rows. Python LF calls dominate (about a
  microsecond per row and LF): 1e7 rows take about 1.5 min per path on the 2-core dev box; with a smaller
  ``--lf-rows`` the script also prints the 1e7-row time extrapolated linearly.
* ``native``: int8 label blocks generated on the workers (no LFs), then statistics + fit + posteriors at ``--rows``
  (1e7 by default): the part of the pipeline that scales with the native core.

Fit: ``--method`` (triplet by default) when this build has it, else the posterior step uses the generative
model's true tables and the fit column says "n/a". Posteriors are computed on the workers and reduced to their
column sums (nothing of size n comes back).

Driver memory: tracemalloc peak (Python + numpy allocations in the client process) over the distributed run, at
two sizes; it must not grow with n.

Usage::

    PYTHONPATH=python nice python bench/bench_distributed.py --rows 1e7 --lf-rows 1e7 --workers 2
"""
from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import pandas as pd

import dask
import dask.array as da
import dask.dataframe as dd
import distributed

import labelfuse as lf
from labelfuse import distributed as lfd
from labelfuse.labeling import apply_lfs, labeling_function
from labelfuse.models.registry import FitResult
from labelfuse.synthetic import make_label_matrix

M, K = 10, 2
ACCURACY = np.linspace(0.6, 0.9, M)
COVERAGE = np.linspace(0.2, 0.7, M)


# -- data, generated where it is used -------------------------------------------------------------------------------------
def label_block(seed: int, rows: int) -> np.ndarray:
    return make_label_matrix(rows, M, K, accuracy=ACCURACY, coverage=COVERAGE, random_state=seed).L


def frame_block(seed: int, rows: int) -> pd.DataFrame:
    return pd.DataFrame({f"v{j}": col for j, col in enumerate(label_block(seed, rows).T)})


def block_sizes(n: int, parts: int) -> List[int]:
    # arithmetic, not np.array_split(np.arange(n)): an n-sized array on the driver would defeat the measurement
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def column_lf(j: int):
    @labeling_function(name=f"lf{j}")
    def vote(x):
        return x[j]

    return vote


LFS = [column_lf(j) for j in range(M)]


def true_fit() -> FitResult:
    syn = make_label_matrix(1, M, K, accuracy=ACCURACY, coverage=COVERAGE, random_state=0)
    return FitResult(cpt=syn.cpt, class_balance=syn.class_balance)


def fit_function(method: str) -> Optional[Callable[[Any], FitResult]]:
    try:
        if method == "triplet":
            from labelfuse.models.triplet import fit_triplet as f
        else:
            from labelfuse.models.covariance import fit_covariance as f
    except ImportError:
        return None
    return lambda stats: f(stats)


# -- one process ------------------------------------------------------------------------------------------------------------
def single_process(n: int, parts: int, method: str, with_lfs: bool) -> Dict[str, float]:
    seeds_rows = list(enumerate(block_sizes(n, parts)))
    if with_lfs:
        frame = pd.concat([frame_block(s, r) for s, r in seeds_rows], ignore_index=True)
    else:
        L = np.concatenate([label_block(s, r) for s, r in seeds_rows])
    t = {}
    start = time.perf_counter()
    if with_lfs:
        L = apply_lfs(LFS, frame, cardinality=K, progress=False)
        t["apply"] = time.perf_counter() - start
    s0 = time.perf_counter()
    stats = lf.label_stats(L, K, overlap_matrix=method == "covariance")
    t["stats"] = time.perf_counter() - s0
    s0 = time.perf_counter()
    fit_fn = fit_function(method)
    fit = fit_fn(stats) if fit_fn else true_fit()
    t["fit"] = time.perf_counter() - s0 if fit_fn else float("nan")
    s0 = time.perf_counter()
    P = lf._core.posterior(L, *fit.log_tables(), K)
    t["posterior"] = time.perf_counter() - s0
    t["total"] = time.perf_counter() - start
    t["check"] = float(P.sum(axis=0)[1])
    t["rows_checksum"] = int(stats.class_counts.sum())
    return t


# -- distributed ------------------------------------------------------------------------------------------------------------
def distributed_run(client: distributed.Client, n: int, parts: int, method: str, with_lfs: bool) -> Dict[str, float]:
    sizes = block_sizes(n, parts)
    t = {}
    if with_lfs:
        meta = pd.DataFrame({f"v{j}": pd.Series([], dtype=np.int8) for j in range(M)})
        ddf = dd.from_map(frame_block, list(range(parts)), sizes, meta=meta, enforce_metadata=False)
        start = time.perf_counter()
        L = lfd.apply_lfs(LFS, ddf, cardinality=K, progress=False, client=client)
        t["apply"] = time.perf_counter() - start
    else:
        blocks = [da.from_delayed(dask.delayed(label_block)(s, r), shape=(r, M), dtype=np.int8)
                  for s, r in enumerate(sizes)]
        L = da.concatenate(blocks).persist()
        distributed.wait(L)  # generation is not timed
        start = time.perf_counter()
    s0 = time.perf_counter()
    stats = lfd.label_stats(L, K, overlap_matrix=method == "covariance", client=client)
    t["stats"] = time.perf_counter() - s0
    s0 = time.perf_counter()
    fit_fn = fit_function(method)
    fit = fit_fn(stats) if fit_fn else true_fit()
    t["fit"] = time.perf_counter() - s0 if fit_fn else float("nan")
    s0 = time.perf_counter()
    colsum = client.compute(lfd.predict_proba(L, fit).sum(axis=0)).result()
    t["posterior"] = time.perf_counter() - s0
    t["total"] = time.perf_counter() - start
    t["check"] = float(colsum[1])
    t["rows_checksum"] = int(stats.class_counts.sum())
    del L
    return t


def driver_peak(client: distributed.Client, n: int, parts: int, method: str, with_lfs: bool) -> float:
    """tracemalloc peak (MiB) in this (driver) process over one distributed run."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    distributed_run(client, n, parts, method, with_lfs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def row(name: str, n: int, t: Dict[str, float]) -> Dict[str, Any]:
    return {"path": name, "rows": n, **{k: round(v, 4) for k, v in t.items() if k not in ("check", "rows_checksum")},
            "rows_per_s": round(n / t["total"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=float, default=1e7, help="rows for the native pipeline")
    p.add_argument("--lf-rows", type=float, default=1e7, help="rows for the Python-LF pipeline")
    p.add_argument("--partitions", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--method", default="triplet", choices=["triplet", "covariance"])
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    n, n_lf = int(args.rows), int(args.lf_rows)
    if fit_function(args.method) is None:
        print(f"note: this build has no {args.method} fit; the posterior step uses the true tables, fit = n/a")
    results = []
    with lfd.local_cluster(n_workers=args.workers, threads_per_worker=1) as cluster, \
            distributed.Client(cluster) as client:
        for with_lfs, size, name in ((True, n_lf, "lf"), (False, n, "native")):
            local = single_process(size, args.partitions, args.method, with_lfs)
            dist = distributed_run(client, size, args.partitions, args.method, with_lfs)
            if local["rows_checksum"] != dist["rows_checksum"] or not np.isclose(local["check"], dist["check"]):
                raise AssertionError(f"{name}: distributed and single-process results differ")
            results += [row(f"{name}/one-process", size, local), row(f"{name}/dask x{args.workers}", size, dist)]
        memory = []
        for with_lfs, size, name in ((True, n_lf, "lf"), (False, n, "native")):
            for s in (size // 10, size):
                memory.append({"pipeline": name, "rows": s,
                               "driver_peak_MiB": round(driver_peak(client, s, args.partitions, args.method,
                                                                    with_lfs), 2)})
    table = pd.DataFrame(results)
    print(table.to_string(index=False))
    lf_rate = [r for r in results if r["path"].startswith("lf/dask")][0]["rows_per_s"]
    lf_rate1 = [r for r in results if r["path"] == "lf/one-process"][0]["rows_per_s"]
    if n_lf != int(1e7):
        print(f"\nextrapolated to 1e7 rows with Python LFs: one process {1e7 / lf_rate1 / 60:.1f} min, "
              f"dask x{args.workers} {1e7 / lf_rate / 60:.1f} min (linear in rows)")
    print("\ndriver peak memory (tracemalloc, client process):")
    print(pd.DataFrame(memory).to_string(index=False))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "throughput": results, "driver_memory": memory}, f, indent=1)


if __name__ == "__main__":
    main()
