"""LFs as Python source: the text a workspace exports to a .py file and stores in its saved file.

Keyword / regex LFs (those with a ``.spec``) become factory calls; Python LFs become their function's source, preceded
by what the function needs from its module: the modules it names (``import re``), the plain constants it reads
(``SPAM = 1``) and the functions, preprocessors and LFs it calls (their source, in turn). Executing the text defines
every LF and a module-level list ``lfs`` in the original order, so ``lfs_from_file`` or :func:`lfs_from_source` read
it back. What source cannot carry is refused with an error naming the LF: a lambda, a closure, a resource or
constant that is not plain data (numbers, strings, lists, dicts).

Example::

    text = lfs_to_source([has_link, keyword_lf("money", ["cash"], 1)])
    Path("my_lfs.py").write_text(text)
    lfs = lfs_from_source(text)          # executes the text: only for code you trust
"""
from __future__ import annotations

import inspect
import textwrap
import types
from typing import Any, Dict, List, Optional, Sequence

from .lf import LabelingFunction, as_lfs
from .preprocess import Preprocessor, hashable_key

__all__ = ["lfs_to_source", "lfs_from_source", "SourceError"]

_FACTORIES = {"keyword": "keyword_lf", "regex": "regex_lf"}
_PLAIN = (int, float, str, bool, type(None))


class SourceError(ValueError):
    """An LF whose definition cannot be written as source (a lambda, a closure, a resource that is not plain data)."""


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, _PLAIN) and _plain(v) for k, v in value.items())
    return False


def _literal(value: Any) -> str:
    """A Python literal for plain data (repr round-trips numbers, strings, lists, tuples, sets, dicts)."""
    return repr(value)


class _Writer:
    """Collects the definitions the LFs need, each once, in dependency order."""

    def __init__(self) -> None:
        self.imports: Dict[str, str] = {}
        self.blocks: List[str] = []
        self.defined: Dict[int, str] = {}  # id(function) -> name defined in the text

    def function(self, fn: Any, owner: str) -> str:
        """Write ``fn``'s source (and what it needs); returns the name it is defined under."""
        if id(fn) in self.defined:
            return self.defined[id(fn)]
        if isinstance(fn, LabelingFunction):
            raise SourceError(f"LF {owner!r}: calls the LF {fn.name!r}; call its function instead")
        if isinstance(fn, Preprocessor):  # its function, wrapped again as it was (copying, memoizing)
            name = self.function(fn.f, owner)
            options = [f"memoize={fn.memoize!r}"]
            if fn.max_cache is not None:
                options.append(f"max_cache={fn.max_cache!r}")
            if fn.memoize_key is not hashable_key:
                options.append(f"memoize_key={self.function(fn.memoize_key, owner)}")
            self.imports["Preprocessor"] = "from labelfuse.labeling.preprocess import Preprocessor"
            self.blocks.append(f"{name} = Preprocessor({fn.name!r}, {name}, {', '.join(options)})")
            self.defined[id(fn)] = name
            return name
        target = getattr(fn, "__wrapped__", fn)
        if not isinstance(target, types.FunctionType):
            raise SourceError(f"LF {owner!r}: {fn!r} is not a Python function, so its source cannot be stored")
        if target.__name__ == "<lambda>":
            raise SourceError(f"LF {owner!r}: a lambda's source cannot be stored; define it with def")
        if target.__closure__:
            raise SourceError(f"LF {owner!r}: {target.__name__} is a closure (it reads variables of an enclosing "
                              "function); pass those values as resources instead")
        try:
            source = textwrap.dedent(inspect.getsource(target))
        except (OSError, TypeError) as exc:
            raise SourceError(f"LF {owner!r}: the source of {target.__name__} is not available ({exc})") from None
        # the decorator lines are dropped: the LF is rebuilt from the plain function below
        lines = source.splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def ")))
        self.defined[id(fn)] = target.__name__
        self._globals(target, owner)
        self.blocks.append("\n".join(lines[start:]))
        return target.__name__

    def _globals(self, fn: types.FunctionType, owner: str) -> None:
        names = set(fn.__code__.co_names)
        for const in fn.__code__.co_consts:  # names used by nested code (comprehensions)
            if isinstance(const, types.CodeType):
                names |= set(const.co_names)
        for name in sorted(names):
            if name not in fn.__globals__:
                continue  # a builtin or an attribute name
            value = fn.__globals__[name]
            if isinstance(value, types.ModuleType):
                self.imports[name] = (f"import {value.__name__}" if value.__name__ == name
                                      else f"import {value.__name__} as {name}")
            elif _plain(value):
                self.blocks.append(f"{name} = {_literal(value)}")
            elif isinstance(value, LabelingFunction) or callable(value):
                module = getattr(value, "__module__", None) or ""
                if module.startswith("labelfuse") or module in ("builtins", "re", "math", "string"):
                    qual = getattr(value, "__name__", name)
                    self.imports[name] = (f"from {module} import {qual}" if qual == name
                                          else f"from {module} import {qual} as {name}")
                else:
                    self.function(value.f if isinstance(value, LabelingFunction) else value, owner)
            else:
                raise SourceError(f"LF {owner!r}: reads the global {name!r}, a {type(value).__name__}, which is "
                                  "not plain data (numbers, strings, lists, dicts); pass it as a resource")


