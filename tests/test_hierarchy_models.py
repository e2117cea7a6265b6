"""Hierarchical label models: recovery on the generative model, exact posteriors, baselines, degenerate inputs."""
import numpy as np
import pytest

from labelfuse.hierarchy.graph import NOT_APPLICABLE, TaskGraph
from labelfuse.hierarchy.models import HardMV, HierarchicalLabelModel, SoftMV
from labelfuse.synthetic import make_hierarchical_votes
from reference import exact_end_posterior

# These tests run short EM (max_iter 5..50) for speed; the fits say they stopped early (ConvergenceWarning), which
# test_non_convergence_is_warned checks; elsewhere it is not the point.
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.ConvergenceWarning")


def full_tree(depth, branching):
    g = TaskGraph().add_task("t0", branching)
    frontier, count = ["t0"], 1
    for _ in range(1, depth):
        nxt = []
        for parent in frontier:
            for v in range(branching):
                name = f"t{count}"
                count += 1
                g.add_task(name, branching, parent=(parent, v))
                nxt.append(name)
        frontier = nxt
    return g


def uneven_tree():
    """Depth 3 with mixed branching and leaf labels next to child tasks."""
    return (TaskGraph().add_task("root", 3).add_task("a", 2, parent=("root", 0))
            .add_task("b", 4, parent=("root", 2)).add_task("a1", 3, parent=("a", 1)))


RECOVERY_CASES = [(full_tree(2, 2), 30000), (full_tree(2, 3), 30000), (full_tree(2, 4), 30000),
                  (full_tree(3, 2), 40000), (uneven_tree(), 40000)]


@pytest.mark.parametrize("graph, n", RECOVERY_CASES)
def test_recovers_accuracies_and_balance_within_003(graph, n):
    s = make_hierarchical_votes(graph, n, lfs_per_task=4, coverage=(0.5, 0.9), accuracy=(0.7, 0.9), random_state=3)
    model = HierarchicalLabelModel(graph).fit(s.L)
    assert model.converged_
    assert np.abs(model.accuracy_ - s.accuracy).max() < 0.03
    assert np.abs(model.class_balance_ - s.class_balance).max() < 0.03
    # symmetric LFs: precision given a vote equals the accuracy
    assert np.abs(model.precision_ - s.accuracy).max() < 0.03
    for est, true, task in zip(model.tables_, s.tables, s.lf_tasks):
        used = slice(None) if graph.parent(task) else slice(0, -1)  # the root is never "not applicable"
        assert np.abs(est[:, used] - true[:, used]).max() < 0.08  # cells of rare end labels are noisier
    # the trained model beats both baselines on end labels
    acc = (model.predict(s.L) == s.Y).mean()
    assert acc > (SoftMV(graph).predict(s.L) == s.Y).mean()
    assert acc > (HardMV(graph).predict(s.L) == s.Y).mean()


@pytest.mark.slow
def test_recovers_accuracies_depth_three_branching_three():
    g = full_tree(3, 3)
    s = make_hierarchical_votes(g, 80000, lfs_per_task=4, coverage=(0.5, 0.9), accuracy=(0.7, 0.9), random_state=4)
    model = HierarchicalLabelModel(g).fit(s.L)
    assert np.abs(model.accuracy_ - s.accuracy).max() < 0.03


@pytest.mark.parametrize("graph", [full_tree(2, 2), full_tree(3, 2), uneven_tree()])
def test_posterior_equals_exact_enumeration(graph):
    s = make_hierarchical_votes(graph, 3000, lfs_per_task=3, random_state=5)
    model = HierarchicalLabelModel(graph, max_iter=30).fit(s.L)
    small = {t: L[:40] for t, L in s.L.items()}
    P = model.predict_proba(small)
    ref = exact_end_posterior(graph, small, None, model.tables_, model.class_balance_)
    np.testing.assert_allclose(P, ref, rtol=1e-9, atol=1e-12)
    # and with the true parameters the reference and the sampler agree on what they model
    soft = SoftMV(graph, accuracy=0.8).fit()
    from labelfuse.hierarchy import as_task_votes
    from labelfuse.hierarchy.models import fixed_tables

    ref_soft = exact_end_posterior(graph, small, None, fixed_tables(as_task_votes(graph, small), 0.8),
                                   soft.class_balance_)
    np.testing.assert_allclose(soft.predict_proba(small), ref_soft, rtol=1e-9, atol=1e-12)


