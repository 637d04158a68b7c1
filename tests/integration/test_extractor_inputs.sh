#!/usr/bin/env bash
# extractor inputs against the embedded broker: a batch fetched through
# libcurl from a file:// manifest URL (spool removed afterwards, a re-fetch is
# a ledger no-op, an altered file fails the batch); watch mode over a drop
# directory (a new batch directory is extracted once its manifest is there,
# the same files dropped again are a ledger no-op, another batch goes
# through); and gen-residents --destinations matching the ground truth.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker
T=$OSH_IT_TMP
ctl=$OSH_BIN/osh-ctl
ext=$OSH_BIN/extractor
BS=$OSH_BOOTSTRAP_CORE

"$OSH_BIN/gen-residents" --out "$T/city" --residents 3000 --seed 11 \
        --destinations "$T/dest.csv" 2>/dev/null
"$OSH_BIN/gen-residents" --out "$T/city2" --residents 2000 --seed 12 2>/dev/null
truth() { awk -v k="$2" '$1 == k {print $2}' "$1/truth_summary.tsv"; }
want=$(truth "$T/city" consenting)
want2=$(truth "$T/city2" consenting)
assert_ge "$want" 400 "applicants in a 3K city"
hi() { "$ctl" watermarks --bootstrap "$BS" --topic "$1" 2>/dev/null | awk '{s += $4} END {print s}'; }
# records on a topic (kcat reads every partition to its end; faster than
# per-partition watermarks over resident.raw.v1's 32 partitions)
count() { timeout 30 kcat -C -q -b "$BS" -t "$1" -o beginning -e -f 'x\n' | wc -l; }
markers_ge() { (($(hi batch.control.v1) >= $1)); } # re-evaluated on every try

# --- destinations CSV: the active rows are the consenting applicants with a 利用者ID
assert_eq "user_id,channel,account_id,categories,active" "$(head -1 "$T/dest.csv")"
assert_eq "$(truth "$T/city" consenting_with_user_id)" "$(awk -F, 'NR > 1 && $5 == 1' "$T/dest.csv" | wc -l)" \
        "active destinations == consenting applicants with a 利用者ID"
assert_eq "" "$(awk -F, 'NR > 1 && $2 != "line" && $2 != "email" && $2 != "webhook"' "$T/dest.csv")" \
        "only line/email/webhook"
assert_eq "" "$(awk -F, 'NR > 1 && $2 == "line" {print $3}' "$T/dest.csv" | grep -Ev '^U[0-9a-f]{32}$' || true)" \
        "LINE ids: U + 32 lowercase hex"
assert_eq "" "$(grep -o '1[0-9]\{9\}' "$T/dest.csv" | sort -u | comm -12 - <(cut -d, -f1 "$T/city/JUMIN.csv" | sort -u))" \
        "no 宛名番号 in the destinations"
h1=$(sha256sum "$T/city/JUMIN.csv" | cut -c1-64)
"$OSH_BIN/gen-residents" --out "$T/city-nodest" --residents 3000 --seed 11 2>/dev/null
assert_eq "$h1" "$(sha256sum "$T/city-nodest/JUMIN.csv" | cut -c1-64)" "--destinations leaves the exports alone"

# --- libcurl: a file:// URL of the manifest
mkdir "$T/spool"
"$ext" --input "file://$T/city/MANIFEST.tsv" --ledger "$T/ledger1" --spool.dir "$T/spool" \
        --kafka.bootstrap.servers="$BS" >"$T/url1.out" 2>"$T/url1.log" ||
        fail "URL batch failed: $(tail -3 "$T/url1.log")"
