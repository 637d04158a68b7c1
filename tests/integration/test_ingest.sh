#!/usr/bin/env bash
# cloud-ingest against the embedded broker (four clusters): batches land on
# the cloud cluster with source coordinates, retries are de-duplicated, every
# 4xx path answers precisely, kill -9 + restart loses and duplicates nothing
# (state on ingest.offsets.v1 + tail scan), the probe reports heartbeats,
# snapshot freshness and counters, CSV destinations are validated and
# published, and nothing on the cloud cluster carries personal data.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"

osh_it_begin
osh_it_start_broker
CLOUD=$OSH_BOOTSTRAP_CLOUD
SEND=$OSH_BIN/osh-ingest-send
URL=
AUTH=(--key-id relay --secret s3cret-key)
printf 'relay s3cret-key\n# staff\nstaff st4ff-key\n' >"$OSH_IT_TMP/keys"

# The server binds port 0 and writes the port it got: a port picked here
# could be taken by another process before the server binds it.
start_ingest() {
        rm -f "$OSH_IT_TMP/ingest.port"
        osh_it_start_service ingest cloud-ingest --listen.port 0 \
                --listen.port.file "$OSH_IT_TMP/ingest.port" \
                --auth.keys.file "$OSH_IT_TMP/keys" --kafka.bootstrap.servers "$CLOUD" \
                --heartbeat.interval 1s --segment cloud
        URL=http://127.0.0.1:$(cat "$OSH_IT_TMP/ingest.port")
}

# count TOPIC: records on the cloud cluster.
count() {
        kcat -C -b "$CLOUD" -t "$1" -e -q -f 'x\n' 2>/dev/null | wc -l
}
# coords: "partition src-offset" of every abstracted record, sorted.
coords() {
        kcat -C -b "$CLOUD" -t resident.abstracted.v1 -e -q -f '%h\n' |
                sed -E 's/.*osh\.src=[^,]*\/([0-9]+)\/([0-9]+)(,.*)?$/\1 \2/' |
                sort -n -k1,1 -k2,2
}
send() { "$SEND" batch --url "$URL" "${AUTH[@]}" "$@"; }

start_ingest

# ---- a batch lands, a retry is a duplicate -------------------------------
out=$(send --sequence 1 --partition 2 --offset 0 --count 5 --batch-id b1)
assert_eq "200 OK seq=1 resident.abstracted.v1/2:4" "$out" "first batch published"
assert_eq 5 "$(count resident.abstracted.v1)" "5 records on the cloud cluster"
out=$(send --sequence 1 --partition 2 --offset 0 --count 5 --batch-id b1)
assert_eq "200 DUPLICATE seq=1 resident.abstracted.v1/2:4" "$out" "retry is de-duplicated"
assert_eq 5 "$(count resident.abstracted.v1)" "retry produced nothing"
hdrs=$(kcat -C -b "$CLOUD" -t resident.abstracted.v1 -p 2 -o 0 -c 1 -e -q -f '%k %h\n')
assert_contains "$hdrs" "u0 " "key kept"
assert_contains "$hdrs" "osh.batch.id=b1" "record headers kept"
assert_contains "$hdrs" "osh.src=exchange/resident.abstracted.v1/2/0"

# overlapping batch: only the new offsets are published
out=$(send --sequence 2 --partition 2 --offset 3 --count 5 --batch-id b1)
assert_eq "200 OK seq=2 resident.abstracted.v1/2:7" "$out" "overlap: through 7"
assert_eq 8 "$(count resident.abstracted.v1)" "overlap published only offsets 5..7"

# ---- precise refusals ------------------------------------------------------
"$SEND" batch --out "$OSH_IT_TMP/b3.bin" --sequence 3 --partition 1 --offset 0 --count 2
code() { curl -s -o "$OSH_IT_TMP/resp" -w '%{http_code}' "$@"; }
assert_eq 401 "$(code -X POST --data-binary @"$OSH_IT_TMP/b3.bin" \
        -H 'Content-Type: application/x-protobuf' "$URL/v1/batches")" "no token: 401"
assert_eq 401 "$(code -X POST --data-binary @"$OSH_IT_TMP/b3.bin" \
        -H 'Authorization: OSH-HMAC-SHA256 garbage' "$URL/v1/batches")" "garbled token: 401"
