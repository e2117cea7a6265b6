"""A worker lost after ``apply_lfs``: the label matrix is not lost with it. The blocks of L keep their lineage (the
data partitions and the LFs are part of the task graph, not scattered data), so the scheduler recomputes the
blocks the dead worker held and every later computation gives the same result as before the loss."""
import os
import signal
import sys

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.dask, pytest.mark.slow]
distributed = pytest.importorskip("dask.distributed")
dd = pytest.importorskip("dask.dataframe")
cloudpickle = pytest.importorskip("cloudpickle")

import labelfuse as lf  # noqa: E402
from labelfuse import distributed as lfd  # noqa: E402
from labelfuse.labeling.lf import labeling_function  # noqa: E402
from labelfuse.synthetic import make_label_matrix  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])
N, M, K, PARTITIONS = 20_000, 6, 2, 40
TIMEOUT = 180


def column_lf(j):
    @labeling_function(name=f"lf{j}")
    def vote(x):
        return x[j]

    return vote


def _kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_statistics_survive_a_killed_worker():
    syn = make_label_matrix(N, M, K, coverage=(0.3, 0.8), random_state=5)
    frame = pd.DataFrame({f"v{j}": syn.L[:, j].astype(np.int64) for j in range(M)})
    data = dd.from_pandas(frame, npartitions=PARTITIONS)
    with lfd.local_cluster(n_workers=2, threads_per_worker=1, memory_limit="1GiB") as cluster:
        with distributed.Client(cluster) as client:
            L = lfd.apply_lfs([column_lf(j) for j in range(M)], data, cardinality=K, client=client,
                              progress=False)
            before = lfd.label_stats(L, K, client=client)
            workers = list(client.scheduler_info()["workers"])
            held = client.has_what()
            victim = max(workers, key=lambda w: len(held.get(w, ())))  # the worker holding more blocks
            assert held.get(victim)
            try:
                client.run(_kill_self, workers=[victim])
            except Exception:  # the worker dies before it answers
                pass
            client.wait_for_workers(1, timeout=TIMEOUT)
            after = lfd.label_stats(L, K, client=client)
            assert after == before and after == lf.label_stats(syn.L, K)
            assert np.array_equal(L.compute(), syn.L)
