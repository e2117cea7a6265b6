"""Reader of the label-model files of the first releases (format "labelfuse-model", format_version 1): a zip
archive holding ``metadata.json`` (format, format_version, class, hyperparameters, JSON fitted values) and one
``<name>.npy`` per fitted array. They are converted to the state layout of :mod:`labelfuse._io` on load; the
arrays are read with ``allow_pickle=False``, so nothing in the file is ever executed."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._io import FileFormatError, check_legacy_version, check_zip_sizes, register_legacy_reader

FORMAT_NAME = "labelfuse-model"
CLASSES = ("LabelModel", "MajorityVote")


def read_label_model_zip(path: Path) -> Optional[Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]]:
    """(class name, {"params", "fitted"}, arrays) of a first-release label-model file; None when ``path`` is not
    one (not a zip, or a zip of another family). A label-model file of another format version, or a damaged one,
    is a FileFormatError (a ValueError) naming the path."""
    path = Path(path)
    if path.is_dir() or not zipfile.is_zipfile(path):
        return None
    check_zip_sizes(path)
    with zipfile.ZipFile(path) as zf:
        try:
            meta = json.loads(zf.read("metadata.json"))
        except KeyError:
            return None
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            return None
        check_legacy_version(meta, path, "label model")
        name = meta.get("class")
        params, fitted = meta.get("params"), meta.get("fitted")
        if name not in CLASSES or not isinstance(params, dict) or not isinstance(fitted, dict):
            raise FileFormatError(f"path: {path} is a damaged label model file (class {name!r}, or no "
                                  "params / fitted values)")
        arrays = {}
        for member in zf.namelist():
            if member.endswith(".npy") and "/" not in member:
                with zf.open(member) as f:
                    try:
                        arrays[member[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
                    except ValueError as exc:
                        raise FileFormatError(f"path: {path} is damaged ({member}: {exc})") from None
    return name, {"params": params, "fitted": fitted}, arrays


register_legacy_reader(read_label_model_zip)
