"""Label-model speed at n = 1e6, m = 50 (the label-model speed goals): fit with statistics, predict_proba, and a refit after one
LF's votes change on 5% of the rows, per method, k = 2 and 10, 1 and 2 threads. Prints process CPU time beside
wall time: on a shared machine wall time is inflated by other load.

    OMP_WAIT_POLICY=passive PYTHONPATH=python python bench/label_model_speed.py
"""
import time
import warnings

import numpy as np

import labelfuse as lf
from labelfuse.synthetic import make_label_matrix


def best(f, repeats=3):
    """(min CPU ms, min wall ms) over repeats."""
    cpu, wall = [], []
    for _ in range(repeats):
        t, w = time.process_time(), time.perf_counter()
        f()
        cpu.append(time.process_time() - t)
        wall.append(time.perf_counter() - w)
    return min(cpu) * 1e3, min(wall) * 1e3


def main() -> None:
    warnings.simplefilter("ignore")
    for k in (2, 10):
        s = make_label_matrix(1_000_000, 50, k, random_state=1)
        L = s.L
        L2 = L.copy()
        L2[np.random.default_rng(0).random(L.shape[0]) < 0.05, 7] = -1
        for method in ("triplet", "covariance", "dawid_skene"):
            for n_threads in (1, 2):
                m = lf.LabelModel(cardinality=k, method=method, n_threads=n_threads)
                fit = best(lambda: m.fit(L))
                acc = float((m.predict(L) == s.Y).mean())
                proba = best(lambda: m.predict_proba(L))
                refit = best(lambda: (m.refit(L2), m.refit(L)))  # two refits per call
                print(f"k={k} {method:12s} threads={n_threads} fit {fit[0]:7.1f} ms cpu ({fit[1]:7.1f} wall)  "
                      f"predict_proba {proba[0]:6.1f} cpu ({proba[1]:6.1f} wall)  "
                      f"refit {refit[0] / 2:6.1f} cpu ({refit[1] / 2:6.1f} wall)  accuracy {acc:.4f}", flush=True)
        mv = lf.MajorityVote(cardinality=k)
        print(f"k={k} majority vote fit {best(lambda: mv.fit(L))[0]:.1f} ms cpu  "
              f"predict_proba {best(lambda: mv.predict_proba(L))[0]:.1f} ms cpu", flush=True)


if __name__ == "__main__":
    main()
