import time
import warnings

import numpy as np

import labelfuse as lf
from labelfuse.synthetic import make_label_matrix
warnings.simplefilter("ignore")
def best(f, r=3):
    cpu, wall = [], []
    for _ in range(r):
        t, w = time.process_time(), time.perf_counter(); f(); cpu.append(time.process_time() - t); wall.append(time.perf_counter() - w)
    return min(cpu) * 1e3, min(wall) * 1e3
for k in (2, 10):
    s = make_label_matrix(1_000_000, 50, k, seed=1)
    L = s.L
    L2 = L.copy(); rng = np.random.default_rng(0); flip = rng.random(L.shape[0]) < 0.05
    L2[flip, 7] = -1
    for method in ("triplet", "covariance", "dawid_skene"):
        for nt in (1, 2):
            m = lf.LabelModel(cardinality=k, method=method, n_threads=nt)
            fit = best(lambda: m.fit(L))
            acc = float((m.predict(L) == s.Y).mean())
            pp = best(lambda: m.predict_proba(L))
            def refit():
                m.refit(L2); m.refit(L)
            rf = best(refit)
            print(f"k={k} {method:12s} threads={nt} fit {fit[0]:7.1f} ms cpu ({fit[1]:7.1f} wall)  predict_proba {pp[0]:6.1f} cpu ({pp[1]:6.1f} wall)  refit(one LF, 5% rows, x2) {rf[0]/2:6.1f} cpu ({rf[1]/2:6.1f} wall)  acc {acc:.4f}", flush=True)
    mv = lf.MajorityVote(cardinality=k)
    print(f"k={k} majority     fit {best(lambda: mv.fit(L))[0]:.1f} ms cpu  predict_proba {best(lambda: mv.predict_proba(L))[0]:.1f} ms cpu", flush=True)
