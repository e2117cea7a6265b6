"""Hierarchical tasks: a task schema (``TaskGraph``) and the votes of LFs written at any level of it.

A task graph is a tree of tasks. Each task has ``cardinality`` labels; a non-root task hangs from one label of its
parent task (the label that activates it) and is "not applicable" (``NOT_APPLICABLE`` = -1) for points whose
parent decision routes elsewhere. The end labels are the feasible combinations, one per leaf label path, numbered
depth-first in label order (the same order as ``labelfuse.endmodels.tasks.TaskTree``), e.g. root {Corporate,
Markets}, {Performance, Funding} under Corporate and {Money, Commodity} under Markets give four end labels.

LFs vote in their own task's label space (or abstain, -1). :func:`as_task_votes` turns a dict ``{task: L_t}``
(each with its own number of LFs) or one matrix plus the task of each LF into a single vote matrix and the task
index of each column; a vote for task label v is consistent with every end label whose path carries (task, v).
The label models over end labels are in :mod:`labelfuse.hierarchy.models`.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .._validation import as_label_matrix

__all__ = ["NOT_APPLICABLE", "TaskGraph", "TaskVotes", "as_task_votes"]

NOT_APPLICABLE = -1
# Every end label is enumerated (a path per label), so a task's cardinality is bounded: an absurd one (2**40) was a
# loop over 2**40 labels that filled the memory. 65536 is far beyond what the label models over end labels can fit.
MAX_TASK_LABELS = 2**16
_SPEC_KEYS = ("cardinality", "parent", "labels")


class TaskGraph:
    """A tree of classification tasks.

    Build it with :meth:`add_task` (chainable) or from a plain description
    ``{task: {"cardinality": k, "parent": (parent_task, parent_label) or None, "labels": [names] (optional)}}``.
    The graph is validated when first used (or by :meth:`validate`): exactly one root, no cycles, every parent
    task and parent label exists, each parent label activates at most one child task, every task reachable from
    the root.
    """

    def __init__(self, tasks: Optional[Mapping[str, Mapping[str, Any]]] = None):
        self._tasks: Dict[str, dict] = {}
        self._built: Optional[dict] = None
        if tasks is not None:
            if not isinstance(tasks, Mapping):
                raise TypeError(f"tasks: expected a dict {{task: {{'cardinality': k, 'parent': ...}}}}, got "
                                f"{type(tasks).__name__}")
            for name, spec in tasks.items():
                if not isinstance(name, str) or not name or "." in name:  # (add_task would blame its `name`)
                    raise ValueError(f"tasks: task names must be non-empty strings without '.', got {name!r}")
                if not isinstance(spec, Mapping) or "cardinality" not in spec:
                    raise TypeError(f"tasks[{name!r}]: expected a dict with 'cardinality' (and 'parent'), got {spec!r}")
                unknown = [str(key) for key in spec if key not in _SPEC_KEYS]
                if unknown:  # a misspelt 'parent' or 'labels' would silently make a root / drop the names
                    raise ValueError(f"tasks[{name!r}]: unknown keys {unknown}; expected {list(_SPEC_KEYS)}")
                self.add_task(name, spec["cardinality"], parent=spec.get("parent"), labels=spec.get("labels"))

    # ---- construction ------------------------------------------------------------------------------------------
    def add_task(self, name: str, cardinality: int, parent: Optional[Tuple[str, Any]] = None,
                 labels: Optional[Sequence[str]] = None) -> "TaskGraph":
        """Add a task; ``parent`` = (parent_task, parent_label) where the label is an index or a label name."""
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"name: task names must be non-empty strings without '.', got {name!r}")
        if name in self._tasks:
            raise ValueError(f"name: duplicate task name {name!r}")
        if isinstance(cardinality, bool) or not isinstance(cardinality, (int, np.integer)) or cardinality < 2:
            raise ValueError(f"tasks[{name!r}] cardinality: expected an int >= 2, got {cardinality!r}")
        if cardinality > MAX_TASK_LABELS:
            raise ValueError(f"tasks[{name!r}] cardinality: {cardinality} labels; a task has at most "
                             f"{MAX_TASK_LABELS} (the end labels are enumerated, and the label models over them "
                             "hold tables of n_end_labels^2 per LF)")
        if labels is not None:
            if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable):
                raise TypeError(f"tasks[{name!r}] labels: expected a list of {cardinality} names, got "
                                f"{type(labels).__name__}")
            labels = [str(v) for v in labels]
            if len(labels) != cardinality or len(set(labels)) != len(labels):
                raise ValueError(f"tasks[{name!r}] labels: expected {cardinality} distinct names, got {labels!r}")
        if parent is not None:
            if not isinstance(parent, (tuple, list)) or len(parent) != 2 or not isinstance(parent[0], str):
                raise TypeError(f"tasks[{name!r}] parent: expected (parent_task, parent_label) or None, got {parent!r}")
            if isinstance(parent[1], bool) or not isinstance(parent[1], (int, np.integer, str)):
                raise TypeError(f"tasks[{name!r}] parent: the parent label must be an int or a label name, "
                                f"got {parent[1]!r}")
            parent = (parent[0], parent[1] if isinstance(parent[1], str) else int(parent[1]))
        self._tasks[name] = {"cardinality": int(cardinality), "parent": parent, "labels": labels}
        self._built = None
        return self

    @classmethod
    def from_description(cls, description: Mapping[str, Mapping[str, Any]]) -> "TaskGraph":
        return cls(description)

    # ---- validation and derived structure ----------------------------------------------------------------------
    def validate(self) -> "TaskGraph":
        self._build()
        return self

    def _build(self) -> dict:
        if self._built is not None:
            return self._built
        if not self._tasks:
            raise ValueError("tasks: the task graph is empty (add at least one task)")
        roots = [t for t, s in self._tasks.items() if s["parent"] is None]
        if len(roots) != 1:
            raise ValueError(f"tasks: expected exactly one root task (parent None), got {roots}")
        parents: Dict[str, Tuple[str, int]] = {}
        children: Dict[Tuple[str, int], str] = {}
        for t, s in self._tasks.items():
            if s["parent"] is None:
                continue
            p, label = s["parent"]
            if p not in self._tasks:
                raise ValueError(f"tasks[{t!r}]: parent task {p!r} does not exist")
            if p == t:
                raise ValueError(f"tasks: cycle: task {t!r} is its own parent")
            label = self._label_index(p, label, f"tasks[{t!r}] parent")
            if (p, label) in children:
                raise ValueError(f"tasks[{t!r}]: label {self._label_name(p, label)!r} of {p!r} already activates "
                                 f"task {children[(p, label)]!r}")
            parents[t] = (p, label)
            children[(p, label)] = t
        depth: Dict[str, int] = {}
        for t in self._tasks:  # walking up from every task finds cycles (a cycle never reaches the root)
            seen, cur = [t], t
            while cur in parents:
                cur = parents[cur][0]
                if cur in seen:
                    raise ValueError(f"tasks: cycle through {seen[seen.index(cur):]}; such tasks are unreachable "
                                     f"from the root {roots[0]!r}")
                seen.append(cur)
            depth[t] = len(seen) - 1
        root = roots[0]
        order, frontier = [], [root]  # breadth first, label order: parents before children
        while frontier:
            order.extend(frontier)
            frontier = [children[(t, v)] for t in frontier for v in range(self._tasks[t]["cardinality"])
                        if (t, v) in children]
        paths: List[Tuple[Tuple[str, int], ...]] = []

        def walk(task: str, prefix: list) -> None:
            for v in range(self._tasks[task]["cardinality"]):
                path = prefix + [(task, v)]
                child = children.get((task, v))
                if child is None:
                    paths.append(tuple(path))
                else:
                    walk(child, path)

        walk(root, [])
        index = {t: i for i, t in enumerate(order)}
        end_task_labels = np.full((len(paths), len(order)), NOT_APPLICABLE, dtype=np.int64)
        for e, path in enumerate(paths):
            for t, v in path:
                end_task_labels[e, index[t]] = v
        self._built = {"root": root, "order": order, "index": index, "parents": parents, "children": children,
                       "depth": depth, "paths": paths, "end_task_labels": end_task_labels}
        return self._built

    def _label_index(self, task: str, label: Any, what: str) -> int:
        spec = self._tasks[task]
        if isinstance(label, str):
            if spec["labels"] is None or label not in spec["labels"]:
                raise ValueError(f"{what}: label {label!r} does not exist in task {task!r} "
                                 f"(labels {spec['labels'] or list(range(spec['cardinality']))})")
            return spec["labels"].index(label)
        if not 0 <= label < spec["cardinality"]:
            raise ValueError(f"{what}: label {label} does not exist in task {task!r} "
                             f"(labels 0..{spec['cardinality'] - 1})")
        return int(label)

    # ---- queries ------------------------------------------------------------------------------------------------
    @property
    def root(self) -> str:
        return self._build()["root"]

    @property
    def tasks(self) -> List[str]:
        """Task names, parents before children (breadth first from the root, in label order)."""
        return list(self._build()["order"])

    def cardinality(self, task: str) -> int:
        self._check_task(task)
        return self._tasks[task]["cardinality"]

    @property
    def cardinalities(self) -> Dict[str, int]:
        return {t: self._tasks[t]["cardinality"] for t in self.tasks}

    def parent(self, task: str) -> Optional[Tuple[str, int]]:
        self._check_task(task)
        return self._build()["parents"].get(task)

    def children(self, task: str) -> Dict[int, str]:
        """{label: child task} for the labels of ``task`` that activate a child."""
        self._check_task(task)
        ch = self._build()["children"]
        return {v: ch[(task, v)] for v in range(self.cardinality(task)) if (task, v) in ch}

    def depth(self, task: str) -> int:
        self._check_task(task)
        return self._build()["depth"][task]

    def label_name(self, task: str, label: int) -> str:
        self._check_task(task)
        k = self._tasks[task]["cardinality"]
        if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label < k:
            raise ValueError(f"label: expected a label index of task {task!r} in 0..{k - 1}, got {label!r}")
        return self._label_name(task, int(label))

    def _label_name(self, task: str, label: int) -> str:
        names = self._tasks[task]["labels"]
        return names[label] if names is not None else str(label)

    @property
    def n_end_labels(self) -> int:
        return len(self._build()["paths"])

    def end_label_paths(self) -> List[List[Tuple[str, int]]]:
        """One path [(task, label), ...] from the root per end label, in end-label order."""
        return [list(p) for p in self._build()["paths"]]

    def end_label_names(self, sep: str = ":") -> List[str]:
        return [sep.join(self._label_name(t, v) for t, v in p) for p in self._build()["paths"]]

    @property
    def end_task_labels(self) -> np.ndarray:
        """(n_end_labels, n_tasks) int64: the label of each task (columns in ``tasks`` order) on each end label's
        path, ``NOT_APPLICABLE`` (-1) for tasks off the path."""
        return self._build()["end_task_labels"].copy()

    def task_labels_of(self, end_label: int) -> Dict[str, int]:
        """{task: label or NOT_APPLICABLE} for one end label."""
        E = self.n_end_labels
        if isinstance(end_label, (bool, np.bool_)) or not isinstance(end_label, (int, np.integer)) or not (
                0 <= end_label < E):  # (a negative index would silently read from the end)
            raise ValueError(f"end_label: expected an end label in 0..{E - 1}, got {end_label!r}")
        row = self._build()["end_task_labels"][end_label]
        return {t: int(v) for t, v in zip(self.tasks, row)}

    def end_label_of(self, task_labels: Mapping[str, int]) -> int:
        """The end label whose path gives these task labels (tasks off the path may be omitted or -1)."""
        if not isinstance(task_labels, Mapping):
            raise TypeError(f"task_labels: expected a dict {{task: label}}, got {type(task_labels).__name__}")
        for e, path in enumerate(self._build()["paths"]):
            d = dict(path)
            if all(task_labels.get(t, NOT_APPLICABLE) == d.get(t, NOT_APPLICABLE) for t in set(d) | set(task_labels)):
                return e
        raise ValueError(f"task_labels: {dict(task_labels)} is not a feasible combination of task labels")

    def routing_matrix(self, task: str) -> np.ndarray:
        """(n_end_labels, cardinality + 1) 0/1: column v = end labels whose path gives ``task`` label v, last
        column = end labels off ``task``'s path (not applicable; all zero for the root)."""
        self._check_task(task)
        col = self._build()["end_task_labels"][:, self._build()["index"][task]]
        k = self.cardinality(task)
        R = np.zeros((self.n_end_labels, k + 1))
        R[np.arange(len(col)), np.where(col == NOT_APPLICABLE, k, col)] = 1.0
        return R

    def task_marginals(self, P_end: np.ndarray) -> Dict[str, np.ndarray]:
        """Per-task marginals from end-label probabilities: {task: (n, k_t + 1)}, column v = p(task = v), last
        column = p(not applicable) (0 for the root). Consistent with the tree by construction."""
        try:
            P_end = np.asarray(P_end, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"P_end: expected an (n, {self.n_end_labels}) array of probabilities, got "
                            f"{type(P_end).__name__}") from None
        if P_end.ndim != 2 or P_end.shape[1] != self.n_end_labels:
            raise ValueError(f"P_end: expected shape (n, {self.n_end_labels}), got {P_end.shape}")
        return {t: P_end @ self.routing_matrix(t) for t in self.tasks}

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        """Everything the graph was built from (names, cardinalities, parents as given, label names), as plain
        JSON-able values; ``TaskGraph(graph.to_dict())`` rebuilds it."""
        return {t: {"cardinality": s["cardinality"], "parent": None if s["parent"] is None else list(s["parent"]),
                    "labels": None if s["labels"] is None else list(s["labels"])} for t, s in self._tasks.items()}

    def to_task_description(self) -> Dict[str, Dict[str, Any]]:
        """The plain description the end models take (parents as [task, label index])."""
        b = self._build()
        return {t: {"cardinality": self._tasks[t]["cardinality"],
                    "parent": list(b["parents"][t]) if t in b["parents"] else None} for t in b["order"]}

    def _check_task(self, task: str) -> None:
        self._build()
        if not isinstance(task, str):  # (a list is not even hashable)
            raise TypeError(f"task: expected a task name (str), got {type(task).__name__}")
        if task not in self._tasks:
            raise ValueError(f"task: {task!r} is not in the task graph ({sorted(self._tasks)})")

    def __repr__(self) -> str:
        return f"TaskGraph({self.to_task_description()!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, TaskGraph) and self.to_task_description() == other.to_task_description()


