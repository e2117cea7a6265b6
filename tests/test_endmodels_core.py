"""Training core and Adapter: learning from soft labels, row exclusion, reproducibility, save/load, bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labelfuse.models import NotFittedError

torch = pytest.importorskip("torch")

from labelfuse.endmodels import Adapter  # noqa: E402
from labelfuse.endmodels._training import epoch_batches, HeadTarget, soft_cross_entropy  # noqa: E402

FAST = dict(progress=False, n_threads=1, device="cpu")


def linear_problem(n=1200, d=8, k=3, seed=0, noise=0.15):
    """A known function (argmax of a random linear map) and soft labels that put 1 - noise on the truth."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k))
    y = (X @ W).argmax(axis=1)
    P = np.full((n, k), noise / (k - 1))
    P[np.arange(n), y] = 1 - noise
    return X, P, y


def weights_of(model):
    return {k: v.clone() for k, v in model.network_.state_dict().items()}


def test_learns_known_function_from_soft_labels():
    X, P, y = linear_problem()
    model = Adapter(hidden=(32,), max_epochs=40, lr=3e-3, random_state=0, **FAST).fit(X[:1000], P[:1000])
    proba = model.predict_proba(X[1000:])
    assert proba.shape == (200, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert model.score(X[1000:], y[1000:]) > 0.9
    assert (model.predict(X[1000:]) == proba.argmax(axis=1)).all()


def test_noisy_soft_labels_beat_their_own_argmax_on_held_out_rows():
    # labels from a noisy "label model": 30% of rows flipped; the end model recovers the clean function.
    X, _, y = linear_problem(n=1500, k=2, seed=1)
    rng = np.random.default_rng(1)
    flip = rng.random(1500) < 0.3
    noisy = np.where(flip, 1 - y, y)
    P = np.stack([np.where(noisy == 0, 0.7, 0.3), np.where(noisy == 1, 0.7, 0.3)], axis=1)
    model = Adapter(hidden=(16,), max_epochs=30, batch_size=64, lr=1e-3, random_state=0, **FAST).fit(X[:1200], P[:1200])
    assert model.score(X[1200:], y[1200:]) > 0.9 > (noisy[1200:] == y[1200:]).mean()


def test_same_seed_identical_weights_different_seed_not():
    X, P, y = linear_problem(n=300)
    a = Adapter(hidden=(16,), max_epochs=3, random_state=7, **FAST).fit(X, P, X[:50], y[:50])
    b = Adapter(hidden=(16,), max_epochs=3, random_state=7, **FAST).fit(X, P, X[:50], y[:50])
    c = Adapter(hidden=(16,), max_epochs=3, random_state=8, **FAST).fit(X, P, X[:50], y[:50])
    wa, wb, wc = weights_of(a), weights_of(b), weights_of(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a.seed_ == 7


def test_fit_leaves_global_rng_and_thread_setting_alone():
    X, P, _ = linear_problem(n=100)
    torch.manual_seed(123)
    expected = torch.rand(3)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    Adapter(hidden=(4,), max_epochs=1, random_state=0, **FAST).fit(X, P)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_soft_cross_entropy_matches_reference_and_ignores_zero_weight_rows():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(6, 3)), dtype=torch.float32, requires_grad=True)
    probs = torch.tensor(rng.dirichlet(np.ones(3), size=6), dtype=torch.float32)
    weight = torch.tensor([1.0, 0.5, 0.0, 2.0, 0.0, 1.0])
    loss = soft_cross_entropy(logits, probs, weight)
    logp = np.log(np.exp(logits.detach().numpy()) / np.exp(logits.detach().numpy()).sum(1, keepdims=True))
    ref = (weight.numpy() * -(probs.numpy() * logp).sum(1)).sum() / weight.numpy().sum()
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-5)
    loss.backward()
    assert torch.all(logits.grad[[2, 4]] == 0)
    assert torch.all(logits.grad[[0, 1, 3, 5]].abs().sum(1) > 0)


