"""CUDA paths: device="auto" picks the GPU, mixed precision trains, a CUDA-trained model loads on CPU.
Marked `cuda`; skipped where torch sees no GPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

from labelfuse.endmodels import Adapter, HierMTL  # noqa: E402


def problem(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 16))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    P = np.stack([1 - y, y], 1) * 0.8 + 0.1
    return X, P, y


def test_auto_device_uses_cuda_with_mixed_precision_and_learns(tmp_path: Path):
    X, P, y = problem()
    model = Adapter(hidden=(64,), max_epochs=20, random_state=0, progress=False)
    model.fit(X[:1500], P[:1500], X[1500:1700], y[1500:1700])
    assert model.device_.type == "cuda"
    assert next(model.network_.parameters()).device.type == "cuda"
    assert model.score(X[1700:], y[1700:]) > 0.9
    model.save(tmp_path / "m")
    on_cpu = Adapter.load(tmp_path / "m", device="cpu")
    assert next(on_cpu.network_.parameters()).device.type == "cpu"
    # fp16 autocast on GPU vs fp32 on CPU: the same predictions up to half-precision rounding
    np.testing.assert_allclose(on_cpu.predict_proba(X[1700:]), model.predict_proba(X[1700:]), atol=5e-3)


def test_mixed_precision_off_matches_cpu_closely():
    X, P, y = problem(n=400)
    gpu = Adapter(hidden=(16,), max_epochs=2, random_state=0, mixed_precision=False, device="cuda", progress=False).fit(X, P)
    assert gpu.predict_proba(X).shape == (400, 2)


def test_hier_mtl_on_cuda():
    tasks = {"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 0)}}
    X, P2, y = problem(n=600)
    P = np.stack([P2[:, 0] * 0.5, P2[:, 0] * 0.5, P2[:, 1]], axis=1)  # end labels (a0,b0), (a0,b1), (a1)
    model = HierMTL(tasks, max_epochs=2, random_state=0, progress=False).fit(X, P)
    assert model.device_.type == "cuda" and model.predict_proba(X).shape == (600, 3)
