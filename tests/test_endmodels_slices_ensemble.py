"""Slice heads (trained only on members, per-slice report) and ensembles."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelfuse.endmodels import apply_slicing_functions, slicing_function

torch = pytest.importorskip("torch")

from labelfuse.endmodels import Adapter, Ensemble, SliceClassifier  # noqa: E402
from labelfuse.endmodels._training import HeadTarget, _Trainer, Inputs, TrainSettings  # noqa: E402
from labelfuse.endmodels.ensemble import load_model  # noqa: E402

FAST = dict(progress=False, n_threads=1, device="cpu")


def sliced_problem(n=1500, seed=0, k=3):
    """k classes from a linear rule, except on the slice x0 > 1 where the rule is different (a minority the base
    head alone fits poorly)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 1:1 + k] * np.array([1.0, 0.8, 0.6][:k])).argmax(axis=1)
    in_slice = X[:, 0] > 1.0
    y = np.where(in_slice, (X[:, 3:3 + k] if k <= 2 else X[:, 2:2 + k]).argmin(axis=1), y)
    P = np.full((n, k), 0.05 / (k - 1))
    P[np.arange(n), y] = 0.95
    S = pd.DataFrame({"x0_high": in_slice, "x4_neg": X[:, 4] < -1.5})
    return X, P, y, S


def test_slicing_functions_apply_to_examples_and_dataframes():
    @slicing_function()
    def short(x):
        return len(x.text) < 5

    @slicing_function("has_digit")
    def digit(x):
        return any(c.isdigit() for c in x.text)

    df = pd.DataFrame({"text": ["hi", "hello world 2", "x1"]})
    S = apply_slicing_functions([short, digit], df)
    assert list(S.columns) == ["short", "has_digit"]
    assert S.to_numpy().tolist() == [[True, False], [False, True], [True, True]]
    with pytest.raises(ValueError, match="unique"):
        apply_slicing_functions([short, short], df)


def test_slice_heads_get_no_gradient_from_non_members():
    X, P, y, S = sliced_problem(n=200)
    model = SliceClassifier(hidden=(8,), max_epochs=1, random_state=0, **FAST).fit(X, P, S)
    net = model.network_
    member = S["x0_high"].to_numpy()
    targets = {
        name: HeadTarget.from_numpy(p, w)
        for name, (p, w) in {
            "base": (P, np.ones(200)),
            "slice:x0_high": (P, member.astype(float)),
            "slice:x4_neg": (P, S["x4_neg"].to_numpy().astype(float)),
        }.items()
    }
    settings = TrainSettings(lr=1e-3, weight_decay=0.0, batch_size=64, max_epochs=1, patience=None, schedule="joint")
    trainer = _Trainer(net, Inputs(X.astype(np.float32)), targets, settings, torch.device("cpu"), False,
                       torch.Generator(), None)
    outsiders = torch.as_tensor(np.flatnonzero(~member & ~S["x4_neg"].to_numpy()))
    net.zero_grad()
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    trainer._step(opt, None, outsiders, only=list(targets))  # a joint batch of non-members only
    head = net.heads["slice:x0_high"]
    assert head.weight.grad is None or torch.all(head.weight.grad == 0)
    assert net.heads["base"].weight.grad.abs().sum() > 0
    members = torch.as_tensor(np.flatnonzero(member))
    trainer._step(opt, None, members, only=list(targets))
    assert head.weight.grad.abs().sum() > 0
    # and in the MMTL schedule, a slice head's batches hold members only
    from labelfuse.endmodels._training import epoch_batches

    for name, idx in epoch_batches(targets, "mmtl", 32, torch.Generator().manual_seed(0)):
        if name == "slice:x0_high":
            assert member[idx.numpy()].all()


