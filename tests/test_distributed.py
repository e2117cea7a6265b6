"""labelfuse.distributed on a real LocalCluster (2 spawn-started worker processes, 1 thread each, loopback).

Every distributed result is compared with the single-machine path on the same data: counts exactly, floats to
1e-12, for 1, 3 and 7 partitions.
"""
import concurrent.futures
import os
import sys

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.dask
distributed = pytest.importorskip("dask.distributed")
dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
cloudpickle = pytest.importorskip("cloudpickle")

import labelfuse as lf  # noqa: E402
from labelfuse import distributed as lfd  # noqa: E402
from labelfuse.labeling.apply import LFApplier, LFFailureWarning  # noqa: E402
from labelfuse.labeling.lf import labeling_function  # noqa: E402
from labelfuse._validation import NotFittedError  # noqa: E402
from labelfuse.models.registry import FitResult  # noqa: E402
from labelfuse.synthetic import bayes_posterior, make_label_matrix  # noqa: E402

# The workers cannot import this file: ship its functions and classes by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N, M, K = 1500, 6, 3
TIMEOUT = 120  # seconds; a hang fails the test instead of blocking the run


@pytest.fixture(scope="module")
def client():
    with lfd.local_cluster(n_workers=2, threads_per_worker=1, memory_limit="1GiB") as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def data():
    syn = make_label_matrix(N, M, K, coverage=(0.3, 0.8), class_balance=[0.5, 0.3, 0.2], random_state=3)
    frame = pd.DataFrame({f"v{j}": syn.L[:, j].astype(np.int64) for j in range(M)})
    frame["y"] = syn.Y
    frame.index = pd.RangeIndex(1000, 1000 + N)  # index labels differ from positions
    return syn, frame


def column_lf(j):
    # The LF of column j returns the synthetic vote: the applied L must equal syn.L.
    @labeling_function(name=f"lf{j}")
    def vote(x):
        return x[j]

    return vote


LFS = [column_lf(j) for j in range(M)]


def run_with_timeout(fn, *args, **kwargs):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result(timeout=TIMEOUT)


def frame_of(frame, npartitions):
    ddf = dd.from_pandas(frame, npartitions=npartitions, sort=False)
    assert ddf.npartitions == npartitions
    return ddf


def applied(client, frame, npartitions):
    return run_with_timeout(lfd.apply_lfs, LFS, frame_of(frame, npartitions), cardinality=K, progress=False,
                            client=client)


# -- applying LFs --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_apply_matches_single_machine(client, data, npartitions):
    syn, frame = data
    L = applied(client, frame, npartitions)
    assert isinstance(L, da.Array) and L.dtype == np.int8 and L.shape == (N, M)
    assert len(L.chunks[0]) == npartitions and not any(np.isnan(c) for c in L.chunks[0])
    local = LFApplier(LFS, cardinality=K, progress=False).apply(frame)
    np.testing.assert_array_equal(L.compute(), local)
    np.testing.assert_array_equal(local, syn.L)


class CountedResource:
    """A resource that records every unpickling (one line per copy made) in a file."""

    def __init__(self, path):
        self.path = path

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]
        with open(self.path, "a") as f:
            f.write(f"{os.getpid()}\n")


def test_lfs_and_resources_sent_to_each_worker_once(client, data, tmp_path):
    _, frame = data
    log = tmp_path / "unpickled.txt"
    log.touch()

    @labeling_function(resources={"res": CountedResource(str(log))})
    def with_resource(x, res):
        return x[0]

    L = run_with_timeout(lfd.apply_lfs, [with_resource], frame_of(frame, 7), cardinality=K, progress=False,
                         client=client)
    assert L.shape == (N, 1)
    pids = log.read_text().split()
    workers = set(client.run(os.getpid).values())
    scheduler = client.run_on_scheduler(os.getpid)
    # 7 partitions, 2 workers: at most one copy per worker, plus the scheduler's (the LFs are one literal of the
    # task graph, which keeps L's lineage; the scheduler unpickles the graph). Sending the LFs inside every task
    # instead gives 8 copies here (checked by hand: 7 tasks + the client-side graph).
    allowed = {str(p) for p in workers | {scheduler}}
    assert len(workers) == 2 and 1 <= len(pids) == len(set(pids)) <= 3 and set(pids) <= allowed, (pids, workers)


