"""Issue #16 end to end, on a real stack whose offer rounds run in minutes (conftest.py):
a cancelled appointment's slot is offered to the waitlist by itself. The offer shows in
REST and on the ``waitlist.events`` topic within seconds, the Notification Service
records it, staff cannot book the slot while it is offered, twenty accepts at once book it
once, in that very slot with its invoice; an offer let expire answers 409 and the next
candidate gets the slot.

Each scenario has a doctor of its own and patients of its own, and its slot an hour ahead
(far beyond the five-minute cutoff)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import MongoClient
from pymongo.database import Database

from localstack.service import LocalService
from messaging.contract import validate_envelope
from tests.e2e.support import BASE, describe_workflow, problem_type
from tests.e2e_waitlist.conftest import OFFER_MINUTES, WAITLIST_DOCTORS
from tests.waiting import eventually, eventually_async
from workflows.contracts import waitlist as rounds
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, WAITLIST_STATUS

pytestmark = pytest.mark.e2e

WAITLIST = "/api/v1/waitlist"
AHEAD = timedelta(hours=1)  # the slot's start: well beyond the cutoff, any time of day
DURATION = 10
SECONDS = 20.0  # "within seconds": a deadline against a hang, not a measurement
ACCEPTS = 20


# --- the stack's doors ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def staff(service: LocalService) -> Iterator[httpx.Client]:
    with client_as(service, "staff", "frontdesk-waitlist") as client:
        yield client


@pytest.fixture(scope="module")
def mongo(service: LocalService) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(service.settings.mongo_uri, tz_aware=True)
    yield client
    client.close()


def client_as(service: LocalService, role: str, subject: str) -> httpx.Client:
    token = {"Authorization": f"Bearer {service.token(role, subject)}"}
    return httpx.Client(base_url=service.api_url, headers=token, timeout=60)


def keyed() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def slot_ahead() -> datetime:
    """A start on the 5-minute grid about an hour from now."""
    start = (datetime.now(UTC) + AHEAD).replace(second=0, microsecond=0)
    return start + timedelta(minutes=-start.minute % 5)


def book(client: httpx.Client, patient_id: str, doctor_id: str, start: datetime) -> httpx.Response:
    body = {
        "patient_id": patient_id,
        "doctor_id": doctor_id,
        "start": start.isoformat(),
        "duration_minutes": DURATION,
    }
    return client.post(BASE, json=body, headers=keyed())


def booked(client: httpx.Client, patient_id: str, doctor_id: str, start: datetime) -> str:
    answer = book(client, patient_id, doctor_id, start)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def cancelled(client: httpx.Client, appointment_id: str) -> None:
    answer = client.post(
        f"{BASE}/{appointment_id}/cancel", json={"reason": "cannot make it"}, headers=keyed()
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "CANCELLED"


def joined(client: httpx.Client, patient_id: str, doctor_id: str, around: datetime) -> str:
    """The patient's new entry (WAITING) for any start within two hours of ``around``."""
    body = {
        "patient_id": patient_id,
        "doctor_id": doctor_id,
        "earliest_start": (around - timedelta(hours=1)).isoformat(),
        "latest_start": (around + timedelta(hours=1)).isoformat(),
        "duration_minutes": DURATION,
        "priority": "routine",
    }
    answer = client.post(WAITLIST, json=body, headers=keyed())
    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert entry["status"] == "WAITING", entry
    assert entry.get("offer") is None, entry
    return str(entry["id"])


