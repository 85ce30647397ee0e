"""Issue #5's promise, end to end on the real local stack: a booking, a reschedule and a
cancellation made over REST each reach Kafka in order (read back with a real Kafka
client), the read view, GraphQL and the Notification Service; Kafka going away while
booking loses nothing; a rebuild of the view gives the same view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from localstack.service import LocalService
from messaging.contract import validate_envelope
from tests.e2e.conftest import Slots
from tests.e2e.faults import read_topic_until
from tests.e2e.support import DOCTOR, booked, changed, graphql
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PATIENT = "pat-hugo-moreau"


def envelopes_of(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


def test_booking_reschedule_and_cancel_reach_kafka_the_view_graphql_and_notifications(
    service: LocalService, api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    appointment_id = booked(api, slots.next(DOCTOR), PATIENT)["id"]
    moved_to = slots.next(DOCTOR)
    changed(api, appointment_id, "reschedule", start=moved_to)
    cancelled = changed(api, appointment_id, "cancel", reason="moving away")
    assert cancelled["status"] == "CANCELLED"

    # Kafka: every event, in the order they happened, each one valid by the contract.
    stored = list(mongo["appointment_events"].find({"appointment_id": appointment_id}).sort("seq"))
    records = read_topic_until(service, {appointment_id}, {e["_id"] for e in stored}, 60)
    envelopes = envelopes_of(records)
    # At least once: a duplicate may follow, but first deliveries come in order.
    firsts = list(dict.fromkeys(e["event_id"] for e in envelopes))
    assert firsts == [e["_id"] for e in stored]
    types = {e["event_id"]: e["type"] for e in envelopes}
    assert [types[event_id] for event_id in firsts] == [
        "appointment.requested",
        "appointment.scheduled",
        "appointment.rescheduled",
        "appointment.cancelled",
    ]
    assert len({r.partition for r in records}) == 1  # keyed by appointment: one partition
    for envelope in envelopes:
        validate_envelope(envelope)
    assert (
        mongo["outbox_events"].count_documents({"key": appointment_id, "published_at": None}) == 0
    )

    # The read view: the last state, with the doctor's and the patient's names.
    view = eventually(
        lambda: mongo["appointment_read_view"].find_one(
            {"_id": appointment_id, "status": "CANCELLED"}
        ),
        what="the read view shows the cancellation",
    )
    assert view["version"] == len(stored)
    assert all(view[name] for name in ("doctor_name", "doctor_specialty", "patient_name"))
    assert view["start"].isoformat() == cancelled["start"].replace("Z", "+00:00")

    # GraphQL answers from the same view.
    answer = graphql(
        api, "query($id: ID!) { appointment(id: $id) { id status start } }", id=appointment_id
    ).json()
    assert answer["data"]["appointment"]["status"] == "CANCELLED", answer

    # The Notification Service's stand-in: one message per event a patient hears of.
    def messages() -> list[Any]:
        rows = list(
            mongo.client["notifications"]["sent_messages"].find({"appointment_id": appointment_id})
        )
        return rows if len(rows) == len(stored) else []

    rows = eventually(messages, what="the notification consumer saw every event")
    sent = sorted(r["event_type"] for r in rows if r["message"])
    assert sent == ["appointment.cancelled", "appointment.rescheduled", "appointment.scheduled"]


def test_events_written_while_kafka_is_down_flow_once_it_is_back(
    service: LocalService, api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    """Kafka goes away while the front desk books, and comes back with its data, as a
    real cluster does. The broker is frozen (SIGSTOP) rather than killed: the local Tansu
    keeps topics in memory only, so a killed one would come back empty and, worse, accept
    writes to partitions it no longer has and drop them, which no real Kafka does. The
    relay's own tests (tests/integration/messaging) kill and restart the broker."""
    broker = service.infra.kafka.pid
    assert broker is not None
    os.killpg(broker, signal.SIGSTOP)
    try:
        # Booking needs no Kafka: the events wait in the outbox, written in the same
        # transaction as the appointment.
        ids = {booked(api, slots.next(DOCTOR), PATIENT)["id"] for _ in range(3)}
        waiting = mongo["outbox_events"].count_documents(
            {"key": {"$in": sorted(ids)}, "published_at": None}
        )
        assert waiting == 6  # requested + scheduled for each
    finally:
        os.killpg(broker, signal.SIGCONT)

    stored = {
        e["_id"] for e in mongo["appointment_events"].find({"appointment_id": {"$in": sorted(ids)}})
    }
    envelopes = envelopes_of(read_topic_until(service, ids, stored, 60))
    assert {e["appointment_id"] for e in envelopes} == ids
    assert {e["event_id"] for e in envelopes} == stored
    eventually(
        lambda: (
            mongo["outbox_events"].count_documents({"published_at": None, "parked": False}) == 0
        ),
        what="the outbox backlog drained",
    )


def test_a_rebuild_gives_the_view_the_projector_built(
    service: LocalService, mongo: Database[dict[str, Any]]
) -> None:
    view = mongo["appointment_read_view"]

    def caught_up() -> tuple[list[Any]] | None:
        rows = sorted(view.find(), key=lambda r: r["_id"])
        versions = {a["_id"]: a["version"] for a in mongo["appointments"].find()}
        # A tuple: truthy even when there are no rows at all.
        return (rows,) if {r["_id"]: r["version"] for r in rows} == versions else None

    (incremental,) = eventually(caught_up, what="the projector caught up with every appointment")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "projector", "rebuild"],
        env={**os.environ, **service.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (rebuilt,) = eventually(caught_up, what="the rebuilt view holds every appointment")
    assert rebuilt == incremental
