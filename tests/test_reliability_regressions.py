"""One test per defect the fuzzers (tests/test_fuzz_stats.py, test_fuzz_fusion.py, test_fuzz_endmodels.py) and the
sanitizer run found, so that each stays fixed even if the random search stops drawing its input. docs/reliability.md
lists every defect, what it did and how it was fixed."""
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

# Tiny and hostile inputs: their fits rightly report degenerate data (FitWarning); each regression here is about
# an error or a crash, and the diagnostics are tested in test_diagnostics.py and test_assumptions.py.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

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
    from labelfuse.hierarchy.graph import MAX_TASK_LABELS

    # validate() walked range(2**40) labels, appending a path per label until the memory ran out; run in a child
    # with a memory cap so that, unfixed, this fails instead of taking the machine down (not under ASan, which
    # reserves terabytes of address space for its shadow memory; scripts/sanitize.sh preloads it)
    code = textwrap.dedent(f"""
        import os, resource
        if "libasan" not in os.environ.get("LD_PRELOAD", ""):
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
    with pytest.raises(ValueError, match="^end_label:"):
        g.task_labels_of(3)
    for bad in (1.5, True):  # not an int: a TypeError, as for every count and index
        with pytest.raises(TypeError, match="^end_label:"):
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
    # (the root is always applicable, so its not-applicable column has no mass and never enters a posterior: any
    # finite distribution is right; a one-sided LF shares one column across the states it does not vote for)
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
    with pytest.raises((ValueError, TypeError), match="^random_state:"):  # was numpy's SeedSequence error
        lf.HardMV(g, random_state=seed).predict({"root": np.array([[0, 1]])})
    with pytest.raises((ValueError, TypeError), match="^random_state:"):
        lf.HardMV(g, random_state=seed).fit()
    with pytest.warns(FutureWarning, match="'seed' is deprecated"), pytest.raises((ValueError, TypeError),
                                                                                  match="^seed:"):
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

    s = make_label_matrix(200, 3, 2, random_state=0)
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


# ---- embeddings, fusion, end models (found by tests/test_fuzz_fusion.py and tests/test_fuzz_endmodels.py) ---------
def test_hnsw_with_fewer_than_two_links_is_refused_not_a_crash():
    # faiss's HNSW divides by log(M): M=1 killed the interpreter (SIGSEGV), M=0 aborted on a faiss assertion.
    # Run in a child so that, unfixed, this reports a failure instead of killing the test session.
    pytest.importorskip("faiss")
    code = textwrap.dedent("""
        import numpy as np
        from labelfuse.embeddings import NeighborGraph
        X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
        for m in (0, 1):
            try:
                NeighborGraph(3, index="hnsw", hnsw_m=m).fit(X)
            except ValueError as exc:
                print("ValueError", exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.splitlines() == ["ValueError hnsw_m: expected an int in [2, inf), got int 0",
                                        "ValueError hnsw_m: expected an int in [2, inf), got int 1"], proc.stdout


@pytest.mark.parametrize("params, error", [({"index": "ivf", "ivf_n_lists": -3}, ValueError),
                                           ({"index": "ivf", "ivf_n_probe": 0}, ValueError),
                                           ({"block_size": True}, TypeError),
                                           ({"index": "hnsw", "hnsw_ef_search": 0}, ValueError)])
def test_graph_index_parameters_are_checked_up_front(params, error):
    # were a SWIG "Wrong number or type of arguments", a faiss RuntimeError at query time, or silently accepted
    pytest.importorskip("faiss")
    from labelfuse.embeddings import NeighborGraph

    name = next(k for k in params if k != "index")
    with pytest.raises(error, match=f"^{name}:"):
        NeighborGraph(3, **params).fit(np.eye(6, 4, dtype=np.float32))


def test_graph_query_with_a_negative_neighbour_count_names_it():
    pytest.importorskip("faiss")
    from labelfuse.embeddings import NeighborGraph

    g = NeighborGraph(3).fit(np.eye(6, 4, dtype=np.float32))
    with pytest.raises(ValueError, match="^n_neighbors:"):  # was numpy's "negative dimensions are not allowed"
        g.query(np.eye(2, 4, dtype=np.float32), n_neighbors=-2)
    assert g.query(np.eye(2, 4, dtype=np.float32), n_neighbors=0)[0].shape == (2, 0)


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e-44), (np.float32, 1e-30), (np.float64, 1e-300),
                                          (np.float64, 1e39), (np.float64, 1e300)])
