#!/usr/bin/env bash
# processing -> exchange -> cloud with the real binaries: relay-bridge
# (kafka -> kafka), relay-bridge (uplink, HTTPS with a test CA and an HMAC
# token) and cloud-ingest, on the embedded broker's four clusters.
# - every allowed record reaches the cloud topic with the same key,
#   timestamp, partition and value bytes; a foreign schema stops at the
#   first relay;
# - cloud-ingest down for a while (and the uplink killed -9 meanwhile): the
#   uplink spools, then delivers in order once cloud-ingest is back; the
#   cloud topic holds each source record exactly once;
# - personal data (raw topic, raw fingerprint smuggled onto an allowed topic)
#   appears in no topic of the exchange or cloud cluster and in no log.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker

ctl="$OSH_BIN/osh-ctl"
P=$OSH_BOOTSTRAP_PROCESSING
X=$OSH_BOOTSTRAP_EXCHANGE
CL=$OSH_BOOTSTRAP_CLOUD
T=resident.abstracted.v1
C=$OSH_IT_TMP/certs
"$OSH_SOURCE_DIR/tests/integration/certs/gen.sh" "$C"
printf 'e2e-secret\n' >"$OSH_IT_TMP/secret"
printf 'relay-e2e e2e-secret\n' >"$OSH_IT_TMP/keys"
PORT=$(osh_it_free_port)

gen() { # FROM TO
        awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
                printf "{\"user_id\":\"E%06d\",\"batch_id\":\"B7\",\"reference_date\":20100,\"values\":[%d,%d,%d]}\n", i, i % 3, i % 11, i % 97 }' |
                "$ctl" produce --bootstrap "$P" --topic $T --key.field user_id 2>>"$OSH_IT_TMP/ctl.err" ||
                fail "produce: $(tail -3 "$OSH_IT_TMP/ctl.err")"
}
count() { # BOOTSTRAP TOPIC: records over all partitions (kcat: quick to exit)
        timeout 20 kcat -C -q -b "$1" -t "$2" -o beginning -e -f '.
' | wc -l
}
count_ge() { # BOOTSTRAP TOPIC MIN
        (($(count "$1" "$2") >= $3))
}
# key, timestamp, partition and decoded value; offsets and headers differ per hop.
dump() { # BOOTSTRAP COUNT
        "$ctl" consume --bootstrap "$1" --topic $T --count "$2" --timeout 30s |
                sed -E 's/"offset":[0-9]+,//; s/"headers":\{[^}]*\},//' | grep -v '"EVIL"\|"key":"K2"' | sort
}
vbytes() { # BOOTSTRAP
        timeout 20 kcat -C -q -b "$1" -t $T -o beginning -e -f '%k %S\n' |
                awk '$1 != "EVIL" && $1 != "K2" { s += $2 } END { print s + 0 }'
}
start_ingest() {
        osh_it_start_service "$1" cloud-ingest --listen.port "$PORT" --tls.cert "$C/server.pem" \
                --tls.key "$C/server.key" --auth.keys.file "$OSH_IT_TMP/keys" \
                --kafka.bootstrap.servers "$CL" --segment cloud --heartbeat.interval 1s
}

cat >"$OSH_IT_TMP/k2k.conf" <<EOF
mode = kafka
source.segment = processing
target.segment = exchange
allow = resident.abstracted.v1, batch.control.v1
kafka.source.bootstrap.servers = $P
kafka.target.bootstrap.servers = $X
EOF
cat >"$OSH_IT_TMP/uplink.conf" <<EOF
mode = uplink
source.segment = exchange
target.segment = cloud
allow = resident.abstracted.v1, batch.control.v1
kafka.source.bootstrap.servers = $X
uplink.url = https://127.0.0.1:$PORT
uplink.ca = $C/ca.pem
uplink.key.id = relay-e2e
uplink.secret.file = $OSH_IT_TMP/secret
uplink.timeout = 5s
batch.max.records = 150
batch.linger = 200ms
spool.dir = $OSH_IT_TMP/spool
retry.base = 100ms
retry.max = 1s
probe.interval = 1s
probe.file = $OSH_IT_TMP/probe.json
EOF

