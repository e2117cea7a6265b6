import numpy as np
import pytest

import labelfuse as lf
from labelfuse import _core
from reference import reference_stats

FIELDS = ("rows", "covered", "overlapping", "conflicting", "class_counts", "lf_overlaps", "lf_conflicts", "covote",
          "agree")


def random_L(n, m, k, seed=0, density=0.4, dtype=np.int8):
    rng = np.random.default_rng(seed)
    L = rng.integers(0, k, size=(n, m))
    L[rng.random((n, m)) > density] = -1
    return L.astype(dtype)


def assert_matches(stats, ref, extra=()):
    for name in FIELDS + tuple(extra):
        np.testing.assert_array_equal(getattr(stats, name), ref[name], err_msg=name)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed"])
@pytest.mark.parametrize("overlap", [False, True])  # False takes the bitset path, True the row path
def test_matches_numpy_reference_every_dtype_and_layout(dtype, layout, overlap):
    base = random_L(700, 13, 3, seed=1, dtype=dtype)
    if layout == "C":
        L = base
    elif layout == "F":
        L = np.asfortranarray(base)
    elif layout == "strided":
        L = np.repeat(np.repeat(base, 2, axis=0), 3, axis=1)[::2, ::3]
        assert not L.flags.c_contiguous and not L.flags.f_contiguous
    else:
        L = base[::-1, ::-1]
    s = lf.label_stats(L, 3, overlap_matrix=overlap)
    assert_matches(s, reference_stats(L, 3, overlap=overlap), extra=("overlap",) if overlap else ())


@pytest.mark.parametrize("k", [2, 4, 10])
@pytest.mark.parametrize("n,m", [(1, 1), (5, 1), (2000, 7), (30000, 40)])
def test_matches_reference_with_gold_and_groups(k, n, m):
    L = random_L(n, m, k, seed=n + m + k)
    rng = np.random.default_rng(7)
    Y = rng.integers(0, k, size=n)
    groups = rng.integers(0, 5, size=n)
    with_o = m * k <= 200
    s = lf.label_stats(L, k, Y=Y, groups=groups, n_groups=5, overlap_matrix=with_o)
    extra = ("confusion", "gold_counts") + (("overlap",) if with_o else ())
    assert_matches(s, reference_stats(L, k, Y=Y, groups=groups, n_groups=5, overlap=with_o), extra=extra)
    assert s.grouped and s.n_groups == 5
    assert s.total() == lf.label_stats(L, k, Y=Y, overlap_matrix=with_o)


@pytest.mark.slow
def test_large_matrix_matches_reference():
    L = random_L(100_000, 100, 2, seed=3, density=0.2)
    s = lf.label_stats(L, 2)
    assert_matches(s, reference_stats(L, 2))


@pytest.mark.parametrize("k", [1 + 1, 5, 17, 127, 128, 300])  # plane counts, histogram and row fallbacks
@pytest.mark.parametrize("grouped", [False, True])
def test_every_cardinality_path_matches_reference(k, grouped):
    L = random_L(3000, 9, k, seed=k, density=0.5, dtype=np.int16)
    groups = np.random.default_rng(k).integers(0, 3, 3000) if grouped else None
    s = lf.label_stats(L, k, groups=groups, n_groups=3 if grouped else None)
    assert_matches(s, reference_stats(L, k, groups=groups, n_groups=3 if grouped else 1))


def test_medium_multiclass_matches_reference():
    L = random_L(20_000, 100, 10, seed=4, density=0.1)
    assert_matches(lf.label_stats(L, 10), reference_stats(L, 10))