def test_embedding_rows_of_any_finite_magnitude_normalise(dtype, scale):
    # normalised in float32: a denormal row's 1/norm overflowed to inf (X_ held inf/NaN, silently), and a float64
    # row beyond float32's range was refused as "NaN or inf"
    from labelfuse.embeddings._checks import as_unit_embeddings

    X = (np.array([[3.0, -4.0], [1.0, 0.0], [0.0, 0.0]]) * np.array([[scale], [1.0], [1.0]])).astype(dtype)
    U = as_unit_embeddings(X)
    assert U.dtype == np.float32 and np.isfinite(U).all()
    row = X[0].astype(np.float64) / np.float64(X[0, 0])  # a denormal row is stored coarsely: its own direction
    np.testing.assert_allclose(U, [row / np.linalg.norm(row), [1.0, 0.0], [0.0, 0.0]], rtol=1e-6)


def _unfitted_calls():
    pytest.importorskip("faiss")
    from labelfuse.embeddings import KMeansPartition, NeighborGraph
    from labelfuse.fusion import Epoxy, Liger

    L, X = np.zeros((3, 2), np.int8), np.ones((3, 4), np.float32)
    calls = [lambda: NeighborGraph().query(X), lambda: KMeansPartition().predict(X),
             lambda: Epoxy().predict_proba(L, X), lambda: Liger().refit(L)]
    try:
        import torch  # noqa: F401
    except ImportError:
        return calls
    from labelfuse.endmodels import Adapter, Ensemble

    return calls + [lambda: Adapter().predict_proba(X), lambda: Ensemble(Adapter()).predict(X)]


def test_unfitted_estimators_raise_not_fitted_error():
    # graph, partition, Epoxy/Liger and end models raised RuntimeError (label models raised NotFittedError)
    from labelfuse.models import NotFittedError

    for call in _unfitted_calls():
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def _small_graph(n=6):
    pytest.importorskip("faiss")
    from labelfuse.embeddings import NeighborGraph

    X = np.random.default_rng(0).standard_normal((n, 4)).astype(np.float32)
    return X, NeighborGraph(3).fit(X)


def test_extend_votes_names_its_own_arguments():
    from labelfuse.embeddings import extend_votes

    X, g = _small_graph()
    L = np.zeros((6, 2), np.int8)
    L[0, 0] = -2
    with pytest.raises(ValueError, match=r"^L: entry \(row 0, column 0\) is -2"):  # was "L_db: entry ..."
        extend_votes(L, g, 0.5)
    with pytest.raises(TypeError, match="^thresholds:"):  # was numpy's "could not convert string to float"
        extend_votes(np.zeros((6, 2), np.int8), g, ["high", "low"])
    with pytest.raises(ValueError, match="^X_query: row 1"):  # was "X: row 1 ..."
        extend_votes(np.zeros((6, 2), np.int8), g, 0.5, L_query=np.zeros((2, 2), np.int8),
                     X_query=np.array([[1, 0, 0, 0], [np.nan, 0, 0, 0]], np.float32))


@pytest.mark.parametrize("corrupt", ["not_a_triple", "int32_ids", "out_of_range", "unsorted", "X_rows"])
def test_extend_votes_checks_cached_neighbours(corrupt):
    # were: "too many values to unpack", the core's "nbr_ids: expected a int64 array" / "nbr_ids: entry ..." /
    # "nbr_sims: row ..." / "X_query: expected shape ...", none naming the argument `neighbors`
    from labelfuse.embeddings import extend_votes

    X, g = _small_graph()
    ids, sims, Xq = g.query(X[:2])
    bad = {"not_a_triple": ids, "int32_ids": (ids.astype(np.int32), sims, Xq),
           "out_of_range": (ids + 100, sims, Xq), "unsorted": (ids, sims[:, ::-1].copy(), Xq),
           "X_rows": (ids, sims, np.vstack([Xq, Xq]))}[corrupt]
    with pytest.raises((TypeError, ValueError), match="^neighbors:"):
        extend_votes(np.zeros((6, 2), np.int8), g, 0.5, L_query=np.full((2, 2), -1, np.int8), neighbors=bad)