def test_task_marginals_and_predictions_follow_the_tree():
    g = uneven_tree()
    s = make_hierarchical_votes(g, 4000, random_state=6)
    model = HierarchicalLabelModel(g, max_iter=50).fit(s.L)
    P = model.predict_proba(s.L)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    M = model.predict_task_proba(s.L)
    np.testing.assert_allclose(M["a"][:, :2].sum(axis=1), M["root"][:, 0])
    np.testing.assert_allclose(M["a1"][:, :3].sum(axis=1), M["a"][:, 1])
    for t, Mt in M.items():
        np.testing.assert_allclose(Mt.sum(axis=1), 1.0)
    pred = model.predict_tasks(s.L)
    routed_a = pred["root"] == 0
    assert (pred["a"][~routed_a] == NOT_APPLICABLE).all() and (pred["a"][routed_a] >= 0).all()
    assert (pred["b"][pred["root"] == 2] >= 0).all()


def test_single_matrix_with_lf_tasks_gives_the_same_fit():
    g = full_tree(2, 2)
    s = make_hierarchical_votes(g, 5000, random_state=7)
    M = np.concatenate([s.L[t] for t in g.tasks], axis=1)
    a = HierarchicalLabelModel(g, max_iter=40).fit(s.L)
    b = HierarchicalLabelModel(g, max_iter=40).fit(M, lf_tasks=s.lf_tasks)
    np.testing.assert_allclose(a.accuracy_, b.accuracy_)
    np.testing.assert_allclose(a.predict_proba(s.L), b.predict_proba(M, lf_tasks=s.lf_tasks))


def test_dev_labels_fix_the_class_balance():
    g = full_tree(2, 2)
    s = make_hierarchical_votes(g, 3000, random_state=8)
    Y_dev = np.array([0, 0, 0, 1, 2, 3, 3])
    model = HierarchicalLabelModel(g, max_iter=20).fit(s.L, Y_dev=Y_dev)
    np.testing.assert_allclose(model.class_balance_, (np.bincount(Y_dev, minlength=4) + 1) / 11)
    with pytest.raises(ValueError, match="Y_dev"):
        HierarchicalLabelModel(g).fit(s.L, Y_dev=np.array([0, 9]))


def test_hard_mv_descends_the_tree_with_seeded_ties():
    g = TaskGraph().add_task("r", 2).add_task("c", 3, parent=("r", 1))
    # end labels: r0, r1/c0, r1/c1, r1/c2
    L = {"r": np.array([[0, 0, 1], [1, 1, -1], [1, 0, -1], [-1, -1, -1]]),
         "c": np.array([[2, 2], [2, 1], [0, 0], [1, -1]])}
    hm = HardMV(g, random_state=0)
    pred = hm.predict(L)
    assert pred[0] == 0          # root says r0: the child's votes are ignored
    assert pred[1] == 1 + 2 or pred[1] == 1 + 1  # root r1, child tie 2 vs 1
    assert pred[2] in (0, 1)     # root tie; if r1 then child says c0 (end label 1)
    np.testing.assert_array_equal(pred, HardMV(g, random_state=0).predict(L))
    seen = {tuple(HardMV(g, random_state=s).predict(L)) for s in range(30)}
    assert len(seen) > 1  # ties really are random across seeds
    P = hm.predict_proba(L)
    np.testing.assert_array_equal(P.argmax(axis=1), pred)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_all_abstain_rows_get_the_prior():
    g = full_tree(2, 2)
    s = make_hierarchical_votes(g, 3000, random_state=9)
    model = HierarchicalLabelModel(g, max_iter=30).fit(s.L)
    silent = {t: np.full((2, L.shape[1]), -1) for t, L in s.L.items()}
    P = model.predict_proba(silent)
    # all-abstain likelihood is a product of abstain rates per state, so compare with the exact reference
    np.testing.assert_allclose(P, exact_end_posterior(g, silent, None, model.tables_, model.class_balance_))
    np.testing.assert_allclose(SoftMV(g).predict_proba(silent), 0.25)


