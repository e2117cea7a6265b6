"""Shared pieces of the statistics benchmarks: cached synthetic matrices, "one read" baselines, a plain numpy
reference for the same counts, and Snorkel's equivalents (when Snorkel is importable).

Used by bench/conftest.py (pytest-benchmark) and bench/compare_stats.py (headline table), so both time exactly
the same callables.
"""
from __future__ import annotations

import functools
import time
import importlib.util
import warnings
from typing import Callable, Dict, List, Optional

import numpy as np

from labelfuse import GroupIndex, label_stats
from labelfuse.synthetic import make_label_matrix

HAVE_SNORKEL = importlib.util.find_spec("snorkel") is not None

# Snorkel's overlap matrix materialises a dense float64 one-hot matrix (n, m*k) plus same-sized temporaries;
# beyond this many bytes for that matrix we skip it rather than swap the shared machine.
SNORKEL_ONEHOT_LIMIT = 2 << 30
# The numpy reference multiplies one-hot blocks of this many rows (bounded memory at any n).
REFERENCE_BLOCK_ROWS = 1 << 16
N_GROUPS = 16


@functools.lru_cache(maxsize=None)
def label_matrix(n: int, m: int, k: int) -> np.ndarray:
    """int8 L from the generative model; cached for the whole process (1e6 x 200 takes ~15 s to draw)."""
    L = make_label_matrix(n, m, k, random_state=1234 + m + k).L
    assert L.dtype == np.int8
    L.setflags(write=False)  # every contender reads the same bytes; nobody may change them
    return L


@functools.lru_cache(maxsize=None)
def group_index(n: int) -> GroupIndex:
    groups = np.random.default_rng(7).integers(0, N_GROUPS, size=n)
    return GroupIndex.from_groups(groups, n, N_GROUPS)


def edited_column(L: np.ndarray, k: int, column: int = 0, fraction: float = 0.1, seed: int = 3) -> np.ndarray:
    """A copy of L whose LF `column` was "edited": `fraction` of its rows get a fresh vote (or abstain)."""
    rng = np.random.default_rng(seed)
    L2 = np.array(L)
    rows = rng.random(L.shape[0]) < fraction
    L2[rows, column] = rng.integers(-1, k, size=int(rows.sum()), dtype=np.int8)
    return L2


# -- "one read" of L -----------------------------------------------------------------------------------------
# All three touch every byte of L once. `votes` (count_nonzero(L != -1)) is the yardstick of the goal: it is
# the simplest statistic of L (the number of votes) and, like the kernel, it compares every entry with -1.
# `max` is numpy's fastest pass (SIMD, no temporary: the memory-bandwidth floor); `sum` upcasts int8 to int64.
ONE_READS: Dict[str, Callable[[np.ndarray], object]] = {
    "votes": lambda L: np.count_nonzero(L != -1),
    "sum": lambda L: L.sum(),
    "max": lambda L: L.max(),
}
ONE_READ = "votes"


# -- plain numpy reference -----------------------------------------------------------------------------------
def numpy_stats(L: np.ndarray, k: int, overlap_matrix: bool = False) -> Dict[str, np.ndarray]:
    """The ungrouped counts of `label_stats` with numpy only. Pairwise counts are BLAS products of indicator
    blocks (float32, exact for counts < 2**24): k products of (n, m) class indicators for agree, one of the
    vote indicators for covote, or, with the overlap matrix, the (n, m*k) one-hot block times itself."""
    n, m = L.shape
    assert n < 2**24, "float32 GEMM counts are exact only below 2**24 rows"
    voted = L != -1
    nv = voted.sum(axis=1)
    Lmax = L.max(axis=1)
    Lmin = np.where(voted, L, k).min(axis=1)
    overlapping = nv >= 2
    conflicting = voted.any(axis=1) & (Lmin != Lmax)
    class_counts = np.stack([(L == c).sum(axis=0) for c in range(k)], axis=1)
    out = {
        "rows": np.array([n]),
        "covered": np.array([int(voted.any(axis=1).sum())]),
        "overlapping": np.array([int(overlapping.sum())]),
        "conflicting": np.array([int(conflicting.sum())]),
        "class_counts": class_counts[None],
        "lf_overlaps": (voted & overlapping[:, None]).sum(axis=0)[None],
        "lf_conflicts": (voted & conflicting[:, None]).sum(axis=0)[None],
    }
    if overlap_matrix:
        O = np.zeros((m * k, m * k), dtype=np.float64)
        for b in range(0, n, REFERENCE_BLOCK_ROWS):
            blk = L[b : b + REFERENCE_BLOCK_ROWS]
            onehot = (blk[:, :, None] == np.arange(k, dtype=L.dtype)).reshape(blk.shape[0], m * k)
            onehot = onehot.astype(np.float32)
            O += onehot.T @ onehot
        O = O.astype(np.int64).reshape(m, k, m, k)
        out["covote"] = O.sum(axis=(1, 3))[None]
        out["agree"] = np.einsum("iaja->ij", O)[None]
        out["overlap"] = O[None]
        return out
    covote = np.zeros((m, m))
    agree = np.zeros((m, m))
    for b in range(0, n, REFERENCE_BLOCK_ROWS):
        blk = L[b : b + REFERENCE_BLOCK_ROWS]
        V = (blk != -1).astype(np.float32)
        covote += V.T @ V
        for c in range(k):
            C = (blk == c).astype(np.float32)
            agree += C.T @ C
    out["covote"] = covote.astype(np.int64)[None]
    out["agree"] = agree.astype(np.int64)[None]
    return out


def assert_same_counts(ref: Dict[str, np.ndarray], got) -> None:
    for name, want in ref.items():
        np.testing.assert_array_equal(getattr(got, name), want, err_msg=name)


# -- Snorkel 0.10 --------------------------------------------------------------------------------------------
def snorkel_lf_summary(L: np.ndarray):
    from snorkel.labeling import LFAnalysis

    with warnings.catch_warnings():  # scipy >= 1.14 warns inside Snorkel about an int8 -> float64 cast
        warnings.simplefilter("ignore", FutureWarning)
        return LFAnalysis(L).lf_summary()


def snorkel_overlap_fits(n: int, m: int, k: int) -> bool:
    return 8 * n * m * k <= SNORKEL_ONEHOT_LIMIT


def snorkel_overlap(L: np.ndarray, k: int):
    """What LabelModel.fit does to get O (snorkel/labeling/model/label_model.py, 0.10.0): shift votes to
    0..k, `_set_constants`, `_create_tree`, `_generate_O` = `_get_augmented_label_matrix` (dense float64
    one-hot L_ind) then `L_aug.T @ L_aug / n` as a float32 torch tensor."""
    from snorkel.labeling.model import LabelModel

    model = LabelModel(cardinality=k, verbose=False)
    L_shift = L + 1
    model._set_constants(L_shift)
    model._create_tree()
    model._generate_O(L_shift)
    return model.O


def labelfuse_stats(L: np.ndarray, k: int, *, overlap_matrix: bool = False, n_threads: Optional[int] = None,
                    grouped: bool = False):
    gi = group_index(L.shape[0]) if grouped else None
    return label_stats(L, k, group_index=gi, overlap_matrix=overlap_matrix, n_threads=n_threads)


def time_it(fn: Callable[[], object], repeats: int, warmup: bool) -> Dict[str, List[float]]:
    """Wall and process CPU seconds per call. On a shared machine the CPU time of a 1-thread contender is what
    its wall time would be without the other tenants (for 2 threads it is the sum over both)."""
    if warmup:
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall": wall, "cpu": cpu}