def lfs_to_source(lfs: Sequence[Any]) -> str:
    """Python source that recreates ``lfs`` (see the module docstring); ends with ``lfs = [...]``."""
    lfs = as_lfs(lfs)
    w = _Writer()
    calls: List[str] = []
    for lf in lfs:
        spec = getattr(lf, "spec", None)
        if spec is not None:
            kind = spec.get("kind")
            args = {key: value for key, value in spec.items() if key != "kind"}
            if kind in _FACTORIES and _plain(args):
                w.imports[_FACTORIES[kind]] = f"from labelfuse.labeling import {_FACTORIES[kind]}"
                calls.append(f"{_FACTORIES[kind]}(" + ", ".join(f"{k}={_literal(v)}" for k, v in args.items()) + ")")
            else:
                w.imports["lf_from_spec"] = "from labelfuse.labeling import lf_from_spec"
                calls.append(f"lf_from_spec({_literal(spec)})")
            continue
        if lf.resources and not _plain(dict(lf.resources)):
            raise SourceError(f"LF {lf.name!r}: its resources are not plain data (numbers, strings, lists, dicts)")
        fn = w.function(lf.f, lf.name)
        pre = [w.function(p, lf.name) for p in lf.pre]
        w.imports["LabelingFunction"] = "from labelfuse.labeling import LabelingFunction"
        args = [_literal(lf.name), fn]
        if lf.resources:
            args.append(f"resources={_literal(dict(lf.resources))}")
        if pre:
            args.append(f"pre=[{', '.join(pre)}]")
        calls.append(f"LabelingFunction({', '.join(args)})")
    out = ['"""Labeling functions exported by labelfuse (Workspace.export_lfs)."""']
    out += sorted(set(w.imports.values()))
    out += [""] + [block + "\n" for block in w.blocks]
    out.append("lfs = [")
    out += [f"    {call}," for call in calls]
    out.append("]")
    return "\n".join(out) + "\n"


def lfs_from_source(text: str, *, where: Optional[str] = None) -> List[LabelingFunction]:
    """Execute ``text`` (the user's own code: only for sources you trust) and return its ``lfs`` list."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected the source as a str, got {type(text).__name__}")
    namespace: Dict[str, Any] = {"__name__": "labelfuse_lfs"}
    exec(compile(text, where or "<labelfuse lfs>", "exec"), namespace)  # noqa: S102 - on the caller's request
    lfs = namespace.get("lfs")
    if not isinstance(lfs, list):
        raise ValueError(f"{where or 'text'}: defines no list 'lfs' of labeling functions")
    return as_lfs(lfs)
