"""Shared estimator behaviour: metrics, tie policies, parameters, NotFittedError, save / load."""
import json
import zipfile

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _io, metrics
from labelfuse.models import LabelModel, MajorityVote, NotFittedError, load
from labelfuse.models.base import break_ties, check_class_balance, class_balance_from_labels
from labelfuse.synthetic import bayes_posterior, make_label_matrix


# -- metrics against values worked out by hand ---------------------------------------------------------------------
def test_binary_metrics_by_hand():
    y = [1, 1, 1, 0, 0, 0, 1, 0]
    p = [1, 0, 1, 1, 0, 0, -1, 0]
    # class 1: tp = 2 (rows 0, 2), predicted 1 = 3 (rows 0, 2, 3), actual 1 = 4
    assert metrics.accuracy(y, p) == pytest.approx(5 / 8)  # rows 0, 2, 4, 5, 7
    assert metrics.precision(y, p) == pytest.approx(2 / 3)
    assert metrics.recall(y, p) == pytest.approx(2 / 4)
    assert metrics.f1(y, p) == pytest.approx(2 * 2 / (3 + 4))


def test_multiclass_macro_metrics_by_hand():
    y = [0, 0, 1, 1, 2, 2]
    p = [0, 1, 1, 1, 0, -1]
    # per class (tp, predicted, actual): 0 -> (1, 2, 2), 1 -> (2, 3, 2), 2 -> (0, 0, 2)
    assert metrics.precision(y, p, cardinality=3) == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    assert metrics.recall(y, p, cardinality=3) == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert metrics.f1(y, p, cardinality=3) == pytest.approx((2 / 4 + 4 / 5 + 0) / 3)
    # a class absent from both y and predictions is left out of the macro average, as in scikit-learn
    assert metrics.f1(y, p, cardinality=4) == pytest.approx(metrics.f1(y, p, cardinality=3))


def test_probability_metrics_by_hand():
    y = [0, 1]
    P2 = [[0.8, 0.2], [0.4, 0.6]]
    assert metrics.brier(y, P2) == pytest.approx((0.2**2 + 0.4**2) / 2)  # (p_1 - y)^2, as scikit-learn
    assert metrics.log_loss(y, P2) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    P3 = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]
    y3 = [0, 2]
    assert metrics.brier(y3, P3) == pytest.approx(((0.25 + 0.09 + 0.04) + (0.01 + 0.01 + 0.04)) / 2)
    assert metrics.log_loss([1], [[1.0, 0.0]]) == pytest.approx(-np.log(1e-15))


def test_metric_input_errors():
    with pytest.raises(ValueError, match="y_pred"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(TypeError, match="y_true"):
        metrics.accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="proba"):
        metrics.brier([0, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="y_true"):
        metrics.log_loss([0, 3], [[0.5, 0.5], [0.5, 0.5]])


# -- tie policies ----------------------------------------------------------------------------------------------------
P_TIES = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3], [0.7, 0.3, 0.0]])


def test_tie_policy_abstain_and_prior():
    prior = np.array([0.2, 0.5, 0.3])
    assert break_ties(P_TIES, "abstain", prior, 0).tolist() == [-1, 2, -1, 0]
    assert break_ties(P_TIES, "prior", prior, 0).tolist() == [1, 2, 1, 0]
    # equal priors among the tied classes: the smallest index
    assert break_ties(P_TIES, "prior", np.full(3, 1 / 3), 0).tolist() == [0, 2, 0, 0]


def test_tie_policy_random_is_seeded_and_picks_tied_classes():
    P = np.tile([[0.5, 0.5, 0.0]], (2000, 1))
    a = break_ties(P, "random", None, 7)
    assert np.array_equal(a, break_ties(P, "random", None, 7))
    assert set(np.unique(a)) == {0, 1}
    assert abs(np.mean(a) - 0.5) < 0.05
    assert not np.array_equal(a, break_ties(P, "random", None, 8))


def test_bad_tie_policy():
    with pytest.raises(ValueError, match="tie_policy"):
        break_ties(P_TIES, "coin", None, 0)


