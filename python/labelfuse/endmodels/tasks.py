"""Task trees for multi-task end models (numpy only; no torch).

A plain description is ``{task_name: {"cardinality": k, "parent": (parent_task, parent_label) or None}}``: one
root task; a child task is active only for rows whose parent task takes ``parent_label`` ("not applicable"
elsewhere). Each label of each task either routes to exactly one child task or ends a path; the end labels are the
paths, enumerated depth-first in label order (Corporate/Performance, Corporate/Funding, Markets/Money, ...).

Adapter point for labelfuse.hierarchy.graph.TaskGraph (not on main yet): :func:`as_task_tree` accepts any object with a
``to_task_description()`` method returning the plain description; when the object also has ``end_label_paths()``
(a list of ``[(task, label), ...]`` paths) the end labels follow that order, so both libraries number end labels
the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from ._checks import as_soft_labels


@dataclass(frozen=True)
class Task:
    name: str
    cardinality: int
    parent: Optional[tuple[str, int]]


class TaskTree:
    """Validated task tree: tasks, depths, children per label, end labels and their paths."""

    def __init__(self, description: Mapping[str, Mapping[str, Any]], end_label_paths: Optional[list] = None):
        if not isinstance(description, Mapping) or not description:
            raise TypeError("tasks: expected a non-empty dict {task_name: {'cardinality': k, 'parent': ...}}")
        self.tasks: dict[str, Task] = {}
        for name, spec in description.items():
            self.tasks[name] = _parse_task(name, spec)
        roots = [t.name for t in self.tasks.values() if t.parent is None]
        if len(roots) != 1:
            raise ValueError(f"tasks: expected exactly one root task (parent None), got {roots}")
        self.root = roots[0]
        self.children: dict[tuple[str, int], str] = {}
        for t in self.tasks.values():
            if t.parent is None:
                continue
            parent, label = t.parent
            if parent not in self.tasks:
                raise ValueError(f"tasks[{t.name!r}]: parent task {parent!r} does not exist")
            if not 0 <= label < self.tasks[parent].cardinality:
                raise ValueError(
                    f"tasks[{t.name!r}]: parent label {label} does not exist in task {parent!r} "
                    f"(labels 0..{self.tasks[parent].cardinality - 1})"
                )
            if (parent, label) in self.children:
                raise ValueError(
                    f"tasks[{t.name!r}]: label {label} of {parent!r} already routes to "
                    f"{self.children[(parent, label)]!r}"
                )
            self.children[(parent, label)] = t.name
        self.depth: dict[str, int] = {}
        for name in self.tasks:  # walking up also finds cycles (a cycle never reaches the root)
            seen, cur = [], name
            while self.tasks[cur].parent is not None:
                seen.append(cur)
                cur = self.tasks[cur].parent[0]
                if cur in seen:
                    raise ValueError(f"tasks: cycle through {seen}")
            self.depth[name] = len(seen)
        paths = self._enumerate(self.root, [])
        if end_label_paths is not None:
            given = [tuple((str(t), int(v)) for t, v in p) for p in end_label_paths]
            if sorted(given) != sorted(paths):
                raise ValueError("tasks: end_label_paths() of the task graph disagree with its task description")
            paths = given
        self.end_label_paths: list[tuple[tuple[str, int], ...]] = paths
        self.description = {
            t.name: {"cardinality": t.cardinality, "parent": list(t.parent) if t.parent else None}
            for t in self.tasks.values()
        }

    def _enumerate(self, task: str, prefix: list) -> list:
        out = []
        for label in range(self.tasks[task].cardinality):
            path = prefix + [(task, label)]
            child = self.children.get((task, label))
            out.extend(self._enumerate(child, path) if child else [tuple(path)])
        return out

    @property
    def names(self) -> list[str]:
        """Task names, parents before children (breadth-first from the root, label order)."""
        order, frontier = [], [self.root]
        while frontier:
            order.extend(frontier)
            frontier = [
                self.children[(t, v)]
                for t in frontier
                for v in range(self.tasks[t].cardinality)
                if (t, v) in self.children
            ]
        return order

    def to_task_description(self) -> dict[str, dict[str, Any]]:
        """The plain description (JSON-ready: parents as [task, label] lists)."""
        return {k: dict(v) for k, v in self.description.items()}

    @property
    def n_end_labels(self) -> int:
        return len(self.end_label_paths)

    def task_children(self, task: str) -> list[str]:
        return [self.children[(task, v)] for v in range(self.tasks[task].cardinality) if (task, v) in self.children]

    def routing_matrix(self, task: str) -> np.ndarray:
        """(n_end, k_task + 1) 0/1 matrix: column v+1 = end labels whose path gives ``task`` label v, column 0 =
        end labels whose path does not pass through ``task`` (not applicable)."""
        k = self.tasks[task].cardinality
        R = np.zeros((self.n_end_labels, k + 1))
        for e, path in enumerate(self.end_label_paths):
            labels = dict(path)
            R[e, labels[task] + 1 if task in labels else 0] = 1.0
        return R

    def task_targets(self, P_end: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-task conditional soft labels and the probability each task applies, from end-label soft labels.

        p(task = v | task applies) = sum of end labels through (task, v) / p(task applies). The applicability is
        the natural loss weight: a row routed elsewhere with certainty gets weight 0 for that task.
        """
        out = {}
        for task in self.tasks:
            joint = P_end @ self.routing_matrix(task)[:, 1:]
            applies = joint.sum(axis=1)
            # divide only where the task applies at all (a floor such as 1e-300 mis-scaled denormal rows: a row
            # applying with probability 4e-304 got conditionals summing to 4e-4)
            cond = np.full_like(joint, 1.0 / joint.shape[1])
            np.divide(joint, applies[:, None], out=cond, where=applies[:, None] > 0)
            out[task] = (cond, applies)
        return out

    def end_label_probs(self, task_probs: Mapping[str, np.ndarray]) -> np.ndarray:
        """p(end label) = product along its path of each task's conditional probability."""
        n = next(iter(task_probs.values())).shape[0]
        out = np.ones((n, self.n_end_labels))
        for e, path in enumerate(self.end_label_paths):
            for task, label in path:
                out[:, e] *= task_probs[task][:, label]
        return out / out.sum(axis=1, keepdims=True)

    def end_labels_from_tasks(self, P: Mapping[str, Any], n: int, name: str = "P", with_informative: bool = False):
        """End-label soft labels from per-task soft labels (rows where a task does not apply are all-NaN or -1;
        such a task contributes a uniform factor). Returns (P_end, has_label), and with ``with_informative`` a
        third (n,) mask: rows where some task's label is not uniform. A row whose given task labels are all
        uniform says nothing, although its end-label row is not uniform (the tree's shape weights the leaves)."""
        unknown = set(P) - set(self.tasks)
        if unknown:
            raise ValueError(f"{name}: tasks {sorted(unknown)} are not in the task tree ({sorted(self.tasks)})")
        probs, has_any, informative = {}, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for task, spec in self.tasks.items():
            if task in P:
                probs[task], has = as_soft_labels(P[task], n, spec.cardinality, name=f"{name}[{task!r}]")
                has_any |= has
                informative |= has & ~np.all(np.abs(probs[task] - 1.0 / spec.cardinality) <= 1e-6, axis=1)
            else:
                probs[task] = np.full((n, spec.cardinality), 1.0 / spec.cardinality)
        if with_informative:
            return self.end_label_probs(probs), has_any, informative
        return self.end_label_probs(probs), has_any


