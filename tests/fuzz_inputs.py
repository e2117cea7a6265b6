"""Hypothesis strategies for fuzzing the public API, and the outcome check every fuzz test shares.

The strategies build label matrices the way users actually hand them over (every integer dtype, wrong dtypes,
C / Fortran / strided / reversed / broadcast / unaligned / byte-swapped layouts, 0 and 1 rows, 1 column, stray
out-of-range votes) and return them with the facts an oracle needs (the values as int64, whether the input is
valid at all). Values come from a numpy generator seeded by hypothesis, so that large inputs (which take the
multi-threaded path) cost no more to draw than small ones; hypothesis still shrinks the seed, the shape and the
positions of injected bad votes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional

import numpy as np
from hypothesis import event
from hypothesis import strategies as st

SIGNED = (np.int8, np.int16, np.int32, np.int64)
UNSIGNED = (np.uint8, np.uint16, np.uint32, np.uint64)
NOT_INTEGER = (np.float32, np.float64, np.bool_, np.object_, np.complex128)
LAYOUTS = ("C", "F", "strided", "reversed_rows", "reversed_cols", "reversed", "broadcast", "unaligned",
           "byteswapped", "odd_strides", "list")
# Sizes far beyond any machine (the allocation must be refused, never attempted): 2**40 int64 counts = 8 TiB.
ABSURD_SIZES = (2**40, 2**48, 2**62, 2**63 - 1)


@dataclass
class LabelInput:
    """A label matrix as passed (``L``) and what the oracle needs to know about it."""

    L: Any                       # what the call receives (an ndarray view, or a list)
    values: Optional[np.ndarray]  # the entries as int64 (None when the dtype is not a signed integer)
    layout: str
    dtype: Any
    shape: tuple                 # (n, m) as drawn (a list of no rows no longer knows its m)
    keepalive: Any = None        # the buffer a view points into (checked for mutation too)

    @property
    def signed_int(self) -> bool:
        return self.values is not None

    def snapshot(self) -> List[Any]:
        return snapshot(self.L, self.keepalive)


# ---- label matrices ----------------------------------------------------------------------------------------------
@st.composite
def cardinalities(draw) -> int:
    # small k is the common case; 16/17 and 127/128 are the histogram and bitset-path boundaries, 300 > int8
    return draw(st.one_of(st.integers(2, 6), st.sampled_from([16, 17, 127, 128, 300])))


@st.composite
def shapes(draw, max_rows: int = 40, max_cols: int = 20):
    n = draw(st.one_of(st.sampled_from([0, 1]), st.integers(0, max_rows),
                       st.sampled_from([255, 257, 4100, 9000])))  # block / chunk / threshold boundaries
    m = draw(st.one_of(st.just(1), st.integers(1, max_cols), st.sampled_from([15, 16, 17, 33])))
    if n >= 4100:  # large n: enough to wake several threads (n*m >= 2**16), bounded for CI time
        m = draw(st.sampled_from([8, 16, 17]))
    return n, m


@st.composite
def vote_values(draw, n: int, m: int, k: int, allow_invalid: bool = True) -> np.ndarray:
    """(n, m) int64 votes in -1..k-1, with occasionally a few injected out-of-range entries."""
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0.0, 0.05, 0.4, 1.0]))
    rng = np.random.default_rng(seed)
    V = rng.integers(0, k, size=(n, m))
    V[rng.random((n, m)) >= density] = -1
    if allow_invalid:
        inject_invalid_votes(draw, V, k)
    return V


def inject_invalid_votes(draw, V: np.ndarray, k: int) -> None:
    """Now and then, a few entries outside -1..k-1 (in place)."""
    n, m = V.shape
    if n * m and draw(st.integers(0, 5)) == 0:
        for _ in range(draw(st.integers(1, 3))):
            r, c = draw(st.integers(0, n - 1)), draw(st.integers(0, m - 1))
            # never 2**31 - 1 and the like: before the allocation guard an inferred k that size was a real
            # (multi-GiB) allocation; 2**40 fails at once either way (and wraps to 0 in narrower dtypes)
            V[r, c] = draw(st.sampled_from([-2, -128, k, k + 1, 127, -(2**31), 2**40]))


@st.composite
def model_votes(draw, n: int, m: int, k: int, allow_invalid: bool = True) -> np.ndarray:
    """(n, m) int64 votes for fitting label models: uniform noise or draws from the generative model (LFs better
    than chance), then now and then made degenerate the way real LF sets are: duplicate LFs, a class no LF votes,
    an LF that never votes, one-sided LFs (each votes one class only), every row alike, all abstain."""
    from labelfuse.synthetic import make_label_matrix

    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.sampled_from(["noise", "model", "model"])) == "noise":
        V = draw(vote_values(n, m, k, allow_invalid=False))
    else:
        low = min(1.0 / k + 0.1, 0.9)
        V = make_label_matrix(n, m, k, accuracy=(low, 0.95), coverage=(0.05, 0.9), seed=seed).L.astype(np.int64)
    twist = draw(st.sampled_from(["none"] * 4 + ["duplicates", "missing_class", "silent_lf", "one_sided",
                                                 "same_rows", "all_abstain"]))
    if twist == "duplicates" and m > 1:
        for j in range(1, m):
            if rng.random() < 0.5:
                V[:, j] = V[:, rng.integers(0, j)]
    elif twist == "missing_class":
        V[V == draw(st.integers(0, k - 1))] = -1
    elif twist == "silent_lf":
        V[:, draw(st.integers(0, m - 1))] = -1
    elif twist == "one_sided":
        for j in range(m):
            V[V[:, j] != j % k, j] = -1
    elif twist == "same_rows" and n:
        V[:] = V[0]
    elif twist == "all_abstain":
        V[:] = -1
    if allow_invalid:
        inject_invalid_votes(draw, V, k)
    return V


def _layout(V: np.ndarray, dtype, layout: str):
    """Returns (array as passed, buffer it lives in)."""
    a = V.astype(dtype)  # wraps out-of-range values, as a user's cast would
    n, m = a.shape
    if layout == "C":
        return np.ascontiguousarray(a), None
    if layout == "F":
        return np.asfortranarray(a), None
    if layout == "strided":
        big = np.repeat(np.repeat(a, 2, axis=0), 3, axis=1)
        return big[::2, ::3], big
    if layout == "reversed_rows":
        b = a[::-1].copy()
        return b[::-1], b
    if layout == "reversed_cols":
        b = a[:, ::-1].copy()
        return b[:, ::-1], b
    if layout == "reversed":
        b = a[::-1, ::-1].copy()
        return b[::-1, ::-1], b
    if layout == "broadcast":  # zero row stride: every row is row 0 (read-only)
        row = a[:1] if n else a
        return np.broadcast_to(row, (n, m)), row
    if layout == "unaligned":  # data pointer one byte past an aligned address
        buf = np.zeros(a.nbytes + a.itemsize, dtype=np.uint8)
        view = np.ndarray(a.shape, dtype=a.dtype, buffer=buf, offset=1)
        view[...] = a
        return view, buf
    if layout == "byteswapped":
        return a.astype(a.dtype.newbyteorder()), None
    if layout == "odd_strides":  # row stride not a multiple of the item size (needs a copy)
        item = a.itemsize
        buf = np.zeros(max(n * (m * item + 1), 1) + item, dtype=np.uint8)
        view = np.ndarray((n, m), dtype=a.dtype, buffer=buf, strides=(m * item + 1, item))
        view[...] = a
        return view, buf
    if layout == "list":
        return a.tolist(), None
    raise AssertionError(layout)


@st.composite
def label_inputs(draw, k: Optional[int] = None, n_m=None, allow_invalid: bool = True,
                 allow_bad_dtype: bool = True, allow_list: bool = True) -> LabelInput:
    k = draw(cardinalities()) if k is None else k
    n, m = draw(shapes()) if n_m is None else n_m
    n = min(n, max(2_000_000 // (m * k), 1))  # keeps the one-hot numpy reference small
    V = draw(vote_values(n, m, k, allow_invalid))
    return draw(passed_as(V, allow_bad_dtype=allow_bad_dtype, allow_list=allow_list))


@st.composite
def passed_as(draw, V: np.ndarray, allow_bad_dtype: bool = True, allow_list: bool = True,
              layouts=LAYOUTS, signed=SIGNED) -> LabelInput:
    """The votes V (int64) as a user may hand them over: any dtype (values wrap as a cast would; ``signed``
    limits the integer types), any layout. Mind that the "broadcast" layout repeats row 0: the oracle must use
    ``.values``, not V."""
    n, m = V.shape
    kinds = [st.sampled_from(signed)] * 6
    if allow_bad_dtype:
        kinds += [st.sampled_from(UNSIGNED), st.sampled_from(NOT_INTEGER)]
    dtype = np.dtype(draw(st.one_of(*kinds)))
    layout = draw(st.sampled_from(layouts))
    if layout in ("unaligned", "byteswapped", "odd_strides") and (dtype.itemsize == 1 or dtype.kind in "bOc"):
        layout = "C"
    if layout == "list" and (dtype.kind != "i" or not allow_list):
        layout = "C"
    L, buf = _layout(V, dtype, layout)
    values = None
    if dtype.kind == "i" and not (layout == "list" and n == 0):  # [] has lost its columns: not a matrix
        values = np.array(L, dtype=np.int64)
    return LabelInput(L=L, values=values, layout=layout, dtype=dtype, shape=(n, m), keepalive=buf)


@st.composite
def odd_dimensional(draw) -> np.ndarray:
    """Not a matrix at all: a scalar, a vector, a 3-D block, or a matrix with no columns."""
    shape = draw(st.sampled_from([(), (3,), (0,), (2, 3, 2), (3, 0), (0, 0)]))
    return np.zeros(shape, dtype=draw(st.sampled_from(SIGNED)))


# ---- other arguments ---------------------------------------------------------------------------------------------
@st.composite
def cardinality_args(draw, k: int, allow_bad: bool = True):
    """(value, is_bad, is_absurd) for a ``cardinality`` argument whose right value is k."""
    choice = draw(st.sampled_from(["none", "none", "int", "int", "np"] + ["small", "type", "absurd"] * allow_bad))
    if choice == "none":
        return None, False, False
    if choice == "int":
        return k, False, False
    if choice == "np":
        return draw(st.sampled_from([np.int64, np.int32, np.int16]))(k), False, False
    if choice == "small":
        return draw(st.sampled_from([1, 0, -3])), True, False
    if choice == "type":
        return draw(st.sampled_from([True, 2.0, "2", None.__class__])), True, False
    return draw(st.sampled_from(ABSURD_SIZES + (2**70,))), True, True


def effective_cardinality(values: np.ndarray, cardinality, Y_values=None, Y_is_int=True) -> int:
    """The number of classes a call works with: ``cardinality``, or inferred from the largest label (at least 2)."""
    if cardinality is not None:
        return int(cardinality)
    top = int(values.max()) if values.size else -1
    if Y_values is not None and Y_is_int and len(Y_values):
        top = max(top, int(np.max(Y_values)))
    return max(2, top + 1)


CLASS_BALANCE_KINDS = ("ok", "ok", "ok", "list", "float32", "uniform", "zero", "negative", "nan", "inf", "sum",
                       "short", "long", "2d", "scalar", "string", "strings", "empty")
CLASS_BALANCE_VALID = ("ok", "list", "float32", "uniform")  # "zero" is up to the estimator


@st.composite
def class_balance_args(draw, k: int, kinds=CLASS_BALANCE_KINDS):
    """(value, kind) for a ``class_balance`` argument over k classes; kind is one of ``kinds``."""
    kind = draw(st.sampled_from(kinds))
    p = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).dirichlet(np.ones(k)) * 0.98 + 0.02 / k
    p /= p.sum()
    if kind == "list":
        return p.tolist(), kind
    if kind == "float32":
        return p.astype(np.float32), kind
    if kind == "uniform":
        return "uniform", kind
    if kind == "zero":
        p[draw(st.integers(0, k - 1))] = 0.0
        return p / p.sum(), kind
    if kind == "negative":
        i = draw(st.integers(0, k - 1))
        p[(i + 1) % k] += p[i] + 0.25  # still sums to 1
        p[i] = -0.25
        return p, kind
    if kind in ("nan", "inf"):
        p[draw(st.integers(0, k - 1))] = np.nan if kind == "nan" else np.inf
        return p, kind
    if kind == "sum":
        return p * draw(st.sampled_from([0.5, 2.0, 1.01, 0.0])), kind
    if kind in ("short", "long"):
        return (p[:-1] if kind == "short" else np.append(p, 0.0)), kind
    if kind == "2d":
        return p[None, :], kind
    if kind == "scalar":
        return 1.0, kind
    if kind == "string":
        return draw(st.sampled_from(["Uniform", "votes", ""])), kind
    if kind == "strings":
        return ["a"] * k, kind
    if kind == "empty":
        return [], kind
    return p, kind


THREADS_OK = st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -5, 4096, 2**40, -(2**40), 2**70]),
                       st.sampled_from([np.int32(2), np.int64(-1)]))
THREADS_BAD = st.sampled_from([0, np.int64(0), "2", 1.5, True, [2]])


@st.composite
def n_threads_args(draw, allow_bad: bool = True):
    """(value, is_bad)."""
    if allow_bad and draw(st.integers(0, 5)) == 0:
        return draw(THREADS_BAD), True
    return draw(THREADS_OK), False


@st.composite
def label_vectors(draw, n: int, k: int, allow_bad: bool = True):
    """A gold-label / group-id argument: (value as passed, its entries as int64 or None, kind).

    kind is "ok", "short"/"long" (wrong length), "negative"/"too_big" (an entry outside 0..k-1), or "type"
    (float, bool, object or 2-D: never a valid label vector); only "ok" without ``allow_bad``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.integers(0, k, size=n)
    kinds = ["ok"] * 6 + ["list"]
    if allow_bad:
        kinds += ["short", "long", "negative", "too_big", "float", "bool", "2d", "object"]
    kind = draw(st.sampled_from(kinds))
    dtype = draw(st.sampled_from([t for t in SIGNED + UNSIGNED if np.iinfo(t).max >= k]))
    if kind == "list":
        return y.tolist(), y, "ok"
    if kind == "short":
        return (y[:-1] if n else np.zeros(1, np.int64)).astype(dtype), None, "short"
    if kind == "long":
        return np.append(y, 0).astype(dtype), None, "long"
    if kind in ("negative", "too_big") and n:
        bad = y.copy()
        bad[draw(st.integers(0, n - 1))] = -1 if kind == "negative" else k + draw(st.integers(0, 3))
        return bad, bad, kind
    if kind == "float" and n:
        return y + 0.5, None, "type"
    if kind == "bool":
        return y > 0, None, "type"
    if kind == "2d":
        return y.reshape(-1, 1).astype(dtype), None, "type"
    if kind == "object" and n:
        return y.astype(object), None, "type"
    return y.astype(dtype), y, "ok"


