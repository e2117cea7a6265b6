"""The one save format: one safetensors file per estimator, whatever its class.

Why safetensors rather than a zip of JSON and .npy members: its header declares every array's dtype, shape and byte
range before any data is read and the reader checks them against the file's size, so a truncated or hostile file
is refused without allocating what it claims; arrays are read without unpickling anything; torch weights and a
faiss index (as a uint8 array) fit in the same file; and the format is maintained elsewhere and already installed
with the embedding extra. The file's string-to-string metadata holds:

- ``format`` = "labelfuse", ``format_version`` (this module's :data:`FORMAT_VERSION`), ``labelfuse_version``;
- ``class``: the estimator's class name, looked up in a registry of labelfuse classes (never imported by name);
- ``state``: JSON with the hyperparameters (``params``), the fitted values (``fitted``) and the metadata of
  nested estimators (``nested``: a Liger's neighbour graph and parts, an Ensemble's members), whose arrays are
  stored under ``<name>/...``.

Files written by earlier releases (a zip per label model or hierarchical model, an .npz plus ``.graph.npz`` per
fusion model, an .npz per neighbour graph, a folder per end model) are converted on load by the readers that
their families register with :func:`register_legacy_reader`.

Example::

    import labelfuse as lf
    lm = lf.LabelModel(cardinality=2).fit(L)
    lm.save("model.lf")                # writes exactly model.lf
    lf.load("model.lf")                # a LabelModel, whatever class was saved
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, Union

import numpy as np

from . import _core

__all__ = ["FORMAT_VERSION", "FileFormatError", "load", "save", "register", "register_legacy_reader",
           "check_legacy_version", "check_zip_sizes", "nested_state", "restore_nested"]

FORMAT_NAME = "labelfuse"
FORMAT_VERSION = 2  # 1: the per-family formats of earlier releases (converted on load)
State = Tuple[Dict[str, Any], Dict[str, np.ndarray]]

_CLASSES: Dict[str, type] = {}
_LEGACY_READERS: List[Callable[[Path], Optional[Tuple[str, Dict[str, Any], Dict[str, np.ndarray]]]]] = []


class FileFormatError(ValueError):
    """A file that is not a labelfuse model, or is damaged, or was written by an unsupported version."""


def register(cls: type) -> type:
    """Make ``cls`` loadable by name (every :class:`~labelfuse._base.Estimator` subclass registers itself)."""
    if not cls.__name__.startswith("_"):
        _CLASSES[cls.__name__] = cls
    return cls


def register_legacy_reader(reader: Callable[[Path], Any]) -> Callable[[Path], Any]:
    """``reader(path)`` returns ``(class name, state, arrays)`` for a file of an earlier format it recognises,
    ``None`` otherwise; ``state`` and ``arrays`` are laid out as the current format's."""
    _LEGACY_READERS.append(reader)
    return reader


def check_legacy_version(meta: Mapping[str, Any], path: Any, what: str) -> None:
    """The one version check of the earlier per-family formats: each had only format_version 1, so anything else
    (a bool included, or none) is a FileFormatError naming the path and the release that wrote the file."""
    version = meta.get("format_version")
    if type(version) is not int or version != 1:
        written_by = meta.get("labelfuse_version")
        hint = f"; it was written by labelfuse {written_by}: install that release or newer" if written_by else ""
        raise FileFormatError(f"path: {path} has {what} format_version {version!r}, but labelfuse "
                              f"{_core.__version__} reads {what} files of format version 1 (and its own format "
                              f"{FORMAT_VERSION}){hint}")


# Files of the earlier formats are zip archives (.npz included): a member may unpack to far more than the archive
# (3 GiB of deflated zeros in a 3 MB file). Every member's declared size is bounded before anything is read (a
# member cannot unpack past its declared size: zipfile stops there and checks the CRC).
LEGACY_MAX_RATIO = 100
LEGACY_MIN_BOUND = 64 * 2**20


def check_zip_sizes(path: Path) -> None:
    """FileFormatError when a zip archive's members declare more than ``LEGACY_MAX_RATIO`` times the archive's
    size (at least ``LEGACY_MIN_BOUND`` bytes) in all."""
    import zipfile

    path = Path(path)
    bound = max(LEGACY_MIN_BOUND, LEGACY_MAX_RATIO * path.stat().st_size)
    try:
        with zipfile.ZipFile(path) as zf:
            total = 0
            for info in zf.infolist():
                total += info.file_size
                if total > bound:
                    raise FileFormatError(f"path: {path} declares {total:,} bytes once unpacked (member "
                                          f"{info.filename[:80]!r}: {info.file_size:,}), more than the "
                                          f"{bound:,} a model file of {path.stat().st_size:,} bytes may hold")
    except zipfile.BadZipFile:
        return  # not a zip: the reader says what it is