assert_contains "$(cat "$T/url1.out")" "emitted=$want " "every consenting applicant, fetched by URL"
assert_contains "$(cat "$T/url1.out")" "reconciled=yes"
assert_eq 0 "$(find "$T/spool" -mindepth 1 | wc -l)" "spool removed after the batch"
assert_eq "$want" "$(count resident.raw.v1)" "records on resident.raw.v1"
assert_eq 2 "$(hi batch.control.v1)" "START and END"
# the directory URL form, same content: a ledger no-op
"$ext" --input "file://$T/city/" --ledger "$T/ledger1" --spool.dir "$T/spool" \
        --kafka.bootstrap.servers="$BS" >"$T/url2.out" 2>"$T/url2.log" || fail "URL re-run failed"
assert_contains "$(cat "$T/url2.out")" "already ingested"
assert_eq "$want" "$(count resident.raw.v1)" "nothing new after the no-op"
# a file altered after its manifest was written: the transfer check fails the batch
cp -r "$T/city2" "$T/city2-bad"
echo "1999999999,2024,1" >>"$T/city2-bad/ZEI.csv"
if "$ext" --input "file://$T/city2-bad/MANIFEST.tsv" --ledger "$T/ledger1" --spool.dir "$T/spool" \
        --kafka.bootstrap.servers="$BS" >/dev/null 2>"$T/url3.log"; then
        fail "an altered file must fail the URL batch"
fi
assert_contains "$(cat "$T/url3.log")" "ZEI.csv: SHA-256 differs"
assert_eq 0 "$(find "$T/spool" -mindepth 1 | wc -l)" "spool removed after a failed batch"
# a missing file behind the URL
if "$ext" --input "file://$T/nowhere/MANIFEST.tsv" --ledger "$T/ledger1" --spool.dir "$T/spool" \
        --kafka.bootstrap.servers="$BS" >/dev/null 2>"$T/url4.log"; then
        fail "a missing manifest must fail"
fi
assert_contains "$(cat "$T/url4.log")" "fetch MANIFEST.tsv"
assert_eq 2 "$(hi batch.control.v1)" "no marker at all for the failed batches"

# --- watch mode over a drop directory (its own ledger: the city is new to it)
mkdir "$T/drop"
osh_it_start_service watch extractor --watch --poll.interval 200ms --input "$T/drop" \
        --ledger "$T/ledger2" --kafka.bootstrap.servers="$BS"
# a half-copied batch (no manifest yet) is left alone
mkdir "$T/drop/b1"
cp "$T/city/"*.csv "$T/drop/b1/"
sleep 1
assert_eq 2 "$(hi batch.control.v1)" "nothing taken before the manifest is there"
cp "$T/city/MANIFEST.tsv" "$T/drop/b1/"
osh_it_wait_until 20 markers_ge 4 || fail "dropped batch not extracted"
assert_eq $((2 * want)) "$(count resident.raw.v1)" "its records"
# the same files again, dropped atomically under another name
cp -r "$T/city" "$T/drop/.b2" && mv "$T/drop/.b2" "$T/drop/b2"
osh_it_wait_until 20 grep -q "already ingested" "$(osh_it_log watch)" || fail "no ledger no-op"
assert_eq 4 "$(hi batch.control.v1)" "no markers for the same batch"
assert_eq $((2 * want)) "$(count resident.raw.v1)" "nothing new for the same batch"
# another batch
cp -r "$T/city2" "$T/drop/.b3" && mv "$T/drop/.b3" "$T/drop/b3"
osh_it_wait_until 20 markers_ge 6 || fail "second batch not extracted"
assert_eq $((2 * want + want2)) "$(count resident.raw.v1)"
# every batch that started also ended (kinds in order: START END START END ...)
"$ctl" consume --bootstrap "$BS" --topic batch.control.v1 --count 6 --timeout 15s >"$T/ctl.jsonl" \
        2>/dev/null || fail "markers not readable"
assert_eq "3 3" "$(jq -r '.value.kind' "$T/ctl.jsonl" | sort | uniq -c | awk '{print $1}' | xargs)"
osh_it_stop_service watch
assert_eq 2 "$(cut -f3 "$T/ledger2" | sort -u | wc -l)" "two batches in the watch ledger"
