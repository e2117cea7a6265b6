"""End models in PyTorch: Adapter (MLP on embeddings), multi-task networks (SingleTask / FlatMTL / HierMTL), slice
heads, ensembles, an optional MiniLM text encoder.

torch is an optional dependency: this package imports it only when one of its names is first used, and raises an
ImportError that says how to install it when it is missing. Every model saves to one file (``model.save(path)``;
``labelfuse._io.load(path)`` or ``Class.load(path, device=...)``); ``load_model`` is an alias of
``labelfuse._io.load``, and the folders written by earlier releases still load.

Example::

    from labelfuse.endmodels import Adapter, HierMTL
    # P: (n, k) probabilistic labels from a label model; rows where every LF abstained masked out
    clf = Adapter(random_state=0).fit(X_train, P, X_dev, Y_dev, mask=(L >= 0).any(axis=1))
    clf.predict_proba(X_test); clf.save("adapter.lf"); Adapter.load("adapter.lf", device="cpu")

    tasks = {"coarse": {"cardinality": 2, "parent": None},
             "corp": {"cardinality": 2, "parent": ("coarse", 0)},
             "mkt": {"cardinality": 2, "parent": ("coarse", 1)}}
    net = HierMTL(tasks, random_state=0).fit(X_train, P_end)  # P_end: (n, 4) soft labels over the tree's end labels
    net.predict_task_proba(X_test)  # {"coarse": (n, 2), "corp": (n, 2), "mkt": (n, 2)}
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Adapter": "adapter",
    "SingleTask": "multitask",
    "FlatMTL": "multitask",
    "HierMTL": "multitask",
    "SliceClassifier": "slices",
    "Ensemble": "ensemble",
    "MiniLMEncoder": "encoders",
    "minilm_available": "encoders",
    "load_model": "ensemble",
}
_NO_TORCH = {
    "TaskGraph": "..hierarchy.graph",
    "as_task_tree": "tasks",
    "slicing_function": "..labeling.slicing",
    "apply_slicing_functions": "..labeling.slicing",
}

__all__ = sorted([*_LAZY, *_NO_TORCH])


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "labelfuse.endmodels needs PyTorch: install torch (e.g. `pip install torch` or labelfuse[torch])"
        ) from exc


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        _require_torch()
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _NO_TORCH:
        module = _NO_TORCH[name]
        return getattr(importlib.import_module(module if module.startswith("..") else f".{module}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