out=$("$SEND" batch --url "$URL" --key-id nobody --secret x --sequence 3 --count 1)
assert_eq 403 "${out%% *}" "unknown key: 403"
out=$("$SEND" batch --url "$URL" --key-id relay --secret wrong --sequence 3 --count 1)
assert_eq 403 "${out%% *}" "bad signature: 403"
assert_contains "$out" "bad signature"
out=$(send --sequence 9 --topic resident.raw.v1 --count 1)
assert_eq 422 "${out%% *}" "raw record refused"
assert_contains "$out" "resident.raw.v1"
out=$(send --sequence 1 --partition 2 --offset 100 --count 1)
assert_eq 409 "${out%% *}" "other payload under sequence 1: 409"
assert_eq 404 "$(code -X POST "$URL/v1/nope")" "unknown path: 404"
assert_eq 405 "$(code "$URL/v1/batches")" "GET on batches: 405"
# signed requests built by hand for the body-level checks
sign() { # PATH FILE -> Authorization header
        python3 - "$1" "$2" <<'PY'
import hashlib, hmac, sys, time
path, f = sys.argv[1], sys.argv[2]
body = open(f, 'rb').read()
ts = str(int(time.time() * 1000))
msg = "POST\n%s\n%s\n%s" % (path, ts, hashlib.sha256(body).hexdigest())
sig = hmac.new(b"s3cret-key", msg.encode(), hashlib.sha256).hexdigest()
print("Authorization: OSH-HMAC-SHA256 key=relay,ts=%s,sig=%s" % (ts, sig))
PY
}
assert_eq 415 "$(code -X POST --data-binary @"$OSH_IT_TMP/b3.bin" -H "$(sign /v1/batches "$OSH_IT_TMP/b3.bin")" \
        -H 'Content-Type: text/plain' "$URL/v1/batches")" "wrong type: 415"
printf 'not a protobuf at all' >"$OSH_IT_TMP/junk.bin"
assert_eq 400 "$(code -X POST --data-binary @"$OSH_IT_TMP/junk.bin" -H "$(sign /v1/batches "$OSH_IT_TMP/junk.bin")" \
        -H 'Content-Type: application/x-protobuf' "$URL/v1/batches")" "garbage body: 400"
cp "$OSH_IT_TMP/b3.bin" "$OSH_IT_TMP/flip.bin"
printf '\x01' | dd of="$OSH_IT_TMP/flip.bin" bs=1 seek=$(($(stat -c %s "$OSH_IT_TMP/flip.bin") - 40)) conv=notrunc 2>/dev/null
assert_eq 400 "$(code -X POST --data-binary @"$OSH_IT_TMP/flip.bin" -H "$(sign /v1/batches "$OSH_IT_TMP/flip.bin")" \
        -H 'Content-Type: application/x-protobuf' "$URL/v1/batches")" "digest mismatch: 400"
head -c $((17 * 1024 * 1024)) /dev/zero >"$OSH_IT_TMP/big.bin"
assert_eq 413 "$(code -X POST --data-binary @"$OSH_IT_TMP/big.bin" -H "$(sign /v1/batches "$OSH_IT_TMP/big.bin")" \
        -H 'Content-Type: application/x-protobuf' "$URL/v1/batches")" "too large: 413"
assert_eq 8 "$(count resident.abstracted.v1)" "refusals published nothing"
osh_it_running ingest || fail "cloud-ingest died on bad input"

# ---- kill -9 mid-stream, restart: no loss, no duplicate ---------------------
for s in 10 11 12 13 14 15; do
        send --sequence "$s" --partition 5 --offset $(((s - 10) * 20)) --count 20 >/dev/null
done &
sender=$!
sleep 0.3
osh_it_kill_service ingest
wait "$sender" || true
start_ingest
# the uplink resends everything it holds no Ack for: here, all of it
for s in 10 11 12 13 14 15; do
        out=$(send --sequence "$s" --partition 5 --offset $(((s - 10) * 20)) --count 20)
        assert_eq 200 "${out%% *}" "resend $s after restart"
done
assert_eq "$(seq 0 119 | sed 's/^/5 /')" "$(coords | grep '^5 ')" \
        "partition 5: offsets 0..119 exactly once after kill -9"
