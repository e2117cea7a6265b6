"""Label models: turn a label matrix into probabilistic labels without ground truth."""
from __future__ import annotations

from .covariance import fit_covariance
from .dawid_skene import fit_dawid_skene
from .registry import FitResult
from .triplet import fit_triplet
from .base import FORMAT_VERSION, TIE_POLICIES, BaseLabelModel, NotFittedError, load
from .label_model import METHODS, LabelModel
from .majority import MajorityVote

__all__ = [
    "BaseLabelModel",
    "FitResult",
    "FORMAT_VERSION",
    "LabelModel",
    "MajorityVote",
    "METHODS",
    "NotFittedError",
    "TIE_POLICIES",
    "fit_covariance",
    "fit_dawid_skene",
    "fit_triplet",
    "load",
]
