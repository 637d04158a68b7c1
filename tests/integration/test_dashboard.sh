#!/usr/bin/env bash
# The dashboard in headless Chromium: after its JavaScript has fetched
# /status, the DOM shows each broken state of the monitor scenario with its
# text label on the right service, group and probe.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
# shellcheck source=lib/monitor_scenario.sh
. "$(dirname "$0")/lib/monitor_scenario.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM ]]; then
        echo "SKIP test_dashboard: $CHROMIUM not installed (scripts/deps.sh installs it)"
        exit 0
fi
osh_it_begin
mon_scenario_start

osh_it_wait_until 10 mon_has group gone status STOP || fail "scenario not ready: $(mon_status)"
osh_it_wait_until 10 mon_has group stalled status STALL || fail "no STALL: $(mon_status)"
osh_it_wait_until 10 mon_has instance victim-1 health STALE || fail "no STALE: $(mon_status)"
osh_it_wait_until 10 mon_probe_is FAILED || fail "no probe failure: $(mon_status)"

dom=$OSH_IT_TMP/dom.html
timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$OSH_IT_TMP/chrome.XXXXXX")" --virtual-time-budget=5000 \
        --dump-dom "$(mon_url /)" >"$dom" 2>"$OSH_IT_TMP/chromium.log" ||
        fail "chromium failed: $(tail -5 "$OSH_IT_TMP/chromium.log")"

# tag TEXT ATTR VALUE: the opening tag that carries ATTR="VALUE".
tag() { grep -o "<[a-z]*[^>]*$1=\"$2\"[^>]*>" "$dom" | head -n 1; }
html=$(cat "$dom")
assert_contains "$(tag data-instance victim-1)" 'data-health="STALE"' "killed service"
assert_contains "$(tag data-instance quit-1)" 'data-health="STOPPED"' "stopped service"
assert_contains "$(tag data-instance live-1)" 'data-health="RUNNING"' "live service"
assert_contains "$(tag data-group stalled)" 'data-status="STALL"' "stalled consumer"
assert_contains "$(tag data-group gone)" 'data-status="STOP"' "consumer gone"
assert_contains "$(tag id probe)" 'data-state="FAILED"' "probe"
assert_contains "$(tag id overall)" 'data-state="ERROR"' "overall"
# The labels are visible text, not only attributes, with a colour class.
for label in STALE STOPPED STALL STOP FAILED; do
        assert_contains "$html" "<span class=\"badge r\">$label</span>" "badge $label"
done
assert_contains "$html" '<span class="badge g">RUNNING</span>'
assert_contains "$html" 'data-segment="exchange"' "services grouped by segment"
assert_contains "$html" "Couldn't connect" "probe failure reason shown"
assert_contains "$(grep -o '<span id="updated">[^<]*' "$dom")" 'monitor watch-1' \
        "the page's own fetch of /status worked"

# ---- layout (issue 15.14): the demo's services, no overlapping text --------
# Heartbeats shaped like the demo's at Chiba scale (its names, batch ids and
# seven-digit counts) join the scenario's, so every segment table is full.
hb() { # SERVICE INSTANCE SEGMENT IN LAG
        local now=$(($(date +%s) * 1000))
        printf '{"service":"%s","instance":"%s","segment":"%s","state":"RUNNING","records_in":%s,' \
                "$1" "$2" "$3" "$4"
        printf '"records_out":%s,"records_rejected":12,"errors":0,"lag":{"long":%s},' "$4" "$5"
        printf '"last_batch_id":{"string":"B20261205-9bc5267ecf84109f"},"version":"0.1.0",'
        printf '"timestamp":%s,"started_at":%s,"counters":{}}\n' "$now" "$now"
}
{
        hb extractor extractor CORE 1946366 0
        hb relay-bridge relay-c2p CORE 187183 1024
        hb anonymizer anonymizer PROCESSING 187183 0
        hb relay-bridge relay-p2x PROCESSING 187183 187183
        hb relay-bridge relay-uplink EXCHANGE 187183 0
        hb cloud-ingest cloud-ingest CLOUD 1187183 0
        hb segmenter segmenter CLOUD 1000000 0
        hb sns-dispatcher sns-dispatcher CLOUD 283 0
} | "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_EXCHANGE" --topic ops.status.v1 \
        --key.field instance 2>"$OSH_IT_TMP/hb.err" || fail "heartbeats not produced: $(cat "$OSH_IT_TMP/hb.err")"
osh_it_wait_until 10 mon_has instance relay-p2x service relay-bridge || fail "no demo heartbeats: $(mon_status)"
/usr/bin/python3 "$OSH_SOURCE_DIR/tests/integration/lib/dashboard_layout.py" "$(mon_url /)" \
        "$OSH_IT_TMP" 1024 1280 1400 1920 >"$OSH_IT_TMP/layout.txt" 2>&1 || rc=$?
cat "$OSH_IT_TMP/layout.txt" >&2
assert_eq 0 "${rc:-0}" "no two visible texts overlap at 1024, 1280, 1400 or 1920 px"
[[ -n ${OSH_DASHBOARD_SHOTS:-} ]] && cp "$OSH_IT_TMP"/dashboard-*.png "$OSH_DASHBOARD_SHOTS/"
# The page is real files served with their types.
ctype() { curl -sS -o /dev/null -w '%{content_type}' "$(mon_url "$1")"; }
assert_contains "$(ctype /dashboard.css)" "text/css" "stylesheet served"
assert_contains "$(ctype /dashboard.js)" "text/javascript" "script served"
assert_contains "$(ctype /)" "text/html" "page served"

osh_it_stop_service grower 143
osh_it_stop_service mon
osh_it_stop_service live-1
