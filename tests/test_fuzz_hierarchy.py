"""Property-based fuzzing of the hierarchy API: TaskGraph from fuzzed descriptions (cycles, missing parents and
labels, duplicate children, two roots, wrong types), its queries, and the label models over end labels
(HierarchicalLabelModel, SoftMV, HardMV) with fuzzed ``{task: L_t}`` dicts and one-matrix + ``lf_tasks`` votes.

The property is the one of tests/test_fuzz_stats.py: a correct result or a ValueError/TypeError whose message starts
with the name of an argument that really is wrong; never another exception, a NaN/inf probability or a changed
input. References: the end labels enumerated from the tree that was drawn, ``exact_end_posterior`` (a loop over
rows and end labels) from the fitted tables, Soft MV's tables written out from its documented definition, Hard MV's
top-down vote counts, per-task marginals summed over each end label's path.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import (
    assert_unchanged,
    check_call,
    label_vectors,
    n_threads_args,
    passed_as,
    snapshot,
)
from labelfuse import _io
from labelfuse.hierarchy.graph import NOT_APPLICABLE, TaskGraph
from labelfuse.hierarchy.models import HardMV, HierarchicalLabelModel, SoftMV
from labelfuse.synthetic import make_hierarchical_votes
from reference import exact_end_posterior
from labelfuse.models import NotFittedError

# Random votes and short EM runs: ConvergenceWarning fires on many draws (tested in test_hierarchy_models.py).
pytestmark = pytest.mark.filterwarnings("ignore::labelfuse.FitWarning")

LOG_FLOOR = 1e-12  # the posterior clips tables and prior here before taking logs (hierarchy_models._FLOOR)
REFERENCE_MAX_STEPS = 60_000  # rows x end labels x LFs of the Python-loop reference


# ---- task trees --------------------------------------------------------------------------------------------------
@dataclass
class Tree:
    """What was drawn: the reference for the graph built from its description."""

    root: str
    parents: Dict[str, tuple]          # task -> (parent task, parent label index)
    cardinality: Dict[str, int]
    labels: Dict[str, Optional[List[str]]]
    description: Dict[Any, Any] = field(default_factory=dict)

    def children(self):
        return {slot: t for t, slot in self.parents.items()}

    def end_label_paths(self):
        """Depth first, in label order (the documented numbering)."""
        children, paths = self.children(), []

        def walk(task, prefix):
            for v in range(self.cardinality[task]):
                path = prefix + [(task, v)]
                if (task, v) in children:
                    walk(children[(task, v)], path)
                else:
                    paths.append(path)

        walk(self.root, [])
        return paths

    def task_order(self):
        """Breadth first from the root, in label order: parents before children."""
        children, order, frontier = self.children(), [], [self.root]
        while frontier:
            order += frontier
            frontier = [children[(t, v)] for t in frontier for v in range(self.cardinality[t]) if (t, v) in children]
        return order


TASK_NAMES = st.text(alphabet="abxyz_Q0é-", min_size=1, max_size=4)


@st.composite
def task_trees(draw, max_tasks: int = 5, max_k: int = 4) -> Tree:
    T = draw(st.integers(1, max_tasks))
    names = draw(st.lists(TASK_NAMES, min_size=T, max_size=T, unique=True))
    ks = {t: draw(st.integers(2, max_k)) for t in names}
    labels = {t: ([f"{t}/{v}" for v in range(ks[t])] if draw(st.booleans()) else None) for t in names}
    parents, free = {}, [(names[0], v) for v in range(ks[names[0]])]
    for t in names[1:]:
        parents[t] = free.pop(draw(st.integers(0, len(free) - 1)))
        free += [(t, v) for v in range(ks[t])]
    description = {}
    for t in draw(st.permutations(names)):  # children may come before their parents
        spec: Dict[str, Any] = {"cardinality": draw(st.sampled_from([ks[t], np.int64(ks[t])]))}
        if t in parents:
            p, v = parents[t]
            ref = labels[p][v] if labels[p] is not None and draw(st.booleans()) else draw(
                st.sampled_from([v, np.int64(v)]))
            spec["parent"] = draw(st.sampled_from([(p, ref), [p, ref]]))
        elif draw(st.booleans()):
            spec["parent"] = None
        if labels[t] is not None:
            spec["labels"] = draw(st.sampled_from([labels[t], tuple(labels[t])]))
        description[t] = spec
    return Tree(names[0], parents, ks, labels, description)


GRAPH_MUTATIONS = ("cycle", "self_parent", "missing_parent", "bad_parent_label", "duplicate_child", "two_roots",
                   "bad_cardinality", "absurd_cardinality", "bad_labels", "bad_name", "bad_spec", "bad_parent_type",
                   "empty", "not_mapping", "unknown_key")


def mutate(draw, tree: Tree, how: str):
    """A broken copy of the tree's description (every mutation makes it invalid)."""
    d = {t: dict(spec) for t, spec in tree.description.items()}
    names = list(tree.cardinality)
    non_root = [t for t in names if t != tree.root]
    pick = lambda seq: seq[draw(st.integers(0, len(seq) - 1))]  # noqa: E731
    if how == "cycle" and non_root:
        a = pick(non_root)
        below = [t for t in non_root if _is_below(tree, t, a)]  # a itself included
        b = pick(below)
        d[a]["parent"] = (b, draw(st.integers(0, tree.cardinality[b] - 1)))
    elif how in ("cycle", "self_parent"):
        t = pick(names)
        d[t]["parent"] = (t, 0)
    elif how == "missing_parent":
        d[pick(names)]["parent"] = ("no such task", 0)
    elif how == "bad_parent_label" and non_root:
        t = pick(non_root)
        p, _ = tree.parents[t]
        d[t]["parent"] = (p, draw(st.sampled_from([tree.cardinality[p], -1, 99, "no such label"])))
    elif how == "duplicate_child" and len(non_root) >= 2:
        a, b = draw(st.lists(st.sampled_from(non_root), min_size=2, max_size=2, unique=True))
        d[b]["parent"] = tree.parents[a]
    elif how in ("duplicate_child", "bad_parent_label"):
        d["c1"] = {"cardinality": 2, "parent": (tree.root, 0)}
        d["c2"] = {"cardinality": 2, "parent": (tree.root, 0 if how == "duplicate_child" else 7)}
        if "c1" in tree.cardinality or "c2" in tree.cardinality:  # (names are random; keep it a real mutation)
            d["c2"]["parent"] = ("no such task", 0)
    elif how == "two_roots":
        if non_root:
            d[pick(non_root)]["parent"] = None
        else:
            d["root 2" if "root 2" not in d else "root 3"] = {"cardinality": 2}
    elif how == "bad_cardinality":
        d[pick(names)]["cardinality"] = draw(st.sampled_from([1, 0, -1, True, 2.0, "3", None, 2.5]))
    elif how == "absurd_cardinality":
        d[pick(names)]["cardinality"] = draw(st.sampled_from([2**40, 2**62, 2**70]))
    elif how == "bad_labels":
        t = pick(names)
        k = tree.cardinality[t]
        d[t]["labels"] = draw(st.sampled_from([["x"] * k, [f"l{v}" for v in range(k + 1)], [], 5, [["x"]] * k]))
    elif how == "bad_name":
        t = pick(names)
        d[draw(st.sampled_from(["", "a.b", 3, None, ("t",)]))] = d.pop(t)
        for spec in d.values():  # (its children now point to a task that is gone: also wrong)
            if isinstance(spec.get("parent"), (tuple, list)) and spec["parent"][0] == t:
                spec["parent"] = None
    elif how == "bad_spec":
        t = pick(names)
        d[t] = draw(st.sampled_from([3, [2], {"parent": None}, "cardinality", None]))
    elif how == "bad_parent_type":
        t = pick(non_root) if non_root else pick(names)
        p = tree.parents.get(t, (tree.root, 0))[0]
        d[t]["parent"] = draw(st.sampled_from([p, (p,), (p, 0, 1), (0, 0), (p, 1.5), (p, True), (p, None),
                                               {p: 0}, 7]))
    elif how == "empty":
        return {}
    elif how == "not_mapping":
        return list(d.items())
    else:  # unknown_key: a typo must not be silently ignored
        t = pick(names)
        key = draw(st.sampled_from(["label", "Parent", "cardinalty", "k"]))
        d[t][key] = d[t].get("labels") or d[t].get("parent") or 2
    return d


