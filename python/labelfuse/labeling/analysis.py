"""LF analysis: the per-LF summary Snorkel users know, computed from one native pass over L."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
import pandas as pd

from .._validation import as_label_matrix, check_n_threads, infer_cardinality, require_rows
from ..stats import LabelStats, label_stats

__all__ = ["LFAnalysis"]


class LFAnalysis:
    """Coverage, overlaps, conflicts and (with gold labels) accuracy of each labeling function.

    Args:
        L: (n, m) label matrix, -1 = abstain.
        lfs: optional LF objects (anything with ``.name``) or names, one per column.
        cardinality: number of classes; inferred from L (and Y) when None.
        n_threads: threads for the native pass (None = all cores).

    The statistics are computed once and cached; ``lf_summary(Y)`` makes one pass that counts the gold columns
    together with the rest.

    Example:
        >>> import numpy as np, labelfuse as lf
        >>> L = np.array([[0, 0, -1], [1, 0, 1], [-1, -1, 1]], dtype=np.int8)
        >>> summary = lf.LFAnalysis(L, ["a", "b", "c"]).lf_summary(Y=np.array([0, 1, 1]))
        >>> summary["Coverage"].round(2).tolist(), summary["Emp. Acc."].round(2).tolist()
        ([0.67, 0.67, 0.67], [1.0, 0.5, 1.0])
    """

    def __init__(self, L: Any, lfs: Optional[Sequence[Any]] = None, *, cardinality: Optional[int] = None,
                 n_threads: Optional[int] = None) -> None:
        self._L = as_label_matrix(L)
        require_rows(self._L)
        m = self._L.shape[1]
        if lfs is not None:
            names = [lf if isinstance(lf, str) else getattr(lf, "name", None) for lf in lfs]
            if len(names) != m:
                raise ValueError(f"lfs: expected {m} LFs (one per column of L), got {len(names)}")
            if any(not isinstance(nm, str) for nm in names):
                raise TypeError("lfs: expected names (str) or objects with a .name attribute")
            if len(set(names)) != m:
                dup = sorted({nm for nm in names if names.count(nm) > 1})
                raise ValueError(f"lfs: names must be unique, repeated: {dup}")
            self._names: Optional[List[str]] = names
        else:
            self._names = None
        self._cardinality = cardinality
        self._n_threads = check_n_threads(n_threads)
        self._stats: Optional[LabelStats] = None

    # -- statistics ---------------------------------------------------------------------------------------------
    def _k(self, Y: Any = None) -> int:
        return infer_cardinality(self._L, self._cardinality, Y)

    def stats(self, Y: Any = None) -> LabelStats:
        """The underlying :class:`LabelStats` (with gold counts when Y is given)."""
        if Y is not None:
            return label_stats(self._L, self._k(Y), Y=Y, n_threads=self._n_threads)  # label_stats checks Y
        if self._stats is None:
            self._stats = label_stats(self._L, self._k(), n_threads=self._n_threads)
        return self._stats

    def lf_polarities(self) -> List[List[int]]:
        """The sorted set of labels each LF emits."""
        return self._polarities(self.stats())

    @staticmethod
    def _polarities(s: LabelStats) -> List[List[int]]:
        return [np.flatnonzero(row).tolist() for row in s.class_counts[0]]

    def lf_coverages(self) -> np.ndarray:
        return self.stats().lf_coverage()

    def lf_overlaps(self, normalize_by_coverage: bool = False) -> np.ndarray:
        s = self.stats()
        return self._maybe_normalize(s.lf_overlap(), s, normalize_by_coverage)

    def lf_conflicts(self, normalize_by_coverage: bool = False) -> np.ndarray:
        s = self.stats()
        return self._maybe_normalize(s.lf_conflict(), s, normalize_by_coverage)

    @staticmethod
    def _maybe_normalize(x: np.ndarray, s: LabelStats, by_coverage: bool) -> np.ndarray:
        if not by_coverage:
            return x
        cov = s.lf_coverage()
        return np.divide(x, cov, out=np.zeros_like(x), where=cov > 0)

    def lf_empirical_accuracies(self, Y: Any) -> np.ndarray:
        return self.stats(Y).empirical_accuracy()

    def lf_empirical_probs(self, Y: Any) -> np.ndarray:
        """P(lambda_j = c | y) estimated with gold labels: (m, k+1, k), vote index 0 = abstain."""
        s = self.stats(Y)
        conf = s.confusion[0]  # (m, y, c)
        gold = s.gold_counts[0].astype(np.float64)
        out = np.zeros((conf.shape[0], conf.shape[2] + 1, conf.shape[1]))
        votes = np.transpose(conf, (0, 2, 1))
        out[:, 1:, :] = votes
        out[:, 0, :] = gold[None, :] - votes.sum(axis=1)
        return out / np.maximum(gold, 1)[None, None, :]

    def label_coverage(self) -> float:
        return float(self.stats().label_coverage())

    def label_overlap(self) -> float:
        return float(self.stats().label_overlap())

    def label_conflict(self) -> float:
        return float(self.stats().label_conflict())

    def lf_summary(self, Y: Any = None, est_weights: Any = None) -> pd.DataFrame:
        """One row per LF: j, Polarity, Coverage, Overlaps, Conflicts, and with Y: Correct, Incorrect, Emp. Acc.

        ``est_weights`` (e.g. a label model's accuracies) adds a "Learned Weight" column.
        """
        s = self.stats(Y)
        m = self._L.shape[1]
        data = {
            "j": np.arange(m),
            "Polarity": self._polarities(s),  # from the same pass: with Y, no second one without it
            "Coverage": s.lf_coverage(),
            "Overlaps": s.lf_overlap(),
            "Conflicts": s.lf_conflict(),
        }
        if Y is not None:
            data["Correct"] = s.correct()
            data["Incorrect"] = s.incorrect()
            data["Emp. Acc."] = s.empirical_accuracy()
        if est_weights is not None:
            try:
                w = np.asarray(est_weights, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"est_weights: expected {m} numbers (one per LF), could not convert ({exc})") from None
            if w.shape != (m,):
                raise ValueError(f"est_weights: expected {m} values (one per LF), got shape {w.shape}")
            data["Learned Weight"] = w
        index = self._names if self._names is not None else [str(j) for j in range(m)]
        return pd.DataFrame(data, index=index)

    def plot(self, ax: Any = None) -> Any:
        """Coverage, overlaps and conflicts of each LF as bars (:func:`labelfuse.plotting.plot_lf_bars`);
        returns the matplotlib axes.

        Example::

            ax = LFAnalysis(L, names).plot()
            ax.figure.savefig("lfs.png")
        """
        from ..plotting import plot_lf_bars

        return plot_lf_bars(self.lf_summary(), ax=ax)