def test_one_lf_and_duplicate_lfs_are_defined():
    g = TaskGraph().add_task("r", 2).add_task("c", 2, parent=("r", 0))
    s = make_hierarchical_votes(g, 2000, lfs_per_task=1, random_state=10)
    model = HierarchicalLabelModel(g, max_iter=50).fit(s.L)
    assert np.isfinite(model.predict_proba(s.L)).all()
    dup = {t: np.concatenate([L, L], axis=1) for t, L in s.L.items()}
    model = HierarchicalLabelModel(g, max_iter=50).fit(dup)
    assert np.isfinite(model.predict_proba(dup)).all() and len(model.accuracy_) == 4


def test_params_and_errors():
    g = full_tree(2, 2)
    m = HierarchicalLabelModel(g, max_iter=7)
    assert m.get_params()["max_iter"] == 7
    assert m.set_params(tol=1e-3) is m and m.tol == 1e-3
    with pytest.raises(ValueError, match="not a parameter"):
        m.set_params(alpha=1)
    with pytest.raises(ValueError, match="call fit"):
        HierarchicalLabelModel(g).predict_proba({"t0": np.zeros((2, 1), dtype=int)})
    with pytest.raises(TypeError, match="graph"):
        HierarchicalLabelModel({"t0": 2}).fit({"t0": np.zeros((2, 1), dtype=int)})
    s = make_hierarchical_votes(g, 500, random_state=1)
    fitted = HierarchicalLabelModel(g, max_iter=5).fit(s.L)
    with pytest.raises(ValueError, match="differ from those seen in fit"):
        fitted.predict_proba({"t0": s.L["t0"]})
    with pytest.raises(ValueError, match="accuracy"):
        SoftMV(g, accuracy=1.5).fit()


def test_prior_strength_pulls_tables_to_the_prior():
    from labelfuse.hierarchy import as_task_votes
    from labelfuse.hierarchy.models import _prior_tables

    g = full_tree(2, 2)
    s = make_hierarchical_votes(g, 2000, random_state=11)
    strong = HierarchicalLabelModel(g, prior_strength=1e7, max_iter=20).fit(s.L)
    prior = _prior_tables(as_task_votes(g, s.L), 0.7)
    for est, ref in zip(strong.tables_, prior):
        np.testing.assert_allclose(est, ref, atol=1e-3)
    weak = HierarchicalLabelModel(g, prior_strength=1.0, max_iter=50).fit(s.L)
    plain = HierarchicalLabelModel(g, max_iter=50).fit(s.L)
    assert np.abs(weak.accuracy_ - plain.accuracy_).max() < 0.02
    with pytest.raises(ValueError, match="prior_strength"):
        HierarchicalLabelModel(g, prior_strength=-1).fit(s.L)


def test_vote_counts_match_a_loop_across_chunk_boundaries():
    from labelfuse.hierarchy.models import _vote_counts

    rng = np.random.default_rng(12)
    cols = np.stack([rng.integers(0, 3, 50), rng.integers(3, 5, 50)], axis=1)
    Q = rng.dirichlet(np.ones(4), size=50)
    ref = np.zeros((5, 4))
    for i in range(50):
        for c in cols[i]:
            ref[c] += Q[i]
    np.testing.assert_allclose(_vote_counts(cols, Q, 5, chunk=7), ref)


@pytest.mark.parametrize("cls", [HierarchicalLabelModel, SoftMV, HardMV])
def test_save_load_round_trip(cls, tmp_path):
    from labelfuse import _io

    g = (TaskGraph().add_task("root", 2, labels=["corporate", "markets"])
         .add_task("corp", 2, parent=("root", "corporate")).add_task("mkt", 2, parent=("root", 1)))
    s = make_hierarchical_votes(g, 3000, lfs_per_task=3, random_state=7)
    model = cls(g).fit(s.L, Y_dev=s.Y[:200]) if cls is not HardMV else cls(g, random_state=3).fit(s.L)
    path = tmp_path / "model.lf"
    model.save(path)
    for back in (cls.load(path), _io.load(path)):
        assert type(back) is cls and back.graph == g and back.get_params().keys() == model.get_params().keys()
        assert back.graph.end_label_names() == g.end_label_names()  # label names kept
        np.testing.assert_array_equal(back.predict(s.L), model.predict(s.L))
        np.testing.assert_allclose(back.predict_proba(s.L), model.predict_proba(s.L), rtol=0, atol=1e-12)


