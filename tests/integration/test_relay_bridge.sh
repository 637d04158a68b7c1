#!/usr/bin/env bash
# relay-bridge kafka -> kafka, processing -> exchange, on the embedded broker:
# - every allowed record arrives with the same partition, key, timestamp and
#   value bytes (counts, byte sums and sorted record dumps compared);
# - a record with a foreign schema, non-Avro bytes and a topic that is not on
#   the allow-list are refused (logged, counted) and do not block the rest;
# - kill -9 mid-stream + restart: nothing lost; duplicates (at-least-once)
#   are byte-identical and share their osh.src coordinates;
# - refused records can go to a dead-letter topic on the source cluster;
# - configurations that would let raw data leave processing are refused.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker

ctl="$OSH_BIN/osh-ctl"
P=$OSH_BOOTSTRAP_PROCESSING
X=$OSH_BOOTSTRAP_EXCHANGE
T=resident.abstracted.v1

gen() { # FROM TO: abstracted records as JSON lines
        awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
                printf "{\"user_id\":\"U%06d\",\"batch_id\":\"B1\",\"reference_date\":20000,\"values\":[%d,%d]}\n", i, i % 7, i % 100 }'
}
produce() { # BOOTSTRAP TOPIC [ctl args]: JSON lines on stdin
        local bs=$1 t=$2
        shift 2
        "$ctl" produce --bootstrap "$bs" --topic "$t" --key.field user_id "$@" 2>>"$OSH_IT_TMP/ctl.err" ||
                fail "osh-ctl produce to $t: $(tail -3 "$OSH_IT_TMP/ctl.err")"
}
# topic, partition, timestamp, key and value (decoded from the Avro bytes),
# sorted: the relay must keep all of these. Offsets and headers differ.
dump() { # BOOTSTRAP TOPIC COUNT (osh-ctl's end detection stops early under load)
        "$ctl" consume --bootstrap "$1" --topic "$2" --count "$3" --timeout 1h |
                sed -E 's/"offset":[0-9]+,//; s/"headers":\{[^}]*\},//' | sort
}
count() { # BOOTSTRAP TOPIC: records over all partitions (kcat: quick to exit)
        timeout 20 kcat -C -q -b "$1" -t "$2" -o beginning -e -f '.
' | wc -l
}
count_ge() { # BOOTSTRAP TOPIC MIN
        (($(count "$1" "$2") >= $3))
}
bytes() { # BOOTSTRAP TOPIC: sum of value lengths
        timeout 20 kcat -C -q -b "$1" -t "$2" -o beginning -e -f '%S\n' | awk '{ s += $1 } END { print s + 0 }'
}

cat >"$OSH_IT_TMP/relay.conf" <<EOF
mode = kafka
source.segment = processing
target.segment = exchange
allow = resident.abstracted.v1, batch.control.v1
heartbeat.interval = 1s
kafka.source.bootstrap.servers = $P
kafka.target.bootstrap.servers = $X
EOF

# Refused at start-up: raw beyond processing (by topic and by schema), a
# skipped segment, uplink mode toward another cluster.
refuse() { # EXPECTED-LOG-TEXT ARGS...
        local want=$1 rc=0
        shift
        "$OSH_BIN/relay-bridge" --config "$OSH_IT_TMP/relay.conf" "$@" 2>"$OSH_IT_TMP/refuse.log" || rc=$?
        assert_eq 2 "$rc" "relay-bridge $* should refuse to start"
        assert_contains "$(cat "$OSH_IT_TMP/refuse.log")" "$want"
}
refuse "personal data" --allow resident.raw.v1
refuse "personal data" --allow "resident.abstracted.v1@jp.oshirase.ResidentRaw"
refuse "personal data" --allow resident.rejects.v1,batch.control.v1 --check
refuse "not a crossing" --source.segment core
refuse "uplink" --mode uplink
refuse "unknown schema" --allow "resident.abstracted.v1@no.such.Schema"
"$OSH_BIN/relay-bridge" --config "$OSH_IT_TMP/relay.conf" --check >"$OSH_IT_TMP/check.out" 2>&1 ||
        fail "--check of a good configuration failed"

# Allowed data, plus three kinds of refusal in between.
gen 1 1500 | produce "$P" $T
printf '%s\n' '{"batch_id":"B1","kind":"START","topic":"resident.abstracted.v1","record_count":1500,"checksum":"00","checksum_algorithm":"x","reference_date":20000,"extract_time":1,"full_snapshot":true,"producer":"t","instance":"t"}' |
        produce "$P" batch.control.v1 --key.field batch_id
printf '%s\n' '{"batch_id":"EVIL","kind":"START","topic":"x","record_count":1,"checksum":"00","checksum_algorithm":"x","reference_date":1,"extract_time":1,"full_snapshot":true,"producer":"t","instance":"t"}' |
        produce "$P" $T --key.field batch_id --schema jp.oshirase.BatchControl
printf 'K\tnot avro at all\n' | osh_it_produce "$P" $T 2
printf '{"k":1}\n' | osh_it_produce "$P" privacy.report.v1 0
gen 1501 2000 | produce "$P" $T
src_n=$(count "$P" $T)
assert_eq 2002 "$src_n" "source records (2000 good + 2 bad)"

osh_it_start_service relay relay-bridge --config "$OSH_IT_TMP/relay.conf"
osh_it_wait_until 30 count_ge "$X" $T 2000 ||
        fail "target did not reach 2000 records"
