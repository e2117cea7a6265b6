"""Task graphs in the end models, head wiring of SingleTask / FlatMTL / HierMTL, the MMTL schedule, head fine-tuning, learning."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelfuse.endmodels.tasks import as_task_tree
from labelfuse.hierarchy import TaskGraph

torch = pytest.importorskip("torch")

from labelfuse.endmodels import FlatMTL, HierMTL, SingleTask  # noqa: E402
from labelfuse.endmodels._networks import MultiTaskNet, heads_for  # noqa: E402
from labelfuse.endmodels._training import HeadTarget, epoch_batches  # noqa: E402

FAST = dict(progress=False, n_threads=1, device="cpu")
TASKS = {
    "coarse": {"cardinality": 2, "parent": None},  # 0 = Corporate, 1 = Markets
    "corp": {"cardinality": 2, "parent": ("coarse", 0)},  # Performance, Funding
    "mkt": {"cardinality": 3, "parent": ("coarse", 1)},  # Money, Commodity, Other
}


def hierarchy_problem(n=1500, seed=0, noise=0.1):
    """End label from a known function: coarse = [x0 > 0]; corp = [x1 > 0]; mkt = argmax(x2, x3, x4)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    coarse = (X[:, 0] > 0).astype(int)
    corp = (X[:, 1] > 0).astype(int)
    mkt = X[:, 2:5].argmax(axis=1)
    end = np.where(coarse == 0, corp, 2 + mkt)  # end labels: (c0,corp0) (c0,corp1) (c1,mkt0) (c1,mkt1) (c1,mkt2)
    P = np.full((n, 5), noise / 4)
    P[np.arange(n), end] = 1 - noise
    return X, P, end


# ---- task trees ------------------------------------------------------------------------------------------------
def test_task_graph_end_labels_depths_and_routing():
    tree = as_task_tree(TASKS)
    assert isinstance(tree, TaskGraph)
    assert tree.root == "coarse" and tree.tasks == ["coarse", "corp", "mkt"]
    assert {t: tree.depth(t) for t in tree.tasks} == {"coarse": 0, "corp": 1, "mkt": 1}
    assert tree.end_label_paths() == [
        [("coarse", 0), ("corp", 0)],
        [("coarse", 0), ("corp", 1)],
        [("coarse", 1), ("mkt", 0)],
        [("coarse", 1), ("mkt", 1)],
        [("coarse", 1), ("mkt", 2)],
    ]
    R = tree.routing_matrix("mkt")  # columns: mkt's labels, then not applicable
    assert R.shape == (5, 4) and R[:2, 3].all() and R[2, 0] == 1 and R[4, 2] == 1


def test_task_targets_and_end_probs_are_inverse():
    tree = TaskGraph(TASKS)
    P = np.random.default_rng(0).dirichlet(np.ones(5), size=20)
    targets = tree.task_conditionals(P)
    np.testing.assert_allclose(targets["corp"][1], P[:, :2].sum(1))  # p(corp applies) = p(coarse = 0)
    np.testing.assert_allclose(targets["corp"][0], P[:, :2] / P[:, :2].sum(1, keepdims=True))
    np.testing.assert_allclose(tree.end_label_probs({t: c for t, (c, _) in targets.items()}), P, atol=1e-12)


def test_task_graph_three_levels_and_leaf_labels_mixed():
    tree = TaskGraph(
        {
            "a": {"cardinality": 3, "parent": None},
            "b": {"cardinality": 2, "parent": ("a", 2)},
            "c": {"cardinality": 2, "parent": ("b", 0)},
        }
    )
    assert tree.n_end_labels == 2 + 1 + 2 and tree.depth("c") == 2
    assert tree.end_label_paths()[2] == [("a", 2), ("b", 0), ("c", 0)]


