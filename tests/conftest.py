import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # tests/reference.py

# Hypothesis profiles for the fuzz tests (tests/test_fuzz_stats.py). The default keeps CI short and deterministic
# (derandomize: the same examples every run, so a red CI is never a coin toss); LABELFUSE_FUZZ=long runs an
# on-demand search with fresh random examples, e.g.
#   LABELFUSE_FUZZ=long nice python -m pytest tests/test_fuzz_stats.py --hypothesis-show-statistics
# LABELFUSE_FUZZ_EXAMPLES overrides the example count of either profile.
_SLOW_INPUTS_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=_SLOW_INPUTS_OK)
settings.register_profile("long", max_examples=5000, deadline=None, print_blob=True,
                          suppress_health_check=_SLOW_INPUTS_OK)
_profile = os.environ.get("LABELFUSE_FUZZ", "ci")
if _profile not in ("ci", "long"):
    raise ValueError(f"LABELFUSE_FUZZ: expected 'ci' or 'long', got {_profile!r}")
settings.load_profile(_profile)
if os.environ.get("LABELFUSE_FUZZ_EXAMPLES"):
    settings.register_profile("override", settings.get_profile(_profile),
                              max_examples=int(os.environ["LABELFUSE_FUZZ_EXAMPLES"]))
    settings.load_profile("override")
