#!/usr/bin/env bash
# The SMS channel (issue 11.3: one new channel file + one registry line)
# against the provider fake's Twilio Messages API: E.164 numbers, basic auth,
# form-encoded To/From/Body; seed 003's 660-character limit is the
# dispatcher's; the fake refuses what Twilio refuses (checked with curl).
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dispatch.sh"
osh_it_begin
osh_it_start_broker
disp_start_fakes --fail.invalid "+819000000000"

# The fake answers as Twilio does.
sms_post() { curl -s -o "$OSH_IT_TMP/sms.resp" -w '%{http_code}' -u "${2:-ACtest:sms-test-token}" \
        "$DISP_FAKE_URL/2010-04-01/Accounts/ACtest/Messages.json" "${@:3}" --data "$1"; }
assert_eq 401 "$(sms_post 'To=%2B819012345678&From=%2B815000000000&Body=x' ACtest:wrong)" "bad credentials"
assert_eq 400 "$(sms_post 'To=09012345678&From=%2B815000000000&Body=x')" "To not E.164"
assert_eq 21211 "$(jq .code "$OSH_IT_TMP/sms.resp")"
assert_eq 400 "$(sms_post 'To=%2B819012345678&From=%2B815000000000')" "missing Body"
assert_eq 21602 "$(jq .code "$OSH_IT_TMP/sms.resp")"
assert_eq 400 "$(sms_post "To=%2B819012345678&From=%2B815000000000&Body=$(printf 'a%.0s' $(seq 1 1601))")" "Body over 1600"
assert_eq 21617 "$(jq .code "$OSH_IT_TMP/sms.resp")"
assert_eq 201 "$(sms_post 'To=%2B819012345678&From=%2B815000000000&Body=%E3%83%86%E3%82%B9%E3%83%88')" "a good message"
assert_eq "テスト" "$(tail -1 "$DISP_FAKE_LOG" | jq -r '.texts[0]')" "form decoding"
: >"$DISP_FAKE_LOG"

long=$(printf 'あ%.0s' $(seq 1 661))
{
        disp_rec S-1 SMS "受診期限は１２月２５日です。" "+819012345678" | jq -c '.title = "特定健診のご案内"'
        disp_rec S-2 SMS "$(printf 'い%.0s' $(seq 1 640))" "+819012345679"   # within 660 with the title line
        disp_rec S-local SMS "届かない" "09012345678"                         # not E.164: refused before any request
        disp_rec S-long SMS "$long" "+819012345670"                          # over seed 003's 660
        disp_rec S-gone SMS "届かない" "+819000000000"                        # Twilio 400 21614
} | disp_produce
disp_start disp --sms.url "$DISP_FAKE_URL" --sms.token ACtest:sms-test-token --sms.from +815000000000
disp_wait_finals 5
finals=$(disp_finals)
assert_contains "$finals" "S-1 SENT"
assert_contains "$finals" "S-2 SENT"
assert_contains "$finals" "S-local FAILED_PERM"
assert_contains "$finals" "S-long FAILED_PERM"
assert_contains "$finals" "S-gone FAILED_PERM"
st=$(disp_statuses)
assert_contains "$(jq -r 'select(.dispatch_id=="S-local") | .detail' <<<"$st")" "E.164"
assert_contains "$(jq -r 'select(.dispatch_id=="S-long") | .detail' <<<"$st")" "channel allows 1"
assert_contains "$(jq -r 'select(.dispatch_id=="S-gone") | .detail' <<<"$st")" "21614"
assert_eq SMS "$(jq -r 'select(.dispatch_id=="S-1") | .channel' <<<"$st" | sort -u)" "status channel"
assert_contains "$(jq -r 'select(.dispatch_id=="S-1" and .status=="SENT") | .provider_message_id' <<<"$st")" "SM"
log=$DISP_FAKE_LOG
assert_eq "+819012345678 +819012345679" "$(jq -r 'select(.provider=="sms") | .to' "$log" | sort | xargs)" "only the valid numbers reached the provider"
assert_eq "【特定健診のご案内】
受診期限は12月25日です。" "$(jq -r 'select(.to=="+819012345678") | .texts[0]' "$log")" "title line, half-width digits"
assert_eq "+815000000000" "$(jq -r 'select(.to=="+819012345678") | .from' "$log")"
osh_it_stop_service disp
