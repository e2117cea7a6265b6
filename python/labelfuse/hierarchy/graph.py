"""The task graph: one tree of classification tasks, shared by the hierarchical label models
(:mod:`labelfuse.hierarchy.models`) and the multi-task end models (:mod:`labelfuse.endmodels.multitask`).

A task graph is a tree of tasks. Each task has ``cardinality`` labels; a non-root task hangs from one label of its
parent task (the label that activates it) and is "not applicable" (``NOT_APPLICABLE`` = -1) for points whose
parent decision routes elsewhere. The end labels are the feasible combinations, one per leaf label path, numbered
depth-first in label order, e.g. root {Corporate, Markets}, {Performance, Funding} under Corporate and
{Money, Commodity} under Markets give four end labels: Corporate/Performance, Corporate/Funding, Markets/Money,
Markets/Commodity. Saved models of both families rely on this numbering.

The votes of LFs written at any level of the graph are in :mod:`labelfuse.hierarchy.votes`.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .._base import InstanceOf
from .._validation import check_count

__all__ = ["NOT_APPLICABLE", "TASK_GRAPH", "TaskGraph", "as_task_graph"]

NOT_APPLICABLE = -1
# Every end label is enumerated (a path per label), so a task's cardinality is bounded: an absurd one (2**40) was a
# loop over 2**40 labels that filled the memory. 65536 is far beyond what the label models over end labels can fit.
MAX_TASK_LABELS = 2**16
_SPEC_KEYS = ("cardinality", "parent", "labels")
_DESCRIPTION = "{task: {'cardinality': k, 'parent': (parent_task, parent_label) or None}}"


class TaskGraph:
    """A tree of classification tasks.

    Build it with :meth:`add_task` (chainable) or from a plain description
    ``{task: {"cardinality": k, "parent": (parent_task, parent_label) or None, "labels": [names] (optional)}}``.
    The graph is validated when first used (or by :meth:`validate`): exactly one root, no cycles, every parent
    task and parent label exists, each parent label activates at most one child task, every task reachable from
    the root.

    Example::

        g = TaskGraph({"topic": {"cardinality": 2, "labels": ["corporate", "markets"]},
                       "corp": {"cardinality": 2, "parent": ("topic", "corporate")},
                       "mkt": {"cardinality": 2, "parent": ("topic", 1)}})
        g.tasks                  # ['topic', 'corp', 'mkt'] (parents before children)
        g.n_end_labels           # 4
        g.end_label_paths()[2]   # [('topic', 1), ('mkt', 0)]
        g.routing_matrix("corp") # (4, 3): labels of corp on each end label's path, then not applicable

    Args:
        tasks: optional plain description ``{task: {"cardinality": k, "parent": (task, label) or None,
            "labels": [...]}}``; without it, build the graph with :meth:`add_task`.
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
        cardinality = check_count(cardinality, f"tasks[{name!r}] cardinality", minimum=2)
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
            label = parent[1]
            if not isinstance(label, str):  # a label index (checked against the parent's labels in validate)
                label = check_count(label, f"tasks[{name!r}] parent label", minimum=-2**63)
            parent = (parent[0], label)
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

    def task_children(self, task: str) -> List[str]:
        """The child tasks of ``task``, in the order of the labels that activate them."""
        return list(self.children(task).values())

    def depth(self, task: str) -> int:
        self._check_task(task)
        return self._build()["depth"][task]

    def label_name(self, task: str, label: int) -> str:
        self._check_task(task)
        k = self._tasks[task]["cardinality"]
        label = check_count(label, "label", minimum=0)
        if label >= k:
            raise ValueError(f"label: expected a label index of task {task!r} in 0..{k - 1}, got {label!r}")
        return self._label_name(task, label)

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
        end_label = check_count(end_label, "end_label", minimum=0)  # (a negative index would read from the end)
        if end_label >= E:
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

    def task_conditionals(self, P_end: np.ndarray) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        """{task: (conditionals (n, k_t), applies (n,))} from end-label probabilities: p(task = v | task applies)
        and p(task applies). A row where the task applies with probability 0 gets uniform conditionals. The
        applicability is the natural loss weight of a task's head in the multi-task end models."""
        P_end = np.asarray(P_end, dtype=np.float64)
        out = {}
        for task in self.tasks:
            joint = P_end @ self.routing_matrix(task)[:, :-1]
            applies = joint.sum(axis=1)
            # divide only where the task applies at all (a floor such as 1e-300 mis-scales denormal rows: a row
            # applying with probability 4e-304 would get conditionals summing to 4e-4)
            cond = np.full_like(joint, 1.0 / joint.shape[1])
            np.divide(joint, applies[:, None], out=cond, where=applies[:, None] > 0)
            out[task] = (cond, applies)
        return out

    def end_label_probs(self, task_probs: Mapping[str, np.ndarray]) -> np.ndarray:
        """(n, n_end_labels) end-label probabilities from per-task conditionals {task: (n, k_t)}: the product along
        each end label's path, rows normalised (the inverse of :meth:`task_conditionals`)."""
        n = next(iter(task_probs.values())).shape[0]
        out = np.ones((n, self.n_end_labels))
        for e, path in enumerate(self._build()["paths"]):
            for task, label in path:
                out[:, e] *= task_probs[task][:, label]
        return out / out.sum(axis=1, keepdims=True)

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


def as_task_graph(graph: Any, name: str = "graph") -> TaskGraph:
    """A validated TaskGraph from a TaskGraph (returned as is) or a plain task description; a mistake in the
    description is raised with ``name`` in front of the message.

    Example::

        as_task_graph({"y": {"cardinality": 3}}).n_end_labels   # 3
    """
    if isinstance(graph, TaskGraph):
        return graph.validate()
    if not isinstance(graph, Mapping):
        raise TypeError(f"{name}: expected {TASK_GRAPH}, got {type(graph).__name__}")
    try:
        return TaskGraph(graph).validate()
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None


# The parameter constraint (see labelfuse._base) of a task graph given to an estimator.
TASK_GRAPH = InstanceOf(TaskGraph, Mapping, description=f"a TaskGraph or a task description dict {_DESCRIPTION}")
