import re

import numpy as np
import pandas as pd
import pytest

from labelfuse.labeling.apply import LFApplier, LFApplyError, LFFailures, LFFailureWarning, apply_lfs
from labelfuse.labeling.lf import ABSTAIN, LabelingFunction, labeling_function

HAM, SPAM = 0, 1


# -- LabelingFunction ------------------------------------------------------------------------------------------------
def test_decorator_with_and_without_parentheses():
    @labeling_function
    def bare(x):
        """Votes spam on links."""
        return SPAM if "http" in x else ABSTAIN

    @labeling_function(name="custom")
    def named(x):
        return HAM

    assert isinstance(bare, LabelingFunction) and bare.name == "bare"
    assert bare.__doc__ == "Votes spam on links." and bare.__name__ == "bare"
    assert named.name == "custom"
    assert bare("see http://x") == SPAM and bare("hello") == ABSTAIN and named("x") == HAM


def test_resources_passed_as_keyword_arguments():
    @labeling_function(resources={"words": ("buy", "free")})
    def keywords(x, words):
        return SPAM if any(w in x for w in words) else ABSTAIN

    assert keywords("free stuff") == SPAM and keywords("nice song") == ABSTAIN
    assert keywords.resources == {"words": ("buy", "free")}


def test_preprocessors_applied_in_order():
    calls = []

    def strip(x):
        calls.append("strip")
        return x.strip()

    def lower(x):
        calls.append("lower")
        return x.lower()

    @labeling_function(pre=[strip, lower])
    def exact(x):
        return SPAM if x == "buy now" else ABSTAIN

    assert exact("  BUY NOW ") == SPAM
    assert calls == ["strip", "lower"]


def test_none_means_abstain_and_numpy_ints_accepted():
    assert LabelingFunction("none", lambda x: None)(1) == ABSTAIN
    out = LabelingFunction("np", lambda x: np.int64(1))(1)
    assert out == 1 and type(out) is int


@pytest.mark.parametrize("bad", [1.0, "1", True, np.bool_(False), [1], np.float32(0)])
def test_non_integer_return_is_a_type_error(bad):
    lf = LabelingFunction("bad_lf", lambda x: bad)
    with pytest.raises(TypeError, match="'bad_lf' returned"):
        lf(0)


def test_label_below_minus_one_is_a_value_error():
    with pytest.raises(ValueError, match=r"'neg' returned -2"):
        LabelingFunction("neg", lambda x: -2)(0)


def test_constructor_validates_arguments():
    with pytest.raises(TypeError, match="name"):
        LabelingFunction("", lambda x: 0)
    with pytest.raises(TypeError, match="f:"):
        LabelingFunction("a", 3)
    with pytest.raises(TypeError, match="resources"):
        LabelingFunction("a", lambda x: 0, resources=[1])
    with pytest.raises(TypeError, match="pre"):
        LabelingFunction("a", lambda x: 0, pre=[1])


def test_preprocessor_returning_none_is_an_error():
    lf = LabelingFunction("p", lambda x: 0, pre=[lambda x: None])
    with pytest.raises(ValueError, match="returned None"):
        lf(0)


# -- applying --------------------------------------------------------------------------------------------------------
@labeling_function()
def has_link(x):
    return SPAM if "http" in x.text else ABSTAIN


@labeling_function()
def short(x):
    return HAM if len(x.text.split()) < 3 else ABSTAIN


@labeling_function()
def shouting(x):
    return SPAM if x["text"].split()[0].isupper() else None


TEXTS = ["BUY NOW http://spam", "nice song", "i like this video a lot", "WOW", "check http://x out now"]
EXPECTED = np.array([[1, -1, 1], [-1, 0, -1], [-1, -1, -1], [-1, 0, 1], [1, -1, -1]], dtype=np.int8)


def reference_L(lfs, rows):
    """Obviously-correct reference: call every LF on every row."""
    return np.array([[lf(x) for lf in lfs] for x in rows], dtype=np.int64)


