"""labelfuse: weak supervision with a native core."""
from __future__ import annotations

from . import _core, models
from ._versions import show_versions
from .labeling.analysis import LFAnalysis
from .models import LabelModel, MajorityVote
from .stats import GroupIndex, LabelStats, label_stats

__version__ = _core.__version__

__all__ = ["GroupIndex", "LFAnalysis", "LabelModel", "LabelStats", "MajorityVote", "label_stats", "models",
           "show_versions", "__version__"]

# -- labeling functions, appliers, data sets -------------------------------------------------------------------------
from .datasets import Dataset, Split, load_dataset  # noqa: E402
from .labeling.apply import LFApplier, LabelingFunction, apply_lfs, labeling_function  # noqa: E402

__all__ += ["Dataset", "LFApplier", "LabelingFunction", "Split", "apply_lfs", "labeling_function", "load_dataset"]

# -- embedding fusion (issue 4) ------------------------------------------------------------------------------------
# faiss is imported on first use (building a graph or partitions), so `import labelfuse` works without it.
from . import embeddings  # noqa: E402
from .fusion.estimators import Epoxy, Liger  # noqa: E402

__all__ += ["embeddings", "Epoxy", "Liger"]

# ---- end models (labelfuse.endmodels): torch is optional, so these names import it on first use only ----------
# Left out of __all__ on purpose: `from labelfuse import *` must neither need torch nor pay for importing it.
_ENDMODEL_NAMES = ("Adapter", "SingleTask", "FlatMTL", "HierMTL", "SliceClassifier", "Ensemble")


def __getattr__(name: str):
    if name in _ENDMODEL_NAMES:
        from . import endmodels

        return getattr(endmodels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
# ---- end of end-model block -------------------------------------------------------------------------------------

# ---- scale-out on Dask (labelfuse.distributed.core): an optional extra, imported on first use only ----------------------
_LAZY_SUBMODULES = ("distributed",)
_getattr_before_dask = __getattr__


def __getattr__(name: str):  # noqa: F811 (extends the end-model lookup above)
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    return _getattr_before_dask(name)
# ---- end of Dask block ----------------------------------------------------------------------------------------------

# ---- hierarchical tasks (issue 6): task schema, multi-level LFs, label models over end labels -----------------------
from .hierarchy import (HardMV, HierarchicalLabelModel, NOT_APPLICABLE, SoftMV, TaskGraph, as_task_votes,  # noqa: E402
                        make_hierarchical_votes)

__all__ += ["HardMV", "HierarchicalLabelModel", "NOT_APPLICABLE", "SoftMV", "TaskGraph", "as_task_votes",
            "make_hierarchical_votes"]
# ---- end of hierarchy block ---------------------------------------------------------------------------------------
