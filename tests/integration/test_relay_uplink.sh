#!/usr/bin/env bash
# relay-bridge uplink, exchange -> cloud over HTTPS (TLS on loopback, test CA
# generated here), against the cloud-ingest stand-in osh-stub-ingest:
# - every allowed record arrives once, with its offset and value size and
#   bytes (sampled by SHA-256); a foreign schema is refused;
# - cloud down (503 + Retry-After): the relay spools to disk, raises the
#   alarm (DEGRADED heartbeat), pauses consumption when the spool is full
#   (nothing dropped), survives kill -9 with a full spool, and once
#   the cloud is back delivers the spool in order (sequences and offsets
#   increase), then the spool is empty;
# - mutual TLS instead of the HMAC token; the probe result file.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker

ctl="$OSH_BIN/osh-ctl"
X=$OSH_BOOTSTRAP_EXCHANGE
T=resident.abstracted.v1
C=$OSH_IT_TMP/certs
"$OSH_SOURCE_DIR/tests/integration/certs/gen.sh" "$C"
printf 's3cret-for-tests\n' >"$OSH_IT_TMP/secret"

gen() { # FROM TO
        awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
                printf "{\"user_id\":\"U%06d\",\"batch_id\":\"B1\",\"reference_date\":20000,\"values\":[%d]}\n", i, i % 50 }' |
                "$ctl" produce --bootstrap "$X" --topic $T --key.field user_id 2>>"$OSH_IT_TMP/ctl.err" ||
                fail "produce: $(tail -3 "$OSH_IT_TMP/ctl.err")"
}
arrived() { [[ -f $OSH_IT_TMP/arrived ]] && wc -l <"$OSH_IT_TMP/arrived" || echo 0; }
spooled() { find "$OSH_IT_TMP/spool" -maxdepth 1 -name '*.spl' | wc -l; }

osh_it_start_service cloud osh-stub-ingest --cert "$C/server.pem" --key "$C/server.key" \
        --client-ca "$C/ca.pem" --key-id relay-1 --secret s3cret-for-tests \
        --port-file "$OSH_IT_TMP/cloud.ready" --out "$OSH_IT_TMP/arrived" --down-file "$OSH_IT_TMP/down"
port=$(cat "$OSH_IT_TMP/cloud.ready")

cat >"$OSH_IT_TMP/uplink.conf" <<EOF
mode = uplink
source.segment = exchange
target.segment = cloud
allow = resident.abstracted.v1, batch.control.v1
heartbeat.interval = 1s
kafka.source.bootstrap.servers = $X
uplink.url = https://127.0.0.1:$port
uplink.ca = $C/ca.pem
uplink.key.id = relay-1
uplink.secret.file = $OSH_IT_TMP/secret
uplink.timeout = 5s
batch.max.records = 100
batch.linger = 200ms
spool.dir = $OSH_IT_TMP/spool
spool.alarm.bytes = 4k
# Small bound: the outage below fills it, so consumption must pause.
spool.max.bytes = 30k
batch.max.bytes = 16k
spool.fsync = false
retry.base = 100ms
retry.max = 1s
probe.interval = 1s
probe.file = $OSH_IT_TMP/probe.json
EOF

gen 1 1000
printf '%s\n' '{"batch_id":"EVIL","kind":"START","topic":"x","record_count":1,"checksum":"00","checksum_algorithm":"x","reference_date":1,"extract_time":1,"full_snapshot":true,"producer":"t","instance":"t"}' |
        "$ctl" produce --bootstrap "$X" --topic $T --schema jp.oshirase.BatchControl --key.field batch_id 2>/dev/null
osh_it_start_service relay relay-bridge --config "$OSH_IT_TMP/uplink.conf"
osh_it_wait_until 30 bash -c "[[ \$(wc -l <'$OSH_IT_TMP/arrived' 2>/dev/null || echo 0) -ge 1000 ]]" ||
        fail "only $(arrived) of 1000 records arrived"
osh_it_wait_until 10 grep -q 'fingerprint not allowed' "$(osh_it_log relay)" || fail "refusal not logged"

# Offsets and sizes identical; values identical (sampled).
timeout 20 kcat -C -q -b "$X" -t $T -o beginning -e -f '%t %p %o %S %k\n' | grep -v ' EVIL$' |
        cut -d' ' -f1-4 | sort >"$OSH_IT_TMP/src"
cut -d' ' -f2-5 "$OSH_IT_TMP/arrived" | sort >"$OSH_IT_TMP/dst"
assert_eq 1000 "$(wc -l <"$OSH_IT_TMP/src")"
assert_eq "$(sha256sum <"$OSH_IT_TMP/src")" "$(sha256sum <"$OSH_IT_TMP/dst")" "topic/partition/offset/size on arrival"
for n in 1 250 700; do
        read -r _ t p o _ sum < <(sed -n "${n}p" "$OSH_IT_TMP/arrived")
        got=$(timeout 10 kcat -C -q -b "$X" -t "$t" -p "$p" -o "$o" -c 1 -e -f '%s' | sha256sum | cut -d' ' -f1)
        assert_eq "$sum" "$got" "value bytes of ${t}[${p}]@${o}"
done
osh_it_wait_until 10 grep -q '"ok": *true' "$OSH_IT_TMP/probe.json" || fail "no successful probe: $(cat "$OSH_IT_TMP/probe.json" 2>&1)"
assert_contains "$(cat "$OSH_IT_TMP/probe.json")" '"records_published"'

# Outage: 503 with Retry-After. New records pile up in the spool.
touch "$OSH_IT_TMP/down"
gen 1001 1600
osh_it_wait_until 20 grep -q 'consumption paused (full)' "$(osh_it_log relay)" ||
        fail "spool did not fill during the outage ($(spooled) entries)"
