#!/usr/bin/env bash
# osh-broker: four isolated mock clusters with pre-created topics, produce and
# consume on each with kcat, env file lifecycle, then the --single variant.
# shellcheck source=lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"

osh_it_begin

# ---- command line -------------------------------------------------------
help=$("$OSH_BIN/osh-broker" --help)
assert_contains "$help" "--single" "--help documents --single"
rc=0
"$OSH_BIN/osh-broker" --brokers 0 --env-file "$OSH_IT_TMP/x.env" 2>/dev/null || rc=$?
assert_eq 2 "$rc" "--brokers 0 is rejected"
rc=0
"$OSH_BIN/osh-broker" --topics "$OSH_IT_TMP/nope.conf" --env-file "$OSH_IT_TMP/x.env" \
        2>"$OSH_IT_TMP/bad-topics.log" || rc=$?
assert_eq 2 "$rc" "missing topics file is rejected"
assert_contains "$(cat "$OSH_IT_TMP/bad-topics.log")" "nope.conf"
assert_no_file "$OSH_IT_TMP/x.env" "no env file after a failed start"

# ---- four clusters -----------------------------------------------------
osh_it_start_broker
assert_contains "$(cat "$(osh_it_log broker)")" "5 MiB" "limits are printed"
n=$(printf '%s\n' "$OSH_BOOTSTRAP_CORE" "$OSH_BOOTSTRAP_PROCESSING" "$OSH_BOOTSTRAP_EXCHANGE" \
        "$OSH_BOOTSTRAP_CLOUD" | sort -u | wc -l)
assert_eq 4 "$n" "each segment has its own cluster"

# partitions: TOPIC BOOTSTRAP -> partition count from metadata (0 = absent).
# Listing every topic does not auto-create any.
partitions() {
        kcat -L -b "$2" -m 5 -J | jq --arg t "$1" \
                '[.topics[] | select(.topic == $t) | .partitions | length] | add // 0'
}

check_cluster() { # SEGMENT BOOTSTRAP TOPIC PARTITION WANT_PARTITIONS
        local seg=$1 bs=$2 topic=$3 part=$4 want
        assert_eq "$5" "$(partitions "$topic" "$bs")" "$seg: $topic pre-created"
        want=$(printf '%s-k%d\t%s-v%d\n' "$seg" 1 "$seg" 1 "$seg" 2 "$seg" 2 "$seg" 3 "$seg" 3)
        printf '%s\n' "$want" | osh_it_produce "$bs" "$topic" "$part"
        assert_eq "$want" "$(osh_it_consume "$bs" "$topic" "$part" 3)" "$seg: records read back"
}

# Partition counts as topics.conf gives them (columns: core processing exchange cloud).
conf_parts() { # TOPIC COLUMN
        awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$OSH_SOURCE_DIR/tools/broker/topics.conf"
}
check_cluster core "$OSH_BOOTSTRAP_CORE" resident.raw.v1 5 "$(conf_parts resident.raw.v1 2)"
check_cluster processing "$OSH_BOOTSTRAP_PROCESSING" resident.abstracted.v1 7 \
        "$(conf_parts resident.abstracted.v1 3)"
check_cluster exchange "$OSH_BOOTSTRAP_EXCHANGE" ops.health.v1 0 "$(conf_parts ops.health.v1 4)"
check_cluster cloud "$OSH_BOOTSTRAP_CLOUD" notify.dispatch.v1 3 "$(conf_parts notify.dispatch.v1 5)"

# Isolation: raw (PII) data exists only in core and processing.
assert_eq 0 "$(partitions resident.raw.v1 "$OSH_BOOTSTRAP_EXCHANGE")" "no raw topic in exchange"
assert_eq 0 "$(partitions resident.raw.v1 "$OSH_BOOTSTRAP_CLOUD")" "no raw topic in cloud"
assert_eq "" "$(osh_it_consume "$OSH_BOOTSTRAP_PROCESSING" resident.raw.v1 5 3)" \
        "core's records are not in processing's cluster"

osh_it_stop_service broker 0
assert_no_file "$OSH_BROKER_ENV" "env file removed on SIGTERM"

# ---- single shared cluster, overridden partition count ------------------------
osh_it_start_broker --single --partitions 2 --brokers 2
assert_eq "$OSH_BOOTSTRAP_CORE" "$OSH_BOOTSTRAP_CLOUD" "--single: core and cloud share"
assert_eq "$OSH_BOOTSTRAP_CORE" "$OSH_BOOTSTRAP_EXCHANGE" "--single: core and exchange share"
assert_eq "$OSH_BOOTSTRAP_CORE" "$OSH_BOOTSTRAP_PROCESSING" "--single: all four share"
assert_contains "$OSH_BOOTSTRAP_CORE" "," "--brokers 2 lists two brokers"
assert_eq 2 "$(partitions notify.status.v1 "$OSH_BOOTSTRAP_CORE")" "--partitions overrides"
assert_eq 2 "$(partitions resident.raw.v1 "$OSH_BOOTSTRAP_CORE")" "union of all topics"
printf 'k\tcrosses\n' | osh_it_produce "$OSH_BOOTSTRAP_CORE" batch.control.v1 1
assert_eq $'k\tcrosses' "$(osh_it_consume "$OSH_BOOTSTRAP_CLOUD" batch.control.v1 1 1)" \
        "--single: written via core, read via cloud"
osh_it_stop_service broker 0
assert_no_file "$OSH_BROKER_ENV" "env file removed on SIGTERM (--single)"

# ---- capacity: partitions sized for what a topic must hold (issue 15.6) ------
osh_it_start_broker
cap() { grep -o "  $1 .*" "$(osh_it_log broker)"; }
held() { cap "$1" | sed -E 's/.*holds ([0-9]+) records.*/\1/'; }
assert_ge "$(held destinations.v1)" 1000000 "a city-sized destinations list fits: $(cap destinations.v1)"
# Chiba: 973,183 residents -> ~187,000 records a weekly snapshot.
assert_ge "$(held resident.raw.v1)" $((2 * 187000)) "two weekly raw snapshots fit"
assert_ge "$(held resident.abstracted.v1)" $((3 * 187000)) "three abstracted snapshots fit"
assert_not_contains "$(cat "$(osh_it_log broker)")" "TOO SMALL"
osh_it_stop_service broker 0
# A table count that cannot hold the declared need is raised, and said.
printf 'big.topic.v1 1 - - - 50000x1000\n' >"$OSH_IT_TMP/need.conf"
osh_it_start_broker --topics "$OSH_IT_TMP/need.conf"
assert_eq 10 "$(partitions big.topic.v1 "$OSH_BOOTSTRAP_CORE")" "50 MB need 10 partitions of 5 MiB"
assert_contains "$(cat "$(osh_it_log broker)")" "1 partitions cannot hold 50000 records"
osh_it_stop_service broker 0
