"""Slow, obviously-correct numpy versions of the native computations, for the tests."""
from __future__ import annotations

from typing import Optional

import numpy as np


def reference_stats(L, k: int, Y=None, groups=None, n_groups: int = 1, overlap: bool = False) -> dict:
    """Every LabelStats count, per group, straight from the definitions."""
    L = np.asarray(L).astype(np.int64)
    n, m = L.shape
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    out = {key: [] for key in ("rows", "covered", "overlapping", "conflicting", "class_counts", "lf_overlaps",
                               "lf_conflicts", "covote", "agree")}
    if overlap:
        out["overlap"] = []
    if Y is not None:
        out["confusion"], out["gold_counts"] = [], []
    for g in range(n_groups):
        sel = groups == g
        Lg = L[sel]
        V = Lg >= 0
        nv = V.sum(axis=1)
        lo = np.where(V, Lg, k).min(axis=1)
        hi = np.where(V, Lg, -1).max(axis=1)
        conflict = (nv >= 2) & (lo != hi)
        onehot = np.stack([(Lg == c) for c in range(k)], axis=2).astype(np.float64)  # (n_g, m, k)
        Vf = V.astype(np.float64)
        out["rows"].append(sel.sum())
        out["covered"].append((nv >= 1).sum())
        out["overlapping"].append((nv >= 2).sum())
        out["conflicting"].append(conflict.sum())
        out["class_counts"].append(onehot.sum(axis=0))
        out["lf_overlaps"].append((V & (nv >= 2)[:, None]).sum(axis=0))
        out["lf_conflicts"].append((V & conflict[:, None]).sum(axis=0))
        out["covote"].append(Vf.T @ Vf)
        out["agree"].append(sum(onehot[:, :, c].T @ onehot[:, :, c] for c in range(k)))
        if overlap:
            A = onehot.reshape(-1, m * k)
            out["overlap"].append((A.T @ A).reshape(m, k, m, k))
        if Y is not None:
            Yg = np.asarray(Y)[sel]
            out["confusion"].append(np.stack([onehot[Yg == y].sum(axis=0) for y in range(k)], axis=1))
            out["gold_counts"].append(np.bincount(Yg, minlength=k))
    return {key: np.rint(np.array(v, dtype=np.float64)).astype(np.int64) for key, v in out.items()}


def exact_end_posterior(graph, L, lf_tasks, tables, class_balance) -> np.ndarray:
    """Slow, obviously-correct reference: enumerate end labels, multiply each LF's table entry for its task's
    state on that end label, normalise. Pure numpy, a Python loop over rows and end labels."""
    from labelfuse.hierarchy import NOT_APPLICABLE, as_task_votes

    votes = as_task_votes(graph, L, lf_tasks)
    lab = graph.end_task_labels
    index = {t: i for i, t in enumerate(graph.tasks)}
    out = np.zeros((votes.n, graph.n_end_labels))
    for i in range(votes.n):
        for e in range(graph.n_end_labels):
            p = class_balance[e]
            for j, t in enumerate(votes.lf_tasks):
                state = lab[e, index[t]]
                state = graph.cardinality(t) if state == NOT_APPLICABLE else state
                p *= tables[j][votes.L[i, j] + 1, state]
            out[i, e] = p
        out[i] /= out[i].sum()
    return out