@pytest.mark.parametrize(
    "tasks, match",
    [
        ({"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": None}}, "exactly one root"),
        ({"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("z", 0)}}, "'z' does not exist"),
        (
            {"a": {"cardinality": 2, "parent": None}, "b": {"cardinality": 2, "parent": ("a", 2)}},
            "label 2 does not exist",
        ),
        (
            {
                "a": {"cardinality": 2, "parent": None},
                "b": {"cardinality": 2, "parent": ("a", 0)},
                "c": {"cardinality": 2, "parent": ("a", 0)},
            },
            "already activates",
        ),
        (
            {
                "r": {"cardinality": 2, "parent": None},
                "a": {"cardinality": 2, "parent": ("b", 0)},
                "b": {"cardinality": 2, "parent": ("a", 0)},
            },
            "cycle",
        ),
        ({"a": {"cardinality": 1, "parent": None}}, "cardinality"),
        ({"a.b": {"cardinality": 2, "parent": None}}, "without '.'"),
    ],
)
def test_task_graph_validation(tasks, match):
    with pytest.raises((ValueError, TypeError), match=match):
        as_task_tree(tasks)
    with pytest.raises((ValueError, TypeError), match="^tasks: "):
        FlatMTL(tasks, max_epochs=1, **FAST).fit(*hierarchy_problem(n=20)[:2])


# ---- head wiring -----------------------------------------------------------------------------------------------
def net_for(architecture, feed="children", hidden=(250, 50)):
    tree = TaskGraph(TASKS)
    torch.manual_seed(0)
    return MultiTaskNet(6, hidden, heads_for(tree, architecture, len(hidden), feed))


def test_single_task_wiring():
    net = net_for("single")
    assert list(net.heads) == ["coarse"]
    assert (net.heads["coarse"].in_features, net.heads["coarse"].out_features) == (50, 5)
    assert net(torch.zeros(4, 6))["coarse"].shape == (4, 5)


def test_flat_mtl_wiring_all_heads_on_top_layer_without_feeds():
    net = net_for("flat")
    shapes = {n: (h.in_features, h.out_features) for n, h in net.heads.items()}
    assert shapes == {"coarse": (50, 2), "corp": (50, 2), "mkt": (50, 3)}
    assert all(spec.layer == 2 and spec.feeders == () for spec in net.head_specs.values())
    out = net(torch.randn(4, 6))
    assert {k: v.shape for k, v in out.items()} == {"coarse": (4, 2), "corp": (4, 2), "mkt": (4, 3)}


def test_hier_mtl_wiring_root_low_children_high_children_feed_parent():
    net = net_for("hier")
    spec = net.head_specs
    assert (spec["coarse"].layer, spec["corp"].layer, spec["mkt"].layer) == (1, 2, 2)
    assert spec["coarse"].feeders == ("corp", "mkt")
    assert net.heads["coarse"].in_features == 250 + 2 + 3
    assert net.heads["corp"].in_features == 50 and net.heads["mkt"].in_features == 50
    assert net.order.index("coarse") > max(net.order.index("corp"), net.order.index("mkt"))
    x = torch.randn(5, 6)
    before = {k: v.detach().clone() for k, v in net(x).items()}
    with torch.no_grad():
        net.heads["corp"].weight[0].add_(1.0)  # a child head changes: its parent's output changes, its sibling's not
    after = net(x)
    assert not torch.allclose(after["corp"], before["corp"])
    assert not torch.allclose(after["coarse"], before["coarse"])
    assert torch.equal(after["mkt"], before["mkt"])
    with torch.no_grad():
        net.heads["coarse"].weight[0].add_(1.0)  # the parent never feeds its children in this direction
    assert torch.equal(net(x)["corp"], after["corp"])
    # asking for a child computes only what it needs
    assert list(net(x, heads=["mkt"])) == ["mkt"] and net.needed(["coarse"]) == ["corp", "mkt", "coarse"]


def test_hier_mtl_parent_feed_direction_and_layer_of_root():
    net = net_for("hier", feed="parent")
    assert net.head_specs["corp"].feeders == ("coarse",) and net.head_specs["coarse"].feeders == ()
    assert net.heads["corp"].in_features == 50 + 2 and net.heads["coarse"].in_features == 250
    x = torch.randn(5, 6)
    before = net(x)
    with torch.no_grad():
        net.layers[1][0].weight.add_(1.0)  # the second layer: the root head (layer 1) does not see it
    after = net(x)
    assert torch.equal(after["coarse"], before["coarse"]) and not torch.allclose(after["corp"], before["corp"])


def test_hier_mtl_deep_tree_clips_to_top_layer():
    tree = TaskGraph(
        {
            "a": {"cardinality": 2, "parent": None},
            "b": {"cardinality": 2, "parent": ("a", 0)},
            "c": {"cardinality": 2, "parent": ("b", 0)},
        }
    )
    layers = {h.name: h.layer for h in heads_for(tree, "hier", 2)}
    assert layers == {"a": 1, "b": 2, "c": 2}


def test_custom_input_module_is_part_of_the_network():
    X, P, y = hierarchy_problem(n=200)
    module = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh())
    model = FlatMTL(TASKS, input_module=module, hidden=(8,), max_epochs=2, random_state=0, **FAST).fit(X, P)
    assert model.input_dim_ == 12 and model.network_.input_module is module
    assert model.predict_proba(X).shape == (200, 5)