def test_uniform_and_masked_rows_are_left_out_of_training():
    X, P, y = linear_problem(n=600, k=2, seed=3)
    P_bad = P.copy()
    P_bad[:300] = 0.5  # all-abstain rows from a label model: uniform
    model = Adapter(hidden=(8,), max_epochs=1, random_state=0, **FAST)
    model.fit(X, P_bad)
    batches = epoch_batches(
        {"y": HeadTarget.from_numpy(P_bad, model._row_weights(P_bad, np.ones(600, bool), 600, None, None))},
        "mmtl", 64, torch.Generator().manual_seed(0),
    )
    seen = torch.cat([b for _, b in batches]).numpy()
    assert sorted(seen) == list(range(300, 600))
    # a caller's mask drops rows too, and wrong labels on masked rows do not matter
    P_wrong = P.copy()
    P_wrong[:300] = P_wrong[:300, ::-1]
    mask = np.arange(600) >= 300
    masked = Adapter(hidden=(8,), max_epochs=25, random_state=0, **FAST).fit(X, P_wrong, mask=mask)
    unmasked = Adapter(hidden=(8,), max_epochs=25, random_state=0, **FAST).fit(X, P_wrong)
    assert masked.score(X[:300], y[:300]) > 0.8
    assert unmasked.score(X[:300], y[:300]) < 0.6


def test_confidence_weighting_downweights_unsure_rows():
    P = np.array([[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]])
    model = Adapter(confidence_weighted=True, exclude_uniform=False)
    w = model._row_weights(P, np.ones(3, bool), 3, None, None)
    assert w[0] == pytest.approx(1.0) and w[1] == pytest.approx(0.0) and 0 < w[2] < 1


def test_early_stopping_keeps_best_dev_epoch():
    X, P, y = linear_problem(n=400, k=2, seed=4)
    model = Adapter(hidden=(16,), max_epochs=30, patience=3, random_state=0, **FAST).fit(X, P, X[:100], y[:100])
    devs = [h["dev"] for h in model.history_]
    assert model.best_dev_score_ == max(devs)
    assert model.score(X[:100], y[:100]) == pytest.approx(max(devs))
    # stopped within `patience` epochs after the first epoch that reached the best score
    assert len(devs) <= devs.index(max(devs)) + 1 + 3


def test_save_load_round_trip(tmp_path: Path):
    from safetensors import safe_open

    X, P, y = linear_problem(n=300, k=3)
    model = Adapter(hidden=(16, 8), max_epochs=3, random_state=0, **FAST).fit(X, P, X[:50], y[:50])
    model.save(tmp_path / "m")
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and (tmp_path / "m").is_file()
    with safe_open(str(tmp_path / "m"), framework="numpy") as f:
        meta = f.metadata()
    assert meta["format_version"] == "2" and meta["class"] == "Adapter"
    loaded = Adapter.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.get_params()["hidden"] == (16, 8)
    assert loaded.n_classes_ == 3 and loaded.n_features_in_ == 8