def test_threshold_helpers_name_their_arguments():
    from labelfuse.embeddings import nearest_neighbor_thresholds, tune_thresholds

    X, g = _small_graph()
    L = np.zeros((6, 2), np.int8)
    with pytest.raises(TypeError, match="^quantile:"):  # was "'<=' not supported between 'float' and 'str'"
        nearest_neighbor_thresholds(L, g, quantile="0.5")
    with pytest.raises(ValueError, match="^floor:"):  # NaN was accepted (max(x, nan) is x)
        nearest_neighbor_thresholds(L, g, floor=np.nan)
    kwargs = dict(dev_neighbors=g.query(X[:3]), cardinality=2, default=np.full(2, 0.8))
    with pytest.raises(ValueError, match="^L_dev: expected 2 columns"):  # was "L_query: expected 2 columns"
        tune_thresholds(L, g, L[:3, :1], np.zeros(3, int), **kwargs)
    with pytest.raises(ValueError, match=r"^L_dev: entry \(row 1, column 0\) is 2"):  # was "L_query: entry ..."
        tune_thresholds(L, g, np.array([[0, 0], [2, 0], [0, 0]]), np.zeros(3, int), **kwargs)
    with pytest.raises(ValueError, match="^default:"):  # was an IndexError (boolean index did not match)
        tune_thresholds(L, g, L[:3], np.zeros(3, int), **{**kwargs, "default": np.full(1, 0.8)})
    with pytest.raises(ValueError, match="^candidates:"):  # NaN reached extend_votes: "thresholds: entry 0 is NaN"
        tune_thresholds(L, g, L[:3], np.zeros(3, int), candidates=[0.5, np.nan], **kwargs)
    with pytest.raises(ValueError, match="^dev_neighbors:"):  # rows not matching L_dev were blamed on L_query
        tune_thresholds(L, g, L[:2], np.zeros(2, int), **kwargs)


@pytest.mark.parametrize("params, error", [({"n_redo": 0}, ValueError), ({"n_iter": -1}, ValueError),
                                           ({"n_iter": 2.5}, TypeError), ({"random_state": -1}, ValueError)])
def test_kmeans_settings_are_checked(params, error):
    # n_redo=0 was numpy's "cannot reshape array of size 0" from faiss's empty centroids (or, with one part,
    # silently accepted); a negative n_iter reached faiss
    pytest.importorskip("faiss")
    from labelfuse.embeddings import KMeansPartition

    X = np.random.default_rng(0).standard_normal((20, 4))
    with pytest.raises(error, match=f"^{next(iter(params))}:"):
        KMeansPartition(3, **params).fit(X)


def test_label_smoothness_checks_labels_radii_and_max_rows():
    from labelfuse.embeddings import label_smoothness

    X = np.random.default_rng(0).standard_normal((8, 3))
    with pytest.raises(ValueError, match="^labels: entry 0 is -1"):  # was numpy's "'list' argument must have no
        label_smoothness(X, -np.ones(8, int))                      # negative elements" (np.bincount)
    with pytest.raises(TypeError, match="^labels:"):  # 0.5 was truncated to class 0 silently
        label_smoothness(X, np.full(8, 0.5))
    with pytest.raises(ValueError, match="^radii:"):  # a NaN radius was accepted (its bin is never filled)
        label_smoothness(X, np.zeros(8, int), radii=[0.5, np.nan])
    with pytest.raises(ValueError, match="^max_rows:"):  # 0 sampled no row and returned an empty curve
        label_smoothness(X, np.zeros(8, int), max_rows=0)
    L = np.zeros((8, 1), np.int64)
    L[0, 0] = -2
    with pytest.raises(ValueError, match=r"^L: entry \(row 0, column 0\) is -2"):  # was ignored as an abstention
        label_smoothness(X, L=L)
    L[0, 0] = 2**40  # an LF returning an id: counted, not a 2**40-entry bincount (MemoryError)
    assert label_smoothness(X, L=L).pairs[0] >= 0


def test_ws_knn_proba_checks_its_inputs_and_never_returns_zero_rows():
    from labelfuse.fusion import ws_knn_proba

    P = np.array([[0.9, 0.1], [0.2, 0.8]])
    out = ws_knn_proba(P, np.array([[1, -1], [-1, -1]]))
    np.testing.assert_allclose(out, [[0.2, 0.8], [0.5, 0.5]])  # the second row was [0, 0]: not a distribution
    with pytest.raises(ValueError, match="^neighbor_ids:"):  # was IndexError: index 5 is out of bounds
        ws_knn_proba(P, np.array([[5]]))
    with pytest.raises(ValueError, match="^n_neighbors:"):  # -1 silently dropped the last neighbour
        ws_knn_proba(P, np.array([[0, 1]]), n_neighbors=-1)
    with pytest.raises(ValueError, match="^P_train:"):  # a 1-D P was numpy's "could not be broadcast"
        ws_knn_proba(P.ravel(), np.array([[0]]))


