#!/usr/bin/env bash
# Builds a virtual environment with the peer weak-supervision libraries the benchmarks compare against
# (Snorkel 0.10, FlyingSquid, crowd-kit), CPU only, plus pytest-benchmark for bench/bench_*.py.
#
# Usage: bench/install_peers.sh [VENV_DIR]      (default: $PEERS_VENV, else .venv-peers in the repository)
#        PYTHON=python3.11 bench/install_peers.sh ...   (the interpreter must match the compiled core: CPython 3.11)
# Then:  PEERS_PYTHON=VENV_DIR/bin/python; labelfuse itself comes from the working tree through PYTHONPATH=python.
#
# The pins are the ones that install and run on current Python / numpy:
# - torch is pinned to the CPU build so that no CUDA wheels come in with snorkel's torch requirement;
# - FlyingSquid declares no dependencies: it needs pgmpy 0.1.15 and setuptools < 81 (pkg_resources); it also calls
#   np.product, removed in numpy 2 (labelfuse.bench.peers patches it while FlyingSquid runs);
# - Snorkel 0.10.0 and crowd-kit install as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-${PEERS_VENV:-.venv-peers}}"
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the compiled core is built for CPython 3.11; set PYTHON=python3.11")'
"$PY" -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install -q --upgrade pip
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
# torch first, then pinned to the version it resolved to (a local "+cpu" build where the index serves one) so that
# snorkel's torch requirement brings no other build. On Linux, PyPI's torch pulls the CUDA libraries: set
# TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU-only wheel.
"$PIP" install -q "torch==2.13.0" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
"$PIP" freeze | grep -i '^torch==' > "$CONSTRAINTS"
"$PIP" install -q -c "$CONSTRAINTS" numpy scikit-learn pandas scipy
"$PIP" install -q -c "$CONSTRAINTS" "snorkel==0.10.0"
"$PIP" install -q -c "$CONSTRAINTS" "flyingsquid==0.0.0a0" "pgmpy==0.1.15" "setuptools<81"
"$PIP" install -q -c "$CONSTRAINTS" "crowd-kit==1.4.2"
"$PIP" install -q -c "$CONSTRAINTS" pytest pytest-benchmark
"$VENV/bin/python" - <<'PY'
import importlib
for name in ("snorkel", "flyingsquid", "crowdkit", "pytest_benchmark"):
    mod = importlib.import_module(name)
    print(f"{name:18s} {getattr(mod, '__version__', 'installed')}")
PY
echo "peers installed in $VENV; run benchmarks with PEERS_PYTHON=$VENV/bin/python"
