"""Labeling: labeling functions (:mod:`.lf`), preprocessors (:mod:`.preprocess`), keyword / regex LF templates
(:mod:`.templates`), the appliers that build the label matrix L from them (:mod:`.apply`), LF analysis, slicing
functions, and Snorkel's label helpers (:mod:`.label_helpers`).

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
from .label_helpers import filter_unlabeled_dataframe, get_label_buckets, probs_to_preds
from .lf import ABSTAIN, LabelingFunction, labeling_function
from .lf_file import lfs_from_file
from .preprocess import MutableRow, Preprocessor, PreprocessorError, preprocessor
from .slicing import SlicingFunction, apply_slicing_functions, slicing_function
from .templates import keyword_lf, lf_from_spec, regex_lf

__all__ = ["ABSTAIN", "LFAnalysis", "LFApplier", "LFApplyError", "LFFailure", "LFFailureWarning", "LFFailures",
           "LabelingFunction", "MutableRow", "Preprocessor", "PreprocessorError", "SlicingFunction", "apply_lfs",
           "apply_slicing_functions", "filter_unlabeled_dataframe", "get_label_buckets", "keyword_lf",
           "labeling_function", "lf_from_spec", "lfs_from_file", "preprocessor", "probs_to_preds", "regex_lf",
           "slicing_function"]