def test_byte_swapped_query_votes_are_extended():
    # as_label_matrix turns '>i8' into a native int64 that is not numpy's int64 singleton; the binding compared the
    # dtypes of L and L_query by identity and refused two equal types ("L_query: must have the dtype of L_db")
    from labelfuse import _core
    from labelfuse.embeddings import extend_votes

    X, g = _small_graph()
    L = np.zeros((6, 1), np.int64)
    Lq = np.array([[-1], [0]], dtype=">i8")
    out = extend_votes(L, g, -2.0, L_query=Lq, X_query=X[:2])
    np.testing.assert_array_equal(out, [[0], [0]])
    ids, sims, Xq = g.query(X[:2])
    with pytest.raises(TypeError, match="^L_query: must have the dtype"):  # the raw kernel still refuses it
        _core.extend_votes(L, Lq, ids, sims, g.X_, Xq, np.zeros(1), 2)


def _fusion_task(n=30, m=3, seed=0):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    L = rng.integers(-1, 2, (n, m)).astype(np.int8)
    return L, X


def test_refit_after_editing_the_training_votes_in_place():
    # fit kept a reference to the caller's array: editing an LF's column in place and calling refit(L) found no
    # changed column and refitted nothing
    from labelfuse.fusion import Epoxy
    from _fusion_helpers import symmetric_fit

    L, X = _fusion_task()
    model = Epoxy(symmetric_fit(), thresholds=-1.0, cardinality=2).fit(L, X)
    L[:, 1] = -1
    L[0, 1] = 1  # one voter: with threshold -1 every row takes its class
    model.refit(L)
    np.testing.assert_array_equal(model.L_extended_[:, 1], 1)



@pytest.mark.parametrize("columns", [[0.5], ["a"], [True], 3])
def test_refit_columns_must_be_lf_indices(columns):
    from labelfuse.fusion import Epoxy
    from _fusion_helpers import symmetric_fit

    L, X = _fusion_task()
    model = Epoxy(symmetric_fit(), thresholds=0.5).fit(L, X)
    before = model.train_proba_.copy()
    with pytest.raises(TypeError, match="^columns:"):  # 0.5 / True were read as LF 0 / 1; "a" and 3 failed in int()
        model.refit(L, columns=columns)
    np.testing.assert_array_equal(model.train_proba_, before)


def test_refit_with_a_bad_vote_names_its_column_and_changes_nothing():
    # the vote was checked on the edited columns only, as "L: entry (row 2, column 0)" (the column of the
    # sub-matrix), after L_train_ and the thresholds had already been replaced
    from labelfuse.fusion import Epoxy
    from _fusion_helpers import symmetric_fit

    L, X = _fusion_task()
    model = Epoxy(symmetric_fit(), cardinality=2).fit(L, X)
    kept = (model.L_train_.copy(), model.thresholds_.copy(), model.train_proba_.copy())
    L2 = L.copy()
    L2[2, 1] = 5
    with pytest.raises(ValueError, match=r"^L: entry \(row 2, column 1\) is 5"):
        model.refit(L2)
    for before, now in zip(kept, (model.L_train_, model.thresholds_, model.train_proba_)):
        np.testing.assert_array_equal(before, now)


