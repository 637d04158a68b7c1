#!/usr/bin/env bash
# The delivery report survives a crash (issue 15.17): the same campaign is
# dispatched once cleanly (campaign A) and once with a kill -9 of the
# dispatcher in the middle (campaign B, same records under other ids). The
# topics must come out the same: notify.status.v1 holds exactly one final
# status per dispatch id, all SENT, and campaign.results.v1's final answer
# is DONE with the same delivery counts; no answer says DONE before it.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dispatch.sh"
osh_it_begin
osh_it_start_broker
disp_start_fakes
N_LINE=200
N_HOOK=40
N=$((N_LINE + N_HOOK))

# campaign P: the dispatch records and the segmenter's SEND answer (N dispatches).
campaign() {
        local p=$1
        for i in $(seq 1 "$N_LINE"); do disp_rec "$p-line-$i" LINE "【お知らせ】$i" "$(disp_uid "$i")"; done
        for i in $(seq 1 "$N_HOOK"); do disp_rec "$p-hook-$i" WEBHOOK "【お知らせ】$i" "https://hooks.example.jp/$p-$i"; done
} 
answer() {
        jq -cn --arg c "C-$1" --argjson n "$N" '{campaign_id: $c, action: "SEND", state: "DISPATCHING",
            certain: $n, possible: 0, suppressed: 0, suppressed_by_reason: {}, recipients: $n,
            recipient_list_checksum: "", snapshot_batch_id: "", message: "", computed_at: 0, delivery: {}}' |
                "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.results.v1 \
                        --key.field campaign_id 2>"$OSH_IT_TMP/produce.err" || fail "produce: $(cat "$OSH_IT_TMP/produce.err")"
}
results() {
        "$OSH_BIN/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.results.v1 \
                --timeout 10s 2>/dev/null | jq -c --arg c "C-$1" '.value | select(.campaign_id == $c and (.delivery | length) > 0)'
}
_done() { [[ $(results "$1" | tail -1 | jq -r .state) == DONE ]]; }
# what the topics say of campaign P, with its ids renamed to X-: one line per final status
# record, then the final answer.
summary() {
        disp_statuses | jq -r --arg p "$1-" 'select(.dispatch_id | startswith($p))
                | select(.status == "SENT" or .status == "FAILED_PERM")
                | "\(.dispatch_id | sub("^[A-Z]+-"; "X-")) \(.status) \(.recipients)"' | sort
        results "$1" | tail -1 | jq -c '{state, recipients, delivery}'
}
with_campaign() { jq -c --arg c "C-$1" '.campaign_id = $c'; }

# Clean run.
campaign A | with_campaign A | disp_produce
answer A
disp_start clean --line.rate 100/s:5 --webhook.rate 100/s:5 --group.id disp-it
osh_it_wait_until 60 _done A || fail "campaign A never DONE: $(results A | tail -1)"
osh_it_stop_service clean
clean=$(summary A)

# The same campaign, kill -9 in the middle, restart on the same ledger and group.
campaign B | with_campaign B | disp_produce
answer B
disp_start crash --line.rate 100/s:5 --webhook.rate 100/s:5 --group.id disp-it --ledger.path "$OSH_IT_TMP/ledger-b"
osh_it_wait_until 30 bash -c "grep -o 'stats: in=[0-9]*' '$(osh_it_log crash)' | tail -1 | grep -Eq 'in=([6-9][0-9]|[1-9][0-9][0-9])'" ||
        fail "no progress before the crash"
osh_it_kill_service crash
before=$(disp_finals | grep -c '^B-' || true)
(( before < N )) || fail "crash came too late ($before of $N settled)"
echo "[test_dispatch_report_crash] killed with $before of $N dispatches settled"
disp_start again --line.rate 100/s:5 --webhook.rate 100/s:5 --group.id disp-it --ledger.path "$OSH_IT_TMP/ledger-b"
osh_it_wait_until 60 _done B || fail "campaign B never DONE after the crash: $(results B | tail -1)"
sleep 1 # a late duplicate would show here
echo "[test_dispatch_report_crash] $(grep -ho 'status scan.*' "$(osh_it_log again)")"
osh_it_stop_service again
crashed=$(summary B)

assert_eq "$N" "$(disp_statuses | jq -r 'select(.dispatch_id | startswith("B-")) | select(.status == "SENT" or .status == "FAILED_PERM") | .dispatch_id' | sort -u | wc -l)" "every dispatch settled"
assert_eq 0 "$(disp_statuses | jq -r 'select(.status == "SENT" or .status == "FAILED_PERM") | .dispatch_id' | sort | uniq -d | wc -l)" "each dispatch id has exactly one final status"
assert_eq "$clean" "$crashed" "topics after the crash equal the clean run's"
assert_eq "{\"state\":\"DONE\",\"recipients\":$N,\"delivery\":{\"QUEUED\":0,\"SENT\":$N,\"DELIVERED\":0,\"FAILED_TEMP\":0,\"FAILED_PERM\":0,\"SUPPRESSED\":0}}" \
        "$(tail -1 <<<"$crashed")" "final answer"
for c in A B; do
        assert_eq 1 "$(results "$c" | jq -r .state | grep -c DONE)" "campaign $c: only the final answer says DONE"
        assert_eq DONE "$(results "$c" | tail -1 | jq -r .state)" "campaign $c ends DONE"
done
log=$DISP_FAKE_LOG
assert_eq $((2 * N_LINE)) "$(jq -r 'select(.provider=="line") | .to + .retry_key' "$log" | sort -u | wc -l)" "no LINE message twice"