# -- class balance helpers -------------------------------------------------------------------------------------------
def test_class_balance_checks():
    assert np.allclose(check_class_balance("uniform", 4), 0.25)
    with pytest.raises(ValueError, match="class_balance"):
        check_class_balance([0.5, 0.6], 2)
    with pytest.raises(ValueError, match="class_balance"):
        check_class_balance([1.0], 2)
    with pytest.raises(ValueError, match="class_balance"):
        check_class_balance("balanced", 2)
    # add-one smoothing of dev labels: (count + 1) / (n + k)
    assert np.allclose(class_balance_from_labels([0, 0, 1], 3), [3 / 6, 2 / 6, 1 / 6])
    with pytest.raises(ValueError, match="Y_dev"):
        class_balance_from_labels([0, 5], 3)


# -- parameters ------------------------------------------------------------------------------------------------------
def test_get_set_params():
    lm = LabelModel(cardinality=3, method="dawid_skene", max_iter=7)
    params = lm.get_params()
    assert params["cardinality"] == 3 and params["method"] == "dawid_skene" and params["max_iter"] == 7
    assert set(params) == {
        "cardinality", "method", "class_balance", "abstentions", "max_iter", "tol", "smoothing", "method_options",
        "tie_policy", "random_state", "n_threads",
    }
    assert lm.set_params(max_iter=3, tol=1e-3) is lm
    assert lm.max_iter == 3 and lm.tol == 1e-3
    clone = LabelModel(**lm.get_params())
    assert clone.get_params() == lm.get_params()
    with pytest.raises(ValueError, match="not a parameter"):
        lm.set_params(learning_rate=1)
    assert "max_iter=3" in repr(lm) and "n_threads" not in repr(lm)
    assert set(MajorityVote().get_params()) == {"cardinality", "class_balance", "tie_policy", "random_state",
                                                 "n_threads"}


@pytest.mark.parametrize("model", [MajorityVote(), LabelModel(method="dawid_skene")])
def test_not_fitted(model):
    L = np.array([[0, 1], [1, -1]], dtype=np.int8)
    for call in (lambda: model.predict_proba(L), lambda: model.predict(L), lambda: model.score(L, [0, 1]),
                 lambda: model.classes_, lambda: model.save("unused.lfm")):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert not hasattr(model, "classes_")  # AttributeError semantics, as scikit-learn


def test_score_returns_requested_metrics():
    s = make_label_matrix(2000, 5, 3, random_state=3)
    mv = MajorityVote(tie_policy="prior").fit(s.L)
    with pytest.warns(lf.AbstentionWarning, match=r"abstained on \d+ of 2000 rows"):
        out = mv.score(s.L, s.Y, metrics=("accuracy", "f1", "precision", "recall", "brier", "log_loss"))
    pred = mv.predict(s.L)
    assert out.n_abstained == np.sum(mv.predict(s.L, tie_policy="abstain") < 0) > 0
    assert out["accuracy"] == pytest.approx(metrics.accuracy(s.Y, pred))
    assert out["f1"] == pytest.approx(metrics.f1(s.Y, pred, cardinality=3))
    assert out["brier"] == pytest.approx(metrics.brier(s.Y, mv.predict_proba(s.L)))
    with pytest.warns(lf.AbstentionWarning):
        assert mv.score(s.L, s.Y, metrics="recall").keys() == {"recall"}
    with pytest.raises(ValueError, match="metrics"):
        mv.score(s.L, s.Y, metrics=("auc",))
    with pytest.raises(ValueError, match="Y"):
        mv.score(s.L, s.Y[:10])


# -- save / load -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [MajorityVote(tie_policy="random", random_state=3),
     LabelModel(method="dawid_skene", class_balance=[0.5, 0.3, 0.2], max_iter=20, abstentions="ignore")],
)
def test_save_load_round_trip(tmp_path, model):
    s = make_label_matrix(3000, 6, 3, class_balance=[0.5, 0.3, 0.2], random_state=4)
    model.fit(s.L)
    path = tmp_path / "model.lfm"
    model.save(path)
    back = load(path)
    assert type(back) is type(model)
    assert back.get_params() == {k: (list(v) if isinstance(v, (list, tuple)) else v)
                                 for k, v in model.get_params().items()}
    assert np.array_equal(back.predict_proba(s.L), model.predict_proba(s.L))
    assert np.array_equal(back.predict(s.L), model.predict(s.L))
    assert type(model).load(path).cardinality_ == 3
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:  # named arrays + JSON metadata: nothing to unpickle
        meta = f.metadata()
        assert meta["format_version"] == str(_io.FORMAT_VERSION) and meta["class"] == type(model).__name__
        assert set(f.keys()) == set(type(model)._fitted_arrays)


