#!/usr/bin/env bash
# monitor against the embedded broker: within its configured intervals it
# detects a killed service (STALE), a stopped one (STOPPED), a stalled
# consumer (STALL), a consumer whose service is gone (STOP) and a cloud that
# does not answer probes (FAILED), and says so on /status, /metrics and
# ops.health.v1.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
# shellcheck source=lib/monitor_scenario.sh
. "$(dirname "$0")/lib/monitor_scenario.sh"
osh_it_begin
mon_scenario_start

t0=$(date +%s)
osh_it_wait_until 10 mon_has instance victim-1 health STALE ||
        fail "killed service not STALE: $(mon_status)"
osh_it_wait_until 5 mon_has instance quit-1 health STOPPED ||
        fail "stopped service not STOPPED: $(mon_status)"
osh_it_wait_until 10 mon_has group stalled status STALL ||
        fail "stalled consumer not STALL: $(mon_status)"
osh_it_wait_until 10 mon_has group gone status STOP ||
        fail "consumer of a dead service not STOP: $(mon_status)"
osh_it_wait_until 5 mon_probe_is FAILED || fail "probe not FAILED: $(mon_status)"
elapsed=$(($(date +%s) - t0))
_osh_log "all states detected ${elapsed}s after the faults"
assert_ge 12 "$elapsed" "detection within the configured intervals (stale 3 s, window 2 s)"

st=$(mon_status)
assert_contains "$st" '"overall":"ERROR"'
assert_contains "$(mon_object "$st" instance live-1)" '"health":"RUNNING"' "live service fine"
assert_contains "$(mon_object "$st" instance victim-1)" '"fresh":false'
lag=$(mon_object "$st" group stalled | grep -o '"lag":[0-9]*' | cut -d: -f2)
assert_ge "$lag" 1 "stalled group has lag"

metrics=$(curl -fsS "$(mon_url /metrics)")
assert_contains "$metrics" \
        'oshirase_consumer_status{group="stalled",topic="resident.abstracted.v1",status="STALL"} 1'
assert_contains "$metrics" \
        'oshirase_consumer_status{group="gone",topic="resident.abstracted.v1",status="STOP"} 1'
assert_contains "$metrics" 'oshirase_service_up{service="monitor",instance="victim-1",segment="exchange"} 0'
assert_contains "$metrics" 'oshirase_service_up{service="monitor",instance="live-1",segment="exchange"} 1'
assert_contains "$metrics" 'oshirase_probe_up 0'
assert_contains "$metrics" 'oshirase_pipeline_health{state="ERROR"} 1'

# The health record on ops.health.v1 carries the same judgements.
health=$("$OSH_BIN/osh-ctl" consume --bootstrap "$OSH_BOOTSTRAP_EXCHANGE" --topic ops.health.v1 \
        --timeout 10s | tail -n 1)
assert_contains "$health" '"monitor":"watch-1"'
assert_contains "$health" '"overall":"ERROR"'
assert_contains "$health" '"STALL"'
assert_contains "$health" '"STOP"'
assert_contains "$health" '"FAILED"'
assert_contains "$health" '"STALE"'

# The dashboard and the error paths of the HTTP side.
assert_contains "$(curl -fsS "$(mon_url /)")" '<title>oshirase monitor</title>'
code=$(curl -s -o /dev/null -w '%{http_code}' "$(mon_url /nope)")
assert_eq 404 "$code" "unknown path"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$(mon_url /status)")
assert_eq 405 "$code" "POST to /status"

# A bad heartbeat is rejected and counted; the monitor keeps running.
echo 'not avro' | kcat -P -q -b "$OSH_BOOTSTRAP_EXCHANGE" -t ops.status.v1 -p 0
osh_it_wait_until 10 mon_has instance watch-1 health RUNNING || fail "monitor unhealthy"
# shellcheck disable=SC2016 # expanded by eval, on each poll
osh_it_wait_until 10 eval '[[ $(mon_object "$(mon_status)" instance watch-1) =~ \"records_rejected\":[1-9] ]]' ||
        fail "bad heartbeat not counted: $(mon_status)"

osh_it_stop_service grower 143
osh_it_stop_service mon
osh_it_stop_service live-1
