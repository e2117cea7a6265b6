"""Plots of weak-supervision results: LF coverage / overlap / conflict bars, the histogram of probabilistic labels,
the confusion matrix of predictions against gold labels.

Each function draws on the matplotlib axes it is given (or on a new pyplot figure when ``ax`` is None) and returns
the axes, as :func:`labelfuse.embeddings.smoothness.plot_smoothness` does. The same functions draw the plots of
``labelfuse run --plots DIR``, of :meth:`labelfuse.labeling.LFAnalysis.plot` and of the studio, so a number looks
the same everywhere. :func:`figure_bytes` renders a figure without pyplot (no global state: the studio draws from
several threads).

Example::

    from labelfuse.plotting import plot_lf_bars, plot_label_histogram, plot_confusion_matrix

    ax = plot_lf_bars(LFAnalysis(L, names).lf_summary())
    ax.figure.savefig("lfs.png")
    plot_label_histogram(label_model.predict_proba(L))
    plot_confusion_matrix(Y_dev, label_model.predict(L_dev), class_names=["HAM", "SPAM"])
"""
from __future__ import annotations

import io
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

__all__ = ["confusion_counts", "figure_bytes", "label_histogram_counts", "new_figure", "plot_confusion_matrix",
           "plot_label_histogram", "plot_lf_bars"]

# One colour per bar kind, the same in every plot and in the studio page (static/studio.css uses these values).
COLORS = {"Coverage": "#4c78a8", "Overlaps": "#9ecae9", "Conflicts": "#e45756"}


def new_figure(size: Tuple[float, float] = (6.0, 4.0)) -> Any:
    """A matplotlib Figure with one axes, made without pyplot (safe from any thread, nothing global registered);
    returns the axes (its figure is ``ax.figure``)."""
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained").add_subplot()


def _axes(ax: Any, size: Tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def figure_bytes(fig: Any, format: str = "svg") -> bytes:
    """The figure rendered to ``format`` ("svg" or "png") in memory."""
    if format not in ("svg", "png"):
        raise ValueError(f"format: expected 'svg' or 'png', got {format!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=format, dpi=100)
    return buf.getvalue()


def plot_lf_bars(summary: pd.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Coverage, overlaps and conflicts of each LF as horizontal bars (fractions of rows), one group per LF.

    Args:
        summary: a per-LF table with "Coverage", "Overlaps" and "Conflicts" columns, indexed by LF name
            (:meth:`LFAnalysis.lf_summary` or ``Workspace.summary()``).
        ax: matplotlib axes to draw on (default: a new figure sized to the number of LFs).
        title: the axes title.

    Example::

        ax = plot_lf_bars(LFAnalysis(L, names).lf_summary())
    """
    missing = [c for c in COLORS if c not in summary.columns]
    if missing:
        raise ValueError(f"summary: expected columns {list(COLORS)}, missing {missing}")
    m = len(summary)
    ax = _axes(ax, (6.0, max(2.0, 0.32 * m + 1.0)))
    y = np.arange(m)
    height = 0.27
    for i, col in enumerate(COLORS):
        ax.barh(y + (i - 1) * height, summary[col].to_numpy(dtype=float), height=height, color=COLORS[col],
                label=col.lower())
    ax.set_yticks(y, [str(n) for n in summary.index])
    ax.invert_yaxis()  # the first LF on top, as in the table
    ax.set_xlim(0, max(1e-3, float(summary["Coverage"].max()) * 1.1) if m else 1)
    ax.set_xlabel("fraction of rows")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title if title is not None else "LF coverage, overlaps, conflicts")
    return ax


def plot_label_histogram(proba: Any, ax: Any = None, *, class_names: Optional[Sequence[str]] = None,
                         bins: int = 20, title: Optional[str] = None) -> Any:
    """Histogram of probabilistic labels: P(class 1) for two classes, else the largest posterior of each row.

    Rows the label model knows nothing about sit at the prior; a pile at 0 and 1 means confident labels.

    Example::

        plot_label_histogram(LabelModel().fit(L).predict_proba(L))
    """
    counts, edges, xlabel = label_histogram_counts(proba, bins=bins, class_names=class_names)
    ax = _axes(ax, (6.0, 3.5))
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=COLORS["Coverage"], edgecolor="white")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rows")
    ax.set_title(title if title is not None else f"Probabilistic labels ({int(counts.sum())} rows)")
    return ax


def label_histogram_counts(proba: Any, *, bins: int = 20, class_names: Optional[Sequence[str]] = None
                           ) -> Tuple[np.ndarray, np.ndarray, str]:
    """The numbers :func:`plot_label_histogram` draws: (counts per bin, bin edges on [0, 1], the x label)."""
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"proba: expected an (n, k) matrix with k >= 2 classes, got shape {P.shape}")
    if P.shape[1] == 2:
        values = P[:, 1]
        xlabel = f"P({class_names[1] if class_names is not None else 'class 1'})"
    else:
        values = P.max(axis=1)
        xlabel = "largest posterior"
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return counts, edges, xlabel


def plot_confusion_matrix(y_true: Any, y_pred: Any, ax: Any = None, *, cardinality: Optional[int] = None,
                          class_names: Optional[Sequence[str]] = None, title: Optional[str] = None) -> Any:
    """Counts of (gold, predicted) pairs as an annotated heat map; rows whose gold label is -1 are left out, and
    predictions of -1 (undecided) get a column of their own.

    Example::

        plot_confusion_matrix(Y_dev, model.predict(L_dev), class_names=["HAM", "SPAM"])
    """
    counts = confusion_counts(y_true, y_pred, cardinality=cardinality if cardinality is not None else
                              (len(class_names) if class_names is not None else None))
    k, cols = counts.shape
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    ax = _axes(ax, (1.2 * cols + 2.0, 1.1 * k + 1.5))
    ax.imshow(counts, cmap="Blues")
    top = counts.max(initial=0)
    for i in range(k):
        for j in range(cols):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if top and counts[i, j] > top / 2 else "black")
    ax.set_xticks(range(cols), names + ["undecided"] * (cols - k))
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    total = int(counts.sum())
    acc = float(np.trace(counts[:, :k])) / total if total else float("nan")
    ax.set_title(title if title is not None else f"Dev confusion matrix (accuracy {acc:.3f}, {total} rows)")
    return ax


def confusion_counts(y_true: Any, y_pred: Any, *, cardinality: Optional[int] = None) -> np.ndarray:
    """The numbers :func:`plot_confusion_matrix` draws: counts[gold, predicted], (k, k), or (k, k + 1) when some
    prediction is -1 (undecided, the last column). Rows whose gold label is -1 are left out."""
    y = np.asarray(y_true).astype(np.int64, copy=False).ravel()
    p = np.asarray(y_pred).astype(np.int64, copy=False).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_pred: expected one prediction per gold label ({y.shape[0]}), got {p.shape[0]}")
    keep = y >= 0
    y, p = y[keep], p[keep]
    k = cardinality if cardinality is not None else int(max(y.max(initial=0), p.max(initial=0))) + 1
    if (p >= k).any() or (y >= k).any():
        raise ValueError(f"y_true / y_pred: class ids must be below cardinality {k}")
    if (p < -1).any():
        raise ValueError("y_pred: expected class ids 0..k-1, or -1 for an undecided row")
    abstain = bool((p == -1).any())  # undecided predictions get a column of their own (they count as wrong)
    counts = np.zeros((k, k + abstain), dtype=np.int64)
    np.add.at(counts, (y, np.where(p == -1, k, p)), 1)
    return counts