gen 1 1200
# Personal data on the processing side: on resident.raw.v1 (never subscribed
# beyond processing) and smuggled onto an allowed topic under the raw
# schema's fingerprint (refused). Neither may appear past processing.
PII='山田太郎-PII-MARKER'
printf 'K1\t%s\n' "$PII" | osh_it_produce "$P" resident.raw.v1 0
fp=$("$ctl" schemas | awk '$3 == "resident.raw.v1" && $4 == "current" { print $1 }')
# shellcheck disable=SC2001 # pairs of hex digits, reversed
le=$(sed 's/../& /g' <<<"$fp" | awk '{ for (i = NF; i >= 1; i--) printf "\\x%s", $i }')
printf "K2\t\xc3\x01${le}%s\n" "$PII" | osh_it_produce "$P" $T 0
printf '%s\n' '{"batch_id":"EVIL","kind":"START","topic":"x","record_count":1,"checksum":"00","checksum_algorithm":"x","reference_date":1,"extract_time":1,"full_snapshot":true,"producer":"t","instance":"t"}' |
        "$ctl" produce --bootstrap "$P" --topic $T --schema jp.oshirase.BatchControl --key.field batch_id 2>/dev/null
start_ingest ingest
osh_it_start_service k2k relay-bridge --config "$OSH_IT_TMP/k2k.conf"
osh_it_start_service uplink relay-bridge --config "$OSH_IT_TMP/uplink.conf"
osh_it_wait_until 40 count_ge "$CL" $T 1200 ||
        fail "cloud has $(count "$CL" $T) of 1200 records"
assert_eq 1200 "$(count "$X" $T)" "exchange: allowed records only"
assert_eq 1200 "$(count "$CL" $T)" "cloud: allowed records only"
dump "$P" 1202 >"$OSH_IT_TMP/p.dump"
dump "$CL" 1200 >"$OSH_IT_TMP/c.dump"
assert_eq 1200 "$(wc -l <"$OSH_IT_TMP/c.dump")"
assert_eq "$(sha256sum <"$OSH_IT_TMP/p.dump")" "$(sha256sum <"$OSH_IT_TMP/c.dump")" \
        "key/timestamp/partition/value identical from processing to cloud"
assert_eq "$(vbytes "$P")" "$(vbytes "$CL")" "value bytes identical"
osh_it_wait_until 10 grep -q '"ok": *true' "$OSH_IT_TMP/probe.json" || fail "no probe answer from cloud-ingest"

# Cloud down; the uplink spools, is killed -9, comes back, still down.
osh_it_stop_service ingest
gen 1201 1800
osh_it_wait_until 30 bash -c "(( \$(find '$OSH_IT_TMP/spool' -maxdepth 1 -name '*.spl' | wc -l) >= 4 ))" ||
        fail "uplink did not spool while the cloud was down"
osh_it_kill_service uplink
osh_it_start_service uplink2 relay-bridge --config "$OSH_IT_TMP/uplink.conf"
sleep 2
assert_eq 1200 "$(count "$CL" $T)" "nothing new while cloud-ingest is down"
start_ingest ingest2
osh_it_wait_until 40 count_ge "$CL" $T 1800 ||
        fail "after the outage the cloud has $(count "$CL" $T) of 1800 records"
osh_it_wait_until 10 bash -c "(( \$(find '$OSH_IT_TMP/spool' -maxdepth 1 -name '*.spl' | wc -l) == 0 ))" ||
        fail "spool not drained"
sleep 1
assert_eq 1800 "$(count "$CL" $T)" "each record exactly once in the cloud"
dump "$P" 1802 >"$OSH_IT_TMP/p.dump"
dump "$CL" 1800 >"$OSH_IT_TMP/c.dump"
assert_eq "$(sha256sum <"$OSH_IT_TMP/p.dump")" "$(sha256sum <"$OSH_IT_TMP/c.dump")" "no loss, no change"
# In order: within each cloud partition, the exchange offsets only increase.
bad=$(timeout 20 kcat -C -q -b "$CL" -t $T -o beginning -e -f '%p %h\n' |
        sed -E 's/^([0-9]+) .*osh\.src=[^,]*\/([0-9]+)(,.*)?$/\1 \2/' |
        awk '($1 in o) && $2 <= o[$1] { bad++ } { o[$1] = $2 } END { print bad + 0 }')
assert_eq 0 "$bad" "records out of order in the cloud"
osh_it_stop_service uplink2
osh_it_stop_service k2k
osh_it_stop_service ingest2

# PII scan: every topic on the exchange and cloud clusters, every log line.
for bs in "$X" "$CL"; do
        for t in $(kcat -L -b "$bs" 2>/dev/null | sed -nE 's/^  topic "([^"]+)".*/\1/p'); do
                if timeout 20 kcat -C -q -b "$bs" -t "$t" -o beginning -e -f '%k %s %h\n' | grep -aq 'PII-MARKER'; then
                        fail "personal data crossed into $t at $bs"
                fi
        done
done
OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
assert_not_contains "$(cat "$OSH_IT_TMP"/*.log)" "PII-MARKER" "personal data in a log"
assert_contains "$(cat "$(osh_it_log k2k)")" "fingerprint not allowed"
