"""Reader of the Epoxy / Liger files of earlier releases (format 1: an .npz holding the metadata as UTF-8 JSON bytes
in ``meta``, the votes, thresholds and tables, the k-means centres and part labels of a Liger, and beside it the
neighbour graph as ``<path>.graph.npz``), converted to the state layout of :mod:`labelfuse._io`: the graph and the
partition become nested estimators. Registered with :func:`labelfuse._io.register_legacy_reader`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np

from .._io import FileFormatError, check_legacy_version, register_legacy_reader
from ..embeddings._legacy import read_graph, read_npz

__all__ = []

_CLASSES = ("Epoxy", "Liger")
# old array name -> fitted array of the current layout
_ARRAYS = {"L_train": "L_train_", "L_extended": "L_extended_", "thresholds": "thresholds_", "cpt": "cpt_",
           "class_balance": "class_balance_", "balance_input": "balance_input"}


@register_legacy_reader
def _read_legacy_fusion(path: Path):
    found = read_npz(path)
    if found is None:
        return None
    meta, arrays = found
    if meta.get("class") not in _CLASSES or "L_train" not in arrays:
        return None
    check_legacy_version(meta, path, "fusion model")  # before the graph is looked for: the version says what to expect
    missing = [k for k in ("L_train", "L_extended", "thresholds", "cpt", "class_balance") if k not in arrays]
    params = meta.get("params")
    if missing or not isinstance(params, dict) or "cardinality_" not in meta or "threshold_mode_" not in meta:
        raise FileFormatError(f"path: {path} is damaged (the {meta['class']} lacks {missing or 'its metadata'})")
    graph_path = path.with_name(path.name + ".graph.npz")
    if not graph_path.is_file():
        raise FileFormatError(f"path: {path} was saved by an earlier release with its neighbour graph beside it, "
                              f"as {graph_path.name}, which is missing")
    graph_state, graph_arrays = read_graph(graph_path)

    out = {_ARRAYS[k]: arrays[k] for k in _ARRAYS if k in arrays}
    cpt = np.asarray(arrays["cpt"])
    fitted: Dict[str, Any] = {"cardinality_": int(meta["cardinality_"]), "threshold_mode_": meta["threshold_mode_"],
                              "n_lfs_": int(np.asarray(arrays["L_train"]).shape[1]), "n_parts_": int(cpt.shape[0])}
    nested: Dict[str, Any] = {"graph": graph_state}
    out.update({f"graph/{k}": v for k, v in graph_arrays.items()})
    if "centers" in arrays:
        if "part_labels" not in arrays:
            raise FileFormatError(f"path: {path} is damaged (the k-means centres come without the part labels)")
        centers = np.asarray(arrays["centers"])
        labels = np.asarray(arrays["part_labels"], dtype=np.int64)
        seed = params.get("random_state", params.get("seed", 0))
        nested["partition"] = {"class": "KMeansPartition",
                               "params": {"n_parts": int(cpt.shape[0]), "random_state": seed},
                               "fitted": {"n_parts_": int(centers.shape[0])}}
        out.update({"partition/labels_": labels, "partition/centers_": centers,
                    "partition/sizes_": np.bincount(labels, minlength=centers.shape[0]).astype(np.int64)})
    return meta["class"], {"params": dict(params), "fitted": fitted, "nested": nested}, out
