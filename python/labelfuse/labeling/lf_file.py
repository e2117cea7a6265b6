"""Loading a user's labeling functions from a Python file (``labelfuse run DATA --lfs my_lfs.py``).

The file is the user's own code and is executed on purpose, like ``python my_lfs.py`` would: only pass files you
trust. Keyword / regex LFs saved as specs are loaded without executing code by
:func:`labelfuse.labeling.templates.lf_from_spec` instead.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from os import PathLike
from pathlib import Path
from typing import List, Union

from .lf import LabelingFunction, as_lfs

__all__ = ["lfs_from_file"]


def lfs_from_file(path: Union[str, "PathLike[str]"]) -> List[LabelingFunction]:
    """The labeling functions defined in the Python file ``path``.

    The file is executed as a module. When it defines a list named ``lfs``, that list is returned (plain callables
    in it are wrapped and named by ``__name__``); otherwise every :class:`LabelingFunction` bound at module level,
    in definition order. While the file runs, its folder is on ``sys.path`` (so it can import helper modules next to
    it, as ``python my_lfs.py`` could); ``sys.path`` is restored afterwards.

    Raises FileNotFoundError for a missing file, ValueError when the file defines no LFs or repeats a name, and
    re-raises (with the file named) whatever the file raises while it runs.

    Example::

        # my_lfs.py
        from labelfuse.labeling import labeling_function, keyword_lf
        kw_check = keyword_lf("kw_check_out", ["check out"], label=1)

        @labeling_function()
        def short_comment(x):
            return 0 if len(x.text) < 20 else -1

        # elsewhere
        lfs = lfs_from_file("my_lfs.py")   # [kw_check_out, short_comment]
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"lfs: no such file: {str(file)!r} (expected a Python file defining labeling "
                                "functions)")
    if file.suffix != ".py":
        raise ValueError(f"lfs: expected a Python file ending in .py, got {str(file)!r}")
    resolved = file.resolve()
    # A private module name per file, so two LF files never share a module (or a sys.modules entry).
    name = "labelfuse_user_lfs_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ValueError(f"lfs: cannot load {str(file)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(resolved.parent)
    saved_path = list(sys.path)
    sys.path.insert(0, folder)
    # Registered while it runs: dataclasses and typing look the module up by name during execution.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise RuntimeError(f"lfs: running {str(file)!r} raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(name, None)
        sys.path[:] = saved_path
    namespace = vars(module)
    if "lfs" in namespace:
        try:
            return as_lfs(namespace["lfs"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"lfs: the list `lfs` in {str(file)!r} is not a list of labeling functions: "
                             f"{exc}") from None
    found: List[LabelingFunction] = []
    seen = set()
    for value in namespace.values():
        if isinstance(value, LabelingFunction) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)
    if not found:
        raise ValueError(f"lfs: {str(file)!r} defines no labeling functions; decorate functions with "
                         "@labeling_function(), build them with keyword_lf / regex_lf, or define a list `lfs`")
    try:
        return as_lfs(found)
    except ValueError as exc:
        raise ValueError(f"lfs: in {str(file)!r}: {exc}") from None
