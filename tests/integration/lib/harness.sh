# shellcheck shell=bash
# Integration-test harness: source it from tests/integration/test_*.sh.
#
#   . "$(dirname "$0")/lib/harness.sh"
#   osh_it_begin
#   osh_it_start_broker            # sets OSH_BOOTSTRAP_{CORE,PROCESSING,EXCHANGE,CLOUD}
#   osh_it_start_service ext extractor --input "$OSH_IT_TMP/in"
#   ... assertions ...
#   osh_it_stop_service ext        # SIGTERM, expects exit 0
#
# Every process started here runs in its own process group and is killed
# (SIGTERM, then SIGKILL after OSH_IT_GRACE seconds) when the test exits,
# however it exits. The temp dir $OSH_IT_TMP is removed unless OSH_IT_KEEP=1.
# Binaries come from $OSH_BUILD_DIR/bin (ctest sets OSH_BUILD_DIR).
#
# Knobs (environment): OSH_BUILD_DIR, OSH_IT_KEEP=1, OSH_IT_TIMEOUT (readiness
# wait, s, default 30), OSH_IT_GRACE (SIGTERM grace, s, default 10: the
# services' promise. A consumer that joined a group whose killed member has
# not yet timed out leaves only when its JoinGroup returns, which takes up to
# session.timeout.ms; the services cut that wait at 6 s).

set -Eeuo pipefail

OSH_SOURCE_DIR=${OSH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
OSH_BUILD_DIR=${OSH_BUILD_DIR:-$OSH_SOURCE_DIR/build}
OSH_BIN=$OSH_BUILD_DIR/bin
OSH_IT_TIMEOUT=${OSH_IT_TIMEOUT:-30}
OSH_IT_GRACE=${OSH_IT_GRACE:-10}
OSH_IT_NAME=$(basename "${0%.sh}")
OSH_IT_TMP=
OSH_IT_ASSERTS=0
OSH_IT_START=
declare -A OSH_IT_PIDS=()  # name -> pid (= process group id)
OSH_IT_ORDER=()            # start order, for reverse-order teardown

_osh_now() { date +%s.%N; }

_osh_log() { printf '[%s] %s\n' "$OSH_IT_NAME" "$*" >&2; }

# file:line of the innermost caller outside this harness.
_osh_where() {
        local i
        for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
                if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
                        echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
                        return
                fi
        done
        echo "?"
}

# fail MESSAGE: report (with the test's file:line) and end the test.
fail() {
        _osh_log "FAIL at $(_osh_where): $*"
        exit 1
}

assert_eq() { # EXPECTED ACTUAL [MESSAGE]
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ "$1" == "$2" ]] || fail "${3:-values differ}: expected [$1], got [$2]"
}

assert_ne() { # UNEXPECTED ACTUAL [MESSAGE]
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ "$1" != "$2" ]] || fail "${3:-values equal}: both are [$1]"
}

assert_ge() { # ACTUAL MINIMUM [MESSAGE] (integers)
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ "$1" =~ ^-?[0-9]+$ ]] || fail "${3:-not an integer}: [$1]"
        (("$1" >= "$2")) || fail "${3:-too small}: expected >= $2, got $1"
}

assert_contains() { # HAYSTACK NEEDLE [MESSAGE]
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ "$1" == *"$2"* ]] || fail "${3:-missing text}: [$2] not in [${1:0:2000}]"
}

assert_not_contains() { # HAYSTACK NEEDLE [MESSAGE]
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ "$1" != *"$2"* ]] || fail "${3:-unexpected text}: [$2] found"
}

assert_file() { # PATH [MESSAGE]
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ -e "$1" ]] || fail "${2:-file missing}: $1"
}

assert_no_file() { # PATH [MESSAGE]
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        [[ ! -e "$1" ]] || fail "${2:-file should not exist}: $1"
}

# osh_it_wait_until SECONDS COMMAND...: polls every 0.1 s until COMMAND
# succeeds; returns 1 on timeout (so callers can `|| fail "..."`).
osh_it_wait_until() {
        local deadline=$(($(date +%s) + $1))
        shift
        until "$@"; do
                (($(date +%s) < deadline)) || return 1
                sleep 0.1
        done
}

# osh_it_free_port: a TCP port for a server under test. Taken below Linux's
# ephemeral range (32768+), so no client connection (Kafka clients open many)
# can be holding it, and checked to be free right now.
osh_it_free_port() {
        local p i
        for ((i = 0; i < 50; i++)); do
                p=$((20000 + RANDOM % 12000))
                /usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
                        "$p" 2>/dev/null && { echo "$p"; return 0; }
        done
        fail "no free port found"
}

# Path of a started process's stderr log.
osh_it_log() { echo "$OSH_IT_TMP/$1.log"; }

