"""The plotting helpers draw exactly the numbers they are given (read back from the matplotlib artists)."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from labelfuse.labeling import LFAnalysis  # noqa: E402
from labelfuse.plotting import (figure_bytes, new_figure, plot_confusion_matrix, plot_label_histogram,  # noqa: E402
                                plot_lf_bars)


def _L(seed=0, n=300, m=4, k=2):
    rng = np.random.default_rng(seed)
    L = rng.integers(0, k, size=(n, m))
    L[rng.random((n, m)) < 0.6] = -1
    return L


def test_lf_bars_are_the_summary_numbers():
    L = _L()
    summary = LFAnalysis(L, ["a", "b", "c", "d"]).lf_summary()
    ax = plot_lf_bars(summary, new_figure())
    widths = np.array([p.get_width() for p in ax.patches]).reshape(3, 4)  # one bar series per column, in order
    np.testing.assert_allclose(widths[0], summary["Coverage"])
    np.testing.assert_allclose(widths[1], summary["Overlaps"])
    np.testing.assert_allclose(widths[2], summary["Conflicts"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c", "d"]


def test_lfanalysis_plot_uses_the_same_bars():
    L = _L(1)
    ax = LFAnalysis(L).plot(ax=new_figure())
    cov = (L != -1).mean(axis=0)
    np.testing.assert_allclose([p.get_width() for p in ax.patches][:L.shape[1]], cov)


def test_lf_bars_refuse_a_table_without_the_columns():
    with pytest.raises(ValueError, match="Conflicts"):
        plot_lf_bars(pd.DataFrame({"Coverage": [0.1], "Overlaps": [0.0]}), new_figure())


def test_label_histogram_counts_every_row():
    rng = np.random.default_rng(2)
    p1 = rng.random(500)
    ax = plot_label_histogram(np.c_[1 - p1, p1], new_figure(), class_names=["HAM", "SPAM"])
    heights = np.array([p.get_height() for p in ax.patches])
    np.testing.assert_array_equal(heights, np.histogram(p1, bins=20, range=(0, 1))[0])
    assert ax.get_xlabel() == "P(SPAM)"
    P3 = rng.dirichlet(np.ones(3), size=100)
    ax = plot_label_histogram(P3, new_figure())
    assert sum(p.get_height() for p in ax.patches) == 100 and ax.get_xlabel() == "largest posterior"
    with pytest.raises(ValueError, match="proba"):
        plot_label_histogram(np.ones(5), new_figure())


def test_confusion_matrix_counts_pairs_and_undecided_rows():
    y = np.array([0, 0, 1, 1, 1, 2, -1])
    p = np.array([0, 1, 1, 1, -1, 2, 0])
    ax = plot_confusion_matrix(y, p, new_figure(), cardinality=3)
    expected = np.array([[1, 1, 0, 0], [0, 2, 0, 1], [0, 0, 1, 0]])  # last column: undecided; gold -1 left out
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "undecided"
    assert "accuracy 0.667" in ax.get_title()
    with pytest.raises(ValueError, match="y_pred"):
        plot_confusion_matrix([0, 1], [0], new_figure())


def test_figure_bytes_renders_svg_and_png():
    ax = plot_label_histogram(np.full((4, 2), 0.5), new_figure())
    assert b"<svg" in figure_bytes(ax.figure, "svg")
    assert figure_bytes(ax.figure, "png")[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="format"):
        figure_bytes(ax.figure, "gif")