def entry_of(client: httpx.Client, entry_id: str) -> dict[str, Any]:
    answer = client.get(f"{WAITLIST}/{entry_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def offered(client: httpx.Client, entry_id: str, within: float = SECONDS) -> dict[str, Any]:
    """The entry's open offer (``offer: {id, start, end, expires_at}``), once it shows."""
    return eventually(
        lambda: entry_of(client, entry_id).get("offer"), within, f"an offer to entry {entry_id}"
    )


def accept(client: httpx.Client, offer_id: str) -> httpx.Response:
    return client.post(f"{WAITLIST}/offers/{offer_id}/accept", headers=keyed())


def accepted_at_once(service: LocalService, patient_id: str, offer_id: str) -> list[int]:
    """``ACCEPTS`` accepts of the offer by its patient, all in flight at once; their
    status codes."""

    async def all_at_once() -> list[httpx.Response]:
        token = {"Authorization": f"Bearer {service.token('patient', patient_id)}"}
        limits = httpx.Limits(max_connections=ACCEPTS)
        async with httpx.AsyncClient(
            base_url=service.api_url, headers=token, timeout=120, limits=limits
        ) as client:
            url = f"{WAITLIST}/offers/{offer_id}/accept"
            accepts = (client.post(url, headers=keyed()) for _ in range(ACCEPTS))
            return await asyncio.gather(*accepts)

    answers = asyncio.run(all_at_once())
    for answer in answers:
        if answer.status_code == 409:
            assert answer.headers["content-type"] == "application/problem+json", answer.text
    return sorted(answer.status_code for answer in answers)


# --- the topic -----------------------------------------------------------------------------


def on_topic(
    service: LocalService, entry_id: str, event_type: str, within: float = SECONDS
) -> dict[str, Any]:
    """The first envelope of ``event_type`` about ``entry_id`` on the waitlist's topic, read
    from the beginning by a fresh consumer outside any group."""

    async def read() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=service.settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            topic = service.settings.waitlist_topic
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            found: list[dict[str, Any]] = []

            async def arrived() -> dict[str, Any] | None:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        envelope = json.loads(record.value or b"{}")
                        kind, about = envelope.get("type"), envelope.get("entry_id")
                        if (kind, about) == (event_type, entry_id):
                            found.append(envelope)
                return found[0] if found else None

            return await eventually_async(
                arrived, within, f"{event_type} of entry {entry_id} on {topic}"
            )
        finally:
            await consumer.stop()

    return asyncio.run(read())


# --- what the rest of the stack holds -------------------------------------------------------


def appointment(staff: httpx.Client, appointment_id: str) -> dict[str, Any]:
    answer = staff.get(f"{BASE}/{appointment_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def live_in_slot(database: Database[dict[str, Any]], doctor_id: str, start: datetime) -> list[str]:
    """The appointments MongoDB holds in that slot, but the cancelled ones."""
    query = {"doctor_id": doctor_id, "start": start, "status": {"$ne": "CANCELLED"}}
    return [row["_id"] for row in database["appointments"].find(query)]


def round_ended(service: LocalService, doctor_id: str, start: datetime) -> Any:
    """The slot's offer round, once it has closed (it books, then ends)."""

    def closed() -> Any:
        run = describe_workflow(service, rounds.workflow_id(doctor_id, start))
        return run if run.status.name != "RUNNING" else None

    return eventually(closed, SECONDS, "the offer round closed")


# --- the scenarios --------------------------------------------------------------------------


def test_a_cancelled_slot_is_offered_to_the_waitlist_and_booked_exactly_once(
    service: LocalService, staff: httpx.Client, mongo: MongoClient[dict[str, Any]]
) -> None:
    doctor, start = WAITLIST_DOCTORS[0], slot_ahead()
    anna, ben = "pat-anna-schmidt", "pat-ben-okafor"  # A cancels, B waits
    database = mongo[service.settings.mongo_database]
    with client_as(service, "patient", anna) as a, client_as(service, "patient", ben) as b:
        # B waits for doctor D around the hour; A holds an appointment in B's window.
        entry_id = joined(b, ben, doctor, start)
        anna_appointment = booked(staff, anna, doctor, start)

        cancelled(a, anna_appointment)

        # B's offer shows in REST and on Kafka, within seconds.
        offer = offered(b, entry_id)
        assert datetime.fromisoformat(offer["start"]) == start
        assert datetime.fromisoformat(offer["end"]) == start + timedelta(minutes=DURATION)
        assert datetime.fromisoformat(offer["expires_at"]) > datetime.now(UTC)
        envelope = on_topic(service, entry_id, "waitlist.offered")
        validate_envelope(envelope)
        assert envelope["details"]["offer_id"] == offer["id"], envelope

        # Staff cannot book the slot while it is offered to the waitlist.
        refused = book(staff, "pat-chiara-rossi", doctor, start)
        assert refused.status_code == 409, refused.text
        assert problem_type(refused) == "slot-offered-to-waitlist"

        # Twenty accepts at once: one booking.
        assert accepted_at_once(service, ben, offer["id"]) == [201] + [409] * (ACCEPTS - 1)

        # The booking is B's, SCHEDULED in that very slot, with its invoice at Billing.
        fulfilled = entry_of(b, entry_id)
        assert fulfilled["status"] == "FULFILLED", fulfilled
        assert fulfilled.get("offer") is None, fulfilled
        booked_id = fulfilled["appointment_id"]
        made = appointment(staff, booked_id)
        assert made["status"] == "SCHEDULED", made
        assert (made["patient_id"], made["doctor_id"]) == (ben, doctor)
        assert datetime.fromisoformat(made["start"]) == start
        assert made["invoice_id"], made
        invoice = httpx.get(f"{service.peer_url('billing')}/invoices/{made['invoice_id']}")
        assert invoice.raise_for_status().json()["appointment_id"] == booked_id
        assert live_in_slot(database, doctor, start) == [booked_id]

        # A second accept after the booking is refused too, and books nothing.
        again = accept(b, offer["id"])
        assert again.status_code == 409, again.text
        assert live_in_slot(database, doctor, start) == [booked_id]

    # The Notification Service read the offer from Kafka and recorded B's message.
    sent = mongo["notifications"]["sent_messages"]
    recorded = eventually(
        lambda: sent.find_one({"_id": envelope["event_id"]}), SECONDS, "the offer's message"
    )
    assert (recorded["event_type"], recorded["entry_id"]) == ("waitlist.offered", entry_id)
    assert recorded["recipient"] == ben
    assert recorded["message"] is not None, recorded
    assert envelope["details"]["links"]["accept"] in recorded["message"]["text"]

    # The round ended with the slot booked again, as the Web UI shows it.
    described = round_ended(service, doctor, start)
    assert described.status.name == "COMPLETED"
    shown = described.typed_search_attributes
    assert shown.get(WAITLIST_STATUS) == rounds.WaitlistStatus.BOOKED.value
    assert (shown.get(DOCTOR_ID), shown.get(APPOINTMENT_ID)) == (doctor, booked_id)


def test_an_offer_let_expire_is_refused_and_the_next_candidate_gets_the_slot(
    service: LocalService, staff: httpx.Client, mongo: MongoClient[dict[str, Any]]
) -> None:
    doctor, start = WAITLIST_DOCTORS[1], slot_ahead()
    first, second = "pat-david-kim", "pat-elif-yilmaz"  # both wait; the first is first
    with (
        client_as(service, "patient", first) as one,
        client_as(service, "patient", second) as two,
    ):
        first_entry = joined(one, first, doctor, start)
        second_entry = joined(two, second, doctor, start)
        cancelled(staff, booked(staff, "pat-felix-bauer", doctor, start))

        # The longest waiting is offered the slot first; the second waits meanwhile.
        first_offer = offered(one, first_entry)
        assert entry_of(two, second_entry).get("offer") is None

        # The first lets it expire (OFFER_MINUTES): then the second is offered the slot.
        expires_at = datetime.fromisoformat(first_offer["expires_at"])
        left = (expires_at - datetime.now(UTC)).total_seconds()
        assert 0 < left <= OFFER_MINUTES * 60, first_offer
        second_offer = offered(two, second_entry, within=left + SECONDS)
        assert second_offer["id"] != first_offer["id"]
        assert datetime.fromisoformat(second_offer["start"]) == start
        assert entry_of(one, first_entry).get("offer") is None
        on_topic(service, first_entry, "waitlist.offer_expired")

        # Accepting too late is refused: the offer has expired.
        late = accept(one, first_offer["id"])
        assert late.status_code == 409, late.text
        assert problem_type(late) == "offer-expired"

        # The second accepts and holds the slot.
        taken = accept(two, second_offer["id"])
        assert taken.status_code == 201, taken.text
        made = taken.json()
        assert made["status"] == "SCHEDULED", made
        assert (made["patient_id"], made["doctor_id"]) == (second, doctor)
        assert datetime.fromisoformat(made["start"]) == start
        assert entry_of(two, second_entry)["status"] == "FULFILLED"
        assert entry_of(one, first_entry)["status"] == "WAITING"
    database = mongo[service.settings.mongo_database]
    assert live_in_slot(database, doctor, start) == [made["id"]]
    assert round_ended(service, doctor, start).status.name == "COMPLETED"
