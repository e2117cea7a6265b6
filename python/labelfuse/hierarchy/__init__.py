"""Hierarchical tasks: one task graph (the schema shared by the hierarchical label models and the multi-task end
models), the votes of LFs written at any level of it, and label models over its end labels.

Example::

    from labelfuse.hierarchy import TaskGraph, HierarchicalLabelModel
    g = TaskGraph({"coarse": {"cardinality": 2, "parent": None},
                   "fine": {"cardinality": 2, "parent": ("coarse", 1)}})
    model = HierarchicalLabelModel(g).fit({"coarse": L_coarse, "fine": L_fine})
    model.predict_task_proba({"coarse": L_coarse, "fine": L_fine})
"""
from __future__ import annotations

from . import _legacy  # noqa: F401  (registers the reader of hierarchical-model files of earlier releases)
from .graph import NOT_APPLICABLE, TaskGraph
from .models import HardMV, HierarchicalLabelModel, SoftMV
from .votes import TaskVotes, as_task_votes

__all__ = ["HardMV", "HierarchicalLabelModel", "NOT_APPLICABLE", "SoftMV", "TaskGraph", "TaskVotes", "as_task_votes"]
