"""Adapter(hidden="auto") chooses its head on the dev rows: cross-validated early stopping over the dev rows and the
one-standard-error rule of labelfuse.selection (toward the linear head), and warns when the end model does not beat
the training labels' own dev score."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import labelfuse  # noqa: E402
from labelfuse.diagnostics import MethodWarning  # noqa: E402
from labelfuse.endmodels import Adapter  # noqa: E402
from labelfuse.endmodels import head_selection  # noqa: E402
from labelfuse.metrics import accuracy  # noqa: E402

FAST = dict(hidden="auto", progress=False, n_threads=1, device="cpu", max_epochs=60, random_state=0)


def linear_problem(n, flip, rng):
    """A linear boundary with label noise: a linear head is as good as an MLP."""
    X = rng.standard_normal((n, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)
    flipped = rng.random(n) < flip
    y[flipped] = 1 - y[flipped]
    return X, y


def xor_problem(n, rng):
    """XOR of two signs: no linear head beats chance, an MLP learns it."""
    X = rng.standard_normal((n, 2)).astype(np.float32)
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)


def test_linear_head_chosen_when_the_boundary_is_linear():
    rng = np.random.default_rng(0)
    X, y = linear_problem(2000, 0.2, rng)
    X_dev, y_dev = linear_problem(100, 0.0, rng)
    model = Adapter(**FAST).fit(X, y, X_dev, y_dev)
    assert model.hidden_ == ()
    assert model.get_params()["hidden"] == "auto"  # the parameter is left as given; the choice is fitted state
    assert set(model.selection_["table"]) == {c.name for c in head_selection.candidate_grid()}


def test_mlp_chosen_on_xor():
    rng = np.random.default_rng(1)
    X, y = xor_problem(2000, rng)
    X_dev, y_dev = xor_problem(100, rng)
    model = Adapter(**FAST).fit(X, y, X_dev, y_dev)
    assert model.hidden_ == (256,)
    assert model.dev_score_ > 0.9
    assert model.selection_["table"]["linear, weight decay 0.001"] < 0.7


def test_without_dev_the_default_head_is_the_mlp():
    rng = np.random.default_rng(2)
    X, y = linear_problem(200, 0.0, rng)
    model = Adapter(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert model.hidden_ == head_selection.DEFAULT_HIDDEN and not hasattr(model, "selection_")


def test_one_standard_error_rule_prefers_the_simpler_head_on_ties():
    grid = head_selection.candidate_grid()
    tied = np.tile(np.array([0.8, 0.9, 0.85, 0.75, 0.8]), (len(grid), 1))
    assert grid[head_selection.choose(grid, tied, 100)["chosen"]] == head_selection.HeadCandidate((), 1e-3)
    # the MLP better than the linear head by far more than one standard error: the MLP
    scores = tied.copy()
    mlp = [i for i, c in enumerate(grid) if c.hidden]
    scores[mlp] += 0.2
    chosen = grid[head_selection.choose(grid, scores, 100)["chosen"]]
    assert chosen.hidden == (256,) and chosen.weight_decay == 1e-3  # the simpler of the two tied MLPs


def test_cross_validation_picks_the_epoch_on_the_other_rows():
    """Against a direct loop: on each fold the epoch is the first best on the other rows, scored on the fold."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 40)
    preds = [np.where(rng.random(40) < q, y, (y + 1) % 3) for q in (0.3, 0.9, 0.6, 0.9)]
    folds = head_selection.dev_folds(y, 0)
    got = head_selection.cross_validated_scores(preds, y, accuracy, folds)
    for f, held in enumerate(folds):
        rest = np.setdiff1d(np.arange(40), held)
        best = max(range(4), key=lambda e: (accuracy(y[rest], preds[e][rest]), -e))
        assert got[f] == accuracy(y[held], preds[best][held])


def test_warns_when_the_end_model_does_not_beat_its_labels_on_dev():
    rng = np.random.default_rng(4)
    X, y = linear_problem(1000, 0.3, rng)
    X_dev, y_dev = linear_problem(100, 0.0, rng)
    perfect_labels = np.eye(2)[y_dev]  # the label source is right on every dev row: the end model cannot beat it
    with pytest.warns(MethodWarning, match=r"scores 0\.\d{3} accuracy .* not above its training labels' 1\.000"):
        Adapter(**FAST).fit(X, y, X_dev, y_dev, P_dev=perfect_labels)


def test_fixed_head_is_kept_and_still_guarded():
    """A given head is not searched; its dev score is still cross-validated and compared with the labels."""
    rng = np.random.default_rng(8)
    X, y = xor_problem(1000, rng)
    X_dev, y_dev = xor_problem(100, rng)
    with pytest.warns(MethodWarning, match="training labels' 1.000"):
        model = Adapter(**{**FAST, "hidden": (16,)}).fit(X, y, X_dev, y_dev, P_dev=np.eye(2)[y_dev])
    assert model.hidden_ == (16,) and list(model.selection_["table"]) == ["MLP[16], weight decay 0"]
    assert Adapter().hidden == (256,)


def test_no_warning_when_the_end_model_beats_its_labels():
    rng = np.random.default_rng(5)
    X, y = linear_problem(1000, 0.1, rng)
    X_dev, y_dev = linear_problem(100, 0.0, rng)
    wrong_labels = np.eye(2)[1 - y_dev] * 0.6 + 0.2  # a label source wrong on every dev row
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Adapter(**FAST).fit(X, y, X_dev, y_dev, P_dev=wrong_labels)
    assert model.dev_score_ > 0.5


def test_p_dev_needs_the_dev_set_and_the_classes_of_p():
    rng = np.random.default_rng(6)
    X, y = linear_problem(50, 0.0, rng)
    with pytest.raises(ValueError, match="P_dev"):
        Adapter(**FAST).fit(X, y, P_dev=np.eye(2)[y])
    with pytest.raises(ValueError, match="P_dev"):
        Adapter(**FAST).fit(X, y, X[:10], y[:10], P_dev=np.full((10, 3), 1 / 3))


def test_chosen_head_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(7)
    X, y = linear_problem(600, 0.2, rng)
    X_dev, y_dev = linear_problem(60, 0.0, rng)
    model = Adapter(**{**FAST, "max_epochs": 5}).fit(X, y, X_dev, y_dev)
    path = model.save(tmp_path / "adapter.lf")
    for loaded in (Adapter.load(path, device="cpu"), labelfuse.load(path)):
        assert loaded.hidden == "auto" and loaded.hidden_ == model.hidden_
        assert loaded.weight_decay_ == model.weight_decay_
        np.testing.assert_allclose(loaded.predict_proba(X_dev), model.predict_proba(X_dev), rtol=1e-6)