def _is_below(tree: Tree, t: str, a: str) -> bool:
    while True:
        if t == a:
            return True
        if t not in tree.parents:
            return False
        t = tree.parents[t][0]


def check_graph(g: TaskGraph, tree: Tree) -> None:
    paths = tree.end_label_paths()
    assert g.root == tree.root and g.tasks == tree.task_order()
    assert g.n_end_labels == len(paths) == sum(tree.cardinality.values()) - (len(tree.cardinality) - 1)
    assert g.end_label_paths() == paths
    lab = g.end_task_labels
    assert lab.shape == (len(paths), len(g.tasks)) and lab.dtype == np.int64
    for e, path in enumerate(paths):
        on_path = dict(path)
        assert lab[e].tolist() == [on_path.get(t, NOT_APPLICABLE) for t in g.tasks]
        assert g.end_label_of(on_path) == e and g.task_labels_of(e) == dict(zip(g.tasks, lab[e].tolist()))
    for t in g.tasks:
        assert g.cardinality(t) == tree.cardinality[t]
        assert g.parent(t) == tree.parents.get(t)
        assert g.children(t) == {v: c for (p, v), c in tree.children().items() if p == t}
        R = g.routing_matrix(t)
        assert R.shape == (len(paths), tree.cardinality[t] + 1)
        np.testing.assert_array_equal(R.sum(axis=1), 1.0)
        names = tree.labels[t]
        assert [g.label_name(t, v) for v in range(tree.cardinality[t])] == (
            names if names is not None else [str(v) for v in range(tree.cardinality[t])])
    again = TaskGraph(g.to_dict())
    assert again == g and again.to_dict() == g.to_dict() and again.end_label_names() == g.end_label_names()
    assert TaskGraph(g.to_task_description()) == g


