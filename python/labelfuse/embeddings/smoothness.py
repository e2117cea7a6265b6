"""Label smoothness versus radius: is this embedding a good space to extend votes in?

For a cosine radius r, the smoothness is the probability that two rows with similarity above r share a label:
- from gold labels (a labeled dev set): over all pairs of dev rows;
- from LF votes (no gold): for each LF, over pairs of rows it votes on, whether its two votes agree; pooled over
  LFs (each pair of an LF counts once).
Both are compared with the chance that two random rows (or votes) agree, the baseline. Extension helps where the
curve is high: the suggested radius is the smallest one whose agreement reaches ``min_agreement`` with at least
``min_pairs`` pairs (the highest radius on the grid when none does). Comparing the curves of two embeddings of
the same data tells which one suits the extension better (higher agreement at equal pair counts).

Pairs are counted exactly with blocked dense products; above ``max_rows`` rows (per LF for votes) a seeded
random subset is used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

import numpy as np

from .._base import DEPRECATED, check_random_state, renamed_argument
from .._validation import as_label_matrix, check_count
from ._checks import as_unit_embeddings

__all__ = ["SmoothnessCurve", "label_smoothness", "plot_smoothness"]

DEFAULT_RADII = tuple(np.round(np.arange(0.30, 0.951, 0.05), 3))


@dataclass
class SmoothnessCurve:
    """How often two rows closer than a radius share a label, per radius.

    Args:
        radii: (R,) cosine thresholds.
        agreement: (R,) P(same label | similarity > r); NaN where no pair is that close.
        pairs: (R,) number of pairs with similarity > r.
        baseline: P(same label) for a random pair.
        source: "gold" or "votes".

    Example:
        >>> import numpy as np
        >>> from labelfuse.embeddings import label_smoothness
        >>> X = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2, 2]]
        >>> curve = label_smoothness(X, np.array([0, 0, 1, 1, 0, 0]))
        >>> curve.source, float(curve.agreement[-1])
        ('gold', 1.0)
    """

    radii: np.ndarray      # (R,) cosine thresholds
    agreement: np.ndarray  # (R,) P(same label | similarity > r); NaN where no pair is that close
    pairs: np.ndarray      # (R,) number of pairs with similarity > r
    baseline: float        # P(same label) for a random pair
    source: str            # "gold" or "votes"

    def suggest_radius(self, min_agreement: float = 0.9, min_pairs: int = 20) -> float:
        ok = (self.agreement >= min_agreement) & (self.pairs >= min_pairs)
        return float(self.radii[np.argmax(ok)]) if ok.any() else float(self.radii[-1])

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"radius": self.radii, "agreement": self.agreement, "pairs": self.pairs})

    def plot(self, ax=None, label: Optional[str] = None):
        return plot_smoothness({label or self.source: self}, ax=ax)


def _pair_counts(X: np.ndarray, labels: np.ndarray, edges: np.ndarray, block: int = 1024):
    """Pairs (i < j) binned by similarity into the intervals of ``edges``: (total, same label) per bin."""
    n = X.shape[0]
    total = np.zeros(len(edges) + 1, dtype=np.int64)
    same = np.zeros(len(edges) + 1, dtype=np.int64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        S = X[start:stop] @ X[start:].T  # rows start.. against columns start..
        mask = np.triu(np.ones(S.shape, dtype=bool), k=1)
        sims = S[mask]
        eq = (labels[start:stop, None] == labels[None, start:])[mask]
        bins = np.searchsorted(edges, sims, side="left")  # bin b: edges[b-1] < s <= edges[b]
        total += np.bincount(bins, minlength=len(edges) + 1)
        same += np.bincount(bins, weights=eq, minlength=len(edges) + 1).astype(np.int64)
    return total, same


def label_smoothness(
    X: Any,
    labels: Any = None,
    *,
    L: Any = None,
    radii: Sequence[float] = DEFAULT_RADII,
    max_rows: int = 4000,
    random_state: Any = 0,
    seed: Any = DEPRECATED,
) -> SmoothnessCurve:
    """Smoothness curve of ``labels`` (gold, e.g. a dev set) or of the LF votes ``L`` (no gold) over X.

    ``random_state`` draws the rows kept when a class has more than ``max_rows`` (``seed``: its deprecated former
    name).

    Args:
        X: (n, d) embeddings.
        labels: (n,) gold labels, or None to use ``L``.
        L: (n, m) LF votes (when there is no gold).
        radii: cosine thresholds to evaluate.
        max_rows: rows kept per class.
        random_state: seeds the row sample.
        seed: deprecated name of ``random_state``.

    Returns:
        A :class:`SmoothnessCurve`.

    Example:
        >>> import numpy as np
        >>> from labelfuse.embeddings import label_smoothness
        >>> X = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2, 2]]
        >>> label_smoothness(X, np.array([0, 0, 1, 1, 0, 0])).radii.shape
        (14,)
    """
    random_state = check_random_state(renamed_argument("label_smoothness", random_state, seed))
    if (labels is None) == (L is None):
        raise ValueError("labels: pass exactly one of labels (gold) or L (LF votes)")
    Xu = as_unit_embeddings(X, "X")
    try:
        radii = np.array(radii, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"radii: expected a sequence of cosine thresholds, got {radii!r}") from None
    if radii.ndim != 1 or radii.size == 0 or np.isnan(radii).any():
        raise ValueError("radii: expected a non-empty 1-D sequence of cosine thresholds (no NaN)")
    radii = np.sort(radii)
    check_count(max_rows, "max_rows", 2)  # the rows of one pair at least
    rng = np.random.default_rng(random_state)
    total = np.zeros(radii.size + 1, dtype=np.int64)
    same = np.zeros(radii.size + 1, dtype=np.int64)
    chance_num = chance_den = 0.0

    def add(rows: np.ndarray, lab: np.ndarray):
        nonlocal total, same, chance_num, chance_den
        if rows.size > max_rows:
            pick = np.sort(rng.choice(rows.size, size=max_rows, replace=False))
            rows, lab = rows[pick], lab[pick]
        t, s = _pair_counts(Xu[rows], lab, radii)
        total += t
        same += s
        counts = np.unique(lab, return_counts=True)[1].astype(np.float64)  # class ids may be large
        n = lab.size
        if n > 1:  # P(two distinct random rows share a label), weighted by the number of pairs
            chance_num += (counts * (counts - 1)).sum() / 2
            chance_den += n * (n - 1) / 2

    if labels is not None:
        add(np.arange(Xu.shape[0]), _as_class_ids(labels, Xu.shape[0]))
        source = "gold"
    else:
        L = as_label_matrix(L, "L")
        if L.shape[0] != Xu.shape[0]:
            raise ValueError(f"L: has {L.shape[0]} rows, X has {Xu.shape[0]}")
        if L.size and int(L.min()) < -1:
            r, c = np.argwhere(L < -1)[0]
            raise ValueError(f"L: entry (row {r}, column {c}) is {int(L[r, c])}; votes must be -1 (abstain) or a "
                             "class id >= 0")
        for j in range(L.shape[1]):
            rows = np.flatnonzero(L[:, j] >= 0)
            if rows.size > 1:
                add(rows, L[rows, j].astype(np.int64))
        source = "votes"
    # pairs with similarity > radii[r] are those in bins r+1 .. end
    above_total = np.cumsum(total[::-1])[::-1][1:]
    above_same = np.cumsum(same[::-1])[::-1][1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(above_total > 0, above_same / np.maximum(above_total, 1), np.nan)
    baseline = chance_num / chance_den if chance_den else float("nan")
    return SmoothnessCurve(radii, agreement, above_total, float(baseline), source)


def _as_class_ids(labels: Any, n: int) -> np.ndarray:
    """Gold labels: non-negative integer class ids (any size: no cardinality is needed), one per row."""
    lab = np.asarray(labels)
    if lab.dtype.kind == "f" and (lab.size == 0 or (np.isfinite(lab).all() and (lab == np.round(lab)).all())):
        lab = lab.astype(np.int64)  # whole numbers stored as floats (an empty list is float64)
    if lab.dtype == np.bool_ or lab.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class ids, got dtype {lab.dtype}")
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ValueError(f"labels: expected one label per row of X ({n}), got shape {lab.shape}")
    if lab.size and int(lab.min()) < 0:
        bad = int(np.flatnonzero(lab < 0)[0])
        raise ValueError(f"labels: entry {bad} is {int(lab[bad])}; expected a class id >= 0")
    return lab.astype(np.int64)


def plot_smoothness(curves: Dict[str, SmoothnessCurve], ax=None):
    """Agreement versus radius for one or several curves (e.g. two embeddings), with their baselines.

    Args:
        curves: name -> :class:`SmoothnessCurve`.
        ax: a matplotlib Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Axes.

    Example::

        ax = plot_smoothness({"MiniLM": label_smoothness(X_dev, Y_dev)})
        ax.figure.savefig("smoothness.png")
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        line, = ax.plot(curve.radii, curve.agreement, marker="o", label=f"{name} ({curve.source})")
        ax.axhline(curve.baseline, color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xlabel("cosine radius r")
    ax.set_ylabel("P(same label | similarity > r)")
    ax.set_title("Label smoothness (dotted: random pairs)")
    ax.set_ylim(0, 1.02)
    ax.legend()
    return ax
