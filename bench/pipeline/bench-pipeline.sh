#!/usr/bin/env bash
# bench-pipeline: the whole path with the real seven services on osh-broker
# (one Kafka mock cluster per segment), as in the demo (figures, not a test).
# A gen-residents city (Chiba scale by default) is dropped into the
# extractor's watched directory; the script prints, to the millisecond, the
# time from the drop (the rename) to each segment's END marker of each topic
# (bench-pipeline-watch), to the segmenter's snapshot swap (its log line),
# each stage's own time (from the END it waits for to its own), and the CPU
# seconds each process spent on the batch; with several rounds, medians.
#
#   bench-pipeline [--residents N (973183)] [--rounds N (1)] [--poll MS (100)]
#
# Every round starts from fresh services and brokers; the first round of
# several is a warm-up and is not in the medians. The extractor looks at its
# drop directory every --poll ms; that wait is part of the figures. Run it
# from the build directory (bin/bench-pipeline) or with OSH_BUILD_DIR set.
set -euo pipefail
residents=973183
rounds=1
poll=100
while [ $# -gt 0 ]; do
        case $1 in
        --residents) residents=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --poll) poll=$2; shift 2 ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "bench-pipeline: unknown option $1" >&2; exit 2 ;;
        esac
done
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${OSH_BUILD_DIR:-}" ]; then
        # bin/bench-pipeline in a build dir, or bench/pipeline/ in the source.
        if [ -x "$here/osh-broker" ]; then OSH_BUILD_DIR=$(dirname "$here"); else OSH_BUILD_DIR=$here/../../build; fi
fi
export OSH_BUILD_DIR
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$OSH_BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ -n "$src" ] || src=$(cd "$here/../.." && pwd)
OSH_SOURCE_DIR=$src
export OSH_SOURCE_DIR
# shellcheck source=../../tests/integration/lib/harness.sh
. "$src/tests/integration/lib/harness.sh"
OSH_IT_NAME=bench-pipeline
OSH_IT_TIMEOUT=60
osh_it_begin
T=$OSH_IT_TMP
hz=$(getconf CLK_TCK)

echo "bench-pipeline: $residents residents, $rounds round(s), extractor poll ${poll} ms," \
        "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
today=$(TZ=Asia/Tokyo date +%Y%m%d)
"$OSH_BIN/gen-residents" --residents "$residents" --out "$T/city" --encoding cp932 --dates era \
        --gaiji 0.001 --reference-date "$today" >"$T/gen.out"
sync
"$src/tests/integration/certs/gen.sh" "$T/certs" >/dev/null 2>&1
C=$T/certs
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/pseudonym.key"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/uplink.secret"
printf 'exchange-uplink %s\n' "$(cat "$T/uplink.secret")" >"$T/ingest.keys"

services=(extractor relay-c2p anonymizer relay-p2x uplink monitor cloud-ingest segmenter
        sns-dispatcher broker)

