"""labelfuse's majority vote and Dawid-Skene against crowd-kit's DawidSkene on the same synthetic L.

Run with the peers' interpreter (crowd-kit lives there; the compiled core is for CPython 3.11 like that venv):

    PYTHONPATH=python $PEERS_PYTHON bench/compare_label_models.py --n 1000000 --m 50 --k 2

Prints one table per setting: fit and predict_proba seconds (best of --repeat for labelfuse, one run for the
peer), EM passes, accuracy and F1 on rows with at least one vote (crowd-kit returns nothing for the others), and
the speed ratio peer / labelfuse. Timings on a shared machine move with its load: compare ratios from one run.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from labelfuse import metrics
from labelfuse.models import LabelModel, MajorityVote
from labelfuse.synthetic import make_label_matrix


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_labelfuse(L, k, repeat, n_threads) -> List[Dict]:
    rows = []
    for name, make in (
        ("labelfuse MajorityVote", lambda: MajorityVote(cardinality=k, n_threads=n_threads)),
        ("labelfuse DawidSkene", lambda: LabelModel(k, method="dawid_skene", n_threads=n_threads)),
        ("labelfuse DawidSkene (abstentions ignored)",
         lambda: LabelModel(k, method="dawid_skene", abstentions="ignore", n_threads=n_threads)),
    ):
        fit_s, model = best_of(lambda: make().fit(L), repeat)
        proba_s, P = best_of(lambda: model.predict_proba(L), repeat)
        rows.append(dict(method=name, fit=fit_s, proba=proba_s, passes=getattr(model, "n_iter_", None), P=P))
    return rows


def run_crowdkit(L, k) -> Optional[Dict]:
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        print("crowd-kit is not installed here: run this with $PEERS_PYTHON")
        return None
    t = time.perf_counter()
    rows, cols = np.nonzero(L != -1)
    df = pd.DataFrame({"task": rows, "worker": cols, "label": L[rows, cols].astype(np.int64)})
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    ds = DawidSkene(n_iter=100, tol=1e-5).fit(df)
    fit_s = time.perf_counter() - t
    probas = ds.probas_.reindex(columns=range(k), fill_value=0.0)
    P = np.full((L.shape[0], k), np.nan)
    P[probas.index.to_numpy()] = probas.to_numpy()
    return dict(method="crowd-kit DawidSkene", fit=fit_s, proba=None, passes=len(ds.loss_history_), P=P,
                note=f"long table built in {build_s:.2f} s (not counted)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--k", type=int, nargs="+", default=[2, 10])
    ap.add_argument("--balance", type=str, default=None, help="comma-separated class balance (one k only)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-threads", type=int, default=None)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for k in args.k:
        balance = None if args.balance is None else [float(x) for x in args.balance.split(",")]
        s = make_label_matrix(args.n, args.m, k, class_balance=balance, random_state=args.seed)
        covered = (s.L != -1).any(axis=1)
        results = run_labelfuse(s.L, k, args.repeat, args.n_threads)
        peer = None if args.no_peer else run_crowdkit(s.L, k)
        if peer:
            results.append(peer)
        print(f"\nn={args.n:,} m={args.m} k={k} balance={balance or 'uniform'}  "
              f"(votes {int((s.L != -1).sum()):,}, covered rows {covered.mean():.3f})")
        print(f"{'method':45s} {'fit s':>8s} {'proba s':>8s} {'passes':>6s} {'acc':>6s} {'f1':>6s}")
        ours_ds = results[1]
        for r in results:
            pred = np.argmax(np.nan_to_num(r["P"][covered], nan=-1.0), axis=1)
            acc = metrics.accuracy(s.Y[covered], pred)
            f1 = metrics.f1(s.Y[covered], pred, cardinality=k)
            proba = "-" if r["proba"] is None else f"{r['proba']:.3f}"
            print(f"{r['method']:45s} {r['fit']:8.3f} {proba:>8s} {str(r['passes']):>6s} {acc:6.4f} {f1:6.4f}"
                  + (f"  {r['note']}" if r.get("note") else ""))
        if peer:
            print(f"Dawid-Skene fit speed-up vs crowd-kit: {peer['fit'] / ours_ds['fit']:.1f}x end to end; "
                  f"per EM pass {(peer['fit'] / peer['passes']) / (ours_ds['fit'] / max(ours_ds['passes'], 1)):.1f}x "
                  "(labelfuse's per-pass figure includes its pattern compression)")
            ign = results[2]["P"][covered]
            print(f"max |P(ours, abstentions ignored) - P(crowd-kit)| on covered rows: "
                  f"{np.nanmax(np.abs(ign - peer['P'][covered])):.3g}")


if __name__ == "__main__":
    main()
