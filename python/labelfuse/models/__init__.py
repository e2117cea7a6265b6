"""Label models: turn a label matrix into probabilistic labels without ground truth."""
from __future__ import annotations

from .covariance import fit_covariance
from .dawid_skene import fit_dawid_skene
from .registry import METHODS, FitResult, Method, get_method
from .triplet import fit_triplet
from .base import TIE_POLICIES, BaseLabelModel, NotFittedError, load
from .label_model import LabelModel
from .majority import MajorityVote
from . import _legacy  # noqa: F401  (registers the reader of the first releases' zip files)

__all__ = [
    "BaseLabelModel",
    "FitResult",
    "LabelModel",
    "MajorityVote",
    "METHODS",
    "Method",
    "NotFittedError",
    "TIE_POLICIES",
    "fit_covariance",
    "fit_dawid_skene",
    "fit_triplet",
    "get_method",
    "load",
]
