"""Loaders for WRENCH-format weak-supervision data sets, and the bundled WRENCH YouTube spam set.

A WRENCH data set is a folder with ``train.json`` / ``valid.json`` / ``test.json`` (any may be missing), each one
JSON object keyed by string ids ``"0", "1", ...`` whose entries are
``{"label": int, "weak_labels": [int per LF, -1 = abstain], "data": {...}}``, and ``label.json`` (class id -> name).
Optional extras this loader understands:

- ``labeled_ids.json``: ``{"labeled_ids": [...], "lf_exemplar_ids": [...]}``, ids in the train split of the
  few gold-labelled examples (and of one exemplar per LF), as WRENCH's ``load_labeled_ids_and_lf_exemplars`` reads;
- ``minilm/<split>.npy``: sentence embeddings, one row per entry in ascending id order (float16 on disk);
- ``lf_names.json``: a JSON list with one name per LF column (a labelfuse addition; WRENCH has none).

Rows are returned in ascending integer id order. WRENCH's own loader keeps the file's order instead; the two agree
for youtube, sms and trec, but not for semeval and chemprot, whose files are shuffled. Ascending order is the
order the precomputed embeddings follow (checked on chemprot/semeval, where repeated texts share an embedding).
"""
from __future__ import annotations

import json
import os
from itertools import chain
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

__all__ = ["BUNDLED_DATASETS", "Dataset", "Split", "load_dataset"]

SPLITS = ("train", "valid", "test")
BUNDLED_DATASETS = ("wrench_youtube",)
DEFAULT_DATASET = "wrench_youtube"
_ALIASES = {"youtube": "wrench_youtube"}
EMBEDDINGS_FOLDER = "minilm"
DATA_PATH_ENV = "LABELFUSE_DATA"  # os.pathsep-separated folders searched for data sets by name


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a data set; every array has one row per example, in ascending id order.

    Attributes:
        name: "train", "valid" or "test".
        L: (n, m) int8 label matrix (int16 when there are more than 128 classes), -1 = abstain.
        Y: (n,) int64 gold labels; -1 where an example has no gold label (``"label": null`` or -1 in the file).
        ids: (n,) int64 ids of the examples (the JSON keys), ascending.
        data: the raw ``data`` dict of every example.
        texts: ``data["text"]`` of every example, or None when not every example has one.
        embeddings: (n, d) float32 sentence embeddings, or None when the folder has none for this split.
        labeled_index: positions (into this split) of the gold-labelled exemplars from ``labeled_ids.json``.
        lf_exemplar_index: position of each LF's exemplar, in the order ``labeled_ids.json`` lists them.

    Example:
        >>> import labelfuse as lf
        >>> train = lf.load_dataset("wrench_youtube").train
        >>> train.L.shape[0] == train.Y.shape[0] == len(train.texts)
        True
    """

    name: str
    L: np.ndarray
    Y: np.ndarray
    ids: np.ndarray
    data: List[Any]
    texts: Optional[List[str]] = None
    embeddings: Optional[np.ndarray] = None
    labeled_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lf_exemplar_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n(self) -> int:
        return int(self.L.shape[0])

    @property
    def n_lfs(self) -> int:
        return int(self.L.shape[1])

    @property
    def has_gold(self) -> bool:
        """True when every example has a gold label."""
        return bool(self.Y.size) and bool((self.Y >= 0).all())

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        emb = f", embeddings {self.embeddings.shape[1]}-d" if self.embeddings is not None else ""
        return f"Split({self.name!r}, n={self.n}, n_lfs={self.n_lfs}{emb})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A WRENCH-format data set: class names, LF names (when known) and the splits present.

    ``dataset["train"]`` (or ``dataset.split("train")``) raises KeyError naming the splits present when the split
    is missing (WRENCH chemprot has no train split); the ``train``/``valid``/``test`` properties return None then.

    Args:
        name: the data set's name (its folder name, or the bundled name).
        source: the folder it was read from.
        class_names: one name per class id.
        lf_names: one name per LF column of L, or None when the folder does not name them.
        splits: the splits present, by name ("train", "valid", "test").

    Example:
        >>> import labelfuse as lf
        >>> ds = lf.load_dataset("wrench_youtube")
        >>> ds.class_names, ds.train.L.shape[1] == len(ds.lf_names)
        (['HAM', 'SPAM'], True)
    """

    name: str
    source: str
    class_names: List[str]
    lf_names: Optional[List[str]]
    splits: Dict[str, Split]

    @property
    def cardinality(self) -> int:
        return len(self.class_names)

    @property
    def n_lfs(self) -> int:
        return next(iter(self.splits.values())).n_lfs

    @property
    def train(self) -> Optional[Split]:
        return self.splits.get("train")

    @property
    def valid(self) -> Optional[Split]:
        return self.splits.get("valid")

    @property
    def test(self) -> Optional[Split]:
        return self.splits.get("test")

    def split(self, name: str) -> Split:
        try:
            return self.splits[name]
        except KeyError:
            raise KeyError(
                f"data set {self.name!r} has no {name!r} split; available: {', '.join(self.splits)}"
            ) from None

    __getitem__ = split

    def __contains__(self, name: object) -> bool:
        return name in self.splits

    def __repr__(self) -> str:
        sizes = " / ".join(f"{s} {len(v)}" for s, v in self.splits.items())
        return (f"Dataset({self.name!r}, classes={self.class_names}, n_lfs={self.n_lfs}, {sizes})")


