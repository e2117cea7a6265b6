"""Python LFs typed into the studio: the text is compiled, executed and its labeling functions collected.

The text is the user's own code, run in the studio's process on purpose (the studio is a local tool, reachable only
with its token). It is registered with :mod:`linecache` under a unique file name, so ``inspect.getsource`` finds it
and ``Workspace.export_lfs`` can write the function back out, as it does for LFs from a file.
"""
from __future__ import annotations

import itertools
import linecache
import traceback
from typing import Any, Dict, List, Sequence

from ..labeling import ABSTAIN, LabelingFunction, labeling_function

__all__ = ["LFCodeError", "lf_from_code", "starter_code"]

_counter = itertools.count(1)
MAX_CODE_CHARS = 100_000


class LFCodeError(ValueError):
    """The LF text does not compile, raises while it runs, or defines no / several LFs; ``detail`` holds the
    traceback limited to the user's lines."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def _namespace(class_names: Sequence[str]) -> Dict[str, Any]:
    """What the text sees without importing: the decorator, ABSTAIN, and one constant per class name that is a
    valid identifier (HAM = 0, SPAM = 1)."""
    ns: Dict[str, Any] = {"__name__": "labelfuse_studio_lf", "labeling_function": labeling_function,
                          "ABSTAIN": ABSTAIN}
    for c, name in enumerate(class_names):
        ident = str(name).upper().replace(" ", "_").replace("-", "_")
        if ident.isidentifier() and ident not in ns:
            ns[ident] = c
    return ns


def user_traceback(exc: BaseException, filename: str) -> str:
    """The traceback of ``exc`` from the first frame in the user's text on (labelfuse's own frames dropped)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [i for i, f in enumerate(frames) if f.filename == filename]
    frames = frames[mine[0]:] if mine else frames[-1:]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def lf_from_code(code: str, class_names: Sequence[str] = ()) -> LabelingFunction:
    """Compile and run ``code`` and return the one :class:`LabelingFunction` it defines (a module-level LF made
    with ``@labeling_function()``, or a list ``lfs`` of one LF). Raises :class:`LFCodeError` with the user's part
    of the traceback for anything else.

    Example::

        lf = lf_from_code('''
        @labeling_function()
        def short(x):
            return HAM if len(x.text) < 20 else ABSTAIN
        ''', class_names=["HAM", "SPAM"])
    """
    if not isinstance(code, str) or not code.strip():
        raise LFCodeError("code: expected the text of a Python LF")
    if len(code) > MAX_CODE_CHARS:
        raise LFCodeError(f"code: at most {MAX_CODE_CHARS} characters, got {len(code)}")
    filename = f"<studio-lf-{next(_counter)}>"
    try:
        compiled = compile(code, filename, "exec")
    except SyntaxError as exc:
        raise LFCodeError(f"SyntaxError: {exc.msg} (line {exc.lineno})",
                          "".join(traceback.format_exception_only(type(exc), exc))) from None
    # registered before running, so tracebacks show the lines; mtime None keeps linecache.checkcache from
    # dropping an entry that has no file behind it
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    ns = _namespace(class_names)
    try:
        exec(compiled, ns)  # noqa: S102 - the user's own LF, run on purpose
    except (Exception, SystemExit) as exc:  # sys.exit() in the text must not stop the studio
        raise LFCodeError(f"{type(exc).__name__} while running the LF code: {exc}",
                          user_traceback(exc, filename)) from None
    found: List[LabelingFunction]
    if "lfs" in ns and isinstance(ns["lfs"], (list, tuple)):
        found = [lf for lf in ns["lfs"] if isinstance(lf, LabelingFunction)]
    else:
        found = []
        for value in ns.values():
            if isinstance(value, LabelingFunction) and all(value is not f for f in found):
                found.append(value)
    if len(found) != 1:
        what = "no labeling function" if not found else f"{len(found)} labeling functions"
        raise LFCodeError(f"code: defines {what}; define exactly one, decorated with @labeling_function()")
    return found[0]


def starter_code(class_names: Sequence[str]) -> str:
    """The text the editor starts from for a new Python LF."""
    ns = _namespace(class_names)
    label = next((k for k, v in ns.items() if isinstance(v, int) and k != "ABSTAIN" and v == len(class_names) - 1),
                 str(max(0, len(class_names) - 1)))
    return ("@labeling_function()\n"
            "def my_lf(x):\n"
            f"    return {label} if \"http\" in x.text.lower() else ABSTAIN\n")
