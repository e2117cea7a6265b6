"""A user's own data as a :class:`~labelfuse.datasets.Dataset`: a CSV / Parquet / JSON Lines table (text column,
optional gold-label and split columns) or a WRENCH folder, labelled by the user's LFs (``labelfuse run DATA --lfs
my_lfs.py``), optionally with MiniLM embeddings computed (and cached) by :func:`labelfuse.embeddings.encode`.

Example::

    from labelfuse.labeling import lfs_from_file
    from labelfuse.user_data import load_user_data

    ds = load_user_data("comments.csv", lfs=lfs_from_file("my_lfs.py"), label_column="label")
    ds.train.L, ds.valid.Y, ds.lf_names

Rows of the valid and test splits are the ones models are chosen and scored on, so they keep only rows with a
gold label; the others join train (which is labelled by the label model anyway). Without a split column the rows
are split with a seed and a :class:`UserDataWarning` says how.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from ._base import check_random_state
from .datasets import SPLITS, Dataset, Split, load_dataset
from .labeling.apply import apply_lfs
from .labeling.lf import LabelingFunction, as_lfs

__all__ = ["ACCEPTED_FORMATS", "UserDataWarning", "dataset_from_frame", "load_user_data", "read_table"]

_READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
            ".ndjson": "jsonl", ".json": "json"}
ACCEPTED_FORMATS = ("a CSV file (.csv, .tsv), a Parquet file (.parquet, .pq), a JSON Lines file (.jsonl, .ndjson: "
                    "one JSON object per line; .json: the same, or one array of objects), or a WRENCH folder "
                    "(train.json / valid.json / test.json and label.json)")
_SPLIT_NAMES = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid",
                "dev": "valid", "test": "test", "testing": "test"}
TRAIN_FRACTION = 0.8  # of all rows, in the seeded split of a fully labelled table; valid and test share the rest

Encoder = Callable[[List[str]], np.ndarray]


class UserDataWarning(UserWarning):
    """How a user's table was split or cleaned (a seeded split, rows without gold moved out of valid/test)."""