@given(st.data())
def test_task_graph_from_fuzzed_descriptions(data):
    draw = data.draw
    tree = draw(task_trees())
    how = draw(st.sampled_from(("none",) * 5 + GRAPH_MUTATIONS))
    description = tree.description if how == "none" else mutate(draw, tree, how)
    before = repr(description)
    check_call(lambda: TaskGraph(description).validate(), set() if how == "none" else {"tasks"},
               lambda g: check_graph(g, tree), label=f"TaskGraph {how}")
    assert repr(description) == before, "the description was modified"


@given(st.data())
def test_task_graph_built_with_add_task(data):
    """The same trees task by task; argument errors name the add_task argument (or the task, tasks[...])."""
    draw = data.draw
    tree = draw(task_trees())
    how = draw(st.sampled_from(("none",) * 3 + ("bad_cardinality", "absurd_cardinality", "bad_labels", "bad_name",
                                                "bad_parent_type")))
    description = tree.description if how == "none" else mutate(draw, tree, how)

    def build():
        g = TaskGraph()
        for name, spec in description.items():
            g.add_task(name, spec["cardinality"], parent=spec.get("parent"), labels=spec.get("labels"))
        return g.validate()

    bad = set() if how == "none" else {"tasks", "name", "cardinality", "parent", "labels"}
    check_call(build, bad, lambda g: check_graph(g, tree), label=f"add_task {how}")


@given(st.data())
def test_task_graph_queries(data):
    draw = data.draw
    tree = draw(task_trees())
    g = TaskGraph(tree.description)
    E, tasks = g.n_end_labels, g.tasks
    task, task_bad = draw(st.sampled_from(tasks)), False
    if draw(st.integers(0, 3)) == 0:
        task, task_bad = draw(st.sampled_from(["no such task", 3, None, ["x"], ("t",)])), True
    for name in ("cardinality", "parent", "children", "depth", "routing_matrix"):
        check_call(lambda: getattr(g, name)(task), {"task"} if task_bad else set(), lambda out: None,
                   label=f"{name}")
    k = tree.cardinality.get(task, 2) if not task_bad else 2
    label, label_bad = draw(st.sampled_from([0, k - 1, np.int64(0)])), False
    if draw(st.integers(0, 3)) == 0:
        label, label_bad = draw(st.sampled_from([k, -1, 99, 1.5, "x", None, True])), True
    want_name = None if task_bad or label_bad else (
        tree.labels[task][int(label)] if tree.labels[task] is not None else str(int(label)))
    label_bad_names = ({"task"} if task_bad else set()) | ({"label"} if label_bad else set())
    check_call(lambda: g.label_name(task, label), label_bad_names,
               lambda out: out == want_name or pytest.fail(f"{out} != {want_name}"), label="label_name")
    end, end_bad = draw(st.sampled_from([0, E - 1, np.int64(E - 1)])), False
    if draw(st.integers(0, 3)) == 0:
        end, end_bad = draw(st.sampled_from([E, -1, -E - 1, 1.5, "0", None, True])), True
    path = dict(tree.end_label_paths()[int(end)]) if not end_bad else None
    check_call(lambda: g.task_labels_of(end), {"end_label"} if end_bad else set(),
               lambda out: out == {t: path.get(t, NOT_APPLICABLE) for t in tasks} or pytest.fail(str(out)),
               label="task_labels_of")
    combo, combo_end = dict(tree.end_label_paths()[draw(st.integers(0, E - 1))]), None
    kind = draw(st.sampled_from(["ok", "ok", "with_na", "infeasible", "unknown", "list"]))
    if kind in ("ok", "with_na"):
        combo_end = tree.end_label_paths().index(sorted(combo.items(), key=lambda tv: tasks.index(tv[0])))
        if kind == "with_na":
            combo.update({t: NOT_APPLICABLE for t in tasks if t not in combo})
    elif kind == "infeasible":
        combo[tree.root] = tree.cardinality[tree.root]  # no such label
    elif kind == "unknown":
        combo["no such task"] = 0
    else:
        combo = list(combo.items())
    check_call(lambda: g.end_label_of(combo), set() if combo_end is not None else {"task_labels"},
               lambda out: out == combo_end or pytest.fail(f"{out} != {combo_end}"), label="end_label_of")
    n = draw(st.integers(0, 5))
    P = np.random.default_rng(draw(st.integers(0, 99))).dirichlet(np.ones(E), size=n)
    P_kind = draw(st.sampled_from(["ok", "ok", "list", "float32", "wide", "1d", "3d", "strings"]))
    if n == 0 and P_kind in ("list", "strings"):  # ([] has no columns; no strings to convert)
        P_kind = "ok"
    P_arg = {"ok": P, "list": P.tolist(), "float32": P.astype(np.float32), "wide": np.hstack([P, P]),
             "1d": P.ravel(), "3d": P[None], "strings": np.full((n, E), "x")}[P_kind]
    snaps = snapshot(P_arg)

    def verify_marginals(out):
        assert list(out) == tasks
        for t in tasks:
            want = np.zeros((n, tree.cardinality[t] + 1))
            for e, p in enumerate(tree.end_label_paths()):
                want[:, dict(p).get(t, tree.cardinality[t])] += P[:, e]
            np.testing.assert_allclose(out[t], want, rtol=1e-6, atol=1e-7)

    check_call(lambda: g.task_marginals(P_arg), set() if P_kind in ("ok", "list", "float32") else {"P_end"},
               verify_marginals, label="task_marginals")
    assert_unchanged(snaps)


