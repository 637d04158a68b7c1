#!/usr/bin/env bash
# segmenter end to end on the embedded broker. A seeded mini city gives the
# ground truth (full birth dates) and what the cloud sees (abstracted
# records, destinations, an exclusion list). Checks:
#  - the framed batch is swapped in only once its END marker matches;
#  - the nine seed campaigns previewed as of 2017-03-15 give the counts the
#    independent oracle (oracle/seg_oracle.py) computes from the truth;
#  - a send freezes the list (checksum) and emits one notify.dispatch.v1
#    record per recipient with id = SHA-256(campaign \0 利用者ID \0 channel);
#  - the same SEND again emits nothing; a RESEND re-emits identical records;
#  - a second snapshot without one resident takes over, and that resident
#    is no longer targeted.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker
oracle=$(cd "$(dirname "$0")/oracle" && pwd)
ctl="$OSH_BIN/osh-ctl"
B=$OSH_BOOTSTRAP_CLOUD
T=$OSH_IT_TMP
SEND_MS=1489503600000 # 2017-03-15 00:00 JST

python3 "$oracle/mini_city.py" 7 600 "$T"
python3 "$oracle/seg_oracle.py" "$T/truth.csv" 2017-03-15 >"$T/expected.txt"

marker() { # BATCH KIND COUNT CHECKSUM EXTRACT_MS
        printf '{"batch_id":"%s","kind":"%s","topic":"resident.abstracted.v1","record_count":%d,"checksum":"%s","reference_date":17240,"extract_time":%d}\n' "$@" |
                "$ctl" produce --bootstrap "$B" --topic batch.control.v1 --key.field batch_id
}
# publish_batch ID EXTRACT_MS FILE: START, the records, END with the count
# and checksum computed from the bytes on the topic.
publish_batch() {
        local sum
        marker "$1" START 0 "" "$2"
        "$ctl" produce --bootstrap "$B" --topic resident.abstracted.v1 --key.field user_id \
                --header "osh.batch.id=$1" <"$3"
        sum=$(timeout 20 kcat -C -q -b "$B" -t resident.abstracted.v1 -o beginning -e \
                -f '%K\t%S\t%h\t%k%s' | python3 "$oracle/batch_sum.py" "$1")
        assert_eq "$(wc -l <"$3")" "${sum% *}" "records of $1 on the topic"
        marker "$1" END "${sum% *}" "${sum#* }" "$2"
}
seg_log() { cat "$(osh_it_log seg)"; }
log_has() { [[ $(seg_log) == *"$1"* ]]; }
# results ID: the campaign.results.v1 values for campaign ID, one per line
results() {
        "$ctl" consume --bootstrap "$B" --topic campaign.results.v1 --timeout 5s |
                jq -c --arg id "$1" '.value | select(.campaign_id == $id)'
}
# dispatches CAMPAIGN TOTAL: the dispatch records of CAMPAIGN, once the
# topic holds TOTAL records (all campaigns; osh-ctl stops at the count)
dispatches() {
        "$ctl" consume --bootstrap "$B" --topic notify.dispatch.v1 --count "$2" --timeout 30s |
                jq -c --arg id "$1" '.value | select(.campaign_id == $id)'
}
campaign() { # FILE ID ACTION
        jq -c --argjson t "$SEND_MS" --arg id "$2" --arg a "$3" \
                '.send_at = $t | .min_audience = 1 | .action = $a | .campaign_id = $id' "$1"
}
C07=$OSH_SOURCE_DIR/campaigns/07-specific-health-checkup.json

publish_batch B-IT-1 1489500000000 "$T/abstracted.jsonl"
"$ctl" produce --bootstrap "$B" --topic destinations.v1 --key.field user_id <"$T/destinations.jsonl"

# ---- previews of the nine seed campaigns against the oracle ----
# Sent before the segmenter starts, so that they wait on the topic together
# and the segmenter answers them as one batch.
# shellcheck source=lib/campaigns.sh
. "$(dirname "$0")/lib/campaigns.sh"
seed_previews "$SEND_MS" | "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
osh_it_start_service seg segmenter --kafka.bootstrap.servers="$B" --state.dir="$T/state" \
        --exclusion.file="$T/excluded.txt" --min.audience=1 --heartbeat.interval=1s \
        --kafka.session.timeout.ms=6000
osh_it_wait_until 20 log_has "snapshot B-IT-1: 600 residents" || fail "B-IT-1 never swapped in"
"$ctl" consume --bootstrap "$B" --topic campaign.results.v1 --count 10 --timeout 30s |
        jq -c .value >"$T/results.jsonl"