def test_fusion_fit_names_the_wrong_argument():
    from labelfuse.fusion import Epoxy, Liger
    from _fusion_helpers import symmetric_fit

    L, X = _fusion_task()
    with pytest.raises(ValueError, match="^X: has 20 rows but L has 30"):  # was "neighbor_graph: built on 20 ..."
        Epoxy(symmetric_fit(), thresholds=0.5).fit(L, X[:20])
    with pytest.raises(ValueError, match="^X_dev: has 10 rows but L_dev has 30"):  # was accepted silently
        Epoxy(symmetric_fit(), thresholds=0.5).fit(L, X, L, X[:10], np.zeros(30, int))
    X_nan = X.copy()
    X_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="^X_dev: row 3"):  # was "X: row 3 ..."
        Epoxy(symmetric_fit(), thresholds=0.5).fit(L, X, L, X_nan, np.zeros(30, int))
    with pytest.raises(ValueError, match="^threshold_quantile:"):  # was "quantile: ..."
        Epoxy(symmetric_fit(), threshold_quantile=1.5).fit(L, X)
    L_dev = L.copy()
    L_dev[2, 1] = 5
    with pytest.raises(ValueError, match=r"^L_dev: entry \(row 2, column 1\) is 5"):  # was "L_query: entry ..."
        Epoxy(symmetric_fit(), thresholds=0.5, cardinality=2).fit(L, X, L_dev, X, np.zeros(30, int))
    with pytest.raises(ValueError, match=r"^L: entry \(row 2, column 1\) is 5"):  # predict blamed "L_query"
        Epoxy(symmetric_fit(), thresholds=0.5, cardinality=2).fit(L, X).predict_proba(L_dev, X)
    with pytest.raises(ValueError, match="^shrinkage:"):  # NaN passed `< 0`; every part silently got the global fit
        Liger(symmetric_fit(), thresholds=0.5, n_parts=2, shrinkage=np.nan).fit(L, X)
    with pytest.raises(ValueError, match="^parts_grid:"):  # 0 in the grid was blamed on n_parts
        Liger(symmetric_fit(), thresholds=0.5, parts_grid=(0, 2)).fit(L, X, L, X, np.zeros(30, int))


def test_failed_fusion_fit_leaves_no_fitted_state():
    from labelfuse.fusion import Liger
    from labelfuse.models import NotFittedError
    from _fusion_helpers import symmetric_fit

    L, X = _fusion_task()
    model = Liger(symmetric_fit(), thresholds=0.5, n_parts=2).fit(L, X)
    model.set_params(n_parts=0)
    with pytest.raises(ValueError, match="^n_parts:"):  # raised after graph_ etc. were replaced: half-fitted
        model.fit(L, X)
    with pytest.raises(NotFittedError):
        model.predict_proba(L, X)


def test_hard_labels_below_minus_one_are_refused():
    # -2 was read as "no label" (like -1) and the row silently dropped from the loss
    from labelfuse.endmodels._checks import as_soft_labels

    with pytest.raises(ValueError, match="^P: entry 1 is -2"):
        as_soft_labels(np.array([0, -2, 1]), 3)
    P, has = as_soft_labels(np.array([0, -1, 1]), 3)
    np.testing.assert_array_equal(has, [True, False, True])


def test_nothing_left_to_learn_blames_the_mask_or_the_weights():
    # every case said "P: no row carries a label signal", also when P was fine and the mask or the sample weights
    # had removed every row
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter

    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    P = np.eye(2)[[0, 1, 0, 1, 0, 1]]
    model = Adapter(hidden=(), max_epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="^mask: leaves out every row"):
        model.fit(X, P, mask=np.zeros(6, bool))
    with pytest.raises(ValueError, match="^sample_weight: gives zero weight"):
        model.fit(X, P, sample_weight=np.zeros(6))
    with pytest.raises(ValueError, match="^P: no row carries a label signal"):
        model.fit(X, np.full((6, 2), 0.5), mask=np.zeros(6, bool))


def test_end_model_score_names_metric_and_refuses_no_rows():
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter, Ensemble

    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    P = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    model = Adapter(hidden=(), max_epochs=1, device="cpu", progress=False, random_state=0).fit(X, P)
    for scorer in (model, Ensemble.from_models([model])):
        with pytest.raises(ValueError, match="^metric:"):  # was "dev_metric: ..." (a parameter not passed)
            scorer.score(X, np.zeros(6, int), metric="f1")
        with pytest.raises(ValueError, match="^X: has no rows to score"):  # was NaN
            scorer.score(X[:0], np.zeros(0, int))


@pytest.mark.parametrize("param, value", [("max_epochs", 1.5), ("batch_size", 2.5), ("lr", np.nan),
                                          ("weight_decay", -1.0), ("hidden", 3), ("patience", True),
                                          ("finetune_epochs", -1), ("schedule", "bogus")])
