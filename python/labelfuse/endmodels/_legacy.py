"""Reader of the end-model folders written by earlier releases, converted to the current layout (labelfuse._io).

Such a folder holds ``config.json`` (format "labelfuse.endmodel", format_version 1, the class, its parameters and
fitted configuration) and ``weights.pt`` (the network's state dict, read with ``torch.load(weights_only=True)``,
which refuses anything but tensors and plain containers); an Ensemble's folder holds ``config.json`` listing its
members, each in a sub-folder of the same layout. Also the names under which a network's weights are stored in the
current format (:func:`weight_array_name`), shared with the writer so that both layouts give the same arrays.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._io import FileFormatError, check_legacy_version, register_legacy_reader

LEGACY_FORMAT = "labelfuse.endmodel"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
WEIGHTS_PREFIX = "network."


def weight_array_name(key: str) -> str:
    """The array name of a state-dict entry: ``network.`` + the key, with '%' and '/' escaped ('/' separates a
    nested estimator's arrays in the file, and a task or slice name may contain one)."""
    return WEIGHTS_PREFIX + key.replace("%", "%25").replace("/", "%2F")


def weight_key(name: str) -> str:
    """The state-dict key of an array written under :func:`weight_array_name`."""
    if not name.startswith(WEIGHTS_PREFIX):
        raise FileFormatError(f"path: unexpected array {name!r} in a saved end model")
    return name[len(WEIGHTS_PREFIX):].replace("%2F", "/").replace("%25", "%")


def _config(folder: Path) -> Optional[Dict[str, Any]]:
    """The folder's config when it is an end-model folder of an earlier release (its version checked), else None."""
    cfg_file = folder / CONFIG_FILE
    if not folder.is_dir() or not cfg_file.is_file():
        return None
    try:
        config = json.loads(cfg_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(config, dict) or config.get("format") != LEGACY_FORMAT:
        return None
    check_legacy_version(config, cfg_file, "end model")
    if not isinstance(config.get("class"), str):
        raise FileFormatError(f"path: {cfg_file} is damaged (no class)")
    return config


def _read_model(folder: Path, config: Dict[str, Any]) -> Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]:
    import torch

    params, fitted = config.get("params"), config.get("fitted")
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise FileFormatError(f"path: {folder / CONFIG_FILE} is damaged (no params or fitted configuration)")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileFormatError(f"path: {folder} has no {WEIGHTS_FILE}")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # an unpickling error (refused object), a truncated file, ...
        raise FileFormatError(f"path: {weights} is damaged or not a state dict ({type(exc).__name__}: {exc})"
                              ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FileFormatError(f"path: {weights} is not a state dict of tensors")
    arrays = {}
    for key, tensor in state.items():
        tensor = tensor.detach().cpu()
        arrays[weight_array_name(str(key))] = (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
    return config["class"], {"params": dict(params), "fitted": dict(fitted)}, arrays


def read_legacy(path: Path) -> Optional[Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]]:
    """``(class name, state, arrays)`` of an end-model or ensemble folder of an earlier release, None otherwise."""
    folder = Path(path)
    config = _config(folder)
    if config is None:
        return None
    if config["class"] != "Ensemble":
        return _read_model(folder, config)
    names = config.get("members")
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and n and n not in (".", "..") and "/" not in n and "\\" not in n for n in names):
        raise FileFormatError(f"path: {folder / CONFIG_FILE} is damaged (members must be sub-folder names)")
    nested, arrays = {}, {}
    for i, name in enumerate(names):
        member_config = _config(folder / name)
        if member_config is None or member_config["class"] == "Ensemble":
            raise FileFormatError(f"path: {folder / name} is not a saved end model")
        cls_name, state, member_arrays = _read_model(folder / name, member_config)
        child = f"member_{i}"
        nested[child] = {"class": cls_name, **state}
        arrays.update({f"{child}/{key}": arr for key, arr in member_arrays.items()})
    # what Ensemble.from_models gives: the members are the model; no estimator to refit from
    params = {"estimator": None, "n_members": len(names), "vary": "seed", "dev_fraction": 0.8, "random_state": 0}
    return "Ensemble", {"params": params, "fitted": {"n_members_": len(names)}, "nested": nested}, arrays


register_legacy_reader(read_legacy)
