"""Embedding checks shared by the graph, partitions and smoothness code."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

NAN_POLICIES = ("raise", "zero")


def as_unit_embeddings(
    X: Any, name: str = "X", nan_policy: str = "raise", dim: Optional[int] = None
) -> np.ndarray:
    """X as a new C-contiguous float32 array with unit-norm rows (one copy; the caller's array is never touched).

    float16/float64 input is converted once. Rows with NaN or inf raise a ValueError naming ``name`` and the
    first bad row (``nan_policy="raise"``), or become zero vectors (``nan_policy="zero"``). Zero rows stay zero:
    their cosine similarity to every row is 0, so they never pass a positive threshold.
    """
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy: expected one of {NAN_POLICIES}, got {nan_policy!r}")
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "fiu" or X.dtype == np.bool_:
        raise TypeError(f"{name}: expected a float array of embeddings, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_rows, dim), got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"{name}: has zero columns")
    if dim is not None and X.shape[1] != dim:
        raise ValueError(f"{name}: expected {dim} columns (the training embeddings' dimension), got {X.shape[1]}")
    out = np.array(X, dtype=np.float32, order="C", copy=True)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        if nan_policy == "raise":
            raise ValueError(
                f"{name}: row {bad} (and {int((~finite).sum()) - 1} more) has NaN or inf values; "
                "clean them or pass nan_policy='zero' to treat such rows as zero vectors"
            )
        out[~finite] = 0.0
    norms = np.sqrt(np.einsum("ij,ij->i", out, out, dtype=np.float64))
    # float16 inputs saved as "normalised" are off by ~1e-3; always renormalise so cosine = inner product.
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0).astype(np.float32)
    out *= scale[:, None]
    return out
