"""Labeling: labeling functions (:mod:`.lf`), the appliers that build the label matrix L from them (:mod:`.apply`),
LF analysis, slicing functions.

Example::

    from labelfuse.labeling import labeling_function, apply_lfs, LFAnalysis

    @labeling_function()
    def has_link(x):
        return 1 if "http" in x.lower() else -1

    L = apply_lfs([has_link], ["see http://x", "hello"])   # int8 (2, 1): [[1], [-1]]
    LFAnalysis(L, ["has_link"]).lf_summary()
"""
from __future__ import annotations

from .analysis import LFAnalysis
from .apply import LFApplier, LFApplyError, LFFailure, LFFailures, LFFailureWarning, apply_lfs
from .lf import ABSTAIN, LabelingFunction, labeling_function
from .lf_file import lfs_from_file
from .slicing import SlicingFunction, apply_slicing_functions, slicing_function
from .templates import keyword_lf, lf_from_spec, regex_lf

__all__ = ["ABSTAIN", "LFAnalysis", "LFApplier", "LFApplyError", "LFFailure", "LFFailureWarning", "LFFailures",
           "LabelingFunction", "SlicingFunction", "apply_lfs", "apply_slicing_functions", "keyword_lf",
           "labeling_function", "lf_from_spec", "lfs_from_file", "regex_lf", "slicing_function"]
