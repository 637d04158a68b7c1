#!/usr/bin/env bash
# extractor against the embedded broker: a generated city of 20K residents
# checked against gen-residents' ground truth; a re-run is a no-op (ledger);
# kill -9 mid-batch + restart gives the same (key, value) set as a clean run
# (duplicates after a crash are identical records with the same batch id);
# the bad-input corpus lands on resident.rejects.v1 with the right reasons,
# located by column and field, without personal data (no raw line unless
# rejects.raw is on), and the counts reconcile; a truncated file fails the batch without END.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker
T=$OSH_IT_TMP
ctl=$OSH_BIN/osh-ctl
ext=$OSH_BIN/extractor
BS=$OSH_BOOTSTRAP_CORE

"$OSH_BIN/gen-residents" --out "$T/city" --residents 20000 --seed 7 --gaiji 0.01 --encoding cp932 \
        --dates era 2>/dev/null
truth() { awk -v k="$1" '$1 == k {print $2}' "$T/city/truth_summary.tsv"; }
want=$(truth consenting)
assert_ge "$want" 3000 "a fifth of 20K residents apply"

# --- clean run, checked against the truth
"$ext" --input "$T/city" --ledger "$T/ledger1" --kafka.bootstrap.servers="$BS" \
        >"$T/run1.out" 2>"$T/run1.log" || fail "extractor failed: $(tail -3 "$T/run1.log")"
out=$(cat "$T/run1.out")
assert_contains "$out" "emitted=$want " "records emitted == consenting applicants"
assert_contains "$out" "reconciled=yes"
assert_contains "$out" "gaiji=$(truth gaiji_chars)" "gaiji counted"
assert_contains "$out" "rejected=0 reconciled" "a clean city has no rejects"
batch=$(grep -o 'B[0-9]\{8\}-[0-9a-f]\{16\}' <<<"$out" | head -1)
assert_ne "" "$batch" "a batch id in the report"
# read every partition with kcat (key, then the raw value bytes)
rawdump() { # BOOTSTRAP: every partition (without -p kcat assigns them all; -e stops at the end)
        timeout 30 kcat -C -q -b "$1" -t resident.raw.v1 -o beginning -e -f '%k\t%s\n'
}
rawdump "$BS" >"$T/raw1.bin"
grep -a -o '^1[0-9]\{9\}'$'\t' "$T/raw1.bin" | tr -d '\t' | sort >"$T/keys1"
grep -v '^#' "$T/city/truth.tsv" | cut -f1 | sort >"$T/keys_truth"
assert_eq "$want" "$(wc -l <"$T/keys1")" "one record per consenting applicant"
cmp -s "$T/keys1" "$T/keys_truth" || fail "emitted keys differ from the truth's applicants"
"$ctl" consume --bootstrap "$BS" --topic batch.control.v1 --count 2 --timeout 15s >"$T/ctl1.jsonl" \
        2>/dev/null || fail "no START/END"
assert_eq "START END" "$(jq -r '.value.kind' "$T/ctl1.jsonl" | xargs)"
assert_eq "$batch $batch" "$(jq -r '.value.batch_id' "$T/ctl1.jsonl" | xargs)" "markers carry the batch id"
assert_eq "$want" "$(jq -r 'select(.value.kind == "END") | .value.record_count' "$T/ctl1.jsonl")"

# --- a re-run is a no-op
"$ext" --input "$T/city" --ledger "$T/ledger1" --kafka.bootstrap.servers="$BS" >"$T/run2.out" \
        2>/dev/null
assert_contains "$(cat "$T/run2.out")" "already ingested"
hi() { "$ctl" watermarks --bootstrap "$BS" --topic "$1" 2>/dev/null | awk '{s += $4} END {print s}'; }
assert_eq 2 "$(hi batch.control.v1)" "no new markers after the no-op run"

# --- kill -9 mid-batch, restart: same set as the clean run, on a second broker
osh_it_spawn broker2 osh-broker --single --env-file "$T/broker2.env"
osh_it_wait_until 20 test -s "$T/broker2.env" || fail "broker2 not up"
BS2=$(sed -n 's/^OSH_BOOTSTRAP_CORE=//p' "$T/broker2.env")
osh_it_spawn ext_k extractor --input "$T/city" --ledger "$T/ledger2" --emit.rate 4000 \
        --kafka.bootstrap.servers="$BS2"
osh_it_wait_until 20 test -e "$T/ext_k.ready" || fail "extractor not ready"
sleep 0.6
osh_it_kill_service ext_k
assert_no_file "$T/ledger2" "no ledger entry for an unfinished batch"
"$ctl" consume --bootstrap "$BS2" --topic batch.control.v1 --timeout 5s 2>/dev/null >"$T/ctl2a.jsonl"
assert_eq 0 "$(grep -c '"END"' "$T/ctl2a.jsonl" || true)" "no END after the crash"
"$ext" --input "$T/city" --ledger "$T/ledger2" --kafka.bootstrap.servers="$BS2" >"$T/run3.out" \
        2>/dev/null || fail "restart failed"