# ---- checks ------------------------------------------------------------------------------------------------------
def snapshot(*objs) -> List[Any]:
    out = []
    for o in objs:
        if isinstance(o, np.ndarray):
            out.append((o, o.copy(), o.dtype, o.shape, o.strides))
        elif isinstance(o, list):
            out.append((o, repr(o), None, None, None))
        else:
            out.append((o, None, None, None, None))
    return out


def assert_unchanged(snaps: Iterable[Any]) -> None:
    """The caller's arrays (and the buffers views point into) hold exactly what they held before the call."""
    for obj, copy, dtype, shape, strides in snaps:
        if isinstance(obj, np.ndarray):
            assert obj.dtype == dtype and obj.shape == shape and obj.strides == strides, "input array was altered"
            if obj.dtype.kind == "O":
                assert obj.tolist() == copy.tolist(), "input array was modified"
            else:
                np.testing.assert_array_equal(obj, copy, err_msg="input array was modified")
        elif isinstance(obj, list):
            assert repr(obj) == copy, "input list was modified"


def names_argument(message: str, names: Iterable[str]) -> bool:
    """Messages follow the convention 'argument: what was wrong'."""
    return any(re.match(rf"{re.escape(name)}\b", message) for name in names)


def check_call(call: Callable[[], Any], bad: Iterable[str], verify: Callable[[Any], None],
               also_named: Iterable[str] = (), label: str = "") -> Optional[Exception]:
    """Run ``call``: with no bad arguments it must succeed and pass ``verify``; otherwise it must raise a
    ValueError/TypeError whose message starts with one of the bad argument names (or ``also_named``). Any other
    exception (MemoryError, IndexError, RuntimeError, SystemError, ...) propagates and fails the test.

    With ``label``, the outcome is recorded as a hypothesis event ("<label>: accepted" / "<label>: refused,
    <argument>"), which --hypothesis-show-statistics reports: how often each path was really exercised."""
    bad = set(bad)
    try:
        result = call()
    except (ValueError, TypeError) as exc:
        assert bad, f"valid input rejected: {type(exc).__name__}: {exc}"
        assert names_argument(str(exc), bad | set(also_named)), (
            f"{type(exc).__name__} does not name one of {sorted(bad)}: {exc}")
        if label:
            event(f"{label}: refused, {re.split(r'[:[ ]', str(exc), maxsplit=1)[0]}")
        return exc
    assert not bad, f"bad arguments {sorted(bad)} were accepted"
    verify(result)
    if label:
        event(f"{label}: accepted")
    return None


def first_invalid_vote(values: np.ndarray, k: int):
    """(row, column, value) of the first entry outside -1..k-1 in row-major order, or None."""
    bad = np.argwhere((values < -1) | (values >= k))
    if not len(bad):
        return None
    r, c = bad[0]
    return int(r), int(c), int(values[r, c])