def test_load_rejects_newer_format_and_foreign_files(tmp_path: Path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    X, P, _ = linear_problem(n=100)
    Adapter(hidden=(4,), max_epochs=1, random_state=0, **FAST).fit(X, P).save(tmp_path / "m")
    with safe_open(str(tmp_path / "m"), framework="numpy") as f:
        meta = dict(f.metadata())
    save_file(load_file(str(tmp_path / "m")), str(tmp_path / "newer"), metadata={**meta, "format_version": "99"})
    with pytest.raises(ValueError, match="format_version"):
        Adapter.load(tmp_path / "newer")
    with pytest.raises(FileNotFoundError, match="nothing"):
        Adapter.load(tmp_path / "nothing")
    (tmp_path / "text").write_text("not a model")
    with pytest.raises(ValueError, match="not a labelfuse model"):
        Adapter.load(tmp_path / "text")


def test_get_set_params_and_unfitted_errors():
    model = Adapter(hidden=(8,), lr=0.01)
    assert model.get_params()["lr"] == 0.01
    assert model.set_params(lr=0.1) is model and model.lr == 0.1
    with pytest.raises(ValueError, match="not_a_param"):
        model.set_params(not_a_param=1)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict_proba(np.zeros((2, 3)))
    assert "lr=0.1" in repr(model)


@pytest.mark.parametrize(
    "P, exc, match",
    [
        (np.full((10, 2), 0.6), ValueError, "P: row 0 sums to 1.2"),
        (np.full((9, 2), 0.5), ValueError, "P: expected 10 rows"),
        (np.full((10, 2, 1), 0.5), ValueError, "P: expected a 2-D array"),
        (np.full((10, 1), 1.0), ValueError, "P: expected at least 2 classes"),
        (np.linspace(0, 1, 10), TypeError, "P: a 1-D label vector"),
        (np.array([[1.5, -0.5]] * 10), ValueError, "outside"),
        (np.array([[np.nan, 1.0]] * 10), ValueError, "partly NaN"),
    ],
)
def test_bad_labels_name_the_argument(P, exc, match):
    X = np.zeros((10, 3))
    with pytest.raises(exc, match=match):
        Adapter(**FAST).fit(X, P)


def test_bad_features_name_the_argument():
    X, P, y = linear_problem(n=20, k=2)
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"X: entry \(3, 2\) is nan"):
        Adapter(**FAST).fit(X_nan, P)
    with pytest.raises(TypeError, match="X: expected a numeric"):
        Adapter(**FAST).fit(np.array([["a"] * 3] * 20), P)
    model = Adapter(hidden=(4,), max_epochs=1, **FAST).fit(X, P)
    with pytest.raises(ValueError, match="X: expected 8 columns"):
        model.predict_proba(X[:, :5])
    with pytest.raises(ValueError, match="Y_dev: entry 0 is 5"):
        Adapter(**FAST).fit(X, P, X[:4], [5, 0, 1, 0])
    with pytest.raises(ValueError, match="X_dev, Y_dev"):
        Adapter(**FAST).fit(X, P, X_dev=X[:4])
    with pytest.raises(ValueError, match="mask: expected shape"):
        Adapter(**FAST).fit(X, P, mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="no row carries a label"):
        Adapter(**FAST).fit(X, np.full_like(P, 0.5))
    with pytest.raises(ValueError, match="device"):
        Adapter(device="tpu", progress=False).fit(X, P)


def test_fit_does_not_mutate_inputs():
    X, P, y = linear_problem(n=50, k=2)
    X0, P0 = X.copy(), P.copy()
    P[0] = np.nan
    P0[0] = np.nan
    Adapter(hidden=(4,), max_epochs=1, **FAST).fit(X, P)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(P, P0)


def test_hard_labels_with_minus_one_are_accepted():
    X, P, y = linear_problem(n=200, k=2)
    hard = y.copy()
    hard[:50] = -1
    model = Adapter(hidden=(8,), max_epochs=40, lr=1e-2, random_state=0, **FAST).fit(X, hard)
    assert model.n_classes_ == 2 and model.score(X, y) > 0.8


def test_import_labelfuse_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import labelfuse\n"
        "from labelfuse import *\n"
        "from labelfuse.endmodels import TaskGraph, as_task_tree, slicing_function\n"
        "try:\n    labelfuse.Adapter\nexcept ImportError as e:\n    print('IMPORTERROR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "IMPORTERROR" in out.stdout and "install torch" in out.stdout


def test_import_labelfuse_does_not_import_torch():
    code = "import sys, labelfuse, labelfuse.endmodels; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_progress_bar_shows_running_loss_and_dev_metric(capsys):
    X, P, y = linear_problem(n=100, k=2)
    Adapter(hidden=(4,), max_epochs=2, random_state=0, progress=True, n_threads=1, device="cpu").fit(X, P, X[:20], y[:20])
    err = capsys.readouterr().err
    assert "Adapter" in err and "loss=" in err and "dev=" in err