def test_frequencies_follow_from_counts():
    L = random_L(500, 6, 2, seed=5)
    s = lf.label_stats(L, 2, overlap_matrix=True)
    v = np.where(L == 1, 1.0, np.where(L == 0, -1.0, 0.0))
    np.testing.assert_allclose(s.second_moment(), v.T @ v / 500)
    np.testing.assert_allclose(s.first_moment(), v.mean(axis=0))
    np.testing.assert_allclose(s.lf_coverage(), (L >= 0).mean(axis=0))
    assert s.overlap_frequencies().shape == (12, 12)
    with pytest.raises(ValueError, match="binary"):
        lf.label_stats(L, 3).second_moment()


def test_cardinality_inferred_from_L_and_Y():
    L = np.array([[0, -1], [2, 1]], dtype=np.int8)
    assert lf.label_stats(L).cardinality == 3
    assert lf.label_stats(L, Y=[4, 0]).cardinality == 5
    assert lf.label_stats(np.full((3, 2), -1, np.int8)).cardinality == 2


def test_all_abstain_and_empty_rows():
    s = lf.label_stats(np.full((10, 3), -1, np.int8), 2)
    assert s.rows[0] == 10 and s.covered[0] == 0 and s.class_counts.sum() == 0
    assert np.all(s.lf_coverage() == 0)
    s0 = lf.label_stats(np.zeros((0, 3), np.int8), 2)  # an empty shard is fine: statistics add up
    assert s0.n_rows == 0 and np.all(s0.lf_coverage() == 0)


def test_duplicate_lfs_agree_everywhere():
    col = random_L(300, 1, 3, seed=8)
    s = lf.label_stats(np.hstack([col, col]), 3)
    assert s.agree[0, 0, 1] == s.covote[0, 0, 1] == s.covote[0, 0, 0]
    assert s.lf_conflicts.sum() == 0


def test_additive_across_shards():
    L = random_L(5000, 8, 4, seed=9)
    Y = np.random.default_rng(1).integers(0, 4, 5000)
    whole = lf.label_stats(L, 4, Y=Y, overlap_matrix=True)
    parts = [lf.label_stats(L[a:b], 4, Y=Y[a:b], overlap_matrix=True) for a, b in [(0, 1234), (1234, 1300), (1300, 5000)]]
    assert sum(parts) == whole
    assert whole - parts[0] == parts[1] + parts[2]
    back = lf.LabelStats.from_dict(whole.to_dict())
    assert back == whole


def test_combining_incompatible_stats_is_an_error():
    a = lf.label_stats(random_L(10, 3, 2), 2)
    with pytest.raises(ValueError, match="other"):
        a + lf.label_stats(random_L(10, 4, 2), 2)
    with pytest.raises(ValueError, match="overlap"):
        a + lf.label_stats(random_L(10, 3, 2), 2, overlap_matrix=True)
    with pytest.raises(TypeError, match="other"):
        a + 3


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("with_gold", [False, True])
def test_incremental_update_equals_recomputation(grouped, with_gold):
    rng = np.random.default_rng(11)
    n, m, k = 20_000, 12, 3
    L_old = random_L(n, m, k, seed=12)
    Y = rng.integers(0, k, n) if with_gold else None
    groups = rng.integers(0, 4, n) if grouped else None
    kw = dict(Y=Y, groups=groups, n_groups=4 if grouped else None, overlap_matrix=True)
    before = lf.label_stats(L_old, k, **kw)
    for j in (0, 5, m - 1):
        L_new = L_old.copy()
        flip = rng.random(n) < 0.1
        L_new[flip, j] = rng.integers(-1, k, flip.sum())
        updated = before.update_column(L_new, j, L_old[:, j], Y=Y, groups=groups)
        assert updated == lf.label_stats(L_new, k, **kw)
    assert before.update_column(L_old, 3, L_old[:, 3], Y=Y, groups=groups) == before


