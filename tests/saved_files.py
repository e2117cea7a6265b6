"""Checks for saved-estimator files: a committed file loads, and files claiming an unknown format are refused.

Use from a test (see tests/fixtures/README.md for the layout of committed fixtures)::

    from saved_files import check_saved_file, fixture_files

    @pytest.mark.parametrize("path", fixture_files("DawidSkene"), ids=lambda p: p.name)
    def test_saved_dawid_skene_keeps_loading(path, tmp_path):
        model = check_saved_file(DawidSkene, path, tmp_path)
        np.testing.assert_allclose(model.predict_proba(L_FIXTURE), expected_for(path))

``check_saved_file`` understands the layouts labelfuse uses or may use: a zip archive holding JSON metadata
(the label models' ``.lfm``; ``.npz`` files are zips too, with the metadata as a ``.json`` member, a 0-d string
array or a uint8 array of UTF-8 JSON), a plain ``.json`` file, or a directory holding one. The metadata must carry ``format_version``.
"""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any, Callable, List, Optional

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
UNKNOWN_VERSION = 10**6  # a version no release will have written
VERSION_KEY = "format_version"


COMPANIONS = (".expected.", ".graph.npz")  # files saved beside a fixture, not fixtures themselves


def fixture_files(class_name: str, root: Path = FIXTURES) -> List[Path]:
    """Committed files for an estimator class: tests/fixtures/<class_name>/* except the companions (expected
    outputs, a fusion model's neighbour graph)."""
    folder = Path(root) / class_name
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if not any(c in p.name for c in COMPANIONS) and p.name != "README.md")


def check_saved_file(estimator_cls: type, path: Path, tmp_path: Path, *,
                     load: Optional[Callable[[Path], Any]] = None, version_key: str = VERSION_KEY) -> Any:
    """Load ``path`` with ``estimator_cls.load`` (or ``load``), then check that the same file with its format
    version replaced by an unknown one, or removed, is refused with a ValueError that mentions the version.
    Returns the loaded estimator for the caller's own checks (predictions, fitted attributes)."""
    load = load or estimator_cls.load
    path = Path(path)
    assert path.exists(), f"{path}: no such fixture"
    assert find_version(path, version_key) is not None, f"{path}: the saved metadata has no {version_key!r}"

    model = load(path)
    assert isinstance(model, estimator_cls), f"{path}: loaded a {type(model).__name__}, not a {estimator_cls.__name__}"

    for label, version in (("unknown", UNKNOWN_VERSION), ("missing", None)):
        altered = tmp_path / f"{label}-{path.name}"
        rewrite_version(path, altered, version, version_key)
        with pytest.raises(ValueError, match="version"):  # the message must say what is wrong with the file
            load(altered)
    return model


# ---- reading and rewriting the version wherever the metadata lives ----------------------------------------------
def _edit_json(text: bytes, version: Optional[int], key: str) -> Optional[bytes]:
    try:
        meta = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict) or key not in meta:
        return None
    if version is None:
        del meta[key]
    else:
        meta[key] = version
    return json.dumps(meta).encode()


def _npy_text(data: bytes) -> Optional[tuple]:
    """(text, kind) of JSON metadata kept in an .npy member: a 0-d string array, or UTF-8 bytes as a uint8 vector."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError:
        return None
    if arr.ndim == 0 and arr.dtype.kind in "US":
        return str(arr.item()).encode(), "string"
    if arr.ndim == 1 and arr.dtype == np.uint8:
        return arr.tobytes(), "bytes"
    return None


def _edit_npy_string(data: bytes, version: Optional[int], key: str) -> Optional[bytes]:
    found = _npy_text(data)
    if found is None:
        return None
    text, kind = found
    edited = _edit_json(text, version, key)
    if edited is None:
        return None
    out = io.BytesIO()
    np.save(out, np.array(edited.decode()) if kind == "string" else np.frombuffer(edited, dtype=np.uint8),
            allow_pickle=False)
    return out.getvalue()


def _edit_member(name: str, data: bytes, version, key) -> Optional[bytes]:
    if name.endswith(".json"):
        return _edit_json(data, version, key)
    if name.endswith(".npy"):
        return _edit_npy_string(data, version, key)
    return None


def _safetensors_header(data: bytes) -> Optional[dict]:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON), or None."""
    if len(data) < 8:
        return None
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        return None
    try:
        header = json.loads(data[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return header if isinstance(header, dict) and isinstance(header.get("__metadata__"), dict) else None


def _rewrite_safetensors(data: bytes, version: Optional[int], key: str) -> Optional[bytes]:
    header = _safetensors_header(data)
    if header is None or key not in header["__metadata__"]:
        return None
    size = int.from_bytes(data[:8], "little")
    if version is None:
        del header["__metadata__"][key]
    else:
        header["__metadata__"][key] = str(version)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # keep the data aligned as the format asks
    return len(text).to_bytes(8, "little") + text + data[8 + size:]


def rewrite_version(src: Path, dst: Path, version: Optional[int], key: str = VERSION_KEY) -> None:
    """Copy ``src`` to ``dst`` with every ``key`` in its JSON metadata set to ``version`` (None: removed)."""
    edited = 0
    st = None if src.is_dir() else _rewrite_safetensors(src.read_bytes(), version, key)
    if st is not None:
        dst.write_bytes(st)
        edited += 1
    elif src.is_dir():
        shutil.copytree(src, dst)
        for f in dst.rglob("*.json"):
            new = _edit_json(f.read_bytes(), version, key)
            if new is not None:
                f.write_bytes(new)
                edited += 1
    elif zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                new = _edit_member(info.filename, data, version, key)
                if new is not None:
                    data, edited = new, edited + 1
                zout.writestr(info, data)
    else:
        new = _edit_json(src.read_bytes(), version, key)
        if new is not None:
            dst.write_bytes(new)
            edited += 1
    assert edited, f"{src}: found no JSON metadata with {key!r} to rewrite"


def find_version(path: Path, key: str = VERSION_KEY) -> Optional[Any]:
    """The format version recorded in a saved file (None when there is none)."""
    path = Path(path)
    texts: List[bytes] = []
    header = None if path.is_dir() else _safetensors_header(path.read_bytes())
    if header is not None:
        return header["__metadata__"].get(key)
    if path.is_dir():
        texts = [f.read_bytes() for f in path.rglob("*.json")]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                if name.endswith(".npy"):
                    found = _npy_text(data)
                    if found is not None:
                        texts.append(found[0])
                elif name.endswith(".json"):
                    texts.append(data)
    else:
        texts = [path.read_bytes()]
    for text in texts:
        try:
            meta = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict) and key in meta:
            return meta[key]
    return None
