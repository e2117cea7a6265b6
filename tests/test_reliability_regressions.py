"""One test per defect the fuzzer (tests/test_fuzz_stats.py) and the sanitizer run found, so that each stays
fixed even if the random search stops drawing its input. The fixes are in /work/wt/reliability-fixes.diff."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _core
from labelfuse._validation import as_label_matrix

L4 = np.zeros((4, 4), np.int8)


def test_absurd_cardinality_is_refused_not_a_segfault():
    # G*m*k wrapped around int64 to a tiny buffer and the row loop wrote far past it (SIGSEGV). Run in a child
    # so that, unfixed, this reports a failure instead of killing the test session.
    code = textwrap.dedent("""
        import numpy as np, labelfuse as lf
        try:
            lf.label_stats(np.zeros((4, 4), np.int8), 2**62)
        except ValueError as exc:
            print("ValueError", exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("ValueError cardinality:"), proc.stdout


@pytest.mark.parametrize("overlap_matrix", [False, True])
def test_core_refuses_sizes_that_overflow(overlap_matrix):
    # the private binding too, not only the Python facade in front of it
    with pytest.raises(ValueError, match="^cardinality:"):
        _core.label_stats(L4, 2**62, overlap_matrix=overlap_matrix)
    # one group fits in int64, 2**20 of them do not
    order, offsets = np.arange(4, dtype=np.int64), np.zeros(2**20 + 1, dtype=np.int64)
    offsets[-1] = 4
    with pytest.raises(ValueError, match="^offsets:"):
        _core.label_stats(L4, 2**40 if not overlap_matrix else 2**20, order=order, offsets=offsets,
                          overlap_matrix=overlap_matrix)


@pytest.mark.parametrize("cardinality", [2**40, 2**63 - 1, 2**70])
def test_huge_cardinality_is_a_value_error_naming_it(cardinality):
    with pytest.raises(ValueError, match="^cardinality:"):  # was MemoryError / pybind's "incompatible arguments"
        lf.label_stats(L4, cardinality)


def test_cardinality_inferred_from_a_stray_huge_label_is_refused():
    L = np.zeros((3, 2), np.int64)
    L[1, 1] = 2**40  # e.g. an LF returning an id instead of a class
    with pytest.raises(ValueError, match=r"^cardinality: .*inferred"):
        lf.label_stats(L)


def test_huge_n_groups_is_refused():
    with pytest.raises(ValueError, match="^n_groups:"):
        lf.label_stats(L4, 2, groups=np.zeros(4, int), n_groups=2**40)
    with pytest.raises(ValueError, match="^n_groups:"):
        lf.GroupIndex.from_groups(np.zeros(4, int), n_groups=2**40)


def test_more_threads_than_int64_means_all():
    s = lf.label_stats(L4, 2, n_threads=2**70)  # was RuntimeError: unable to cast
    assert s == lf.label_stats(L4, 2)
    P = _core.posterior(np.zeros((3, 1), np.int8), np.zeros(6), np.log([0.5, 0.5]), 2, n_threads=2**70)
    np.testing.assert_allclose(P, 0.5)


def test_raw_kernel_takes_numpy_integer_thread_counts():
    P = _core.posterior(np.zeros((3, 1), np.int8), np.zeros(6), np.log([0.5, 0.5]), 2, n_threads=np.int64(2))
    np.testing.assert_allclose(P, 0.5)  # was TypeError: n_threads: expected an int
    with pytest.raises(TypeError, match="^n_threads:"):
        _core.posterior(np.zeros((3, 1), np.int8), np.zeros(6), np.log([0.5, 0.5]), 2, n_threads=np.bool_(True))


def test_group_index_from_a_scalar_names_groups():
    with pytest.raises(ValueError, match="^groups:"):  # was IndexError
        lf.GroupIndex.from_groups(5)


def test_empty_gold_list_for_an_empty_shard():
    s = lf.label_stats(np.zeros((0, 3), np.int8), 2, Y=[])  # [] is a float64 array to numpy
    assert s.n_rows == 0 and s.gold_counts.sum() == 0


def test_empty_group_list_for_an_empty_shard():
    s = lf.label_stats(np.zeros((0, 3), np.int8), 2, groups=[], n_groups=4)
    assert s.n_groups == 4 and s.n_rows == 0
    assert lf.GroupIndex.from_groups([]).n_groups == 1


def test_est_weights_that_are_not_numbers_name_the_argument():
    with pytest.raises(TypeError, match="^est_weights:"):  # was numpy's "could not convert string to float"
        lf.LFAnalysis(L4).lf_summary(est_weights=["a"] * 4)


def test_update_column_blames_old_column_for_its_own_bad_votes():
    s = lf.label_stats(L4, 2)
    with pytest.raises(ValueError, match=r"^old_column: entry 2 is 7"):  # was "L: entry (row 2, ...) is 7"
        s.update_column(L4, 1, np.array([0, 0, 7, 0]))


def test_update_column_checks_n_threads_even_when_nothing_changed():
    s = lf.label_stats(L4, 2)
    with pytest.raises(ValueError, match="^n_threads:"):  # was silently accepted (early return)
        s.update_column(L4, 1, L4[:, 1], n_threads=0)


def test_posterior_rejects_byte_swapped_votes():
    L = np.array([[0, 1], [1, -1]], dtype=">i4")  # read as native these are 0, 16777216, ... (wrong numbers)
    with pytest.raises(ValueError, match="^L: non-native byte order"):
        _core.posterior(L, np.zeros(2 * 3 * 2), np.zeros(2), 2)


@pytest.mark.parametrize("cardinality", [2**32, 2**62])
def test_posterior_sizes_do_not_overflow(cardinality):
    with pytest.raises(ValueError, match="^cardinality:"):  # G*m*(k+1)*k overflowed int64 (UBSan)
        _core.posterior(L4, np.zeros(12), np.zeros(2), cardinality)


def test_unaligned_label_matrix_is_copied_before_the_core_reads_it():
    buf = np.zeros(4 * 6 + 1, np.uint8)
    L = np.ndarray((2, 3), dtype=np.int32, buffer=buf, offset=1)  # misaligned int32 loads are UB in C++
    L[...] = [[0, 1, -1], [1, 1, 0]]
    assert not L.flags.aligned
    checked = as_label_matrix(L)
    assert checked.flags.aligned
    np.testing.assert_array_equal(checked, L)
    with pytest.raises(ValueError, match="^L: not aligned"):
        _core.label_stats(L, 2)


# ---- found by tests/test_fuzz_label_models.py --------------------------------------------------------------------
@pytest.mark.parametrize("model", ["majority", "dawid_skene"])
@pytest.mark.parametrize("cardinality", [2**40, 2**70])
def test_label_model_refuses_an_absurd_cardinality_naming_it(model, cardinality):
    # was MemoryError (std::bad_alloc / numpy's 8 TiB array), OverflowError from np.bincount with Y_dev, or
    # pybind's "incompatible function arguments" beyond int64
    est = lf.MajorityVote(cardinality) if model == "majority" else lf.LabelModel(cardinality, method=model)
    with pytest.raises(ValueError, match="^cardinality:"):
        est.fit(L4)
    with pytest.raises(ValueError, match="^cardinality:"):
        est.fit(L4, Y_dev=[0, 1])


@pytest.mark.parametrize("model", ["majority", "dawid_skene"])
def test_label_model_refuses_a_cardinality_inferred_from_a_stray_huge_vote(model):
    L = np.array([[0, 1], [1, 2**40]])  # an LF returning an id instead of a class
    est = lf.MajorityVote() if model == "majority" else lf.LabelModel(method=model)
    with pytest.raises(ValueError, match=r"^cardinality: .*inferred"):  # was MemoryError / "L: too many LFs"
        est.fit(L)


@pytest.mark.parametrize("model", ["majority", "triplet", "covariance", "dawid_skene"])
def test_class_balance_that_is_not_numbers_names_the_argument(model):
    est = lf.MajorityVote() if model == "majority" else lf.LabelModel(method=model)
    with pytest.raises(TypeError, match="^class_balance:"):  # was numpy's "could not convert string to float"
        est.fit(L4, class_balance=["a", "b"])


@pytest.mark.parametrize("method", ["triplet", "covariance", "dawid_skene"])
def test_label_model_refuses_a_zero_class_probability_whatever_the_method(method):
    # the moment fits refused it and Dawid-Skene silently fitted a class it could never predict
    with pytest.raises(ValueError, match="^class_balance: class 1 has probability 0"):
        lf.LabelModel(method=method).fit(L4, class_balance=[1.0, 0.0])
    with pytest.raises(ValueError, match="^class_balance: class 0 has probability 0"):
        lf.LabelModel(method=method, class_balance=[0.0, 1.0]).fit(L4)
    # majority vote only uses it for rows without votes and ties: a zero is a valid prior there
    assert lf.MajorityVote().fit(L4, class_balance=[1.0, 0.0]).predict(-np.ones((1, 4), int), "prior")[0] == 0


@pytest.mark.parametrize("method", ["triplet", "covariance", "dawid_skene"])
@pytest.mark.parametrize("options", [{"bogus": 1}, {"max_iter": 5}, {"init": None}, {1: 2}, 3, ["dedupe"]])
def test_method_options_are_checked_naming_the_argument(method, options):
    # were TypeErrors from the fit function ("unexpected keyword argument", "got multiple values for keyword
    # argument 'max_iter'", "'int' object is not iterable") or dict()'s "dictionary update sequence element"
    with pytest.raises((ValueError, TypeError), match="^method_options:"):
        lf.LabelModel(method=method, method_options=options).fit(L4)


@pytest.mark.parametrize("method, options", [("triplet", {"min_overlap": 0, "dedupe": False}),
                                             ("covariance", {"tol": 1e-3, "ridge": 0.1}),
                                             ("dawid_skene", {"accelerate": False})])
def test_method_options_of_each_method_pass_the_check(method, options):
    lf.LabelModel(method=method, method_options=options).fit(L4)  # covariance's own tol is not the EM's


@pytest.mark.parametrize("model", ["majority", "dawid_skene"])
@pytest.mark.parametrize("seed", ["x", -1, 1.5])
def test_bad_random_state_is_refused_at_fit_naming_it(model, seed):
    est = (lf.MajorityVote(tie_policy="random", random_state=seed) if model == "majority"
           else lf.LabelModel(method=model, tie_policy="random", random_state=seed))
    # was accepted by fit, then numpy's "SeedSequence expects int or sequence of ints" from predict on a tie
    with pytest.raises((ValueError, TypeError), match="^random_state:"):
        est.fit(L4)
    est.random_state = 0
    est.fit(L4).set_params(random_state=seed)
    with pytest.raises((ValueError, TypeError), match="^random_state:"):
        est.predict(L4)


@pytest.mark.parametrize("metrics", [None, 3, [["accuracy"]], [1]])
def test_score_names_metrics_that_are_not_names(metrics):
    mv = lf.MajorityVote().fit(L4)
    # None / 3 were "object is not iterable", [["accuracy"]] "unhashable type: 'list'"
    with pytest.raises((ValueError, TypeError), match="^metrics:"):
        mv.score(L4, np.zeros(4, int), metrics=metrics)


def test_score_on_no_rows_blames_L():
    mv = lf.MajorityVote().fit(L4)
    with pytest.raises(ValueError, match="^L: has no rows"):  # was "y_true: is empty" (no such argument)
        mv.score(L4[:0], [])


def test_refit_with_an_empty_list_of_changed_columns():
    lm = lf.LabelModel().fit(L4)
    assert lm.refit(L4, columns=[]) is lm  # was "columns: expected LF indices in 0..3, got []"


def test_covariance_keeps_a_given_class_balance_as_given():
    # the better-than-random relabelling permuted the given balance too: fit(class_balance=[.39, .59, .02]) came
    # back with class_balance_ [.39, .02, .59] (and Y_dev's [5/9, 4/9] as [4/9, 5/9])
    balance = np.array([0.39421942, 0.58782436, 0.01795622]) / 1.00000000
    lm = lf.LabelModel(method="covariance").fit(np.array([[2]]), class_balance=balance / balance.sum())
    np.testing.assert_allclose(lm.class_balance_, balance / balance.sum(), rtol=1e-12)
    lm = lf.LabelModel(method="covariance").fit(np.array([[-1, -1], [1, 0]]), Y_dev=[1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(lm.class_balance_, [5 / 9, 4 / 9], rtol=1e-12)
    # a relabelling that maps the balance onto itself is still applied (uniform: the label swap)
    lm = lf.LabelModel(method="covariance").fit(np.array([[-1, -1], [1, 0]]), class_balance="uniform")
    np.testing.assert_allclose(lm.class_balance_, 0.5)


# ---- found by tests/test_fuzz_hierarchy.py -----------------------------------------------------------------------
@pytest.mark.parametrize("cardinality", [2**40, 2**70])
def test_task_graph_refuses_an_absurd_cardinality_before_enumerating_it(cardinality):
    from labelfuse.hierarchy import MAX_TASK_LABELS

    # validate() walked range(2**40) labels, appending a path per label until the memory ran out; run in a child
    # with a memory cap so that, unfixed, this fails instead of taking the machine down
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        import labelfuse as lf
        try:
            lf.TaskGraph({{"root": {{"cardinality": {cardinality}}}}}).validate()
        except ValueError as exc:
            print("ValueError", exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("ValueError tasks['root'] cardinality:"), (
        proc.returncode, proc.stdout, proc.stderr[-500:])
    lf.TaskGraph({"root": {"cardinality": MAX_TASK_LABELS}}).validate()  # the largest allowed still builds


@pytest.mark.parametrize("name", ["", "a.b", 3, None])
def test_task_description_with_a_bad_task_name_blames_tasks(name):
    with pytest.raises(ValueError, match="^tasks: task names"):  # was "name: ..." (TaskGraph has no such argument)
        lf.TaskGraph({name: {"cardinality": 2}})


@pytest.mark.parametrize("labels", [5, 2.5])
def test_task_labels_that_are_not_a_list_name_the_task(labels):
    with pytest.raises(TypeError, match=r"^tasks\['t'\] labels:"):  # was "'int' object is not iterable"
        lf.TaskGraph({"t": {"cardinality": 2, "labels": labels}})
    with pytest.raises(TypeError, match=r"^tasks\['t'\] labels:"):
        lf.TaskGraph().add_task("t", 2, labels=labels)


@pytest.mark.parametrize("key", ["Parent", "label", "cardinalty"])
def test_task_description_with_an_unknown_key_is_refused(key):
    # a misspelt key was ignored: {"Parent": ...} silently made a second root, {"label": [...]} dropped the names
    with pytest.raises(ValueError, match=r"^tasks\['b'\]: unknown keys"):
        lf.TaskGraph({"a": {"cardinality": 2}, "b": {"cardinality": 2, "parent": ("a", 0), key: ["x", "y"]}})


def test_task_graph_queries_check_their_arguments():
    g = lf.TaskGraph({"root": {"cardinality": 2}, "child": {"cardinality": 2, "parent": ("root", 0)}})
    with pytest.raises(ValueError, match="^end_label:"):  # -1 read the last end label; 3 was an IndexError
        g.task_labels_of(-1)
    for bad in (3, 1.5, True):
        with pytest.raises(ValueError, match="^end_label:"):
            g.task_labels_of(bad)
    with pytest.raises(ValueError, match="^label:"):  # label 2 of a 2-label task was named "2"
        g.label_name("root", 2)
    with pytest.raises(ValueError, match="^task:"):  # was KeyError
        g.label_name("nope", 0)
    with pytest.raises(TypeError, match="^task:"):  # was "unhashable type: 'list'"
        g.cardinality(["root"])
    with pytest.raises(TypeError, match="^task_labels:"):  # was AttributeError: 'list' object has no attribute 'get'
        g.end_label_of([("root", 1)])
    with pytest.raises(TypeError, match="^P_end:"):  # was numpy's "could not convert string to float"
        g.task_marginals(np.full((2, 3), "x"))
    assert g.label_name("root", np.int64(1)) == "1" and g.task_labels_of(np.int64(2)) == {"root": 1, "child": -1}


@pytest.mark.parametrize("name, value", [("max_iter", True), ("max_iter", "5"), ("tol", np.nan), ("tol", "x"),
                                         ("smoothing", np.nan), ("smoothing", -0.5), ("smoothing", np.inf),
                                         ("init_accuracy", "x"), ("init_accuracy", None), ("prior_strength", np.nan),
                                         ("prior_strength", np.inf), ("prior_strength", "x"), ("n_threads", 0)])
def test_hierarchical_label_model_checks_its_hyperparameters(name, value):
    # NaN / negative / infinite smoothing and prior_strength gave NaN tables and probabilities, strings raised
    # "could not convert string to float" or "'<' not supported", max_iter=True ran one iteration
    g = lf.TaskGraph({"root": {"cardinality": 2}})
    with pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        lf.HierarchicalLabelModel(g, **{name: value}).fit({"root": np.array([[0, 1], [1, 1]])})


@pytest.mark.parametrize("value", ["x", None, np.nan, 1.0])
def test_soft_mv_checks_its_accuracy(value):
    g = lf.TaskGraph({"root": {"cardinality": 2}})
    with pytest.raises((ValueError, TypeError), match="^accuracy:"):  # "x": "could not convert string to float"
        lf.SoftMV(g, accuracy=value).predict_proba({"root": np.array([[0, 1]])})


def test_hierarchical_model_without_smoothing_has_no_nan():
    # smoothing=0 left the root's not-applicable column (no mass ever) at 0/0: NaN tables, a RuntimeWarning, and
    # NaN accuracies for tasks the fitted balance gives no mass
    g = lf.TaskGraph({"root": {"cardinality": 2}, "child": {"cardinality": 2, "parent": ("root", 0)}})
    L = {"root": np.array([[1], [1], [1]]), "child": np.array([[0], [-1], [1]])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = lf.HierarchicalLabelModel(g, smoothing=0.0).fit(L)
    for T in model.tables_:
        assert np.all(np.isfinite(T))
        np.testing.assert_allclose(T.sum(axis=0), 1.0)
    np.testing.assert_allclose(model.tables_[0][:, 2], 1 / 3)  # root's not-applicable state: uniform
    assert np.all(np.isfinite(model.accuracy_)) and np.all(np.isfinite(model.precision_))
    assert np.all(np.isfinite(model.predict_proba(L)))


def test_unfitted_hierarchical_model_raises_not_fitted_error():
    from labelfuse.models import NotFittedError

    g = lf.TaskGraph({"root": {"cardinality": 2}})
    with pytest.raises(NotFittedError, match="not fitted"):  # was a plain ValueError, unlike every other model
        lf.HierarchicalLabelModel(g).predict_tasks({"root": np.array([[0]])})


@pytest.mark.parametrize("model", ["soft", "hard"])
def test_soft_and_hard_mv_fit_check_what_they_are_given(model):
    g = lf.TaskGraph({"root": {"cardinality": 2}})
    est = lf.SoftMV(g) if model == "soft" else lf.HardMV(g)
    # fit ignored its arguments: votes it cannot predict on and bad dev labels were accepted
    with pytest.raises(ValueError, match="^L:"):
        est.fit({"root": np.array([[0, 5]])})
    with pytest.raises(TypeError, match=r"^L\['root'\]:"):
        est.fit({"root": np.array([[0.5]])})
    with pytest.raises(ValueError, match="^lf_tasks:"):
        est.fit(np.array([[0, 1]]), lf_tasks=["root"])
    with pytest.raises(ValueError, match="^Y_dev:"):
        est.fit(Y_dev=[0, 7])
    assert est.fit({"root": np.array([[0, 1]])}, Y_dev=[0, 1]) is est


@pytest.mark.parametrize("seed", ["x", -1, 1.5])
def test_hard_mv_checks_its_seed(seed):
    g = lf.TaskGraph({"root": {"cardinality": 2}})
    with pytest.raises((ValueError, TypeError), match="^seed:"):  # was numpy's SeedSequence error from predict
        lf.HardMV(g, seed=seed).predict({"root": np.array([[0, 1]])})
    with pytest.raises((ValueError, TypeError), match="^seed:"):
        lf.HardMV(g, seed=seed).fit()


def test_task_votes_name_the_argument_for_odd_keys_and_lf_tasks():
    g = lf.TaskGraph({"root": {"cardinality": 2}})
    votes = np.zeros((2, 1), np.int64)
    with pytest.raises(ValueError, match=r"^L: tasks \['nope', 3\] are not in"):  # was "'<' not supported"
        lf.as_task_votes(g, {"root": votes, "nope": votes, 3: votes})
    with pytest.raises(TypeError, match="^lf_tasks:"):  # was "'int' object is not iterable"
        lf.as_task_votes(g, votes, lf_tasks=5)


def _synthetic_fit():
    from labelfuse.models import FitResult
    from labelfuse.synthetic import make_label_matrix

    s = make_label_matrix(200, 3, 2, seed=0)
    return s, FitResult(s.cpt, s.class_balance, {})


def test_install_fit_checks_the_result_stats_and_votes():
    from labelfuse.models import FitResult

    s, good = _synthetic_fit()
    bad_results = [FitResult(s.cpt[:2], s.class_balance),  # was RuntimeError
                   FitResult(s.cpt * np.nan, s.class_balance),  # was accepted: NaN probabilities
                   FitResult(s.cpt * 2, s.class_balance),  # was accepted: columns summing to 2
                   FitResult(s.cpt, [0.5])]  # was RuntimeError
    for result in bad_results:
        with pytest.raises(ValueError, match="^result:"):
            lf.LabelModel().install_fit(result, None, 2, 3)
    with pytest.raises(TypeError, match="^result:"):  # was AttributeError
        lf.LabelModel().install_fit("fit", None, 2, 3)
    with pytest.raises(ValueError, match="^stats:"):  # was numpy's "operands could not be broadcast"
        lf.LabelModel().install_fit(good, lf.label_stats(s.L[:, :2], 2), 2, 3)
    with pytest.raises(ValueError, match="^L:"):  # was accepted, and refit failed later
        lf.LabelModel().install_fit(good, None, 2, 3, L=np.zeros((4, 5), np.int8))
    with pytest.raises(ValueError, match="^L:"):
        lf.LabelModel().install_fit(good, lf.label_stats(s.L, 2), 2, 3, L=np.where(s.L == 0, 1, s.L))
    with pytest.raises(ValueError, match="^n_lfs:"):
        lf.LabelModel().install_fit(good, None, 2, 0)
    model = lf.LabelModel().install_fit(good, None, 2, 3)
    assert model.coverage_.shape == (3,) and np.isnan(model.coverage_).all()  # was a 0-d NaN array
    assert model.accuracies_.shape == (3,) and np.isfinite(model.accuracies_).all()
    np.testing.assert_allclose(model.predict_proba(s.L), lf.synthetic.bayes_posterior(
        s.L, np.where(np.arange(3)[None, :, None] == 0, 1.0, s.cpt), s.class_balance), rtol=1e-9)


def test_install_fit_keeps_a_private_copy_of_L():
    s, good = _synthetic_fit()
    L = s.L.copy()
    model = lf.LabelModel().install_fit(good, None, 2, 3, L=L)
    L_new = L.copy()
    L_new[:, 0] = -1
    model.refit(L_new)
    np.testing.assert_array_equal(L, s.L)  # refit wrote the new column into the caller's array


def test_install_fit_of_dawid_skene_with_votes_knows_the_coverage():
    s, good = _synthetic_fit()
    model = lf.LabelModel(method="dawid_skene").install_fit(good, None, 2, 3, L=s.L)
    np.testing.assert_allclose(model.coverage_, (s.L >= 0).mean(axis=0))  # was NaN (no statistics kept)


def test_fit_dawid_skene_checks_its_arguments():
    from labelfuse.models import FitResult, fit_dawid_skene

    L = np.array([[0, 1, -1], [1, 1, 0]], np.int8)
    with pytest.raises(ValueError, match="^class_balance:"):  # NaN / negative balances came back as the prior
        fit_dawid_skene(L, 2, np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="^class_balance:"):
        fit_dawid_skene(L, 2, np.array([2.0, -1.0]))
    with pytest.raises(ValueError, match="^init:"):  # a NaN warm start was used as is
        fit_dawid_skene(L, 2, init=FitResult(np.full((3, 3, 2), np.nan), np.full(2, 0.5)))
    with pytest.raises(ValueError, match="^cardinality:"):  # was "L: too many LFs x classes"
        fit_dawid_skene(L, 2**40)
    with pytest.raises(TypeError, match="^cardinality:"):  # "2" was accepted
        fit_dawid_skene(L, "2")
    assert fit_dawid_skene([[0, 1], [1, 1]], 2).cpt.shape == (2, 3, 2)  # a list was pybind's "incompatible"