# ---- schedule --------------------------------------------------------------------------------------------------
def test_mmtl_schedule_sees_every_row_task_pair_once_per_epoch_shuffled_across_tasks():
    n = 200
    w_a = np.ones(n)
    w_b = (np.arange(n) % 3 == 0).astype(float)  # task b applies to a third of the rows
    targets = {
        "a": HeadTarget.from_numpy(np.full((n, 2), 0.5), w_a),
        "b": HeadTarget.from_numpy(np.full((n, 2), 0.5), w_b),
    }
    batches = epoch_batches(targets, "mmtl", 16, torch.Generator().manual_seed(0))
    for task, w in (("a", w_a), ("b", w_b)):
        rows = torch.cat([b for t, b in batches if t == task]).numpy()
        assert sorted(rows) == list(np.flatnonzero(w))
    tasks_in_order = [t for t, _ in batches]
    assert tasks_in_order != sorted(tasks_in_order)  # interleaved, not task after task
    joint = epoch_batches(targets, "joint", 16, torch.Generator().manual_seed(0))
    assert sorted(torch.cat([b for _, b in joint]).numpy()) == list(range(n))


def test_finetune_stage_changes_only_heads():
    X, P, _ = hierarchy_problem(n=300)
    kw = dict(hidden=(16, 8), max_epochs=2, patience=None, random_state=0, **FAST)
    plain = HierMTL(TASKS, **kw).fit(X, P)
    tuned = HierMTL(TASKS, finetune_epochs=2, **kw).fit(X, P)
    a, b = plain.network_.state_dict(), tuned.network_.state_dict()
    trunk = [k for k in a if not k.startswith("heads.")]
    assert trunk and all(torch.equal(a[k], b[k]) for k in trunk)
    assert not all(torch.equal(a[k], b[k]) for k in a if k.startswith("heads."))
    assert {h["stage"] for h in tuned.history_} == {"train", "finetune:coarse", "finetune:corp", "finetune:mkt"}
    assert all(p.requires_grad for p in tuned.network_.parameters())


