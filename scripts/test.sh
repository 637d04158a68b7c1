#!/usr/bin/env bash
# Builds oshirase (warnings are errors) and runs every unit and integration test.
#   scripts/test.sh                 normal build in ./build
#   OSH_SANITIZE=1 scripts/test.sh  ASan+UBSan build in ./build-asan
#   CTEST_ARGS="-L unit" scripts/test.sh   a subset
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

if [ "${OSH_SANITIZE:-0}" = 1 ]; then
  dir=${BUILD_DIR:-build-asan}
  flags=(-DOSH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  dir=${BUILD_DIR:-build}
  flags=()
fi

cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
# shellcheck disable=SC2086
ctest --test-dir "$dir" --output-on-failure ${CTEST_ARGS:-}
