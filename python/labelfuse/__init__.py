"""labelfuse: weak supervision with a native core."""
from __future__ import annotations

from . import _core
from .stats import GroupIndex, LabelStats, label_stats

__version__ = _core.__version__

__all__ = ["GroupIndex", "LabelStats", "label_stats", "__version__"]

# ---- end models (labelfuse.endmodels): torch is optional, so these names import it on first use only ----------
_ENDMODEL_NAMES = ("Adapter", "SingleTask", "FlatMTL", "HierMTL", "SliceClassifier", "Ensemble")
__all__ += list(_ENDMODEL_NAMES)


def __getattr__(name: str):
    if name in _ENDMODEL_NAMES:
        from . import endmodels

        return getattr(endmodels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
# ---- end of end-model block -------------------------------------------------------------------------------------