def test_update_column_validates():
    L = random_L(100, 4, 2)
    s = lf.label_stats(L, 2)
    with pytest.raises(ValueError, match="column"):
        s.update_column(L, 4, L[:, 0])
    with pytest.raises(ValueError, match="old_column"):
        s.update_column(L, 1, L[:50, 1])
    bad = L.copy()
    bad[3, 1] = 5
    with pytest.raises(ValueError, match=r"row 3, column 1\) is 5"):
        s.update_column(bad, 1, L[:, 1])
    with pytest.raises(ValueError, match="groups"):
        lf.label_stats(L, 2, groups=np.zeros(100, int)).update_column(L, 1, L[:, 1])


def test_deterministic_across_thread_counts():
    L = random_L(200_000, 20, 4, seed=13)
    Y = np.random.default_rng(2).integers(0, 4, L.shape[0])
    one = lf.label_stats(L, 4, Y=Y, groups=Y, overlap_matrix=True, n_threads=1)
    two = lf.label_stats(L, 4, Y=Y, groups=Y, overlap_matrix=True, n_threads=2)
    assert one == two
    assert lf.label_stats(L, 4, n_threads=-1) == lf.label_stats(L, 4, n_threads=1)


def test_group_index_is_reusable():
    L = random_L(1000, 5, 2)
    parts = np.random.default_rng(3).integers(0, 7, 1000)
    gi = lf.GroupIndex.from_groups(parts)
    assert gi.n_groups == 7
    assert lf.label_stats(L, 2, group_index=gi) == lf.label_stats(L, 2, groups=parts)
    assert lf.label_stats(L, 2, group_index=gi).group(3) == lf.label_stats(L[parts == 3], 2)
    with pytest.raises(ValueError, match="group_index"):
        lf.label_stats(L[:10], 2, group_index=gi)
    with pytest.raises(ValueError, match="either"):
        lf.label_stats(L, 2, groups=parts, group_index=gi)


def test_exception_inside_parallel_loop_reaches_python():
    with pytest.raises(RuntimeError, match="iteration 777"):
        _core._raise_in_parallel(10_000, 777, 2)
    _core._raise_in_parallel(10_000, -1, 2)  # no failure, no error


def test_invalid_vote_inside_parallel_region_names_first_offender():
    L = random_L(300_000, 10, 3, seed=14)
    L[250_000, 2] = 7
    L[150_000, 4] = -2
    L[150_000, 8] = 3
    with pytest.raises(ValueError, match=r"row 150000, column 4\) is -2"):
        lf.label_stats(L, 3, n_threads=2)


@pytest.mark.parametrize(
    "L,exc,match",
    [
        (np.zeros((3, 2), dtype=np.float64), TypeError, "L: expected a signed integer"),
        (np.zeros((3, 2), dtype=object), TypeError, "L: expected a signed integer"),
        (np.zeros((3, 2), dtype=bool), TypeError, "L: expected a signed integer"),
        (np.zeros((3, 2), dtype=np.uint8), TypeError, "unsigned"),
        (np.zeros(3, dtype=np.int8), ValueError, "L: expected a 2-D"),
        (np.zeros((2, 3, 4), dtype=np.int8), ValueError, "L: expected a 2-D"),
        (np.zeros((3, 0), dtype=np.int8), ValueError, "L: has no columns"),
        (np.array([[0, 2]], dtype=np.int8), ValueError, r"L: entry \(row 0, column 1\) is 2"),
        (np.array([[0, -3]], dtype=np.int64), ValueError, r"is -3"),
    ],
)
def test_bad_label_matrix(L, exc, match):
    with pytest.raises(exc, match=match):
        lf.label_stats(L, 2)