# -- state of one estimator (nested estimators included) ------------------------------------------------------------
def estimator_state(est: Any) -> State:
    """(state JSON, arrays) of ``est``: its parameters, fitted values and arrays, and its nested estimators."""
    values, arrays = est._get_state()
    nested = values.pop("__nested__", None) or {}
    state: Dict[str, Any] = {"class": type(est).__name__, "params": est._state_params(), "fitted": values}
    out_arrays = dict(arrays)
    if nested:
        state["nested"] = {}
        for name, child in nested.items():
            child_state, child_arrays = estimator_state(child)
            state["nested"][name] = child_state
            out_arrays.update({f"{name}/{key}": arr for key, arr in child_arrays.items()})
    return state, out_arrays


def nested_state(values: Dict[str, Any], **children: Any) -> Dict[str, Any]:
    """Called from an estimator's ``_get_state``: mark ``children`` (name -> fitted estimator) to be saved with it."""
    values["__nested__"] = {name: child for name, child in children.items() if child is not None}
    return values


def restore_nested(values: Mapping[str, Any], name: str, **options: Any) -> Any:
    """Called from an estimator's ``_set_state``: the nested estimator saved under ``name`` (None when absent)."""
    nested = values.get("__nested__", {})
    if name not in nested:
        return None
    state, arrays = nested[name]
    return from_state(state, arrays, **options)


def from_state(state: Mapping[str, Any], arrays: Mapping[str, np.ndarray], expected: Optional[type] = None,
               where: Any = "state", **options: Any) -> Any:
    """Rebuild an estimator from its state (the inverse of :func:`estimator_state`)."""
    if not isinstance(state, Mapping) or not isinstance(state.get("params"), Mapping) or not isinstance(
            state.get("fitted"), Mapping):
        raise FileFormatError(f"path: {where} is damaged (its state lacks params or fitted values)")
    cls = _CLASSES.get(state.get("class"))
    if cls is None:  # a class whose module is not imported yet (an end model, a Dask model)
        _import_families()
        cls = _CLASSES.get(state.get("class"))
    if cls is None:
        raise FileFormatError(f"path: {where} holds an unknown class {state.get('class')!r}")
    if expected is not None and not issubclass(cls, expected):
        raise TypeError(f"path: {where} holds a {cls.__name__}, not a {expected.__name__}: load it with "
                        f"labelfuse.load or {cls.__name__}.load")
    fitted = dict(state["fitted"])
    nested_meta = state.get("nested") or {}
    if not isinstance(nested_meta, Mapping):
        raise FileFormatError(f"path: {where} is damaged (nested is not a mapping)")
    own = {k: v for k, v in arrays.items() if "/" not in k}
    if nested_meta:
        fitted["__nested__"] = {
            name: (child, {k[len(name) + 1:]: v for k, v in arrays.items() if k.startswith(name + "/")})
            for name, child in nested_meta.items()}
    try:
        model = cls._from_params(dict(state["params"]), **options)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise  # the class's own refusal (e.g. a missing load option) says what to do
        raise FileFormatError(f"path: {where} holds parameters this {cls.__name__} does not take ({exc})") from None
    try:
        model._set_state(fitted, own)
    except FileFormatError as exc:
        message = str(exc)
        if str(where) in message:
            raise
        message = message[len("path: "):] if message.startswith("path: ") else message
        raise FileFormatError(f"path: {where}: {message}") from None
    model._after_load()
    return model


# -- files ----------------------------------------------------------------------------------------------------------
def _safetensors():
    try:
        import safetensors.numpy
        from safetensors import safe_open
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("saving and loading models needs safetensors: pip install safetensors") from exc
    return safetensors.numpy, safe_open


