"""The votes of LFs written at any level of a task graph, as one vote matrix.

LFs vote in their own task's label space (or abstain, -1). :func:`as_task_votes` turns a dict ``{task: L_t}``
(each with its own number of LFs) or one matrix plus the task of each LF into a single vote matrix and the task
index of each column; a vote for task label v is consistent with every end label whose path carries (task, v).

Example::

    from labelfuse.hierarchy import TaskGraph, as_task_votes
    g = TaskGraph({"coarse": {"cardinality": 2}, "fine": {"cardinality": 2, "parent": ("coarse", 1)}})
    votes = as_task_votes(g, {"coarse": L_coarse, "fine": L_fine})
    votes.L, votes.lf_tasks     # (n, m) votes, the task of each column
"""
from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from .._validation import as_label_matrix
from .graph import TaskGraph

__all__ = ["TaskVotes", "as_task_votes"]


class TaskVotes:
    """LF votes from several tasks as one (n, m) matrix: ``L[:, j]`` votes in task ``lf_tasks[j]``'s labels.

    Args:
        L: (n, m) votes; column j in the labels of task ``lf_tasks[j]``.
        lf_tasks: the task of each column.
        graph: the task graph.

    Example:
        >>> import numpy as np
        >>> from labelfuse.hierarchy import TaskGraph, TaskVotes
        >>> g = TaskGraph({"coarse": {"cardinality": 2}})
        >>> TaskVotes(np.array([[0], [1]]), ["coarse"], g).lf_tasks
        ['coarse']
    """

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
    ``lf_tasks`` (the task of each column). Votes must lie in -1..k_t - 1 for their task. Never mutates L.

    Args:
        graph: the task graph.
        L: ``{task: (n, m_t) votes}``, or one (n, m) matrix with ``lf_tasks``.
        lf_tasks: the task of each column of a single matrix.
        name: the argument name used in error messages.

    Returns:
        A :class:`TaskVotes`: one (n, m) matrix and the task of each column.

    Example:
        >>> import numpy as np
        >>> from labelfuse.hierarchy import TaskGraph, as_task_votes
        >>> g = TaskGraph({"coarse": {"cardinality": 2}, "fine": {"cardinality": 2, "parent": ("coarse", 1)}})
        >>> v = as_task_votes(g, {"coarse": np.array([[0], [1]]), "fine": np.array([[-1], [1]])})
        >>> v.L.shape, v.lf_tasks
        ((2, 2), ['coarse', 'fine'])
    """
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
