#!/usr/bin/env bash
# extractor guards against the embedded broker: a 1 MiB field costs one
# reject, never the batch, and under --watch the batch goes out once (one
# START/END, one reject, no re-emission while its files stay the same); the
# raw line only on request, cut to rejects.raw.max; batches that would empty
# the cloud (a wrong manifest encoding, no JUMIN.csv) fail, and a snapshot
# far smaller than the last one is held until an operator confirms it; a
# named pipe in a batch is refused without blocking.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker
T=$OSH_IT_TMP
ctl=$OSH_BIN/osh-ctl
ext=$OSH_BIN/extractor
BS=$OSH_BOOTSTRAP_CORE
hi() { "$ctl" watermarks --bootstrap "$BS" --topic "$1" 2>/dev/null | awk '{s += $4} END {print s}'; }
markers_ge() { (($(hi batch.control.v1) >= $1)); }

"$OSH_BIN/gen-residents" --out "$T/city" --residents 2000 --seed 5 2>/dev/null
want=$(awk '$1 == "consenting" {print $2}' "$T/city/truth_summary.tsv")
ref=$(awk '$1 == "reference_date" {print $2}' "$T/city/MANIFEST.tsv")

# --- a 1 MiB field under --watch: one START/END, one reject, no loop
cp -r "$T/city" "$T/big"
rm "$T/big/MANIFEST.tsv"
addr=$(sed -n 2p "$T/city/JUMIN.csv" | cut -d, -f8)
{
        printf '1999999997,2999999997,'
        head -c 1048576 /dev/zero | tr '\0' A
        printf ',kana,1,19800101,01,%s,x\n' "$addr"
} >>"$T/big/JUMIN.csv"
bigline=$(wc -l <"$T/big/JUMIN.csv")
osh_it_start_service watch extractor --watch --poll.interval 100ms --input "$T/big" \
        --reference.date "$ref" --ledger "$T/ledger-big" --kafka.bootstrap.servers="$BS"
osh_it_wait_until 30 markers_ge 2 || fail "the batch with a 1 MiB field did not end"
# twenty polls later: still one batch (the old extractor re-emitted it every poll)
sleep 2
assert_eq 2 "$(hi batch.control.v1)" "one START and one END under --watch"
assert_eq 1 "$(hi resident.rejects.v1)" "one reject for the 1 MiB line"
assert_eq "$want" "$(hi resident.raw.v1)" "every record once"
"$ctl" consume --bootstrap "$BS" --topic resident.rejects.v1 --count 1 --timeout 10s \
        >"$T/rej.jsonl" 2>/dev/null || fail "reject not readable"
assert_eq "JUMIN.csv:$bigline FIELD_TOO_LONG 3 shimei 1048576 0" \
        "$(jq -r '[.key, .value.reason, .value.column, .value.field, .value.field_length,
                  (.value.raw | length)] | map(tostring) | join(" ")' "$T/rej.jsonl")" \
        "the reject names file, line, column and length, without the line"
osh_it_stop_service watch

# --- the raw line on request: cut to rejects.raw.max
osh_it_spawn broker2 osh-broker --single --env-file "$T/broker2.env"
osh_it_wait_until 20 test -s "$T/broker2.env" || fail "broker2 not up"
BS2=$(sed -n 's/^OSH_BOOTSTRAP_CORE=//p' "$T/broker2.env")
"$ext" --input "$T/big" --reference.date "$ref" --ledger "" --rejects.raw --rejects.raw.max 2000 \
        --kafka.bootstrap.servers="$BS2" >"$T/raw.out" 2>"$T/raw.log" ||
        fail "a 1 MiB line with rejects.raw failed the batch: $(tail -2 "$T/raw.log")"
"$ctl" consume --bootstrap "$BS2" --topic resident.rejects.v1 --count 1 --timeout 10s \
        >"$T/rej2.jsonl" 2>/dev/null || fail "reject not readable"
assert_eq "2000 $((22 + 1048576 + 20 + 30 + 2))" \
        "$(jq -r '"\(.value.raw | length) \(.value.raw_length)"' "$T/rej2.jsonl")" \
        "raw cut to rejects.raw.max; raw_length the whole line"

