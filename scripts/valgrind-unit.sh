#!/usr/bin/env bash
# Runs every unit-test executable under valgrind; any error or definite leak fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
fail=0
for t in "$dir"/tests/unit/test_*; do
  [ -x "$t" ] || continue
  if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
       --suppressions=scripts/valgrind.supp "$t" >/tmp/vg.$$ 2>&1; then
    echo "valgrind ok: $(basename "$t")"
  else
    echo "valgrind FAILED: $(basename "$t")"; cat /tmp/vg.$$; fail=1
  fi
done
rm -f /tmp/vg.$$
exit $fail
