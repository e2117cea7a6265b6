"""@preprocessor: Snorkel's row idiom on a copy, memoization, errors that name the preprocessor."""
import warnings

import numpy as np
import pandas as pd
import pytest

from labelfuse.labeling import (ABSTAIN, LFApplier, LFApplyError, LFFailureWarning, MutableRow, PreprocessorError,
                                apply_lfs, labeling_function, preprocessor)

TEXTS = ["FREE money now", "hello there", "Free FREE free"]


def test_snorkel_idiom_on_dataframe_rows_leaves_the_caller_frame_alone():
    @preprocessor(memoize=True)
    def lowercase(x):
        x.lower = x.text.lower()
        return x

    @labeling_function(pre=[lowercase])
    def mentions_free(x):
        return 1 if "free" in x.lower else ABSTAIN

    @labeling_function(pre=[lowercase])
    def free_twice(x):
        return 1 if x.lower.count("free") >= 2 else ABSTAIN

    df = pd.DataFrame({"text": TEXTS, "n": [1, 2, 3]})
    before = df.copy()
    L = apply_lfs([mentions_free, free_twice], df, progress=False)
    np.testing.assert_array_equal(L, [[1, -1], [-1, -1], [1, 1]])
    pd.testing.assert_frame_equal(df, before)
    assert "lower" not in df.columns


def test_columns_that_are_not_identifiers_keep_their_names():
    @preprocessor()
    def total(x):
        x.total = x["unit price"] * x["qty"]
        return x

    lf = labeling_function(pre=[total])(lambda x: 1 if x.total > 10 and x["unit price"] > 1 else 0)
    L = apply_lfs([lf], pd.DataFrame({"unit price": [2.0, 0.5], "qty": [6, 100]}), progress=False)
    np.testing.assert_array_equal(L[:, 0], [1, 0])


def test_snorkel_idiom_on_a_pandas_series_and_item_assignment():
    @preprocessor()
    def add_len(x):
        x["length"] = len(x["text"])
        return x

    @labeling_function(pre=[add_len])
    def long(x):
        return 1 if x.length > 5 else 0

    row = pd.Series({"text": "abcdefg"})
    assert long(row) == 1
    assert "length" not in row.index and not hasattr(row, "length")  # the caller's Series is untouched


def test_chained_preprocessors_do_not_modify_each_others_results():
    seen = []

    @preprocessor()
    def words(x):
        x.words = x.text.split()
        return x

    @preprocessor()
    def first(x):
        x.words = x.words[:1]  # replaces the field on its own copy only
        return x

    @labeling_function(pre=[words])
    def n_words(x):
        seen.append(len(x.words))
        return ABSTAIN

    @labeling_function(pre=[words, first])
    def n_first(x):
        seen.append(len(x.words))
        return ABSTAIN

    apply_lfs([n_first, n_words], pd.DataFrame({"text": ["a b c"]}), progress=False)
    assert seen == [1, 3]


def test_memoize_runs_once_per_distinct_row_across_applier_runs():
    calls = []

    @preprocessor(memoize=True)
    def parse(x):
        calls.append(x.text)
        x.tokens = x.text.split()
        return x

    lf = labeling_function(pre=[parse])(lambda x: len(x.tokens) % 2)
    lf.name = "parity"
    df = pd.DataFrame({"text": ["a b", "c", "a b"]})
    L1 = apply_lfs([lf], df, progress=False)
    L2 = apply_lfs([lf], df, progress=False)  # a workspace re-applying an edited LF sees the same rows
    np.testing.assert_array_equal(L1, [[0], [1], [0]])
    np.testing.assert_array_equal(L2, L1)
    assert calls == ["a b", "c"]  # keyed by the row's content: the duplicate row and the second run hit the memo
    # a frame with other columns is another key, even with the same text
    apply_lfs([lf], pd.DataFrame({"text": ["c"], "extra": [1]}), progress=False)
    assert calls == ["a b", "c", "c"]
    parse.reset_cache()
    apply_lfs([lf], df.head(1), progress=False)
    assert calls[-1] == "a b" and len(calls) == 4