def test_lf_that_raises_is_reported_not_hung(client, data):
    _, frame = data

    @labeling_function()
    def breaks(x):
        if x.y == 2 and x.v0 == 1:
            raise KeyError("boom")
        return -1

    with pytest.raises(lfd.DistributedLFError, match=r"'breaks' failed on row \d+.*KeyError.*boom.*partition \d"):
        run_with_timeout(lfd.apply_lfs, [breaks], frame_of(frame, 3), cardinality=K, progress=False,
                         client=client)
    # the cluster is still usable
    assert client.submit(sum, [1, 2]).result(timeout=TIMEOUT) == 3


def test_invalid_vote_is_reported(client, data):
    _, frame = data
    bad = labeling_function(name="too_big")(lambda x: 7)
    with pytest.raises(lfd.DistributedLFError, match="too_big.*returned 7"):
        run_with_timeout(lfd.apply_lfs, [bad], frame_of(frame, 3), cardinality=K, progress=False, client=client)


@pytest.mark.parametrize("npartitions", [1, 7])
def test_fault_tolerant_failures_gathered(client, data, npartitions):
    _, frame = data

    @labeling_function()
    def flaky(x):
        if x.v1 == 2:
            raise ZeroDivisionError("flaky")
        return x.v1

    lfs = [LFS[0], flaky]
    with pytest.warns(LFFailureWarning, match="failed"):
        applier = lfd.DaskLFApplier(lfs, cardinality=K, fault_tolerant=True, progress=False, client=client)
        L = run_with_timeout(applier.apply, frame_of(frame, npartitions))
    local = LFApplier(lfs, cardinality=K, fault_tolerant=True, progress=False)
    with pytest.warns(LFFailureWarning):
        L_local = local.apply(frame)
    np.testing.assert_array_equal(L.compute(), L_local)
    expected = local.failures_.to_frame()
    got = applier.failures_
    np.testing.assert_array_equal(got["row"].to_numpy(), expected["row"].to_numpy())
    np.testing.assert_array_equal(got["index"].to_numpy(), frame.index[expected["row"].to_numpy()])
    assert (got["lf"] == "flaky").all() and (got["error"] == "ZeroDivisionError").all()
    assert applier.failure_counts_.to_dict() == {"lf0": 0, "flaky": int((frame.v1 == 2).sum())}
    assert applier.partition_sizes_.sum() == N and len(applier.partition_sizes_) == npartitions