def test_load_rejects_unknown_version_and_other_files(tmp_path):
    import pathlib

    s = make_label_matrix(500, 4, 2, random_state=5)
    path = tmp_path / "m.lfm"
    MajorityVote().fit(s.L).save(path)
    # a file of the first releases' zip format claiming a version this release does not read
    legacy = pathlib.Path(__file__).parent / "fixtures" / "MajorityVote" / "v1-0.1.0.lfm"
    with zipfile.ZipFile(legacy) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members["metadata.json"])
    meta["format_version"] = 99
    future = tmp_path / "future.lfm"
    with zipfile.ZipFile(future, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, json.dumps(meta) if name == "metadata.json" else data)
    with pytest.raises(ValueError, match="format_version 99"):
        load(future)
    junk = tmp_path / "junk.lfm"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a labelfuse model"):
        load(junk)
    with pytest.raises(TypeError, match="MajorityVote"):
        LabelModel.load(path)


def test_loads_a_file_written_by_format_version_1():
    """A format_version 1 file (tests/fixtures; predictions are checked in test_saved_fixtures.py) loads as what it
    was, and says that a loaded model cannot refit (the statistics it was fitted from are not saved)."""
    import pathlib

    path = pathlib.Path(__file__).parent / "fixtures" / "LabelModel" / "v1-0.1.0-dawid_skene.lfm"
    model = load(path)
    assert isinstance(model, LabelModel) and model.method == "dawid_skene" and model.cardinality_ == 3
    s = make_label_matrix(200, 6, 3, random_state=11)
    assert np.allclose(model.predict_proba(s.L), bayes_posterior(s.L, model.cpt_, model.class_balance_), atol=1e-9)
    with pytest.raises(NotFittedError, match="refit"):
        model.refit(s.L)


def test_save_refuses_unserialisable_params(tmp_path):
    s = make_label_matrix(300, 4, 2, random_state=6)
    mv = MajorityVote(random_state=np.random.default_rng(0)).fit(s.L)
    with pytest.raises(TypeError, match="random_state"):
        mv.save(tmp_path / "x.lfm")


# -- the method registry ---------------------------------------------------------------------------------------------
def test_registry_names():
    from labelfuse.models import METHODS, fit_covariance, fit_dawid_skene, fit_triplet, get_method

    assert METHODS == ("triplet", "covariance", "dawid_skene")
    triplet, covariance, ds = (get_method(name) for name in METHODS)
    assert (triplet.fit, triplet.uses_rows, triplet.needs_overlap) == (fit_triplet, False, False)
    assert (covariance.fit, covariance.uses_rows, covariance.needs_overlap) == (fit_covariance, False, True)
    assert (ds.fit, ds.uses_rows, ds.needs_overlap) == (fit_dawid_skene, True, False)
    bound = get_method("dawid_skene", n_threads=2)
    assert bound.fit.keywords == {"n_threads": 2} and bound.fit.__name__ == "fit_dawid_skene"
    s = make_label_matrix(500, 4, 3, random_state=30)
    assert np.array_equal(bound.fit(s.L, 3, None).cpt, fit_dawid_skene(s.L, 3, None).cpt)
    # the statistics fit of a moment method, as the distributed label model needs it
    from labelfuse import label_stats

    stats = label_stats(s.L, 3, overlap_matrix=True)
    assert np.array_equal(get_method("covariance", n_threads=4).fit(stats, None).cpt, fit_covariance(stats, None).cpt)


def test_registry_callables():
    from labelfuse.models import FitResult, get_method

    def my_fit(stats, class_balance):
        return FitResult(np.zeros((1, 3, 2)), np.ones(2) / 2)

    method = get_method(my_fit)
    assert (method.name, method.fit, method.uses_rows, method.needs_overlap) == ("my_fit", my_fit, False, False)

    def my_row_fit(L, cardinality, class_balance, init=None):
        return FitResult(np.zeros((1, 3, 2)), np.ones(2) / 2)

    my_row_fit.uses_rows = True
    my_row_fit.needs_overlap = True
    method = get_method(my_row_fit, n_threads=3)
    assert method.fit is my_row_fit and method.uses_rows and method.needs_overlap  # a callable is never wrapped


