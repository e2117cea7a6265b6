"""The benchmark suite (``labelfuse bench``): methods x data sets x peers, and the scaling grid.

    PYTHONPATH=python $PEERS_PYTHON bench/run_suite.py            # with the peers
    PYTHONPATH=python python bench/run_suite.py --no-peers --no-data            # bundled youtube only
    PYTHONPATH=python $PEERS_PYTHON bench/run_suite.py --scaling-only [--full]

The suite lives in python/labelfuse/benchmark.py (so the installed ``labelfuse bench`` works without this
folder); this wrapper only changes the default output prefix to bench/results/suite.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelfuse.bench.suite import add_arguments, main_from_args

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.set_defaults(out=ROOT / "bench" / "results" / "suite")
    return main_from_args(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