assert_contains "$(cat "$T/run3.out")" "emitted=$want "
total=$(hi_bs() { "$ctl" watermarks --bootstrap "$BS2" --topic resident.raw.v1 2>/dev/null |
        awk '{s += $4} END {print s}'; } && hi_bs)
assert_ge "$total" "$want" "at least every record after the restart"
rawdump "$BS2" >"$T/raw2.bin"
pairs() { LC_ALL=C sort -u "$1" | sha256sum; }
assert_eq "$(pairs "$T/raw1.bin")" "$(pairs "$T/raw2.bin")" "same (key, value) set after kill -9"

# --- bad-input corpus
"$OSH_BIN/gen-residents" --out "$T/bad" --residents 300 --seed 3 2>/dev/null
rm "$T/bad/MANIFEST.tsv"
nbad=0
for f in "$OSH_SOURCE_DIR"/tests/integration/data/extractor/*.*.csv; do
        b=$(basename "$f")
        cat "$f" >>"$T/bad/${b%%.*}.csv"
        nbad=$((nbad + $(wc -l <"$f")))
done
# a real resident registered twice and an applicant nobody registered: their
# rejects locate the line but must not repeat the name, birth date or address
dup=$(sed -n 2p "$T/bad/JUMIN.csv")
echo "$dup" >>"$T/bad/JUMIN.csv"
echo "1999999998,,1,01,20240301120000" >>"$T/bad/SHINSEI.csv"
nbad=$((nbad + 2))
dupkey=JUMIN.csv:$(wc -l <"$T/bad/JUMIN.csv") unkkey=SHINSEI.csv:$(wc -l <"$T/bad/SHINSEI.csv")
IFS=, read -r _ _ name kana _ birth _ acode addr <<<"$dup"
printf '%s\n' "$name" "$kana" "$birth" "$acode" "$addr" >"$T/forbidden.txt"
rb=$("$ctl" watermarks --bootstrap "$BS" --topic resident.rejects.v1 2>/dev/null | awk '{s += $4} END {print s}')
"$ext" --input "$T/bad" --ledger "$T/ledger-bad" --reference.date 20240401 \
        --kafka.bootstrap.servers="$BS" >"$T/bad.out" 2>"$T/bad.log" ||
        fail "a bad line must not fail the batch: $(tail -2 "$T/bad.log")"
assert_contains "$(cat "$T/bad.out")" "reconciled=yes"
assert_contains "$(cat "$T/bad.out")" "rejects=$nbad " "one reject per corpus line"
"$ctl" consume --bootstrap "$BS" --topic resident.rejects.v1 --count $((rb + nbad)) --timeout 20s \
        >"$T/rej.jsonl" 2>/dev/null || fail "rejects not readable"
for f in "$OSH_SOURCE_DIR"/tests/integration/data/extractor/*.*.csv; do
        b=$(basename "$f" .csv)
        target=${b%%.*}.csv reason=${b#*.}
        n=$(jq -r --arg t "$target" --arg r "$reason" --arg d "$dupkey" --arg u "$unkkey" \
                'select(.value.source_file == $t and .value.reason == $r and .key != $d and
                        .key != $u) | .key' "$T/rej.jsonl" | wc -l)
        assert_eq "$(wc -l <"$f")" "$n" "$b lands with reason $reason"
done
assert_eq "JUMIN.csv:DUPLICATE:1:atena_no:10 SHINSEI.csv:UNKNOWN_PERSON:1:atena_no:10" \
        "$(jq -r --arg d "$dupkey" --arg u "$unkkey" 'select(.key == $d or .key == $u)
                | [.value.source_file, .value.reason, .value.column, .value.field,
                   .value.field_length] | map(tostring) | join(":")' "$T/rej.jsonl" | sort | xargs)" \
        "duplicate and unknown person located by column and field"
assert_eq "" "$(jq -r 'select(.value.raw != "") | .key' "$T/rej.jsonl")" "no raw line by default"
"$(dirname "$0")/lib/pii_scan.sh" --forbidden "$T/forbidden.txt" --topic "$BS" resident.rejects.v1 \
        "$T/bad.log" || fail "personal data in resident.rejects.v1"
# ... and the scan finds them where they are: it can fail
if "$(dirname "$0")/lib/pii_scan.sh" --forbidden "$T/forbidden.txt" "$T/bad/JUMIN.csv" \
        >/dev/null 2>&1; then
        fail "pii_scan found nothing in JUMIN.csv"
fi
OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))

# --- a truncated file fails the batch: no END
markers=$(hi batch.control.v1)
cp -r "$T/city" "$T/trunc"
head -c 100000 "$T/city/JUMIN.csv" >"$T/trunc/JUMIN.csv"
if "$ext" --input "$T/trunc" --ledger "$T/ledger3" --kafka.bootstrap.servers="$BS" \
        >/dev/null 2>"$T/trunc.log"; then
        fail "a truncated file must fail the batch"
fi
assert_contains "$(cat "$T/trunc.log")" "JUMIN.csv: SHA-256 differs"
assert_eq "$markers" "$(hi batch.control.v1)" "nothing emitted for the failed batch"
