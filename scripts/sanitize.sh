#!/usr/bin/env bash
# Builds the core with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option LABELFUSE_SANITIZE) into
# build/asan and runs pytest against that build, leaving the normal build in python/labelfuse alone: the package
# is copied into a temporary directory together with the sanitized _core*.so.
#
#   scripts/sanitize.sh                                   # the whole suite except slow tests
#   scripts/sanitize.sh tests/test_fuzz_stats.py -x       # any pytest arguments: a subset
#   scripts/sanitize.sh --core                            # the tests that drive the native core (CI runs this)
#   LABELFUSE_FUZZ_EXAMPLES=300 scripts/sanitize.sh tests/test_fuzz_stats.py
#
# A normal python loads the sanitized module, so the ASan runtime must come first: LD_PRELOAD. Leak detection is
# off (CPython keeps its interned objects for the life of the process); any ASan report, or any UBSan report
# (halt_on_error), aborts the run with a stack trace and a non-zero exit code.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BUILD=${BUILD_DIR:-build/asan}
CXX_BIN=${CXX:-g++}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLABELFUSE_SANITIZE=ON \
    -DSKBUILD_PROJECT_VERSION="$($PY -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")" \
    -DPython_EXECUTABLE="$($PY -c 'import sys; print(sys.executable)')" \
    -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" ${CMAKE_ARGS:-}
fi
cmake --build "$BUILD" -j 2

PKG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/labelfuse-asan.XXXXXX")
trap 'rm -rf "$PKG_DIR"' EXIT
cp -r python/labelfuse "$PKG_DIR/labelfuse"
rm -f "$PKG_DIR"/labelfuse/_core*.so
cp "$BUILD"/_core*.so "$PKG_DIR/labelfuse/"

ASAN_RT=$($CXX_BIN -print-file-name=libasan.so)
if [ ! -e "$ASAN_RT" ]; then
  echo "sanitize.sh: no ASan runtime found ($CXX_BIN -print-file-name=libasan.so)" >&2
  exit 2
fi
# libstdc++ too: python itself does not link it, and ASan resolves its __cxa_throw interceptor at start-up; without
# it the first C++ exception (every ValueError from the core) dies in "CHECK failed: real___cxa_throw != 0".
PRELOAD="$ASAN_RT $($CXX_BIN -print-file-name=libstdc++.so)"

# The sanitized module must be the one imported: fail early if the copy is not what Python sees.
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 PYTHONPATH="$PKG_DIR" "$PY" -c "
import labelfuse, sys
assert labelfuse.__file__.startswith('$PKG_DIR'), labelfuse.__file__
print('sanitized core:', labelfuse._core.__file__)
"

if [ $# -eq 0 ]; then
  set -- tests -m "not slow"
elif [ "$1" = "--core" ]; then
  shift
  set -- tests/test_fuzz_stats.py tests/test_stats.py tests/test_reliability_regressions.py tests/test_interrupt.py \
    tests/test_concurrency.py tests/test_majority.py tests/test_dawid_skene.py tests/test_triplet.py \
    tests/test_covariance.py tests/test_label_model.py tests/test_extend.py tests/test_native_threads.py -m "not slow" "$@"
fi
export LD_PRELOAD="$PRELOAD"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:check_initialization_order=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export PYTHONPATH="$PKG_DIR"
# --capture=sys: pytest's default fd-level capture swallows a sanitizer report when the process aborts; this
# keeps fd 2 on the terminal. -p no:cacheprovider: the run must not write into the working tree.
time "$PY" -m pytest -q -p no:cacheprovider --capture=sys "$@"