# --- batches that would empty the cloud (on broker2)
hi2() { "$ctl" watermarks --bootstrap "$BS2" --topic "$1" 2>/dev/null | awk '{s += $4} END {print s}'; }
m0=$(hi2 batch.control.v1)
# the manifest declares utf8, the files are CP932: every resident line rejected
"$OSH_BIN/gen-residents" --out "$T/cp" --residents 300 --seed 6 --encoding cp932 2>/dev/null
sed -i 's/^encoding\tcp932$/encoding\tutf8/' "$T/cp/MANIFEST.tsv"
if "$ext" --input "$T/cp" --ledger "$T/ledger-g" --kafka.bootstrap.servers="$BS2" \
        >/dev/null 2>"$T/cp.log"; then
        fail "a batch in the wrong encoding must fail"
fi
assert_contains "$(cat "$T/cp.log")" "JUMIN.csv: every line is invalid utf8"
# without JUMIN.csv
cp -r "$T/city" "$T/nores" && rm "$T/nores/JUMIN.csv" "$T/nores/MANIFEST.tsv"
if "$ext" --input "$T/nores" --ledger "$T/ledger-g" --reference.date "$ref" \
        --kafka.bootstrap.servers="$BS2" >/dev/null 2>"$T/nores.log"; then
        fail "a batch without JUMIN.csv must fail"
fi
assert_contains "$(cat "$T/nores.log")" "no JUMIN.csv (resident) in the batch"
assert_eq "$m0" "$(hi2 batch.control.v1)" "no marker for the failed batches"
# a snapshot of 2000 residents, then one of 500: held (no START, no END)
"$ext" --input "$T/city" --ledger "$T/ledger-g" --kafka.bootstrap.servers="$BS2" \
        >/dev/null 2>&1 || fail "first snapshot failed"
m1=$(hi2 batch.control.v1)
cp "$T/ledger-g" "$T/ledger-w"
"$OSH_BIN/gen-residents" --out "$T/small" --residents 500 --seed 5 2>/dev/null
if "$ext" --input "$T/small" --ledger "$T/ledger-g" --kafka.bootstrap.servers="$BS2" \
        >"$T/small.out" 2>"$T/small.log"; then
        fail "a snapshot 75% smaller must be held"
fi
assert_contains "$(cat "$T/small.log")" "fewer than the previous snapshot"
held=$(grep -o 'B[0-9]\{8\}-[0-9a-f]\{16\} held' "$T/small.out" | cut -d' ' -f1)
assert_ne "" "$held" "the held batch is named"
assert_contains "$(cat "$T/small.log")" "--confirm.batch $held"
assert_eq "$m1" "$(hi2 batch.control.v1)" "nothing emitted for the held batch"
# the operator confirms it
"$ext" --input "$T/small" --ledger "$T/ledger-g" --confirm.batch "$held" \
        --kafka.bootstrap.servers="$BS2" >"$T/small2.out" 2>&1 || fail "confirmed batch failed"
assert_eq $((m1 + 2)) "$(hi2 batch.control.v1)" "START and END once confirmed"
# under --watch the held batch is read once, said once, and shown on the heartbeat
osh_it_start_service watchh extractor --watch --poll.interval 100ms --input "$T/small" \
        --ledger "$T/ledger-w" --heartbeat.interval 200ms --instance ext-held \
        --kafka.bootstrap.servers="$BS2"
degraded() {
        "$ctl" consume --bootstrap "$BS2" --topic ops.status.v1 --timeout 5s 2>/dev/null |
                jq -e -s 'map(select(.value.instance == "ext-held" and .value.state == "DEGRADED"
                        and .value.counters.batches_held == 1)) | length > 0' >/dev/null
}
osh_it_wait_until 30 degraded || fail "no DEGRADED heartbeat with batches_held=1"
sleep 1 # ten more polls
assert_eq 1 "$(grep -c "held: " "$(osh_it_log watchh)")" "held once, not every poll"
assert_eq $((m1 + 2)) "$(hi2 batch.control.v1)" "nothing emitted by the watcher"
osh_it_stop_service watchh

# --- a named pipe in a batch is refused at once, never opened for a blocking read
cp -r "$T/city" "$T/fifo" && rm "$T/fifo/KOKUHO.csv" && mkfifo "$T/fifo/KOKUHO.csv"
m2=$(hi2 batch.control.v1)
rc=0
timeout 20 "$ext" --input "$T/fifo" --ledger "$T/ledger-fifo" --kafka.bootstrap.servers="$BS2" \
        >/dev/null 2>"$T/fifo.log" || rc=$?
assert_eq 1 "$rc" "refused with exit 1, not hung (124 is the timeout)"
assert_contains "$(cat "$T/fifo.log")" "KOKUHO.csv: a named pipe, refused"
assert_eq "$m2" "$(hi2 batch.control.v1)" "nothing emitted"