def test_bad_other_arguments():
    L = random_L(10, 3, 2)
    with pytest.raises(ValueError, match="Y: expected 10 labels"):
        lf.label_stats(L, 2, Y=np.zeros(9, int))
    with pytest.raises(ValueError, match="Y: entry 0 is 2"):
        lf.label_stats(L, 2, Y=np.full(10, 2))
    with pytest.raises(TypeError, match="Y: expected integer"):
        lf.label_stats(L, 2, Y=np.full(10, 0.5))
    with pytest.raises(ValueError, match="groups: entry 1 is 3"):
        lf.label_stats(L, 2, groups=[0, 3] + [0] * 8, n_groups=2)
    with pytest.raises(ValueError, match="cardinality"):
        lf.label_stats(L, 1)
    with pytest.raises(TypeError, match="cardinality"):
        lf.label_stats(L, 2.0)
    with pytest.raises(ValueError, match="n_threads"):
        lf.label_stats(L, 2, n_threads=0)
    with pytest.raises(TypeError, match="n_threads"):
        lf.label_stats(L, 2, n_threads="2")
    with pytest.raises(ValueError, match="overlap_matrix: would need"):
        lf.label_stats(np.zeros((2, 3000), np.int8), 1000, overlap_matrix=True)


def test_callers_arrays_are_not_modified():
    L = random_L(2000, 6, 3)
    Y = np.random.default_rng(0).integers(0, 3, 2000).astype(np.int32)
    groups = (Y % 2).astype(np.int16)
    copies = [a.copy() for a in (L, Y, groups)]
    s = lf.label_stats(L, 3, Y=Y, groups=groups, overlap_matrix=True)
    s.update_column(L, 2, copies[0][:, 2], Y=Y, groups=groups)
    for a, c in zip((L, Y, groups), copies):
        np.testing.assert_array_equal(a, c)
        assert a.dtype == c.dtype


def test_accepts_lists_and_dataframes():
    pd = pytest.importorskip("pandas")
    L = random_L(50, 4, 2)
    ref = lf.label_stats(L, 2)
    assert lf.label_stats(L.tolist(), 2) == ref
    assert lf.label_stats(pd.DataFrame(L), 2) == ref


@pytest.mark.parametrize("m", [15, 16, 17, 48, 70])
@pytest.mark.parametrize("n", [1, 15, 257, 1031])
def test_int8_tiles_and_tails_match_reference(m, n):
    L = random_L(n, m, 3, seed=m * n)
    assert_matches(lf.label_stats(L, 3), reference_stats(L, 3))
    rows = np.random.default_rng(0).permutation(n)[: max(1, n // 2)]
    view = L[np.sort(rows)]  # a gathered copy with the same layout
    assert_matches(lf.label_stats(view, 3), reference_stats(view, 3))


@pytest.mark.parametrize("value", [-2, 3, 127, -128])
def test_invalid_vote_inside_a_simd_tile_is_reported(value):
    L = random_L(5000, 40, 3, seed=2)
    L[4321, 17] = value
    with pytest.raises(ValueError, match=rf"row 4321, column 17\) is {value}"):
        lf.label_stats(L, 3)


def test_show_versions_reports_the_core(capsys):
    lf.show_versions()
    out = capsys.readouterr().out
    assert "openmp" in out and "numpy" in out
    assert lf._versions.versions()["core"] == lf.__version__


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6, 7, 8, 10, 13])  # fixed-size kernels and the generic one
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_posterior_kernel_equals_bayes_reference(k, layout):
    from labelfuse.models.registry import FitResult
    from labelfuse.synthetic import bayes_posterior, make_label_matrix

    s = make_label_matrix(3001, 7, k, random_state=k)
    L = {"C": s.L, "F": np.asfortranarray(s.L), "strided": np.repeat(s.L, 2, axis=1)[:, ::2]}[layout]
    log_cpt, log_prior = FitResult(s.cpt, s.class_balance).log_tables()
    P = _core.posterior(L, log_cpt, log_prior, k, n_threads=2)
    np.testing.assert_allclose(P, bayes_posterior(s.L, s.cpt, s.class_balance), atol=1e-12)
    bad = s.L.copy()
    bad[1234, 5] = k
    with pytest.raises(ValueError, match=rf"row 1234, column 5\) is {k}"):
        _core.posterior(bad, log_cpt, log_prior, k)
