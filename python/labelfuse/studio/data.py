"""What ``labelfuse studio DATA`` opens: a CSV / parquet / JSONL table or a WRENCH folder, as a Workspace.

A WRENCH folder's splits become one table with a ``split`` column (train / valid / test; valid is the dev split),
its gold labels a ``label`` column, its class names and ``minilm/`` embeddings are used when present. The folder's
precomputed weak labels are not LFs the studio can edit, so they are left out: load LFs with ``--lfs``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np
import pandas as pd

__all__ = ["load_studio_data"]

DEV_SPLIT_NAMES = ("dev", "valid", "validation", "val")  # the first present names the dev rows


def _wrench(path: Any) -> Tuple[pd.DataFrame, Optional[np.ndarray], List[str]]:
    from ..datasets import load_dataset

    ds = load_dataset(path)
    frames, embeddings = [], []
    for name in ds.splits:
        s = ds.split(name)
        if s.texts is None:
            raise ValueError(f"DATA: the {name} split of {str(path)!r} has no data['text'] for every example")
        frames.append(pd.DataFrame({"text": s.texts, "label": s.Y, "split": name}))
        embeddings.append(s.embeddings)
    X = np.concatenate(embeddings) if all(e is not None for e in embeddings) else None
    return pd.concat(frames, ignore_index=True), X, list(ds.class_names)


def load_studio_data(data: Any, *, text: str = "text", label: Optional[str] = "label", split: Optional[str] = "split",
                     dev_split: Optional[str] = None, embeddings: Any = None, label_model: str = "triplet",
                     fusion: Optional[str] = None, class_names: Optional[List[str]] = None) -> Tuple[Any, List[str]]:
    """A :class:`labelfuse.Workspace` over ``data`` (a path or a bundled data set name) and its class names.

    ``label`` / ``split``: the gold-label and split columns, used when the table has them; ``dev_split``: the split
    value of dev rows (default: the first of dev, valid, validation, val present; valid for a WRENCH folder). Tables
    are read by :func:`labelfuse.user_data.read_table`; gold labels given as names are mapped to ids with
    ``class_names``. ``embeddings``: None (a WRENCH folder's own when present), a
    .npy file with one row per table row, or "minilm" (encoded and cached).

    Example::

        ws, names = load_studio_data("reviews.csv", label="gold", split="split")
    """
    from ..user_data import read_table
    from ..workspace import Workspace

    path = Path(data)
    X: Any = None
    names: Optional[List[str]] = None
    if path.is_dir() or not path.exists() and path.suffix == "":
        frame, X, names = _wrench(data if not path.exists() else path)
        label, split = "label", "split"
        dev_split = dev_split or "valid"
    else:
        frame = read_table(path)
        label = label if label is not None and label in frame.columns else None
        split = split if split is not None and split in frame.columns else None
        if label is not None and class_names:  # gold given as class names: mapped to ids (a copy of the column)
            ids = {name: c for c, name in enumerate(class_names)}
            frame[label] = frame[label].map(lambda v: ids.get(v, v) if isinstance(v, str) else v)
        if dev_split is None and split is not None:
            present = set(frame[split].astype(str))
            dev_split = next((name for name in DEV_SPLIT_NAMES if name in present), "dev")
    if isinstance(embeddings, (str, Path)) and str(embeddings) != "minilm":
        X = np.load(embeddings)
    elif embeddings is not None:
        X = embeddings
    ws = Workspace(frame, text=text, label=label, split=split, dev_split=dev_split, label_model=label_model,
                   embeddings=X, fusion=fusion,
                   cardinality=len(class_names or names) if (class_names or names) else None)
    return ws, list(class_names or names or [str(c) for c in range(ws.cardinality)])