def test_memoize_bound_and_custom_key():
    calls = []

    @preprocessor(memoize=True, memoize_key=lambda x: x.id, max_cache=1)
    def p(x):
        calls.append(x.id)
        return x

    rows = [MutableRow({"id": 1, "t": "a"}), MutableRow({"id": 1, "t": "b"}), MutableRow({"id": 2, "t": "c"})]
    for r in rows + rows[:1]:
        p(r)
    assert calls == [1, 2, 1]  # id 1 hit once, then evicted by id 2 (max_cache=1)


def test_an_error_in_a_preprocessor_names_the_preprocessor_not_just_the_lf():
    @preprocessor()
    def fragile_parser(x):
        if "bad" in x.text:
            raise KeyError("no parse")
        return x

    @labeling_function(pre=[fragile_parser])
    def uses_parser(x):
        return 1

    df = pd.DataFrame({"text": ["ok", "bad row"]})
    with pytest.raises(LFApplyError, match=r"preprocessor 'fragile_parser' \(in the pre=\[\.\.\.\] of labeling "
                                           r"function 'uses_parser'\) failed on row 1: KeyError") as info:
        apply_lfs([uses_parser], df, progress=False)
    assert info.value.preprocessor == "fragile_parser" and info.value.lf == "uses_parser" and info.value.row == 1
    assert isinstance(info.value.__cause__, KeyError)
    # called directly (outside an applier)
    with pytest.raises(PreprocessorError, match="preprocessor 'fragile_parser' failed: KeyError"):
        uses_parser(pd.Series({"text": "bad"}))
    # fault tolerant: recorded with the preprocessor's name
    applier = LFApplier([uses_parser], fault_tolerant=True, progress=False)
    with pytest.warns(LFFailureWarning, match="preprocessor fragile_parser"):
        L = applier.apply(df)
    np.testing.assert_array_equal(L[:, 0], [1, -1])
    frame = applier.failures_.to_frame()
    assert frame[["row", "lf", "error", "preprocessor"]].values.tolist() == [
        [1, "uses_parser", "KeyError", "fragile_parser"]]


def test_plain_function_preprocessors_are_named_too():
    def tokenize(x):
        return x.text.split(maxsplit=x.limit)  # x has no field 'limit'

    lf = labeling_function(pre=[tokenize])(lambda x: 0)
    with pytest.raises(LFApplyError, match="preprocessor 'tokenize'"):
        apply_lfs([lf], pd.DataFrame({"text": ["a b"]}), progress=False)


def test_a_preprocessor_returning_none_is_an_error():
    @preprocessor()
    def forgets_return(x):
        x.y = 1

    lf = labeling_function(pre=[forgets_return])(lambda x: 0)
    with pytest.raises(ValueError, match="'forgets_return' returned None"):
        lf(MutableRow({"text": "a"}))


def test_decorator_forms_and_argument_checks():
    @preprocessor
    def bare(x):
        return x

    assert bare.name == "bare" and bare("a") == "a"
    assert preprocessor("custom")(lambda x: x).name == "custom"
    with pytest.raises(ValueError, match="max_cache"):
        preprocessor(memoize=True, max_cache=0)(lambda x: x)
    with pytest.raises(TypeError, match="memoize_key"):
        preprocessor(memoize=True, memoize_key=3)(lambda x: x)


def test_unhashable_rows_get_a_content_key():
    @preprocessor(memoize=True)
    def p(x):
        x.n = len(x.items)
        return x

    lf = labeling_function(pre=[p])(lambda x: x.n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L = apply_lfs([lf], pd.DataFrame({"items": [[1, 2], [3], [1, 2]]}), progress=False)
    np.testing.assert_array_equal(L[:, 0], [2, 1, 2])
    assert len(p._cache) == 2