class TaskVotes:
    """LF votes from several tasks as one (n, m) matrix: ``L[:, j]`` votes in task ``lf_tasks[j]``'s labels."""

    def __init__(self, L: np.ndarray, lf_tasks: List[str], graph: TaskGraph):
        self.L = L
        self.lf_tasks = lf_tasks
        self.graph = graph

    @property
    def n(self) -> int:
        return self.L.shape[0]

    @property
    def m(self) -> int:
        return self.L.shape[1]

    def consistency(self) -> np.ndarray:
        """(m, max_k + 1, n_end_labels) 0/1: vote index v + 1 for task label v (index 0 = abstain) is consistent
        with end label e when e's path carries that label (abstain is consistent with everything)."""
        g = self.graph
        kmax = max(g.cardinalities.values())
        out = np.zeros((self.m, kmax + 1, g.n_end_labels))
        out[:, 0, :] = 1.0
        for j, t in enumerate(self.lf_tasks):
            k = g.cardinality(t)
            out[j, 1:k + 1, :] = g.routing_matrix(t)[:, :k].T
        return out


def as_task_votes(graph: TaskGraph, L: Any, lf_tasks: Optional[Sequence[str]] = None, name: str = "L") -> TaskVotes:
    """One vote matrix from ``{task: L_t}`` (each (n, m_t), own number of LFs) or from one (n, m) matrix with
    ``lf_tasks`` (the task of each column). Votes must lie in -1..k_t - 1 for their task. Never mutates L."""
    graph.validate()
    if isinstance(L, TaskVotes):
        return L
    if isinstance(L, Mapping):
        if lf_tasks is not None:
            raise ValueError("lf_tasks: give it only with a single label matrix, not with a dict of matrices")
        if not L:
            raise ValueError(f"{name}: expected at least one task's label matrix")
        blocks, tasks, n = [], [], None
        for t in graph.tasks:  # columns in task order, whatever the dict's order
            if t not in L:
                continue
            Lt = as_label_matrix(L[t], name=f"{name}[{t!r}]")
            if n is not None and Lt.shape[0] != n:
                raise ValueError(f"{name}[{t!r}]: expected {n} rows like the other tasks, got {Lt.shape[0]}")
            n = Lt.shape[0]
            blocks.append(Lt.astype(np.int64))
            tasks += [t] * Lt.shape[1]
        unknown = set(L) - set(graph.tasks)
        if unknown:  # (sorted by repr: keys of mixed types do not compare)
            raise ValueError(f"{name}: tasks {sorted(unknown, key=repr)} are not in the task graph ({graph.tasks})")
        M = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0), dtype=np.int64)
    else:
        M = as_label_matrix(L, name=name).astype(np.int64)
        if lf_tasks is None:
            raise ValueError("lf_tasks: required with a single label matrix (the task of each LF column)")
        if isinstance(lf_tasks, Iterable):
            tasks = [str(t) for t in lf_tasks]
        else:
            raise TypeError(f"lf_tasks: expected one task name per column of {name}, got {type(lf_tasks).__name__}")
        if len(tasks) != M.shape[1]:
            raise ValueError(f"lf_tasks: expected {M.shape[1]} task names (one per column of {name}), got {len(tasks)}")
        unknown = set(tasks) - set(graph.tasks)
        if unknown:
            raise ValueError(f"lf_tasks: tasks {sorted(unknown)} are not in the task graph ({graph.tasks})")
    for j, t in enumerate(tasks):
        k = graph.cardinality(t)
        col = M[:, j]
        bad = (col < -1) | (col >= k)
        if bad.any():
            raise ValueError(f"{name}: LF {j} (task {t!r}, labels 0..{k - 1}, -1 = abstain) has vote "
                             f"{int(col[bad][0])} at row {int(np.flatnonzero(bad)[0])}")
    return TaskVotes(np.ascontiguousarray(M), tasks, graph)
