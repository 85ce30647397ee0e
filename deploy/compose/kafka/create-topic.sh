#!/bin/sh
# Creates the service's topics on the compose Kafka; idempotent (--if-not-exists), run by
# the one-shot `kafka-init` service on every `docker compose up`.
#
# TOPIC, WAITLIST_TOPIC and PARTITIONS come from docker-compose.yml (APPOINTMENTS_KAFKA_TOPIC,
# APPOINTMENTS_WAITLIST_TOPIC and KAFKA_TOPIC_PARTITIONS in .env). The key is the
# appointment id (the waitlist entry id on the waitlist's topic), so the partition count is
# the most consumers of one group that can work in parallel; order holds per key.
set -eu

: "${BOOTSTRAP:?BOOTSTRAP (host:port of a broker) is required}"
: "${TOPIC:?TOPIC is required}"
PARTITIONS="${PARTITIONS:-3}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"

# WAITLIST_TOPIC is optional: unset (or empty), only TOPIC is created.
for topic in "$TOPIC" ${WAITLIST_TOPIC:+"$WAITLIST_TOPIC"}; do
    "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$topic" --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR"
    "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe --topic "$topic"
done