# ---- targets and learning --------------------------------------------------------------------------------------
def test_per_task_dict_labels_mask_not_applicable_rows():
    X, P, end = hierarchy_problem(n=100)
    coarse = (end >= 2).astype(int)
    corp = np.full((100, 2), np.nan)
    corp[end < 2] = np.eye(2)[end[end < 2]]
    model = FlatMTL(TASKS, **FAST)
    model.tree_ = TaskGraph(TASKS).validate()
    targets = model._targets({"coarse": coarse, "corp": corp}, 100, None, None)
    assert (targets["corp"][1] > 0).tolist() == (end < 2).tolist()
    assert (targets["mkt"][1] == 0).all()  # no labels given for mkt: its head gets no loss
    assert (targets["coarse"][1] == 1).all()
    # end-label soft labels: task weights are the probability that the task applies
    targets = model._targets(P, 100, None, None)
    np.testing.assert_allclose(targets["mkt"][1], P[:, 2:].sum(1))
    with pytest.raises(ValueError, match=r"P\['corp'\]: expected 2 columns"):
        model._targets({"corp": np.full((100, 3), 1 / 3)}, 100, None, None)
    with pytest.raises(ValueError, match="P: tasks \\['nope'\\]"):
        model._targets({"nope": coarse}, 100, None, None)
    with pytest.raises(ValueError, match="P: expected 5 columns"):
        model._targets(np.full((100, 4), 0.25), 100, None, None)


@pytest.mark.parametrize("cls", [SingleTask, FlatMTL, HierMTL])
def test_each_architecture_learns_a_known_hierarchy(cls):
    X, P, end = hierarchy_problem(n=1600, seed=1)
    model = cls(TASKS, hidden=(32, 16), max_epochs=25, lr=3e-3, random_state=0, **FAST)
    model.fit(X[:1200], P[:1200], X[1200:1400], end[1200:1400])
    assert model.score(X[1400:], end[1400:]) > 0.85
    tasks = model.predict_task_proba(X[1400:])
    assert set(tasks) == {"coarse", "corp", "mkt"} and tasks["mkt"].shape == (200, 3)
    assert ((tasks["coarse"][:, 1] > 0.5) == (X[1400:, 0] > 0)).mean() > 0.9


def test_hier_mtl_save_load_round_trip(tmp_path: Path):
    X, P, end = hierarchy_problem(n=200)
    model = HierMTL(TASKS, hidden=(16, 8), feed="parent", max_epochs=2, random_state=0, **FAST).fit(X, P)
    model.save(tmp_path / "h")
    loaded = HierMTL.load(tmp_path / "h", device="cpu")
    assert loaded.feed == "parent" and loaded.tree_.end_label_paths() == model.tree_.end_label_paths()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(TypeError, match="holds a HierMTL, not a FlatMTL"):
        FlatMTL.load(tmp_path / "h")


def test_custom_input_module_must_be_passed_back_on_load(tmp_path: Path):
    X, P, _ = hierarchy_problem(n=100)
    module = torch.nn.Linear(6, 4)
    model = SingleTask(TASKS, input_module=module, hidden=(8,), max_epochs=1, random_state=0, **FAST).fit(X, P)
    model.save(tmp_path / "s")
    with pytest.raises(ValueError, match="input_module"):
        SingleTask.load(tmp_path / "s")
    loaded = SingleTask.load(tmp_path / "s", device="cpu", input_module=torch.nn.Linear(6, 4))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_bad_architecture_settings():
    X, P, _ = hierarchy_problem(n=50)
    with pytest.raises(ValueError, match="feed"):
        HierMTL(TASKS, feed="sideways", **FAST).fit(X, P)
    with pytest.raises(ValueError, match="schedule"):
        FlatMTL(TASKS, schedule="random", max_epochs=1, **FAST).fit(X, P)
    with pytest.raises(ValueError, match="hidden"):
        FlatMTL(TASKS, hidden=(0,), **FAST).fit(X, P)


def test_model_built_from_a_task_graph_saves_its_plain_description(tmp_path: Path):
    X, P, _ = hierarchy_problem(n=100)
    tree = TaskGraph(TASKS)
    model = FlatMTL(tree, hidden=(8,), max_epochs=1, random_state=0, **FAST).fit(X, P)
    model.save(tmp_path / "f")
    loaded = FlatMTL.load(tmp_path / "f", device="cpu")
    assert isinstance(loaded.tasks, dict) and TaskGraph(loaded.tasks).end_label_paths() == tree.end_label_paths()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