assert_eq 0 "$(du -sb --exclude='*.tmp' "$OSH_IT_TMP/spool" | awk '{ print ($1 > 40 * 1024) }')" "spool over its bound"
assert_eq 1000 "$(arrived)" "nothing arrives while the cloud is down"
degraded() { # any relay-bridge heartbeat so far in state DEGRADED
        local n
        n=$(timeout 10 kcat -C -q -b "$X" -t ops.status.v1 -o beginning -e -f '.\n' | wc -l)
        # grep -c reads to the end: with grep -q an early match would SIGPIPE
        # the writer, and pipefail would call the match a failure
        (("$("$ctl" consume --bootstrap "$X" --topic ops.status.v1 --count "$n" --timeout 10s |
                grep relay-bridge | grep -c '"state":"DEGRADED"')" > 0))
}
osh_it_wait_until 10 degraded || fail "no DEGRADED heartbeat during the outage"
assert_contains "$(cat "$(osh_it_log relay)")" "above alarm threshold"
osh_it_wait_until 5 grep -q '"ok": *false' "$OSH_IT_TMP/probe.json" || fail "probe did not see the outage"

# kill -9 with a full spool, restart still down, then the cloud comes back.
osh_it_kill_service relay
gen 1601 1700
# A first retry 10-20 s away (retry.base 20s): the spool must go as soon as
# the probe (every 1 s) sees the cloud back, not when that timer runs out.
osh_it_start_service relay2 relay-bridge --config "$OSH_IT_TMP/uplink.conf" --retry.base 20s \
        --retry.max 60s
sleep 4
assert_eq 1000 "$(arrived)" "still nothing while down"
rm -f "$OSH_IT_TMP/down"
t_back=$(date +%s.%N)
osh_it_wait_until 30 bash -c "[[ \$(wc -l <'$OSH_IT_TMP/arrived') -gt 1000 ]]" ||
        fail "nothing arrived 30 s after the cloud came back"
resumed=$(echo "$(date +%s.%N) - $t_back" | bc)
echo "[test_relay_uplink] resumed ${resumed}s after the cloud came back (probe every 1 s)" >&2
awk -v r="$resumed" 'BEGIN { exit !(r < 4) }' ||
        fail "resumed ${resumed}s after the cloud came back: not on the probe (1 s) but the back-off"
osh_it_wait_until 30 bash -c "[[ \$(wc -l <'$OSH_IT_TMP/arrived') -ge 1700 ]]" ||
        fail "after the outage only $(arrived) of 1700 records arrived"
osh_it_wait_until 10 bash -c "(( \$(find '$OSH_IT_TMP/spool' -maxdepth 1 -name '*.spl' | wc -l) == 0 ))" ||
        fail "spool not drained ($(spooled) left)"
assert_eq 1700 "$(arrived)" "each record exactly once"
# In order: sequences never go back; offsets increase within each partition.
awk '$1 < last { bad++ } { last = $1 } END { print bad + 0 }' "$OSH_IT_TMP/arrived" >"$OSH_IT_TMP/seqbad"
assert_eq 0 "$(cat "$OSH_IT_TMP/seqbad")" "batch sequences out of order"
assert_eq 0 "$(awk '{ k = $2 ":" $3 } k in o && $4 <= o[k] { bad++ } { o[k] = $4 } END { print bad + 0 }' "$OSH_IT_TMP/arrived")" \
        "offsets out of order within a partition"
timeout 20 kcat -C -q -b "$X" -t $T -o beginning -e -f '%t %p %o %S %k\n' | grep -v ' EVIL$' |
        cut -d' ' -f1-4 | sort >"$OSH_IT_TMP/src"
cut -d' ' -f2-5 "$OSH_IT_TMP/arrived" | sort >"$OSH_IT_TMP/dst"
assert_eq "" "$(comm -3 "$OSH_IT_TMP/src" "$OSH_IT_TMP/dst" | head -3)" "source and arrivals differ"
osh_it_stop_service relay2

# Mutual TLS instead of the token: the client certificate alone is enough.
sed -e '/^uplink.key.id/d' -e '/^uplink.secret.file/d' "$OSH_IT_TMP/uplink.conf" >"$OSH_IT_TMP/mtls.conf"
printf 'uplink.cert = %s\nuplink.cert.key = %s\n' "$C/client.pem" "$C/client.key" >>"$OSH_IT_TMP/mtls.conf"
gen 1701 1750
osh_it_start_service relay3 relay-bridge --config "$OSH_IT_TMP/mtls.conf"
osh_it_wait_until 30 bash -c "[[ \$(wc -l <'$OSH_IT_TMP/arrived') -ge 1750 ]]" ||
        fail "mutual TLS: only $(arrived) of 1750 records arrived"
osh_it_stop_service relay3

# A quiet source with no batch waiting for an Ack ships its open batch at
# once, not after batch.linger (here 60 s): a batch's last records and its
# END marker must not sit out the linger.
osh_it_start_service relay4 relay-bridge --config "$OSH_IT_TMP/uplink.conf" --batch.linger 60s \
        --log.level info
osh_it_wait_until 30 grep -q 'assigned [0-9]* partition' "$(osh_it_log relay4)" ||
        fail "relay4 did not join its group"
gen 1751 1760
osh_it_wait_until 15 bash -c "[[ \$(wc -l <'$OSH_IT_TMP/arrived') -ge 1760 ]]" ||
        fail "a quiet source's last records waited for batch.linger: $(arrived) of 1760 arrived"
osh_it_stop_service relay4
assert_not_contains "$(cat "$OSH_IT_TMP"/relay*.log)" "EVIL" "no payload in logs"
