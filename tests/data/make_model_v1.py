"""Writes label_model_v1.lfm, the format_version 1 fixture that test_models_base.py must keep loading.

Run once per format version (PYTHONPATH=python python tests/data/make_model_v1.py); never regenerate an old one.
"""
import pathlib

from labelfuse.models import LabelModel
from labelfuse.synthetic import make_label_matrix

s = make_label_matrix(5000, 6, 3, class_balance=[0.5, 0.3, 0.2], seed=10)
LabelModel(method="dawid_skene", max_iter=30).fit(s.L).save(pathlib.Path(__file__).parent / "label_model_v1.lfm")
