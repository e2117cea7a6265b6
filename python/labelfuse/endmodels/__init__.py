"""End models in PyTorch: Adapter (MLP on embeddings), multi-task networks (SingleTask / FlatMTL / HierMTL), slice
heads, ensembles, an optional MiniLM text encoder.

torch is an optional dependency: this package imports it only when one of its names is first used, and raises an
ImportError that says how to install it when it is missing.
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
    "TaskTree": "tasks",
    "as_task_tree": "tasks",
    "slicing_function": "slicing",
    "apply_slicing_functions": "slicing",
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
        return getattr(importlib.import_module(f".{_NO_TORCH[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