def test_registry_errors():
    from labelfuse.models import get_method

    with pytest.raises(ValueError, match=r"^label_model: unknown method 'snorkel'; expected one of 'triplet', "
                                         r"'covariance', 'dawid_skene' or a fit function"):
        get_method("snorkel")
    with pytest.raises(TypeError, match="^label_model: expected a method name"):
        get_method(3)
    with pytest.raises(ValueError, match="^method: unknown method"):
        get_method("Triplet", name="method")


def test_fusion_dispatch_goes_through_the_registry():
    from labelfuse.fusion import partitioned as estimators
    from labelfuse.models import fit_triplet

    assert estimators.resolve_fit("triplet") is fit_triplet
    assert estimators.needs_overlap("covariance") and not estimators.needs_overlap("dawid_skene")
    rows = estimators.resolve_fit("dawid_skene", n_threads=1)
    assert estimators._uses_rows(rows) and not estimators._uses_rows(fit_triplet)
    with pytest.raises(ValueError, match="^label_model: unknown method"):
        estimators.resolve_fit("bogus")


def test_the_overlap_cap_is_the_one_memory_cap(monkeypatch):
    from labelfuse import _validation
    from labelfuse.fusion.partitioned import partitioned_stats

    s = make_label_matrix(300, 4, 3, random_state=31)
    assert partitioned_stats(s.L, 3, overlap_matrix=True).overlap is not None
    monkeypatch.setattr(_validation, "MAX_COUNT_BYTES", 8 * (4 * 3) ** 2 - 1)
    with pytest.raises(ValueError, match=r"^overlap_matrix: 1 parts x \(4 LFs x 3 classes\)\^2 counts"):
        partitioned_stats(s.L, 3, overlap_matrix=True)
    from labelfuse import label_stats

    with pytest.raises(ValueError, match=r"^overlap_matrix: would need 0.0 GiB for 4 LFs x 3 classes x 1 groups"):
        label_stats(s.L, 3, overlap_matrix=True)
    with pytest.raises(ValueError, match="^cardinality: 3 classes would need"):
        _validation.check_model_memory(10**4, 3, inferred=False, what="tables")


# -- the metric resolver -------------------------------------------------------------------------------------------
def test_resolve_metric_names_and_values():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 0, -1])
    P = np.array([[0.6, 0.3, 0.1]] * 6)
    expected = {
        "accuracy": metrics.accuracy(y, p), "f1": metrics.f1(y, p, cardinality=3),
        "macro_f1": metrics.f1(y, p, cardinality=3, average="macro"),
        "precision": metrics.precision(y, p, cardinality=3), "recall": metrics.recall(y, p, cardinality=3),
        "macro_precision": metrics.precision(y, p, cardinality=3, average="macro"),
        "macro_recall": metrics.recall(y, p, cardinality=3, average="macro"),
        "brier": metrics.brier(y, P), "log_loss": metrics.log_loss(y, P),
    }
    assert set(metrics.METRIC_NAMES) == set(expected)
    for name, value in expected.items():
        m = metrics.resolve_metric(name)
        assert m.name == name and m.needs_proba == (name in ("brier", "log_loss"))
        assert m.greater_is_better == (name not in ("brier", "log_loss"))
        assert m.score(y, P if m.needs_proba else p, 3) == pytest.approx(value)
    # binary: "f1" is the F1 of class 1, "macro_f1" the mean over both classes
    yb, pb = np.array([1, 1, 0, 0, 0]), np.array([1, 0, 0, 0, 1])
    assert metrics.resolve_metric("f1").score(yb, pb, 2) == pytest.approx(0.5)
    assert metrics.resolve_metric("macro_f1").score(yb, pb, 2) == pytest.approx((0.5 + 2 / 3) / 2)


def test_resolve_metric_errors():
    with pytest.raises(ValueError, match=r"^metric: unknown metric 'auc'; expected one of accuracy, f1, macro_f1"):
        metrics.resolve_metric("auc")
    with pytest.raises(TypeError, match="^scoring: expected a metric name"):
        metrics.resolve_metric(3, "scoring")
    with pytest.raises(ValueError, match=r"^dev_metric: unknown metric 'brier'; expected one of accuracy, f1, "
                                         r"macro_f1$"):
        metrics.resolve_metric("brier", "dev_metric", allowed=("accuracy", "f1", "macro_f1"))