assert_eq 128 "$(count resident.abstracted.v1)" "no duplicate anywhere"

# ---- snapshot END marker + probe ------------------------------------------
out=$(send --sequence 20 --partition 7 --offset 0 --count 3 --batch-id snap-1 --end)
assert_eq 200 "${out%% *}" "snapshot batch with END marker"
osh_it_wait_until 15 bash -c "'$SEND' probe --url '$URL' --key-id relay --secret s3cret-key | grep -q '^snapshot snap-1 count=3'" ||
        fail "probe never reported snapshot snap-1: $("$SEND" probe --url "$URL" "${AUTH[@]}")"
probe=$("$SEND" probe --url "$URL" "${AUTH[@]}")
assert_contains "$probe" "200 probe=probe-1"
assert_contains "$probe" "service cloud-ingest cloud-ingest RUNNING" "own heartbeat seen"
assert_contains "$probe" "age_ms=6" "snapshot about a minute old"
assert_contains "$probe" "rejected=" "counters reported"
# the cloud services' own totals travel too: cloud-ingest has published records
osh_it_wait_until 15 bash -c "'$SEND' probe --url '$URL' --key-id relay --secret s3cret-key | grep -Eq '^service cloud-ingest cloud-ingest RUNNING [0-9]+ in=[1-9][0-9]* out=[1-9]'" ||
        fail "cloud-ingest's counters not in the probe: $("$SEND" probe --url "$URL" "${AUTH[@]}")"
assert_eq 401 "$(code -X POST "$URL/v1/probe")" "probe needs auth"

# ---- destinations upload -----------------------------------------------
csv=$OSH_IT_TMP/dest.csv
{
        printf '利用者ID,channel,account id,categories,active\n'
        printf 'A1001,line,U%s,childcare;health_welfare,1\n' 0123456789abcdef0123456789abcdef
        printf 'A1002,email,taro@example.jp,safety_disaster\n'
        printf 'A1003,fax,123,childcare\n'
        printf 'A1004,line,U123,childcare\n'
        printf 'A-1005,email,a@example.jp,childcare\n'
        printf 'A1006,email,a@example.jp,gardening\n'
        printf 'A1007,webhook,https://hooks.example.jp/x,benefits,withdrawn\n'
} >"$csv"
sig=$(python3 - "$csv" <<'PY'
import hashlib, hmac, sys, time
body = open(sys.argv[1], 'rb').read()
ts = str(int(time.time() * 1000))
msg = "POST\n/v1/destinations\n%s\n%s" % (ts, hashlib.sha256(body).hexdigest())
print("Authorization: OSH-HMAC-SHA256 key=staff,ts=%s,sig=%s" %
      (ts, hmac.new(b"st4ff-key", msg.encode(), hashlib.sha256).hexdigest()))
PY
)
assert_eq 415 "$(code -X POST --data-binary @"$csv" -H "$sig" -H 'Content-Type: text/plain' \
        "$URL/v1/destinations")" "destinations must be text/csv"
assert_eq 200 "$(code -X POST --data-binary @"$csv" -H "$sig" -H 'Content-Type: text/csv; charset=utf-8' \
        "$URL/v1/destinations")" "upload accepted"
rep=$(cat "$OSH_IT_TMP/resp")
assert_eq 3 "$(jq .accepted <<<"$rep")" "3 good rows"
assert_eq 4 "$(jq .rejected <<<"$rep")" "4 bad rows"
assert_eq "4 5 6 7" "$(jq -r '[.errors[].line] | join(" ")' <<<"$rep")" "bad lines reported"
assert_contains "$rep" "channel must be one of"
assert_not_contains "$rep" "example.jp" "report does not echo account ids"
assert_eq "A1001 A1002 A1007" "$(kcat -C -b "$CLOUD" -t destinations.v1 -e -q -f '%k\n' | sort | xargs)" \
        "good rows on destinations.v1"
# A city-sized list (issue 15.13): a million rows (55 MiB, over the old 4 MiB limit) are
# accepted in one upload, bad rows reported with bounded detail.
big=$OSH_IT_TMP/city.csv
awk 'BEGIN { print "user_id,channel,account_id,categories,active";
        for (i = 1; i <= 1000000; i++) printf "C%07d,line,U%032x,childcare;checkups,1\n", i, i;
        for (i = 1; i <= 1500; i++) printf "B%07d,email,bad%d@@example.jp,childcare\n", i, i }' >"$big"
