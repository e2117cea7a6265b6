"""TaskGraph: structure, end labels, validation errors, multi-level votes, and the hand-off to the end models."""
import numpy as np
import pytest

from labelfuse.hierarchy import NOT_APPLICABLE, TaskGraph, as_task_votes


def news_graph():
    """The issue's example: {Corporate, Markets}; {Performance, Funding} under Corporate; {Money, Commodity}."""
    return TaskGraph({
        "topic": {"cardinality": 2, "parent": None, "labels": ["Corporate", "Markets"]},
        "corporate": {"cardinality": 2, "parent": ("topic", "Corporate"), "labels": ["Performance", "Funding"]},
        "markets": {"cardinality": 2, "parent": ("topic", 1), "labels": ["Money", "Commodity"]},
    })


def test_end_labels_and_mapping():
    g = news_graph()
    assert g.root == "topic" and g.tasks == ["topic", "corporate", "markets"]
    assert g.n_end_labels == 4
    assert g.end_label_names() == ["Corporate:Performance", "Corporate:Funding", "Markets:Money", "Markets:Commodity"]
    assert g.end_label_paths()[2] == [("topic", 1), ("markets", 0)]
    np.testing.assert_array_equal(g.end_task_labels, [[0, 0, -1], [0, 1, -1], [1, -1, 0], [1, -1, 1]])
    assert g.task_labels_of(3) == {"topic": 1, "corporate": NOT_APPLICABLE, "markets": 1}
    assert g.end_label_of({"topic": 0, "corporate": 1}) == 1
    with pytest.raises(ValueError, match="not a feasible combination"):
        g.end_label_of({"topic": 0, "markets": 1})
    assert g.children("topic") == {0: "corporate", 1: "markets"} and g.depth("markets") == 1
    assert g.parent("corporate") == ("topic", 0)


def test_leaf_labels_mixed_with_child_tasks_and_depth_three():
    g = (TaskGraph().add_task("a", 3).add_task("b", 2, parent=("a", 0))
         .add_task("c", 2, parent=("b", 1)))
    # paths: a0/b0, a0/b1/c0, a0/b1/c1, a1, a2
    assert g.n_end_labels == 5
    np.testing.assert_array_equal(g.end_task_labels[3], [1, -1, -1])
    np.testing.assert_array_equal(g.end_task_labels[2], [0, 1, 1])
    R = g.routing_matrix("c")
    np.testing.assert_array_equal(R, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]])


def test_task_marginals_are_consistent_with_the_tree():
    g = news_graph()
    P = np.random.default_rng(0).dirichlet(np.ones(4), size=7)
    M = g.task_marginals(P)
    np.testing.assert_allclose(M["topic"][:, :2].sum(axis=1), 1.0)
    np.testing.assert_allclose(M["topic"][:, 2], 0.0)
    # a child's applicable mass equals its parent label's probability
    np.testing.assert_allclose(M["corporate"][:, :2].sum(axis=1), M["topic"][:, 0])
    np.testing.assert_allclose(M["markets"][:, 2], M["topic"][:, 0])


@pytest.mark.parametrize("build, message", [
    (lambda g: g.add_task("a", 2), "duplicate task name"),
    (lambda g: g.add_task("b", 2), "exactly one root"),
    (lambda g: g.add_task("b", 2, parent=("zzz", 0)), "parent task 'zzz' does not exist"),
    (lambda g: g.add_task("b", 2, parent=("a", 5)), "label 5 does not exist in task 'a'"),
    (lambda g: g.add_task("b", 2, parent=("a", "nope")), "label 'nope' does not exist"),
    (lambda g: g.add_task("b", 2, parent=("a", 0)).add_task("c", 2, parent=("a", 0)), "already activates"),
    (lambda g: g.add_task("b", 2, parent=("c", 0)).add_task("c", 2, parent=("b", 0)), "cycle"),
    (lambda g: g.add_task("b", 2, parent=("b", 0)), "its own parent"),
])
def test_invalid_graphs_raise_clear_errors(build, message):
    g = TaskGraph().add_task("a", 2)
    with pytest.raises(ValueError, match=message):
        build(g).validate()


