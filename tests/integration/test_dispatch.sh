#!/usr/bin/env bash
# sns-dispatcher end to end: osh-broker + provider fakes + a real SMTP server
# (aiosmtpd). Every dispatch settles SENT (or FAILED_PERM with a reason),
# each resident appears exactly once in the fake's log, and a replay of
# notify.dispatch.v1 from the earliest offset sends nothing again.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dispatch.sh"
osh_it_begin
osh_it_start_broker
disp_start_fakes --fail.invalid "$(disp_uid 999),4040"
disp_start_smtp

SUBJECTS=(
        "【重要】令和８年度 特定健康診査・特定保健指導のご案内（４０歳から７４歳までの国民健康保険に加入されている皆さまへ）受診期限は１２月２５日です"
        "土砂災害警戒情報 𠮷野町・𩸽川地区の皆さまへ 避難所を開設しました"
        $'２行の\n件名'
        "ASCII only subject 2026"
)
multi=()
for i in $(seq 100 699); do multi+=("$(disp_uid "$i")"); done
{
        for i in $(seq 1 20); do disp_rec "D-push-$i" LINE "【お知らせ】第２０回 健診 $i" "$(disp_uid "$i")"; done
        disp_rec D-multi LINE "【お知らせ】一斉配信" "${multi[@]}"                  # 2 multicast calls
        disp_rec D-bad LINE "【お知らせ】届かない" "$(disp_uid 999)"                # invalid user → 400
        disp_rec D-mixed LINE "【お知らせ】混在" "$(disp_uid 700)" "$(disp_uid 999)" # multicast 400 → push each
        for i in 1 2 3; do disp_rec "D-hook-$i" WEBHOOK "【お知らせ】webhook $i" "https://hooks.example.jp/acc-$i"; done
        for i in 1 2; do disp_rec "D-mail-$i" EMAIL "【お知らせ】メール ０１２３ $i" "resident$i@example.jp"; done
        # Subjects (issue 15.7): long Japanese titles, full-width digits, a character outside
        # the BMP, a newline; each must come out whole through a real MIME parser.
        for i in "${!SUBJECTS[@]}"; do
                disp_rec "D-subj-$i" EMAIL "本文 $i" "subject$i@example.jp" | jq -c --arg t "${SUBJECTS[$i]}" '.title = $t'
        done
        # Per-recipient state (issue 15.9): the 451 for flaky@ makes the record retry; the
        # retry must not send to retry1@ again. A LINE id repeated is sent and counted once.
        disp_rec D-mail-retry EMAIL "【お知らせ】再送" retry1@example.jp flaky@example.jp retry3@example.jp
        disp_rec D-line-dup LINE "【お知らせ】重複" "$(disp_uid 901)" "$(disp_uid 902)" "$(disp_uid 901)"
        # SMTP command injection through an account id (issue 15.1): refused before any
        # SMTP command, alone and beside a valid recipient who still gets the mail.
        disp_rec D-mail-inject EMAIL "【お知らせ】注入" $'a@example.jp>\r\nRCPT TO:<victim@example.jp'
        disp_rec D-mail-mixed EMAIL "【お知らせ】混在" $'b@example.jp>\r\nRCPT TO:<victim2@example.jp' resident3@example.jp
        # 4,600 characters, 5,200 UTF-16 units (issue 15.8): LINE (and its fake) counts units.
        disp_rec D-utf16 LINE "$(printf '𠮷%.0s' $(seq 1 600))$(printf 'あ%.0s' $(seq 1 4000))" "$(disp_uid 900)"
        disp_rec D-x-1 TWITTER "【お知らせ】X DM" 1001
        disp_rec D-x-bad TWITTER "【お知らせ】X DM" 4040
        disp_rec D-x-long TWITTER "$(printf 'あ%.0s' $(seq 1 600))" 1002 # > 492 characters: refused
        disp_rec D-fb-1 FACEBOOK "【お知らせ】Messenger" 2001001
        jq -cn --arg to "$(disp_uid 800)" '{dispatch_id: "D-tpl", campaign_id: "C-IT", channel: "LINE",
            text: "", template: "checkup_reminder", test: true, recipients: [{user_id: "u-800", account_id: $to}],
            variables: {deadline: "２０２６年１２月２５日", contact: "健康支援課 043-245-5146", url: "https://www.city.chiba.jp/"}}'
} | disp_produce
total=$((20 + 1 + 1 + 1 + 3 + 2 + 4 + 2 + 2 + 1 + 3 + 1 + 1))