def test_dataframe_rows_match_reference():
    df = pd.DataFrame({"text": TEXTS, "n": range(5)})
    L = apply_lfs([has_link, short, shouting], df, progress=False)
    assert L.dtype == np.int8 and L.shape == (5, 3)
    np.testing.assert_array_equal(L, EXPECTED)
    np.testing.assert_array_equal(L, reference_L([has_link, short, shouting], [r for _, r in df.iterrows()]))


def test_dataframe_rows_support_attribute_name_and_position_access():
    df = pd.DataFrame({"text": ["a"], "my col": [3], "2x": [4.5]})
    seen = {}

    def look(x):
        seen.update(text=x.text, my_col=x["my col"], two=x["2x"], first=x[0], fields=len(x))
        return ABSTAIN

    apply_lfs([LabelingFunction("look", look)], df, progress=False)
    assert seen == {"text": "a", "my_col": 3, "two": 4.5, "first": "a", "fields": 3}
    assert type(seen["my_col"]) is int  # Python scalars, not numpy ones

    def missing(x):
        return x["nope"]

    with pytest.raises(LFApplyError, match="no column 'nope'"):
        apply_lfs([LabelingFunction("missing", missing)], df, progress=False)


def test_dataframe_does_not_use_its_index_for_rows():
    df = pd.DataFrame({"text": TEXTS}, index=[10, 3, 7, 7, 0])
    np.testing.assert_array_equal(apply_lfs([has_link, short, shouting], df, progress=False), EXPECTED)


def test_sequences_and_arrays():
    @labeling_function()
    def first_positive(x):
        return 1 if x[0] > 0 else 0

    @labeling_function()
    def is_big(x):
        return 1 if x > 10 else ABSTAIN

    X = np.array([[1, 2], [-1, 0], [3, 3]])
    np.testing.assert_array_equal(apply_lfs([first_positive], X, progress=False)[:, 0], [1, 0, 1])
    np.testing.assert_array_equal(apply_lfs([first_positive], X.tolist(), progress=False)[:, 0], [1, 0, 1])
    values = [5, 50, 11]
    for data in (values, tuple(values), np.array(values), pd.Series(values), iter(values), (v for v in values)):
        L = apply_lfs([is_big], data, progress=False)
        np.testing.assert_array_equal(L[:, 0], [-1, 1, 1], err_msg=type(data).__name__)


def test_bad_data_types():
    with pytest.raises(TypeError, match="single str"):
        apply_lfs([has_link], "some text", progress=False)
    with pytest.raises(TypeError, match="mapping"):
        apply_lfs([has_link], {"a": 1}, progress=False)
    with pytest.raises(TypeError, match="0-d"):
        apply_lfs([has_link], np.array(3), progress=False)
    with pytest.raises(TypeError, match="data"):
        apply_lfs([has_link], 3, progress=False)


def test_empty_data_gives_empty_matrix():
    L = apply_lfs([has_link, short], [], progress=False)
    assert L.shape == (0, 2) and L.dtype == np.int8
    L = apply_lfs([has_link], pd.DataFrame({"text": []}), progress=False)
    assert L.shape == (0, 1)


def test_plain_callables_are_wrapped_by_name():
    def is_one(x):
        return 1 if x == 1 else 0

    applier = LFApplier([is_one], progress=False)
    np.testing.assert_array_equal(applier.apply([1, 2])[:, 0], [1, 0])
    assert applier.lf_names == ["is_one"]


def test_duplicate_names_rejected_naming_them():
    a = LabelingFunction("dup", lambda x: 0)
    b = LabelingFunction("dup", lambda x: 1)
    c = LabelingFunction("other", lambda x: 1)
    with pytest.raises(ValueError, match=r"repeated: \['dup'\]"):
        apply_lfs([a, c, b], [1], progress=False)
    with pytest.raises(ValueError, match=r"<lambda>"):
        apply_lfs([lambda x: 0, lambda x: 1], [1], progress=False)


def test_bad_lfs_argument():
    with pytest.raises(ValueError, match="at least one"):
        apply_lfs([], [1], progress=False)
    with pytest.raises(TypeError, match="list of labeling functions"):
        apply_lfs(has_link, [1], progress=False)
    with pytest.raises(TypeError, match="entry 1"):
        apply_lfs([has_link, "nope"], [1], progress=False)


