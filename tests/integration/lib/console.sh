# shellcheck shell=bash
# The whole cloud for the console's tests (source after harness.sh and
# dispatch.sh): broker, a seeded mini city published as a framed snapshot,
# segmenter, cloud-ingest, provider fakes, aiosmtpd, sns-dispatcher and the
# console over HTTPS with five staff accounts:
#   root (admin), alice (author), bob (approver), vic and val (viewers),
#   tina (author + TOTP)
# Sets CON_URL, CON_CA, CON_PW (every account's password), CON_TOTP (tina's
# base32 secret), CON_SEND_MS, CON_QUIET (the dispatcher's quiet hours).

CON_PW=correct-horse-battery-staple
CON_SEND_MS=1489503600000 # 2017-03-15 00:00 JST, the mini city's reference

_con_marker() { # BATCH KIND COUNT CHECKSUM EXTRACT_MS
        printf '{"batch_id":"%s","kind":"%s","topic":"resident.abstracted.v1","record_count":%d,"checksum":"%s","reference_date":17240,"extract_time":%d}\n' "$@" |
                "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic batch.control.v1 --key.field batch_id
}

# con_publish_city N: mini city of N residents as batch B-IT-1 (extracted now).
con_publish_city() {
        local T=$OSH_IT_TMP/city sum now
        mkdir -p "$T"
        python3 "$OSH_SOURCE_DIR/tests/integration/oracle/mini_city.py" 7 "$1" "$T"
        now=$(($(date +%s) * 1000))
        _con_marker B-IT-1 START 0 "" "$now"
        "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic resident.abstracted.v1 \
                --key.field user_id --header "osh.batch.id=B-IT-1" <"$T/abstracted.jsonl"
        sum=$(timeout "${CON_KCAT_TIMEOUT:-20}" kcat -C -q -b "$OSH_BOOTSTRAP_CLOUD" -t resident.abstracted.v1 -o beginning -e \
                -f '%K\t%S\t%h\t%k%s' | python3 "$OSH_SOURCE_DIR/tests/integration/oracle/batch_sum.py" B-IT-1)
        [[ ${sum% *} == "$1" ]] || fail "batch sum: $sum"
        _con_marker B-IT-1 END "${sum% *}" "${sum#* }" "$now"
        "$OSH_BIN/osh-ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic destinations.v1 \
                --key.field user_id <"$T/destinations.jsonl"
}

_con_seg_ready() { grep -q "snapshot B-IT-1" "$(osh_it_log seg)"; }

con_add_user() { # NAME ROLE [--totp]
        printf '%s\n' "$CON_PW" | "$OSH_BIN/console" user add --accounts.file="$OSH_IT_TMP/accounts" "$@"
}

# con_start_all [console args...]
con_start_all() {
        osh_it_start_broker
        con_publish_city 600
        osh_it_start_service seg segmenter --kafka.bootstrap.servers="$OSH_BOOTSTRAP_CLOUD" \
                --state.dir="$OSH_IT_TMP/segstate" --min.audience=1 --heartbeat.interval=1s \
                --kafka.session.timeout.ms=6000
        osh_it_wait_until 30 _con_seg_ready || fail "segmenter never took the snapshot"
        "$OSH_SOURCE_DIR/tests/integration/certs/gen.sh" "$OSH_IT_TMP/certs"
        CON_CA=$OSH_IT_TMP/certs/ca.pem
        printf 'console c0ns0le-upload-key\n' >"$OSH_IT_TMP/ingest.keys"
        printf 'c0ns0le-upload-key\n' >"$OSH_IT_TMP/console.ingest.key"
        local iport
        iport=$(osh_it_free_port)
        osh_it_start_service ingest cloud-ingest --listen.port "$iport" \
                --auth.keys.file "$OSH_IT_TMP/ingest.keys" --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" \
                --max.csv.bytes 256M --segment cloud
        disp_start_fakes
        disp_start_smtp
        # The dispatcher's quiet hours (the console learns them from its
        # heartbeat): a window 3 to 5 hours ahead, so no send of this run is held.
        CON_QUIET=$(TZ=Asia/Tokyo date -d '+3 hours' +%H:%M)-$(TZ=Asia/Tokyo date -d '+5 hours' +%H:%M)
        disp_start disp --quiet.hours "$CON_QUIET" --heartbeat.interval 1s
        printf '%s\n' "$CON_PW" | "$OSH_BIN/console" create-admin --accounts.file="$OSH_IT_TMP/accounts" root
        con_add_user alice author
        con_add_user bob approver
        con_add_user vic viewer
        con_add_user val viewer
        CON_TOTP=$(con_add_user tina author --totp | sed -n 's/^TOTP secret.*: //p')
        local port
        port=$(osh_it_free_port)
        osh_it_start_service console console --kafka.bootstrap.servers="$OSH_BOOTSTRAP_CLOUD" \
                --accounts.file="$OSH_IT_TMP/accounts" --state.file="$OSH_IT_TMP/console.state" \
                --tls.cert="$OSH_IT_TMP/certs/server.pem" --tls.key="$OSH_IT_TMP/certs/server.key" \
                --listen.port="$port" --heartbeat.interval=1s --approval.threshold=20 \
                --ingest.url="http://127.0.0.1:$iport" --ingest.key.id=console \
                --ingest.key.file="$OSH_IT_TMP/console.ingest.key" --lockout.failures=3 "$@"
        CON_URL=https://localhost:$port
        export CON_URL CON_CA CON_PW CON_TOTP CON_SEND_MS CON_QUIET
}