cpu_ticks() { # NAME: utime + stime of NAME's process so far (clock ticks)
        local pid=${OSH_IT_PIDS[$1]:-}
        [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || { echo 0; return; }
        # fields after the ")" of comm: state is 3, utime 14, stime 15
        sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'
}

start_all() { # ROUND
        local r=$1 common=(--heartbeat.interval 1s --kafka.session.timeout.ms 6000 --log.level info)
        local port mon
        osh_it_start_broker
        port=$(osh_it_free_port)
        mon=$(osh_it_free_port)
        osh_it_start_service cloud-ingest cloud-ingest --segment cloud "${common[@]}" \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --listen.port "$port" \
                --tls.cert "$C/server.pem" --tls.key "$C/server.key" --auth.keys.file "$T/ingest.keys"
        osh_it_start_service segmenter segmenter --segment cloud "${common[@]}" \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --state.dir "$T/seg-$r"
        osh_it_start_service sns-dispatcher sns-dispatcher --segment cloud "${common[@]}" \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --ledger.path "$T/sent-$r.ledger" \
                --templates.dir "$src/templates" --webhook.url "http://127.0.0.1:9/hook" \
                --webhook.secret bench
        osh_it_start_service uplink relay-bridge --mode uplink --instance relay-uplink \
                --segment exchange "${common[@]}" --source.segment exchange --target.segment cloud \
                --allow resident.abstracted.v1,batch.control.v1 \
                --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" \
                --uplink.url "https://127.0.0.1:$port" --uplink.ca "$C/ca.pem" \
                --uplink.key.id exchange-uplink --uplink.secret.file "$T/uplink.secret" \
                --spool.dir "$T/spool-$r"
        osh_it_start_service monitor monitor --segment exchange "${common[@]}" \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" --http.port "$mon" \
                --probe.url "https://127.0.0.1:$port" --probe.ca "$C/ca.pem" \
                --probe.key.id exchange-uplink --probe.secret.file "$T/uplink.secret"
        osh_it_start_service anonymizer anonymizer --segment processing "${common[@]}" \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING" \
                --anon.rules "$src/services/anonymizer/rules/rules-v2.conf" \
                --anon.hmac.key.file "$T/pseudonym.key"
        osh_it_start_service relay-p2x relay-bridge --mode kafka --instance relay-p2x \
                --segment processing "${common[@]}" --source.segment processing \
                --target.segment exchange \
                --allow resident.abstracted.v1,batch.control.v1,privacy.report.v1,ops.status.v1 \
                --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING" \
                --kafka.target.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE"
        osh_it_start_service relay-c2p relay-bridge --mode kafka --instance relay-c2p \
                --segment core "${common[@]}" --source.segment core --target.segment processing \
                --allow resident.raw.v1,batch.control.v1,ops.status.v1 \
                --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_CORE" \
                --kafka.target.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING"
        mkdir -p "$T/drop-$r"
        osh_it_start_service extractor extractor --segment core "${common[@]}" \
                --input "$T/drop-$r" --watch --poll.interval "${poll}ms" \
                --ledger "$T/extractor-$r.ledger" --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CORE"
}

# Every consumer has joined its group (~3 s on the mock) before the drop,
# as in a running deployment.
assigned() {
        local s
        for s in relay-c2p anonymizer relay-p2x uplink monitor segmenter sns-dispatcher; do
                grep -q 'assigned [0-9]* partition' "$(osh_it_log "$s")" || return 1
        done
}

# SIGTERM each process and wait; exit codes are the tests' business, and
# one that needs SIGKILL after the grace time is reported.
stop_all() {
        local s pid
        for s in "${services[@]}"; do
                pid=${OSH_IT_PIDS[$s]:-}
                [ -n "$pid" ] || continue
                kill -TERM "$pid" 2>/dev/null || true
                osh_it_wait_until "$OSH_IT_GRACE" _osh_dead "$pid" ||
                        { echo "  $s needed SIGKILL" >&2; kill -KILL -- "-$pid" 2>/dev/null || true; }
                wait "$pid" 2>/dev/null || echo "  $s exited with code $? (see its log)" >&2
                unset "OSH_IT_PIDS[$s]"
        done
        return 0
}

# Log timestamp (ISO, ms, UTC) of the first line matching RE -> unix ms.
log_ms() { # NAME RE
        local ts
        ts=$(grep -m1 -E "$2" "$(osh_it_log "$1")" | grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' |
                head -n1) || true
        [ -n "$ts" ] && date -u -d "$ts" +%s%3N || echo ""
}

declare -A fig=() # "round event" -> ms after the drop
events=()
note() { # ROUND EVENT MS
        [[ " ${events[*]} " == *" $2 "* ]] || events+=("$2")
        fig["$1 $2"]=$3
}

for ((r = 0; r < rounds + (rounds > 1 ? 1 : 0); r++)); do
        start_all "$r"
        osh_it_wait_until 60 assigned || fail "round $r: consumers did not join their groups"
        "$OSH_BIN/bench-pipeline-watch" --until cloud:resident.abstracted.v1 --timeout 600 \
                core="$OSH_BOOTSTRAP_CORE" processing="$OSH_BOOTSTRAP_PROCESSING" \
                exchange="$OSH_BOOTSTRAP_EXCHANGE" cloud="$OSH_BOOTSTRAP_CLOUD" >"$T/watch-$r.out" &
        wpid=$!
        until [ -s "$T/watch-$r.out" ]; do sleep 0.05; done
        declare -A cpu0=()
        for s in "${services[@]}"; do cpu0[$s]=$(cpu_ticks "$s"); done
        cp -r "$T/city" "$T/batch-$today"
        sync
        t_drop=$(date +%s%3N)
        mv "$T/batch-$today" "$T/drop-$r/batch-$today"
        wait "$wpid" || fail "round $r: the batch did not reach the cloud (see $T)"
        # The snapshot swap follows the cloud END marker; its log line may lag.
        swap=""
        for _ in $(seq 1 200); do
                swap=$(log_ms segmenter 'snapshot .*: [0-9]+ residents')
                [ -n "$swap" ] && break
                sleep 0.05
        done
        declare -A cpu1=()
        for s in "${services[@]}"; do cpu1[$s]=$(cpu_ticks "$s"); done
        label=$([ "$rounds" -gt 1 ] && [ "$r" = 0 ] && echo " (warm-up)" || echo "")
        # Each stage's own time: from the END it waits for (the same topic
        # one segment up; the anonymizer waits for the raw END on processing;
        # the snapshot swap for the abstracted END on the cloud) to its own.
        echo "round $r$label: ms after the drop, +ms of the stage or hop itself"
        declare -A last=()
        while read -r ms cluster _ topic _ count; do
                [ "$cluster" = watching ] && continue
                from=${last[$topic]:-}
                [ -z "$from" ] && [ "$topic" = resident.abstracted.v1 ] &&
                        from=${last["resident.raw.v1@processing"]:-}
                from=${from:-$t_drop}
                printf '  %-44s %8d ms %+7d  (%s records)\n' "END $topic @ $cluster" $((ms - t_drop)) \
                        $((ms - from)) "$count"
                note "$r" "END:$topic@$cluster" $((ms - t_drop))
                note "$r" "+stage:$topic@$cluster" $((ms - from))
                last[$topic]=$ms
                last["$topic@$cluster"]=$ms
        done <"$T/watch-$r.out"
        if [ -n "$swap" ]; then
                from=${last["resident.abstracted.v1@cloud"]:-$t_drop}
                printf '  %-44s %8d ms %+7d\n' "segmenter snapshot swap" $((swap - t_drop)) $((swap - from))
                note "$r" "snapshot-swap" $((swap - t_drop))
                note "$r" "+stage:snapshot-swap" $((swap - from))
        else
                echo "  segmenter snapshot swap: no log line"
        fi
        printf '  CPU-s:'
        total=0
        for s in "${services[@]}"; do
                d=$((cpu1[$s] - cpu0[$s]))
                total=$((total + d))
                printf ' %s %.2f' "$s" "$(echo "$d / $hz" | bc -l)"
                note "$r" "cpu:$s" $((d * 1000 / hz))
        done
        printf ' | total %.2f\n' "$(echo "$total / $hz" | bc -l)"
        note "$r" "cpu:total" $((total * 1000 / hz))
        stop_all
        [ "${OSH_IT_KEEP:-0}" = 1 ] && mkdir -p "$T/round-$r" && mv "$T"/*.log "$T/round-$r/"
        unset cpu0 cpu1 last
done

if [ "$rounds" -gt 1 ]; then
        echo "medians of $rounds round(s) after the warm-up (min-max); load $(cut -d' ' -f1-3 /proc/loadavg)"
        for e in "${events[@]}"; do
                vals=$(for ((r = 1; r <= rounds; r++)); do echo "${fig["$r $e"]:-}"; done | grep . | sort -n)
                [ -n "$vals" ] || continue
                n=$(echo "$vals" | wc -l)
                med=$(echo "$vals" | awk -v n="$n" '{v[NR]=$1} END{print (n%2 ? v[(n+1)/2] : (v[n/2]+v[n/2+1])/2)}')
                unit=ms
                [[ $e == cpu:* ]] && unit="CPU-ms"
                printf '  %-44s %8s %s  (%s-%s)\n' "$e" "$med" "$unit" "$(echo "$vals" | head -n1)" \
                        "$(echo "$vals" | tail -n1)"
        done
fi
swaps=$(for ((r = rounds > 1 ? 1 : 0; r <= rounds; r++)); do echo "${fig["$r snapshot-swap"]:-}"; done |
        grep . | sort -n || true)
if [ -z "$swaps" ]; then
        verdict="no snapshot swap seen"
elif [ "$(echo "$swaps" | tail -n1)" -le 5000 ]; then
        verdict=met
elif [ "$(echo "$swaps" | head -n1)" -gt 5000 ]; then
        verdict="NOT met"
else
        verdict="range crosses the target"
fi
echo "goal: the batch in the cloud snapshot within 5000 ms of the drop on 2 cores: $verdict"
