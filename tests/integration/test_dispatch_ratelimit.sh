#!/usr/bin/env bash
# A 429 backs off the whole channel (issue 15.10): the LINE fake answers the
# 10th LINE request with 429 and Retry-After: 3; no other request to LINE
# may go out in the 3 s that follow, then every dispatch is still sent once.
# Webhooks (another channel) are not held by LINE's limit.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dispatch.sh"
osh_it_begin
osh_it_start_broker
reqlog=$OSH_IT_TMP/requests.jsonl
disp_start_fakes --fail.throttle 10:3 --requests.log "$reqlog"

{
        for i in $(seq 1 60); do disp_rec "R-push-$i" LINE "【お知らせ】$i" "$(disp_uid "$i")"; done
        for i in $(seq 1 30); do disp_rec "R-hook-$i" WEBHOOK "【お知らせ】$i" "https://hooks.example.jp/r-$i"; done
} | disp_produce
total=90

disp_start disp --line.rate 20/s:2 --webhook.rate 10/s:1
disp_wait_finals "$total" 60
assert_eq 0 "$(disp_finals | grep -vc ' SENT$')" "all SENT"
log=$DISP_FAKE_LOG
assert_eq 60 "$(jq -r 'select(.provider=="line") | .to' "$log" | sort -u | wc -l)" "every LINE resident"
assert_eq 60 "$(jq -r 'select(.provider=="line") | .to' "$log" | wc -l)" "no LINE resident twice"

t429=$(jq -r 'select(.status==429) | .ms' "$reqlog")
assert_eq 1 "$(wc -l <<<"$t429")" "exactly one 429 was answered"
inside=$(jq -r --argjson t "$t429" 'select((.api=="push" or .api=="multicast") and .ms > $t and .ms < $t + 3000) | .ms' "$reqlog" | wc -l)
assert_eq 0 "$inside" "no LINE request inside the Retry-After window ($(jq -c 'select(.api=="push")' "$reqlog" | head -20 | tr '\n' ' '))"
after=$(jq -r --argjson t "$t429" 'select(.api=="push" and .ms >= $t + 3000) | .ms' "$reqlog" | head -1)
assert_ge "$after" 1 "LINE resumed after the window"
hooks=$(jq -r --argjson t "$t429" 'select(.api=="webhook" and .ms > $t and .ms < $t + 3000)' "$reqlog" | jq -s length)
echo "[test_dispatch_ratelimit] 429 at ${t429} ms; LINE resumed at ${after} ms; $hooks webhook requests inside the window"
assert_ge "$hooks" 1 "other channels keep going during LINE's back-off"
osh_it_stop_service disp