# -- reading ---------------------------------------------------------------------------------------------------------
def read_table(path: Union[str, Path]) -> pd.DataFrame:
    """A CSV / TSV, Parquet or JSON Lines file as a DataFrame, chosen by the file's extension. An unreadable or
    unknown file raises ValueError saying which formats are accepted."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"DATA: no such file or folder: {str(file)!r}; expected {ACCEPTED_FORMATS}")
    kind = _READERS.get(file.suffix.lower())
    if kind is None:
        raise ValueError(f"DATA: cannot read {str(file)!r} (unknown extension {file.suffix!r}); expected "
                         f"{ACCEPTED_FORMATS}")
    try:
        if kind in ("csv", "tsv"):
            df = pd.read_csv(file, sep="\t" if kind == "tsv" else ",")
        elif kind == "parquet":
            df = pd.read_parquet(file)
        elif kind == "json":
            with file.open("rb") as fh:
                array = fh.read(4096).lstrip().startswith(b"[")
            df = pd.read_json(file, orient="records") if array else pd.read_json(file, lines=True)
        else:
            df = pd.read_json(file, lines=True)
    except ImportError as exc:
        raise ValueError(f"DATA: reading {str(file)!r} needs an optional package ({exc}); "
                         "pip install 'labelfuse[parquet]'") from None
    except Exception as exc:  # the readers raise many types (ParserError, ArrowInvalid, ValueError, Unicode...)
        raise ValueError(f"DATA: cannot read {str(file)!r} as {kind.upper()} ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); expected {ACCEPTED_FORMATS}") from None
    if len(df) == 0:
        raise ValueError(f"DATA: {str(file)!r} has no rows")
    return df


# -- columns ---------------------------------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _gold_labels(column: pd.Series, classes: Optional[Sequence[str]]) -> np.ndarray:
    """Class ids from a gold-label column: ints (or integral floats), or class names when ``classes`` is given;
    empty cells and -1 mean no gold label."""
    index = {str(c): i for i, c in enumerate(classes)} if classes else {}
    if column.dtype.kind in "iuf":  # the common case, vectorised: numbers, NaN = unknown
        values = column.to_numpy(dtype=np.float64)
        known = ~np.isnan(values)
        if not np.all(values[known] == np.round(values[known])) or (values[known] < -1).any():
            i = int(np.flatnonzero(known & ((values != np.round(values)) | (values < -1)))[0])
            raise ValueError(f"label column {column.name!r}: row {i} holds {float(values[i])!r}; expected a class id "
                             "0..k-1 (-1 or empty = no gold label)")
        out = np.where(known, values, -1).astype(np.int64)
        if index and out.max(initial=-1) >= len(index):
            raise ValueError(f"label column {column.name!r}: class id {int(out.max())} but --classes names only "
                             f"{len(index)} classes")
        return out
    out = np.full(len(column), -1, dtype=np.int64)
    for i, v in enumerate(column.tolist()):
        if _missing(v):
            continue
        if isinstance(v, str) and v.strip() in index:
            out[i] = index[v.strip()]
            continue
        if isinstance(v, str):
            try:
                v = int(v.strip())
            except ValueError:
                hint = (f"not one of --classes {list(index)}" if index else
                        "pass --classes NAME,NAME,... to map class names to ids 0, 1, ...")
                raise ValueError(f"label column {column.name!r}: row {i} holds {v!r}: {hint}") from None
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or float(v) != int(v) or int(v) < -1:
            raise ValueError(f"label column {column.name!r}: row {i} holds {v!r}; expected a class id 0..k-1 "
                             "(-1 or empty = no gold label)")
        out[i] = int(v)
    if index and out.max(initial=-1) >= len(index):
        raise ValueError(f"label column {column.name!r}: class id {int(out.max())} but --classes names only "
                         f"{len(index)} classes")
    return out


def _split_of_rows(column: pd.Series) -> np.ndarray:
    names = []
    for i, v in enumerate(column.tolist()):
        key = str(v).strip().lower() if not _missing(v) else ""
        if key not in _SPLIT_NAMES:
            raise ValueError(f"split column {column.name!r}: row {i} holds {v!r}; expected train, valid (or "
                             "validation / dev) or test")
        names.append(_SPLIT_NAMES[key])
    return np.array(names, dtype=object)


def _seeded_split(Y: np.ndarray, random_state: Any) -> np.ndarray:
    """train / valid / test per row. When at most half the rows have gold labels, the unlabelled rows are train and
    the gold rows are shared evenly by valid and test (every gold label scores something); otherwise all rows are
    split 80 / 10 / 10."""
    rng = np.random.default_rng(check_random_state(random_state))
    n = len(Y)
    gold = np.flatnonzero(Y >= 0)
    out = np.full(n, "train", dtype=object)
    if len(gold) == 0:
        return out
    if n - len(gold) >= len(gold):
        order = rng.permutation(gold)
        half = (len(order) + 1) // 2
        out[order[:half]] = "valid"
        out[order[half:]] = "test"
        return out
    order = rng.permutation(n)
    n_train = int(round(TRAIN_FRACTION * n))
    rest = order[n_train:]
    half = (len(rest) + 1) // 2
    out[rest[:half]] = "valid"
    out[rest[half:]] = "test"
    return out


# -- building the data set -------------------------------------------------------------------------------------------
def dataset_from_frame(df: pd.DataFrame, lfs: Sequence[Any], *, name: str = "data", text_column: str = "text",
                       label_column: Optional[str] = "label", split_column: Optional[str] = "split",
                       classes: Optional[Sequence[str]] = None, random_state: Any = 0,
                       encoder: Optional[Encoder] = None, progress: bool = True) -> Dataset:
    """The :class:`Dataset` of a table labelled by ``lfs``.

    Args:
        df: one row per example; not modified.
        lfs: labeling functions (each receives a row: ``x.text``, ``x["my col"]``).
        text_column: the column with the text (required; encoded when ``encoder`` is given). When the table has
            no ``text`` column, the LFs also see this one as ``x.text`` (the templates' default field).
        label_column: gold class ids (ints; or names when ``classes`` is given); empty / -1 = unknown. Optional: a
            table without this column has no gold labels (analysis only).
        split_column: train / valid (validation, dev) / test per row. Optional: without it the rows are split
            with ``random_state`` (see :func:`_seeded_split`) and a UserDataWarning says so.
        classes: class names, in class-id order (sets the number of classes); default: "0", "1", ... up to the
            largest class id seen in the labels and votes (at least 2).
        encoder: ``texts -> (n, d) embeddings``; None = no embeddings.

    Rows of valid / test without a gold label are moved to train (with a UserDataWarning): models are chosen and
    scored on gold labels only.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    lfs = as_lfs(lfs)
    columns = [str(c) for c in df.columns]
    if text_column not in df.columns:
        raise ValueError(f"text column {text_column!r} not in the data (columns: {columns}); pass --text-column")
    if classes is not None and (len(classes) < 2 or len(set(map(str, classes))) != len(classes)):
        raise ValueError(f"classes: expected at least 2 distinct class names, got {list(classes)}")
    n = len(df)
    Y = (_gold_labels(df[label_column], classes) if label_column is not None and label_column in df.columns
         else np.full(n, -1, dtype=np.int64))
    k_given = len(classes) if classes is not None else None
    # The text column is also the LFs' `x.text` (the templates' default field) when the table has no `text` column.
    frame = df.assign(text=df[text_column]) if text_column != "text" and "text" not in df.columns else df
    L = apply_lfs(lfs, frame, cardinality=k_given, progress=progress)
    k = k_given if k_given is not None else max(2, int(Y.max(initial=-1)) + 1, int(L.max(initial=-1)) + 1)
    if split_column is not None and split_column in df.columns:
        split_of = _split_of_rows(df[split_column])
    else:
        split_of = _seeded_split(Y, random_state)
        counts = {s: int((split_of == s).sum()) for s in SPLITS}
        warnings.warn(
            f"{name}: no split column {split_column!r}; made a seeded split (random_state={random_state!r}): "
            f"train {counts['train']}, valid {counts['valid']}, test {counts['test']} rows"
            + (" (valid and test share the rows with a gold label)" if counts["train"] == int((Y < 0).sum())
               and (Y >= 0).any() else "")
            + ". Pass --split-column to use your own split.", UserDataWarning, stacklevel=2)
    moved = (split_of != "train") & (Y < 0)
    if moved.any():
        if (Y >= 0).any():
            warnings.warn(f"{name}: {int(moved.sum())} valid/test rows have no gold label and were moved to train "
                          "(models are chosen and scored on gold labels only)", UserDataWarning, stacklevel=2)
        split_of = np.where(moved, "train", split_of)
    texts = ["" if _missing(t) else str(t) for t in df[text_column].tolist()]
    X = None
    if encoder is not None:
        X = np.ascontiguousarray(encoder(texts), dtype=np.float32)
        if X.ndim != 2 or X.shape[0] != n:
            raise ValueError(f"encoder: returned shape {X.shape} for {n} texts")
    records = df.to_dict("records")
    splits: Dict[str, Split] = {}
    dtype = np.int8 if k <= 128 else np.int16
    for s in SPLITS:
        idx = np.flatnonzero(split_of == s)
        if len(idx) == 0:
            continue
        splits[s] = Split(name=s, L=L[idx].astype(dtype), Y=Y[idx], ids=idx.astype(np.int64),
                          data=[records[i] for i in idx], texts=[texts[i] for i in idx],
                          embeddings=None if X is None else X[idx])
    class_names = [str(c) for c in classes] if classes is not None else [str(c) for c in range(k)]
    return Dataset(name=name, source=name, class_names=class_names, lf_names=[lf.name for lf in lfs],
                   splits=splits)


def _relabel(ds: Dataset, lfs: List[LabelingFunction], progress: bool) -> Dataset:
    """A WRENCH data set with its weak labels replaced by ``lfs`` applied to each example's ``data``."""
    splits = {}
    for s, sp in ds.splits.items():
        frame = pd.DataFrame([d if isinstance(d, dict) else {"data": d} for d in sp.data])
        L = apply_lfs(lfs, frame, cardinality=ds.cardinality, progress=progress)
        splits[s] = replace(sp, L=L.astype(np.int8 if ds.cardinality <= 128 else np.int16))
    return replace(ds, lf_names=[lf.name for lf in lfs], splits=splits)


def _with_embeddings(ds: Dataset, encoder: Encoder) -> Dataset:
    splits = {}
    for s, sp in ds.splits.items():
        if sp.embeddings is None:
            if sp.texts is None:
                raise ValueError(f"{ds.name}: cannot encode split {s!r}: not every example has data['text']")
            X = np.ascontiguousarray(encoder(list(sp.texts)), dtype=np.float32)
            sp = replace(sp, embeddings=X)
        splits[s] = sp
    return replace(ds, splits=splits)


def load_user_data(data: Union[str, Path], *, lfs: Optional[Sequence[Any]] = None, text_column: str = "text",
                   label_column: Optional[str] = "label", split_column: Optional[str] = "split",
                   classes: Optional[Sequence[str]] = None, random_state: Any = 0,
                   encoder: Optional[Encoder] = None, drop_labeled: bool = False, progress: bool = True) -> Dataset:
    """A WRENCH folder (or bundled data set name), or a table file labelled by ``lfs``, as a :class:`Dataset`.

    A WRENCH folder keeps its own weak labels unless ``lfs`` is given (then the LFs are applied to each example's
    ``data`` dict: ``x.text``). A table needs ``lfs``; see :func:`dataset_from_frame` for the columns. With
    ``encoder``, splits without embeddings get them (``encoder(texts) -> (n, d)``).

    Example::

        ds = load_user_data("reviews.parquet", lfs=lfs, label_column="stars_label", split_column=None)
    """
    path = Path(data)
    if path.is_dir() or (not path.suffix and not path.exists()):  # a WRENCH folder or a data set name
        ds = load_dataset(data, drop_labeled=drop_labeled)
        if lfs is not None:
            ds = _relabel(ds, as_lfs(lfs), progress)
        return _with_embeddings(ds, encoder) if encoder is not None else ds
    df = read_table(path)
    if lfs is None:
        raise ValueError(f"DATA: {str(path)!r} is a table, so the votes come from your labeling functions: pass "
                         "--lfs my_lfs.py")
    return dataset_from_frame(df, lfs, name=path.stem, text_column=text_column, label_column=label_column,
                              split_column=split_column, classes=classes, random_state=random_state,
                              encoder=encoder, progress=progress)