# ---- votes -------------------------------------------------------------------------------------------------------
@dataclass
class Votes:
    """Votes for a graph as passed (``L``, ``lf_tasks``), their int64 values per task, and what is wrong."""

    L: Any
    lf_tasks: Any
    blocks: Dict[str, np.ndarray]     # task -> (n, m_t) int64 values as passed (None when not readable)
    columns: List[str]                # the LF tasks in column order (as the model sees them)
    form: str
    n: int
    bad: set
    inputs: list                      # what to snapshot

    def __repr__(self) -> str:  # (hypothesis prints the failing example: keep it readable)
        shown = self.L if self.n <= 6 else f"<{self.form} of {self.n} rows>"
        return (f"Votes(form={self.form!r}, n={self.n}, columns={self.columns}, lf_tasks={self.lf_tasks!r}, "
                f"bad={self.bad}, L={shown!r})")

    def plain(self):
        """The same votes as C-ordered int64, in the same form."""
        if self.form == "dict":
            return {t: np.ascontiguousarray(b, dtype=np.int64) for t, b in self.blocks.items()}, None
        return np.ascontiguousarray(self.matrix, dtype=np.int64), list(self.columns)

    @property
    def matrix(self):
        """(n, m) values in column order."""
        seen: Dict[str, int] = {}
        cols = []
        for t in self.columns:
            cols.append(self.blocks[t][:, seen.get(t, 0)])
            seen[t] = seen.get(t, 0) + 1
        return np.stack(cols, axis=1) if cols else np.zeros((self.n, 0), np.int64)


@st.composite
def structures(draw, g: TaskGraph):
    """{task: number of LFs} for some tasks (at least one), the form and, for one matrix, the column order."""
    tasks = g.tasks
    chosen = draw(st.lists(st.sampled_from(tasks), min_size=1, max_size=len(tasks), unique=True))
    sizes = {t: draw(st.integers(1, 3)) for t in tasks if t in chosen}
    form = draw(st.sampled_from(["dict", "dict", "matrix"]))
    columns = [t for t in tasks if t in sizes for _ in range(sizes[t])]  # the dict form's (graph) order
    if form == "matrix":
        columns = draw(st.permutations(columns))
    return sizes, form, list(columns)