def test_slice_model_learns_the_slice_and_reports_per_slice_metrics():
    X, P, y, S = sliced_problem(n=2400, seed=1)
    tr, dev, te = slice(0, 1800), slice(1800, 2100), slice(2100, 2400)
    model = SliceClassifier(hidden=(32,), max_epochs=40, lr=3e-3, random_state=0, **FAST)
    model.fit(X[tr], P[tr], S.iloc[tr], X[dev], y[dev], S.iloc[dev].reset_index(drop=True))
    assert model.slice_names_ == ["x0_high", "x4_neg"] and model.slice_sizes_["x0_high"] == int(S["x0_high"][tr].sum())
    report = model.slice_report(X[te], y[te], S.iloc[te].reset_index(drop=True))
    assert list(report.index) == ["overall", "x0_high", "x4_neg"]
    assert list(report.columns) == ["n", "accuracy", "macro_f1", "base_accuracy", "base_macro_f1"]
    assert report.loc["overall", "n"] == 300 and report.loc["x0_high", "n"] == int(S["x0_high"][te].sum())
    assert report.loc["overall", "accuracy"] > 0.85
    assert report.loc["x0_high", "accuracy"] >= report.loc["x0_high", "base_accuracy"]
    proba = model.predict_proba(X[te], S.iloc[te])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
    assert model.score(X[te], y[te], S.iloc[te]) == pytest.approx(report.loc["overall", "accuracy"])


def test_slice_model_save_load_and_bad_membership(tmp_path: Path):
    X, P, y, S = sliced_problem(n=200)
    model = SliceClassifier(hidden=(8,), max_epochs=2, random_state=0, **FAST).fit(X, P, S)
    model.save(tmp_path / "s")
    loaded = load_model(tmp_path / "s", device="cpu")
    assert isinstance(loaded, SliceClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X, S), model.predict_proba(X, S))
    with pytest.raises(ValueError, match="S: slice membership"):
        model.predict_proba(X)
    with pytest.raises(ValueError, match="S: expected 2 slice columns"):
        model.predict_proba(X, S[["x0_high"]])
    with pytest.raises(TypeError, match="S: expected boolean"):
        SliceClassifier(**FAST).fit(X, P, np.full((200, 1), 0.5))
    with pytest.raises(ValueError, match="S_dev"):
        SliceClassifier(**FAST).fit(X, P, S, X[:10], y[:10])


def test_ensemble_averages_member_probabilities(tmp_path: Path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    P = np.stack([1 - y, y], 1) * 0.8 + 0.1
    ens = Ensemble(Adapter(hidden=(8,), max_epochs=3, **FAST), n_members=3, random_state=5).fit(X, P, X[:60], y[:60])
    assert [m.seed_ for m in ens.members_] == [5, 6, 7]
    expected = np.mean([m.predict_proba(X) for m in ens.members_], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X), expected)
    assert ens.score(X, y) == pytest.approx((expected.argmax(1) == y).mean())
    ens.save(tmp_path / "e")
    loaded = load_model(tmp_path / "e", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(X), expected)
    split = Ensemble(Adapter(hidden=(8,), max_epochs=2, **FAST), n_members=2, vary="dev_split", dev_fraction=0.5)
    assert len(split.fit(X, P, X[:60], y[:60]).members_) == 2
    with pytest.raises(ValueError, match="X_dev"):
        Ensemble(Adapter(**FAST), vary="dev_split").fit(X, P)
    both = Ensemble.from_models(ens.members_[:2])
    np.testing.assert_allclose(both.predict_proba(X), np.mean([m.predict_proba(X) for m in ens.members_[:2]], 0))


def test_ensemble_of_slice_models_passes_membership_through():
    X, P, y, S = sliced_problem(n=300)
    base = SliceClassifier(hidden=(8,), max_epochs=2, **FAST)
    ens = Ensemble(base, n_members=2, vary="dev_split", dev_fraction=0.5)
    ens.fit(X[:200], P[:200], X[200:], y[200:], S=S.iloc[:200], S_dev=S.iloc[200:].reset_index(drop=True))
    proba = ens.predict_proba(X, S)
    np.testing.assert_allclose(proba, np.mean([m.predict_proba(X, S) for m in ens.members_], axis=0))
