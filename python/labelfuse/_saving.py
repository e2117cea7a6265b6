"""What every saved-file format of labelfuse shares: the version stamp and the check that refuses what it cannot read.

Each family (label models, fusion models, neighbour graphs, end models, hierarchical models) keeps its own layout
and its own format version, numbered from 1; a loader reads every version from 1 to its current one. The stamp also
records the labelfuse that wrote the file, so a refusal can say which release to install.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

from . import _core

__all__ = ["version_stamp", "check_format_version"]


def version_stamp(format_version: int) -> Dict[str, Any]:
    """The keys every saved metadata dict carries."""
    return {"format_version": format_version, "labelfuse_version": _core.__version__}


def check_format_version(meta: Mapping[str, Any], current: int, path: Any, what: str) -> int:
    """The file's format version, or a ValueError naming ``path`` when it is missing or not one this release reads.

    ``what`` names the kind of file in the message ("label model", "end model", ...)."""
    version = meta.get("format_version") if isinstance(meta, Mapping) else None
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= current:
        written_by = meta.get("labelfuse_version") if isinstance(meta, Mapping) else None
        hint = f"; it was written by labelfuse {written_by}: install that release or newer" if written_by else ""
        raise ValueError(f"path: {path} has {what} format_version {version!r}, but labelfuse {_core.__version__} "
                         f"reads format versions 1..{current}{hint}")
    return version
