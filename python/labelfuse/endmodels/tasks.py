"""Task graphs for the multi-task end models (numpy only; no torch).

The end models take the one task graph of labelfuse, :class:`labelfuse.hierarchy.TaskGraph`, or its plain
description ``{task_name: {"cardinality": k, "parent": (parent_task, parent_label) or None}}``: one root task; a
child task is active only for rows whose parent task takes ``parent_label`` ("not applicable" elsewhere). The end
labels are the paths of the graph, numbered depth-first in label order (Corporate/Performance, Corporate/Funding,
Markets/Money, ...), the same numbering as the hierarchical label models', so their end-label probabilities can be
the end models' training labels as they are.

This module keeps what only the end models need on top of the graph: building it from what a user gives
(:func:`as_task_tree`, :func:`single_task`), checking a saved end-label order (:func:`restore_task_graph`) and
turning per-task soft labels into end-label soft labels (:func:`end_labels_from_tasks`).

Example::

    from labelfuse.endmodels.tasks import as_task_tree
    g = as_task_tree({"coarse": {"cardinality": 2}, "fine": {"cardinality": 3, "parent": ("coarse", 1)}})
    g.n_end_labels, g.end_label_paths()[1]     # 4, [('coarse', 1), ('fine', 0)]
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..hierarchy.graph import TaskGraph, as_task_graph
from ._checks import as_soft_labels

__all__ = ["as_task_tree", "end_labels_from_tasks", "restore_task_graph", "single_task"]


def as_task_tree(tasks: Any) -> TaskGraph:
    """The validated TaskGraph of ``tasks``: a TaskGraph (returned as is) or its plain description; mistakes are
    a TypeError / ValueError naming ``tasks``.

    Args:
        tasks: a TaskGraph or its plain description.

    Returns:
        The validated :class:`labelfuse.hierarchy.TaskGraph`.

    Example:
        >>> from labelfuse.endmodels import as_task_tree
        >>> as_task_tree({"coarse": {"cardinality": 2}, "fine": {"cardinality": 3, "parent": ("coarse", 1)}}).n_end_labels
        4
    """
    return as_task_graph(tasks, name="tasks")


def single_task(cardinality: int, name: str = "y") -> TaskGraph:
    """The graph of one task with ``cardinality`` labels (its end labels are the task's labels)."""
    return TaskGraph({name: {"cardinality": cardinality, "parent": None}}).validate()


def restore_task_graph(description: Mapping[str, Any], end_label_paths: Optional[Sequence[Any]] = None) -> TaskGraph:
    """The graph of a saved end model, from its saved description; ``end_label_paths`` (as saved beside it) must be
    the graph's own end-label order, else the saved outputs would mean other end labels: a ValueError."""
    graph = as_task_graph(description, name="tasks")
    if end_label_paths is not None:
        given = [[(str(t), int(v)) for t, v in path] for path in end_label_paths]
        if given != graph.end_label_paths():
            raise ValueError("tasks: the saved end-label order differs from the task graph's (depth-first in label "
                             "order)")
    return graph


def end_labels_from_tasks(graph: TaskGraph, P: Mapping[str, Any], n: int, name: str = "P",
                          with_informative: bool = False):
    """End-label soft labels from per-task soft labels (rows where a task does not apply are all-NaN or -1; such a
    task contributes a uniform factor). Returns (P_end, has_label), and with ``with_informative`` a third (n,)
    mask: rows where some task's label is not uniform. A row whose given task labels are all uniform says
    nothing, although its end-label row is not uniform (the tree's shape weights the leaves)."""
    unknown = set(P) - set(graph.tasks)
    if unknown:
        raise ValueError(f"{name}: tasks {sorted(unknown)} are not in the task tree ({sorted(graph.tasks)})")
    probs, has_any, informative = {}, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for task in graph.tasks:
        k = graph.cardinality(task)
        if task in P:
            probs[task], has = as_soft_labels(P[task], n, k, name=f"{name}[{task!r}]")
            has_any |= has
            informative |= has & ~np.all(np.abs(probs[task] - 1.0 / k) <= 1e-6, axis=1)
        else:
            probs[task] = np.full((n, k), 1.0 / k)
    if with_informative:
        return graph.end_label_probs(probs), has_any, informative
    return graph.end_label_probs(probs), has_any