def test_end_model_training_parameters_are_checked(param, value):
    # 1.5 epochs / 2.5 rows per batch were truncated silently, lr=NaN / weight_decay=-1 were torch's "Invalid
    # learning rate" / "Invalid weight_decay value", hidden=3 "'int' object is not iterable", patience=True meant 1,
    # finetune_epochs=-1 meant 0, and a bad schedule was only noticed after the network was built
    pytest.importorskip("torch")
    from labelfuse.endmodels import FlatMTL

    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    model = FlatMTL({"y": {"cardinality": 2, "parent": None}}, hidden=(2,), max_epochs=1, device="cpu",
                    progress=False)
    model.set_params(**{param: value})
    # a value of a type the parameter never takes (1.5 epochs, hidden=3, patience=True) is a TypeError
    error = TypeError if param in ("max_epochs", "batch_size", "hidden", "patience") else ValueError
    with pytest.raises(error, match=f"^{param}:"):
        model.fit(X, np.eye(2)[[0, 1, 0, 1, 0, 1]])


def test_failed_end_model_fit_leaves_no_fitted_state():
    # a refit that failed after fit had set n_classes_ kept the old network: predict_proba returned the old
    # model's 2 columns while n_classes_ said 3; an ensemble whose second member failed kept the first
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter, Ensemble
    from labelfuse.models import NotFittedError

    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    model = Adapter(hidden=(), max_epochs=1, device="cpu", progress=False).fit(X, np.eye(2)[[0, 1] * 3])
    with pytest.raises(ValueError, match="^X:"):
        model.fit(np.full_like(X, np.nan), np.eye(3)[[0, 1, 2] * 2])
    with pytest.raises(NotFittedError):
        model.predict_proba(X)

    class FailsOnSecondSeed(Adapter):
        def fit(self, X, P, **kwargs):
            if self.random_state == 1:
                raise ValueError("P: refused by this test")
            return super().fit(X, P, **kwargs)

    ens = Ensemble(FailsOnSecondSeed(hidden=(), max_epochs=1, device="cpu", progress=False), n_members=2, random_state=0)
    with pytest.raises(ValueError, match="^P: refused"):
        ens.fit(X, np.eye(2)[[0, 1] * 3])
    with pytest.raises(NotFittedError):
        ens.predict_proba(X)


@pytest.mark.parametrize("dev, name", [((True, None), "X_dev"), ((True, [0, 1]), "Y_dev"), ((0, 0), "X_dev")])
def test_ensemble_dev_split_checks_the_dev_set(dev, name):
    # Y_dev=None was "IndexError: too many indices", a short Y_dev "IndexError: index 2 is out of bounds", an empty
    # dev set numpy's "a must be a positive integer unless no samples are taken"
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter, Ensemble

    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    X_dev = X if dev[0] is True else X[:0]
    Y_dev = np.zeros(0, int) if dev[1] == 0 else dev[1]
    ens = Ensemble(Adapter(hidden=(), max_epochs=1, device="cpu", progress=False), n_members=2, vary="dev_split")
    with pytest.raises(ValueError, match=f"^{name}"):
        ens.fit(X, np.eye(2)[[0, 1] * 3], X_dev, Y_dev)


def test_ensemble_estimator_must_be_an_instance():
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter, Ensemble

    with pytest.raises(TypeError, match="^estimator:"):  # the class itself: "get_params() missing 'self'"
        Ensemble(Adapter).fit(np.zeros((2, 2)), np.eye(2))


def test_unfitted_single_task_task_probabilities_raise_not_fitted():
    pytest.importorskip("torch")
    from labelfuse.endmodels import SingleTask
    from labelfuse.models import NotFittedError

    with pytest.raises(NotFittedError):  # was AttributeError: no attribute 'tree_'
        SingleTask({"y": {"cardinality": 2, "parent": None}}).predict_task_proba(np.zeros((1, 2)))


def test_dev_arguments_are_checked_even_when_unused():
    # dev_metric='bogus' (or 'f1' with 3 classes) was accepted when no dev set was given; S_dev with the wrong
    # number of rows was ignored when the model had no slices, and S_dev without X_dev was ignored
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter, SliceClassifier

    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    P = np.eye(3)[[0, 1, 2] * 2]
    fast = dict(hidden=(), max_epochs=1, device="cpu", progress=False)
    for metric in ("bogus", "f1"):
        with pytest.raises(ValueError, match="^dev_metric:"):
            Adapter(dev_metric=metric, **fast).fit(X, P)
    no_slices = np.zeros((6, 0), bool)
    with pytest.raises(ValueError, match="^S_dev: expected 2 rows"):
        SliceClassifier(**fast).fit(X, P, no_slices, X[:2], [0, 1], np.zeros((5, 0), bool))
    with pytest.raises(ValueError, match="^S_dev: given without X_dev"):
        SliceClassifier(**fast).fit(X, P, no_slices, S_dev=np.zeros((2, 0), bool))