def test_load_rejects_unknown_versions_and_other_files(tmp_path):
    import json
    import zipfile
    from pathlib import Path

    from labelfuse._io import FileFormatError

    fixture = Path(__file__).parent / "fixtures" / "HierarchicalLabelModel" / "v1-0.1.0.lfh"
    with zipfile.ZipFile(fixture) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(files["metadata.json"])
    meta["format_version"] = 99
    files["metadata.json"] = json.dumps(meta).encode()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    with pytest.raises(FileFormatError, match="format_version 99"):
        HierarchicalLabelModel.load(bad)
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(ValueError, match="path"):
        HierarchicalLabelModel.load(tmp_path / "not.zip")


def one_sided_coarse_case(seed, n=6000):
    """Fine LFs from the model's own process; coarse LFs one-sided (each votes one coarse label, right on half the
    rows of its label, on 12% of the others) and dependent (two near copies of each)."""
    g = TaskGraph().add_task("coarse", 3).add_task("a", 3, parent=("coarse", 0)).add_task("b", 3, parent=("coarse", 1))
    s = make_hierarchical_votes(g, n, lfs_per_task=3, accuracy=(0.6, 0.8), coverage=(0.2, 0.5), random_state=seed)
    rng = np.random.default_rng(seed)
    coarse = g.end_task_labels[s.Y][:, 0]
    cols = []
    for c in range(3):
        base = np.where((coarse == c) & (rng.random(n) < 0.5) | (coarse != c) & (rng.random(n) < 0.12), c, -1)
        cols.append(base)
        for _ in range(2):
            cols.append(np.where(rng.random(n) < 0.9, base, np.where(rng.random(n) < 0.1, c, -1)))
    return g, {**s.L, "coarse": np.stack(cols, axis=1)}, s.Y


@pytest.mark.parametrize("seed", [0, 1])
def test_one_sided_dependent_parent_lfs_do_not_collapse(seed):
    # plain EM moves whole classes here (end accuracy ~0.31 vs Soft MV's ~0.52): the fit must end no worse than
    # Soft MV, and say so when it falls back
    from labelfuse.diagnostics import MethodWarning

    g, L, Y = one_sided_coarse_case(seed)
    soft = (SoftMV(g).fit(L).predict(L) == Y).mean()
    with pytest.warns(MethodWarning, match="falling back to Soft MV"):
        model = HierarchicalLabelModel(g).fit(L)
    assert model.fallback_
    assert (model.predict(L) == Y).mean() >= soft


def test_vote_consistency_counts_votes_on_the_label_path():
    from labelfuse.hierarchy.models import vote_consistency
    from labelfuse.hierarchy.votes import as_task_votes

    g = TaskGraph().add_task("coarse", 2).add_task("fine", 2, parent=("coarse", 1))
    # end labels: coarse 0 -> 0; (coarse 1, fine 0) -> 1; (coarse 1, fine 1) -> 2 (TaskGraph numbering)
    path = g.end_task_labels
    L = {"coarse": np.array([[0], [1], [1]]), "fine": np.array([[0], [0], [-1]])}
    votes = as_task_votes(g, L)
    ends = np.array([int(np.flatnonzero(path[:, 0] == 0)[0]), int(np.flatnonzero((path[:, 1] == 0))[0]),
                     int(np.flatnonzero(path[:, 1] == 1)[0])])
    # row 0: coarse 0 right, fine vote on a row without a fine label wrong; row 1: both right; row 2: coarse right
    assert vote_consistency(votes, ends) == pytest.approx(4 / 5)


@pytest.mark.filterwarnings("error::labelfuse.ConvergenceWarning")
def test_non_convergence_is_warned():
    import labelfuse as lf

    g = full_tree(2, 2)
    s = make_hierarchical_votes(g, 4000, lfs_per_task=4, coverage=(0.5, 0.9), accuracy=(0.7, 0.9), random_state=3)
    with pytest.warns(lf.ConvergenceWarning, match=r"HierarchicalLabelModel: EM did not converge within max_iter=2"):
        m = HierarchicalLabelModel(g, max_iter=2).fit(s.L)
    assert not m.converged_