def test_label_model_and_fusion_scores_use_the_resolver():
    from labelfuse.fusion.partitioned import _score

    s = make_label_matrix(2000, 5, 3, random_state=32)
    mv = MajorityVote(tie_policy="prior").fit(s.L)
    with pytest.warns(lf.AbstentionWarning):
        out = mv.score(s.L, s.Y, metrics=["macro_f1", "macro_recall", "log_loss"])
    pred = mv.predict(s.L)
    assert out["macro_f1"] == pytest.approx(metrics.f1(s.Y, pred, cardinality=3, average="macro"))
    assert out["macro_recall"] == pytest.approx(metrics.recall(s.Y, pred, cardinality=3, average="macro"))
    with pytest.raises(ValueError, match="^metrics: unknown metric 'auc'"):
        mv.score(s.L, s.Y, metrics=["accuracy", "auc"])
    with pytest.raises(TypeError, match="^metrics:"):
        mv.score(s.L, s.Y, metrics=[["accuracy"]])
    P = mv.predict_proba(s.L)
    assert _score(s.Y, P, "accuracy") == pytest.approx(np.mean(P.argmax(axis=1) == s.Y))
    assert _score(s.Y, P, "f1") == pytest.approx(metrics.f1(s.Y, P.argmax(axis=1), cardinality=3))


def test_end_model_metric_names():
    from labelfuse.endmodels.metrics import metric_function

    y, p = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert metric_function("f1", 2)(y, p) == pytest.approx(metrics.f1(y, p, cardinality=2, average="binary"))
    assert metric_function("macro_f1", 2)(y, p) == pytest.approx(metrics.f1(y, p, cardinality=2, average="macro"))
    with pytest.raises(ValueError, match="^dev_metric: 'f1' is the binary"):
        metric_function("f1", 3)
    with pytest.raises(ValueError, match="^metric: unknown metric 'log_loss'"):
        metric_function("log_loss", 2, arg="metric")


# -- one class-balance check -----------------------------------------------------------------------------------------
def test_one_class_balance_check():
    from labelfuse._validation import check_class_balance as check
    from labelfuse.models import fit_triplet
    from labelfuse import label_stats

    assert np.allclose(check("uniform", 4), 0.25)
    assert check(None, 2, allow_none=True) is None
    assert np.allclose(check([0.0, 1.0], 2), [0, 1])
    with pytest.raises(ValueError, match="^class_balance: class 0 has probability 0"):
        check([0.0, 1.0], 2, positive=True)
    with pytest.raises(ValueError, match="^prior: expected None or 2 probabilities"):
        check("uniform", 2, "prior", allow_none=True, allow_uniform=False)
    with pytest.raises(TypeError, match="^class_balance"):
        check(["a", "b"], 2)
    with pytest.raises(TypeError, match="^class_balance"):
        check(None, 2)
    # the fit functions take None or positive probabilities (the same rule as LabelModel's)
    stats = label_stats(make_label_matrix(500, 4, 2, random_state=33).L, 2)
    with pytest.raises(ValueError, match="^class_balance: class 1 has probability 0"):
        fit_triplet(stats, [1.0, 0.0])
    with pytest.raises(ValueError, match="^class_balance"):
        LabelModel(method="triplet").fit(make_label_matrix(500, 4, 2, random_state=33).L, class_balance=[1.0, 0.0])


# -- loading the first releases' files ------------------------------------------------------------------------------
def test_first_release_files_load_through_every_loader():
    import pathlib

    import labelfuse
    from labelfuse import _io

    root = pathlib.Path(__file__).parent / "fixtures"
    s = make_label_matrix(200, 6, 3, random_state=11)
    for cls, path in [(LabelModel, p) for p in sorted((root / "LabelModel").glob("*.lfm"))] + [
            (MajorityVote, root / "MajorityVote" / "v1-0.1.0.lfm")]:
        models = [cls.load(path), _io.load(path), load(path), labelfuse.models.BaseLabelModel.load(path)]
        L = s.L[:, :models[0].n_lfs_]
        assert all(type(m) is cls for m in models)
        for m in models[1:]:
            assert np.array_equal(m.predict_proba(L), models[0].predict_proba(L))
            assert np.array_equal(m.predict(L), models[0].predict(L))
        with pytest.raises(TypeError, match=cls.__name__):
            (MajorityVote if cls is LabelModel else LabelModel).load(path)
