#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a short while.
#   OSH_FUZZ_SECONDS=600 scripts/fuzz.sh fuzz_serde   one target, longer
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${OSH_FUZZ_SECONDS:-30}
dir=build-fuzz
CC=clang cmake -S . -B "$dir" -DOSH_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$dir" -j"$(nproc)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do [ -e "$f" ] && targets+=("$(basename "$f" .c)"); done
fi
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus-$t"
  seeds=tests/fuzz/seeds/$t
  echo "fuzz: $t for ${secs}s"
  log="$dir/$t.log"
  # shellcheck disable=SC2046
  if ! (cd "$dir" && "tests/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 \
          "corpus-$t" $([ -d "../$seeds" ] && echo "../$seeds")) >"$log" 2>&1; then
    grep -A40 -m1 'ERROR\|SUMMARY' "$log" | head -60
    echo "fuzz: $t FAILED (reproducer: $dir/crash-* ; log: $log)"
    exit 1
  fi
  grep -E 'stat::(number_of_executed_units|new_units_added)' "$log" | tr '\n' ' '; echo
done
