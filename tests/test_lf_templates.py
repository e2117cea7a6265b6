"""Keyword / regex LF factories, their specs (round trip, hostile specs refused) and lfs_from_file."""
import json
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from labelfuse.labeling import (LabelingFunction, apply_lfs, keyword_lf, labeling_function, lf_from_spec,
                                lfs_from_file, regex_lf)

TEXTS = ["Please SUBSCRIBE to my channel", "subscribers only", "nice song", "see http://x.y", None, "C++ rocks"]


def reference_keyword(text, keywords, case_sensitive, whole_word):
    """Slow reference: scan every position of the text for every keyword."""
    if text is None:
        return False
    t = text if case_sensitive else text.lower()
    for kw in keywords:
        k = kw if case_sensitive else kw.lower()
        start = t.find(k)
        while start != -1:
            end = start + len(k)
            before_ok = start == 0 or not (t[start - 1].isalnum() or t[start - 1] == "_")
            after_ok = end == len(t) or not (t[end].isalnum() or t[end] == "_")
            if not whole_word or (before_ok and after_ok):
                return True
            start = t.find(k, start + 1)
    return False


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize("whole_word", [False, True])
def test_keyword_lf_matches_a_slow_reference(case_sensitive, whole_word):
    keywords = ["subscribe", "my channel", "c++", "song"]
    lf = keyword_lf("kw", keywords, 1, case_sensitive=case_sensitive, whole_word=whole_word)
    L = apply_lfs([lf], pd.DataFrame({"text": TEXTS}), progress=False)
    want = [1 if reference_keyword(t, keywords, case_sensitive, whole_word) else -1 for t in TEXTS]
    np.testing.assert_array_equal(L[:, 0], want)


def test_keyword_lf_whole_words_and_case():
    lf = keyword_lf("kw", ["sub"], 0)
    assert lf("sub now") == 0 and lf("subscribe") == -1 and lf("SUB!") == 0
    assert keyword_lf("kw", ["sub"], 0, whole_word=False)("subscribe") == 0
    assert keyword_lf("kw", "Sub", 0, case_sensitive=True)("sub") == -1


def test_field_reads_rows_dicts_series_and_plain_strings():
    lf = regex_lf("re", r"\d+", 2, field="body")
    assert lf({"body": "call 555"}) == 2
    assert lf(pd.Series({"body": "no digits"})) == -1
    assert lf("42 is a str example") == 2
    L = apply_lfs([lf], pd.DataFrame({"body": ["a1", "b", np.nan]}), progress=False)
    np.testing.assert_array_equal(L[:, 0], [2, -1, -1])  # a missing value abstains
    with pytest.raises(KeyError, match="no field 'body'"):
        lf({"text": "x"})


def test_regex_flags_default_ignorecase():
    assert regex_lf("r", "free", 1)("FREE stuff") == 1
    assert regex_lf("r", "free", 1, flags=0)("FREE stuff") == -1


def test_spec_round_trip_through_json():
    lfs = [keyword_lf("kw", ["check out", "subscribe"], 1, field="text", case_sensitive=True, whole_word=False),
           regex_lf("re", r"https?://\S+", 0, flags=re.IGNORECASE | re.MULTILINE)]
    for lf in lfs:
        spec = json.loads(json.dumps(lf.spec))
        again = lf_from_spec(spec)
        assert isinstance(again, LabelingFunction) and again.name == lf.name and again.spec == lf.spec
        texts = ["check out https://a.b", "Subscribe", "nothing", "HTTP://X"]
        assert [again(t) for t in texts] == [lf(t) for t in texts]
    assert lfs[0].spec == {"kind": "keyword", "name": "kw", "keywords": ["check out", "subscribe"], "label": 1,
                           "field": "text", "case_sensitive": True, "whole_word": False}
    assert lfs[1].spec["flags"] == int(re.IGNORECASE | re.MULTILINE)


def test_python_lfs_have_no_spec_and_templates_pickle():
    @labeling_function()
    def f(x):
        return -1

    assert f.spec is None
    lf = keyword_lf("kw", ["a"], 1)
    again = pickle.loads(pickle.dumps(lf))
    assert again("a b") == 1 and again.spec == lf.spec


GOOD = {"kind": "regex", "name": "re", "pattern": "x", "label": 1, "field": "text", "flags": 2}