@st.composite
def task_votes(draw, g: TaskGraph, structure, allow_bad: bool = True, min_rows: int = 0) -> Votes:
    sizes, form, columns = structure
    n = max(draw(st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 40), st.just(300))), min_rows)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        drawn = make_hierarchical_votes(g, n, lfs_per_task=3, random_state=seed).L
        blocks = {t: drawn[t][:, :m].copy() for t, m in sizes.items()}
    else:
        density = draw(st.sampled_from([0.0, 0.3, 1.0]))
        blocks = {}
        for t, m in sizes.items():
            B = rng.integers(0, g.cardinality(t), (n, m))
            B[rng.random((n, m)) >= density] = -1
            blocks[t] = B
    twist = draw(st.sampled_from(["none"] * 4 + ["all_abstain", "duplicates", "silent_task"]))
    if twist == "all_abstain":
        for B in blocks.values():
            B[:] = -1
    elif twist == "duplicates":
        for B in blocks.values():
            B[:, 1:] = B[:, :1]
    elif twist == "silent_task":
        blocks[draw(st.sampled_from(sorted(blocks)))][:] = -1
    bad = set()
    if allow_bad and n and draw(st.integers(0, 5)) == 0:  # a vote outside its own task's labels
        t = draw(st.sampled_from(sorted(blocks)))
        blocks[t][draw(st.integers(0, n - 1)), 0] = draw(st.sampled_from([g.cardinality(t), -2, 7]))
    lf_tasks = None
    if form == "dict":
        passed = {t: draw(passed_as(B, allow_bad_dtype=allow_bad, allow_list=n > 0)) for t, B in blocks.items()}
        keys = draw(st.permutations(sorted(passed)))
        L = {t: passed[t].L for t in keys}
        values = {t: passed[t].values for t in passed}
        inputs = [x for t in keys for x in passed[t].snapshot()]
        if any(v is None for v in values.values()):
            bad.add("L")
        mutation = draw(st.sampled_from(["none"] * 6 + ["rows", "unknown_task", "non_str_key", "empty",
                                                        "no_columns", "lf_tasks"])) if allow_bad else "none"
        if mutation == "rows" and len(L) >= 2:
            t = keys[-1]
            L[t] = np.vstack([values[t], values[t][:1]]) if values[t] is not None and n and draw(
                st.booleans()) else np.zeros((n + 1, 1), np.int64)
            bad.add("L")
        elif mutation == "unknown_task":
            L["no such task"] = np.zeros((n, 1), np.int64)
            bad.add("L")
        elif mutation == "non_str_key":  # (with a misspelt task too: the error lists both)
            L[draw(st.sampled_from([3, None, ("t",)]))] = np.zeros((n, 1), np.int64)
            if draw(st.booleans()):
                L["no such task"] = np.zeros((n, 1), np.int64)
            bad.add("L")
        elif mutation == "empty":
            L = {}
            bad.add("L")
        elif mutation == "no_columns":
            L[keys[0]] = np.zeros((n, 0), np.int64)
            bad.add("L")
        elif mutation == "lf_tasks":
            lf_tasks = list(columns)
            bad.add("lf_tasks")
        passed_values = values
    else:
        seen: Dict[str, int] = {}
        cols = []
        for t in columns:
            cols.append(blocks[t][:, seen.get(t, 0)])
            seen[t] = seen.get(t, 0) + 1
        inp = draw(passed_as(np.stack(cols, axis=1), allow_bad_dtype=allow_bad, allow_list=n > 0))
        L, inputs = inp.L, inp.snapshot()
        if inp.values is None:
            bad.add("L")
        lf_tasks = draw(st.sampled_from([list(columns), tuple(columns), np.array(columns)]))
        mutation = draw(st.sampled_from(["none"] * 6 + ["missing", "short", "unknown", "not_iterable", "ints"])) \
            if allow_bad else "none"
        if mutation == "missing":
            lf_tasks = None
        elif mutation == "short":
            lf_tasks = list(columns)[:-1]
        elif mutation == "unknown":
            lf_tasks = list(columns)[:-1] + ["no such task"]
        elif mutation == "not_iterable":
            lf_tasks = 5
        elif mutation == "ints":
            lf_tasks = list(range(len(columns)))
        if mutation != "none":
            bad.add("lf_tasks")
        # the values the graph sees, per task (broadcast layouts repeat row 0)
        passed_values = {}
        if inp.values is not None:
            for t in sizes:
                passed_values[t] = inp.values[:, [j for j, c in enumerate(columns) if c == t]]
        inputs += snapshot(lf_tasks)
    for t, B in passed_values.items():  # judged on what is passed (a broadcast layout repeats row 0 only)
        if B is not None and ((B < -1) | (B >= g.cardinality(t))).any():
            bad.add("L")
    return Votes(L, lf_tasks, passed_values, list(columns), form, n, bad, inputs)


# ---- references for the models -----------------------------------------------------------------------------------
def soft_mv_tables(g: TaskGraph, columns: List[str], accuracy: float) -> List[np.ndarray]:
    """Soft MV's definition: right with probability ``accuracy`` when the task applies, the other labels
    uniformly otherwise; uniform votes where the task does not apply; one abstain rate everywhere."""
    out = []
    for t in columns:
        k = g.cardinality(t)
        T = np.full((k + 1, k + 1), 0.0)
        T[0, :] = 0.3
        T[1:, :k] = 0.7 * (1 - accuracy) / (k - 1)
        T[1 + np.arange(k), np.arange(k)] = 0.7 * accuracy
        T[1:, k] = 0.7 / k
        out.append(T)
    return out


