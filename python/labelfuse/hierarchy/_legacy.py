"""Reader of the hierarchical-model files of earlier releases (registered with ``labelfuse._io``).

Those files are zip archives holding ``metadata.json`` (``format_version`` 1, ``class``, the task graph as its
description, the hyperparameters, the fitted values and ``n_tables``) and one ``.npy`` member per fitted array
(``class_balance_.npy``, ``accuracy_.npy``, ``precision_.npy``, ``table_<j>.npy`` per LF). The reader returns them
in the current layout: the graph joins the hyperparameters, the arrays keep their names; HardMV's ``seed`` stays
as saved (``_from_params`` renames it to ``random_state``).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._io import FileFormatError, check_legacy_version, check_zip_sizes, register_legacy_reader

CLASSES = ("HierarchicalLabelModel", "SoftMV", "HardMV")
_ARRAYS = ("class_balance_", "accuracy_", "precision_")


def read_legacy(path: Path) -> Optional[Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]]:
    """(class name, state, arrays) of a hierarchical-model zip of an earlier release; None for any other file."""
    path = Path(path)
    if path.is_dir() or not zipfile.is_zipfile(path):
        return None
    check_zip_sizes(path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if "metadata.json" not in names:
            return None
        try:
            meta = json.loads(zf.read("metadata.json"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(meta, dict) or meta.get("class") not in CLASSES or "graph" not in meta:
            return None  # another family's zip (a label model's metadata.json has no task graph)
        check_legacy_version(meta, path, "hierarchical model")
        params, fitted = meta.get("params"), meta.get("fitted")
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            raise FileFormatError(f"path: {path} is damaged (its metadata lacks params or fitted values)")
        arrays = {}
        members = [k for k in _ARRAYS if f"{k}.npy" in names]
        n_tables = meta.get("n_tables") or 0
        if not isinstance(n_tables, int) or n_tables < 0:
            raise FileFormatError(f"path: {path} is damaged (n_tables {n_tables!r})")
        members += [f"table_{j}" for j in range(n_tables)]
        for name in members:
            try:
                with zf.open(f"{name}.npy") as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
            except KeyError:
                raise FileFormatError(f"path: {path} is damaged (it lacks {name}.npy)") from None
            except ValueError as exc:
                raise FileFormatError(f"path: {path} is damaged ({name}.npy: {exc})") from None
    state = {"params": {"graph": meta["graph"], **params}, "fitted": dict(fitted)}
    return meta["class"], state, arrays


register_legacy_reader(read_legacy)
