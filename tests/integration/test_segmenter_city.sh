#!/usr/bin/env bash
# The seed campaigns against a generated city, through the real pipeline on
# one cluster: gen-residents (20K) -> extractor -> anonymizer -> segmenter.
# The nine previews must give the certain/possible counts and suppression
# split that oracle/city_oracle.py computes from gen-residents' ground truth
# (truth.tsv) without any segmenter code. Staff-side inputs (destinations,
# the exclusion list) are derived from the truth by the oracle's fixed rules.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker --single
oracle=$(cd "$(dirname "$0")/oracle" && pwd)
ctl=$OSH_BIN/osh-ctl
B=$OSH_BOOTSTRAP_CORE
T=$OSH_IT_TMP
SEND_MS=1489503600000 # 2017-03-15 00:00 JST, the city's reference date

"$OSH_BIN/gen-residents" --out "$T/city" --residents 20000 --seed 11 \
        --reference-date 20170315 2>/dev/null
python3 "$oracle/city_oracle.py" "$T/city/truth.tsv" 2017-03-15 "$T" >"$T/expected.txt"
want=$(awk '$1 == "consenting" {print $2}' "$T/city/truth_summary.tsv")
assert_ge "$want" 3000 "consenting applicants"

"$OSH_BIN/extractor" --input "$T/city" --ledger "$T/ledger" --kafka.bootstrap.servers="$B" \
        >"$T/ext.out" 2>"$T/ext.log" || fail "extractor failed: $(tail -3 "$T/ext.log")"
assert_contains "$(cat "$T/ext.out")" "emitted=$want " "extractor emitted every applicant"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/hmac.key"
osh_it_start_service anon anonymizer --kafka.bootstrap.servers="$B" \
        --anon.rules="$OSH_SOURCE_DIR/services/anonymizer/rules/rules-v1.conf" \
        --anon.hmac.key.file="$T/hmac.key" --kafka.session.timeout.ms=6000 --heartbeat.interval=1s
"$ctl" produce --bootstrap "$B" --topic destinations.v1 --key.field user_id <"$T/destinations.jsonl"
osh_it_start_service seg segmenter --kafka.bootstrap.servers="$B" --state.dir="$T/state" \
        --exclusion.file="$T/excluded.txt" --min.audience=1 --heartbeat.interval=1s \
        --kafka.session.timeout.ms=6000
snapshot() { grep -aq "snapshot .*: $want residents" "$(osh_it_log seg)"; }
osh_it_wait_until 45 snapshot || fail "the anonymized batch never swapped in ($want residents)"

# shellcheck source=lib/campaigns.sh
. "$(dirname "$0")/lib/campaigns.sh"
seed_previews "$SEND_MS" | "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
"$ctl" consume --bootstrap "$B" --topic campaign.results.v1 --count 10 --timeout 30s |
        jq -c .value >"$T/results.jsonl"
n=0
while read -r name certain possible excluded nodest optout recipients; do
        state=PREVIEWED
        ((recipients >= 1)) || state=REJECTED
        got=$(jq -r --arg id "seed-$name" 'select(.campaign_id == $id) |
                "\(.state) \(.certain) \(.possible) \(.suppressed_by_reason.excluded) \(.suppressed_by_reason.no_destination) \(.suppressed_by_reason.opt_out)"' \
                "$T/results.jsonl")
        assert_eq "$state $certain $possible $excluded $nodest $optout" "$got" \
                "$name (state certain possible excluded no_dest opt_out)"
        n=$((n + 1))
done <"$T/expected.txt"
assert_eq 10 "$n" "oracle lines"
# the city must exercise both sides of the year-month uncertainty and the
# suppression reasons, or the comparison above proves little
assert_eq "1 1 1 1 1" "$(awk '{c += $2; p += $3; x += $4; d += $5; o += $6}
        END {print (c > 0) " " (p > 0) " " (x > 0) " " (d > 0) " " (o > 0)}' "$T/expected.txt")" \
        "certain, possible, excluded, no destination and opted out all occur"
osh_it_stop_service seg
osh_it_stop_service anon