def test_features_too_large_for_float32_training_are_refused():
    # features of +-3.3e38 (finite float32) overflowed in training: NaN weights, NaN predictions, no error; a model
    # trained on normal features predicted NaN for them; finite float64 1e39 was reported as "is inf"
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter

    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), 40)
    huge = (np.sign(rng.standard_normal((40, 4))) * 3.3e38).astype(np.float32)
    fast = dict(hidden=(4,), max_epochs=1, device="cpu", progress=False, random_state=0)
    with pytest.raises(ValueError, match=r"^X: entry \(0, 0\) is -?3\.(3|29)"):
        Adapter(**fast).fit(huge, P)
    model = Adapter(**fast).fit(rng.standard_normal((40, 4)).astype(np.float32), P)
    with pytest.raises(ValueError, match=r"^X: entry \(0, 0\) is 1e\+39"):
        model.predict_proba(np.full((1, 4), 1e39))
    with pytest.raises(ValueError, match="^X: has no features"):  # was torch's "Initializing zero-element tensors"
        Adapter(**fast).fit(np.zeros((40, 0), np.float32), P)
    assert np.isfinite(model.predict_proba(np.full((1, 4), 1e17, np.float32))).all()
    Adapter(**fast).fit(rng.standard_normal((40, 4)).astype(np.float16), P)  # no overflow warning comparing


def test_slice_membership_frames_must_name_the_fitted_slices():
    # columns were matched by position only: a DataFrame with its columns reordered (or renamed, or duplicated)
    # sent every row to the wrong slice heads without an error
    pytest.importorskip("torch")
    import pandas as pd
    from labelfuse.endmodels import SliceClassifier

    X = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    S = pd.DataFrame({"short": [True, False] * 4, "long": [False, True] * 4})
    model = SliceClassifier(hidden=(), max_epochs=1, device="cpu", progress=False, random_state=0).fit(
        X, np.eye(2)[[0, 1] * 4], S)
    np.testing.assert_allclose(model.predict_proba(X, S).sum(axis=1), 1.0)
    for wrong in (S[["long", "short"]], S.set_axis(["a", "b"], axis=1), S.set_axis(["short", "short"], axis=1)):
        with pytest.raises(ValueError, match="^S: columns"):
            model.predict_proba(X, wrong)
    model.predict_proba(X, S.to_numpy())  # a plain array is matched by position