# -- locating a data set ---------------------------------------------------------------------------------------------
def _bundled(name: str) -> Any:
    """The bundled data set's folder as an importlib.resources Traversable (works from an installed wheel)."""
    return resources.files("labelfuse") / "data" / name


def _resolve(name_or_path: Union[str, "os.PathLike[str]"]) -> Any:
    if isinstance(name_or_path, os.PathLike) or (isinstance(name_or_path, str) and Path(name_or_path).is_dir()):
        path = Path(name_or_path)
        if not path.is_dir():
            raise FileNotFoundError(f"name_or_path: no data set folder at {str(path)!r}")
        return path
    if not isinstance(name_or_path, str):
        raise TypeError(f"name_or_path: expected a data set name or a folder path, got {type(name_or_path).__name__}")
    name = _ALIASES.get(name_or_path, name_or_path)
    if name in BUNDLED_DATASETS:
        return _bundled(name)
    searched = [d for d in os.environ.get(DATA_PATH_ENV, "").split(os.pathsep) if d]
    for folder in searched:
        if (Path(folder) / name).is_dir():
            return Path(folder) / name
    where = f"; searched ${DATA_PATH_ENV}: {searched}" if searched else f" (set ${DATA_PATH_ENV} to search folders)"
    raise FileNotFoundError(
        f"name_or_path: {name_or_path!r} is neither a folder nor a bundled data set "
        f"({', '.join(BUNDLED_DATASETS)}){where}"
    )


# -- reading ---------------------------------------------------------------------------------------------------------
def _read_json(folder: Any, filename: str) -> Any:
    f = folder / filename
    try:
        raw = f.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{_where(folder, filename)}: file not found") from None
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError(f"{_where(folder, filename)}: nested too deeply to be a data set file") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer of over 4,300 digits
        raise ValueError(f"{_where(folder, filename)}: not valid JSON ({_short(str(exc), 200)})") from None


def _where(folder: Any, filename: str) -> str:
    return str(folder / filename)


