"""The FHIR R4 door over the real local stack (issue #17), every body it answers validated
as tests/unit/fhir validate them (fhir.resources R4B; app-2 and app-3 with fhirpathpy):
``$find`` -> ``$hold`` -> ``$book`` books on the held slot (REST, GraphQL and Billing agree,
the Doctor Service confirmed that one hold), a second ``$hold`` is the fatal not-found, a
cancel through ``$book`` frees the slot; a patient reads only their own Appointments (the
role's token and a SMART patient launch alike); every status of ours, made over REST, reads
back through FHIR as itself; and this door's errors are OperationOutcomes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle as R4BBundle
from fhir.resources.R4B.slot import Slot as R4BSlot

from api.fhir.mapping import ours
from api.security.tokens import issue_local_token
from domain.status import AppointmentStatus
from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import (
    BASE,
    DOCTOR,
    Stack,
    book,
    booked,
    booking,
    changed,
    graphql,
    plant,
)
from tests.unit.fhir.test_door import fhir, outcome_of, valid_appointment
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

FHIR = "/fhir/R4"
PATIENT = "pat-ben-okafor"
STRANGER = "pat-david-kim"
S = AppointmentStatus
# GraphQL's appointment is the read view's entry (no invoice: REST and Billing show it).
APPOINTMENT = "query ($id: ID!) { appointment(id: $id) { id patientId status } }"


def parameters(reference: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "appointment-reference", "valueReference": {"reference": reference}},
            {"name": "patient-reference", "valueReference": {"reference": f"Patient/{PATIENT}"}},
        ],
    }


def operation(api: httpx.Client, name: str, body: dict[str, Any], key: str) -> httpx.Response:
    return api.post(f"{FHIR}/Appointment/${name}", json=body, headers={"Idempotency-Key": key})


def appointment(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The Appointment answered, valid (R4B, app-2, app-3)."""
    resource = fhir(answer, status)
    valid_appointment(resource)
    return resource


def entries(answer: httpx.Response) -> list[dict[str, Any]]:
    """The searchset's resources, the Bundle and each of them valid."""
    document = fhir(answer)
    R4BBundle.model_validate(document)
    assert document["type"] in ("searchset", "collection"), document
    found = [entry["resource"] for entry in document.get("entry", [])]
    for resource in found:
        if resource["resourceType"] == "Appointment":
            valid_appointment(resource)
        else:
            R4BSlot.model_validate(resource)
    return found


def slot_statuses(api: httpx.Client, start: datetime) -> list[str]:
    """The Slot search's statuses of the on-call doctor's 15 minutes from ``start``."""
    window: list[tuple[str, str | int | float | bool | None]] = [
        ("schedule.actor", f"Practitioner/{DOCTOR}"),
        ("start", f"ge{start.isoformat()}"),
        ("start", f"lt{(start + timedelta(minutes=15)).isoformat()}"),
    ]
    return sorted(slot["status"] for slot in entries(api.get(f"{FHIR}/Slot", params=window)))


def our_status(resource: dict[str, Any]) -> AppointmentStatus | None:
    """Our status of a FHIR Appointment, read back through the one status table."""
    (patient,) = [
        p for p in resource["participant"] if p["actor"]["reference"].startswith("Patient/")
    ]
    return ours(resource["status"], patient["status"])


