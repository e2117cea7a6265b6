"""Keyword and regex labeling functions built from data, not code: each carries a JSON-able ``.spec`` from which
:func:`lf_from_spec` rebuilds it without executing anything, so a saved workspace or a studio request can hold
LFs that are safe to load from an untrusted file.

Example::

    from labelfuse.labeling import keyword_lf, regex_lf, lf_from_spec

    spam = keyword_lf("kw_subscribe", ["subscribe", "my channel"], label=1)
    link = regex_lf("re_link", r"https?://", label=1)
    spam("Please SUBSCRIBE to my channel")       # 1
    spam("subscribers")                          # -1 (whole words only)
    lf_from_spec(link.spec)("see http://x.y")    # 1
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional

import pandas as pd

from .lf import ABSTAIN, MAX_CLASS_ID, LabelingFunction

__all__ = ["keyword_lf", "lf_from_spec", "regex_lf"]

# Bounds on what a spec may hold: a spec can come from an untrusted file, and these keep a hostile one from
# allocating without limit. A catastrophic-backtracking pattern is not detectable up front; a regex LF runs the
# user's pattern as given.
MAX_NAME_CHARS = 200
MAX_FIELD_CHARS = 200
MAX_KEYWORDS = 10_000
MAX_KEYWORD_CHARS = 1_000
MAX_KEYWORDS_TOTAL_CHARS = 200_000  # all keywords together: bounds the size of the compiled alternation
MAX_PATTERN_CHARS = 10_000
# The flags a regex LF may carry: re.DEBUG (prints while compiling) and re.TEMPLATE / re.LOCALE are refused.
ALLOWED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII | re.UNICODE

_SPEC_KEYS = {
    "keyword": {"kind", "name", "keywords", "label", "field", "case_sensitive", "whole_word"},
    "regex": {"kind", "name", "pattern", "label", "field", "flags"},
}


class _FieldMatch:
    """``x -> label`` when ``regex`` matches the text in ``x[field]``, else abstain. A top-level class (not a
    closure) so the LF pickles, e.g. for the Dask appliers."""

    __slots__ = ("field", "regex", "label")

    def __init__(self, field: str, regex: "re.Pattern[str]", label: int) -> None:
        self.field = field
        self.regex = regex
        self.label = label

    def __call__(self, x: Any) -> int:
        text = field_text(x, self.field)
        if text is None:
            return ABSTAIN
        return self.label if self.regex.search(text) is not None else ABSTAIN

    def __getstate__(self) -> Any:
        return (self.field, self.regex, self.label)

    def __setstate__(self, state: Any) -> None:
        self.field, self.regex, self.label = state


def field_text(x: Any, field: str) -> Optional[str]:
    """The text an LF template reads from one example: ``x`` itself when it is a str, else ``x[field]`` (a dict, a
    pandas row, a labelfuse row) or ``getattr(x, field)``. Missing values (None, NaN) give None (the LF abstains);
    other non-str values are converted with ``str``."""
    if isinstance(x, str):
        return x
    if isinstance(x, (Mapping, pd.Series)):
        try:
            value = x[field]
        except KeyError:
            raise KeyError(f"example has no field {field!r}") from None
    else:
        try:
            value = getattr(x, field)
        except AttributeError:
            try:
                value = x[field]
            except (KeyError, TypeError, IndexError):
                raise KeyError(f"example of type {type(x).__name__} has no field {field!r}") from None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if isinstance(value, str) else str(value)


# -- checks (every spec goes through them, whether it came from a call or from a file) ---------------------------
def _check_str(value: Any, what: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what}: expected a str, got {type(value).__name__}")
    if not empty and not value:
        raise ValueError(f"{what}: expected a non-empty str")
    if len(value) > limit:
        raise ValueError(f"{what}: at most {limit} characters, got {len(value)}")
    return value


def _check_label(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= MAX_CLASS_ID:
        raise ValueError(f"label: expected a class id (an int in 0..{MAX_CLASS_ID}), got {value!r}")
    return int(value)


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what}: expected True or False, got {value!r}")
    return value


def _check_keywords(keywords: Any) -> List[str]:
    if isinstance(keywords, str):
        keywords = [keywords]
    if not isinstance(keywords, Iterable) or isinstance(keywords, (bytes, Mapping)):
        raise TypeError(f"keywords: expected a list of str, got {type(keywords).__name__}")
    out: List[str] = []
    for i, kw in enumerate(keywords):
        if i >= MAX_KEYWORDS:
            raise ValueError(f"keywords: at most {MAX_KEYWORDS} keywords")
        out.append(_check_str(kw, f"keywords[{i}]", MAX_KEYWORD_CHARS))
    if not out:
        raise ValueError("keywords: expected at least one keyword")
    total = sum(map(len, out))
    if total > MAX_KEYWORDS_TOTAL_CHARS:
        raise ValueError(f"keywords: at most {MAX_KEYWORDS_TOTAL_CHARS} characters in all, got {total}")
    return out


def _check_flags(flags: Any) -> int:
    if isinstance(flags, re.RegexFlag):
        flags = int(flags)
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags: expected an int of re flags, got {flags!r}")
    if flags < 0 or flags & ~int(ALLOWED_FLAGS):
        raise ValueError(f"flags: only re.IGNORECASE, MULTILINE, DOTALL, VERBOSE, ASCII and UNICODE are allowed, "
                         f"got {flags}")
    return flags


def _compile(pattern: str, flags: int, what: str) -> "re.Pattern[str]":
    try:
        return re.compile(pattern, flags)
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        raise ValueError(f"{what}: not a valid regular expression ({exc})") from None


def _keyword_regex(keywords: List[str], case_sensitive: bool, whole_word: bool) -> "re.Pattern[str]":
    # Longest first, so that "my channel" wins over "my" inside one alternation.
    body = "|".join(re.escape(k) for k in sorted(set(keywords), key=len, reverse=True))
    # Look-arounds rather than \b: \b misbehaves next to a keyword that starts or ends with a non-word character
    # (e.g. "c++" or "$$$").
    pattern = rf"(?<!\w)(?:{body})(?!\w)" if whole_word else f"(?:{body})"
    return _compile(pattern, 0 if case_sensitive else re.IGNORECASE, "keywords")


def _make(spec: Dict[str, Any], regex: "re.Pattern[str]") -> LabelingFunction:
    lf = LabelingFunction(spec["name"], _FieldMatch(spec["field"], regex, spec["label"]))
    lf.spec = spec
    return lf


# -- factories -------------------------------------------------------------------------------------------------------
def keyword_lf(name: str, keywords: Any, label: int, *, field: str = "text", case_sensitive: bool = False,
               whole_word: bool = True) -> LabelingFunction:
    """An LF voting ``label`` when any of ``keywords`` occurs in the example's text, else abstaining.

    Args:
        name: the LF's name.
        keywords: a str or a list of str (matched literally, not as regular expressions).
        label: the class id voted on a match.
        field: the column / key / attribute holding the text (an example that is a str is used as it is).
        case_sensitive: match case exactly (default: ignore case).
        whole_word: match only where the keyword is not part of a longer word ("sub" does not match "subscribe").

    Returns a :class:`LabelingFunction` whose ``.spec`` is a JSON-able dict; :func:`lf_from_spec` rebuilds it.

    Example::

        lf = keyword_lf("kw_check_out", ["check out", "check it out"], label=1)
        lf("Check out my video!")   # 1
        lf.spec["keywords"]         # ['check out', 'check it out']
    """
    spec = {"kind": "keyword", "name": _check_str(name, "name", MAX_NAME_CHARS),
            "keywords": _check_keywords(keywords), "label": _check_label(label),
            "field": _check_str(field, "field", MAX_FIELD_CHARS),
            "case_sensitive": _check_bool(case_sensitive, "case_sensitive"),
            "whole_word": _check_bool(whole_word, "whole_word")}
    return _make(spec, _keyword_regex(spec["keywords"], spec["case_sensitive"], spec["whole_word"]))


def regex_lf(name: str, pattern: str, label: int, *, field: str = "text", flags: int = re.IGNORECASE
             ) -> LabelingFunction:
    """An LF voting ``label`` when the regular expression ``pattern`` matches anywhere in the example's text
    (``re.search``), else abstaining.

    Args:
        name: the LF's name.
        pattern: a Python regular expression.
        label: the class id voted on a match.
        field: the column / key / attribute holding the text (an example that is a str is used as it is).
        flags: ``re`` flags (default ``re.IGNORECASE``; pass 0 for case-sensitive matching). Only IGNORECASE,
            MULTILINE, DOTALL, VERBOSE, ASCII and UNICODE are accepted.

    Returns a :class:`LabelingFunction` whose ``.spec`` is a JSON-able dict; :func:`lf_from_spec` rebuilds it.

    Example::

        lf = regex_lf("re_price", r"\\$\\d+", label=1)
        lf("only $5 today")   # 1
        lf.spec["flags"]      # 2 (re.IGNORECASE)
    """
    spec = {"kind": "regex", "name": _check_str(name, "name", MAX_NAME_CHARS),
            "pattern": _check_str(pattern, "pattern", MAX_PATTERN_CHARS), "label": _check_label(label),
            "field": _check_str(field, "field", MAX_FIELD_CHARS), "flags": _check_flags(flags)}
    return _make(spec, _compile(spec["pattern"], spec["flags"], "pattern"))


def lf_from_spec(spec: Any) -> LabelingFunction:
    """Rebuild a keyword or regex LF from its ``.spec`` (e.g. read from JSON). Nothing is executed: the spec is
    treated as untrusted input, checked key by key (types, sizes, allowed regex flags), and anything unexpected
    (an unknown kind, a missing or extra key) raises ValueError / TypeError naming it.

    Example::

        import json
        lf = lf_from_spec(json.loads('{"kind": "regex", "name": "re_link", "pattern": "https?://", '
                                     '"label": 1, "field": "text", "flags": 2}'))
        lf("see https://x.y")   # 1
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec: expected a dict, got {type(spec).__name__}")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in _SPEC_KEYS:
        raise ValueError(f"spec['kind']: expected one of {sorted(_SPEC_KEYS)}, got {kind!r}")
    keys = set(spec.keys())
    missing = sorted(_SPEC_KEYS[kind] - keys)
    extra = sorted(map(repr, keys - _SPEC_KEYS[kind]))
    if missing or extra:
        raise ValueError(f"spec of kind {kind!r}: " + "; ".join(
            ([f"missing keys {missing}"] if missing else []) + ([f"unexpected keys [{', '.join(extra)}]"]
                                                                if extra else [])))
    if kind == "keyword":
        if not isinstance(spec["keywords"], list):
            raise TypeError(f"spec['keywords']: expected a list of str, got {type(spec['keywords']).__name__}")
        return keyword_lf(spec["name"], spec["keywords"], spec["label"], field=spec["field"],
                          case_sensitive=spec["case_sensitive"], whole_word=spec["whole_word"])
    return regex_lf(spec["name"], spec["pattern"], spec["label"], field=spec["field"], flags=spec["flags"])
