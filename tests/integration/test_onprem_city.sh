#!/usr/bin/env bash
# The on-premises path on separate clusters, as deployed: a generated city
# of 20K residents (CP932, era dates, 外字) -> extractor (core) -> real
# relay-bridge kafka->kafka (core -> processing, raw + batch control only)
# -> anonymizer (processing). Checked against the generator's ground truth
# by an oracle that shares no service code (oracle/onprem_oracle.py):
# - abstracted records = consenting applicants - suppressed; each record
#   joins its truth row by 利用者ID with the right sex, year-month,
#   municipality/town and all flags (tax 3 years, NHI, late-elderly, child
#   allowance, child-rearing, public assistance, ext 01-03);
# - extreme ages removed = truth's residents aged 100+; privacy report and
#   END marker (same batch id) present and consistent;
# - PII scan over every record of resident.abstracted.v1, batch.control.v1
#   and privacy.report.v1 on processing (keys, values, headers) and the
#   anonymizer's and relay's logs, with every name, 宛名番号, birth date
#   (YYYYMMDD, YYYY-MM-DD, era) and address (text, 30-digit code) of the
#   input CSVs: nothing; and the same scan over resident.raw.v1 does hit.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker
oracle="$(cd "$(dirname "$0")/oracle" && pwd)/onprem_oracle.py"
scan="$(cd "$(dirname "$0")/lib" && pwd)/pii_scan.sh"
ctl=$OSH_BIN/osh-ctl
C=$OSH_BOOTSTRAP_CORE
P=$OSH_BOOTSTRAP_PROCESSING
T=$OSH_IT_TMP

"$OSH_BIN/gen-residents" --out "$T/city" --residents 20000 --seed 23 --encoding cp932 \
        --dates era --gaiji 0.02 --reference-date 20170315 2>/dev/null
want=$(awk '$1 == "consenting" { print $2 }' "$T/city/truth_summary.tsv")
gaiji=$(awk '$1 == "gaiji_chars" { print $2 }' "$T/city/truth_summary.tsv")
assert_ge "$want" 3000 "consenting applicants"
assert_ge "$gaiji" 100 "外字 in the input"
python3 "$oracle" forbidden "$T/city" "$T/forbidden.txt" >&2
# A fixed key keeps the scan reproducible (a random 32-hex 利用者ID holds some
# 8-digit birth date by chance in a few % of runs).
printf '%s' a7c3e9f1b5d2048c6e1a3f5b7d9c0e2a4b6c8d0f1e3a5c7b9d2f4e6a8c0b1d3e >"$T/key.hex"

cat >"$T/relay.conf" <<EOF
mode = kafka
source.segment = core
target.segment = processing
allow = resident.raw.v1, batch.control.v1
heartbeat.interval = 1s
kafka.source.bootstrap.servers = $C
kafka.target.bootstrap.servers = $P
kafka.source.session.timeout.ms = 6000
EOF
osh_it_start_service relay relay-bridge --config "$T/relay.conf"
osh_it_start_service anon anonymizer --kafka.bootstrap.servers="$P" \
        --anon.rules="$OSH_SOURCE_DIR/services/anonymizer/rules/rules-v1.conf" \
        --anon.hmac.key.file="$T/key.hex" --kafka.session.timeout.ms=6000 --heartbeat.interval=1s

"$OSH_BIN/extractor" --input "$T/city" --ledger "$T/ledger" --kafka.bootstrap.servers="$C" \
        >"$T/ext.out" 2>"$T/ext.log" || fail "extractor failed: $(tail -3 "$T/ext.log")"
assert_contains "$(cat "$T/ext.out")" "emitted=$want " "extractor emitted every applicant"

