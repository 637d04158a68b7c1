#!/usr/bin/env bash
# Every benchmark once at a small size. Their figures are not tests and are
# not checked here; a benchmark that no longer runs is found by CI rather
# than by the next person who needs its figures.
#
#   scripts/bench-smoke.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
run() { # NAME ARGS...: the binary wherever the build put it
  local bin
  bin=$(find "$build" -type f -name "$1" -perm -u+x | head -n 1)
  [ -n "$bin" ] || { echo "bench-smoke: $1 not built in $build" >&2; return 1; }
  shift
  echo "--- $(basename "$bin") $*"
  "$bin" "$@" | tail -n 4
}
run bench-serde 2000
run bench-targeting 5000 1
run bench-dispatch 200 0 nosync
run bench-crossing --records 5000 --rounds 1
run bench-onprem --residents 5000 --rounds 1
run bench-pipeline --residents 5000
run bench-console --residents 5000 --sessions 4 --rounds 1 --runs 1 --rows 10000