def test_find_hold_book_and_cancel_through_the_sagas(stack: Stack, slots: Slots) -> None:
    api, doctor = stack.api, stack.peers["doctor"]
    start = datetime.fromisoformat(slots.next())
    found = api.get(
        f"{FHIR}/Appointment/$find",
        params={
            "practitioner": f"Practitioner/{DOCTOR}",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=15)).isoformat(),
            "patient-reference": f"Patient/{PATIENT}",
        },
    )
    (proposed,) = entries(found)
    assert proposed["status"] == "proposed"
    assert datetime.fromisoformat(proposed["start"]) == start

    held = appointment(
        operation(api, "hold", parameters(f"Appointment/{proposed['id']}"), f"{uuid.uuid4()}")
    )
    assert held["status"] == "pending"
    assert held["id"].startswith("hold-")
    assert slot_statuses(api, start) == ["busy-tentative"]

    # The slot is held: a second $hold is IHE's fatal not-found.
    again = operation(api, "hold", parameters(f"Appointment/{proposed['id']}"), f"{uuid.uuid4()}")
    outcome_of(again, 409, "not-found")
    assert again.json()["issue"][0]["severity"] == "fatal"

    key = str(uuid.uuid4())
    made = appointment(operation(api, "book", parameters(f"Appointment/{held['id']}"), key), 201)
    assert made["status"] == "booked"
    rest = api.get(f"{BASE}/{made['id']}").json()
    assert (rest["status"], rest["patient_id"]) == ("SCHEDULED", PATIENT)
    assert rest["invoice_id"]
    assert datetime.fromisoformat(rest["start"]) == start
    shown = {"id": made["id"], "patientId": PATIENT, "status": "SCHEDULED"}
    eventually(
        lambda: graphql(api, APPOINTMENT, id=made["id"]).json()["data"]["appointment"] == shown,
        30,
        "GraphQL shows it SCHEDULED",
    )
    invoices = stack.invoices(made["id"])
    assert [i["id"] for i in invoices] == [rest["invoice_id"]]
    # One hold of that slot at the Doctor Service, the one $hold took, confirmed.
    holds = doctor.get("/holds", params={"doctor_id": DOCTOR}).raise_for_status().json()
    at_start = [h for h in holds if datetime.fromisoformat(h["start"]) == start]
    assert [(h["id"], h["status"]) for h in at_start] == [
        (held["id"].removeprefix("hold-"), "CONFIRMED")
    ]
    assert rest["hold_id"] == at_start[0]["id"]
    # The same Idempotency-Key: the same appointment, no second booking.
    retried = appointment(operation(api, "book", parameters(f"Appointment/{held['id']}"), key), 201)
    assert retried["id"] == made["id"]
    assert [i["id"] for i in stack.invoices(made["id"])] == [rest["invoice_id"]]

    cancel = {
        "resourceType": "Appointment",
        "id": made["id"],
        "status": "cancelled",
        "cancelationReason": {"text": "feeling better"},
        "participant": [{"actor": {"reference": f"Patient/{PATIENT}"}, "status": "declined"}],
    }
    cancelled = appointment(operation(api, "book", cancel, str(uuid.uuid4())))
    assert cancelled["status"] == "cancelled"
    assert api.get(f"{BASE}/{made['id']}").json()["status"] == "CANCELLED"
    eventually(lambda: slot_statuses(api, start) == ["free"], 30, "the cancelled slot freed")


def test_a_patient_reads_only_their_own_appointments(
    service: LocalService,
    api: httpx.Client,
    slots: Slots,
    as_role: Callable[[str, str], httpx.Client],
) -> None:
    theirs = booked(api, slots.next(), STRANGER)["id"]
    mine = booked(api, slots.next(), PATIENT)["id"]
    patient = as_role("patient", PATIENT)

    outcome_of(patient.get(f"{FHIR}/Appointment/{theirs}"), 404, "not-found")
    assert patient.get(f"{BASE}/{theirs}").status_code == 404  # as REST
    assert appointment(patient.get(f"{FHIR}/Appointment/{mine}"))["id"] == mine

    launch = issue_local_token(
        service.settings, None, "smart-app-e2e", scope="patient/Appointment.rs", patient=PATIENT
    )
    with httpx.Client(
        base_url=service.api_url, timeout=60, headers={"Authorization": f"Bearer {launch}"}
    ) as smart:
        outcome_of(smart.get(f"{FHIR}/Appointment/{theirs}"), 404, "not-found")
        own = appointment(smart.get(f"{FHIR}/Appointment/{mine}"))
        assert f"Patient/{PATIENT}" in [p["actor"]["reference"] for p in own["participant"]]
        found = entries(smart.get(f"{FHIR}/Appointment", params={"_count": 100}))
        assert mine in [a["id"] for a in found]
        assert theirs not in [a["id"] for a in found]


