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
  corpus="$dir/corpus-$t"
  mkdir -p "$corpus"
  seeds=tests/fuzz/seeds/$t
  echo "fuzz: $t for ${secs}s"
  "$dir/tests/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 "$corpus" \
    $( [ -d "$seeds" ] && echo "$seeds" ) 2>&1 | tail -n 3
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $t FAILED"; exit 1; }
done
