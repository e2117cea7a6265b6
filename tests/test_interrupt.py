"""Ctrl-C during a long native call stops it: the core polls Python's signal handlers from the calling thread.

Each case runs in a child process given work that would take minutes, sends it a real SIGINT once the call is
under way, and requires a KeyboardInterrupt from inside the call. Without the polling the signal would only be
noticed when the call returns, minutes later; the generous bound below separates the two by orders of magnitude
on any machine (it is a hang check, not a speed measurement).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import labelfuse

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# the child imports the very labelfuse this test run imported (installed, source tree or sanitized copy)
PACKAGE_PARENT = Path(labelfuse.__file__).resolve().parents[1]
HANG_BOUND_S = 60.0

CASES = {
    # 2**33 rows of 16 LFs through the bit-plane kernel: ~10**11 votes (a broadcast view costs no memory)
    "label_stats": """
        L = np.broadcast_to(np.array([[0, 1, -1, 1] * 4], dtype=np.int8), (2**33, 16))
        call = lambda: lf.label_stats(L, 2)
    """,
    # the posterior kernel behind every predict_proba: 10**6 rows x 30,000 LFs
    "posterior": """
        from labelfuse import _core
        m = 30_000
        L = np.broadcast_to(np.zeros((1, m), dtype=np.int8), (10**6, m))
        log_cpt = np.log(np.full((m, 3, 2), 0.5))
        call = lambda: _core.posterior(L, log_cpt, np.log([0.5, 0.5]), 2)
    """,
    # Dawid-Skene EM that never meets its tolerance
    "dawid_skene": """
        from labelfuse.synthetic import make_label_matrix
        L = make_label_matrix(50_000, 20, 3, random_state=0).L
        call = lambda: lf.LabelModel(method="dawid_skene", max_iter=10**9, tol=0.0, cardinality=3).fit(L)
    """,
    # the majority vote's single pass (no EM steps to poll between): 2**31 rows of a broadcast view
    "majority_fit": """
        L = np.broadcast_to(np.array([[0, 1, -1, 1] * 4], dtype=np.int8), (2**31, 16))
        call = lambda: lf.MajorityVote(cardinality=2).fit(L)
    """,
    # the same call from a worker thread cannot be interrupted there (Python delivers signals to the main thread)
    # but must not stop the main thread from hearing Ctrl-C while it waits
    "worker_thread": """
        import threading
        L = np.broadcast_to(np.array([[0, 1, -1, 1] * 4], dtype=np.int8), (2**29, 16))
        worker = threading.Thread(target=lambda: lf.label_stats(L, 2), daemon=True)
        call = lambda: (worker.start(), worker.join())
    """,
}

CHILD = """
import sys, time
import numpy as np
import labelfuse as lf
{setup}
print("calling", lf._core.__file__, flush=True)
start = time.perf_counter()
try:
    call()
except KeyboardInterrupt:
    print(f"interrupted {{time.perf_counter() - start:.3f}}", flush=True)
    sys.exit(0)
print("completed", flush=True)
sys.exit(3)
"""


@pytest.mark.parametrize("case", sorted(CASES))
def test_ctrl_c_stops_a_long_native_call(case):
    code = CHILD.format(setup=textwrap.dedent(CASES[case]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert child.stdout.readline().startswith("calling"), child.stderr.read()
        time.sleep(0.5)  # well inside the call
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=HANG_BOUND_S)
        waited = time.perf_counter() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0 and out.startswith("interrupted"), f"rc={child.returncode}\n{out}\n{err}"
    print(f"{case}: returned {waited:.2f} s after SIGINT")
