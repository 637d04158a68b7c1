#!/usr/bin/env bash
# monitor ↔ cloud-ingest over the data link (spec 10): a signed probe reads
# the cloud's heartbeats through /v1/probe; when cloud-ingest is killed the
# probe turns FAILED within two probe intervals and the cloud services it
# reported go stale; a wrong key is an AUTH_ERROR.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
# shellcheck source=lib/monitor_scenario.sh
. "$(dirname "$0")/lib/monitor_scenario.sh"
osh_it_begin
[[ -x $OSH_BIN/cloud-ingest ]] || fail "cloud-ingest not built"
osh_it_start_broker
PORT=$(osh_it_free_port)
printf 'relay s3cret-key\n' >"$OSH_IT_TMP/keys"
printf 's3cret-key\n' >"$OSH_IT_TMP/secret"
osh_it_start_service ingest cloud-ingest --listen.port "$PORT" --auth.keys.file "$OSH_IT_TMP/keys" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --heartbeat.interval 500ms --segment cloud

start_monitor() { # NAME KEY_ID
        osh_it_start_service "$1" monitor --instance "$1" --segment exchange \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" --heartbeat.interval 500ms \
                --heartbeat.expected 1s --stale.factor 3 --evaluate.interval 250ms \
                --probe.url "http://127.0.0.1:$PORT" --probe.interval 1s --probe.timeout 1s \
                --probe.key.id "$2" --probe.secret.file "$OSH_IT_TMP/secret" \
                --http.host 127.0.0.1 --http.port 0 --http.port.file "$OSH_IT_TMP/mon.port"
}
start_monitor mon relay

osh_it_wait_until 15 mon_probe_is OK || fail "probe never OK: $(mon_status)"
# cloud-ingest's own heartbeat travels back in the ProbeResponse.
osh_it_wait_until 15 mon_has instance cloud-ingest health RUNNING ||
        fail "cloud heartbeats not reported through the probe: $(mon_status)"
st=$(mon_status)
assert_contains "$(mon_object "$st" instance cloud-ingest)" '"source":"probe"'
assert_contains "$(mon_object "$st" instance cloud-ingest)" '"segment":"cloud"'
assert_contains "$st" '"last_ok_ms":1'

osh_it_kill_service ingest
t0=$(date +%s)
osh_it_wait_until 10 mon_probe_is FAILED || fail "dead cloud not detected: $(mon_status)"
assert_ge 3 $(($(date +%s) - t0)) "probe failure seen within ~2 probe intervals"
osh_it_wait_until 10 mon_has instance cloud-ingest health STALE ||
        fail "cloud service not stale once the probe fails: $(mon_status)"
assert_contains "$(curl -fsS "$(mon_url /metrics)")" 'oshirase_probe_up 0'
st=$(mon_status)
assert_contains "$st" '"overall":"ERROR"'
assert_contains "$st" "Couldn't connect"
osh_it_stop_service mon

# A wrong key id is reported as an authentication error, not a dead cloud.
osh_it_start_service ingest2 cloud-ingest --listen.port "$PORT" \
        --auth.keys.file "$OSH_IT_TMP/keys" --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" \
        --heartbeat.interval 500ms --segment cloud --instance cloud-ingest
start_monitor mon2 intruder
osh_it_wait_until 10 mon_probe_is AUTH_ERROR || fail "no AUTH_ERROR: $(mon_status)"
osh_it_stop_service mon2
osh_it_stop_service ingest2
