#!/usr/bin/env bash
# The oshirase demo: builds if needed, starts the embedded broker (one Kafka
# mock cluster per segment) and runs the pipeline on generated data, ending
# in a report.
#   scripts/demo.sh [--keep]     --keep leaves everything running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = --keep ] && keep=1

scripts/deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
bin=$build/bin
work=$(mktemp -d /tmp/oshirase-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/osh-broker" --env-file "$work/broker.env" >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/broker.env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$work/broker.env"

echo "== oshirase demo =="
echo "clusters: core=$OSH_BOOTSTRAP_CORE processing=$OSH_BOOTSTRAP_PROCESSING"
echo "          exchange=$OSH_BOOTSTRAP_EXCHANGE cloud=$OSH_BOOTSTRAP_CLOUD"
echo
echo "schemas compiled in:"
"$bin/osh-ctl" schemas | sed 's/^/  /'
echo
printf '{"batch_id":"demo-1","kind":"START","topic":"resident.raw.v1","reference_date":20415,"extract_time":%s}\n' \
  "$(date +%s000)" |
  "$bin/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CORE" --topic batch.control.v1 --key.field batch_id 2>/dev/null
echo "batch.control.v1 on the core cluster, read back:"
"$bin/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_CORE" --topic batch.control.v1 --count 1 | sed 's/^/  /'
echo
echo "The pipeline services (extractor → anonymizer → relay-bridge → cloud-ingest → segmenter →"
echo "sns-dispatcher, monitor) join this demo as they land; see README.md."
if [ $keep = 1 ]; then
  echo "running; Ctrl-C to stop"
  wait
fi
