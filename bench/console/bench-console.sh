#!/usr/bin/env bash
# bench-console: the staff console's figures (not a test).
#  1. preview round trip through the console's HTTPS API with S staff
#     sessions at once, for each seed campaign's condition, against the real
#     segmenter holding a mini city of N residents (default Chiba scale,
#     973,183): median and p99 (targets 50 ms / 150 ms), K runs of R rounds
#     each on the same city, then the median over runs with min-max;
#  2. a destinations upload of U rows (default 1,000,000) through the
#     console to cloud-ingest: time, rows/s and the peak memory (VmHWM) of
#     both processes.
#
#   bench-console [--residents N] [--sessions S (20)] [--rounds R (5)] [--runs K (3)] [--rows U]
set -euo pipefail
residents=973183 sessions=20 rounds=5 runs=3 rows=1000000
while [ $# -gt 0 ]; do
        case $1 in
        --residents) residents=$2; shift 2 ;;
        --sessions) sessions=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "bench-console: unknown option $1" >&2; exit 2 ;;
        esac
done
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${OSH_BUILD_DIR:-}" ]; then
        if [ -x "$here/osh-broker" ]; then OSH_BUILD_DIR=$(dirname "$here"); else OSH_BUILD_DIR=$here/../../build; fi
fi
export OSH_BUILD_DIR
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$OSH_BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ -n "$src" ] || src=$(cd "$here/../.." && pwd)
OSH_SOURCE_DIR=$src
export OSH_SOURCE_DIR
# shellcheck source=../../tests/integration/lib/harness.sh
. "$src/tests/integration/lib/harness.sh"
# shellcheck source=../../tests/integration/lib/dispatch.sh
. "$src/tests/integration/lib/dispatch.sh"
# shellcheck source=../../tests/integration/lib/console.sh
. "$src/tests/integration/lib/console.sh"
OSH_IT_TIMEOUT=600
CON_KCAT_TIMEOUT=600
osh_it_begin
osh_it_start_broker
# cloud-ingest first: its start-up recovery reads resident.abstracted.v1,
# which at Chiba scale takes longer than its own timeout once the city is in.
printf 'console k3y\n' >"$OSH_IT_TMP/ingest.keys"
printf 'k3y\n' >"$OSH_IT_TMP/console.ingest.key"
iport=$(osh_it_free_port)
osh_it_start_service ingest cloud-ingest --listen.port "$iport" --auth.keys.file "$OSH_IT_TMP/ingest.keys" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --max.csv.bytes 512M
t0=$(date +%s)
con_publish_city "$residents" >/dev/null 2>&1
osh_it_start_service seg segmenter --kafka.bootstrap.servers="$OSH_BOOTSTRAP_CLOUD" \
        --state.dir="$OSH_IT_TMP/segstate" --min.audience=1 --kafka.fetch.wait.max.ms=5 --kafka.linger.ms=0
