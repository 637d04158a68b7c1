# shellcheck shell=bash
# A monitor watching a small, deliberately broken pipeline on the embedded
# broker; shared by test_monitor.sh and test_dashboard.sh. Source it after
# harness.sh and osh_it_begin. After mon_scenario_start:
#
#   live-1     a monitor instance that keeps heartbeating (a real service)
#   victim-1   a monitor instance killed with SIGKILL  → STALE
#   quit-1     a monitor instance stopped with SIGTERM → STOPPED
#   stalled    group on resident.abstracted.v1, alive (live-1) → STALL
#   gone       group on the same topic, its service victim-1 dead → STOP
#   probe      aimed at a port nobody listens on → FAILED
#
# Intervals are short so every state is reached within a few seconds:
# heartbeats 500 ms, stale after 3 x 1 s, lag sampled every 500 ms with a
# window of 4 samples, probe every 1 s.

MON_TOPIC=resident.abstracted.v1

# mon_url PATH: the watching monitor's URL.
mon_url() { echo "http://127.0.0.1:$(cat "$OSH_IT_TMP/mon.port")$1"; }

mon_status() { curl -fsS --max-time 5 "$(mon_url /status)"; }

# mon_object STATUS_JSON KEY VALUE: the flat JSON object with "KEY":"VALUE".
mon_object() { grep -o "{[^{}]*\"$2\":\"$3\"[^{}]*}" <<<"$1" | head -n 1; }

# mon_has KEY VALUE FIELD WANT: true when that object's FIELD is WANT now.
mon_has() {
        local obj
        obj=$(mon_object "$(mon_status)" "$1" "$2")
        [[ $obj == *"\"$3\":\"$4\""* ]]
}

mon_probe_is() { [[ $(mon_status) == *"\"probe\":{\"state\":\"$1\""* ]]; }

_mon_victim() { # NAME
        osh_it_start_service "$1" monitor --instance "$1" --segment exchange \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" --heartbeat.interval 500ms \
                --http.host 127.0.0.1 --http.port 0 --lag.interval 1h
}

# Commits offset 2 on partition 0 for GROUP, the way a real consumer would
# (a balanced kcat consumer that reads both records and exits).
_mon_commit() { # GROUP
        timeout 30 kcat -C -q -b "$OSH_BOOTSTRAP_EXCHANGE" -G "$1" -o beginning -e -c 2 \
                -X session.timeout.ms=6000 \
                -X auto.commit.interval.ms=100 "$MON_TOPIC" >/dev/null ||
                fail "kcat could not commit for group $1"
}

mon_scenario_start() {
        local dead_port pids
        osh_it_start_broker
        printf 'k1\tv1\nk2\tv2\n' | osh_it_produce "$OSH_BOOTSTRAP_EXCHANGE" "$MON_TOPIC" 0
        _mon_commit stalled &
        pids=$!
        _mon_commit gone &
        wait "$pids" "$!" || fail "could not commit offsets for the test groups"
        dead_port=$( (echo >"/dev/tcp/127.0.0.1/1") 2>/dev/null && echo 9 || echo 1)
        osh_it_start_service mon monitor --instance watch-1 --segment exchange \
                --kafka.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" \
                --heartbeat.interval 500ms --heartbeat.expected 1s --stale.factor 3 \
                --lag.interval 500ms --lag.window 4 --evaluate.interval 250ms \
                --health.interval 1s --probe.url "http://127.0.0.1:$dead_port" \
                --probe.interval 1s --probe.timeout 1s \
                --watch "stalled:$MON_TOPIC@live-1,gone:$MON_TOPIC@victim-1" \
                --http.host 127.0.0.1 --http.port 0 --http.port.file "$OSH_IT_TMP/mon.port"
        _mon_victim live-1
        _mon_victim victim-1
        _mon_victim quit-1
        osh_it_wait_until 15 mon_has instance victim-1 health RUNNING ||
                fail "victim-1 never seen RUNNING: $(mon_status)"
        # The topic keeps growing while both groups stay at offset 2.
        osh_it_spawn grower bash -c "while :; do printf 'v\n' |
                kcat -P -q -b '$OSH_BOOTSTRAP_EXCHANGE' -t $MON_TOPIC -p 0; sleep 0.3; done"
        osh_it_kill_service victim-1
        osh_it_stop_service quit-1
}

