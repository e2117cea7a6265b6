"""Label models: turn a label matrix into probabilistic labels without ground truth."""
from __future__ import annotations

from ._covariance import fit_covariance
from ._dawid_skene import fit_dawid_skene
from ._params import FitResult
from ._triplet import fit_triplet
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