def _parse_task(name: Any, spec: Any) -> Task:
    if not isinstance(name, str) or not name or "." in name:
        raise ValueError(f"tasks: task names must be non-empty strings without '.', got {name!r}")
    if not isinstance(spec, Mapping) or "cardinality" not in spec:
        raise TypeError(f"tasks[{name!r}]: expected a dict with 'cardinality' and 'parent', got {spec!r}")
    k = spec["cardinality"]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"tasks[{name!r}]['cardinality']: expected an int >= 2, got {k!r}")
    parent = spec.get("parent")
    if parent is not None:
        if not isinstance(parent, (tuple, list)) or len(parent) != 2 or not isinstance(parent[0], str):
            raise TypeError(f"tasks[{name!r}]['parent']: expected (parent_task, parent_label) or None, got {parent!r}")
        label = parent[1]
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise TypeError(f"tasks[{name!r}]['parent']: parent label must be an int, got {label!r}")
        parent = (parent[0], int(label))
    return Task(name, int(k), parent)


def as_task_tree(tasks: Any) -> TaskTree:
    """A TaskTree from a plain description, a TaskTree, or a task-graph object (see the module docstring)."""
    if isinstance(tasks, TaskTree):
        return tasks
    if hasattr(tasks, "to_task_description"):
        paths = tasks.end_label_paths() if hasattr(tasks, "end_label_paths") else None
        return TaskTree(tasks.to_task_description(), end_label_paths=paths)
    return TaskTree(tasks)


def single_task(cardinality: int, name: str = "y") -> TaskTree:
    return TaskTree({name: {"cardinality": cardinality, "parent": None}})
