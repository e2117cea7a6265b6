"""The LF development loop: data, named labeling functions, their votes, statistics and a label model, kept in step.

Editing one LF (``add`` / ``update`` / ``remove`` / ``undo``) applies only that LF, rewrites only its column of
votes, updates the statistics from the rows where that column changed, and refits the label model from the
statistics; nothing else is recounted.

Storage: the votes live in one Fortran-order buffer (n, capacity) of the narrowest label dtype, so one LF's column is
contiguous: an edit reads and writes O(n) bytes, and ``L`` (the first m columns) is a view, not a copy. The buffer
doubles when full. ``remove`` moves the last LF into the freed column (O(n) bytes instead of shifting every later
column), so the LFs' order changes; ``undo`` puts it back.

Posteriors: an edit refits the triplet and covariance models from the updated statistics (a fresh fit's result,
exactly); their tables change for every LF, so every row's posterior changes. The edit computes the posteriors of
the changed rows and of the dev rows at once; ``proba()`` computes the rest when asked and caches them until the next
edit. Majority vote's posterior of a row depends only on that row, so its cache is updated on the changed rows only.
Dawid-Skene is refitted on the votes (EM, a good part of a fit).

Fusion (``fusion="liger"`` / ``"epoxy"``, with embeddings): the neighbour graph is built once and cached; an edit
redoes only the LF-dependent work (extension, statistics, fits).

Example::

    import labelfuse as lf
    from labelfuse.labeling import labeling_function

    @labeling_function()
    def has_link(x):
        return 1 if "http" in x.text else -1

    ws = lf.Workspace(df, text="text", label="label", cardinality=2)
    r = ws.add(has_link)              # EditResult: changed_rows, apply_s, refit_s, dev_before, dev_after
    ws.summary(); ws.dev_metrics(); ws.proba()
    ws.undo()
    ws.save("work.lf"); lf.load("work.lf", trust_code=True)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _io
from ._base import check_random_state, json_value
from ._validation import check_cardinality, check_n_threads, label_dtype
from .labeling.apply import LFApplier, dataframe_rows
from .labeling.lf import LabelingFunction, as_lfs
from .stats import LabelStats, gather_rows, label_stats

__all__ = ["Workspace", "EditResult", "LABEL_MODELS", "FUSION"]

LABEL_MODELS = ("triplet", "covariance", "dawid_skene", "majority")
FUSION = ("liger", "epoxy")
_MAX_UNDO = 20  # edits remembered (an update keeps its old column: n bytes each)
_ROW_KINDS = ("labeled", "uncovered", "conflict")
_THREADED_ROWS = 200_000  # fewer changed rows than this are counted on one thread (a thread team costs more)


@dataclass
class EditResult:
    """What one edit did: ``kind`` ("add" | "update" | "remove" | "undo"), the LF ``name``, ``changed_rows`` (rows
    whose vote changed), ``apply_s`` (applying the LF) and ``refit_s`` (statistics delta, refit, posteriors of the
    changed and dev rows) in seconds, dev metrics before and after (None without gold labels), the changed ``rows``
    and their posteriors ``proba_rows`` (n_changed, k)."""

    name: str
    kind: str
    changed_rows: int
    apply_s: float
    refit_s: float
    dev_before: Optional[Dict[str, float]]
    dev_after: Optional[Dict[str, float]]
    rows: np.ndarray
    proba_rows: np.ndarray


# -- statistics with a changing number of LFs ---------------------------------------------------------------------------
# Axes that count LFs, per LabelStats field (axis 0 is the group).
_LF_AXES = {"class_counts": (1,), "lf_overlaps": (1,), "lf_conflicts": (1,), "covote": (1, 2), "agree": (1, 2),
            "overlap": (1, 3), "confusion": (1,)}
_ROW_FIELDS = ("rows", "covered", "overlapping", "conflicting", "gold_counts")


def _empty_stats(n: int, k: int, overlap: bool) -> LabelStats:
    """The statistics of n rows and no LF."""
    z = np.zeros
    return LabelStats(cardinality=k, rows=np.array([n], dtype=np.int64), covered=z(1, np.int64),
                      overlapping=z(1, np.int64), conflicting=z(1, np.int64), class_counts=z((1, 0, k), np.int64),
                      lf_overlaps=z((1, 0), np.int64), lf_conflicts=z((1, 0), np.int64), covote=z((1, 0, 0), np.int64),
                      agree=z((1, 0, 0), np.int64), overlap=z((1, 0, k, 0, k), np.int64) if overlap else None)


def _take_lfs(stats: LabelStats, idx: np.ndarray) -> LabelStats:
    """The statistics of the LFs ``idx`` (in that order); -1 in ``idx`` is an LF that always abstains."""
    idx = np.asarray(idx, dtype=np.int64)
    kw: Dict[str, Any] = {}
    for name, axes in _LF_AXES.items():
        a = getattr(stats, name)
        if a is None:
            kw[name] = None
            continue
        silent = idx < 0
        for axis in axes:
            a = np.take(a, np.where(silent, 0, idx), axis=axis) if a.shape[axis] else _grow_axis(a, axis, idx.size)
            if silent.any():
                sl = [slice(None)] * a.ndim
                sl[axis] = silent
                a[tuple(sl)] = 0
        kw[name] = np.ascontiguousarray(a)
    for name in _ROW_FIELDS:
        a = getattr(stats, name)
        kw[name] = None if a is None else a.copy()
    return LabelStats(cardinality=stats.cardinality, grouped=stats.grouped, **kw)


def _grow_axis(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    shape = list(a.shape)
    shape[axis] = size
    return np.zeros(shape, dtype=a.dtype)


# -- data ----------------------------------------------------------------------------------------------------------------
def _as_frame(data: Any, text: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True).copy()
    elif isinstance(data, (str, bytes)) or not isinstance(data, (Sequence, np.ndarray, pd.Series)):
        raise TypeError(f"data: expected a pandas DataFrame or a sequence of str, got {type(data).__name__}")
    else:
        texts = list(data)
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"data: expected a sequence of str; item {bad} is a {type(texts[bad]).__name__} "
                            "(pass a DataFrame for other rows)")
        frame = pd.DataFrame({text: texts})
    if len(frame) == 0:
        raise ValueError("data: has no rows")
    if text not in frame.columns:
        raise ValueError(f"text: no column {text!r} in data (columns: {[str(c) for c in frame.columns]})")
    return frame


def _gold(frame: pd.DataFrame, label: Optional[str]) -> Optional[np.ndarray]:
    """Gold labels as int64 with -1 = unknown (NaN or -1 in the column)."""
    if label is None:
        return None
    if label not in frame.columns:
        raise ValueError(f"label: no column {label!r} in data (columns: {[str(c) for c in frame.columns]})")
    values = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=np.float64)
    raw = frame[label].to_numpy()
    bad = np.flatnonzero(np.isnan(values) & pd.notna(raw))
    if bad.size:
        raise ValueError(f"label: column {label!r} holds {raw[bad[0]]!r} (row {int(bad[0])}); expected class ids "
                         "0..k-1, with NaN or -1 for unknown")
    known = ~np.isnan(values)
    if np.any(values[known] != np.round(values[known])) or np.any(values[known] < -1):
        row = int(np.flatnonzero(known & ((values != np.round(values)) | (values < -1)))[0])
        raise ValueError(f"label: row {row} holds {values[row]}; expected class ids 0..k-1, NaN or -1 for unknown")
    return np.where(known, values, -1).astype(np.int64)


def _embeddings(value: Any, frame: pd.DataFrame, text: str) -> Optional[np.ndarray]:
    if value is None:
        return None
    if isinstance(value, str):
        if value != "minilm":
            raise ValueError(f"embeddings: expected an (n, d) array or 'minilm', got {value!r}")
        from .embeddings import encode

        return np.ascontiguousarray(encode(frame[text].astype(str).tolist()), dtype=np.float32)
    from ._validation import as_numeric_matrix

    X = as_numeric_matrix(value, "embeddings", what="embeddings")
    if X.shape[0] != len(frame):
        raise ValueError(f"embeddings: has {X.shape[0]} rows, data has {len(frame)}")
    if not np.all(np.isfinite(X)):
        raise ValueError("embeddings: holds NaN or inf values")
    return np.ascontiguousarray(X, dtype=np.float32)


class Workspace:
    """Data, named LFs, their label matrix, its statistics and a label model, refitted in milliseconds per LF edit.

    Args:
        data: a pandas DataFrame (LFs get its rows: ``x.text`` and ``x["text"]`` both work), or a sequence of str
            (one column named ``text``).
        text: the column holding each row's text (shown by :meth:`rows`, encoded by ``embeddings="minilm"``).
        label: a column of gold labels (class ids; NaN or -1 = unknown), or None.
        split: a column naming each row's split, or None. Dev rows (for dev metrics and the summary's accuracy):
            rows whose split is ``dev_split`` and whose gold label is known; without a split column, every row with
            a known gold label.
        cardinality: number of classes k; None = 1 + the largest gold label (at least 2), or 2 without gold.
        label_model: "triplet", "covariance", "dawid_skene" or "majority".
        embeddings: None, an (n, d) float array, or "minilm" (encoded with :func:`labelfuse.embeddings.encode`,
            which caches them); needed by :meth:`neighbors` and ``fusion``.
        fusion: None, "liger" or "epoxy": the posteriors then come from that fusion model over the embeddings
            (its neighbour graph is built once and reused by every edit).
        random_state: seeds the label model's tie-breaking, the fusion model and :meth:`rows` samples.
        n_threads: threads of the native passes over all rows (None = all cores); the statistics delta and the
            posteriors of an edit's changed rows run on one thread below 200,000 changed rows.

    Attributes: ``lfs`` (name -> LF, in column order), ``names``, ``L`` (read-only (n, m) view of the votes),
    ``stats`` (:class:`~labelfuse.stats.LabelStats` of ``L``), ``model`` (the fitted label model, None without LFs),
    ``data`` (the rows), ``gold`` (int64, -1 = unknown, or None), ``dev_rows`` (row ids), ``embeddings``.

    Example::

        ws = Workspace(df, label="label", split="split", label_model="triplet")
        ws.add(has_link); ws.add(keyword_lf("money", ["cash", "prize"], 1))
        ws.update(keyword_lf("money", ["cash", "prize", "winner"], 1))
        ws.summary()                      # LFAnalysis's columns, dev accuracy from the dev rows
        ws.rows("conflict", n=5)
        ws.export_lfs("my_lfs.py"); ws.export_labels("labels.parquet")
    """

    def __init__(self, data: Any, *, text: str = "text", label: Optional[str] = None, split: Optional[str] = None,
                 dev_split: Any = "dev", cardinality: Optional[int] = None, label_model: str = "triplet",
                 embeddings: Any = None, fusion: Optional[str] = None, random_state: Any = 0,
                 n_threads: Optional[int] = None) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text: expected a column name (str), got {type(text).__name__}")
        if not isinstance(label_model, str) or label_model not in LABEL_MODELS:
            raise ValueError(f"label_model: expected one of {list(LABEL_MODELS)}, got {label_model!r}")
        if fusion is not None and fusion not in FUSION:
            raise ValueError(f"fusion: expected None or one of {list(FUSION)}, got {fusion!r}")
        if fusion is not None and label_model not in ("triplet", "covariance", "dawid_skene"):
            raise ValueError(f"fusion: {fusion!r} fits a label model per part; label_model must be 'triplet', "
                             f"'covariance' or 'dawid_skene', got {label_model!r}")
        self.random_state = check_random_state(random_state)
        self.n_threads = check_n_threads(n_threads)
        frame = _as_frame(data, text)
        gold = _gold(frame, label)
        if split is not None and split not in frame.columns:
            raise ValueError(f"split: no column {split!r} in data (columns: {[str(c) for c in frame.columns]})")
        if cardinality is None:
            top = -1 if gold is None else int(gold.max())
            k = max(2, top + 1)
        else:
            k = check_cardinality(cardinality)
        if gold is not None and gold.max() >= k:
            row = int(np.argmax(gold >= k))
            raise ValueError(f"label: row {row} holds class {int(gold[row])}, but cardinality is {k}")
        if fusion is not None and embeddings is None:
            raise ValueError(f"embeddings: fusion={fusion!r} needs embeddings (an (n, d) array or 'minilm')")
        self.text, self.label, self.split, self.dev_split = text, label, split, dev_split
        self.label_model, self.fusion = label_model, fusion
        self.cardinality = k
        self.data = frame
        self.gold = gold
        if gold is None:
            self.dev_rows = np.zeros(0, dtype=np.int64)
        elif split is None:
            self.dev_rows = np.flatnonzero(gold >= 0)
        else:
            self.dev_rows = np.flatnonzero((frame[split].to_numpy() == dev_split) & (gold >= 0))
        self.embeddings = _embeddings(embeddings, frame, text)
        self._rows = dataframe_rows(frame)  # built once: every LF application reuses them
        self._votes = np.full((len(frame), 8), -1, dtype=label_dtype(k), order="F")
        self._lfs: List[LabelingFunction] = []
        self._stats = _empty_stats(len(frame), k, overlap=label_model == "covariance")
        self.model: Any = None
        self._fusion_model: Any = None
        self._graph: Any = None
        self._proba: Optional[np.ndarray] = None
        self._undo: List[Tuple[Any, ...]] = []
        self._journal: Optional[List[Tuple[int, np.ndarray]]] = None
        self._changed: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._written: Optional[int] = None  # the column an update rewrote (fusion refits that column only)

    # -- views ---------------------------------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return self._votes.shape[0]

    @property
    def lfs(self) -> Dict[str, LabelingFunction]:
        """Name -> LF, in column order."""
        return {lf.name: lf for lf in self._lfs}

    @property
    def names(self) -> List[str]:
        return [lf.name for lf in self._lfs]

    @property
    def L(self) -> np.ndarray:
        """The (n, m) votes: a read-only, column-contiguous view (no copy)."""
        view = self._votes[:, :len(self._lfs)]
        view.flags.writeable = False
        return view

    @property
    def stats(self) -> LabelStats:
        return self._stats

    def _index(self, name: Any) -> int:
        if not isinstance(name, str):
            raise TypeError(f"name: expected an LF name (str), got {type(name).__name__}")
        for j, lf in enumerate(self._lfs):
            if lf.name == name:
                return j
        raise KeyError(f"name: no LF {name!r} in the workspace (LFs: {self.names})")

    # -- edits ---------------------------------------------------------------------------------------------------
    def add(self, lf: Any, *, votes: Any = None) -> EditResult:
        """Apply a new LF (its name must be new) and refit. ``votes``: the LF's votes on every row when they are
        already known (e.g. computed by a worker); they are checked, and the LF is not applied. Returns an
        :class:`EditResult`."""
        lf = self._check_lf(lf)
        if lf.name in self.lfs:
            raise ValueError(f"lf: an LF named {lf.name!r} is already in the workspace; use update() to replace it")
        column, apply_s = self._apply(lf, votes)
        return self._edit("add", lf.name, apply_s, lambda: self._append(lf, column), ("add", lf.name))

    def update(self, lf: Any, *, votes: Any = None) -> EditResult:
        """Replace the LF of the same name by ``lf``, apply it and refit (``votes`` as in :meth:`add`). Returns an
        :class:`EditResult`."""
        lf = self._check_lf(lf)
        j = self._index(lf.name)
        column, apply_s = self._apply(lf, votes)
        old_lf, old_column = self._lfs[j], self._votes[:, j].copy()
        return self._edit("update", lf.name, apply_s, lambda: self._replace(j, lf, column),
                          ("update", j, old_lf, old_column))

    def remove(self, name: str) -> EditResult:
        """Drop the LF ``name`` and refit (the last LF takes its column). Returns an :class:`EditResult`."""
        j = self._index(name)
        lf, column = self._lfs[j], self._votes[:, j].copy()
        return self._edit("remove", name, 0.0, lambda: self._remove(j), ("remove", j, lf, column))

    def undo(self) -> EditResult:
        """Revert the last edit (add, update or remove; up to the last 20 in turn). Returns an :class:`EditResult`."""
        if not self._undo:
            raise ValueError("undo: there is no edit to undo")
        record = self._undo[-1]
        kind = record[0]
        if kind == "add":
            name = record[1]
            change = lambda: self._remove(self._index(name))  # noqa: E731
        elif kind == "update":
            _, j, lf, column = record
            name = lf.name
            change = lambda: self._replace(j, lf, column)  # noqa: E731
        else:
            _, j, lf, column = record
            name = lf.name

            def change() -> np.ndarray:
                rows = self._append(lf, column)
                self._swap(j, len(self._lfs) - 1)
                return rows
        result = self._edit("undo", name, 0.0, change, None)
        self._undo.pop()
        return result

    def _check_lf(self, lf: Any) -> LabelingFunction:
        if isinstance(lf, (str, bytes)) or not callable(lf):
            raise TypeError(f"lf: expected a LabelingFunction (or a function), got {type(lf).__name__}")
        return as_lfs([lf])[0]

    def _apply(self, lf: LabelingFunction, votes: Any = None) -> Tuple[np.ndarray, float]:
        start = time.perf_counter()
        if votes is not None:
            column = np.asarray(votes)
            if column.shape != (self.n_rows,) or column.dtype.kind not in "iu" or column.dtype == np.bool_:
                raise ValueError(f"votes: expected {self.n_rows} integer votes (one per row), got "
                                 f"{column.dtype} of shape {column.shape}")
            bad = np.flatnonzero((column < -1) | (column >= self.cardinality))
            if bad.size:
                raise ValueError(f"votes: entry {int(bad[0])} is {int(column[bad[0]])}; votes must be -1 (abstain) or "
                                 f"a class in 0..{self.cardinality - 1}")
            return column.astype(self._votes.dtype), time.perf_counter() - start
        L1 = LFApplier([lf], cardinality=self.cardinality, progress=self.n_rows >= 100_000).apply(self._rows)
        return np.ascontiguousarray(L1[:, 0], dtype=self._votes.dtype), time.perf_counter() - start

    def _edit(self, kind: str, name: str, apply_s: float, change, record: Optional[Tuple[Any, ...]]) -> EditResult:
        """Run ``change`` (which edits the votes and statistics and returns the changed rows), refit, and keep
        everything as it was if anything raises (Ctrl-C included)."""
        start = time.perf_counter()
        dev_before = self.dev_metrics()
        saved = (self._votes, list(self._lfs), self._stats, self.model, self._fusion_model, self._proba)
        journal: List[Tuple[int, np.ndarray]] = []
        self._journal, self._changed, self._written = journal, None, None
        try:
            rows = change()
            self._refit(rows)
            proba_rows = self._proba_of(rows)
            dev_after = self.dev_metrics()
        except BaseException:
            for j, column in reversed(journal):  # the columns written in place, put back
                saved[0][:, j] = column
            self._votes, self._lfs, self._stats, self.model, self._fusion_model, self._proba = saved
            raise
        finally:
            self._journal = self._changed = self._written = None
        if record is not None:
            self._undo.append(record)
            del self._undo[:-_MAX_UNDO]
        return EditResult(name=name, kind=kind, changed_rows=int(rows.size), apply_s=apply_s,
                          refit_s=time.perf_counter() - start, dev_before=dev_before, dev_after=dev_after,
                          rows=rows, proba_rows=proba_rows)

    # Primitive edits of the votes and statistics; each returns the rows whose votes changed.
    def _write(self, j: int, column: np.ndarray) -> np.ndarray:
        """Column j := column, statistics updated from the rows that changed."""
        old = self._votes[:, j].copy()
        changed = np.flatnonzero(old != column)
        self._written = j
        if changed.size == 0:
            return changed
        if self._journal is not None:
            self._journal.append((j, old))
        self._votes[:, j] = column
        # the changed rows' votes, gathered once (column by column: the buffer is column-major) for the statistics
        # delta and then for their posteriors
        sub = gather_rows(self._votes[:, :len(self._lfs)], changed)
        self._stats = self._stats.update_rows(sub, j, old[changed], n_threads=self._few_threads(changed.size))
        self._changed, self._written = (changed, sub), j
        return changed

    def _append(self, lf: LabelingFunction, column: np.ndarray) -> np.ndarray:
        m = len(self._lfs)
        if m == self._votes.shape[1]:  # grow: a new buffer (the old one stays as it was, for a rollback)
            grown = np.full((self.n_rows, 2 * m), -1, dtype=self._votes.dtype, order="F")
            grown[:, :m] = self._votes[:, :m]
            self._votes = grown
        elif self._journal is not None:
            self._journal.append((m, self._votes[:, m].copy()))
        self._votes[:, m] = -1
        self._stats = _take_lfs(self._stats, np.r_[np.arange(m), -1])
        self._lfs.append(lf)
        return self._write(m, column)

    def _replace(self, j: int, lf: LabelingFunction, column: np.ndarray) -> np.ndarray:
        rows = self._write(j, column)
        self._lfs[j] = lf
        return rows

    def _swap(self, i: int, j: int) -> None:
        if i == j:
            return
        a, b = self._votes[:, i].copy(), self._votes[:, j].copy()
        if self._journal is not None:
            self._journal += [(i, a), (j, b)]
        self._votes[:, i], self._votes[:, j] = b, a
        order = np.arange(len(self._lfs))
        order[i], order[j] = j, i
        self._stats = _take_lfs(self._stats, order)
        if self._changed is not None:
            self._changed = (self._changed[0], np.ascontiguousarray(self._changed[1][:, order]))
        self._lfs[i], self._lfs[j] = self._lfs[j], self._lfs[i]

    def _remove(self, j: int) -> np.ndarray:
        last = len(self._lfs) - 1
        self._swap(j, last)
        rows = self._write(last, np.full(self.n_rows, -1, dtype=self._votes.dtype))
        self._stats = _take_lfs(self._stats, np.arange(last))
        if self._changed is not None:
            self._changed = (self._changed[0], np.ascontiguousarray(self._changed[1][:, :last]))
        self._lfs.pop()
        return rows

    # -- the model -------------------------------------------------------------------------------------------------
    def _refit(self, rows: np.ndarray) -> None:
        from .models import LabelModel, MajorityVote

        m, k = len(self._lfs), self.cardinality
        seed = self.random_state if isinstance(self.random_state, (int, type(None))) else None
        previous = self.model
        if m == 0:
            self.model, self._proba, self._fusion_model = None, None, None
            return
        L = self.L
        if self.fusion is not None:
            self._refit_fusion(L)
        threads = self.n_threads
        if self.label_model == "majority":
            self.model = MajorityVote(cardinality=k, random_state=seed, n_threads=threads).fit(L)
            if self._proba is not None and previous is not None:
                proba = self._proba.copy()
                if rows.size:
                    proba[rows] = self.model.predict_proba(self._votes_of(rows))
                self._proba = proba
            return
        self._proba = None
        if self.label_model == "dawid_skene":
            self.model = LabelModel(cardinality=k, method="dawid_skene", random_state=seed, n_threads=threads).fit(L)
            return
        # LabelModel's own method runner (not the bare fit function), so the kept statistics give exactly what a
        # fresh LabelModel.fit gives: the one-sided class balance, the assumption checks and their warnings
        model = LabelModel(cardinality=k, method=self.label_model, random_state=seed, n_threads=threads)
        self.model = model._fit_from_stats(L, self._stats, k)

    def _refit_fusion(self, L: np.ndarray) -> None:
        from .embeddings import NeighborGraph
        from .fusion import Epoxy, Liger

        if self._graph is None:
            self._graph = NeighborGraph(n_neighbors=min(64, max(1, self.n_rows - 1))).fit(self.embeddings)
        cls = Liger if self.fusion == "liger" else Epoxy
        previous = self._fusion_model
        if previous is not None and previous.n_lfs_ == L.shape[1] and self._written is not None:
            # same LFs in the same columns but for the edited one: the cached graph, parts and thresholds are kept,
            # and only that column is extended again
            self._fusion_model = _refit_copy(previous, L, self._written)
        else:
            seed = self.random_state if isinstance(self.random_state, (int, type(None))) else None
            model = cls(label_model=self.label_model, neighbor_graph=self._graph, cardinality=self.cardinality,
                        thresholds="unsupervised", random_state=seed, n_threads=self.n_threads)
            self._fusion_model = model.fit(L, self.embeddings)

    def _votes_of(self, rows: np.ndarray) -> np.ndarray:
        """The current votes of some rows, (r, m) C-order (those of the edit in progress are gathered already)."""
        if self._changed is not None and self._changed[0] is rows:
            return self._changed[1]
        return gather_rows(self.L, rows)

    def _few_threads(self, rows: int) -> Optional[int]:
        return self.n_threads if rows >= _THREADED_ROWS else 1

    def _proba_of(self, rows: np.ndarray) -> np.ndarray:
        """Posteriors of some rows (a full computation only when the cache is empty and every row is asked)."""
        k = self.cardinality
        if rows.size == 0:
            return np.zeros((0, k))
        if self._proba is not None:
            return self._proba[rows]
        if self._fusion_model is not None:
            return self._fusion_model.train_proba_[rows]
        if self.model is None:
            return np.full((rows.size, k), 1.0 / k)
        return self.model.predict_proba(self._votes_of(rows))

    def proba(self) -> np.ndarray:
        """(n, k) posteriors of the current label model (the fusion model's when enabled; uniform without LFs).
        Computed on first use after an edit, then cached; returns a read-only array."""
        if self._proba is None:
            k = self.cardinality
            if self._fusion_model is not None:
                P = np.array(self._fusion_model.train_proba_)
            elif self.model is None:
                P = np.full((self.n_rows, k), 1.0 / k)
            else:
                P = self.model.predict_proba(self.L)
            P.flags.writeable = False
            self._proba = P
        return self._proba

    def predict(self) -> np.ndarray:
        """The most probable class per row (ties: the label model's tie policy, -1 by default; -1 without LFs)."""
        return self._predict_rows(np.arange(self.n_rows))

    def _predict_rows(self, rows: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(rows.size, -1, dtype=np.int64)
        if self._fusion_model is not None:
            return np.asarray(self._fusion_model.train_proba_[rows]).argmax(axis=1)
        return self.model.predict(self.L if rows.size == self.n_rows else gather_rows(self.L, rows))

    # -- analysis --------------------------------------------------------------------------------------------------
    def dev_metrics(self) -> Optional[Dict[str, float]]:
        """accuracy (an abstained prediction counts wrong), f1 (binary: of class 1), coverage (dev rows with a vote)
        and abstained (dev rows the model leaves undecided) on the dev rows; None without dev rows."""
        from .metrics import resolve_metric

        rows = self.dev_rows
        if rows.size == 0:
            return None
        y = self.gold[rows]
        pred = self._predict_rows(rows)
        votes = gather_rows(self.L, rows)
        covered = (votes != -1).any(axis=1) if votes.shape[1] else np.zeros(rows.size, dtype=bool)
        out = {"accuracy": resolve_metric("accuracy").score(y, pred, self.cardinality)}
        if self.cardinality == 2:
            out["f1"] = resolve_metric("f1").score(y, pred, 2)
        out["coverage"] = float(covered.mean())
        out["abstained"] = int((pred == -1).sum())
        out["n"] = int(rows.size)
        return out

    def summary(self) -> pd.DataFrame:
        """One row per LF: LFAnalysis's j, Polarity, Coverage, Overlaps, Conflicts over all rows (from the kept
        statistics) and, with dev rows, Correct, Incorrect, Emp. Acc. on the dev rows; plus the label model's
        Learned Weight (its accuracy estimate) when it has one."""
        s = self._stats
        m = len(self._lfs)
        data: Dict[str, Any] = {
            "j": np.arange(m),
            "Polarity": [np.flatnonzero(row).tolist() for row in s.class_counts[0]],
            "Coverage": s.lf_coverage(),
            "Overlaps": s.lf_overlap(),
            "Conflicts": s.lf_conflict(),
        }
        if self.dev_rows.size and m:
            dev = label_stats(gather_rows(self.L, self.dev_rows), self.cardinality, Y=self.gold[self.dev_rows])
            data["Correct"] = dev.correct()
            data["Incorrect"] = dev.incorrect()
            data["Emp. Acc."] = dev.empirical_accuracy()
        weights = getattr(self.model, "accuracies_", None)
        if weights is not None:
            data["Learned Weight"] = np.asarray(weights)
        return pd.DataFrame(data, index=self.names)

    def rows(self, kind: str, lf: Optional[str] = None, n: int = 20, random_state: Any = 0) -> pd.DataFrame:
        """A sample of up to ``n`` rows: ``kind`` "labeled" (rows where ``lf`` votes), "uncovered" (no LF votes) or
        "conflict" (LFs disagree). Columns: row, text, votes (name -> vote of the LFs that vote), gold, predicted."""
        if kind not in _ROW_KINDS:
            raise ValueError(f"kind: expected one of {list(_ROW_KINDS)}, got {kind!r}")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n: expected an int >= 0, got {n!r}")
        L = self.L
        if kind == "labeled":
            if lf is None:
                raise ValueError("lf: kind='labeled' needs the name of an LF")
            mask = L[:, self._index(lf)] != -1
        elif lf is not None:
            raise ValueError(f"lf: only kind='labeled' takes an LF, got lf={lf!r} with kind={kind!r}")
        elif kind == "uncovered":
            mask = (L == -1).all(axis=1) if L.shape[1] else np.ones(self.n_rows, dtype=bool)
        else:
            lo = np.where(L == -1, np.iinfo(L.dtype).max, L).min(axis=1) if L.shape[1] else None
            mask = np.zeros(self.n_rows, dtype=bool) if lo is None else (L.max(axis=1) > lo) & (L.max(axis=1) >= 0)
        candidates = np.flatnonzero(mask)
        rng = np.random.default_rng(check_random_state(random_state) if isinstance(random_state, int) else 0)
        picked = np.sort(rng.choice(candidates, size=min(int(n), candidates.size), replace=False))
        names = self.names
        votes = gather_rows(L, picked)
        return pd.DataFrame({
            "row": picked,
            "text": self.data[self.text].to_numpy()[picked],
            "votes": [{names[j]: int(v[j]) for j in np.flatnonzero(v != -1)} for v in votes],
            "gold": (self.gold[picked] if self.gold is not None else np.full(picked.size, -1)),
            "predicted": self._predict_rows(picked),
        })

    def neighbors(self, row: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` rows nearest to ``row`` in embedding space (cosine): row, similarity, text, gold, predicted."""
        if self.embeddings is None:
            raise ValueError("neighbors: this workspace has no embeddings (pass embeddings= to Workspace)")
        if not isinstance(row, (int, np.integer)) or isinstance(row, bool) or not 0 <= row < self.n_rows:
            raise ValueError(f"row: expected a row id in 0..{self.n_rows - 1}, got {row!r}")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n: expected an int >= 1, got {n!r}")
        from .embeddings import NeighborGraph

        if self._graph is None:
            self._graph = NeighborGraph(n_neighbors=min(64, max(1, self.n_rows - 1))).fit(self.embeddings)
        ids, sims = self._graph.ids_[row], self._graph.sims_[row]
        if n > ids.size:
            ids, sims, _ = self._graph.query(self.embeddings[row:row + 1], n_neighbors=min(n + 1, self.n_rows))
            keep = ids[0] != row
            ids, sims = ids[0][keep], sims[0][keep]
        keep = ids >= 0
        ids, sims = ids[keep][:n], sims[keep][:n]
        return pd.DataFrame({
            "row": ids, "similarity": sims, "text": self.data[self.text].to_numpy()[ids],
            "gold": self.gold[ids] if self.gold is not None else np.full(ids.size, -1),
            "predicted": self._predict_rows(ids),
        })

    # -- export ----------------------------------------------------------------------------------------------------
    def export_lfs(self, path: Union[str, Path]) -> Path:
        """Write a .py file that recreates the LFs (factory calls for keyword/regex LFs, the function source for
        Python LFs) and defines ``lfs = [...]``; ``labelfuse.labeling.lfs_from_file`` reads it back."""
        from .labeling.export import lfs_to_source

        path = Path(path)
        if path.suffix != ".py":
            raise ValueError(f"path: expected a .py file name, got {str(path)!r}")
        path.write_text(lfs_to_source(self._lfs), encoding="utf-8")
        return path

    def export_labels(self, path: Union[str, Path]) -> Path:
        """Write the labels to ``path`` (.csv, or .parquet with pyarrow installed): columns row, label (the
        predicted class, -1 when undecided) and proba_0 .. proba_{k-1}."""
        path = Path(path)
        if path.suffix not in (".csv", ".parquet"):
            raise ValueError(f"path: expected a .csv or .parquet file name, got {str(path)!r}")
        P = self.proba()
        frame = pd.DataFrame({"row": np.arange(self.n_rows), "label": self.predict()})
        for c in range(self.cardinality):
            frame[f"proba_{c}"] = P[:, c]
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        else:
            import importlib.util

            if importlib.util.find_spec("pyarrow") is None:
                raise ImportError("export_labels: writing parquet needs pyarrow: pip install 'labelfuse[parquet]'")
            frame.to_parquet(path, index=False)
        return path

    # -- the one save format ---------------------------------------------------------------------------------------
    def save(self, path: Union[str, Path]) -> Path:
        """Write the workspace (data, gold labels, embeddings, LFs, votes) to one file in labelfuse's save format;
        ``labelfuse.load(path)`` reads it back (Python LFs need ``trust_code=True``: their source is executed)."""
        return _io.save(self, path)

    @classmethod
    def load(cls, path: Union[str, Path], *, trust_code: bool = False) -> "Workspace":
        """Read a saved workspace. Keyword/regex LFs are rebuilt from their spec; Python LFs from their stored source,
        which is executed only with ``trust_code=True`` (else a ValueError lists them)."""
        return _io.load(path, expected=cls, trust_code=trust_code)

    def _state_params(self) -> Dict[str, Any]:
        return {"text": self.text, "label": self.label, "split": self.split,
                "dev_split": json_value(self.dev_split, "dev_split"), "cardinality": self.cardinality,
                "label_model": self.label_model, "fusion": self.fusion, "n_threads": self.n_threads,
                "random_state": json_value(self.random_state if isinstance(self.random_state, (int, type(None)))
                                           else None, "random_state")}

    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        from .labeling.export import lfs_to_source

        arrays: Dict[str, np.ndarray] = {"L": np.ascontiguousarray(self.L)}
        columns = []
        for i, name in enumerate(self.data.columns):
            key = f"column{i}"
            columns.append(_save_column(self.data[name], key, arrays, str(name)))
        if self.embeddings is not None:
            arrays["embeddings"] = self.embeddings
        specs, python = [], []
        for lf in self._lfs:
            spec = getattr(lf, "spec", None)
            specs.append(spec)
            if spec is None:
                python.append(lf)
        values = {"columns": columns, "names": self.names, "specs": json_value(specs, "spec"),
                  "python_lfs": [lf.name for lf in python],
                  "source": lfs_to_source(python) if python else None}
        return values, arrays

    @classmethod
    def _from_params(cls, params: Dict[str, Any], trust_code: bool = False) -> "Workspace":
        ws = cls.__new__(cls)
        ws._params = dict(params)
        ws._trust_code = bool(trust_code)
        return ws

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        params, trust_code = self._params, self._trust_code
        self.__dict__.clear()
        try:
            columns = values["columns"]
            names = list(values["names"])
            specs = list(values["specs"])
            python_names = list(values["python_lfs"])
            L = np.asarray(arrays["L"])
            frame = pd.DataFrame({name: _load_column(entry, arrays) for entry, name in
                                  ((c, c["name"]) for c in columns)})
        except (KeyError, TypeError, ValueError) as exc:
            raise _io.FileFormatError(f"path: the saved Workspace is damaged ({exc})") from None
        if python_names and not trust_code:
            raise ValueError(f"path: the saved workspace holds Python LFs {python_names}, whose source would be "
                             "executed to rebuild them; pass trust_code=True if you trust the file")
        lfs_by_name: Dict[str, LabelingFunction] = {}
        if python_names:
            from .labeling.export import lfs_from_source

            for lf in lfs_from_source(values["source"], where="<saved workspace>"):
                lfs_by_name[lf.name] = lf
        for name, spec in zip(names, specs):
            if spec is not None:
                from .labeling.templates import lf_from_spec

                lfs_by_name[name] = lf_from_spec(spec)
        missing = [name for name in names if name not in lfs_by_name]
        if missing or L.ndim != 2 or L.shape != (len(frame), len(names)):
            raise _io.FileFormatError(f"path: the saved Workspace is damaged (LFs {missing} missing or votes of "
                                      f"shape {L.shape} for {len(frame)} rows and {len(names)} LFs)")
        embeddings = arrays.get("embeddings")
        Workspace.__init__(self, frame, text=params["text"], label=params["label"], split=params["split"],
                           dev_split=params["dev_split"], cardinality=params["cardinality"],
                           label_model=params["label_model"], embeddings=embeddings, fusion=params["fusion"],
                           random_state=params["random_state"], n_threads=params.get("n_threads"))
        self._install_votes([lfs_by_name[name] for name in names], L)

    def _after_load(self) -> None:
        """(everything is rebuilt in _set_state)"""

    def _install_votes(self, lfs: List[LabelingFunction], L: np.ndarray) -> None:
        """Take LFs with their votes as they are (a loaded file): one statistics pass and one fit."""
        n, m = L.shape
        if m:
            votes = np.full((n, max(8, 2 * m)), -1, dtype=self._votes.dtype, order="F")
            votes[:, :m] = L
            self._votes = votes
            self._lfs = list(lfs)
            self._stats = label_stats(self.L, self.cardinality, overlap_matrix=self.label_model == "covariance",
                                      n_threads=self.n_threads)
            self._refit(np.arange(n))


def _refit_copy(model: Any, L: np.ndarray, column: int) -> Any:
    """A fusion model refitted on L (``column`` edited) without touching ``model`` (the workspace's rollback keeps
    the old one)."""
    import copy

    fresh = copy.copy(model)
    fresh.refit(L, columns=[column])
    return fresh


def _save_column(series: pd.Series, key: str, arrays: Dict[str, np.ndarray], name: str) -> Dict[str, Any]:
    values = series.to_numpy()
    if values.dtype.kind in "biuf":
        arrays[key] = np.ascontiguousarray(values)
        return {"name": name, "kind": "array", "key": key}
    # text and anything else: UTF-8 bytes with offsets (None / NaN kept as missing)
    missing = pd.isna(series).to_numpy()
    encoded = [b"" if miss else str(v).encode("utf-8") for v, miss in zip(values, missing)]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    arrays[key + ".bytes"] = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    arrays[key + ".offsets"] = offsets
    arrays[key + ".missing"] = missing.astype(np.bool_)
    return {"name": name, "kind": "text", "key": key, "dtype": str(series.dtype)}


def _load_column(entry: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Any:
    key = entry["key"]
    if entry["kind"] == "array":
        return np.asarray(arrays[key])
    raw = np.asarray(arrays[key + ".bytes"]).tobytes()
    offsets = np.asarray(arrays[key + ".offsets"])
    missing = np.asarray(arrays[key + ".missing"])
    out = pd.Series([None if missing[i] else raw[offsets[i]:offsets[i + 1]].decode("utf-8")
                     for i in range(missing.size)], dtype=object)
    if entry.get("dtype") in ("str", "string"):  # pandas' string dtypes; anything else comes back as str objects
        out = out.astype(entry["dtype"])
    return out


_io.register(Workspace)
