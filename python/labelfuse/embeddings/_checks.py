"""Embedding checks shared by the graph, partitions and smoothness code."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._validation import as_numeric_matrix

NAN_POLICIES = ("raise", "zero")
_BLOCK_ROWS = 1 << 16


def as_unit_embeddings(
    X: Any, name: str = "X", nan_policy: str = "raise", dim: Optional[int] = None
) -> np.ndarray:
    """X as a new C-contiguous float32 array with unit-norm rows (the caller's array is never touched).

    Any real dtype is accepted (float16/32/64, integers). Rows are normalised in float64, block by block, after
    dividing by their largest entry: a row of any finite magnitude (1e-44 as well as 1e300, beyond float32) keeps
    its direction instead of underflowing to zero or overflowing to inf. Rows with NaN or inf raise a ValueError
    naming ``name`` and the first bad row (``nan_policy="raise"``), or become zero vectors (``nan_policy="zero"``).
    Zero rows stay zero: their cosine similarity to every row is 0, so they never pass a positive threshold.
    """
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy: expected one of {NAN_POLICIES}, got {nan_policy!r}")
    X = as_numeric_matrix(X, name, what="embeddings", columns=dim, columns_of="the training embeddings' dimension")
    n = X.shape[0]
    out = np.empty(X.shape, dtype=np.float32)
    finite = np.ones(n, dtype=bool)
    for start in range(0, n, _BLOCK_ROWS):  # bounded float64 scratch, whatever n
        block = np.array(X[start:start + _BLOCK_ROWS], dtype=np.float64)
        ok = np.isfinite(block).all(axis=1)
        finite[start:start + block.shape[0]] = ok
        block[~ok] = 0.0
        peak = np.abs(block).max(axis=1, initial=0.0)
        block /= np.where(peak > 0, peak, 1.0)[:, None]
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        block /= np.where(norms > 0, norms, 1.0)[:, None]
        out[start:start + block.shape[0]] = block
    if nan_policy == "raise" and not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{name}: row {bad} (and {int((~finite).sum()) - 1} more) has NaN or inf values; "
            "clean them or pass nan_policy='zero' to treat such rows as zero vectors"
        )
    return out