def _short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (a hostile file's values are echoed in messages, never whole)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _show(value: Any, limit: int = 60) -> str:
    """A value from a file as a short repr (ints of thousands of digits included: str() refuses those)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"an integer of over {limit} digits"
    return _short(repr(value), limit)


def _check_text(values: Sequence[str], where: str, what: str) -> None:
    """Names read from a file must be encodable text: JSON escapes can make lone surrogates, which fail only
    later, when printed or saved, with a codec error that names no file."""
    for i, v in enumerate(values):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: {what} {i} ({_show(v)}) holds a lone surrogate (an invalid \\u escape); "
                             "expected UTF-8 text") from None


def _class_names(folder: Any) -> List[str]:
    raw = _read_json(folder, "label.json")
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{_where(folder, 'label.json')}: expected a JSON object mapping class id -> name")
    try:
        by_id = {int(k): str(v) for k, v in raw.items()}
    except ValueError:
        raise ValueError(f"{_where(folder, 'label.json')}: class ids must be integers, got "
                         f"{_short(repr(list(raw)), 80)}") from None
    _check_text(list(by_id.values()), _where(folder, "label.json"), "class name")
    if sorted(by_id) != list(range(len(by_id))):
        raise ValueError(f"{_where(folder, 'label.json')}: class ids must be 0..k-1, got {sorted(by_id)}")
    if len(by_id) < 2:
        raise ValueError(f"{_where(folder, 'label.json')}: expected at least 2 classes, got {len(by_id)}")
    return [by_id[i] for i in range(len(by_id))]


def _entry_ids(raw: Any, where: str) -> List[str]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a JSON object keyed by example id, got {type(raw).__name__}")
    as_int = {}
    for key in raw:
        try:
            as_int[key] = int(key) if len(key) <= 20 else None  # (int() of thousands of digits is slow)
        except ValueError:
            as_int[key] = None
        if as_int[key] is None or not -2**63 <= as_int[key] < 2**63:
            raise ValueError(f"{where}: example ids must be integers (as strings) of at most 64 bits, got "
                             f"{_show(key)}")
    if len(set(as_int.values())) != len(as_int):
        raise ValueError(f"{where}: example ids repeat as integers (e.g. '1' and '01')")
    return sorted(raw, key=as_int.__getitem__)


def _int_matrix(rows: List[Any], what: str, where: str, keys: Sequence[str]) -> np.ndarray:
    """rows (lists of ints) as a 2-D int64 array; errors name the offending example."""
    widths = {len(r) if isinstance(r, list) else -1 for r in rows}
    if len(widths) > 1 or -1 in widths:
        first = rows[0] if isinstance(rows[0], list) else None
        for key, r in zip(keys, rows):
            if not isinstance(r, list) or first is None or len(r) != len(first):
                raise ValueError(
                    f"{where}: example {key!r}: {what} must be a list with one vote per LF "
                    f"({len(first) if first is not None else '?'}), got {_show(r, 80)}"
                )
    # One C-level pass over the value types: numpy would silently turn true/false into 1/0 next to ints.
    if set(map(type, chain.from_iterable(rows))) - {int}:
        bad = next(i for i, r in enumerate(rows) if any(type(v) is not int for v in r))
        raise ValueError(f"{where}: example {keys[bad]!r}: {what} must be integers, got {_show(rows[bad], 80)}")
    try:
        return np.array(rows, dtype=np.int64).reshape(len(rows), -1)
    except OverflowError:
        bad = next(i for i, r in enumerate(rows) if any(not -2**63 <= v < 2**63 for v in r))
        value = next(v for v in rows[bad] if not -2**63 <= v < 2**63)
        raise ValueError(f"{where}: example {keys[bad]!r}: {what} {_show(value, 30)} is out of range (votes and "
                         "labels are small class ids)") from None


def _read_split(folder: Any, split: str, k: int) -> Split:
    where = _where(folder, f"{split}.json")
    raw = _read_json(folder, f"{split}.json")
    keys = _entry_ids(raw, where)
    if not keys:
        raise ValueError(f"{where}: has no examples")
    entries = []
    for key in keys:
        e = raw[key]
        if not isinstance(e, dict) or "weak_labels" not in e or "label" not in e:
            raise ValueError(f"{where}: example {key!r}: expected an object with 'label', 'weak_labels' and 'data'")
        entries.append(e)
    L = _int_matrix([e["weak_labels"] for e in entries], "weak_labels", where, keys)
    if L.shape[1] == 0:
        raise ValueError(f"{where}: examples have no weak labels (no LFs)")
    bad = (L < -1) | (L >= k)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{where}: example {keys[r]!r}, LF {c}: vote {L[r, c]}; expected -1 (abstain) or 0..{k - 1}")
    labels = [-1 if e["label"] is None else e["label"] for e in entries]
    Y = _int_matrix([[y] for y in labels], "label", where, keys)[:, 0]
    bad_y = (Y < -1) | (Y >= k)
    if bad_y.any():
        r = int(np.flatnonzero(bad_y)[0])
        raise ValueError(f"{where}: example {keys[r]!r}: label {Y[r]}; expected 0..{k - 1} (or -1/null: unlabeled)")
    data = [e.get("data") for e in entries]
    texts = [d["text"] for d in data] if all(isinstance(d, dict) and isinstance(d.get("text"), str)
                                            for d in data) else None
    dtype = np.int8 if k <= 128 else np.int16
    return Split(name=split, L=L.astype(dtype), Y=Y, ids=np.array([int(x) for x in keys], dtype=np.int64),
                 data=data, texts=texts)


def _read_embeddings(folder: Any, split: str, n: int) -> Optional[np.ndarray]:
    f = folder / EMBEDDINGS_FOLDER / f"{split}.npy"
    if not f.is_file():
        return None
    with f.open("rb") as fh:
        try:
            X = np.load(fh, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{f}: not a readable .npy array ({exc})") from None
    if X.ndim != 2 or X.shape[0] != n:
        raise ValueError(f"{f}: expected a 2-D array with one row per example ({n}), got shape {X.shape}")
    if X.dtype.kind != "f":
        raise ValueError(f"{f}: expected floating-point embeddings, got dtype {X.dtype}")
    return np.ascontiguousarray(X, dtype=np.float32)


def _positions(ids: np.ndarray, wanted: Iterable[Any], where: str) -> np.ndarray:
    pos = {int(x): i for i, x in enumerate(ids)}
    out = []
    for w in wanted:
        try:
            out.append(pos[int(w)])
        except (KeyError, ValueError):
            raise ValueError(f"{where}: id {_show(w)} is not in the train split") from None
    return np.array(out, dtype=np.int64)


def _with_labeled(folder: Any, train: Split, drop_labeled: bool) -> Split:
    if not (folder / "labeled_ids.json").is_file():
        return train
    raw = _read_json(folder, "labeled_ids.json")
    where = _where(folder, "labeled_ids.json")
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object with 'labeled_ids' and 'lf_exemplar_ids'")
    labeled = _positions(train.ids, raw.get("labeled_ids", []), where)
    exemplars = _positions(train.ids, raw.get("lf_exemplar_ids", []), where)
    if not drop_labeled:
        return _replace(train, labeled_index=labeled, lf_exemplar_index=exemplars)
    keep = np.ones(train.n, dtype=bool)
    keep[labeled] = False
    # LF exemplars that are not labelled rows survive the drop; re-index them into the kept rows.
    new_pos = np.cumsum(keep) - 1
    exemplars = new_pos[exemplars[keep[exemplars]]]
    idx = np.flatnonzero(keep)
    return _replace(
        train, L=train.L[idx], Y=train.Y[idx], ids=train.ids[idx], data=[train.data[i] for i in idx],
        texts=None if train.texts is None else [train.texts[i] for i in idx],
        embeddings=None if train.embeddings is None else train.embeddings[idx],
        labeled_index=np.zeros(0, dtype=np.int64), lf_exemplar_index=exemplars.astype(np.int64),
    )


def _replace(s: Split, **changes: Any) -> Split:
    return replace(s, **changes)


def _lf_names(folder: Any, m: int) -> Optional[List[str]]:
    if not (folder / "lf_names.json").is_file():
        return None
    names = _read_json(folder, "lf_names.json")
    where = _where(folder, "lf_names.json")
    if not isinstance(names, list) or not all(isinstance(x, str) for x in names) or len(names) != m:
        raise ValueError(f"{where}: expected a JSON list of {m} LF names (one per weak_labels column)")
    if len(set(names)) != m:
        raise ValueError(f"{where}: LF names must be unique")
    _check_text(names, where, "LF name")
    return names


def load_dataset(name_or_path: Union[str, "os.PathLike[str]"] = DEFAULT_DATASET, *,
                 splits: Optional[Sequence[str]] = None, drop_labeled: bool = False,
                 embeddings: bool = True) -> Dataset:
    """Load a WRENCH-format data set.

    Args:
        name_or_path: a folder, the name of a bundled data set (``"wrench_youtube"``, alias ``"youtube"``; the
            default), or the name of a folder under one of the directories in ``$LABELFUSE_DATA``.
        splits: the splits to load (default: every one present). Asking for a missing split is an error.
        drop_labeled: remove the gold-labelled exemplars listed in ``labeled_ids.json`` from the train split.
            The default keeps them, as WRENCH's loader does (it reads every entry of train.json and only
            *reports* the labelled ids); e.g. youtube's train has 1686 rows, 1586 without the 100 exemplars,
            which duplicate other train texts.
        embeddings: load ``minilm/<split>.npy`` as float32 when present.

    Returns:
        A :class:`Dataset` whose splits hold L, Y, the raw examples and (when present) the embeddings.

    Example:
        >>> import labelfuse as lf
        >>> ds = lf.load_dataset("youtube")
        >>> ds.train.L.dtype, ds.train.embeddings.shape[1]
        (dtype('int8'), 384)
    """
    folder = _resolve(name_or_path)
    name = folder.name
    present = [s for s in SPLITS if (folder / f"{s}.json").is_file()]
    if splits is None:
        wanted = present
        if not wanted:
            expected = ", ".join(f"{s}.json" for s in SPLITS)
            raise FileNotFoundError(f"{folder}: no split files (expected some of {expected})")
    else:
        if isinstance(splits, str):
            splits = [splits]
        wanted = list(splits)
        for s in wanted:
            if s not in SPLITS:
                raise ValueError(f"splits: unknown split {s!r}; expected some of {SPLITS}")
            if s not in present:
                raise FileNotFoundError(
                    f"splits: data set {name!r} has no {s!r} split ({folder / (s + '.json')} not found); "
                    f"available: {', '.join(present) or 'none'}"
                )
    class_names = _class_names(folder)
    out: Dict[str, Split] = {}
    for s in wanted:
        sp = _read_split(folder, s, len(class_names))
        if embeddings:
            sp = _replace(sp, embeddings=_read_embeddings(folder, s, sp.n))
        if s == "train":
            sp = _with_labeled(folder, sp, drop_labeled)
        out[s] = sp
    widths = {s: sp.n_lfs for s, sp in out.items()}
    if len(set(widths.values())) > 1:
        raise ValueError(f"{folder}: splits disagree on the number of LFs: {widths}")
    m = next(iter(widths.values()))
    return Dataset(name=name, source=str(folder), class_names=class_names, lf_names=_lf_names(folder, m),
                   splits=out)
