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

TABLE_FORMATS = (".csv", ".parquet", ".jsonl", ".json")


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=suffix == ".jsonl")
    except ImportError as exc:
        raise ImportError(f"DATA: reading {path.name} needs an optional package ({exc})") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"DATA: cannot read {str(path)!r} as {suffix[1:]} ({exc})") from None
    raise ValueError(f"DATA: {str(path)!r} is not a table this reads; expected a WRENCH folder or a file ending in "
                     f"{', '.join(TABLE_FORMATS)}")


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


def load_studio_data(data: Any, *, text: str = "text", label: Optional[str] = None, split: Optional[str] = None,
                     dev_split: Optional[str] = None, embeddings: Any = None, label_model: str = "triplet",
                     fusion: Optional[str] = None, class_names: Optional[List[str]] = None) -> Tuple[Any, List[str]]:
    """A :class:`labelfuse.Workspace` over ``data`` (a path or a bundled data set name) and its class names.

    ``label`` / ``split`` default to the columns "label" / "split" when the table has them; ``dev_split`` to
    "valid" for a WRENCH folder and "dev" otherwise. ``embeddings``: None (a WRENCH folder's own when present), a
    .npy file with one row per table row, or "minilm" (encoded and cached).

    Example::

        ws, names = load_studio_data("reviews.csv", label="gold", split="split")
    """
    from ..workspace import Workspace

    path = Path(data)
    X: Any = None
    names: Optional[List[str]] = None
    if path.is_dir() or not path.exists() and path.suffix == "":
        frame, X, names = _wrench(data if not path.exists() else path)
        label, split = label or "label", split or "split"
        dev_split = dev_split or "valid"
    elif not path.exists():
        raise FileNotFoundError(f"DATA: no such file or folder: {str(path)!r}")
    else:
        frame = _read_table(path)
        label = label if label is not None else ("label" if "label" in frame.columns else None)
        split = split if split is not None else ("split" if "split" in frame.columns else None)
        dev_split = dev_split or "dev"
    if isinstance(embeddings, (str, Path)) and str(embeddings) != "minilm":
        X = np.load(embeddings)
    elif embeddings is not None:
        X = embeddings
    ws = Workspace(frame, text=text, label=label, split=split, dev_split=dev_split, label_model=label_model,
                   embeddings=X, fusion=fusion,
                   cardinality=len(class_names or names) if (class_names or names) else None)
    return ws, list(class_names or names or [str(c) for c in range(ws.cardinality)])
