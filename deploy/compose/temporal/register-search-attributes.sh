#!/bin/sh
# Registers the service's custom search attributes in a Temporal namespace, once: an
# attribute that is already there is left alone, so this runs on every `docker compose up`
# (the one-shot `temporal-init` service, image temporalio/admin-tools). It waits for the
# cluster and for the namespace (auto-setup creates `default` shortly after the server
# starts serving).
#
# The same names and types as localstack/servers.py SEARCH_ATTRIBUTES (a test checks they
# agree): NAME=TYPE, Keyword for ids and outcomes, Datetime for NextActionAt (when a
# journey's next timer fires, so `NextActionAt < "..."` lists what fires within the hour).
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS (host:port of the frontend) is required}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
ATTRIBUTES="AppointmentId=Keyword PatientId=Keyword DoctorId=Keyword BookingStatus=Keyword NeedsAttention=Keyword SagaOutcome=Keyword WaitlistStatus=Keyword NextActionAt=Datetime"
TRIES="${TRIES:-120}"

wait_for() {
    what="$1"
    shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge "$TRIES" ]; then
            echo "gave up waiting for $what" >&2
            exit 1
        fi
        sleep 1
    done
    echo "$what: ready"
}

wait_for "Temporal at $TEMPORAL_ADDRESS" temporal operator cluster health --address "$TEMPORAL_ADDRESS"
wait_for "namespace $NAMESPACE" temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE"

existing="$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE")"
for attribute in $ATTRIBUTES; do
    name="${attribute%%=*}"
    type="${attribute#*=}"
    if printf '%s\n' "$existing" | grep -qw "$name"; then
        echo "search attribute $name: already registered"
    else
        temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" \
            --namespace "$NAMESPACE" --name "$name" --type "$type"
        echo "search attribute $name: registered ($type)"
    fi
done
