#!/usr/bin/env bash
# Builds the C++ core and its GoogleTest suite in a separate build directory and runs ctest.
#   native/run_cpp_tests.sh             # optimised build
#   native/run_cpp_tests.sh --sanitize  # AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sanitize=OFF
build="$root/build/native-tests"
if [[ "${1:-}" == "--sanitize" ]]; then
  sanitize=ON
  build="$root/build/native-tests-asan"
fi
build_type=Release
[[ "$sanitize" == ON ]] && build_type=RelWithDebInfo
cmake -S "$root/native" -B "$build" -DSAGE_NATIVE_PYTHON=OFF -DSAGE_NATIVE_TESTS=ON \
  -DSAGE_NATIVE_SANITIZE="$sanitize" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build "$build" -j2
# OpenMP's runtime keeps thread pools that LeakSanitizer reports as leaks at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
ctest --test-dir "$build" --output-on-failure -j2