def test_every_status_made_over_rest_reads_back_through_fhir_as_itself(
    stack: Stack, slots: Slots, as_role: Callable[[str, str], httpx.Client]
) -> None:
    api = stack.api
    made: dict[AppointmentStatus, str] = {}

    # PENDING: caught while its booking saga waits on a slow Billing (persisted, not yet
    # invoiced), read through FHIR until it is there. The window is Billing's delay (below
    # the 2 s peer timeout): on a loaded machine the reads can straddle it, so a booking
    # whose reads missed it (it reads booked already) is followed by another.
    stack.fault("billing", "slow", delay_seconds=1.5)
    try:
        seen = pending_id = None
        for _ in range(3):
            accepted = book(api, booking(slots.next(), PATIENT), prefer="respond-async")
            assert accepted.status_code == 202, accepted.text
            pending_id = accepted.json()["appointment_id"]
            seen = eventually(
                partial(_read_pending, api, pending_id), 30, "the booking read PENDING or later"
            )
            if seen["status"] == "pending":
                break
    finally:
        stack.fault("billing", "ok")
    assert seen is not None
    assert pending_id is not None
    assert seen["status"] == "pending", "three bookings' reads all missed their PENDING"
    assert our_status(seen) == S.PENDING
    eventually(lambda: stack.stored(pending_id)["status"] == "SCHEDULED", 30, "booked at last")

    made[S.SCHEDULED] = booked(api, slots.next(), PATIENT)["id"]
    made[S.CONFIRMED] = booked(api, slots.next(), PATIENT)["id"]
    changed(api, made[S.CONFIRMED], "confirm")
    made[S.CHECKED_IN] = booked(api, slots.next(), PATIENT)["id"]
    changed(api, made[S.CHECKED_IN], "check-in")
    made[S.COMPLETED] = booked(api, slots.next(), PATIENT)["id"]
    changed(api, made[S.COMPLETED], "check-in")
    changed(api, made[S.COMPLETED], "complete")
    made[S.CANCELLED] = booked(api, slots.next(), PATIENT)["id"]
    changed(api, made[S.CANCELLED], "cancel", reason="feeling better")
    # A no-show needs a start that has passed, which no booking takes: planted SCHEDULED
    # (tests/e2e/support.py), then recorded over REST.
    [made[S.NO_SHOW]] = plant(stack.service, [(S.SCHEDULED, PATIENT, DOCTOR, None)])
    changed(api, made[S.NO_SHOW], "no-show")
    made[S.FAILED] = booked(api, slots.next(), PATIENT)["id"]
    changed(api, made[S.FAILED], "cancel")
    admin = as_role("admin", "admin-fhir-e2e")
    assert admin.delete(f"{BASE}/{made[S.FAILED]}").status_code == 200  # entered in error

    read = {status: appointment(api.get(f"{FHIR}/Appointment/{i}")) for status, i in made.items()}
    assert {status: api.get(f"{BASE}/{i}").json()["status"] for status, i in made.items()} == {
        status: status.value for status in made
    }
    assert {status: our_status(resource) for status, resource in read.items()} == {
        status: status for status in made
    }
    assert {status: resource["status"] for status, resource in read.items()} == {
        S.SCHEDULED: "booked",
        S.CONFIRMED: "booked",
        S.CHECKED_IN: "checked-in",
        S.COMPLETED: "fulfilled",
        S.CANCELLED: "cancelled",
        S.NO_SHOW: "noshow",
        S.FAILED: "entered-in-error",
    }
    assert read[S.CANCELLED]["cancelationReason"]["text"] == "feeling better"


def _read_pending(api: httpx.Client, appointment_id: str) -> dict[str, Any] | None:
    """The Appointment once FHIR reads it stored: pending, or already past it."""
    answer = api.get(f"{FHIR}/Appointment/{appointment_id}")
    return None if answer.status_code == 202 else appointment(answer)


def test_errors_on_this_door_are_operation_outcomes(
    api: httpx.Client, anonymous: httpx.Client
) -> None:
    for answer, status, code in (
        (anonymous.get(f"{FHIR}/Appointment"), 401, "login"),
        (api.get(f"{FHIR}/Appointment", params={"colour": "blue"}), 400, "invalid"),
        (api.get(f"{FHIR}/Slot", params={"schedule": DOCTOR}), 400, "invalid"),  # unbounded
        (api.post(f"{FHIR}/Appointment/$book", json=parameters("Appointment/x")), 400, "invalid"),
    ):
        assert "problem" not in answer.headers["content-type"]
        outcome_of(answer, status, code)
    # REST keeps its problems.
    assert anonymous.get(BASE).headers["content-type"] == "application/problem+json"
