#!/usr/bin/env bash
# kill -9 in the middle of sending, restart on the same ledger: everything
# is sent, nothing twice (ledger before offset commit; LINE's retry key and
# the webhook's Idempotency-Key cover a crash between send and ledger write).
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dispatch.sh"
osh_it_begin
osh_it_start_broker
disp_start_fakes --fail.error_rate 0 # no injected failures here

{
        for i in $(seq 1 300); do disp_rec "K-push-$i" LINE "【お知らせ】$i" "$(disp_uid "$i")"; done
        for i in $(seq 1 100); do disp_rec "K-hook-$i" WEBHOOK "【お知らせ】$i" "https://hooks.example.jp/acc-$i"; done
} | disp_produce
total=400

disp_start disp --line.rate 100/s:5 --webhook.rate 100/s:5
osh_it_wait_until 30 _disp_in_ge disp 60 || fail "no progress before the crash"
osh_it_kill_service disp
sent_before=$(wc -l <"$DISP_FAKE_LOG")
assert_ge "$sent_before" 1 "something was sent before the crash"
(( sent_before < total )) || fail "crash came too late ($sent_before sent)"

disp_start disp2
disp_wait_finals "$total" 50
log=$DISP_FAKE_LOG
assert_eq 300 "$(jq -r 'select(.provider=="line") | .to' "$log" | sort -u | wc -l)" "every LINE resident"
assert_eq 300 "$(jq -r 'select(.provider=="line") | .to' "$log" | wc -l)" "no LINE resident twice"
assert_eq 100 "$(jq -r 'select(.provider=="webhook") | .to' "$log" | sort -u | wc -l)"
assert_eq 100 "$(jq -r 'select(.provider=="webhook") | .to' "$log" | wc -l)" "no webhook twice"
assert_eq 0 "$(disp_finals | grep -vc ' SENT$')" "all SENT"
osh_it_stop_service disp2