def test_failure_rows_capped_counts_exact(client, data):
    _, frame = data
    always = labeling_function(name="always")(lambda x: 1 // 0)
    applier = lfd.DaskLFApplier([always], cardinality=K, fault_tolerant=True, progress=False, max_failure_rows=5,
                                client=client)
    with pytest.warns(LFFailureWarning):
        run_with_timeout(applier.apply, frame_of(frame, 3))
    assert len(applier.failures_) == 15 and int(applier.failure_counts_["always"]) == N


def test_apply_rejects_bad_input(client, data):
    _, frame = data
    with pytest.raises(TypeError, match="data: expected a dask DataFrame"):
        lfd.apply_lfs(LFS, frame, client=client)
    with pytest.raises(ValueError, match="names must be unique"):
        lfd.apply_lfs([LFS[0], LFS[0]], frame_of(frame, 2), client=client)


# -- statistics ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_statistics_equal_single_machine(client, data, npartitions):
    syn, frame = data
    L = applied(client, frame, npartitions)
    stats = lfd.label_stats(L, K, Y=syn.Y, overlap_matrix=True, client=client)
    assert stats == lf.label_stats(syn.L, K, Y=syn.Y, overlap_matrix=True)
    assert stats.overlap is not None and stats.confusion is not None


@pytest.mark.parametrize("npartitions", [1, 7])
def test_grouped_statistics_equal_single_machine(client, data, npartitions):
    syn, frame = data
    L = applied(client, frame, npartitions)
    groups = np.random.default_rng(0).integers(0, 4, size=N)
    groups[groups == 3] = 2  # group 3 stays empty
    stats = lfd.label_stats(L, K, groups=da.from_array(groups, chunks=400), n_groups=4, split_every=2,
                            client=client)
    expected = lf.label_stats(syn.L, K, groups=groups, n_groups=4)
    assert stats == expected and stats.grouped and stats.rows[3] == 0


def test_statistics_with_empty_partition(client, data):
    syn, frame = data
    ddf = frame_of(frame, 3)
    ddf = ddf.map_partitions(lambda p: p[p.index < 1000 + 400])  # partitions 2 and 3 become empty
    applier = lfd.DaskLFApplier(LFS, cardinality=K, progress=False, client=client)
    L = run_with_timeout(applier.apply, ddf)
    assert applier.partition_sizes_.tolist() == [400, 0, 0] and L.shape == (400, M)
    assert lfd.label_stats(L, K, client=client) == lf.label_stats(syn.L[:400], K)


def test_statistics_argument_checks(client, data):
    syn, _ = data
    L = da.from_array(syn.L, chunks=500)
    with pytest.raises(TypeError, match="L: expected a dask array"):
        lfd.label_stats(syn.L, K)
    with pytest.raises(ValueError, match="n_groups: required"):
        lfd.label_stats(L, K, groups=np.zeros(N, dtype=np.int64))
    with pytest.raises(ValueError, match="groups: expected a 1-D array of length"):
        lfd.label_stats(L, K, groups=np.zeros(3, dtype=np.int64), n_groups=1)
    with pytest.raises(ValueError, match="split_every"):
        lfd.label_stats(L, K, split_every=1)


def test_column_chunks_are_merged(client, data):
    syn, _ = data
    L = da.from_array(syn.L, chunks=(500, 2))
    assert lfd.label_stats(L, K, client=client) == lf.label_stats(syn.L, K)


# -- posteriors ----------------------------------------------------------------------------------------------------------
def true_fit(syn):
    return FitResult(cpt=syn.cpt, class_balance=syn.class_balance)


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_posteriors_equal_single_machine(client, data, npartitions):
    syn, frame = data
    L = applied(client, frame, npartitions)
    fit = true_fit(syn)
    P = lfd.predict_proba(L, fit)
    assert isinstance(P, da.Array) and P.chunks[0] == L.chunks[0]
    got = client.compute(P).result(timeout=TIMEOUT)
    expected = lf._core.posterior(syn.L, *fit.log_tables(), K)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got, bayes_posterior(syn.L, syn.cpt, syn.class_balance), rtol=0, atol=1e-9)


@pytest.mark.parametrize("npartitions", [1, 7])
def test_grouped_posteriors_equal_single_machine(client, data, npartitions):
    syn, frame = data
    L = applied(client, frame, npartitions)
    other = make_label_matrix(10, M, K, class_balance=[0.2, 0.2, 0.6], random_state=9)
    fits = [true_fit(syn), FitResult(cpt=other.cpt, class_balance=other.class_balance)]
    groups = (np.arange(N) % 2).astype(np.int64)
    got = client.compute(lfd.predict_proba(L, fits, groups=groups)).result(timeout=TIMEOUT)
    log_cpt = np.stack([f.log_tables()[0] for f in fits])
    log_prior = np.stack([f.log_tables()[1] for f in fits])
    expected = lf._core.posterior(syn.L, log_cpt, log_prior, K, n_groups=2, groups=groups)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="groups: required"):
        lfd.predict_proba(L, fits)


# -- partitions ----------------------------------------------------------------------------------------------------------
class NearestCentre:
    """A minimal partitioner (fit/predict) standing in for KMeansPartition: centres = first rows of the sample."""

    def __init__(self, n_parts):
        self.n_parts = n_parts

    def fit(self, X):
        self.centers_ = np.asarray(X[: self.n_parts], dtype=np.float64)
        return self

    def predict(self, X):
        return (np.asarray(X) @ self.centers_.T).argmax(axis=1)