osh_it_wait_until 600 _con_seg_ready || fail "segmenter never took the snapshot"
echo "city of $(grep -o 'snapshot B-IT-1: [0-9]* residents' "$(osh_it_log seg)" | grep -o '[0-9]* residents') loaded in $(($(date +%s) - t0)) s"
"$src/tests/integration/certs/gen.sh" "$OSH_IT_TMP/certs"
for i in $(seq -w 0 $((sessions - 1))); do
        [ "$i" = 00 ] && sub=create-admin || sub="user add"
        role=""; [ "$i" = 00 ] || role=author
        # shellcheck disable=SC2086
        printf '%s\n' "$CON_PW" | "$OSH_BIN/console" $sub --accounts.file="$OSH_IT_TMP/accounts" "bench$(printf %02d "$((10#$i))")" $role >/dev/null
done
port=$(osh_it_free_port)
osh_it_start_service console console --kafka.bootstrap.servers="$OSH_BOOTSTRAP_CLOUD" \
        --accounts.file="$OSH_IT_TMP/accounts" --state.file="$OSH_IT_TMP/console.state" \
        --tls.cert="$OSH_IT_TMP/certs/server.pem" --tls.key="$OSH_IT_TMP/certs/server.key" \
        --listen.port="$port" --http.connections=$((sessions + 8)) --max.upload 512M \
        --ingest.url="http://127.0.0.1:$iport" --ingest.key.id=console \
        --ingest.key.file="$OSH_IT_TMP/console.ingest.key"
url=https://localhost:$port
for r in $(seq 1 "$runs"); do
        echo "--- preview round trip, run $r of $runs: $sessions sessions x $rounds rounds x 9 seed campaigns (load $(cut -d' ' -f1-3 /proc/loadavg))"
        /usr/bin/python3 "$here/bench_console_load.py" "$url" "$OSH_IT_TMP/certs/ca.pem" "$CON_PW" \
                "$sessions" "$rounds" "$src"/campaigns/*.json | tee "$OSH_IT_TMP/run.$r"
done
# median over runs, with min-max (the machine is shared: one run says little)
cat "$OSH_IT_TMP"/run.* | sed -n 's/^RUN //p' | python3 -c 'import statistics, sys
rows = [dict((k, float(v)) for k, v in (f.split("=") for f in l.split())) for l in sys.stdin]
for k in ("median", "p99", "worst_campaign_p99", "server_median", "server_p99", "rate"):
    v = [r[k] for r in rows]
    print("%-19s %7.1f  (min %.1f, max %.1f over %d runs)" % (k, statistics.median(v), min(v), max(v), len(v)))'

echo "--- destinations upload: $rows rows"
csv=$OSH_IT_TMP/dest.csv
/usr/bin/python3 -c 'import sys
n = int(sys.argv[1]); w = sys.stdout.write
w("利用者ID,channel,account id,categories\n")
for i in range(n):
    w("B%09d,line,U%032x,childcare;health_welfare\n" % (i, i) if i % 2 == 0 else
      "B%09d,email,b%d@example.jp,childcare\n" % (i, i))' "$rows" >"$csv"
jar=$OSH_IT_TMP/jar
curl -s -o "$OSH_IT_TMP/login" --cacert "$OSH_IT_TMP/certs/ca.pem" -c "$jar" -H 'Content-Type: application/json' \
        --data "{\"user\":\"bench01\",\"password\":\"$CON_PW\"}" "$url/api/login"
csrf=$(jq -r .csrf "$OSH_IT_TMP/login")
# RSS of a process sampled every 50 ms into FILE (its maximum, kB) until killed:
# VmHWM alone would show the 20 argon2id sign-ins (64 MiB each), not the upload.
rss_max() { # PID FILE
        local m=0 v
        while v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null) && [ -n "$v" ]; do
                ((v > m)) && m=$v && echo "$m" >"$2"
                sleep 0.05
        done
}
rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
before="console $(rss "${OSH_IT_PIDS[console]}") MiB, cloud-ingest $(rss "${OSH_IT_PIDS[ingest]}") MiB"
rss_max "${OSH_IT_PIDS[console]}" "$OSH_IT_TMP/rss.console" &
s1=$!
rss_max "${OSH_IT_PIDS[ingest]}" "$OSH_IT_TMP/rss.ingest" &
s2=$!
t=$(curl -s -o "$OSH_IT_TMP/up" -w '%{time_total} %{http_code}' --cacert "$OSH_IT_TMP/certs/ca.pem" -b "$jar" \
        -H 'Content-Type: text/csv' -H "X-CSRF-Token: $csrf" --data-binary @"$csv" "$url/api/destinations")
kill "$s1" "$s2" 2>/dev/null || true
wait "$s1" "$s2" 2>/dev/null || true
hwm() { awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }
echo "HTTP ${t#* }: $(jq -c '{accepted, rejected}' "$OSH_IT_TMP/up") in ${t% *} s" \
        "($(awk -v n="$rows" -v s="${t% *}" 'BEGIN {printf "%.0f", n / s}') rows/s, $(($(stat -c %s "$csv") / 1048576)) MiB)"
echo "RSS during the upload (50 ms samples): console max $(($(cat "$OSH_IT_TMP/rss.console") / 1024)) MiB," \
        "cloud-ingest max $(($(cat "$OSH_IT_TMP/rss.ingest") / 1024)) MiB (before: $before)"
echo "peak memory over the whole run (VmHWM, sign-ins included): console $(hwm "${OSH_IT_PIDS[console]}")," \
        "cloud-ingest $(hwm "${OSH_IT_PIDS[ingest]}")"
osh_it_stop_service console
