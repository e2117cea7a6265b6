#!/usr/bin/env bash
# Developer build: compiles the core into build/dev and drops _core*.so next to the Python sources, so that
# `PYTHONPATH=python pytest` runs against the working tree without a pip install. Incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BUILD=${BUILD_DIR:-build/dev}
EXTRA=${CMAKE_ARGS:-}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKBUILD_PROJECT_VERSION="$($PY -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")" \
    -DPython_EXECUTABLE="$($PY -c 'import sys; print(sys.executable)')" \
    -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" $EXTRA
fi
cmake --build "$BUILD" -j 2
cp "$BUILD"/_core*.so python/labelfuse/