def test_partitions_fitted_on_sample_and_assigned_on_workers(client):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(900, 4))
    Xd = da.from_array(X, chunks=200)
    part = lfd.fit_partitions(Xd, NearestCentre(3), sample_size=50, random_state=4, client=client)
    take = np.sort(np.random.default_rng(4).choice(900, size=50, replace=False))
    np.testing.assert_array_equal(part.centers_, X[take][:3])
    ids = lfd.assign_partitions(Xd, part)
    np.testing.assert_array_equal(client.compute(ids).result(timeout=TIMEOUT), part.predict(X))


def test_fit_partitions_seed_is_a_deprecated_alias(client):
    X = np.random.default_rng(1).normal(size=(300, 4))
    Xd = da.from_array(X, chunks=100)
    with pytest.warns(FutureWarning, match="'seed' is deprecated"):
        old = lfd.fit_partitions(Xd, NearestCentre(3), sample_size=50, seed=4, client=client)
    new = lfd.fit_partitions(Xd, NearestCentre(3), sample_size=50, random_state=4, client=client)
    np.testing.assert_array_equal(old.centers_, new.centers_)
    with pytest.raises(ValueError, match="random_state"):
        lfd.fit_partitions(Xd, NearestCentre(3), random_state=-1, client=client)
    with pytest.raises(TypeError, match="sample_size: expected an int"):
        lfd.fit_partitions(Xd, NearestCentre(3), sample_size=True, client=client)


# -- label model ---------------------------------------------------------------------------------------------------------
def local_fit(method, stats, balance=None):
    if method == "triplet":
        fit_fn = pytest.importorskip("labelfuse.models.triplet").fit_triplet
    else:
        fit_fn = pytest.importorskip("labelfuse.models.covariance").fit_covariance
    return None if stats is None else fit_fn(stats, balance)


@pytest.mark.parametrize("method", ["triplet", "covariance"])
@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_label_model_equals_single_machine(client, data, method, npartitions):
    syn, frame = data
    expected = local_fit(method, lf.label_stats(syn.L, K, overlap_matrix=method == "covariance"))
    L = applied(client, frame, npartitions)
    model = lfd.DaskLabelModel(K, method=method).fit(L, client=client)
    np.testing.assert_allclose(model.cpt_, expected.cpt, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.class_balance_, expected.class_balance, rtol=0, atol=1e-12)
    got = client.compute(model.predict_proba(L)).result(timeout=TIMEOUT)
    np.testing.assert_allclose(got, lf._core.posterior(syn.L, *expected.log_tables(), K), rtol=0, atol=1e-12)


def test_grouped_label_model_fits_each_group(client, data):
    syn, frame = data
    local_fit("triplet", None)  # skip when the triplet fit is not in this build
    L = applied(client, frame, 3)
    groups = (np.arange(N) % 2).astype(np.int64)
    model = lfd.DaskLabelModel(K, method="triplet").fit(L, groups=groups, n_groups=2, client=client)
    stats = lf.label_stats(syn.L, K, groups=groups, n_groups=2)
    for g in range(2):
        expected = local_fit("triplet", stats.group(g))
        np.testing.assert_allclose(model.cpt_[g], expected.cpt, rtol=0, atol=1e-12)
    assert model.cpt_.shape == (2, M, K + 1, K)
    with pytest.raises(ValueError, match="groups: pass groups exactly"):
        model.predict_proba(L)


def test_label_model_params_and_errors(data):
    model = lfd.DaskLabelModel(K)
    assert model.get_params()["method"] == "triplet"
    assert model.set_params(method="covariance") is model and model.method == "covariance"
    with pytest.raises(ValueError, match="not a parameter"):
        model.set_params(bogus=1)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict_proba(da.zeros((3, M), dtype=np.int8, chunks=3))
    with pytest.raises(ValueError, match="method: expected one of"):
        lfd.DaskLabelModel(K, method="nope").fit(da.zeros((3, M), dtype=np.int8, chunks=3))
    L = da.zeros((3, M), dtype=np.int8, chunks=3)
    with pytest.raises(TypeError, match="cardinality: expected an int"):
        lfd.DaskLabelModel(2.0).fit(L)
    with pytest.raises(ValueError, match="split_every"):
        lfd.DaskLabelModel(K, split_every=1).fit(L)
    with pytest.raises(TypeError, match="method_options"):
        lfd.DaskLabelModel(K, method_options=[1]).fit(L)
    from labelfuse._base import Estimator

    assert isinstance(model, Estimator)