disp_start disp
disp_wait_finals "$total"
finals=$(disp_finals)
assert_eq "$total" "$(wc -l <<<"$finals")" "every dispatch settled"
assert_eq 4 "$(grep -c FAILED_PERM <<<"$finals")" "D-bad, D-x-bad, D-x-long, D-mail-inject fail for good: $finals"
# one final status per dispatch id, also where only some recipients were sent
assert_eq "" "$(disp_statuses | jq -rs 'map(select(.status == "SENT" or .status == "FAILED_PERM"))
        | group_by(.dispatch_id) | map(select(length > 1) | .[0].dispatch_id) | .[]')" "no dispatch with two final statuses"
assert_contains "$finals" "D-mail-inject FAILED_PERM"
assert_contains "$(disp_statuses | jq -r 'select(.dispatch_id=="D-mail-inject") | .detail')" "e-mail domain"
assert_eq "SENT" "$(disp_statuses | jq -r 'select(.dispatch_id=="D-mail-mixed") | .status' | xargs)" "valid recipient sent"
assert_contains "$(disp_statuses | jq -r 'select(.dispatch_id=="D-mail-mixed") | .detail')" "1 refused" "the injected one refused, told in the one status"
assert_contains "$finals" "D-bad FAILED_PERM"
assert_contains "$finals" "D-x-long FAILED_PERM"
assert_contains "$(disp_statuses | jq -r 'select(.dispatch_id=="D-x-long") | .detail')" "channel allows 1"

log=$DISP_FAKE_LOG
line_to() { jq -r 'select(.provider=="line") | .to' "$log"; }
assert_eq 625 "$(line_to | wc -l)" "20 push + 600 multicast + 1 of mixed + template + utf16 + 2 of dup"
assert_eq "2 4600" "$(jq -r --arg u "$(disp_uid 900)" 'select(.to==$u) | "\(.texts | length) \(.texts | join("") | length)"' "$log")" \
        "5,200 UTF-16 units sent whole as 2 messages the fake (counting units) accepted"
assert_eq 0 "$(line_to | sort | uniq -d | wc -l)" "no LINE resident received a notice twice"
assert_eq 602 "$(jq -r 'select(.api=="multicast") | .to' "$log" | sort -u | wc -l)" "600 + 2 of dup"
assert_eq 3 "$(jq -r 'select(.api=="multicast") | .request_id' "$log" | sort -u | wc -l)" "600 ids → 2 calls, + 1 for dup"
assert_eq "【お知らせ】第20回 健診 7" "$(jq -r --arg u "$(disp_uid 7)" 'select(.to==$u) | .texts[0]' "$log")" "half-width digits"
tpl=$(jq -r --arg u "$(disp_uid 800)" 'select(.to==$u) | .texts | join("|")' "$log")
assert_contains "$tpl" $'■テスト送信■\n【'
assert_contains "$tpl" "・受診期限：2026年12月25日"
assert_eq 3 "$(jq -r 'select(.provider=="webhook") | .to' "$log" | sort -u | wc -l)" "webhooks (signature checked by the sink)"
assert_eq 1 "$(jq -r 'select(.provider=="twitter") | .to' "$log" | wc -l)"
assert_eq 1 "$(jq -r 'select(.provider=="facebook") | .to' "$log" | wc -l)"

