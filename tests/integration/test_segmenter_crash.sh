#!/usr/bin/env bash
# segmenter, kill -9 in the middle of emitting a frozen list (a slow
# producer: one record in flight at a time; killed once a quarter of the
# list is on notify.dispatch.v1), then a restart: the restarted segmenter
# finishes the emission at start-up (scheduled send) and the replayed SEND
# request emits nothing. notify.dispatch.v1 then holds what a clean run
# holds: one record per line of the frozen list, keyed by its dispatch id,
# nothing twice; and a campaign the dispatcher reported DONE in between is
# never answered with an earlier state.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker
oracle=$(cd "$(dirname "$0")/oracle" && pwd)
ctl="$OSH_BIN/osh-ctl"
B=$OSH_BOOTSTRAP_CLOUD
T=$OSH_IT_TMP
SEND_MS=1489503600000 # 2017-03-15 00:00 JST, in the past: the send is due at once
ID=crash-07

python3 "$oracle/mini_city.py" 7 6000 "$T"
marker() { # KIND COUNT CHECKSUM
        printf '{"batch_id":"B-IT-1","kind":"%s","topic":"resident.abstracted.v1","record_count":%d,"checksum":"%s","reference_date":17240,"extract_time":1489500000000}\n' "$@" |
                "$ctl" produce --bootstrap "$B" --topic batch.control.v1 --key.field batch_id
}
marker START 0 ""
"$ctl" produce --bootstrap "$B" --topic resident.abstracted.v1 --key.field user_id \
        --header osh.batch.id=B-IT-1 <"$T/abstracted.jsonl"
sum=$(timeout 20 kcat -C -q -b "$B" -t resident.abstracted.v1 -o beginning -e \
        -f '%K\t%S\t%h\t%k%s' | python3 "$oracle/batch_sum.py" B-IT-1)
marker END "${sum% *}" "${sum#* }"
"$ctl" produce --bootstrap "$B" --topic destinations.v1 --key.field user_id <"$T/destinations.jsonl"

count() { "$ctl" watermarks --bootstrap "$B" --topic "$1" | awk '{ n += $4 - $3 } END { print n + 0 }'; }
results() { "$ctl" consume --bootstrap "$B" --topic campaign.results.v1 --timeout 5s |
        jq -c --arg id "$ID" '.value | select(.campaign_id == $id)'; }
start_seg() { # NAME [args]
        local name=$1
        shift
        osh_it_start_service "$name" segmenter --kafka.bootstrap.servers="$B" \
                --state.dir="$T/state" --min.audience=1 --heartbeat.interval=1s \
                --kafka.session.timeout.ms=6000 "$@"
}
caught_up() { grep -q "snapshot B-IT-1: 6000 residents" "$(osh_it_log "$1")"; }

start_seg s1 --kafka.queue.buffering.max.messages 1 --kafka.linger.ms 1
osh_it_wait_until 30 caught_up s1 || fail "s1 never caught up"
jq -c --argjson t "$SEND_MS" --arg id "$ID" '.send_at = $t | .min_audience = 1 |
        .action = "SEND" | .campaign_id = $id' \
        "$OSH_SOURCE_DIR/campaigns/07-specific-health-checkup.json" |
        "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
frozen() { compgen -G "$T/state/*/list.tsv" >/dev/null; }
osh_it_wait_until 20 frozen || fail "the campaign was not frozen"
list=$(compgen -G "$T/state/*/list.tsv")
want=$(wc -l <"$list")
assert_ge "$want" 200 "recipients in the frozen list"
part_ge() { (($(count notify.dispatch.v1) >= want / 4)); }
osh_it_wait_until 30 part_ge || fail "s1 emitted fewer than a quarter of the list"
osh_it_kill_service s1
partial=$(count notify.dispatch.v1)
((partial < want)) || fail "s1 emitted everything before the kill: the slow output was not slow"
_osh_log "killed s1 after $partial of $want dispatch records"
assert_eq "" "$(results)" "no answer before the kill"

# Meanwhile the dispatcher reports the campaign DONE (as it does once it has
# sent what arrived); the restarted segmenter must not answer after it with
# an earlier state.
jq -nc --arg id "$ID" --argjson n "$want" '{campaign_id: $id, action: "SEND", state: "DONE",
        certain: 0, possible: 0, suppressed: 0, suppressed_by_reason: {}, recipients: $n,
        recipient_list_checksum: "", snapshot_batch_id: "B1", message: "sent", computed_at: 1,
        delivery: {}}' |
        "$ctl" produce --bootstrap "$B" --topic campaign.results.v1 --key.field campaign_id

start_seg s2
finished() { grep -q "campaign dispatched" "$(osh_it_log s2)"; }
osh_it_wait_until 30 finished || fail "s2 did not finish the emission"
replayed() { grep -q "no DISPATCHING answer after it" "$(osh_it_log s2)"; }
osh_it_wait_until 30 replayed || fail "s2 did not handle the replayed SEND"
osh_it_stop_service s2

# the whole topic against the frozen list: each dispatch id once
python3 -c 'import hashlib, sys
for line in open(sys.argv[2], encoding="utf-8"):
    uid, chan = line.split("\t")[:2]
    print(hashlib.sha256(f"{sys.argv[1]}\0{uid}\0{chan}".encode()).hexdigest())' "$ID" "$list" |
        sort >"$T/want.ids"
assert_eq "$want" "$(sort -u "$T/want.ids" | wc -l)" "dispatch ids of the list"
timeout 30 kcat -C -q -b "$B" -t notify.dispatch.v1 -o beginning -e -f '%k\n' | sort >"$T/got.ids"
assert_eq "$want" "$(wc -l <"$T/got.ids")" "records on notify.dispatch.v1: one per recipient"
assert_eq "$(md5sum <"$T/want.ids")" "$(md5sum <"$T/got.ids")" "the set of dispatch ids"
assert_eq DONE "$(results | tail -1 | jq -r .state)" "the campaign's last answer stays DONE"
grep -q "resuming an emission a stopped run began: $partial of" "$(osh_it_log s2)" ||
        grep -q "resuming an emission a stopped run began" "$(osh_it_log s2)" ||
        fail "s2 did not resume"
_osh_log "$(grep -o 'campaign dispatched: .*' "$(osh_it_log s2)")"
