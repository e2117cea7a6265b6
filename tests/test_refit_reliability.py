"""Fits and refits under Ctrl-C and from several threads.

- A real SIGINT at many points of a refit (LabelModel with each method) or a fit (MajorityVote, LabelModel) leaves
  the model exactly as it was before the call (a refit) or unfitted (a fit), and a retried refit then equals a
  fresh fit: the private copy of L never keeps an edited column without its statistics.
- Refits of one model from several threads run one after the other (a per-instance lock in the estimator base),
  so the model ends as a fresh fit of the last label matrix installed, with matching statistics.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import labelfuse
from labelfuse import LabelModel, clone, label_stats
from labelfuse.synthetic import make_label_matrix

# the edited matrices (an LF silenced or flipped) make fits warn; these tests are about interruption and locking
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

PACKAGE_PARENT = Path(labelfuse.__file__).resolve().parents[1]

# The child sends itself SIGINT at evenly spread moments of a refit (measured in the same child, so the signals
# land before, inside and just after the call on any machine) and checks the model after each.
CHILD = """
import os, pickle, signal, sys, threading, time
import numpy as np
from labelfuse import LabelModel, MajorityVote, label_stats

method, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
L = rng.integers(-1, 2, (n, 12), dtype=np.int8)
L2 = L.copy(); L2[:, 3] = -1; L2[:, 7] = 0
make = (lambda: MajorityVote(cardinality=2)) if method == "majority" else (
    lambda: LabelModel(cardinality=2, method=method, max_iter=30))
reference = make().fit(L).refit(L2) if method != "majority" else make().fit(L2)

def state(model):
    return pickle.dumps({k: v for k, v in vars(model).items() if k.endswith("_") or k == "_last_L"})

start = time.perf_counter(); (make().fit(L).refit(L2) if method != "majority" else make().fit(L2))
duration = time.perf_counter() - start
interrupted = 0
for delay in np.linspace(0.0, 1.2, 13) * duration + 0.002:
    model = make().fit(L) if method != "majority" else make()
    before = state(model) if method != "majority" else None
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    returned = False
    try:
        try:
            timer.start()
            model.refit(L2) if method != "majority" else model.fit(L2)
            returned = True
            time.sleep(delay + 0.05)  # a late signal lands here, not in the checks below
        except KeyboardInterrupt:
            if returned:  # the call had finished: the retry below checks its result
                raise
            interrupted += 1
            if method == "majority":
                assert not [k for k in vars(model) if k.endswith("_")], "an interrupted fit left fitted state"
            else:
                assert state(model) == before, f"an interrupted refit changed the model (delay {delay:.3f})"
    except KeyboardInterrupt:  # after the call returned, or in the except clause itself
        pass
    timer.join()
    model.refit(L2) if method != "majority" else model.fit(L2)
    assert np.array_equal(model.cpt_ if method != "majority" else model.class_balance_,
                          reference.cpt_ if method != "majority" else reference.class_balance_), delay
    if method != "majority":
        assert np.array_equal(model.coverage_, label_stats(L2, 2).lf_coverage())
        assert np.array_equal(model._last_L, L2)
print("ok", interrupted, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("method,n", [("triplet", 200_000), ("covariance", 200_000), ("dawid_skene", 20_000),
                                      ("majority", 400_000)])
def test_ctrl_c_anywhere_in_a_refit_leaves_the_model_as_before(method, n):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), method, str(n)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stdout + done.stderr
    assert int(done.stdout.split()[1]) >= 3, "too few signals landed inside the call to test anything"


@pytest.mark.parametrize("method", ["triplet", "dawid_skene"])
def test_concurrent_refits_of_one_model_run_one_after_the_other(method):
    s = make_label_matrix(20_000, 10, 2, random_state=3)
    versions = []
    for j in range(4):  # each thread edits other LFs
        L = s.L.copy()
        L[:, 2 * j] = -1
        L[:, 2 * j + 1] = (L[:, 2 * j + 1] + 1) % 2
        versions.append(L)
    lm = LabelModel(cardinality=2, method=method, max_iter=50).fit(s.L)
    errors = []
    barrier = threading.Barrier(len(versions))

    def refit(L):
        try:
            barrier.wait()
            for _ in range(3):
                lm.refit(L)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=refit, args=(L,)) for L in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    last = next(L for L in versions if np.array_equal(L, lm._last_L))  # one of the versions, whole
    assert np.array_equal(lm.coverage_, label_stats(last, 2).lf_coverage())
    if method == "triplet":  # a triplet refit is exactly a fresh fit
        assert np.allclose(lm.cpt_, LabelModel(cardinality=2, method=method).fit(last).cpt_, atol=1e-12)
    else:  # EM warm-started from some earlier version: the same optimum to its tolerance
        assert np.allclose(lm.cpt_, LabelModel(cardinality=2, method=method, max_iter=50).fit(last).cpt_,
                           atol=1e-3)


def test_the_fit_lock_stays_out_of_pickles_copies_clones_and_files(tmp_path):
    import copy
    import pickle

    s = make_label_matrix(500, 4, 2, random_state=1)
    lm = LabelModel(cardinality=2).fit(s.L)
    assert not any("lock" in k for k in vars(lm))
    copies = [pickle.loads(pickle.dumps(lm)), copy.deepcopy(lm), clone(lm).fit(s.L),
              labelfuse.load(lm.save(tmp_path / "m.lf"))]
    for other in copies:
        assert np.allclose(other.predict_proba(s.L), lm.predict_proba(s.L))
        other.fit(s.L)  # each has its own lock: no deadlock, no shared state