def test_label_model_saves_and_loads(client, data, tmp_path):
    syn, frame = data
    local_fit("triplet", None)  # skip when the triplet fit is not in this build
    L = applied(client, frame, 3)
    groups = (np.arange(N) % 2).astype(np.int64)
    for kwargs in ({}, {"groups": groups, "n_groups": 2}):
        model = lfd.DaskLabelModel(K, method="triplet").fit(L, client=client, **kwargs)
        path = model.save(tmp_path / "model.safetensors")
        back = lfd.DaskLabelModel.load(path)
        assert back.get_params() == model.get_params() and back.n_groups_ == model.n_groups_
        np.testing.assert_array_equal(back.cpt_, model.cpt_)
        np.testing.assert_array_equal(back.class_balance_, model.class_balance_)
        got = client.compute(back.predict_proba(L, groups=kwargs.get("groups"))).result(timeout=TIMEOUT)
        want = client.compute(model.predict_proba(L, groups=kwargs.get("groups"))).result(timeout=TIMEOUT)
        np.testing.assert_array_equal(got, want)


# -- Dawid-Skene (distributed EM) ----------------------------------------------------------------------------------------
def local_em(L, k, groups=None, n_groups=1, max_iter=100, tol=1e-8, smoothing=0.01):
    """The same EM on the whole matrix in one process, written out with plain numpy loops (the reference)."""
    from labelfuse.distributed.em import em_block, m_step

    stats = em_block(L, groups, n_groups, k, None)
    cpt, prior = m_step(stats, smoothing, None, majority=True)
    previous = None
    for it in range(1, max_iter + 1):
        stats = em_block(L, groups, n_groups, k, (np.log(np.maximum(cpt, 1e-300)), np.log(prior)))
        ll = stats.loglik / stats.rows
        cpt, prior = m_step(stats, smoothing, None, majority=False)
        if it > 1 and abs(ll[0] - previous) < tol:
            break
        previous = ll[0]
    return cpt, prior, it


