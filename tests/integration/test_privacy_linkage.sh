#!/usr/bin/env bash
# Linkage attack on the cloud copy (docs/privacy.md): a generated city of
# 20K residents -> extractor -> anonymizer with rules-v2.conf (enforced
# k = 5). An attacker who knows an applicant's full birth date, sex and full
# address (and, in a second variant, the children's birth dates) counts the
# released records consistent with it (oracle/linkage.py, no anonymizer
# code): every count must be 0 (record suppressed, nothing matches) or at
# least 5. The same city through rules-v1.conf (k = 1, Table 50 alone) must
# fail the same check, or the check proves nothing. The privacy report
# carries the risk figures and agrees with the records.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker --single
oracle=$(cd "$(dirname "$0")/oracle" && pwd)
ctl=$OSH_BIN/osh-ctl
B=$OSH_BOOTSTRAP_CORE
T=$OSH_IT_TMP
DICT=$OSH_SOURCE_DIR/schemas/dictionary.tsv

"$OSH_BIN/gen-residents" --out "$T/city" --residents 20000 --seed 5 \
        --reference-date 20170315 2>/dev/null
want=$(awk '$1 == "consenting" {print $2}' "$T/city/truth_summary.tsv")
assert_ge "$want" 3000 "consenting applicants"
"$OSH_BIN/extractor" --input "$T/city" --ledger "$T/ledger" --kafka.bootstrap.servers="$B" \
        >"$T/ext.out" 2>"$T/ext.log" || fail "extractor failed: $(tail -3 "$T/ext.log")"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/hmac.key"

ends() { # number of END markers for resident.abstracted.v1
        "$ctl" consume --bootstrap "$B" --topic batch.control.v1 --timeout 3s 2>/dev/null |
                jq -c 'select(.value.kind == "END" and .value.topic == "resident.abstracted.v1")' |
                wc -l
}
run_anon() { # NAME RULES GROUP: one anonymizer run over the whole raw topic
        osh_it_start_service "$1" anonymizer --kafka.bootstrap.servers="$B" \
                --anon.rules="$OSH_SOURCE_DIR/services/anonymizer/rules/$2" \
                --anon.hmac.key.file="$T/hmac.key" --anon.group.id="$3" --replay=earliest \
                --kafka.session.timeout.ms=6000 --heartbeat.interval=1s
}
one_end() { (($(ends) >= 1)); }
two_ends() { (($(ends) >= 2)); }
# records of one rule version (header osh.anon.rules), as JSON lines
records_of() {
        jq -c --arg v "$1" 'select(.headers["osh.anon.rules"] == $v)' "$T/abs.all"
}

run_anon anon5 rules-v2.conf anon-k5
osh_it_wait_until 60 one_end || fail "no END from the k = 5 anonymizer"
osh_it_stop_service anon5
run_anon anon1 rules-v1.conf anon-k1
osh_it_wait_until 60 two_ends || fail "no END from the k = 1 anonymizer"
osh_it_stop_service anon1

"$ctl" consume --bootstrap "$B" --topic resident.abstracted.v1 --timeout 10s >"$T/abs.all"
records_of table50-k5-v2 >"$T/abs5.jsonl"
records_of table50-v1.1 >"$T/abs1.jsonl"
"$ctl" consume --bootstrap "$B" --topic privacy.report.v1 --timeout 5s | jq -c .value >"$T/reports"
r5=$(jq -c 'select(.rule_version == "table50-k5-v2")' "$T/reports")
r1=$(jq -c 'select(.rule_version == "table50-v1.1")' "$T/reports")

# the report: k reached, figures consistent with the records
n5=$(wc -l <"$T/abs5.jsonl")
assert_eq "$n5" "$(jq .records_out <<<"$r5")" "k=5 report records_out = released records"
assert_eq "$want" "$(jq '.records_out + .suppressed' <<<"$r5")" "k=5: in = out + suppressed"
assert_eq 5 "$(jq .k_floor <<<"$r5")" "k_floor 5 in the report"
assert_ge "$(jq .min_group_size <<<"$r5")" 5 "smallest class after enforcement"
assert_eq 1 "$(jq '.unique_share == 0 and .prosecutor_risk_max <= 0.2 and
        .unique_share_before > 0.9 and .min_group_size_before == 1 and
        (.class_sizes | length) == 8 and .class_sizes[4] == 0 and .class_sizes[5] == 0' \
        <<<"$r5" | sed 's/true/1/')" "risk before and after"
assert_ge "$(jq .generalised <<<"$r5")" 1 "records generalised"
assert_eq "$(jq .generalised <<<"$r5")" "$(jq -c 'select((.value.ranges | length) > 0 or
        (.value.unknown_flags | length) > 0)' "$T/abs5.jsonl" | wc -l)" \
        "generalised = records released with ranges or unknown flags"
assert_ge "$((want / 20))" "$(jq .suppressed <<<"$r5")" "suppression is the last resort (<= 5%)"
assert_eq 1 "$(jq '.records_out' <<<"$r1" | awk -v w="$want" '{print ($1 == w)}')" \
        "k=1 releases everyone"

# the attack
python3 "$oracle/linkage.py" "$DICT" "$T/city/truth.tsv" "$T/abs5.jsonl" 20170315 5 \
        >"$T/link5.txt" || fail "linkage below k: $(cat "$T/link5.txt")"
python3 "$oracle/linkage.py" "$DICT" "$T/city/truth.tsv" "$T/abs5.jsonl" 20170315 5 --children \
        >"$T/link5c.txt" || fail "linkage with children below k: $(cat "$T/link5c.txt")"
_osh_log "k=5: $(head -1 "$T/link5.txt"); $(head -1 "$T/link5c.txt")"
assert_contains "$(cat "$T/link5.txt")" "below_k 0" "no applicant below k"
# the control: Table 50 alone leaves most applicants singled out
if python3 "$oracle/linkage.py" "$DICT" "$T/city/truth.tsv" "$T/abs1.jsonl" 20170315 5 \
        >"$T/link1.txt"; then
        fail "the k=1 copy passed the linkage check: the check proves nothing"
fi
_osh_log "k=1: $(head -1 "$T/link1.txt")"
assert_contains "$(head -1 "$T/link1.txt")" "min 1 " "at k=1 someone is singled out"
