#!/usr/bin/env bash
# relay-bridge kafka mode, kill -9 mid-stream (a slow target producer: one
# record in flight at a time; killed once a quarter of the records crossed),
# then a restart: the target topics hold exactly what a clean crossing holds,
# i.e. the source records once each: the same count per partition, the same
# (partition, key, value) set, one record per source offset (osh.src), and
# the batch markers once with their END count. The restarted relay reads the
# target's tail back and does not send again what is there.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker

ctl="$OSH_BIN/osh-ctl"
P=$OSH_BOOTSTRAP_PROCESSING
X=$OSH_BOOTSTRAP_EXCHANGE
T=resident.abstracted.v1
N=8000

awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++)
        printf "{\"user_id\":\"U%06d\",\"batch_id\":\"B1\",\"reference_date\":20000,\"values\":[%d,%d]}\n", i, i % 7, i % 100 }' |
        "$ctl" produce --bootstrap "$P" --topic $T --key.field user_id --batch B1 \
                --batch.reference.date 20000 2>"$OSH_IT_TMP/ctl.err" ||
        fail "osh-ctl produce: $(tail -3 "$OSH_IT_TMP/ctl.err")"

count() { # BOOTSTRAP TOPIC [PARTITION]
        "$ctl" watermarks --bootstrap "$1" --topic "$2" |
                awk -v p="${3:--1}" 'p < 0 || $2 == p { n += $4 - $3 } END { print n + 0 }'
}
per_part() { "$ctl" watermarks --bootstrap "$1" --topic "$2" | awk '{ print $2, $4 - $3 }'; }
# partition, key, value: what a crossing must keep (offsets and headers differ)
pkv() { timeout 30 kcat -C -q -b "$1" -t "$2" -o beginning -e -f '%p %k %s\n' | sort; }
assert_eq $N "$(count "$P" $T)" "source records"

cat >"$OSH_IT_TMP/relay.conf" <<EOF2
mode = kafka
source.segment = processing
target.segment = exchange
allow = resident.abstracted.v1, batch.control.v1
heartbeat.interval = 1s
kafka.source.bootstrap.servers = $P
kafka.target.bootstrap.servers = $X
EOF2

osh_it_start_service r1 relay-bridge --config "$OSH_IT_TMP/relay.conf" \
        --kafka.target.queue.buffering.max.messages 1 --kafka.target.linger.ms 1
quarter=$((N / 4))
part_ge() { (($(count "$X" $T) >= quarter)); }
osh_it_wait_until 40 part_ge || fail "r1 relayed fewer than $quarter records"
osh_it_kill_service r1
partial=$(count "$X" $T)
((partial < N)) || fail "r1 relayed everything before the kill: the slow output was not slow"
_osh_log "killed r1 after $partial of $N records"

osh_it_start_service r2 relay-bridge --config "$OSH_IT_TMP/relay.conf"
all() { (($(count "$X" $T) >= N)) && (($(count "$X" batch.control.v1) >= 2)); }
osh_it_wait_until 40 all || fail "r2 did not finish the crossing"
osh_it_stop_service r2 # flushes: anything still in flight is on the topic now

assert_eq "$(per_part "$P" $T)" "$(per_part "$X" $T)" "records per partition as on the source"
assert_eq "$(count "$P" batch.control.v1)" "$(count "$X" batch.control.v1)" "markers once each"
assert_eq "$(pkv "$P" $T | md5sum)" "$(pkv "$X" $T | md5sum)" "(partition, key, value) set"
coords=$(timeout 30 kcat -C -q -b "$X" -t $T -o beginning -e -f '%h\n' |
        grep -o 'osh\.src=[^,]*' | sort -u | wc -l)
assert_eq $N "$coords" "one record per source offset"
ends() { "$ctl" consume --bootstrap "$1" --topic batch.control.v1 --timeout 10s 2>/dev/null |
        jq -r 'select(.value.kind == "END") | "\(.value.batch_id) \(.value.record_count)"'; }
assert_eq "$(ends "$P")" "$(ends "$X")" "END record counts"
grep -q "not sending those again" "$(osh_it_log r2)" || fail "r2 did not resume from the target"
grep -q "already on the target" "$(osh_it_log r2)" || fail "r2 did not report what it skipped"
_osh_log "$(grep -o 'relayed [0-9]* of [0-9]* record(s), [0-9]* already on the target' "$(osh_it_log r2)")"
