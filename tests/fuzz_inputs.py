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
        V = make_label_matrix(n, m, k, accuracy=(low, 0.95), coverage=(0.05, 0.9), random_state=seed).L.astype(np.int64)
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
        else:
            event(f"rejected, naming {str(exc).split(':')[0][:40]}")  # --hypothesis-show-statistics tallies these
        return exc
    assert not bad, f"bad arguments {sorted(bad)} were accepted"
    verify(result)
    event(f"{label}: accepted" if label else "accepted and verified")
    return None


def first_invalid_vote(values: np.ndarray, k: int):
    """(row, column, value) of the first entry outside -1..k-1 in row-major order, or None."""
    bad = np.argwhere((values < -1) | (values >= k))
    if not len(bad):
        return None
    r, c = bad[0]
    return int(r), int(c), int(values[r, c])


# ---- embeddings --------------------------------------------------------------------------------------------------
EMBED_FLOATS = (np.float16, np.float32, np.float64)
EMBED_INTS = (np.int8, np.int32, np.int64, np.uint8)  # numbers all the same: accepted and converted
EMBED_BAD_DTYPES = (np.bool_, np.object_, np.complex128)
EMBED_LAYOUTS = ("C", "F", "strided", "reversed_rows", "reversed", "broadcast", "unaligned", "byteswapped", "list")
# row scales: non-normalised rows from denormal-small to beyond float32 (1e39 is finite only in float64)
ROW_SCALES = (1e-44, 1e-30, 1e-3, 7.0, 1e4, 1e30, 1e39, 1e200)


@dataclass
class EmbeddingInput:
    """An embedding matrix as passed (``X``) and what the oracle needs to know about it.

    ``values`` is the matrix as float64, exactly as a reader of X sees it (None when X is not a 2-D array of real
    numbers); ``problem`` is why the input is invalid whatever the policy ("dtype", "shape") or None;
    ``nonfinite`` marks the rows holding NaN or inf."""

    X: Any
    values: Optional[np.ndarray]
    problem: Optional[str]
    nonfinite: np.ndarray
    layout: str
    dtype: Any
    shape: tuple                 # (n, d) as drawn (for a non-matrix: the shape it was meant to have)
    lattice: bool = False   # entries in {0, +-1/2} with 4 non-zeros: every cosine is exact in float32
    keepalive: Any = None

    @property
    def n(self) -> int:
        return self.shape[0]

    def snapshot(self) -> List[Any]:
        return snapshot(self.X, self.keepalive)

    def unit(self, zero_nonfinite: bool = True) -> np.ndarray:
        """The reference normalisation in float64: rows scaled to unit norm, zero rows (and, with
        ``zero_nonfinite``, rows holding NaN/inf) left zero."""
        return unit_rows(self.values, zero_nonfinite)


def unit_rows(values: np.ndarray, zero_nonfinite: bool = True) -> np.ndarray:
    V = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(V).all(axis=1)
    V[bad] = 0.0
    peak = np.abs(V).max(axis=1, initial=0.0)
    V = V / np.where(peak > 0, peak, 1.0)[:, None]  # no overflow or underflow in the squares
    norm = np.sqrt((V * V).sum(axis=1))
    return V / np.where(norm > 0, norm, 1.0)[:, None]


