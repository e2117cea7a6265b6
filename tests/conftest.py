import os
import sys
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # tests/reference.py

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir(name: str = "") -> Optional[Path]:
    """The folder of the shared (non-bundled) data sets, or one data set in it; None when it is not here.

    ``$LABELFUSE_DATA`` (an os.pathsep-separated list of folders, as :func:`labelfuse.load_dataset` reads it: the
    first that holds ``name`` wins), else ``../shared/data`` beside the repository root."""
    env = os.environ.get("LABELFUSE_DATA")
    roots = [Path(p) for p in env.split(os.pathsep) if p] if env else [REPO_ROOT.parent / "shared" / "data"]
    for root in roots:
        folder = root / name if name else root
        if folder.is_dir():
            return folder
    return None


@pytest.fixture
def shared_data():
    """``shared_data(name="")``: the shared data folder (or one data set in it); skips the test when absent."""

    def get(name: str = "") -> Path:
        folder = shared_data_dir(name)
        if folder is None:
            pytest.skip(f"shared data {name or 'folder'} not present (set LABELFUSE_DATA or use ../shared/data)")
        return folder

    return get

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
