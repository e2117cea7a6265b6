"""Embedding fusion: Epoxy (extend LF votes to nearby points in embedding space) and Liger (plus one label model
per embedding part), and the partitioned fitting they share.

Example::

    from labelfuse.fusion import Liger
    liger = Liger(label_model="triplet").fit(L, X, L_dev, X_dev, Y_dev)
    P = liger.predict_proba(L_test, X_test)
    liger.refit(L_edited)          # reuses the cached neighbour graph and parts
"""
from __future__ import annotations

from .estimators import FUSION_FORMAT_VERSION, Epoxy, Liger, fit_partitioned, partitioned_stats, ws_knn_proba

__all__ = ["Epoxy", "FUSION_FORMAT_VERSION", "Liger", "fit_partitioned", "partitioned_stats", "ws_knn_proba"]
