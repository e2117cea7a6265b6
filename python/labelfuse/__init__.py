"""labelfuse: weak supervision with a native core."""
from __future__ import annotations

from . import _core
from .stats import GroupIndex, LabelStats, label_stats

__version__ = _core.__version__

__all__ = ["GroupIndex", "LabelStats", "label_stats", "__version__"]

# -- embedding fusion (issue 4) ------------------------------------------------------------------------------------
# faiss is imported on first use (building a graph or partitions), so `import labelfuse` works without it.
from . import embeddings  # noqa: E402
from .fusion import Epoxy, Liger  # noqa: E402

__all__ += ["embeddings", "Epoxy", "Liger"]
