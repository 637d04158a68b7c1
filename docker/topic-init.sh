#!/bin/sh
# One-shot topic creation for one segment's Kafka, from tools/broker/topics.conf
# (the same table osh-broker pre-creates from), so compose and the embedded
# broker always agree on topics and partition counts.
#   topic-init.sh <segment> <bootstrap> [topics.conf]
# Runs inside apache/kafka (POSIX sh); idempotent (--if-not-exists).
set -eu
seg=$1
bootstrap=$2
conf=${3:-/etc/oshirase/topics.conf}
rf=${OSH_TOPIC_REPLICATION_FACTOR:-1}
bin=${KAFKA_BIN:-/opt/kafka/bin}

case $seg in
core) col=2 ;;
processing) col=3 ;;
exchange) col=4 ;;
cloud) col=5 ;;
*) echo "topic-init: unknown segment '$seg'" >&2; exit 2 ;;
esac

# Wait for the broker (the healthcheck passed, but metadata may lag).
i=0
until "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --list >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -ge 30 ] && { echo "topic-init: $bootstrap not reachable" >&2; exit 1; }
  sleep 2
done

awk -v c="$col" '!/^[[:space:]]*#/ && NF >= 5 && $c != "-" { print $1, $c }' "$conf" |
  while read -r topic parts; do
    extra=""
    # Latest state per key: destinations per 利用者ID (docs/architecture.md §2), cloud-ingest's
    # checkpoint per source partition. k8s/*/topics.yaml says the same.
    case $topic in
    destinations.v1 | ingest.offsets.v1) extra="--config cleanup.policy=compact" ;;
    esac
    # shellcheck disable=SC2086
    "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
      --topic "$topic" --partitions "$parts" --replication-factor "$rf" $extra
    echo "topic-init: $seg $topic partitions=$parts"
  done
echo "topic-init: $seg done"