def test_single_task_ignores_rows_whose_task_labels_are_all_uniform():
    # per-task labels that are uniform (no LF signal) make a non-uniform end-label row ([0.5, 0.25, 0.25] for a
    # two-level tree), so SingleTask trained on them as if they were labels, unlike FlatMTL / HierMTL
    pytest.importorskip("torch")
    from labelfuse.endmodels import SingleTask

    tasks = {"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 1)}}
    X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    model = SingleTask(tasks, hidden=(), max_epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="^P: no row carries a label signal"):
        model.fit(X, {"a": np.full((4, 2), 0.5)})
    model.fit(X, {"a": np.array([[0.5, 0.5], [0.9, 0.1]] * 2)})  # the informative rows train
    targets = model._targets({"a": np.array([[0.5, 0.5], [0.9, 0.1]] * 2)}, 4, None, None)
    np.testing.assert_array_equal(targets["a"][1], [0, 1, 0, 1])


def test_read_only_features_train_without_a_torch_warning():
    # a read-only float32 C-contiguous X (a broadcast row, np.memmap(mode="r"), ...) reached torch.from_numpy:
    # "UserWarning: The given NumPy array is not writable ... undefined behavior" (an error under -W error)
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter
    from labelfuse.endmodels._checks import as_features

    X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    X.flags.writeable = False
    assert as_features(X).flags.writeable  # torch warns only once per process: check the cause too
    model = Adapter(hidden=(), max_epochs=1, device="cpu", progress=False).fit(X, np.eye(2)[[0, 1] * 2])
    assert np.isfinite(model.predict_proba(X)).all()


def test_single_task_confidence_weighting_ignores_uniform_task_labels():
    # with confidence_weighted=True (exclude_uniform=False) the tree-shaped end-label row of uniform task labels had
    # a positive confidence, so it still trained
    pytest.importorskip("torch")
    from labelfuse.endmodels import SingleTask

    tasks = {"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 1)}}
    model = SingleTask(tasks, exclude_uniform=False, confidence_weighted=True)
    model.tree_ = lf.TaskGraph(tasks).validate()  # what fit sets before it derives the targets
    targets = model._targets({"a": np.array([[0.5, 0.5], [0.9, 0.1]])}, 2, None, None)
    assert targets["a"][1][0] == 0 and targets["a"][1][1] > 0


@pytest.mark.parametrize("params", [{"thresholds": np.array([0.5, 0.6, 0.7])}, {"cardinality": np.int64(2)},
                                    {"thresholds": np.float32(0.5)}, {"n_neighbors": np.int64(4)}])
def test_fusion_models_with_numpy_hyperparameters_save_and_load(tmp_path, params):
    # json.dumps of the parameters failed: "Object of type ndarray / int64 / float32 is not JSON serializable"
    from labelfuse.embeddings import NeighborGraph
    from labelfuse.fusion import Epoxy

    L, X = _fusion_task()
    model = Epoxy("triplet", **{"thresholds": 0.5, **params}).fit(L, X)
    model.save(tmp_path / "m.npz")
    back = Epoxy.load(tmp_path / "m.npz")
    np.testing.assert_allclose(back.predict_proba(L, X), model.predict_proba(L, X))
    graph = NeighborGraph(np.int64(3)).fit(X)
    graph.save(tmp_path / "g.npz")
    np.testing.assert_array_equal(NeighborGraph.load(tmp_path / "g.npz").ids_, graph.ids_)


def test_a_single_reversed_feature_row_reaches_torch_as_a_copy():
    # X[::-1] of one row is C-contiguous to numpy but keeps a negative stride, which torch.from_numpy refuses:
    # "At least one stride in the given numpy array is negative" (fit and predict_proba alike)
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter
    from labelfuse.endmodels._checks import as_features

    X = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    one = X[:1][::-1]
    assert one.strides[0] < 0 and min(as_features(one).strides) >= 0
    model = Adapter(hidden=(), max_epochs=1, device="cpu", progress=False).fit(one, np.eye(2)[[1]])
    assert np.isfinite(model.predict_proba(X[1:2][::-1])).all()


def test_confidence_of_a_uniform_row_is_exactly_zero():
    # 1 - H/log(k) rounded to 2.2e-16 for k=3: with confidence_weighted=True and exclude_uniform=False a fit on
    # uniform (no-signal) rows trained on them with weight 2e-16 instead of reporting that P has no signal
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter
    from labelfuse.endmodels._checks import confidence

    for k in (2, 3, 6, 7):
        assert confidence(np.full((2, k), 1.0 / k)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="^P: no row carries a label signal"):
        Adapter(hidden=(), max_epochs=1, device="cpu", progress=False, exclude_uniform=False,
                confidence_weighted=True).fit(np.ones((2, 2), np.float32), np.full((2, 3), 1 / 3))


def test_task_conditionals_of_a_nearly_inapplicable_task_sum_to_one():
    # p(task applies) = 4e-304 was floored to 1e-300 before dividing: SingleTask.predict_task_proba returned a
    # row summing to 4e-4
    tree = lf.TaskGraph({"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 1)}})
    P_end = np.array([[1.0, 3e-304, 1e-304], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    cond, applies = tree.task_conditionals(P_end)["b"]
    np.testing.assert_allclose(cond.sum(axis=1), 1.0)
    np.testing.assert_allclose(cond[0], [0.75, 0.25], rtol=1e-2)  # denormals carry few digits
    np.testing.assert_array_equal(cond[2], [0.5, 0.5])  # does not apply: uniform


def test_ensemble_dev_split_checks_every_dev_label():
    # each member early-stops on a sample of the dev rows: a -1 (or 7) label outside every sample was never seen
    pytest.importorskip("torch")
    from labelfuse.endmodels import Adapter, Ensemble

    X = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    Y_dev = np.zeros(10, int)
    Y_dev[9] = 7
    ens = Ensemble(Adapter(hidden=(), max_epochs=1, device="cpu", progress=False), n_members=2, vary="dev_split",
                   dev_fraction=0.1, random_state=0)
    with pytest.raises(ValueError, match="^Y_dev: entry 9 is 7"):
        ens.fit(X, np.eye(2)[[0, 1] * 5], X, Y_dev)
