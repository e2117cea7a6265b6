"""labelfuse: weak supervision with a native core.

The workflow, one subpackage per step: :mod:`labelfuse.labeling` (labeling functions, the label matrix L, LF
analysis) -> :mod:`labelfuse.models` (label models: majority vote, triplet, covariance, Dawid-Skene) ->
:mod:`labelfuse.embeddings` and :mod:`labelfuse.fusion` (embeddings fused in: Epoxy, Liger) ->
:mod:`labelfuse.endmodels` (PyTorch end models); :mod:`labelfuse.hierarchy` for hierarchical tasks,
:mod:`labelfuse.distributed` for Dask. Every estimator saves to one file that :func:`load` reads back.

Example::

    import labelfuse as lf
    ds = lf.load_dataset("wrench_youtube")
    lm = lf.LabelModel(cardinality=2).fit(ds.train.L)
    lm.predict_proba(ds.test.L)
    lm.save("youtube.lf"); lf.load("youtube.lf")
"""
from __future__ import annotations

import importlib
from typing import Any

from . import _core, diagnostics, embeddings, fusion, hierarchy, labeling, models
from ._base import Estimator, clone
from ._io import load
from ._validation import NotFittedError
from ._versions import show_versions
from .diagnostics import (AbstentionWarning, BaselineWarning, ClassBalanceWarning, ConvergenceWarning,
                          ConventionWarning, FitWarning, LabelfuseWarning, LFQualityWarning, MethodWarning)
from .datasets import Dataset, Split, load_dataset
from .fusion import Epoxy, Liger
from .hierarchy import NOT_APPLICABLE, HardMV, HierarchicalLabelModel, SoftMV, TaskGraph, as_task_votes
from .labeling import LFAnalysis, LFApplier, LabelingFunction, apply_lfs, labeling_function
from .models import LabelModel, MajorityVote
from .selection import AutoLabels, fit_labels
from .stats import GroupIndex, LabelStats, label_stats

__version__ = _core.__version__

# Names whose module needs an optional extra (torch, Dask): imported on first use, so that `import labelfuse`
# neither needs nor pays for them. They are left out of __all__ so that `from labelfuse import *` does not import
# them either.
_LAZY = {
    "Adapter": "labelfuse.endmodels",
    "SingleTask": "labelfuse.endmodels",
    "FlatMTL": "labelfuse.endmodels",
    "HierMTL": "labelfuse.endmodels",
    "SliceClassifier": "labelfuse.endmodels",
    "Ensemble": "labelfuse.endmodels",
    "endmodels": None,
    "distributed": None,
}

__all__ = [
    "AbstentionWarning", "BaselineWarning", "ClassBalanceWarning", "ConvergenceWarning", "ConventionWarning",
    "FitWarning", "LFQualityWarning", "LabelfuseWarning", "MethodWarning",
    "Dataset", "Epoxy", "Estimator", "GroupIndex", "HardMV", "HierarchicalLabelModel", "LFAnalysis", "LFApplier",
    "LabelModel", "LabelStats", "LabelingFunction", "Liger", "MajorityVote", "NOT_APPLICABLE", "NotFittedError",
    "SoftMV", "Split", "TaskGraph", "__version__", "apply_lfs", "as_task_votes", "clone", "diagnostics", "embeddings",
    "fusion",
    "hierarchy", "label_stats", "labeling", "labeling_function", "load", "load_dataset", "models", "show_versions",
    "AutoLabels", "fit_labels",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = _LAZY[name]
        if module is None:
            return importlib.import_module(f".{name}", __name__)
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted({*globals(), *_LAZY})