n=0
while read -r name certain possible exact excluded nodest optout recipients; do
        # the minimum-audience guard (1 here) refuses a campaign nobody would get
        state=PREVIEWED
        ((recipients >= 1)) || state=REJECTED
        got=$(jq -r --arg id "seed-$name" 'select(.campaign_id == $id) |
                "\(.state) \(.certain) \(.possible) \(.suppressed_by_reason.excluded) \(.suppressed_by_reason.no_destination) \(.suppressed_by_reason.opt_out)"' \
                "$T/results.jsonl")
        assert_eq "$state $certain $possible $excluded $nodest $optout" "$got" \
                "$name (state certain possible excluded no_dest opt_out)"
        # the truth lies between the certain and the possible counts
        assert_ge "$exact" "$certain" "$name exact >= certain"
        assert_ge "$((certain + possible))" "$exact" "$name certain+possible >= exact"
        n=$((n + 1))
done <"$T/expected.txt"
assert_eq 10 "$n" "oracle lines"
# the ten previews waited together: answered in batches, one commit each
log_has "requests, one commit" || fail "no batch of requests answered together"
# by channel and by ward, against the oracle (minimum audience 1: nothing withheld)
python3 "$oracle/seg_oracle.py" "$T/truth.csv" 2017-03-15 --breakdown >"$T/expected_bd.jsonl"
n=0
while read -r line; do
        name=$(jq -r .campaign <<<"$line")
        got=$(jq -cS --arg id "seed-$name" 'select(.campaign_id == $id) |
                {by_channel: (.by_channel | map({(.channel): [.certain, .possible]}) | add // {}),
                 by_ward: (.by_ward | map({(.ward_code | tostring): [.certain, .possible]}) | add // {}),
                 min: .breakdown_min}' "$T/results.jsonl")
        assert_eq "$(jq -cS '{by_channel, by_ward, min: 1}' <<<"$line")" "$got" "$name by channel and ward"
        n=$((n + 1))
done <"$T/expected_bd.jsonl"
assert_eq 10 "$n" "oracle breakdown lines"
assert_eq chuo "$(jq -r '.by_ward[] | select(.ward_code == 12101) | .ward' "$T/results.jsonl" | head -1)" \
        "ward names as conditions spell them"
# the data must exercise both sides of the year-month uncertainty
assert_eq "1 1" "$(awk '$1 ~ /^(0[5-9]|10)/ {p += $3; c += $2} END {print (c > 0) " " (p > 0)}' \
        "$T/expected.txt")" "some certain and some possible"

# ---- a send: frozen list, one dispatch record per recipient ----
want=$(awk '$1 == "07-specific-health-checkup" {print $8}' "$T/expected.txt")
assert_ge "$want" 10 "campaign 07 has recipients"
campaign "$C07" it-send-07 SEND |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
dispatches it-send-07 "$want" >"$T/d1.jsonl"
assert_eq "$want" "$(wc -l <"$T/d1.jsonl")" "dispatch records"
assert_eq "$want" "$(jq -r .dispatch_id "$T/d1.jsonl" | sort -u | wc -l)" "one dispatch per recipient"
dispatching() { [[ $(results it-send-07 | tail -1 | jq -r .state) == DISPATCHING ]]; }
osh_it_wait_until 10 dispatching ||
        fail "no DISPATCHING result for it-send-07"
res=$(results it-send-07 | tail -1)
assert_eq "$want" "$(jq -r .recipients <<<"$res")" "recipients in the result"
list=$(ls "$T"/state/*/list.tsv)
assert_eq "$(sha256sum "$list" | cut -c1-64)" "$(jq -r .recipient_list_checksum <<<"$res")" \
        "checksum of the frozen list"
one=$(head -1 "$T/d1.jsonl")
id=$(printf 'it-send-07\0%s\0%s' "$(jq -r '.recipients[0].user_id' <<<"$one")" \
        "$(jq -r .channel <<<"$one")" | sha256sum | cut -c1-64)
assert_eq "$id" "$(jq -r .dispatch_id <<<"$one")" "dispatch id = sha256(campaign, user, channel)"
# no excluded resident is ever a recipient
jq -r '.recipients[].user_id' "$T/d1.jsonl" | sort >"$T/d1.users"
assert_eq "" "$(sort "$T/excluded.txt" | comm -12 - "$T/d1.users")" "excluded residents not sent to"

# ---- the same SEND again emits nothing; a RESEND re-emits the frozen list ----
campaign "$C07" it-send-07 SEND |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
again() { (("$(results it-send-07 | grep -c 'already emitted: not emitted again')" > 0)); }
osh_it_wait_until 10 again || fail "no answer to the second SEND"
assert_eq "$want" "$("$ctl" watermarks --bootstrap "$B" --topic notify.dispatch.v1 |
        awk '{ n += $4 - $3 } END { print n + 0 }')" "a second SEND emits nothing"
campaign "$C07" it-send-07 RESEND |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
dispatches it-send-07 $((2 * want)) >"$T/d2.jsonl"
assert_eq $((2 * want)) "$(wc -l <"$T/d2.jsonl")" "resent dispatch records"
assert_eq "$want" "$(jq -c 'del(.resend)' "$T/d2.jsonl" | sort -u | wc -l)" \
        "the resend emitted the frozen list record for record"
assert_eq "$want" "$(jq -c 'select(.resend)' "$T/d2.jsonl" | wc -l)" "marked as a resend"
# a frozen campaign's answers carry the breakdown saved with it
resent() { (("$(results it-send-07 | grep -c 're-emitted the frozen list')" > 0)); }
osh_it_wait_until 10 resent || fail "no answer to the RESEND"
assert_eq "$(awk '$1 == "07-specific-health-checkup" {print $2}' "$T/expected.txt")" \
        "$(results it-send-07 | grep 're-emitted the frozen list' | tail -1 | jq '[.by_ward[].certain] | add')" \
        "the RESEND answer's wards add up to certain"

# ---- a second snapshot without one recipient ----
gone=$(head -1 "$T/d1.users")
grep -v "\"user_id\": \"$gone\"" "$T/abstracted.jsonl" |
        jq -c '.batch_id = "B-IT-2"' >"$T/abstracted2.jsonl"
assert_eq 599 "$(wc -l <"$T/abstracted2.jsonl")" "second batch size"
publish_batch B-IT-2 1489510000000 "$T/abstracted2.jsonl"
osh_it_wait_until 20 log_has "snapshot B-IT-2: 599 residents" || fail "B-IT-2 never swapped in"
grep -v "^$gone," "$T/truth.csv" >"$T/truth2.csv"
python3 "$oracle/seg_oracle.py" "$T/truth2.csv" 2017-03-15 >"$T/expected2.txt"
want2=$(awk '$1 == "07-specific-health-checkup" {print $8}' "$T/expected2.txt")
assert_eq $((want - 1)) "$want2" "the oracle loses one recipient"
campaign "$C07" it-send-07b SEND |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
dispatches it-send-07b $((2 * want + want2)) >"$T/d3.jsonl"
assert_eq "$want2" "$(wc -l <"$T/d3.jsonl")" "dispatch records after the new snapshot"
assert_eq "" "$(jq -r --arg u "$gone" '.recipients[] | select(.user_id == $u) | .user_id' \
        "$T/d3.jsonl")" "the missing resident is no longer targeted"
# the result may trail the dispatch records: wait for it rather than read once
answered07b() { [[ -n $(results it-send-07b | tail -1) ]]; }
osh_it_wait_until 10 answered07b || fail "no result for it-send-07b"
assert_eq B-IT-2 "$(results it-send-07b | tail -1 | jq -r .snapshot_batch_id)" "result names B-IT-2"
# the send's answer carries the frozen evaluation's breakdown, by channel
# and ward, adding up to its certain count
assert_eq "$(results it-send-07b | tail -1 | jq '.certain')" \
        "$(results it-send-07b | tail -1 | jq '[.by_channel[].certain] | add')" "send: channels add up"
assert_eq "$(results it-send-07b | tail -1 | jq '.certain')" \
        "$(results it-send-07b | tail -1 | jq '[.by_ward[].certain] | add')" "send: wards add up"

# ---- kill -9 and restart: the newest snapshot again, frozen lists kept ----
osh_it_kill_service seg
osh_it_start_service seg segmenter --kafka.bootstrap.servers="$B" --state.dir="$T/state" \
        --exclusion.file="$T/excluded.txt" --min.audience=1 --heartbeat.interval=1s \
        --kafka.session.timeout.ms=6000
osh_it_wait_until 20 log_has "state caught up: 599 residents" || fail "restart: not on B-IT-2"
read -r _ certain possible _ excluded nodest optout _ < <(grep '^07-' "$T/expected2.txt")
jq -c --argjson t "$SEND_MS" '.send_at = $t | .min_audience = 1' "$C07" |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
campaign "$C07" it-send-07 RESEND |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
dispatches it-send-07 $((3 * want + want2)) >"$T/d4.jsonl"
assert_eq $((3 * want)) "$(wc -l <"$T/d4.jsonl")" "it-send-07 re-emitted after the restart"
assert_eq "$want" "$(jq -c 'del(.resend)' "$T/d4.jsonl" | sort -u | wc -l)" \
        "the frozen list survived kill -9 unchanged"
preview07() {
        results seed-07-specific-health-checkup | tail -1 | jq -r '"\(.snapshot_batch_id) \(.certain) \(.possible) \(.suppressed_by_reason.excluded) \(.suppressed_by_reason.no_destination) \(.suppressed_by_reason.opt_out)"'
}
# the preview sits on another partition than the resend: wait for its answer
on_b2() { [[ $(preview07) == B-IT-2\ * ]]; }
osh_it_wait_until 10 on_b2 || true
got=$(preview07)
assert_eq "B-IT-2 $certain $possible $excluded $nodest $optout" "$got" "preview after the restart"

osh_it_stop_service seg
