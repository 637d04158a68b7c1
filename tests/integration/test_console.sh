#!/usr/bin/env bash
# console against the real services on the embedded broker (segmenter,
# cloud-ingest, sns-dispatcher with the LINE fake and aiosmtpd). Over HTTPS
# with curl it checks: security headers on every answer (404 too); sign-in
# refused for a wrong password, a wrong TOTP code and a replayed one;
# lock-out; an account added by the CLI while the console runs signs in;
# CSRF; roles (viewer cannot send, author cannot approve their
# own); the preview's counts equal the segmenter's for the same condition
# and small counts are redacted; the quiet hours shown are the running
# dispatcher's (from its heartbeat) and a send time in them is flagged; a destinations upload through cloud-ingest
# with a per-row report; a test send reaches the LINE fake and the SMTP
# server marked ■テスト送信■; a send above the approval threshold waits for
# a second person; a scheduled send is cancelled; results and the CSV; the
# audit log holds every step; malformed requests get precise 4xx; SIGTERM.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "$0")/lib/dispatch.sh"
# shellcheck source=lib/console.sh
. "$(dirname "$0")/lib/console.sh"
osh_it_begin
con_start_all
J=$OSH_IT_TMP/jar

# req USER METHOD PATH [BODY] [CONTENT-TYPE]: the body to $OSH_IT_TMP/resp, prints the status.
req() {
        local user=$1 m=$2 p=$3 body=${4:-} ct=${5:-application/json} csrf=""
        [[ -f $J.$user.csrf ]] && csrf=$(cat "$J.$user.csrf")
        local args=(-s -o "$OSH_IT_TMP/resp" -w '%{http_code}' --cacert "$CON_CA" -b "$J.$user" -c "$J.$user"
                -X "$m" "$CON_URL$p")
        [[ $m == POST ]] && args+=(-H "Content-Type: $ct" -H "X-CSRF-Token: $csrf" --data-binary "$body")
        curl "${args[@]}"
}
resp() { cat "$OSH_IT_TMP/resp"; }
login() { # USER [OTP]
        local b
        b=$(jq -cn --arg u "$1" --arg p "$CON_PW" --arg o "${2:-}" '{user: $u, password: $p} + (if $o == "" then {} else {otp: $o} end)')
        local code
        code=$(req "$1" POST /api/login "$b")
        [[ $code == 200 ]] && jq -r .csrf "$OSH_IT_TMP/resp" >"$J.$1.csrf"
        echo "$code"
}
totp() { python3 -c 'import base64,hmac,hashlib,struct,sys,time
k=base64.b32decode(sys.argv[1]); c=int(time.time())//30+int(sys.argv[2])
h=hmac.new(k,struct.pack(">Q",c),hashlib.sha1).digest(); o=h[-1]&15
print("%06d"%((struct.unpack(">I",h[o:o+4])[0]&0x7fffffff)%1000000))' "$CON_TOTP" "${1:-0}"; }

# ---- headers on everything, 404 included ----
hdrs=$(curl -s -D - -o /dev/null --cacert "$CON_CA" "$CON_URL/nope")
assert_contains "$hdrs" "HTTP/1.1 404"
assert_contains "$hdrs" "frame-ancestors 'none'" "CSP on a 404"
assert_contains "$hdrs" "X-Content-Type-Options: nosniff"
hdrs=$(curl -s -D - -o "$OSH_IT_TMP/index" --cacert "$CON_CA" "$CON_URL/")
assert_contains "$hdrs" "script-src 'self'" "CSP on the page"
assert_not_contains "$(cat "$OSH_IT_TMP/index")" "<script>" "no inline script"
assert_eq 401 "$(req anon GET /api/campaigns)" "API needs a session"

# ---- sign-in ----
assert_eq 401 "$(req alice POST /api/login '{"user":"alice","password":"wrong-password-1"}')" "wrong password"
assert_eq 200 "$(login alice)" "alice signs in"
hdrs=$(curl -s -D - -o /dev/null --cacert "$CON_CA" -H 'Content-Type: application/json' \
        --data '{"user":"bob","password":"'"$CON_PW"'"}' "$CON_URL/api/login")
assert_contains "$hdrs" "HttpOnly; Secure; SameSite=Strict" "session cookie flags"
assert_contains "$hdrs" "Cache-Control: no-store" "API answers are no-store"
assert_eq 401 "$(login tina 000000)" "wrong TOTP refused"
assert_eq 401 "$(login tina)" "missing TOTP refused"
code=$(totp 0)
assert_eq 200 "$(login tina "$code")" "right TOTP accepted"
rm -f "$J.tina2"
assert_eq 401 "$(login tina2 "$code")" "unknown account refused"
b=$(jq -cn --arg p "$CON_PW" --arg o "$code" '{user: "tina", password: $p, otp: $o}')
assert_eq 401 "$(req tina3 POST /api/login "$b")" "a used TOTP code is not accepted again"
assert_eq 200 "$(login bob)"
assert_eq 200 "$(login vic)"
assert_eq 200 "$(login root)"
# an account the CLI adds while the console runs signs in without a restart
con_add_user late author >/dev/null
assert_eq 200 "$(login late)" "account added by the CLI while running signs in"

# ---- lock-out (3 failures here) ----
for _ in 1 2; do
        assert_eq 401 "$(req x POST /api/login '{"user":"vic","password":"wrong-password-1"}')"
done
assert_eq 429 "$(req x POST /api/login '{"user":"vic","password":"wrong-password-1"}')" "third failure locks"
assert_eq 429 "$(req vic2 POST /api/login "{\"user\":\"vic\",\"password\":\"$CON_PW\"}")" "locked even with the right password"

# ---- malformed and forbidden requests ----
csrf=$(cat "$J.alice.csrf")
assert_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CON_CA" -b "$J.alice" -H 'Content-Type: application/json' \
        --data '{"condition":"true"}' "$CON_URL/api/preview")" "no CSRF token: 403"
assert_eq 400 "$(req alice POST /api/preview '{"condition":')" "broken JSON"
assert_contains "$(resp)" "malformed JSON"
assert_eq 400 "$(req alice POST /api/preview '{"condition":"true","x":1}')" "unknown field"
assert_contains "$(resp)" 'unknown field \"x\"'
assert_eq 400 "$(req alice POST /api/preview '{"condition":5}')" "wrong type"
assert_contains "$(resp)" "condition must be a string"
assert_eq 415 "$(req alice POST /api/preview '{"condition":"true"}' text/plain)" "JSON only"
assert_eq 405 "$(req alice GET /api/preview)" "GET on a POST route"
assert_eq 403 "$(req vic POST /api/campaigns '{}')" "viewer cannot send"
assert_contains "$(resp)" "role viewer may not request sends"

# ---- preview = the segmenter's own answer ----
cond='nhi'
assert_eq 200 "$(req alice POST /api/preview "$(jq -cn --arg c "$cond" '{condition: $c}')")"
mine=$(resp)
jq -cn --arg c "$cond" '{campaign_id: "it-direct", action: "PREVIEW", condition: $c, template: {}, min_audience: 10}' |
        "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.requests.v1 --key.field campaign_id
direct() { "$OSH_BIN/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.results.v1 --timeout 5s |
        jq -c '.value | select(.campaign_id == "it-direct")' | tail -1; }
_direct_seen() { [[ -n $(direct) ]]; }
osh_it_wait_until 20 _direct_seen || fail "the segmenter never answered the direct preview"
direct=$(direct)
assert_eq "$(jq .certain <<<"$direct")" "$(jq .certain <<<"$mine")" "certain as the segmenter says"
assert_eq "$(jq -c 'if .possible < 10 then {lt: 10} else .possible end' <<<"$direct")" \
        "$(jq -c .possible <<<"$mine")" "possible as the segmenter says (redacted below 10)"
assert_ge "$(jq .certain <<<"$mine")" 10 "enough children for a visible count"
# by channel and by ward: every cell the segmenter's count, "fewer than 10"
# below it, and a count it withheld (-1) never shown as a number
cells='def c: if . == -1 then {withheld: true} elif . < 10 then {lt: 10} else . end;'
assert_eq "$(jq -cS "$cells"' .by_channel | map({channel, certain: (.certain | c), possible: (.possible | c)})' <<<"$direct")" \
        "$(jq -cS .by_channel <<<"$mine")" "by channel as the segmenter says"
assert_eq "$(jq -cS "$cells"' .by_ward | map({ward_code, ward, certain: (.certain | c), possible: (.possible | c)})' <<<"$direct")" \
        "$(jq -cS .by_ward <<<"$mine")" "by ward as the segmenter says"
assert_ge "$(jq '.by_ward | length' <<<"$mine")" 2 "wards listed: $(jq -c .by_ward <<<"$mine")"
assert_ge "$(jq '[.by_ward[].certain | numbers] | length' <<<"$mine")" 1 "a ward count shown"
assert_eq 0 "$(jq '[.by_channel[], .by_ward[] | .certain, .possible | numbers | select(. < 10)] | length' <<<"$mine")" \
        "no breakdown count below 10 shown as a number"
assert_eq 200 "$(req alice POST /api/preview '{"condition":"public_assistance and ward = chuo and age(30..31)"}')"
assert_eq '{"lt":10}' "$(jq -c .certain "$OSH_IT_TMP/resp")" "small counts shown as fewer than 10"

# ---- quiet hours: the dispatcher's own configuration, from its heartbeat ----
_quiet_known() { req alice GET /api/quiet >/dev/null && jq -e .known "$OSH_IT_TMP/resp" >/dev/null; }
osh_it_wait_until 30 _quiet_known || fail "the console never learnt the dispatcher's quiet hours: $(resp)"
assert_eq "$CON_QUIET" "$(jq -r .hours "$OSH_IT_TMP/resp")" "quiet hours as the dispatcher runs with them"
assert_eq false "$(jq .in_quiet "$OSH_IT_TMP/resp")" "sending now is outside them"
in_ms=$((($(date +%s) + 4 * 3600) * 1000))
assert_eq 200 "$(req alice GET "/api/quiet?at=$in_ms")"
assert_eq true "$(jq .in_quiet "$OSH_IT_TMP/resp")" "a send in 4 hours falls in them"
end=$(TZ=Asia/Tokyo date -d "${CON_QUIET#*-}" +%s)
while ((end * 1000 <= in_ms)); do end=$((end + 86400)); done
assert_eq "$((end * 1000))" "$(jq .until "$OSH_IT_TMP/resp")" "held until the window ends (${CON_QUIET#*-} JST)"
assert_eq 400 "$(req alice GET '/api/quiet?at=soon')" "a malformed time is refused"
assert_contains "$(resp)" "at must be epoch milliseconds"

# ---- sets and templates (versioned) ----
assert_eq 200 "$(req alice POST /api/sets "$(jq -cn --arg c "$cond" '{name: "未就学児", condition: $c}')")"
assert_eq 200 "$(req alice POST /api/sets "$(jq -cn --arg c "$cond" '{name: "未就学児", condition: $c}')")"
assert_eq 2 "$(jq .version "$OSH_IT_TMP/resp")" "second save is version 2"
assert_eq 403 "$(req vic POST /api/sets '{"name":"x","condition":"true"}')" "viewer cannot save"

# ---- destinations upload through cloud-ingest ----
{
        printf '利用者ID,channel,account id,categories\n'
        printf 'TEST0001,line,U%s,childcare\n' 0123456789abcdef0123456789abcdef
        printf 'TEST0002,email,staff-test@example.jp,childcare\n'
        printf 'TEST0003,fax,123,childcare\n'
} >"$OSH_IT_TMP/dest.csv"
assert_eq 200 "$(req alice POST /api/destinations "@$OSH_IT_TMP/dest.csv" text/csv)" "upload"
assert_eq 2 "$(jq .accepted "$OSH_IT_TMP/resp")" "two good rows"
assert_eq 1 "$(jq .rejected "$OSH_IT_TMP/resp")" "one bad row"
assert_eq 4 "$(jq '.errors[0].line' "$OSH_IT_TMP/resp")" "bad line reported"

# ---- a test send reaches the LINE fake and the SMTP server ----
tpl='{"title":"【テスト】お知らせ","body":"本文です。","items":[{"label":"会場","value":"中央区役所"}],"links":[]}'
send_body() { # TEST SEND_AT
        jq -cn --arg c "$cond" --argjson t "$tpl" --argjson test "$1" --argjson at "$2" \
                '{condition: $c, template: $t, test: $test, send_at: $at}
                 + (if $test then {test_recipients: ["TEST0001", "TEST0002"]} else {} end)'
}
_seen_tests() { grep -q TEST0001 <(kcat -C -b "$OSH_BOOTSTRAP_CLOUD" -t destinations.v1 -e -q -f '%k\n' 2>/dev/null); }
osh_it_wait_until 20 _seen_tests || fail "uploaded destinations not on destinations.v1"
sleep 1 # the segmenter applies destinations from its state consumer
assert_eq 200 "$(req alice POST /api/campaigns "$(send_body true null)")" "test send requested"
test_id=$(jq -r .id "$OSH_IT_TMP/resp")
assert_eq REQUESTED "$(jq -r .state "$OSH_IT_TMP/resp")" "test sends need no approval"
_line_got() { grep -q "テスト送信" "$DISP_FAKE_LOG"; }
osh_it_wait_until 40 _line_got || fail "LINE fake got no test send: $(cat "$DISP_FAKE_LOG")"
_mail_got() { grep -rqs "staff-test@example.jp" "$DISP_MAILDIR"; }
osh_it_wait_until 40 _mail_got || fail "SMTP server got no test mail"

# ---- approval by a second person ----
assert_eq 200 "$(req alice POST /api/campaigns "$(send_body false null)")"
big=$(jq -r .id "$OSH_IT_TMP/resp")
assert_eq PENDING_APPROVAL "$(jq -r .state "$OSH_IT_TMP/resp")" "above the threshold: pending"
assert_eq 403 "$(req alice POST /api/campaigns/approve "{\"id\":\"$big\"}")" "author role cannot approve"
assert_eq 200 "$(req root POST /api/campaigns "$(send_body false null)")"
own=$(jq -r .id "$OSH_IT_TMP/resp")
assert_eq 403 "$(req root POST /api/campaigns/approve "{\"id\":\"$own\"}")" "author cannot approve own send"
assert_contains "$(resp)" "cannot approve their own"
assert_eq 200 "$(req root POST /api/campaigns/cancel "{\"id\":\"$own\"}")" "pending send cancelled"
assert_eq 200 "$(req bob POST /api/campaigns/approve "{\"id\":\"$big\"}")" "approver releases"
assert_eq 409 "$(req bob POST /api/campaigns/approve "{\"id\":\"$big\"}")" "not twice"
_done() {
        req bob GET /api/campaigns >/dev/null
        jq -e --arg id "$big" '.[] | select(.id == $id) | .result.state == "DONE" or .result.state == "DISPATCHING"' \
                "$OSH_IT_TMP/resp" >/dev/null
}
osh_it_wait_until 40 _done || fail "results never showed the send: $(resp)"

# ---- a scheduled send is cancelled before it starts ----
later=$((($(date +%s) + 3600) * 1000))
assert_eq 200 "$(req alice POST /api/campaigns "$(send_body true "$later")")"
sched=$(jq -r .id "$OSH_IT_TMP/resp")
_frozen() { "$OSH_BIN/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.results.v1 --timeout 3s |
        jq -n -e --arg id "$sched" 'any(inputs; .value.campaign_id == $id and .value.state == "FROZEN")' >/dev/null; }
osh_it_wait_until 60 _frozen || fail "scheduled send never frozen"
assert_eq 200 "$(req alice POST /api/campaigns/cancel "{\"id\":\"$sched\"}")" "scheduled send cancelled"
assert_eq CANCELLED "$(jq -r .state "$OSH_IT_TMP/resp")"

# ---- results CSV ----
assert_eq 200 "$(req bob GET /api/results.csv)"
assert_contains "$(resp)" "campaign_id,title,state,recipients,sent"
assert_contains "$(resp)" "$big"

# ---- audit: every step, admins only ----
assert_eq 403 "$(req alice GET /api/audit)" "audit is for admins"
assert_eq 200 "$(req root GET '/api/audit?limit=10000')"
for a in SIGN_IN SIGN_IN_FAILED LOCKED_OUT PREVIEW SAVE_SET UPLOAD SEND_REQUEST APPROVE CANCEL REFUSED; do
        assert_eq 1 "$(jq --arg a "$a" '[.[] | select(.action == $a)] | (length > 0) | if . then 1 else 0 end' "$OSH_IT_TMP/resp")" "audit has $a"
done
assert_eq bob "$(jq -r --arg id "$big" '.[] | select(.action == "APPROVE" and .outcome == "OK" and .target == $id) | .actor' "$OSH_IT_TMP/resp")" "approval by bob"
assert_eq 200 "$(req root GET '/api/audit?actor=alice&action=UPLOAD')"
assert_eq alice "$(jq -r '.[0].actor' "$OSH_IT_TMP/resp")" "filtered by actor and action"
assert_eq 127.0.0.1 "$(jq -r '.[0].remote' "$OSH_IT_TMP/resp")" "from where"
assert_not_contains "$(cat "$(osh_it_log console)")" "$CON_PW" "no password in the log"

osh_it_stop_service console
osh_it_stop_service disp
