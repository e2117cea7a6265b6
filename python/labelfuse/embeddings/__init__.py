"""Embedding-side tools: neighbour graph (faiss), partitions, smoothness diagnostics, encoders.

faiss is optional: this package imports without it, and the classes that need it import it on use.
"""
from __future__ import annotations

from . import _legacy  # noqa: F401  (registers the reader of earlier neighbour-graph files)
from .encode import encode
from .extend import ExtensionReport, as_thresholds, extend_votes
from .graph import NeighborGraph
from .partition import KMeansPartition
from .smoothness import SmoothnessCurve, label_smoothness, plot_smoothness
from .thresholds import agreement_thresholds, nearest_neighbor_thresholds, tune_thresholds

__all__ = ["encode", "NeighborGraph", "extend_votes", "ExtensionReport", "as_thresholds",
           "KMeansPartition", "agreement_thresholds", "nearest_neighbor_thresholds", "tune_thresholds",
           "SmoothnessCurve", "label_smoothness", "plot_smoothness"]
