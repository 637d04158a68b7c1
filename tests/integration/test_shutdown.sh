#!/usr/bin/env bash
# Bounded shutdown (issue 15.11): every service exits within 10 s of SIGTERM
# whatever the broker's state. All seven services run against osh-broker, the
# broker is killed (kill -9: nothing answers any more), some work is given to
# the services that would have to flush it, then every service gets SIGTERM
# at once and must be gone within 10 s, saying what it could not flush.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"

osh_it_begin
T=$OSH_IT_TMP
R=$OSH_SOURCE_DIR
LIMIT=10
osh_it_start_broker
common=(--heartbeat.interval 1s --kafka.session.timeout.ms 6000)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/pseudonym.key"
printf 'relay s3cret-key\n' >"$T/ingest.keys"
printf 's3cret-key\n' >"$T/uplink.secret"
INGEST_PORT=$(osh_it_free_port)

osh_it_start_service cloud-ingest cloud-ingest --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --listen.port "$INGEST_PORT" \
        --auth.keys.file "$T/ingest.keys"
osh_it_start_service segmenter segmenter --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --state.dir "$T/segmenter-state"
osh_it_start_service sns-dispatcher sns-dispatcher --segment cloud "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CLOUD" --ledger.path "$T/sent.ledger" \
        --templates.dir "$R/templates" --line.url http://127.0.0.1:9 --line.token t
osh_it_start_service uplink relay-bridge --mode uplink --instance relay-uplink \
        --segment exchange "${common[@]}" --source.segment exchange --target.segment cloud \
        --allow resident.abstracted.v1,batch.control.v1 \
        --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" \
        --uplink.url "http://127.0.0.1:$INGEST_PORT" --uplink.key.id relay \
        --uplink.secret.file "$T/uplink.secret" --spool.dir "$T/uplink-spool"
osh_it_start_service monitor monitor --segment exchange "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_EXCHANGE" --http.port 0 \
        --http.port.file "$T/monitor.port"
osh_it_start_service anonymizer anonymizer --segment processing "${common[@]}" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING" \
        --anon.rules "$R/services/anonymizer/rules/rules-v1.conf" \
        --anon.hmac.key.file "$T/pseudonym.key"
osh_it_start_service relay-c2p relay-bridge --mode kafka --instance relay-c2p --segment core \
        "${common[@]}" --source.segment core --target.segment processing \
        --allow resident.raw.v1,batch.control.v1,ops.status.v1 \
        --kafka.source.bootstrap.servers "$OSH_BOOTSTRAP_CORE" \
        --kafka.target.bootstrap.servers "$OSH_BOOTSTRAP_PROCESSING"
mkdir -p "$T/drop"
osh_it_start_service extractor extractor --segment core "${common[@]}" --input "$T/drop" \
        --watch --poll.interval 1s --ledger "$T/extractor.ledger" \
        --kafka.bootstrap.servers "$OSH_BOOTSTRAP_CORE"
services=(cloud-ingest segmenter sns-dispatcher uplink monitor anonymizer relay-c2p extractor)

# The broker dies; the extractor then gets a batch it cannot deliver and
# the monitor keeps polling a cluster that is gone.
osh_it_kill_service broker
"$OSH_BIN/gen-residents" --residents 2000 --out "$T/city" >/dev/null
mv "$T/city" "$T/drop/batch-1"
sleep 3

declare -A pids=()
for s in "${services[@]}"; do
        pids[$s]=${OSH_IT_PIDS[$s]}
        kill -TERM "${pids[$s]}"
done
t0=$(date +%s.%N)
declare -A took=()
while ((${#took[@]} < ${#services[@]})); do
        now=$(date +%s.%N)
        for s in "${services[@]}"; do
                [[ -n ${took[$s]:-} ]] && continue
                kill -0 "${pids[$s]}" 2>/dev/null && continue
                took[$s]=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
        done
        awk -v a="$t0" -v b="$now" -v l=$((LIMIT + 5)) 'BEGIN { exit !(b - a > l) }' && break
        sleep 0.1
done
for s in "${services[@]}"; do
        echo "$s: ${took[$s]:-still running} s" >&2
done
for s in "${services[@]}"; do
        [[ -n ${took[$s]:-} ]] || { _osh_show_log "$s"; fail "$s still running $((LIMIT + 5)) s after SIGTERM"; }
        awk -v t="${took[$s]}" -v l=$LIMIT 'BEGIN { exit !(t < l) }' ||
                { _osh_show_log "$s"; fail "$s took ${took[$s]} s to exit (limit $LIMIT s)"; }
        OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
        wait "${pids[$s]}" || true
        unset "OSH_IT_PIDS[$s]"
done
# What could not be delivered is said, not silently dropped.
assert_contains "$(cat "$(osh_it_log extractor)")" "not delivered" \
        "the extractor says what it could not flush"