def test_bad_task_arguments():
    with pytest.raises(ValueError, match="cardinality"):
        TaskGraph().add_task("a", 1)
    with pytest.raises(ValueError, match="task names"):
        TaskGraph().add_task("a.b", 2)
    with pytest.raises(ValueError, match="distinct names"):
        TaskGraph().add_task("a", 2, labels=["x", "x"])
    with pytest.raises(TypeError, match="parent"):
        TaskGraph().add_task("a", 2, parent="root")
    with pytest.raises(ValueError, match="empty"):
        TaskGraph().validate()


def test_votes_from_dict_and_from_one_matrix_agree():
    g = news_graph()
    rng = np.random.default_rng(1)
    L = {"markets": rng.integers(-1, 2, (6, 1)), "topic": rng.integers(-1, 2, (6, 3)),
         "corporate": rng.integers(-1, 2, (6, 2))}
    v = as_task_votes(g, L)
    assert v.lf_tasks == ["topic"] * 3 + ["corporate"] * 2 + ["markets"]
    M = np.concatenate([L["topic"], L["corporate"], L["markets"]], axis=1)
    w = as_task_votes(g, M, lf_tasks=v.lf_tasks)
    np.testing.assert_array_equal(v.L, w.L)
    before = {t: a.copy() for t, a in L.items()}
    as_task_votes(g, L)
    for t in L:
        np.testing.assert_array_equal(L[t], before[t])
    C = v.consistency()
    # a 'corporate: Funding' vote (index 2) is consistent with end label 1 only; abstain with all
    np.testing.assert_array_equal(C[3, 2], [0, 1, 0, 0])
    np.testing.assert_array_equal(C[0, 0], [1, 1, 1, 1])
    np.testing.assert_array_equal(C[0, 1], [1, 1, 0, 0])


def test_vote_errors_name_the_problem():
    g = news_graph()
    with pytest.raises(ValueError, match="lf_tasks: required"):
        as_task_votes(g, np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match="expected 2 task names"):
        as_task_votes(g, np.zeros((3, 2), dtype=int), lf_tasks=["topic"])
    with pytest.raises(ValueError, match="not in the task graph"):
        as_task_votes(g, {"sports": np.zeros((3, 1), dtype=int)})
    with pytest.raises(ValueError, match="has vote 2"):
        as_task_votes(g, {"topic": np.array([[0], [2], [1]])})
    with pytest.raises(ValueError, match="expected 3 rows"):
        as_task_votes(g, {"topic": np.zeros((3, 1), dtype=int), "markets": np.zeros((4, 1), dtype=int)})


def test_the_end_models_use_the_task_graph_itself():
    from labelfuse.endmodels.tasks import as_task_tree, single_task

    g = news_graph()
    assert as_task_tree(g) is g
    tree = as_task_tree(g.to_dict())
    assert isinstance(tree, TaskGraph) and tree == g and tree.end_label_paths() == g.end_label_paths()
    assert isinstance(single_task(3), TaskGraph) and single_task(3).n_end_labels == 3
    assert TaskGraph(g.to_task_description()) == g


def test_task_conditionals_and_end_label_probs_are_inverse():
    g = news_graph()
    P = np.random.default_rng(0).dirichlet(np.ones(g.n_end_labels), size=20)
    cond = g.task_conditionals(P)
    assert list(cond) == g.tasks
    corporate = [e for e, path in enumerate(g.end_label_paths()) if ("corporate", 0) in path or
                 ("corporate", 1) in path]
    np.testing.assert_allclose(cond["corporate"][1], P[:, corporate].sum(1))
    np.testing.assert_allclose(cond["topic"][1], 1.0)
    np.testing.assert_allclose(g.end_label_probs({t: c for t, (c, _) in cond.items()}), P, atol=1e-12)
    assert g.task_children(g.root) == [g.children(g.root)[v] for v in sorted(g.children(g.root))]