def test_dtype_widens_only_when_needed():
    big = LabelingFunction("big", lambda x: x)
    assert apply_lfs([big], [0, 127], progress=False).dtype == np.int8
    L = apply_lfs([big], [0, 128, 5], progress=False)
    assert L.dtype == np.int16 and L[:, 0].tolist() == [0, 128, 5]
    assert apply_lfs([big], [0, 40000], progress=False).dtype == np.int32
    # a cardinality above 128 reserves room for every class, whatever the observed votes
    assert apply_lfs([big], [0, 1], cardinality=200, progress=False).dtype == np.int16


def test_invalid_return_values_name_lf_and_row():
    flaky = LabelingFunction("flaky", lambda x: 0.5 if x == 2 else 0)
    with pytest.raises(TypeError, match=r"'flaky' returned 0.5 of type float on row 2"):
        apply_lfs([flaky], [0, 1, 2, 3], progress=False)
    bool_lf = LabelingFunction("boolish", lambda x: x > 0)
    with pytest.raises(TypeError, match="'boolish' returned True"):
        apply_lfs([bool_lf], [1], progress=False)


def test_cardinality_bounds_votes():
    three = LabelingFunction("three", lambda x: 3 if x else 0)
    with pytest.raises(ValueError, match=re.escape("'three' returned 3 on row 1; expected a class id in 0..2")):
        apply_lfs([three], [0, 1], cardinality=3, progress=False)
    assert apply_lfs([three], [0, 1], cardinality=4, progress=False)[:, 0].tolist() == [0, 3]
    with pytest.raises(ValueError, match="cardinality"):
        apply_lfs([three], [0], cardinality=1, progress=False)
    with pytest.raises(ValueError, match="returned -3"):
        apply_lfs([LabelingFunction("neg", lambda x: -3)], [0], progress=False)


def test_exception_stops_by_default_with_lf_and_row():
    def boom(x):
        if x == "b":
            raise KeyError("missing field")
        return 0

    with pytest.raises(LFApplyError, match=r"'boom' failed on row 1: KeyError") as info:
        apply_lfs([LabelingFunction("boom", boom)], ["a", "b", "c"], progress=False)
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.lf == "boom" and info.value.row == 1


def test_fault_tolerant_records_failures_and_leaves_abstain():
    def fails_on_odd(x):
        if x % 2:
            raise RuntimeError(f"odd {x}")
        return 1

    def bad_value_on_4(x):
        return "x" if x == 4 else 0

    lfs = [LabelingFunction("odd", fails_on_odd), LabelingFunction("ok", lambda x: 0),
           LabelingFunction("badval", bad_value_on_4)]
    applier = LFApplier(lfs, fault_tolerant=True, progress=False)
    with pytest.warns(LFFailureWarning, match="4 labeling-function calls failed"):
        L = applier.apply(range(6))
    np.testing.assert_array_equal(L, [[1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0], [1, 0, -1], [-1, 0, 0]])
    failures = applier.failures_
    assert isinstance(failures, LFFailures) and len(failures) == 4
    assert [(f.row, f.lf) for f in failures] == [(1, "odd"), (3, "odd"), (4, "badval"), (5, "odd")]
    assert isinstance(failures[0].exception, RuntimeError) and isinstance(failures[2].exception, TypeError)
    frame = failures.to_frame()
    assert list(frame.columns) == ["row", "lf", "error", "message", "preprocessor"]
    assert frame["preprocessor"].isna().all()  # the LFs themselves failed
    assert frame["error"].tolist() == ["RuntimeError", "RuntimeError", "TypeError", "RuntimeError"]
    assert frame["message"].iloc[0] == "odd 1"
    assert failures.counts().to_dict() == {"odd": 3, "ok": 0, "badval": 1}
    assert "odd: 3" in repr(failures)
    # a second run starts a fresh report
    applier.apply([0, 2])
    assert len(applier.failures_) == 0


