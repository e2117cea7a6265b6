"""Peak RSS of a fault-tolerant LF application with 20,000 failures of an LF holding a 100 KB local.

    PYTHONPATH=python python bench/fault_tolerant_rss.py
"""
import resource
import warnings
from labelfuse.labeling import LabelingFunction, apply_lfs
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def heavy(x):
    local = bytearray(100_000)  # held by the traceback frames
    raise ValueError(f"boom ({len(local)} bytes held)")
before = rss()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    L, f = apply_lfs([LabelingFunction("heavy", heavy)], list(range(20_000)), fault_tolerant=True, progress=False, return_failures=True)
print(f"max RSS before {before:.0f} MB, after 20,000 failures {rss():.0f} MB; failures kept {len(f)}, with traceback {sum(x.exception.__traceback__ is not None for x in f)}")