def test_em_block_counts_match_loops():
    from labelfuse.distributed.em import em_block

    syn = make_label_matrix(40, 4, 3, random_state=2)
    fit = true_fit(syn)
    log_cpt, log_prior = (np.log(syn.cpt)[None], np.log(syn.class_balance)[None])
    out = em_block(syn.L, None, 1, 3, (log_cpt, log_prior))
    P = bayes_posterior(syn.L, syn.cpt, syn.class_balance)
    counts = np.zeros((4, 3, 3))
    for i in range(40):
        for j in range(4):
            if syn.L[i, j] >= 0:
                counts[j, syn.L[i, j]] += P[i]
    np.testing.assert_allclose(out.counts[0], counts, atol=1e-12)
    np.testing.assert_allclose(out.mass[0], P.sum(axis=0), atol=1e-12)
    ll = sum(np.log(sum(syn.class_balance[y] * np.prod([syn.cpt[j, syn.L[i, j] + 1, y] for j in range(4)])
                        for y in range(3))) for i in range(40))
    assert out.loglik[0] == pytest.approx(ll, abs=1e-10)
    assert fit.cpt.shape == (4, 4, 3)


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_dawid_skene_equals_single_process_em(client, data, npartitions):
    syn, frame = data
    L = applied(client, frame, npartitions)
    # tol 1e-6 keeps the test short (about 25 passes); the reference runs the same iterations
    model = lfd.DaskLabelModel(K, method="dawid_skene", method_options={"tol": 1e-6}).fit(L, client=client)
    cpt, prior, n_iter = local_em(syn.L, K, tol=1e-6)
    np.testing.assert_allclose(model.cpt_, cpt[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.class_balance_, prior[0], rtol=0, atol=1e-12)
    assert model.fits_[0].info["n_iter"] == n_iter and model.fits_[0].info["converged"]
    # recovery: the generative model's accuracies, to sampling error at n = 1500
    acc = (model.cpt_[:, 1:, :] * model.class_balance_).trace(axis1=1, axis2=2) / (
        (1 - model.cpt_[:, 0, :]) * model.class_balance_).sum(axis=1)
    np.testing.assert_allclose(acc, syn.accuracy, atol=0.08)
    got = client.compute(model.predict_proba(L)).result(timeout=TIMEOUT)
    np.testing.assert_allclose(got, lf._core.posterior(syn.L, *model.fits_[0].log_tables(), K), rtol=0, atol=1e-12)


def test_dawid_skene_matches_native_fit(client, data):
    native = pytest.importorskip("labelfuse.models.dawid_skene")
    syn, frame = data
    L = applied(client, frame, 3)
    model = lfd.DaskLabelModel(K, method="dawid_skene").fit(L, client=client)
    expected = native.fit_dawid_skene(syn.L, K, accelerate=False)
    np.testing.assert_allclose(model.cpt_, expected.cpt, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.class_balance_, expected.class_balance, rtol=0, atol=1e-9)


def test_grouped_dawid_skene_runs_each_group_alone(client, data):
    syn, frame = data
    L = applied(client, frame, 3)
    groups = (np.arange(N) % 2).astype(np.int64)
    model = lfd.DaskLabelModel(K, method="dawid_skene", method_options={"tol": 1e-5}).fit(
        L, groups=groups, n_groups=2, client=client)
    iterations = set()
    for g in range(2):
        cpt, prior, n_iter = local_em(syn.L[groups == g], K, tol=1e-5)
        iterations.add(n_iter)
        np.testing.assert_allclose(model.cpt_[g], cpt[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.class_balance_[g], prior[0], rtol=0, atol=1e-12)
        assert model.fits_[g].info["n_iter"] == n_iter
    assert len(iterations) == 2  # the groups stop at different iterations: the frozen one must not move


# -- more edge cases -----------------------------------------------------------------------------------------------------
def test_blocks_cast_to_widest_dtype_without_cardinality(client, data):
    _, frame = data
    wide = labeling_function(name="wide")(lambda x: 200 if x.v0 == 1 and x.y == 1 else x.v0)
    ddf = frame_of(frame, 7)
    L = run_with_timeout(lfd.apply_lfs, [wide], ddf, progress=False, client=client)
    local = LFApplier([wide], progress=False).apply(frame)
    assert L.dtype == np.int16 == local.dtype
    np.testing.assert_array_equal(L.compute(), local)


def test_liger_partitions_end_to_end(client, data):
    syn, frame = data
    rng = np.random.default_rng(5)
    X = rng.normal(size=(N, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    try:
        from labelfuse.embeddings import KMeansPartition

        partitioner = KMeansPartition(3)
    except ImportError:  # the embeddings extra (faiss) is not installed: a stand-in with fit/predict
        partitioner = NearestCentre(3)
    L = applied(client, frame, 3)
    Xd = da.from_array(X, chunks=250)  # not aligned with L's blocks: groups are rechunked to L's rows
    fitted = lfd.fit_partitions(Xd, partitioner, sample_size=600, client=client)
    ids = lfd.assign_partitions(Xd, fitted)
    ids_local = fitted.predict(X)
    stats = lfd.label_stats(L, K, groups=ids, n_groups=3, client=client)
    assert stats == lf.label_stats(syn.L, K, groups=ids_local, n_groups=3)
    fits = [true_fit(syn)] * 3
    got = client.compute(lfd.predict_proba(L, fits, groups=ids)).result(timeout=TIMEOUT)
    np.testing.assert_allclose(got, lf._core.posterior(syn.L, *true_fit(syn).log_tables(), K), rtol=0, atol=1e-12)


def test_local_cluster_refuses_fork():
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        with pytest.raises(ValueError, match="not fork-safe"):
            lfd.local_cluster()


def test_client_required_for_apply(data):
    _, frame = data
    # a fresh thread has no current client only if none exists; the module fixture may be running, so pass a
    # wrong type instead of relying on global state
    with pytest.raises(TypeError, match="client: expected a dask.distributed.Client"):
        lfd.apply_lfs(LFS, frame_of(frame, 2), client="tcp://nowhere")


def test_worker_that_dies_is_reported_not_hung(data):
    import dask

    _, frame = data
    dies = labeling_function(name="dies")(lambda x: os._exit(3))
    # a cluster of its own: the crash must not disturb the shared one; no retries on other workers
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with lfd.local_cluster(n_workers=1, memory_limit="1GiB") as cluster, distributed.Client(cluster) as c:
            with pytest.raises(distributed.KilledWorker):
                run_with_timeout(lfd.apply_lfs, [dies], frame_of(frame, 2), cardinality=K, progress=False, client=c)


@pytest.mark.parametrize("method", ["triplet", "dawid_skene"])
def test_to_label_model_saves_and_predicts(client, data, method, tmp_path):
    pytest.importorskip("labelfuse.models.label_model")
    syn, frame = data
    L = applied(client, frame, 3)
    model = lfd.DaskLabelModel(K, method=method, method_options={"tol": 1e-4} if method == "dawid_skene" else None)
    model.fit(L, client=client)
    local = model.to_label_model()
    np.testing.assert_allclose(local.coverage_, lf.label_stats(syn.L, K).lf_coverage(), rtol=0, atol=1e-15)
    path = tmp_path / "model.lfm"
    local.save(path)
    loaded = lf.models.load(path)
    P = client.compute(model.predict_proba(L)).result(timeout=TIMEOUT)
    np.testing.assert_allclose(loaded.predict_proba(syn.L), P, rtol=0, atol=1e-12)


# -- extension (Epoxy rule) at scale -------------------------------------------------------------------------------------
@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_extension_equals_single_machine(client, data, npartitions):
    pytest.importorskip("faiss")
    from labelfuse.embeddings import NeighborGraph
    from labelfuse.embeddings.extend import extend_votes as extend_local

    syn, frame = data
    rng = np.random.default_rng(7)
    # embeddings that carry the class: extension has something to find
    centres = rng.normal(size=(K, 8))
    X = (centres[syn.Y] + 0.8 * rng.normal(size=(N, 8))).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    train = make_label_matrix(400, M, K, coverage=(0.3, 0.8), class_balance=[0.5, 0.3, 0.2], random_state=11)
    X_train = (centres[train.Y] + 0.8 * rng.normal(size=(400, 8))).astype(np.float32)
    graph = NeighborGraph(16).fit(X_train)
    thresholds = np.linspace(0.6, 0.9, M)
    L = applied(client, frame, npartitions)
    out = lfd.extend_votes(L, da.from_array(X, chunks=500), train.L, graph, thresholds, cardinality=K,
                           client=client)
    assert isinstance(out, da.Array) and out.dtype == L.dtype and out.chunks[0] == L.chunks[0]
    got = client.compute(out).result(timeout=TIMEOUT)
    expected = extend_local(train.L, graph, thresholds, L_query=syn.L, X_query=X, cardinality=K)
    np.testing.assert_array_equal(got, expected)
    assert (expected != syn.L).sum() > 0  # the extension did something
    with pytest.raises(ValueError, match="L_train: expected shape"):
        lfd.extend_votes(L, da.from_array(X, chunks=500), train.L[:10], graph, 0.5, cardinality=K, client=client)


def test_the_modules_import_each_other_without_a_circle():
    """Module-level imports inside labelfuse.distributed form a DAG (em.py in particular imports only helpers)."""
    import ast
    from pathlib import Path

    folder = Path(lfd.__file__).parent
    graph = {}
    for path in folder.glob("*.py"):
        if path.stem == "__init__":
            continue
        deps = set()
        for node in ast.parse(path.read_text()).body:  # module level only: imports inside functions are lazy
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
        graph[path.stem] = deps & {p.stem for p in folder.glob("*.py")}
    done, stack = set(), []

    def visit(name):
        assert name not in stack, f"import circle: {' -> '.join(stack + [name])}"
        if name in done:
            return
        stack.append(name)
        for dep in graph.get(name, ()):
            visit(dep)
        stack.pop()
        done.add(name)

    for name in graph:
        visit(name)
    assert "models" not in graph["em"] and graph["em"] <= {"_dask", "stats"}