def reference_posterior(g, votes: Votes, tables, balance) -> Optional[np.ndarray]:
    if votes.n * g.n_end_labels * len(votes.columns) > REFERENCE_MAX_STEPS:
        return None
    L, lf_tasks = votes.plain()
    clipped = [np.clip(T, LOG_FLOOR, 1.0) for T in tables]
    return exact_end_posterior(g, L, lf_tasks, clipped, np.clip(balance, LOG_FLOOR, 1.0))


def assert_probabilities(P, n: int, k: int) -> None:
    assert isinstance(P, np.ndarray) and P.shape == (n, k) and P.dtype == np.float64, getattr(P, "shape", P)
    assert np.all(np.isfinite(P)) and np.all(P >= 0), "non-finite or negative probability"
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)


def check_task_outputs(model, g: TaskGraph, votes: Votes, P: np.ndarray, pred: np.ndarray) -> None:
    """predict_task_proba = end-label probabilities summed along each path; predict_tasks = the predicted end
    label's path (tasks off the path: NOT_APPLICABLE)."""
    paths = [dict(p) for p in g.end_label_paths()]
    marginals = model.predict_task_proba(votes.L, votes.lf_tasks)
    tasks = model.predict_tasks(votes.L, votes.lf_tasks)
    assert list(marginals) == g.tasks and list(tasks) == g.tasks
    for t in g.tasks:
        k = g.cardinality(t)
        want = np.zeros((votes.n, k + 1))
        for e, path in enumerate(paths):
            want[:, path.get(t, k)] += P[:, e]
        np.testing.assert_allclose(marginals[t], want, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(tasks[t], [paths[e].get(t, NOT_APPLICABLE) for e in pred])


def check_hard_mv_choice(g: TaskGraph, votes: Votes, pred: np.ndarray) -> None:
    """Every task on the predicted path got one of its most voted labels (all labels when its LFs abstain)."""
    paths = [g.end_label_paths()[e] for e in pred]
    for i, path in enumerate(paths):
        for t, v in path:
            block = votes.blocks.get(t)
            counts = np.zeros(g.cardinality(t)) if block is None else np.bincount(
                block[i][block[i] >= 0], minlength=g.cardinality(t))
            assert counts[v] == counts.max(), (i, t, v, counts)


def _choice(draw, good, bad, allow_bad: bool, odds: int = 8):
    if allow_bad and draw(st.integers(0, odds - 1)) == 0:
        return draw(st.sampled_from(bad)), True
    return draw(st.sampled_from(good)), False


@st.composite
def graphs(draw) -> TaskGraph:
    return TaskGraph(draw(task_trees(max_tasks=4, max_k=3)).description)


@st.composite
def dev_labels(draw, E: int, allow_bad: bool):
    """(Y_dev or None, expected add-one balance or None, is_bad)."""
    if draw(st.booleans()):
        return None, None, False
    n_dev = draw(st.integers(1 if not allow_bad else 0, 20))
    Y, values, kind = draw(label_vectors(n_dev, E, allow_bad))
    y = np.asarray(Y)
    if kind in ("ok", "short", "long") and y.ndim == 1 and y.size and y.dtype.kind in "iu":
        return Y, (np.bincount(y.astype(np.int64), minlength=E) + 1.0) / (y.size + E), False
    return Y, None, True


# ---- HierarchicalLabelModel ----------------------------------------------------------------------------------------
@st.composite
def hierarchical_params(draw, allow_bad: bool):
    bad, params = set(), {}
    for name, good, wrong in (("max_iter", [200, 1, 5, np.int64(3), 50], [0, -1, 2.5, True, "5", None]),
                              ("tol", [1e-5, 0.0, 1e-2, np.float32(1e-3)], [np.nan, -1.0, "x", None]),
                              ("smoothing", [0.01, 1.0, 0.0, np.float64(0.1)], [np.nan, -0.5, np.inf, "x", None]),
                              ("init_accuracy", [0.7, 0.5, 0.95, np.float64(0.6)], [0, 1, np.nan, "x", None, 1.5]),
                              ("prior_strength", [0.0, 1.0, 10, np.float32(2)], [-1.0, np.nan, np.inf, "x", None])):
        params[name], is_bad = _choice(draw, good, wrong, allow_bad, 12)
        if is_bad:
            bad.add(name)
    params["n_threads"], is_bad = draw(n_threads_args(allow_bad))
    if is_bad:
        bad.add("n_threads")
    return params, bad


def check_tables(model, g: TaskGraph, columns: List[str]) -> None:
    E = g.n_end_labels
    assert model.lf_tasks_ == columns and len(model.tables_) == len(columns)
    for T, t in zip(model.tables_, columns):
        k = g.cardinality(t)
        assert T.shape == (k + 1, k + 1) and np.all(np.isfinite(T)) and np.all(T >= 0)
        np.testing.assert_allclose(T.sum(axis=0), 1.0, atol=1e-9, err_msg="table columns must sum to 1")
    b = model.class_balance_
    assert b.shape == (E,) and np.all(np.isfinite(b)) and np.all(b >= 0)
    np.testing.assert_allclose(b.sum(), 1.0, atol=1e-9)
    for name in ("accuracy_", "precision_"):
        a = getattr(model, name)
        assert a.shape == (len(columns),) and np.all(np.isfinite(a)) and np.all((a >= -1e-12) & (a <= 1 + 1e-12)), name


@given(st.data())
def test_hierarchical_label_model(data):
    draw = data.draw
    g = draw(graphs())
    E = g.n_end_labels
    any_input = draw(st.sampled_from([False, False, True]))
    structure = draw(structures(g))
    votes = draw(task_votes(g, structure, allow_bad=any_input, min_rows=0 if any_input else 1))
    params, bad = draw(hierarchical_params(any_input))
    bad |= votes.bad
    if votes.n == 0:
        bad.add("L")
    Y_dev, want_balance, dev_bad = draw(dev_labels(E, any_input))
    if dev_bad:
        bad.add("Y_dev")
    model = HierarchicalLabelModel(g, **params)
    snaps = votes.inputs + snapshot(Y_dev)

    def verify(fitted):
        assert fitted is model
        check_tables(model, g, votes.columns)
        if want_balance is not None:
            np.testing.assert_allclose(model.class_balance_, want_balance, rtol=1e-12)
        P = model.predict_proba(votes.L, votes.lf_tasks)
        assert_probabilities(P, votes.n, E)
        want = reference_posterior(g, votes, model.tables_, model.class_balance_)
        if want is not None:
            np.testing.assert_allclose(P, want, rtol=1e-9, atol=1e-12)
        pred = model.predict(votes.L, votes.lf_tasks)
        np.testing.assert_array_equal(pred, np.argmax(P, axis=1))
        check_task_outputs(model, g, votes, P, pred)
        # the fit does not depend on the form, layout, dtype or thread count of the votes
        plain_L, plain_tasks = votes.plain()
        plain = HierarchicalLabelModel(g, **{**params, "n_threads": 1}).fit(plain_L, plain_tasks, Y_dev=Y_dev)
        for a, b in zip(model.tables_, plain.tables_):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.class_balance_, plain.class_balance_, rtol=0, atol=1e-12)

    exc = check_call(lambda: model.fit(votes.L, votes.lf_tasks, Y_dev=Y_dev), bad, verify, label="fit")
    assert_unchanged(snaps)
    if exc is not None:
        return
    # new votes: the same LFs, or others (their tasks must match the fit's)
    other = draw(structures(g)) if draw(st.integers(0, 4)) == 0 else structure
    new = draw(task_votes(g, other, allow_bad=draw(st.booleans())))
    bad = set(new.bad)
    if list(new.columns) != model.lf_tasks_:
        bad |= {"L", "lf_tasks"}

    def verify_new(P):
        assert_probabilities(P, new.n, E)
        want = reference_posterior(g, new, model.tables_, model.class_balance_)
        if want is not None:
            np.testing.assert_allclose(P, want, rtol=1e-9, atol=1e-12)
        pred = model.predict(new.L, new.lf_tasks)
        np.testing.assert_array_equal(pred, np.argmax(P, axis=1))
        check_task_outputs(model, g, new, P, pred)

    check_call(lambda: model.predict_proba(new.L, new.lf_tasks), bad, verify_new, label="predict_proba")
    assert_unchanged(new.inputs)


