# shellcheck shell=bash
# Helpers for the sns-dispatcher integration tests (source after harness.sh):
# provider fakes, a real SMTP server (aiosmtpd from Debian) into a maildir,
# dispatch records, and status/ledger inspection with jq.

DISP_LINE_TOKEN=line-it-token
DISP_WEBHOOK_SECRET=it-webhook-secret

# disp_uid N: a valid LINE user id (U + 32 hex) for resident N.
disp_uid() { printf 'U%032x' "$1"; }

# disp_start_fakes [extra osh-fake-providers args]: sets DISP_FAKE_URL, DISP_FAKE_LOG.
disp_start_fakes() {
        DISP_FAKE_LOG=$OSH_IT_TMP/accepted.jsonl
        : >"$DISP_FAKE_LOG"
        osh_it_start_service fakes osh-fake-providers --port.file "$OSH_IT_TMP/fake.port" \
                --log "$DISP_FAKE_LOG" --line.token "$DISP_LINE_TOKEN" \
                --webhook.secret "$DISP_WEBHOOK_SECRET" "$@"
        DISP_FAKE_URL=http://127.0.0.1:$(cat "$OSH_IT_TMP/fake.port")
}

_disp_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# disp_start_smtp: aiosmtpd writing every message into $OSH_IT_TMP/maildir; the first
# RCPT TO of a "flaky..." address gets 451 (lib/smtp_flaky.py).
disp_start_smtp() {
        DISP_SMTP_PORT=$(osh_it_free_port)
        DISP_MAILDIR=$OSH_IT_TMP/maildir
        PYTHONPATH=$(dirname "${BASH_SOURCE[0]}") osh_it_spawn smtp /usr/bin/python3 -m aiosmtpd -n \
                -l "127.0.0.1:$DISP_SMTP_PORT" -c smtp_flaky.FlakyMailbox "$DISP_MAILDIR"
        osh_it_wait_until 15 _disp_port_open "$DISP_SMTP_PORT" || fail "aiosmtpd did not start"
}

# disp_start NAME [extra args]: sns-dispatcher against the cloud cluster and the fakes.
disp_start() {
        local name=$1
        shift
        osh_it_start_service "$name" sns-dispatcher \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" \
                --kafka.session.timeout.ms 6000 --kafka.auto.commit.interval.ms 200 \
                --ledger.path "$OSH_IT_TMP/ledger" --templates.dir "$OSH_SOURCE_DIR/templates" \
                --line.url "$DISP_FAKE_URL" --line.token "$DISP_LINE_TOKEN" \
                --webhook.url "$DISP_FAKE_URL/hook" --webhook.secret "$DISP_WEBHOOK_SECRET" \
                --twitter.url "$DISP_FAKE_URL" --twitter.token twitter-test-token \
                --facebook.url "$DISP_FAKE_URL" --facebook.token facebook-test-token \
                --email.url "smtp://127.0.0.1:${DISP_SMTP_PORT:-1}" \
                --report.interval 500ms --retry.base 200ms --retry.max 2s "$@"
}

# disp_produce: JSON dispatch records on stdin → notify.dispatch.v1.
disp_produce() {
        "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic notify.dispatch.v1 \
                --key.field dispatch_id 2>"$OSH_IT_TMP/produce.err" ||
                fail "produce: $(cat "$OSH_IT_TMP/produce.err")"
}

# disp_rec ID CHANNEL TEXT ACCOUNT...: one dispatch record as JSON.
disp_rec() {
        local id=$1 ch=$2 text=$3
        shift 3
        jq -cn --arg id "$id" --arg ch "$ch" --arg text "$text" --args \
                '{dispatch_id: $id, campaign_id: "C-IT", channel: $ch, text: $text,
                  recipients: [$ARGS.positional[] | {user_id: ("u-" + .), account_id: .}]}' "$@"
}

# disp_in NAME: the last "in=" count the dispatcher logged.
disp_in() { grep -o 'stats: in=[0-9]*' "$(osh_it_log "$1")" | tail -1 | cut -d= -f2; }
_disp_in_ge() { local n; n=$(disp_in "$1"); [[ -n $n && $n -ge $2 ]]; }
# disp_wait_in NAME N: until the dispatcher has handled N records.
disp_wait_in() { osh_it_wait_until "${3:-40}" _disp_in_ge "$1" "$2" || fail "$1 handled $(disp_in "$1") of $2 records"; }

# disp_final_json: "dispatch_id status" lines, the last final status per dispatch.
disp_statuses() {
        "$OSH_BIN/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic notify.status.v1 \
                --timeout 10s 2>/dev/null | jq -c .value
}
disp_finals() {
        disp_statuses | jq -rs 'map(select(.status == "SENT" or .status == "FAILED_PERM"))
                | group_by(.dispatch_id) | map(.[-1] | "\(.dispatch_id) \(.status)") | .[]'
}
_disp_finals_ge() { (($(disp_finals | wc -l) >= $1)); }
disp_wait_finals() { osh_it_wait_until "${2:-40}" _disp_finals_ge "$1" || fail "only $(disp_finals | wc -l) of $1 dispatches settled"; }
