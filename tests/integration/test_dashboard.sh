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

osh_it_stop_service grower 143
osh_it_stop_service mon
osh_it_stop_service live-1