def save(est: Any, path: Union[str, "os.PathLike[str]"]) -> Path:
    """Write ``est`` to exactly ``path`` (written to a temporary file beside it, then renamed: a failed or
    interrupted save leaves any earlier file at ``path`` intact). Returns the path."""
    st_numpy, _ = _safetensors()
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path: {path} is a folder; give a file name")
    state, arrays = estimator_state(est)
    tensors = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(f"{type(est).__name__}: fitted array {name!r} has dtype {arr.dtype}, which cannot be saved")
        tensors[name] = np.ascontiguousarray(arr)
    metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "labelfuse_version": _core.__version__,
                "class": type(est).__name__, "state": json.dumps(state, allow_nan=True)}
    # A temporary name beside the target, created with the usual permissions (mkstemp's 0600 would make every
    # saved model private to its writer).
    tmp = str(path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    mode = os.stat(tmp).st_mode & 0o777  # 0666 less the umask; safetensors recreates the file as 0600
    try:
        st_numpy.save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# The JSON header (array table + metadata) of a model file is small: its arrays hold the bulk. A larger header is
# refused before it is parsed (safetensors itself would accept up to 100 MB and parse it in memory).
MAX_HEADER_BYTES = 16 * 2**20


def _read_current(path: Path) -> Optional[Tuple[Dict[str, Any], Dict[str, np.ndarray]]]:
    """(state, arrays) of a file in the current format; None when the file is not a safetensors file."""
    _, safe_open = _safetensors()
    with open(path, "rb") as fh:
        head = fh.read(8)
    header_bytes = int.from_bytes(head, "little") if len(head) == 8 else 0
    if header_bytes > MAX_HEADER_BYTES and header_bytes <= path.stat().st_size:
        raise FileFormatError(f"path: {path} declares a {header_bytes:,}-byte header (array table and metadata); "
                              f"a labelfuse model's is at most {MAX_HEADER_BYTES:,} bytes")
    try:
        handle = safe_open(str(path), framework="numpy")
    except Exception:  # SafetensorError: not a safetensors file (a legacy zip/npz, or garbage)
        return None
    with handle as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT_NAME:
            raise FileFormatError(f"path: {path} is a safetensors file but not a labelfuse model")
        version = meta.get("format_version", "")
        if not version.isdigit() or not 2 <= int(version) <= FORMAT_VERSION:
            hint = meta.get("labelfuse_version")
            raise FileFormatError(f"path: {path} has format_version {version!r}, but labelfuse {_core.__version__} "
                                  f"reads 1..{FORMAT_VERSION}" + (f"; it was written by labelfuse {hint}: install "
                                                                  "that release or newer" if hint else ""))
        try:
            state = json.loads(meta.get("state", ""))
        except json.JSONDecodeError:
            raise FileFormatError(f"path: {path} is damaged (its state is not JSON)") from None
        except RecursionError:
            raise FileFormatError(f"path: {path} is damaged (its state is nested too deeply)") from None
        if not isinstance(state, dict) or state.get("class") != meta.get("class"):
            raise FileFormatError(f"path: {path} is damaged (its state does not match its class)")
        arrays = {key: f.get_tensor(key) for key in f.keys()}
    return state, arrays


def read(path: Union[str, "os.PathLike[str]"]) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """(state, arrays) of a saved file, in the current layout (files of earlier formats converted)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path: {path} does not exist")
    current = None if path.is_dir() else _read_current(path)
    if current is not None:
        return current
    _import_families()  # every family's reader of its earlier format
    for reader in _LEGACY_READERS:
        legacy = reader(path)
        if legacy is not None:
            name, state, arrays = legacy
            return {"class": name, **state}, arrays
    raise FileFormatError(f"path: {path} is not a labelfuse model file")


def load(path: Union[str, "os.PathLike[str]"], *, expected: Optional[Type] = None, **options: Any) -> Any:
    """Load any estimator saved by labelfuse (current format or an earlier one) and return it as its own class.

    ``expected``: the class (or a base class) the file must hold; another class is a TypeError naming both.
    ``options``: passed to the class's loader (e.g. ``device=`` for end models, ``label_model=`` for a fusion
    model saved with a callable).

    Args:
        path: the file written by ``save``.
        expected: the class (or a base class) the file must hold, or None for any.
        options: passed to the class's loader (e.g. ``device="cpu"`` for end models).

    Returns:
        The estimator, as an object of the class that saved it.

    Example:
        >>> import numpy as np, labelfuse as lf, tempfile, os
        >>> L = np.array([[0, 0, -1], [1, 1, 1], [0, -1, 0], [1, 1, -1]], dtype=np.int8)
        >>> path = os.path.join(tempfile.mkdtemp(), "mv.lf")
        >>> _ = lf.MajorityVote(cardinality=2).fit(L).save(path)
        >>> type(lf.load(path)).__name__
        'MajorityVote'
    """
    state, arrays = read(path)
    return from_state(state, arrays, expected=expected, where=path, **options)


def _import_families() -> None:
    """Import every module that defines saveable classes (so the registry and the legacy readers are complete)
    without importing torch or faiss when they are not installed."""
    import importlib

    import importlib.util

    for module in ("labelfuse.models", "labelfuse.fusion", "labelfuse.embeddings", "labelfuse.hierarchy"):
        importlib.import_module(module)
    if all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed")):
        importlib.import_module("labelfuse.distributed")
    if importlib.util.find_spec("torch") is not None:
        for module in ("labelfuse.endmodels.adapter", "labelfuse.endmodels.multitask", "labelfuse.endmodels.slices",
                       "labelfuse.endmodels.ensemble"):
            importlib.import_module(module)