osh_it_wait_until 10 bash -c "[[ \$(grep -c refused '$(osh_it_log relay)') -ge 2 ]]" || fail "no refusals logged"
assert_eq 2000 "$(count "$X" $T)" "exactly the allowed records arrived"
assert_eq 1 "$(count "$X" batch.control.v1)" "the batch marker crossed"
assert_eq 0 "$(count "$X" privacy.report.v1)" "a topic off the allow-list does not cross"
log=$(cat "$(osh_it_log relay)")
assert_contains "$log" "fingerprint not allowed"
assert_contains "$log" "not-avro not allowed"
assert_not_contains "$log" "EVIL" "refusal logs carry no payload"
assert_not_contains "$log" "not avro at all" "refusal logs carry no payload"

# Same partition, key, timestamp and value; same total bytes.
dump "$P" $T 2002 | grep -v '"EVIL"' | grep -v '"partition":2,"timestamp":[0-9]*,"key":"K"' >"$OSH_IT_TMP/src.dump" || true
dump "$X" $T 2000 >"$OSH_IT_TMP/dst.dump"
assert_eq 2000 "$(wc -l <"$OSH_IT_TMP/src.dump")" "source dump without the refused ones"
assert_eq "$(sha256sum <"$OSH_IT_TMP/src.dump")" "$(sha256sum <"$OSH_IT_TMP/dst.dump")" \
        "partition/key/timestamp/value identical on arrival"
good_bytes=$(timeout 20 kcat -C -q -b "$P" -t $T -o beginning -e -f '%k %S\n' |
        awk '$1 != "EVIL" && $1 != "K" { s += $2 } END { print s + 0 }')
assert_eq "$good_bytes" "$(bytes "$X" $T)" "value bytes identical"
hdr=$(timeout 20 kcat -C -q -b "$X" -t $T -p 0 -o beginning -c 1 -e -f '%h\n')
assert_contains "$hdr" "osh.src=processing/$T/0/"

# Heartbeat on the source cluster counts the refusals.
hb=$("$ctl" consume --bootstrap "$P" --topic ops.status.v1 --timeout 1h | grep relay-bridge | tail -1)
assert_contains "$hb" '"refused_fingerprint":1'

# kill -9 mid-stream: keep producing while the relay dies and comes back.
(for c in $(seq 0 9); do gen $((3000 + c * 300)) $((3299 + c * 300)) | produce "$P" $T; sleep 0.3; done) &
feeder=$!
sleep 1
osh_it_kill_service relay
sleep 0.5
osh_it_start_service relay2 relay-bridge --config "$OSH_IT_TMP/relay.conf"
wait $feeder
want=$((2000 + 3000))
osh_it_wait_until 40 count_ge "$X" $T $want ||
        fail "target did not catch up after the restart"
sleep 2 # let in-flight duplicates land
osh_it_stop_service relay2

# No loss: every source record (by partition + value) is in the target.
dump "$P" $T $((want + 2)) | grep -v '"EVIL"' | grep -v '"partition":2,"timestamp":[0-9]*,"key":"K"' | sort -u >"$OSH_IT_TMP/src2"
dump "$X" $T "$(count "$X" $T)" | sort -u >"$OSH_IT_TMP/dst2"
assert_eq "$want" "$(wc -l <"$OSH_IT_TMP/src2")" "distinct source records"
assert_eq "" "$(comm -23 "$OSH_IT_TMP/src2" "$OSH_IT_TMP/dst2" | head -3)" "records lost"
assert_eq "" "$(comm -13 "$OSH_IT_TMP/src2" "$OSH_IT_TMP/dst2" | head -3)" "records invented"
# Duplicates: same source coordinates <=> same bytes.
timeout 20 kcat -C -q -b "$X" -t $T -o beginning -e -f '%h %k %S %T\n' |
        sed -E 's/.*osh\.src=[^,]*\/([^/,]+)\/([0-9]+)\/([0-9]+)[^ ]* /\1:\2:\3 /' |
        sort -u >"$OSH_IT_TMP/coords"
dup_coords=$(cut -d' ' -f1 "$OSH_IT_TMP/coords" | sort | uniq -d | wc -l)
assert_eq 0 "$dup_coords" "two different records share source coordinates"
assert_eq "$want" "$(wc -l <"$OSH_IT_TMP/coords")" "one distinct record per source offset"
_osh_log "target holds $(count "$X" $T) records for $want source records (duplicates from the kill: $(($(count "$X" $T) - want)))"

# Dead letters: refused records copied to a topic on the SOURCE cluster, with
# the reason in a header (a fresh group re-reads everything).
osh_it_start_service relay3 relay-bridge --config "$OSH_IT_TMP/relay.conf" \
        --group.id relay-dlq-test --dead.letter.topic relay.refused.v1
osh_it_wait_until 30 count_ge "$P" relay.refused.v1 2 || fail "no dead letters on the source cluster"
osh_it_stop_service relay3
assert_eq 2 "$(count "$P" relay.refused.v1)" "the two refused records, once each"
dl=$(timeout 20 kcat -C -q -b "$P" -t relay.refused.v1 -o beginning -e -f '%h\n')
assert_contains "$dl" "osh.relay.refused=fingerprint"
assert_contains "$dl" "osh.relay.refused=not-avro"
assert_eq 0 "$(count "$X" relay.refused.v1)" "dead letters stay on the source side"