# E-mail: the real SMTP server stored both, UTF-8 body, digits half-width.
osh_it_wait_until 10 bash -c "(( \$(find '$DISP_MAILDIR/new' -type f | wc -l) >= 10 ))" || fail "mails missing"
# Every captured message parsed with Python's email package (policy=default): the decoded
# subject is the intended title (digits half-width, newline as space), and no header line
# holding an encoded-word exceeds RFC 2047's 76 characters.
subjects=$(printf '%s\0' "${SUBJECTS[@]}" | /usr/bin/python3 -c '
import email, email.policy, glob, sys, unicodedata
want = {"subject%d@example.jp" % i: s for i, s in enumerate(sys.stdin.read().split("\0")[:-1])}
half = str.maketrans("０１２３４５６７８９", "0123456789")
bad = 0
for f in glob.glob(sys.argv[1] + "/new/*"):
    raw = open(f, "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    to = m["To"].addresses[0].addr_spec
    exp = want.get(to, "お知らせ").translate(half).replace("\n", " ")
    got = str(m["Subject"])
    long_lines = [l for l in raw.split(b"\r\n\r\n")[0].split(b"\n") if b"=?" in l and len(l.rstrip(b"\r")) > 76]
    if got != exp or long_lines:
        bad += 1
        print("MISMATCH", to, repr(got), "want", repr(exp), long_lines)
print("checked", len(glob.glob(sys.argv[1] + "/new/*")), "bad", bad)
' "$DISP_MAILDIR")
assert_contains "$subjects" "checked 10 bad 0" "decoded subjects equal the titles"
# aiosmtpd's Mailbox records the envelope (X-RcptTo): no injected RCPT got through.
assert_eq 0 "$(cat "$DISP_MAILDIR"/new/* | grep -ci victim)" "injected RCPT never reached the SMTP server"
assert_eq 10 "$(find "$DISP_MAILDIR/new" -type f | wc -l)" "resident1-3, subject0-3, retry1, flaky, retry3 only"
assert_eq "flaky@example.jp retry1@example.jp retry3@example.jp" \
        "$(grep -h '^X-RcptTo:' "$DISP_MAILDIR"/new/* | grep -oE '(retry|flaky)[^ ]*' | sort | xargs)" \
        "each recipient of the retried record got one mail"
assert_contains "$(disp_statuses | jq -r 'select(.dispatch_id=="D-mail-retry") | "\(.status) \(.provider_code)"')" "FAILED_TEMP 451"
assert_eq 3 "$(disp_statuses | jq -r 'select(.dispatch_id=="D-mail-retry" and .status=="SENT") | .recipients')" "3 recipients SENT"
assert_eq 2 "$(disp_statuses | jq -r 'select(.dispatch_id=="D-line-dup" and .status=="SENT") | .recipients')" "repeated LINE id counted once"
mails=$(for f in "$DISP_MAILDIR"/new/*; do /usr/bin/python3 -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(m["To"], m.get_payload(decode=True).decode("utf-8"))' "$f"; done)
assert_contains "$mails" "<resident1@example.jp> 【お知らせ】メール 0123 1"
assert_contains "$mails" "<resident2@example.jp> 【お知らせ】メール 0123 2"

# Delivery report on campaign.results.v1.
report=$("$OSH_BIN/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.results.v1 --timeout 10s | jq -c .value | tail -1)
assert_eq 640 "$(jq '.delivery.SENT' <<<"$report")" "recipients SENT in the report"

# Replay from the earliest offset: nothing is sent again.
before=$(wc -l <"$log")
osh_it_stop_service disp
disp_start disp2 --replay earliest
disp_wait_in disp2 "$total"
sleep 1
assert_eq "$before" "$(wc -l <"$log")" "replay sent nothing"
assert_contains "$(cat "$(osh_it_log disp2)")" "duplicates=$total"
assert_eq 10 "$(find "$DISP_MAILDIR/new" -type f | wc -l)" "no mail sent twice"
osh_it_stop_service disp2
