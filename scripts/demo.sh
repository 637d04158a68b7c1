#!/usr/bin/env bash
# The oshirase demo, the README's first command. On a fresh Debian machine it
# installs what it needs, builds, generates a city, starts the embedded broker
# (one Kafka cluster per segment) and all seven services as separate
# processes, runs a batch through every segment, previews and sends the nine
# seed campaigns to the provider fakes and a real SMTP server, and prints a
# report (also written to demo-out/report.txt).
#
#   scripts/demo.sh [--residents N] [--keep]
#     --residents N   city size (default 100000; Chiba is 973183)
#     --keep          leave everything running (dashboard stays up) until Ctrl-C
#   DEMO_MAX_CSV_BYTES: cloud-ingest's max.csv.bytes (default 256M, a city)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
residents=100000
keep=0
while [ $# -gt 0 ]; do
        case $1 in
        --residents) residents=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "demo: unknown option $1" >&2; exit 2 ;;
        esac
done

scripts/deps.sh
build=${BUILD_DIR:-build}
[[ $build == /* ]] || build=$ROOT/$build
export OSH_BUILD_DIR=$build
echo "building in $OSH_BUILD_DIR ..."
cmake -S . -B "$OSH_BUILD_DIR" >/dev/null
cmake --build "$OSH_BUILD_DIR" -j"$(nproc)" >/dev/null

OUT=${DEMO_OUT:-$ROOT/demo-out}
rm -rf "$OUT" && mkdir -p "$OUT"
# The demo reuses the integration harness for process lifetimes: every
# process it starts is stopped when the demo ends, however it ends.
# shellcheck source=../tests/integration/lib/harness.sh
. "$ROOT/tests/integration/lib/harness.sh"
OSH_IT_TIMEOUT=60
export OSH_BIN
osh_it_begin
T=$OSH_IT_TMP
ctl=$OSH_BIN/osh-ctl
say() { printf '\n== %s\n' "$*" >&2; }

say "generating a city of $residents residents"
today=$(TZ=Asia/Tokyo date +%Y%m%d)
"$OSH_BIN/gen-residents" --residents "$residents" --out "$T/city" --encoding cp932 --dates era \
        --gaiji 0.001 --reference-date "$today" --destinations "$T/destinations.csv" >"$T/gen.out"
tail -n 3 "$T/gen.out" >&2
# Every second webhook destination becomes an SMS number (E.164), so the SMS channel
# (Twilio's Messages API, served by the provider fakes) sends in the demo too.
awk -F, -v OFS=, 'NR > 1 && $2 == "webhook" && ++w % 2 == 0 { $2 = "sms"; $3 = sprintf("+8190%08d", NR) } 1' \
        "$T/destinations.csv" >"$T/destinations.sms.csv" && mv "$T/destinations.sms.csv" "$T/destinations.csv"

say "secrets: a test CA, TLS certificates and HMAC keys (all throw-away, in $T)"
"$ROOT/tests/integration/certs/gen.sh" "$T/certs"
C=$T/certs
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/pseudonym.key"
uplink_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$uplink_secret" >"$T/uplink.secret"
printf 'exchange-uplink %s\nstaff %s\n' "$uplink_secret" "$uplink_secret" >"$T/ingest.keys"

say "embedded broker: one Kafka mock cluster per segment"
osh_it_start_broker
common=(--heartbeat.interval 1s --kafka.session.timeout.ms 6000)
# Heartbeats from core and processing reach the monitor through two relays.
INGEST_PORT=$(osh_it_free_port)
MON_PORT=$(osh_it_free_port)
SMTP_PORT=$(osh_it_free_port)

say "cloud segment: cloud-ingest, segmenter, sns-dispatcher (+ provider fakes, SMTP server)"
osh_it_start_service fakes osh-fake-providers --port.file "$T/fake.port" --log "$T/accepted.jsonl" \
        --line.token demo-line-token --webhook.secret demo-webhook-secret
FAKE=http://127.0.0.1:$(cat "$T/fake.port")
osh_it_spawn smtp /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$T/maildir"
osh_it_start_service cloud-ingest cloud-ingest --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --listen.port "$INGEST_PORT" \
        --tls.cert "$C/server.pem" --tls.key "$C/server.key" --tls.client.ca "$C/ca.pem" \
        --auth.mode any --auth.keys.file "$T/ingest.keys" --max.csv.bytes "${DEMO_MAX_CSV_BYTES:-256M}"
osh_it_start_service segmenter segmenter --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --state.dir "$T/segmenter-state"
osh_it_start_service sns-dispatcher sns-dispatcher --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --ledger.path "$T/sent.ledger" \
        --templates.dir "$ROOT/templates" --report.interval 1s \
        --line.url "$FAKE" --line.token demo-line-token \
        --webhook.url "$FAKE/hook" --webhook.secret demo-webhook-secret \
        --twitter.url "$FAKE" --twitter.token twitter-test-token \
        --facebook.url "$FAKE" --facebook.token facebook-test-token \
        --email.url "smtp://127.0.0.1:$SMTP_PORT" \
        --sms.url "$FAKE" --sms.token ACtest:sms-test-token --sms.from +815000000000

# The monitor judges lag over windows of LAG_WINDOW samples LAG_INTERVAL s
# apart; the end of the demo waits for its verdict with these (below).
LAG_INTERVAL=2
LAG_WINDOW=6

say "cloud segment: staff console (HTTPS)"
CON_PORT=$(osh_it_free_port)
CON_PW=$(openssl rand -hex 10)
for u in demo-admin:admin demo-author:author demo-approver:approver; do
        printf '%s\n' "$CON_PW" | "$OSH_BIN/console" user add --accounts.file="$T/console.accounts" "${u%%:*}" "${u#*:}" >/dev/null
done
osh_it_start_service console console --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --listen.port "$CON_PORT" \
        --tls.cert "$C/server.pem" --tls.key "$C/server.key" \
        --accounts.file "$T/console.accounts" --state.file "$T/console.state.json"
echo "staff console: https://localhost:$CON_PORT/  (CA $C/ca.pem) sign in as demo-author," \
        "demo-approver or demo-admin with the throw-away password $CON_PW" >&2

say "exchange segment: relay-bridge uplink (HTTPS + HMAC token) and the monitor"
cat >"$T/uplink.conf" <<EOF
mode = uplink
source.segment = exchange
target.segment = cloud
allow = resident.abstracted.v1, batch.control.v1
kafka.source.bootstrap.servers = $OSH_BOOTSTRAP_EXCHANGE
uplink.url = https://127.0.0.1:$INGEST_PORT
uplink.ca = $C/ca.pem
uplink.key.id = exchange-uplink
uplink.secret.file = $T/uplink.secret
spool.dir = $T/uplink-spool
probe.interval = 2s
probe.file = $T/probe.json
EOF
osh_it_start_service uplink relay-bridge --config "$T/uplink.conf" --instance relay-uplink \
        --segment exchange "${common[@]}"
osh_it_start_service monitor monitor --segment exchange "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" --http.port "$MON_PORT" \
        --heartbeat.expected 2s --lag.interval "${LAG_INTERVAL}s" --lag.window "$LAG_WINDOW" \
        --probe.url "https://127.0.0.1:$INGEST_PORT" \
        --probe.interval 2s --probe.ca "$C/ca.pem" --probe.key.id exchange-uplink \
        --probe.secret.file "$T/uplink.secret" \
        --watch relay-bridge.exchange-cloud:resident.abstracted.v1@relay-uplink

say "processing segment: anonymizer, relay-bridge processing → exchange"
osh_it_start_service anonymizer anonymizer --segment processing "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING" \
        --anon.rules "$ROOT/services/anonymizer/rules/rules-v2.conf" \
        --anon.hmac.key.file "$T/pseudonym.key"
osh_it_start_service relay-p2x relay-bridge --mode kafka --instance relay-p2x --segment processing \
        "${common[@]}" \
        --source.segment processing --target.segment exchange \
        --allow resident.abstracted.v1,batch.control.v1,privacy.report.v1,ops.status.v1 \
        --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING" \
        --kafka.target.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE"

say "core segment: relay-bridge core → processing, the extractor; the exports are dropped in"
osh_it_start_service relay-c2p relay-bridge --mode kafka --instance relay-c2p --segment core \
        "${common[@]}" \
        --source.segment core --target.segment processing \
        --allow resident.raw.v1,batch.control.v1,ops.status.v1 \
        --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_CORE" \
        --kafka.target.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING"
echo "dashboard: http://127.0.0.1:$MON_PORT/   (status JSON: /status, Prometheus: /metrics)" >&2
t0=$(date +%s)
# The extractor watches a drop directory, as it would for the weekly exports.
mkdir -p "$T/drop"
osh_it_start_service extractor extractor --segment core "${common[@]}" --input "$T/drop" --watch \
        --poll.interval 1s --ledger "$T/extractor.ledger" --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CORE"
mv "$T/city" "$T/drop/batch-$today"

say "staff upload SNS destinations to cloud-ingest (mutual TLS)"
# Every step checks what it got and stops the demo with the reason: an
# upload that accepted nothing would leave every campaign without recipients.
code=$(curl -sS --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" \
        -H 'Content-Type: text/csv' --data-binary @"$T/destinations.csv" -o "$T/destinations.report.json" \
        -w '%{http_code}' "https://127.0.0.1:$INGEST_PORT/v1/destinations") ||
        fail "destinations upload: cloud-ingest did not answer"
jq -c '{accepted, rejected}' "$T/destinations.report.json" >&2 || true
[ "$code" = 200 ] ||
        fail "destinations upload answered HTTP $code: $(head -c 300 "$T/destinations.report.json")"
jq -e '(.accepted | type == "number" and . > 0) and (.error == null)' "$T/destinations.report.json" \
        >/dev/null || fail "destinations upload accepted nothing or failed:" \
        "$(head -c 300 "$T/destinations.report.json")"

# ---- wait for the batch to reach the cloud --------------------------------
end_markers() { # BOOTSTRAP TOPIC: END markers for TOPIC on batch.control.v1
        "$ctl" consume --bootstrap "$1" --topic batch.control.v1 --timeout 5s 2>/dev/null |
                jq -c --arg t "$2" 'select(.value.kind == "END" and .value.topic == $t) | .value'
}
cloud_has_snapshot() { [ -n "$(end_markers "$OSH_BOOTSTRAP_CLOUD" resident.abstracted.v1)" ]; }
say "waiting for the batch: core → processing → exchange → cloud"
osh_it_wait_until 600 cloud_has_snapshot || fail "no complete snapshot reached the cloud"
t_snapshot=$(($(date +%s) - t0))
echo "snapshot complete in the cloud after ${t_snapshot}s" >&2

# ---- campaigns: previews, then sends ----------------------------------------
results() { "$ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.results.v1 --timeout 5s 2>/dev/null | jq -c .value; }
have_results() { [ "$(results | jq -r "select(.action == \"$1\") | .campaign_id" | sort -u | wc -l)" -ge 9 ]; }
submit() { # ACTION
        for f in "$ROOT"/campaigns/*.json; do
                # campaigns/01 is sent through the staff console
                [ "$1" = SEND ] && [ "${f##*/}" = 01-child-benefit-guidance.json ] && continue
                jq -c --arg a "$1" '.action = $a | .requested_at = (now * 1000 | floor)' "$f"
        done | "$ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic campaign.requests.v1 \
                --key.field campaign_id 2>>"$T/ctl.err"
}
# The segmenter may still be swapping in the snapshot: previews are cheap, so
# repeat them until every campaign sees residents.
say "previewing the nine seed campaigns"
previews_see_residents() { # every campaign's last preview was made on a snapshot
        [ "$(results | jq -s '[.[] | select(.action == "PREVIEW")] | group_by(.campaign_id)
                | length >= 9 and (map(.[-1].snapshot_batch_id // "" | length > 0) | all)')" = true ]
}
for _ in 1 2 3 4 5 6 7 8 9 10; do
        submit PREVIEW || fail "osh-ctl could not publish the previews: $(tail -3 "$T/ctl.err")"
        osh_it_wait_until 30 have_results PREVIEW || true
        previews_see_residents && break
        sleep 2
done
have_results PREVIEW || fail "not every campaign answered its PREVIEW: $(results | tail -3)"
previews_see_residents || fail "the segmenter's previews still see no residents"
say "sending the nine seed campaigns (the first through the staff console's API)"
con_id=$(scripts/console-send.sh "https://localhost:$CON_PORT" "$C/ca.pem" "$CON_PW" demo-author \
        demo-approver "$ROOT/campaigns/01-child-benefit-guidance.json") ||
        fail "the staff console did not take campaigns/01"
echo "console: sent campaigns/01 as $con_id (author demo-author, approved by demo-approver)" >&2
# for the report: the console's send is campaigns/01's row
printf '%s\t%s\n' "$con_id" "$(jq -r .campaign_id "$ROOT/campaigns/01-child-benefit-guidance.json")" \
        >"$T/console-sends.tsv"
submit SEND || fail "osh-ctl could not publish the sends: $(tail -3 "$T/ctl.err")"
osh_it_wait_until 120 have_results SEND ||
        fail "not every campaign answered its SEND within 120 s: $(results | jq -c 'select(.action == "SEND")
        | {campaign_id, state}' | sort -u)"
dispatched() { "$ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic notify.dispatch.v1 --timeout 10s 2>/dev/null | wc -l; }
finals() {
        "$ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic notify.status.v1 --timeout 10s 2>/dev/null |
                jq -c '.value | select(.status == "SENT" or .status == "DELIVERED" or .status == "FAILED_PERM" or .status == "SUPPRESSED")' |
                jq -rs 'group_by(.dispatch_id) | length'
}
all_final() { [ "$(finals)" -ge "$(dispatched)" ]; }
osh_it_wait_until 300 all_final ||
        fail "$(($(dispatched) - $(finals))) of $(dispatched) dispatches have no final status after 300 s"
sent() {
        "$ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic notify.status.v1 --timeout 10s 2>/dev/null |
                jq -c '.value | select(.status == "SENT" or .status == "DELIVERED")' | wc -l
}
[ "$(dispatched)" -gt 0 ] || fail "no campaign produced a dispatch: every recipient was suppressed"
[ "$(sent)" -gt 0 ] || fail "$(dispatched) dispatches, none SENT or DELIVERED"
# Let heartbeats, lag samples and the probe catch up before the report. A
# slow moment (a loaded machine) clears once the lag window has moved past
# it, so the wait is two whole windows of the monitor configured above plus
# two probe rounds; the status the demo saw OK is the one reported.
monitor_ok() {
        curl -sf "http://127.0.0.1:$MON_PORT/status" >"$T/status.now" &&
                [ "$(jq -r .overall "$T/status.now")" = OK ] && mv "$T/status.now" "$T/status.json"
}
verdict_wait=$((2 * LAG_WINDOW * LAG_INTERVAL + 2 * 2 + 5))
osh_it_wait_until "$verdict_wait" monitor_ok ||
        fail "the monitor does not judge the pipeline OK after ${verdict_wait}s (two lag windows of" \
                "${LAG_WINDOW} x ${LAG_INTERVAL}s): $(jq -c '{overall, services: [.services[]
                | select(.health != "RUNNING") | {instance, health}], consumers: [.consumers[]
                | select(.status != "OK") | {group, status, lag}], probe: .probe.state}' \
                "$T/status.now" 2>/dev/null)"
t_total=$(($(date +%s) - t0))

# ---- report ----------------------------------------------------------------
report=$OUT/report.txt
scripts/demo-report.sh "$T" "$t_snapshot" "$t_total" "$MON_PORT" | tee "$report"
cp "$T"/*.log "$OUT/" 2>/dev/null || true
echo "report: $report   logs: $OUT/" >&2

if [ $keep = 1 ]; then
        echo "still running; dashboard http://127.0.0.1:$MON_PORT/ — Ctrl-C or SIGTERM to stop" >&2
        # bash runs a trap only once the foreground command ends; `wait`
        # returns at once on a signal, so SIGTERM stops everything now.
        while :; do
                sleep 3600 &
                wait $! || true
        done
fi
