"""Reader of the neighbour-graph files of earlier releases (format 1: an .npz holding the metadata as UTF-8 JSON
bytes in ``meta``, the database ``X``, the neighbour lists ``ids`` / ``sims`` and the serialized faiss ``index``),
converted to the state layout of :mod:`labelfuse._io`. Registered with :func:`labelfuse._io.register_legacy_reader`.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from .._io import FileFormatError, check_legacy_version, check_zip_sizes, register_legacy_reader

__all__ = ["read_npz", "read_graph"]

GRAPH_KEYS = ("meta", "X", "ids", "sims", "index")


def read_npz(path: Path) -> Optional[Tuple[Dict[str, Any], Dict[str, np.ndarray]]]:
    """(metadata, arrays) of an .npz whose ``meta`` member holds JSON as uint8 bytes; None for any other file."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return None
    check_zip_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            if "meta" not in f.files:
                return None
            arrays = {name: f[name] for name in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    raw = arrays.pop("meta")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        return None
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FileFormatError(f"path: {path} is damaged (its metadata is not JSON)") from None
    if not isinstance(meta, dict):
        raise FileFormatError(f"path: {path} is damaged (its metadata is not a JSON object)")
    return meta, arrays


def _params(meta: Mapping[str, Any], path: Path) -> Dict[str, Any]:
    params = meta.get("params")
    if not isinstance(params, dict):
        raise FileFormatError(f"path: {path} is damaged (its metadata lacks the parameters)")
    return dict(params)


def graph_state(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], path: Path
                ) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """A format-1 graph's metadata and arrays as the current state (``class``, ``params``, ``fitted``) and arrays."""
    missing = [k for k in GRAPH_KEYS[1:] if k not in arrays]
    if missing or "n_neighbors_" not in meta:
        raise FileFormatError(f"path: {path} is damaged (the neighbour graph lacks {missing or 'n_neighbors_'})")
    state = {"class": "NeighborGraph", "params": _params(meta, path),
             "fitted": {"n_neighbors_": int(meta["n_neighbors_"])}}
    return state, {"X_": arrays["X"], "ids_": arrays["ids"], "sims_": arrays["sims"], "index_": arrays["index"]}


def read_graph(path: Path) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """The state of a format-1 neighbour-graph file (a fusion model's ``<path>.graph.npz``); FileFormatError when
    it is not one."""
    found = read_npz(path)
    if found is None:
        raise FileFormatError(f"path: {path} is not a neighbour graph file")
    meta, arrays = found
    check_legacy_version(meta, path, "neighbour graph")
    return graph_state(meta, arrays, path)


@register_legacy_reader
def _read_legacy_graph(path: Path):
    found = read_npz(path)
    if found is None:
        return None
    meta, arrays = found
    if "class" in meta or "L_train" in arrays or not {"X", "ids", "sims", "index"} <= set(arrays):
        return None  # another family's .npz (a fusion model carries its class name)
    check_legacy_version(meta, path, "neighbour graph")
    state, arrays = graph_state(meta, arrays, path)
    return state.pop("class"), state, arrays