_osh_show_log() { # NAME [LINES]
        local log="$OSH_IT_TMP/$1.log"
        if [[ -s $log ]]; then
                _osh_log "---- last ${2:-30} lines of $1 log ($log) ----"
                tail -n "${2:-30}" "$log" >&2
                _osh_log "---- end of $1 log ----"
        else
                _osh_log "($1 wrote nothing to $log)"
        fi
}

_osh_teardown() {
        local rc=$? i name pid deadline
        trap - EXIT INT TERM ERR
        set +e
        # Services first, the broker last: a service stopping against a dead
        # broker waits out its flush and close timeouts.
        for ((i = ${#OSH_IT_ORDER[@]} - 1; i >= 0; i--)); do
                name=${OSH_IT_ORDER[i]}
                pid=${OSH_IT_PIDS[$name]:-}
                [[ $name != broker && -n $pid ]] && kill -TERM -- "-$pid" 2>/dev/null
        done
        deadline=$(($(date +%s) + OSH_IT_GRACE))
        for name in "${!OSH_IT_PIDS[@]}"; do
                [[ $name == broker ]] && continue
                pid=${OSH_IT_PIDS[$name]}
                while kill -0 -- "-$pid" 2>/dev/null && (($(date +%s) < deadline)); do
                        sleep 0.1
                done
                if kill -0 -- "-$pid" 2>/dev/null; then
                        _osh_log "$name (pid $pid) ignored SIGTERM for ${OSH_IT_GRACE}s: SIGKILL"
                        kill -KILL -- "-$pid" 2>/dev/null
                fi
                wait "$pid" 2>/dev/null
        done
        pid=${OSH_IT_PIDS[broker]:-}
        if [[ -n $pid ]]; then
                kill -TERM -- "-$pid" 2>/dev/null
                deadline=$(($(date +%s) + OSH_IT_GRACE))
                while kill -0 -- "-$pid" 2>/dev/null && (($(date +%s) < deadline)); do
                        sleep 0.1
                done
                kill -KILL -- "-$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        fi
        if [[ -n $OSH_IT_TMP && -d $OSH_IT_TMP ]]; then
                if [[ ${OSH_IT_KEEP:-0} == 1 ]]; then
                        _osh_log "kept $OSH_IT_TMP"
                else
                        rm -rf "$OSH_IT_TMP"
                fi
        fi
        local secs
        secs=$(awk -v a="${OSH_IT_START:-0}" -v b="$(_osh_now)" 'BEGIN { printf "%.1f", b - a }')
        if ((rc == 0)); then
                echo "PASS $OSH_IT_NAME ($OSH_IT_ASSERTS assertions, ${secs}s)"
        else
                echo "FAIL $OSH_IT_NAME (exit $rc after $OSH_IT_ASSERTS assertions, ${secs}s)"
        fi
        exit "$rc"
}

_osh_on_err() { # LINE COMMAND STATUS
        _osh_log "command failed (exit $3) at ${BASH_SOURCE[1]##*/}:$1: $2"
}

# osh_it_begin: temp dir + teardown traps. Call once, first.
osh_it_begin() {
        OSH_IT_START=$(_osh_now)
        OSH_IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/osh-it-$OSH_IT_NAME.XXXXXX")
        export OSH_IT_TMP
        trap _osh_teardown EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap '_osh_on_err "$LINENO" "$BASH_COMMAND" "$?"' ERR
        [[ -d $OSH_BIN ]] || fail "no binaries in $OSH_BIN (set OSH_BUILD_DIR)"
        _osh_log "temp dir $OSH_IT_TMP, binaries $OSH_BIN"
}

_osh_resolve() { # CMD -> path (bare names are looked up in $OSH_BIN, then PATH)
        if [[ $1 != */* && -x $OSH_BIN/$1 ]]; then
                echo "$OSH_BIN/$1"
        else
                echo "$1"
        fi
}

# osh_it_spawn NAME CMD ARGS...: starts CMD in the background in its own
# process group, stdout to $OSH_IT_TMP/NAME.out, stderr to NAME.log, and
# OSH_READY_FILE=$OSH_IT_TMP/NAME.ready in its environment. No waiting.
osh_it_spawn() {
        local name=$1 cmd
        shift
        [[ -z ${OSH_IT_PIDS[$name]:-} ]] || fail "process name '$name' already in use"
        cmd=$(_osh_resolve "$1")
        shift
        rm -f "$OSH_IT_TMP/$name.ready"
        # Not a group leader here, so setsid execs in place: $! is the pgid.
        OSH_READY_FILE="$OSH_IT_TMP/$name.ready" \
                setsid "$cmd" "$@" >"$OSH_IT_TMP/$name.out" 2>"$OSH_IT_TMP/$name.log" </dev/null &
        OSH_IT_PIDS[$name]=$!
        OSH_IT_ORDER+=("$name")
}

# Waits until FILE exists while NAME is alive; fails with NAME's log.
_osh_wait_ready() { # NAME FILE
        local name=$1 file=$2 pid=${OSH_IT_PIDS[$1]} rc=0
        local deadline=$(($(date +%s) + OSH_IT_TIMEOUT))
        while [[ ! -e $file ]]; do
                if ! kill -0 "$pid" 2>/dev/null; then
                        wait "$pid" || rc=$?
                        unset "OSH_IT_PIDS[$name]"
                        _osh_show_log "$name"
                        fail "$name exited (code $rc) before it was ready"
                fi
                if (($(date +%s) >= deadline)); then
                        _osh_show_log "$name"
                        fail "$name not ready after ${OSH_IT_TIMEOUT}s (no $file)"
                fi
                sleep 0.05
        done
}

# osh_it_start_service NAME CMD ARGS...: spawn, then wait for the ready file.
osh_it_start_service() {
        osh_it_spawn "$@"
        _osh_wait_ready "$1" "$OSH_IT_TMP/$1.ready"
}

# osh_it_stop_service NAME [EXPECTED_EXIT=0]: SIGTERM, wait (grace), check
# the exit code. A process that needs SIGKILL fails the test.
osh_it_stop_service() {
        local name=$1 want=${2:-0} pid=${OSH_IT_PIDS[$1]:-} rc=0
        [[ -n $pid ]] || fail "no running process named '$name'"
        kill -TERM "$pid" 2>/dev/null || true
        osh_it_wait_until "$OSH_IT_GRACE" _osh_dead "$pid" || {
                kill -KILL -- "-$pid" 2>/dev/null
                wait "$pid" 2>/dev/null || true
                unset "OSH_IT_PIDS[$name]"
                _osh_show_log "$name"
                fail "$name did not exit within ${OSH_IT_GRACE}s of SIGTERM"
        }
        wait "$pid" || rc=$?
        unset "OSH_IT_PIDS[$name]"
        kill -KILL -- "-$pid" 2>/dev/null || true # stray children of the group
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        if [[ $rc != "$want" ]]; then
                _osh_show_log "$name"
                fail "$name exited with code $rc, expected $want"
        fi
}

_osh_dead() { ! kill -0 "$1" 2>/dev/null; }

# osh_it_kill_service NAME: SIGKILL the whole group (crash simulation).
osh_it_kill_service() {
        local name=$1 pid=${OSH_IT_PIDS[$1]:-}
        [[ -n $pid ]] || fail "no running process named '$name'"
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        unset "OSH_IT_PIDS[$name]"
}

# osh_it_running NAME: true while NAME's process is alive.
osh_it_running() {
        local pid=${OSH_IT_PIDS[$1]:-}
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# osh_it_start_broker [--single] [osh-broker args...]: starts osh-broker as
# process "broker", waits for its env file ($OSH_BROKER_ENV) and exports
# OSH_BOOTSTRAP_{CORE,PROCESSING,EXCHANGE,CLOUD}.
osh_it_start_broker() {
        OSH_BROKER_ENV=$OSH_IT_TMP/broker.env
        export OSH_BROKER_ENV
        rm -f "$OSH_BROKER_ENV"
        [[ -x $OSH_BIN/osh-broker ]] || fail "$OSH_BIN/osh-broker not built"
        osh_it_spawn broker osh-broker --env-file "$OSH_BROKER_ENV" "$@"
        _osh_wait_ready broker "$OSH_BROKER_ENV"
        set -a
        # shellcheck disable=SC1090
        . "$OSH_BROKER_ENV"
        set +a
        _osh_log "broker up: core=$OSH_BOOTSTRAP_CORE processing=$OSH_BOOTSTRAP_PROCESSING" \
                "exchange=$OSH_BOOTSTRAP_EXCHANGE cloud=$OSH_BOOTSTRAP_CLOUD"
}

# osh_it_produce BOOTSTRAP TOPIC PARTITION: one record per stdin line,
# "key<TAB>value" (no tab = null key). Fails on any delivery error.
osh_it_produce() {
        timeout 20 kcat -P -q -b "$1" -t "$2" -p "$3" -K $'\t' -m 5 -X message.timeout.ms=10000 ||
                fail "kcat could not produce to $2 [$3] at $1"
}

# osh_it_consume BOOTSTRAP TOPIC PARTITION COUNT: prints "key<TAB>value"
# lines from the beginning; stops after COUNT records or at the end.
osh_it_consume() {
        timeout 20 kcat -C -q -b "$1" -t "$2" -p "$3" -o beginning -e -c "$4" -m 5 \
                -f '%k\t%s\n' || fail "kcat could not consume $2 [$3] at $1"
}