@pytest.mark.parametrize("spec, error, match", [
    ("not a dict", TypeError, "expected a dict"),
    ({**GOOD, "kind": "python"}, ValueError, "kind"),
    ({**GOOD, "kind": "__import__('os')"}, ValueError, "kind"),
    ({**GOOD, "code": "import os"}, ValueError, "unexpected keys"),
    ({k: v for k, v in GOOD.items() if k != "pattern"}, ValueError, "missing keys"),
    ({**GOOD, "flags": int(re.DEBUG)}, ValueError, "flags"),
    ({**GOOD, "flags": "2"}, TypeError, "flags"),
    ({**GOOD, "flags": -1}, ValueError, "flags"),
    ({**GOOD, "pattern": "(unclosed"}, ValueError, "not a valid regular expression"),
    ({**GOOD, "pattern": "x" * 20_000}, ValueError, "at most"),
    ({**GOOD, "pattern": ["x"]}, TypeError, "pattern"),
    ({**GOOD, "label": True}, ValueError, "label"),
    ({**GOOD, "label": -1}, ValueError, "label"),
    ({**GOOD, "label": 1.5}, ValueError, "label"),
    ({**GOOD, "label": 2**40}, ValueError, "label"),
    ({**GOOD, "name": ""}, ValueError, "name"),
    ({**GOOD, "name": {"a": 1}}, TypeError, "name"),
    ({**GOOD, "field": None}, TypeError, "field"),
    ({"kind": "keyword", "name": "k", "keywords": "abc", "label": 0, "field": "text", "case_sensitive": False,
      "whole_word": True}, TypeError, "keywords"),
    ({"kind": "keyword", "name": "k", "keywords": [], "label": 0, "field": "text", "case_sensitive": False,
      "whole_word": True}, ValueError, "at least one"),
    ({"kind": "keyword", "name": "k", "keywords": [1], "label": 0, "field": "text", "case_sensitive": False,
      "whole_word": True}, TypeError, r"keywords\[0\]"),
    ({"kind": "keyword", "name": "k", "keywords": ["a"] * 20_000, "label": 0, "field": "text",
      "case_sensitive": False, "whole_word": True}, ValueError, "at most"),
    ({"kind": "keyword", "name": "k", "keywords": ["a" * 900] * 500, "label": 0, "field": "text",
      "case_sensitive": False, "whole_word": True}, ValueError, "characters in all"),
    ({"kind": "keyword", "name": "k", "keywords": ["a"], "label": 0, "field": "text", "case_sensitive": "no",
      "whole_word": True}, TypeError, "case_sensitive"),
])
def test_hostile_specs_are_refused(spec, error, match):
    with pytest.raises(error, match=match):
        lf_from_spec(spec)


def test_factories_validate_arguments():
    with pytest.raises(ValueError, match="label"):
        keyword_lf("k", ["a"], label=-1)
    with pytest.raises(TypeError, match="keywords"):
        keyword_lf("k", 3, label=0)
    with pytest.raises(ValueError, match="flags"):
        regex_lf("r", "a", 0, flags=re.DEBUG)


LF_FILE = '''
from labelfuse.labeling import keyword_lf, labeling_function, ABSTAIN
from helper_words import WORDS

kw = keyword_lf("kw_words", WORDS, label=1)

@labeling_function()
def short(x):
    return 0 if len(x.text) < 10 else ABSTAIN

not_an_lf = 3
'''


def test_lfs_from_file_collects_module_level_lfs_in_order(tmp_path):
    (tmp_path / "helper_words.py").write_text("WORDS = ['free', 'win']\n")
    path = tmp_path / "my_lfs.py"
    path.write_text(LF_FILE)
    import sys
    before = list(sys.path)
    lfs = lfs_from_file(path)
    assert [lf.name for lf in lfs] == ["kw_words", "short"]
    assert sys.path == before  # restored
    L = apply_lfs(lfs, pd.DataFrame({"text": ["win a car today, friend", "hi"]}), progress=False)
    np.testing.assert_array_equal(L, [[1, -1], [-1, 0]])


def test_lfs_from_file_prefers_an_lfs_list(tmp_path):
    path = tmp_path / "lfs.py"
    path.write_text(LF_FILE.replace("from helper_words import WORDS", "WORDS = ['x']") + "\nlfs = [short]\n")
    assert [lf.name for lf in lfs_from_file(str(path))] == ["short"]


def test_lfs_from_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        lfs_from_file(tmp_path / "missing.py")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError, match="defines no labeling functions"):
        lfs_from_file(empty)
    broken = tmp_path / "broken.py"
    broken.write_text("raise KeyError('oops')\n")
    with pytest.raises(RuntimeError, match="broken.py.*KeyError"):
        lfs_from_file(broken)
    dup = tmp_path / "dup.py"
    dup.write_text("from labelfuse.labeling import keyword_lf\na = keyword_lf('same', ['a'], 0)\n"
                   "b = keyword_lf('same', ['b'], 0)\n")
    with pytest.raises(ValueError, match="unique"):
        lfs_from_file(dup)
    text = tmp_path / "lfs.txt"
    text.write_text("")
    with pytest.raises(ValueError, match=r"\.py"):
        lfs_from_file(text)


# -- fuzz: any JSON value either rebuilds an LF equal to its spec or is refused with TypeError / ValueError ----------
_json = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
                     | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_name = st.text(min_size=1, max_size=10)
_valid = st.one_of(
    st.fixed_dictionaries({"kind": st.just("keyword"), "name": _name,
                           "keywords": st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=3),
                           "label": st.integers(0, 5), "field": st.just("text"), "case_sensitive": st.booleans(),
                           "whole_word": st.booleans()}),
    st.fixed_dictionaries({"kind": st.just("regex"), "name": _name, "pattern": st.from_regex(r"[a-z0-9 .*+?]{1,8}",
                                                                                             fullmatch=True),
                           "label": st.integers(0, 5), "field": st.just("text"),
                           "flags": st.sampled_from([0, 2, 8, 16, 256, 2 | 16])}))


@st.composite
def _mutated(draw):
    """A valid spec, then (usually) one key replaced by any JSON value, removed, or one key added."""
    spec = dict(draw(_valid))
    action = draw(st.sampled_from(["keep", "replace", "remove", "add"]))
    key = draw(st.sampled_from(sorted(spec)))
    if action == "replace":
        spec[key] = draw(_json)
    elif action == "remove":
        del spec[key]
    elif action == "add":
        spec[draw(st.text(max_size=8))] = draw(_json)
    return spec


_near_valid = _mutated()


@given(spec=_json | _near_valid)
def test_fuzz_lf_from_spec_accepts_or_refuses_cleanly(spec):
    try:
        lf = lf_from_spec(spec)
    except (TypeError, ValueError):
        return
    assert lf.spec == spec and json.loads(json.dumps(lf.spec)) == spec
    assert lf("some text 123") in (-1, spec["label"])