# ---- SoftMV / HardMV -----------------------------------------------------------------------------------------------
@given(st.data())
def test_soft_and_hard_majority_vote(data):
    draw = data.draw
    g = draw(graphs())
    E = g.n_end_labels
    kind = draw(st.sampled_from(["soft", "hard"]))
    any_input = draw(st.sampled_from([False, False, True]))
    bad = set()
    if kind == "soft":
        accuracy, is_bad = _choice(draw, [0.7, 0.5, 0.01, 0.99, np.float64(0.8)], [0, 1, np.nan, "x", None, -0.5],
                                   any_input)
        n_threads, threads_bad = draw(n_threads_args(any_input))
        model = SoftMV(g, accuracy=accuracy, n_threads=n_threads)
        bad |= ({"accuracy"} if is_bad else set()) | ({"n_threads"} if threads_bad else set())
    else:
        seed, is_bad = _choice(draw, [0, 1, None, np.int64(5)], ["x", -1, 1.5], any_input)
        model = HardMV(g, random_state=seed)
        bad |= {"random_state"} if is_bad else set()
    structure = draw(structures(g))
    votes = draw(task_votes(g, structure, allow_bad=any_input))
    Y_dev, want_balance, dev_bad = draw(dev_labels(E, any_input))
    fit_with = draw(st.sampled_from(["nothing", "votes", "votes"]))
    fit_bad = set(bad) | ({"Y_dev"} if dev_bad else set())
    if fit_with == "votes":
        fit_bad |= votes.bad
    snaps = votes.inputs + snapshot(Y_dev)

    def fit():
        return model.fit(votes.L, votes.lf_tasks, Y_dev=Y_dev) if fit_with == "votes" else model.fit(Y_dev=Y_dev)

    def verify_fit(fitted):
        assert fitted is model
        if kind == "soft":
            want = want_balance if want_balance is not None else np.full(E, 1.0 / E)
            np.testing.assert_allclose(model.class_balance_, want, rtol=1e-12)

    exc = check_call(fit, fit_bad, verify_fit, label=f"{kind} fit")
    if exc is not None:
        # a model that was never fitted (SoftMV fits itself on first use with no dev labels)
        model = SoftMV(g, accuracy=model.accuracy, n_threads=model.n_threads) if kind == "soft" else model

    def verify(P):
        assert_probabilities(P, votes.n, E)
        pred = model.predict(votes.L, votes.lf_tasks)
        assert pred.shape == (votes.n,) and pred.dtype == np.int64
        if kind == "soft":
            balance = model.class_balance_
            want = reference_posterior(g, votes, soft_mv_tables(g, votes.columns, float(model.accuracy)), balance)
            if want is not None:
                np.testing.assert_allclose(P, want, rtol=1e-9, atol=1e-12)
            np.testing.assert_array_equal(pred, np.argmax(P, axis=1))
        else:
            if model.random_state is not None:  # the same data and seed give the same labels
                np.testing.assert_array_equal(pred, np.argmax(P, axis=1))
                np.testing.assert_array_equal(P, np.eye(E)[pred] if votes.n else np.zeros((0, E)))
            check_hard_mv_choice(g, votes, pred)
        if kind == "soft" or model.random_state is not None:  # (unseeded Hard MV draws new ties on every call)
            check_task_outputs(model, g, votes, P, pred)

    check_call(lambda: model.predict_proba(votes.L, votes.lf_tasks), votes.bad | bad, verify,
               label=f"{kind} predict_proba")
    assert_unchanged(snaps)