def lattice_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Rows with entries in {0, +-1/2}, 4 of them non-zero (unit norm): cosines are multiples of 1/4, exact in
    float32 and float16 in any summation order, so ties are real ties for faiss, the core and numpy alike."""
    X = np.zeros((n, d))
    for i in range(n):
        X[i, rng.choice(d, size=4, replace=False)] = rng.choice([-0.5, 0.5], size=4)
    return X


def _embedding_layout(V: np.ndarray, dtype, layout: str):
    if dtype == np.object_:
        return V.astype(object), None
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        V = np.clip(np.nan_to_num(V, nan=0.0, posinf=info.max, neginf=info.min), info.min, info.max)
    a = V.astype(dtype)
    if layout == "list":
        return a.tolist(), None
    if layout == "reversed":
        b = a[::-1, ::-1].copy()
        return b[::-1, ::-1], b
    if layout == "byteswapped" and a.dtype.itemsize == 1:
        layout = "C"
    return _layout(a, a.dtype, layout) if layout != "byteswapped" else (a.astype(a.dtype.newbyteorder()), None)


@st.composite
def embedding_inputs(draw, n: Optional[int] = None, d: Optional[int] = None, max_rows: int = 60,
                     max_dim: int = 16, allow_bad: bool = True, allow_nonfinite: bool = True,
                     allow_lattice: bool = True, allow_huge: bool = True) -> EmbeddingInput:
    """Embeddings the way users hand them over: float16/32/64 (and integers, bools, objects, complex), C / F /
    strided / reversed / broadcast / unaligned / byte-swapped views and lists, 0 / 1 rows, 1 dimension, duplicate
    rows, all-zero rows, rows far from unit norm (1e-44 to 1e200; ``allow_huge=False``: up to 1e4), NaN / inf rows,
    and (rarely) not a matrix."""
    with np.errstate(all="ignore"):  # casts overflow to inf (float16(1e30)) as a user's cast would
        return _embedding_input(draw, n, d, max_rows, max_dim, allow_bad, allow_nonfinite, allow_lattice,
                                allow_huge)


def _embedding_input(draw, n, d, max_rows, max_dim, allow_bad, allow_nonfinite, allow_lattice,
                     allow_huge) -> EmbeddingInput:
    n = draw(st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, max_rows))) if n is None else n
    d = draw(st.one_of(st.just(1), st.integers(1, max_dim))) if d is None else d
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = draw(st.sampled_from(["gauss", "gauss", "clustered", "duplicates", "nonnegative"]
                                + (["lattice"] * 2 if allow_lattice and d >= 4 else [])))
    if base == "lattice":
        V = lattice_rows(rng, n, d)
    elif base == "clustered":
        centres = rng.standard_normal((3, d))
        V = centres[rng.integers(0, 3, n)] + 0.1 * rng.standard_normal((n, d))
    elif base == "duplicates":
        pool = rng.standard_normal((max(1, min(n, 3)), d))
        V = pool[rng.integers(0, len(pool), n)]
    elif base == "nonnegative":
        V = np.abs(rng.standard_normal((n, d)))
    else:
        V = rng.standard_normal((n, d))
    lattice = base == "lattice"
    for _ in range(draw(st.integers(0, 3)) if n else 0):
        r = draw(st.integers(0, n - 1))
        kinds = ["zero", "scale", "duplicate"] + (["nan", "inf"] if allow_nonfinite else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "zero":
            V[r] = 0.0
        elif kind == "scale":
            V[r] *= draw(st.sampled_from(ROW_SCALES if allow_huge else [x for x in ROW_SCALES if x <= 1e4]))
            lattice = False
        elif kind == "duplicate":
            V[r] = V[draw(st.integers(0, n - 1))]
        else:
            V[r, draw(st.integers(0, d - 1))] = np.nan if kind == "nan" else draw(st.sampled_from([np.inf, -np.inf]))
    dtype_kinds = [st.sampled_from(EMBED_FLOATS)] * 8 + [st.sampled_from(EMBED_INTS)]
    if allow_bad:
        dtype_kinds.append(st.sampled_from(EMBED_BAD_DTYPES))
    dtype = np.dtype(draw(st.one_of(*dtype_kinds)))
    if not allow_nonfinite and dtype.kind == "f":  # large rows stay within the dtype (float16(1e30) is inf)
        V = np.clip(V, -np.finfo(dtype).max, np.finfo(dtype).max)
    if dtype.kind in "iu":
        V = np.round(V * 20)  # small integers: a user's quantised embeddings
        lattice = False
    if allow_bad and draw(st.integers(0, 14)) == 0:  # not a matrix at all
        shape = draw(st.sampled_from(["1d", "3d", "scalar", "no_columns"]))
        bad = {"1d": V.reshape(-1)[:n], "3d": V.reshape(n, d, 1), "scalar": np.float64(1.0),
               "no_columns": np.zeros((n, 0))}[shape]
        X = np.asarray(bad).astype(dtype if dtype.kind != "c" else np.float32)
        return EmbeddingInput(X=X, values=None, problem="shape", nonfinite=np.zeros(n, bool), layout="C",
                              dtype=X.dtype, shape=(n, d))  # the shape it was meant to have
    layout = draw(st.sampled_from(EMBED_LAYOUTS))
    if layout in ("unaligned", "byteswapped") and (dtype.itemsize == 1 or dtype.kind in "bOc"):
        layout = "C"
    if layout == "list" and (dtype.kind not in "f" or n == 0):  # [] has lost its columns
        layout = "C"
    X, keep = _embedding_layout(V, dtype, layout)
    problem = "dtype" if dtype.kind in "bOc" else None
    values = None
    nonfinite = np.zeros(n, bool)
    if problem is None:
        values = np.array(X, dtype=np.float64)
        nonfinite = ~np.isfinite(values).all(axis=1)
    return EmbeddingInput(X=X, values=values, problem=problem, nonfinite=nonfinite, layout=layout, dtype=dtype,
                          shape=(n, d), lattice=lattice, keepalive=keep)


def check_top_k(ids: np.ndarray, sims: np.ndarray, U_db: np.ndarray, U_query: np.ndarray, K: int,
                exclude_self: bool, exact: bool = True, tol: float = 2e-5) -> None:
    """Neighbour lists against numpy brute-force cosine similarity (float64 on the unit rows), ties aside: every
    listed id is a real row (never the row itself when ``exclude_self``), listed once, with its true similarity,
    in decreasing order, and (``exact``) no unlisted row is more similar than the K-th listed one."""
    n_q, n_db = U_query.shape[0], U_db.shape[0]
    assert ids.shape == (n_q, K) and sims.shape == (n_q, K), (ids.shape, sims.shape, (n_q, K))
    assert ids.dtype == np.int64 and sims.dtype == np.float32
    if K == 0 or n_q == 0:
        return
    S = U_query @ U_db.T
    if exclude_self:
        np.fill_diagonal(S, -np.inf)
    valid = ids >= 0
    if exact:
        assert valid.all(), "an exact index returned a short list"
    assert (ids < n_db).all()
    assert np.all(sims[~valid] == -np.inf)
    rows = np.arange(n_q)[:, None]
    if exclude_self:
        assert not (ids == rows).any(), "a row is listed as its own neighbour"
    for i in range(n_q):
        listed = ids[i][valid[i]]
        assert len(np.unique(listed)) == len(listed), f"row {i} lists a neighbour twice"
    true = np.where(valid, S[rows, np.where(valid, ids, 0)], -np.inf)
    np.testing.assert_allclose(sims[valid], true[valid], atol=tol)
    s64 = sims.astype(np.float64)
    assert np.all((s64[:, 1:] <= s64[:, :-1] + tol) | ~valid[:, 1:]), "lists not sorted"
    if exact:
        kth = -np.sort(-S, axis=1)[:, K - 1]
        assert np.all(sims[:, -1] >= kth - tol), "a closer row was left out of a list"


# ---- hypothesis settings for costly tests ------------------------------------------------------------------------
def scaled_settings(fraction: float, **kwargs):
    """settings(max_examples = fraction of the active profile's count): torch fits cost more per example than the
    statistics, yet a long run (LABELFUSE_FUZZ=long / LABELFUSE_FUZZ_EXAMPLES) still scales them up."""
    from hypothesis import settings

    return settings(max_examples=max(1, int(round(settings().max_examples * fraction))), **kwargs)


@st.composite
def faults(draw, names: Iterable[str], p_clean: float = 0.5, most: int = 2) -> frozenset:
    """Which arguments an example makes wrong: none in about ``p_clean`` of the examples (so that estimators
    really get fitted and their results checked), else one, sometimes two. The oracle still judges every argument
    by its value: a "wrong" draw that happens to be valid is treated as valid."""
    if draw(st.integers(0, 99)) < 100 * p_clean:
        return frozenset()
    names = sorted(names)
    size = 1 if draw(st.integers(0, 3)) else min(most, len(names))
    return frozenset(draw(st.lists(st.sampled_from(names), min_size=1, max_size=size, unique=True)))
