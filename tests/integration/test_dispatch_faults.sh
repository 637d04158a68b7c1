#!/usr/bin/env bash
# Provider trouble: an outage (503), then a 429 storm with Retry-After, then
# random 500s and answers lost after the provider accepted the message. Every
# dispatch still ends SENT or FAILED_PERM, none is lost, and thanks to
# X-Line-Retry-Key / Idempotency-Key no resident receives anything twice.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dispatch.sh"
osh_it_begin
osh_it_start_broker
disp_start_fakes --fail.outage 0-8 --fail.storm 8-11 --fail.error_rate 0.15 --fail.ack_loss 0.15 \
        --fail.invalid "$(disp_uid 999)"

multi=()
for i in $(seq 1000 1299); do multi+=("$(disp_uid "$i")"); done
{
        for i in $(seq 1 40); do disp_rec "F-push-$i" LINE "【お知らせ】$i" "$(disp_uid "$i")"; done
        disp_rec F-multi LINE "【お知らせ】一斉" "${multi[@]}"
        disp_rec F-bad LINE "【お知らせ】無効" "$(disp_uid 999)"
        for i in $(seq 1 10); do disp_rec "F-hook-$i" WEBHOOK "【お知らせ】hook $i" "https://hooks.example.jp/acc-$i"; done
} | disp_produce
total=52

disp_start disp --retry.base 200ms --retry.max 1s
disp_wait_finals "$total" 50
finals=$(disp_finals)
assert_eq "$total" "$(wc -l <<<"$finals")" "every dispatch settled"
assert_eq "F-bad FAILED_PERM" "$(grep FAILED_PERM <<<"$finals")" "only the invalid account failed"

statuses=$(disp_statuses)
temp=$(jq -r 'select(.status=="FAILED_TEMP") | .provider_code' <<<"$statuses" | sort | uniq -c)
assert_contains "$temp" " 503" "outage seen"
assert_contains "$temp" " 429" "storm seen"
assert_eq 0 "$(jq -r 'select(.status=="FAILED_TEMP" and .provider_code=="400")' <<<"$statuses" | wc -l)" "400 never retried"

log=$DISP_FAKE_LOG
assert_eq 340 "$(jq -r 'select(.provider=="line") | .to' "$log" | wc -l)" "40 push + 300 multicast accepted"
assert_eq 0 "$(jq -r 'select(.provider=="line") | .to' "$log" | sort | uniq -d | wc -l)" "no resident twice"
assert_eq 10 "$(jq -r 'select(.provider=="webhook") | .to' "$log" | sort -u | wc -l)"
assert_eq 10 "$(jq -r 'select(.provider=="webhook") | .to' "$log" | wc -l)" "no webhook twice"
assert_ge "$(jq -r 'select(.status=="SENT" and .detail=="retry key already accepted")' <<<"$statuses" | jq -s length)" 0
osh_it_stop_service disp