# The batch id the extractor gave its START on core; the anonymizer's END
# for resident.abstracted.v1 must carry the same one.
markers() { # BOOTSTRAP
        "$ctl" consume --bootstrap "$1" --topic batch.control.v1 --timeout 10s 2>/dev/null | jq -c .value
}
batch=$(markers "$C" | jq -r 'select(.kind == "START" and .topic == "resident.raw.v1") | .batch_id')
[[ -n $batch ]] || fail "no extractor START on core"
abs_end() { markers "$P" | jq -c --arg b "$batch" \
        'select(.batch_id == $b and .kind == "END" and .topic == "resident.abstracted.v1")'; }
have_end() { [[ -n $(abs_end) ]]; }
osh_it_wait_until 50 have_end || fail "no abstracted END for batch $batch on processing"
end=$(abs_end)
assert_eq 1 "$(markers "$P" | jq -c --arg b "$batch" \
        'select(.batch_id == $b and .kind == "START" and .topic == "resident.abstracted.v1")' |
        wc -l)" "one abstracted START with the extractor's batch id"
raw_n() { "$ctl" watermarks --bootstrap "$1" --topic resident.raw.v1 | awk '{ n += $4 - $3 } END { print n + 0 }'; }
assert_eq "$want" "$(raw_n "$P")" "the relay moved every raw record to processing"
assert_eq 0 "$(grep -c refused "$(osh_it_log relay)" || true)" "the relay refused nothing"

"$ctl" consume --bootstrap "$P" --topic privacy.report.v1 --timeout 10s >"$T/report.all"
jq -c --arg b "$batch" 'select(.value.batch_id == $b) | .value' "$T/report.all" >"$T/report.json"
assert_eq 1 "$(wc -l <"$T/report.json")" "one privacy report for the batch"
"$ctl" consume --bootstrap "$P" --topic resident.abstracted.v1 --timeout 30s \
        --count "$(jq .record_count <<<"$end")" >"$T/abs.jsonl"
out=$(wc -l <"$T/abs.jsonl")
assert_eq "$out" "$(jq .record_count <<<"$end")" "END count = records on the topic"
assert_eq "$want" "$(jq .records_in "$T/report.json")" "report: records_in = consenting"
assert_eq "$out" "$(jq .records_out "$T/report.json")" "report: records_out"
assert_eq "$((want - $(jq .suppressed "$T/report.json")))" "$out" "out = consenting - suppressed"
assert_eq 0 "$(jq -c --arg b "$batch" 'select(.headers["osh.batch.id"] != $b or .value.batch_id != $b)' \
        "$T/abs.jsonl" | wc -l)" "every record carries the batch id"
assert_ge "$(jq .extreme_ages_removed "$T/report.json")" 1 "the city has residents aged 100+"

python3 "$oracle" check "$T/city" "$OSH_SOURCE_DIR/schemas/dictionary.tsv" "$T/key.hex" \
        "$T/abs.jsonl" "$T/report.json" >"$T/oracle.out" ||
        fail "abstracted records differ from the ground truth: $(cat "$T/oracle.out")"
OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
cat "$T/oracle.out" >&2
# the comparison proves little unless every flag occurs
assert_eq 0 "$(awk '$1 == "flag" && $4 == 0' "$T/oracle.out" | wc -l)" "every flag set somewhere"

osh_it_stop_service anon
osh_it_stop_service relay
"$scan" --forbidden "$T/forbidden.txt" --topic "$P" resident.abstracted.v1 \
        --topic "$P" batch.control.v1 --topic "$P" privacy.report.v1 \
        "$(osh_it_log anon)" "$(osh_it_log relay)" >&2 || fail "personal data found past the anonymizer"
OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
# positive control: the same scan finds the input on the raw topic
rc=0
"$scan" --forbidden "$T/forbidden.txt" --topic "$P" resident.raw.v1 >"$T/raw.scan" 2>&1 || rc=$?
assert_eq 1 "$rc" "pii_scan finds personal data on resident.raw.v1"
assert_contains "$(cat "$T/raw.scan")" "HIT in topic.resident.raw.v1"