# ---- save / load, unfitted -----------------------------------------------------------------------------------------
@given(st.data())
def test_hierarchy_save_load_round_trip(data):
    draw = data.draw
    g = draw(graphs())
    structure = draw(structures(g))
    votes = draw(task_votes(g, structure, allow_bad=False, min_rows=1))
    kind = draw(st.sampled_from(["hierarchical", "soft", "hard"]))
    if kind == "hierarchical":
        params, _ = draw(hierarchical_params(False))
        model = HierarchicalLabelModel(g, **{**params, "max_iter": min(int(params["max_iter"]), 20)})
        model.fit(votes.L, votes.lf_tasks)
    elif kind == "soft":
        model = SoftMV(g, accuracy=draw(st.sampled_from([0.7, np.float64(0.6)])))
        if draw(st.booleans()):
            model.fit(Y_dev=np.arange(g.n_end_labels))
    else:
        model = HardMV(g, random_state=draw(st.sampled_from([0, np.int64(3), None])))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, draw(st.sampled_from(["model", "model.lf"])))
        model.save(path)
        assert os.listdir(tmp) == [os.path.basename(path)]  # exactly the file asked for
        loaded = draw(st.sampled_from([_io.load, type(model).load]))(path)
    assert type(loaded) is type(model) and loaded.graph == g and loaded.graph.to_dict() == g.to_dict()
    assert loaded.get_params().keys() == model.get_params().keys()
    for name, value in model.get_params().items():
        if name != "graph":
            assert loaded.get_params()[name] == value or (value != value), name  # (NaN never reaches here)
    new = draw(task_votes(g, structure, allow_bad=False))
    if not (kind == "hard" and model.random_state is None):
        np.testing.assert_array_equal(loaded.predict_proba(new.L, new.lf_tasks),
                                      model.predict_proba(new.L, new.lf_tasks))
        np.testing.assert_array_equal(loaded.predict(new.L, new.lf_tasks), model.predict(new.L, new.lf_tasks))


@given(graphs(), st.data())
def test_unfitted_hierarchical_model_says_so(g, data):
    votes = data.draw(task_votes(g, data.draw(structures(g)), allow_bad=False))
    model = HierarchicalLabelModel(g)
    for call in (lambda: model.predict_proba(votes.L, votes.lf_tasks), lambda: model.predict(votes.L, votes.lf_tasks),
                 lambda: model.predict_task_proba(votes.L, votes.lf_tasks),
                 lambda: model.predict_tasks(votes.L, votes.lf_tasks)):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
