"""Embedding fusion: Epoxy (extend LF votes to nearby points in embedding space) and Liger (plus one label model
per embedding part), and the partitioned fitting they share.

Example::

    from labelfuse.fusion import Liger
    liger = Liger(label_model="triplet").fit(L, X, L_dev, X_dev, Y_dev)
    P = liger.predict_proba(L_test, X_test)
    liger.refit(L_edited)          # reuses the cached neighbour graph and parts
    liger.save("liger.lf")         # one file (graph and parts included); Liger.load("liger.lf")
"""
from __future__ import annotations

from . import _legacy  # noqa: F401  (registers the reader of earlier Epoxy / Liger files)
from .estimators import Epoxy, Liger
from .partitioned import fit_partitioned, partitioned_stats, ws_knn_proba

__all__ = ["Epoxy", "Liger", "fit_partitioned", "partitioned_stats", "ws_knn_proba"]