def test_fault_tolerant_without_failures_is_silent_and_empty():
    L, failures = apply_lfs([has_link], pd.DataFrame({"text": TEXTS}), fault_tolerant=True, progress=False,
                            return_failures=True)
    assert len(failures) == 0 and not failures and failures.to_frame().empty
    assert failures.counts().to_dict() == {"has_link": 0}
    np.testing.assert_array_equal(L[:, 0], EXPECTED[:, 0])


def test_keyboard_interrupt_is_never_swallowed():
    def interrupt(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply_lfs([LabelingFunction("i", interrupt)], [1], fault_tolerant=True, progress=False)


def test_shared_preprocessor_runs_once_per_row():
    calls = []

    def parse(x):
        calls.append(x)
        return x.split()

    def count(x):
        return len(x)

    a = LabelingFunction("a", lambda x: 1 if len(x) > 2 else 0, pre=[parse])
    b = LabelingFunction("b", lambda x: 1 if "spam" in x else -1, pre=[parse])
    c = LabelingFunction("c", lambda x: 1 if x > 1 else 0, pre=[parse, count])
    L = apply_lfs([a, b, c], ["spam spam spam", "ham"], progress=False)
    np.testing.assert_array_equal(L, [[1, 1, 1], [0, -1, 0]])
    assert calls == ["spam spam spam", "ham"]
    # outside an applier each call preprocesses on its own
    assert a("x y z") == 1 and len(calls) == 3


def test_callers_data_not_modified():
    df = pd.DataFrame({"text": TEXTS})
    before = df.copy()
    X = np.arange(6).reshape(3, 2)
    X_before = X.copy()
    apply_lfs([has_link, short, shouting], df, progress=False)
    apply_lfs([LabelingFunction("f", lambda x: int(x[0] > 2))], X, progress=False)
    pd.testing.assert_frame_equal(df, before)
    np.testing.assert_array_equal(X, X_before)


def test_progress_bar_reaches_total(capsys):
    n = 600  # more than one progress-bar chunk
    L = apply_lfs([LabelingFunction("z", lambda x: 0)], range(n), progress=True)
    assert L.shape == (n, 1)
    err = capsys.readouterr().err
    assert "Applying LFs" in err and f"{n}/{n}" in err


def test_random_lfs_match_reference():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 1000, size=300).tolist()
    lfs = [LabelingFunction(f"mod{j}", (lambda j: lambda x: (x % (j + 3)) if x % (j + 2) else None)(j))
           for j in range(6)]
    L = apply_lfs(lfs, rows, progress=False)
    ref = np.array([[(x % (j + 3)) if x % (j + 2) else -1 for j in range(6)] for x in rows])
    np.testing.assert_array_equal(L, ref)


def test_fault_tolerant_runs_keep_the_first_tracebacks_of_each_lf_only():
    import gc
    import weakref

    from labelfuse.labeling.apply import TRACEBACKS_PER_LF

    class Big:  # stands for an LF's large local (a parsed document, a model output)
        pass

    alive = []

    def heavy(x):
        local = Big()
        alive.append(weakref.ref(local))
        raise ValueError(f"row {x}")

    def light(x):
        raise KeyError(x) if x % 2 else TypeError("even")

    lfs = [LabelingFunction("heavy", heavy), LabelingFunction("light", light)]
    with pytest.warns(LFFailureWarning):
        L, failures = apply_lfs(lfs, list(range(300)), fault_tolerant=True, progress=False, return_failures=True)
    gc.collect()
    # every failure is recorded with its row, type and message ...
    assert len(failures) == 600 and failures.counts().tolist() == [300, 300]
    assert failures.to_frame().query("lf == 'heavy'")["message"].tolist() == [f"row {i}" for i in range(300)]
    # ... but only the first few of each LF keep their traceback, so the other calls' frames are freed
    for name in ("heavy", "light"):
        kept = [f.exception.__traceback__ is not None for f in failures if f.lf == name]
        assert kept == [True] * TRACEBACKS_PER_LF + [False] * (300 - TRACEBACKS_PER_LF)
    assert sum(ref() is not None for ref in alive) == TRACEBACKS_PER_LF
    assert (L == -1).all()