dest_sig() {
        python3 - "$1" <<'PY'
import hashlib, hmac, sys, time
body = open(sys.argv[1], 'rb').read()
ts = str(int(time.time() * 1000))
msg = "POST\n/v1/destinations\n%s\n%s" % (ts, hashlib.sha256(body).hexdigest())
print("Authorization: OSH-HMAC-SHA256 key=staff,ts=%s,sig=%s" %
      (ts, hmac.new(b"st4ff-key", msg.encode(), hashlib.sha256).hexdigest()))
PY
}
t0=$(date +%s.%N)
assert_eq 200 "$(code -X POST --data-binary @"$big" -H "$(dest_sig "$big")" -H 'Content-Type: text/csv' \
        "$URL/v1/destinations")" "city-sized upload accepted: $(head -c 300 "$OSH_IT_TMP/resp")"
echo "[test_ingest] 1,000,000-row upload ($(($(stat -c %s "$big") >> 20)) MiB) answered in $(echo "$(date +%s.%N) - $t0" | bc) s"
rep=$(cat "$OSH_IT_TMP/resp")
assert_eq 1000000 "$(jq .accepted <<<"$rep")" "every good row accepted"
assert_eq 1500 "$(jq .rejected <<<"$rep")" "every bad row counted"
assert_eq 1000 "$(jq '.errors | length' <<<"$rep")" "reasons listed up to 1000"
assert_eq true "$(jq .errors_truncated <<<"$rep")" "and the list says it is cut"
assert_eq 1000002 "$(jq '.errors[0].line' <<<"$rep")" "line numbers count the header"
nparts=$(kcat -L -b "$CLOUD" -t destinations.v1 -J | jq '.topics[0].partitions | length')
wm() { # OFFSET (-1 high, -2 low): summed over destinations.v1's partitions
        for ((p = 0; p < nparts; p++)); do kcat -Q -b "$CLOUD" -t "destinations.v1:$p:$1" 2>/dev/null; done |
                awk '{ s += $NF } END { print s }'
}
hw=$(wm -1)
assert_ge "$hw" 1000003 "a million rows on destinations.v1 (high watermarks: $hw)"
# osh-broker sized the topic for it (issue 15.6): the mock dropped nothing.
assert_eq 0 "$(wm -2)" "no destination row dropped by the embedded broker ($nparts partitions)"
rm -f "$big"
printf '\x00\x01garbage' >"$OSH_IT_TMP/junk.csv"
sig=$(python3 - "$OSH_IT_TMP/junk.csv" <<'PY'
import hashlib, hmac, sys, time
body = open(sys.argv[1], 'rb').read()
ts = str(int(time.time() * 1000))
msg = "POST\n/v1/destinations\n%s\n%s" % (ts, hashlib.sha256(body).hexdigest())
print("Authorization: OSH-HMAC-SHA256 key=staff,ts=%s,sig=%s" %
      (ts, hmac.new(b"st4ff-key", msg.encode(), hashlib.sha256).hexdigest()))
PY
)
assert_eq 400 "$(code -X POST --data-binary @"$OSH_IT_TMP/junk.csv" -H "$sig" -H 'Content-Type: text/csv' \
        "$URL/v1/destinations")" "nothing parsable: 400"

# ---- PII: nothing on the cloud cluster names a person ------------------------
dump=$(for t in $(kcat -L -b "$CLOUD" -J | jq -r '.topics[].topic'); do
        kcat -C -b "$CLOUD" -t "$t" -e -q -f '%k %h %s\n' 2>/dev/null | tr -d '\0' || true
done)
assert_not_contains "$dump" "resident.raw" "no raw topic content in the cloud"
assert_eq 0 "$(kcat -L -b "$CLOUD" -J | jq '[.topics[] | select(.topic == "resident.raw.v1")] | length')" \
        "no raw topic on the cloud cluster"
assert_not_contains "$(cat "$(osh_it_log ingest)")" "taro@" "log does not carry account ids"

osh_it_stop_service ingest
