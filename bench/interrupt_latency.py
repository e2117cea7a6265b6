"""Stop latency after Ctrl-C: how long each estimator's call takes to raise KeyboardInterrupt once the signal lands.

A real-time timer (setitimer) delivers SIGALRM at a set moment of the call; its handler raises KeyboardInterrupt,
as Ctrl-C would. The latency is the time from the timer's moment to the exception reaching Python. Each call is
interrupted at several moments spread over its first `--window` seconds; the table gives the median and the worst.

    PYTHONPATH=python python bench/interrupt_latency.py --n 10000000 --m 30
"""
from __future__ import annotations

import argparse
import signal
import time

import numpy as np

import labelfuse as lf


def latency(call, delays):
    out = []
    for delay in delays:
        def handler(signum, frame):
            raise KeyboardInterrupt
        previous = signal.signal(signal.SIGALRM, handler)
        start = time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, delay)
            call()
            signal.setitimer(signal.ITIMER_REAL, 0)
            out.append(float("nan"))  # finished before the signal
        except KeyboardInterrupt:
            out.append(time.perf_counter() - start - delay)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**7)
    ap.add_argument("--m", type=int, default=30)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=6)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    L = rng.integers(-1, 2, (args.n, args.m), dtype=np.int8)
    fitted = lf.LabelModel(cardinality=2, method="triplet").fit(L)
    calls = {
        "MajorityVote.fit": lambda: lf.MajorityVote(cardinality=2).fit(L),
        "MajorityVote.predict_proba": lambda: lf.MajorityVote(cardinality=2).fit(L[:10]).predict_proba(L),
        "LabelModel(dawid_skene).fit": lambda: lf.LabelModel(cardinality=2, method="dawid_skene").fit(L),
        "LabelModel(triplet).fit": lambda: lf.LabelModel(cardinality=2, method="triplet").fit(L),
        "LabelModel(covariance).fit": lambda: lf.LabelModel(cardinality=2, method="covariance").fit(L),
        "LabelModel.predict_proba": lambda: fitted.predict_proba(L),
        "label_stats": lambda: lf.label_stats(L, 2),
    }
    delays = np.linspace(0.05, args.window, args.repeats)
    print(f"n = {args.n:,}, m = {args.m}; latency after the signal, seconds (delays {delays.round(2).tolist()})")
    for name, call in calls.items():
        lat = np.array(latency(call, delays))
        hit = lat[~np.isnan(lat)]
        if hit.size:
            print(f"{name:32s} stop median {np.median(hit) * 1e3:7.1f} ms  worst {hit.max() * 1e3:7.1f} ms  "
                  f"({hit.size} of {len(delays)} signals landed inside the call)", flush=True)
        else:
            print(f"{name:32s} (every call ended before its signal)", flush=True)


if __name__ == "__main__":
    main()
