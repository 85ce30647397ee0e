"""Issue #15 end to end, on a real stack whose journey runs in minutes (conftest.py): a
booking's reminder is an event on Kafka and a message in the Notification Service's record,
with links; the patient confirms through the link's page in a real browser; an
appointment nobody checks in becomes NO_SHOW by itself, with its fee invoiced at Billing.

Both appointments are booked at once, at the nearest start on the 5-minute grid at least
75 s ahead, so the two tests wait for the same clock."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from pymongo import MongoClient

from localstack.service import LocalService
from messaging.contract import validate_envelope
from tests.browser import chromium
from tests.e2e.faults import read_topic_until
from tests.e2e.support import BASE, describe_workflow
from tests.e2e_journey.conftest import QUICK_DOCTORS, REMINDER_MINUTES
from tests.waiting import eventually
from workflows.contracts import journey

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # a start up to 375 s ahead

LEAD = timedelta(seconds=75)  # time to book and start the journey before the reminder
ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "journey"
ANNA, BEN = "pat-anna-schmidt", "pat-ben-okafor"


@dataclass(frozen=True)
class Booked:
    start: datetime
    confirmed_by_link: dict[str, Any]  # Anna's: she confirms through the reminder's link
    left_alone: dict[str, Any]  # Ben's: nobody checks him in


def nearest_start(now: datetime) -> datetime:
    earliest = now + LEAD
    start = earliest.replace(second=0, microsecond=0)
    start += timedelta(minutes=-start.minute % 5)
    return start if start >= earliest else start + timedelta(minutes=5)


def seconds_until(instant: datetime, plus: float) -> float:
    return max((instant - datetime.now(UTC)).total_seconds(), 0.0) + plus


@pytest.fixture(scope="module")
def staff(service: LocalService) -> Iterator[httpx.Client]:
    token = service.token("staff", "frontdesk-journey")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service.api_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def mongo(service: LocalService) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(service.settings.mongo_uri, tz_aware=True)
    yield client
    client.close()


def book(staff: httpx.Client, patient_id: str, doctor_id: str, start: datetime) -> dict[str, Any]:
    body = {
        "patient_id": patient_id,
        "doctor_id": doctor_id,
        "start": start.isoformat(),
        "duration_minutes": 10,
    }
    answer = staff.post(BASE, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def booked(staff: httpx.Client) -> Booked:
    start = nearest_start(datetime.now(UTC))
    return Booked(
        start=start,
        confirmed_by_link=book(staff, ANNA, QUICK_DOCTORS[0], start),
        left_alone=book(staff, BEN, QUICK_DOCTORS[1], start),
    )


def test_the_reminder_reaches_kafka_and_the_patient_who_confirms_through_its_link(
    service: LocalService,
    staff: httpx.Client,
    mongo: MongoClient[dict[str, Any]],
    booked: Booked,
) -> None:
    appointment_id = booked.confirmed_by_link["id"]
    # The journey runs in the Web UI, findable by the appointment, its next action timed.
    described = describe_workflow(service, journey.workflow_id(appointment_id))
    assert described.status.name == "RUNNING"

    # The notification consumer read the reminder from Kafka and recorded the message.
    sent = mongo["notifications"]["sent_messages"]

    def reminder() -> dict[str, Any] | None:
        query = {"appointment_id": appointment_id, "event_type": "appointment.reminder_due"}
        return sent.find_one(query)

    recorded = eventually(
        reminder, within=seconds_until(booked.start, 30), what="the reminder's message"
    )
    text = recorded["message"]["text"]
    confirm_link = re.search(r"Confirm: (\S+)", text)
    assert confirm_link, text
    assert re.search(r"Cancel: (\S+)", text), text

    # On Kafka: a valid event of the journey, with the offset, the local time, the links.
    records = read_topic_until(service, {appointment_id}, {recorded["_id"]}, 30)
    envelopes = [json.loads(r.value or b"{}") for r in records]
    envelope = next(e for e in envelopes if e["event_id"] == recorded["_id"])
    validate_envelope(envelope)
    assert envelope["actor"] == journey.ACTOR
    details = envelope["details"]
    assert details["offset_minutes"] == REMINDER_MINUTES
    assert datetime.fromisoformat(details["start_local"]) == booked.start
    assert details["links"]["confirm"] == confirm_link.group(1)

    # The patient opens the link and confirms, before the start (the link expires then).
    # (Playwright's sync API runs an event loop of its own: the browser opens only now.)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(confirm_link.group(1))
        page.get_by_role("button", name=re.compile("confirm", re.IGNORECASE)).click()
        expect(page.locator("body")).to_contain_text(re.compile("confirmed", re.IGNORECASE))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "confirmed.png"))

    appointment = staff.get(f"{BASE}/{appointment_id}").json()
    assert appointment["status"] == "CONFIRMED"
    events = list(
        mongo[service.settings.mongo_database]["appointment_events"]
        .find({"appointment_id": appointment_id})
        .sort("seq")
    )
    assert [e["type"] for e in events][-2:] == ["appointment.reminder_due", "appointment.confirmed"]
    assert events[-1]["actor"] == f"patient:{ANNA}"


def test_nobody_checks_the_patient_in_the_journey_records_the_no_show_and_its_fee(
    service: LocalService,
    staff: httpx.Client,
    mongo: MongoClient[dict[str, Any]],
    booked: Booked,
) -> None:
    appointment_id = booked.left_alone["id"]

    def no_show() -> dict[str, Any] | None:
        appointment = dict(staff.get(f"{BASE}/{appointment_id}").json())
        return appointment if appointment["status"] == "NO_SHOW" else None

    eventually(no_show, within=seconds_until(booked.start, 90), what="the automatic no-show")
    database = mongo[service.settings.mongo_database]
    stored = database["appointments"].find_one({"_id": appointment_id})
    assert stored is not None
    last = database["appointment_events"].find_one(
        {"appointment_id": appointment_id}, sort=[("seq", -1)]
    )
    assert last is not None
    assert (last["type"], last["actor"]) == ("appointment.no_show", journey.ACTOR)
    assert last["after"]["no_show_invoice_id"] == stored["no_show_invoice_id"]

    # The fee agreed at booking, invoiced at Billing under the journey's key.
    billing = httpx.get(f"{service.peer_url('billing')}/invoices/{stored['no_show_invoice_id']}")
    invoice = billing.raise_for_status().json()
    assert invoice["appointment_id"] == appointment_id
    assert invoice["amount_cents"] == service.settings.no_show_fee_cents
    assert invoice["status"] == "OPEN"

    # Its journey ended with the terminal status.
    described = describe_workflow(service, journey.workflow_id(appointment_id))
    assert described.status.name == "COMPLETED"


def test_staff_reverse_the_no_show_its_fee_is_void_and_both_steps_are_events(
    service: LocalService,
    staff: httpx.Client,
    mongo: MongoClient[dict[str, Any]],
    booked: Booked,
) -> None:
    """The patient did come after all: within 24 h staff reverse the automatic no-show
    (after the test above saw it) and the fee invoiced at Billing is voided."""
    appointment_id = booked.left_alone["id"]
    database = mongo[service.settings.mongo_database]
    before = database["appointments"].find_one({"_id": appointment_id})
    assert before is not None
    assert before["status"] == "NO_SHOW", "the no-show test ran first"
    fee_invoice_id = before["no_show_invoice_id"]

    answer = staff.post(
        f"{BASE}/{appointment_id}/no-show/reversal",
        json={"to": "COMPLETED", "reason": "came late, seen at the end of the hour"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "COMPLETED"
    after = database["appointments"].find_one({"_id": appointment_id})
    assert after is not None
    assert (after["status"], after["no_show_invoice_id"]) == ("COMPLETED", None)
    billing = httpx.get(f"{service.peer_url('billing')}/invoices/{fee_invoice_id}")
    assert billing.raise_for_status().json()["status"] == "VOID"
    events = list(
        database["appointment_events"].find({"appointment_id": appointment_id}).sort("seq")
    )
    reversed_, voided = events[-2:]
    assert (reversed_["type"], reversed_["actor"]) == (
        "appointment.no_show_reversed",
        "staff:frontdesk-journey",
    )
    assert voided["type"] == "appointment.no_show_fee_voided"
    assert voided["details"] == {
        "invoice_id": fee_invoice_id,
        "fee_cents": service.settings.no_show_fee_cents,
    }

    # The patient is told, through Kafka and the Notification Service.
    def told() -> dict[str, Any] | None:
        query = {"_id": voided["_id"], "event_type": "appointment.no_show_fee_voided"}
        return mongo["notifications"]["sent_messages"].find_one(query)

    eventually(told, within=30, what="the voided fee's message")
