"""The IHE ITI Scheduling operations on the FHIR door, on the fakes: ``$find`` proposes
free slots, ``$hold`` holds one at the Doctor Service, ``$book`` books on that hold (never
taking a second) or cancels. Every resource validates with fhir.resources (R4B), every
Appointment keeps app-2 and app-3, and every bad request is a 4xx OperationOutcome that
changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle as R4BBundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as R4BCapability

from api.fhir.mapping import parse_slot_id, slot_id
from application.permissions import Role
from config import Settings
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.api.conftest import bearer
from tests.unit.fhir.test_door import fhir, outcome_of, valid_appointment

NINE = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # Tuesday 09:00 in Berlin
SLOT = slot_id("doc-on-call", NINE, 15)
WINDOW = "start=2030-01-08T09:00:00%2B01:00&end=2030-01-08T10:00:00%2B01:00"
PATIENT = "pat-anna-schmidt"


def proposals(document: dict[str, Any]) -> list[dict[str, Any]]:
    R4BBundle.model_validate(document)
    found = [entry["resource"] for entry in document.get("entry", [])]
    for appointment in found:
        valid_appointment(appointment)
        assert appointment["status"] == "proposed"
    return found


def hold_of(slot: str = SLOT, patient: str = PATIENT) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "appointment-reference",
                "valueReference": {"reference": f"Appointment/proposed-{slot}"},
            },
            {"name": "patient-reference", "valueReference": {"reference": f"Patient/{patient}"}},
        ],
    }


def book_of(reference: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "appointment-reference", "valueReference": {"reference": reference}}
        ],
    }


async def held(
    client: httpx.AsyncClient, key: str = "hold-1", body: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = await client.post(
        "/fhir/R4/Appointment/$hold", json=body or hold_of(), headers={"Idempotency-Key": key}
    )
    resource = fhir(answer)
    valid_appointment(resource)
    return resource


# --- $find ------------------------------------------------------------------------------------


async def test_find_proposes_the_free_slots_of_a_practitioner_in_their_zone(
    client: httpx.AsyncClient,
) -> None:
    query = f"practitioner=Practitioner/doc-on-call&{WINDOW}&patient-reference=Patient/{PATIENT}"
    found = proposals(fhir(await client.get(f"/fhir/R4/Appointment/$find?{query}")))
    assert [a["start"] for a in found] == [
        "2030-01-08T09:00:00+01:00",
        "2030-01-08T09:15:00+01:00",
        "2030-01-08T09:30:00+01:00",
        "2030-01-08T09:45:00+01:00",
    ]
    first = found[0]
    assert first["id"] == f"proposed-{SLOT}"
    assert first["end"] == "2030-01-08T09:15:00+01:00"
    assert first["minutesDuration"] == 15
    assert first["slot"] == [{"reference": f"Slot/{SLOT}"}]
    assert [(p["actor"]["reference"], p["status"]) for p in first["participant"]] == [
        ("Practitioner/doc-on-call", "needs-action"),
        (f"Patient/{PATIENT}", "needs-action"),
    ]


async def test_find_proposes_no_held_slot(client: httpx.AsyncClient, world: World) -> None:
    await world.desk.hold("doc-on-call", NINE + timedelta(minutes=15), 15, PATIENT, 300, "k")
    query = f"practitioner=doc-on-call&{WINDOW}"
    found = proposals(fhir(await client.get(f"/fhir/R4/Appointment/$find?{query}")))
    assert [a["start"][11:16] for a in found] == ["09:00", "09:30", "09:45"]


async def test_find_by_post_and_by_specialty_without_a_practitioner(
    client: httpx.AsyncClient,
) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "start", "valueDateTime": "2030-01-08T09:00:00+01:00"},
            {"name": "end", "valueDateTime": "2030-01-08T09:30:00+01:00"},
            {"name": "specialty", "valueString": "General practice"},
            {"name": "_count", "valuePositiveInt": 1},
        ],
    }
    document = fhir(await client.post("/fhir/R4/Appointment/$find", json=parameters))
    assert document["total"] == 2
    assert [parse_slot_id(a["slot"][0]["reference"][5:]) for a in proposals(document)] == [
        ("doc-on-call", NINE, 15)
    ]
    other = f"specialty=Dermatology&{WINDOW}"
    assert fhir(await client.get(f"/fhir/R4/Appointment/$find?{other}"))["total"] == 0


async def test_bad_finds_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    bad = {
        "practitioner=doc-on-call&start=2030-01-08T09:00:00Z": ("invalid", "unbounded"),
        "start=2030-01-08&end=2030-02-08": ("invalid", "at most 7 days"),
        f"practitioner=Patient/doc-on-call&{WINDOW}": ("invalid", "Practitioner reference"),
        f"practitioner=doc-on-call&{WINDOW}&colour=red": ("invalid", "unknown parameter"),
        "practitioner=doc-on-call&start=2030-01-08T10:00:00Z&end=2030-01-08T09:00:00Z": (
            "invalid",
            "before end",
        ),
    }
    for query, (code, words) in bad.items():
        answer = await client.get(f"/fhir/R4/Appointment/$find?{query}")
        assert words in outcome_of(answer, 400, code), query
    unknown = await client.get(f"/fhir/R4/Appointment/$find?practitioner=nobody&{WINDOW}")
    outcome_of(unknown, 404, "not-found")
    not_parameters = {"resourceType": "Patient"}
    outcome_of(await client.post("/fhir/R4/Appointment/$find", json=not_parameters), 400, "invalid")


# --- $hold -------------------------------------------------------------------------------------


async def test_hold_holds_the_slot_for_the_configured_time_and_answers_pending(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    resource = await held(client)
    assert resource["status"] == "pending"
    assert resource["id"] == "hold-h1"
    assert resource["start"] == "2030-01-08T09:00:00+01:00"
    assert resource["slot"] == [{"reference": f"Slot/{SLOT}"}]
    (hold,) = world.desk.holds.values()
    assert (hold.doctor_id, hold.start, hold.patient_id) == ("doc-on-call", NINE, PATIENT)
    assert hold.expires_at == world.clock() + timedelta(minutes=settings.slot_hold_minutes)
    again = await held(client)  # the same key: the same hold, not a second one
    assert again["id"] == "hold-h1"
    assert len(world.desk.holds) == 1


async def test_a_second_hold_of_a_held_slot_is_the_fatal_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    await held(client)
    answer = await client.post(
        "/fhir/R4/Appointment/$hold", json=hold_of(), headers={"Idempotency-Key": "hold-2"}
    )
    document = fhir(answer, 409)
    (issue,) = document["issue"]
    assert (issue["severity"], issue["code"]) == ("fatal", "not-found")
    assert len(world.desk.holds) == 1


async def test_hold_takes_a_proposed_appointment_and_a_patient_holds_only_for_themself(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    proposed = {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{SLOT}"}],
        "participant": [{"actor": {"reference": "Patient/pat-1"}, "status": "needs-action"}],
    }
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, "pat-2")
    answer = await client.post("/fhir/R4/Appointment/$hold", json=proposed)
    outcome_of(answer, 403, "forbidden")
    assert world.desk.holds == {}
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, "pat-1")
    resource = await held(client, body=proposed)
    assert world.desk.holds["h1"].patient_id == "pat-1"
    assert resource["participant"][1]["actor"]["reference"] == "Patient/pat-1"


async def test_malformed_holds_are_operation_outcomes_and_hold_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    bad: list[Any] = [
        {"resourceType": "Parameters", "parameter": [{"name": "appointment-reference"}]},
        {"resourceType": "Parameters", "parameter": [{"name": "x", "valueFoo": 1}]},
        {"resourceType": "Parameters", "parameter": []},
        hold_of(slot="not-a-slot"),
        {"resourceType": "Appointment", "status": "proposed", "participant": []},
        {"resourceType": "Bundle"},
        [1, 2],
    ]
    for body in bad:
        answer = await client.post("/fhir/R4/Appointment/$hold", json=body)
        outcome_of(answer, 400, "invalid")
    answer = await client.post(
        "/fhir/R4/Appointment/$hold", content=b"{", headers={"Content-Type": "application/json"}
    )
    outcome_of(answer, 400, "invalid")
    assert world.desk.holds == {}
    assert world.desk.asked == []


# --- $book -------------------------------------------------------------------------------------


async def test_book_on_a_hold_confirms_that_hold_and_answers_booked(
    client: httpx.AsyncClient, world: World
) -> None:
    await held(client)
    answer = await client.post(
        "/fhir/R4/Appointment/$book",
        json=book_of("Appointment/hold-h1"),
        headers={"Idempotency-Key": "book-1"},
    )
    resource = fhir(answer, 201)
    valid_appointment(resource)
    assert resource["status"] == "booked"
    assert answer.headers["location"] == f"/fhir/R4/Appointment/{resource['id']}"
    (request,) = world.sagas.requests
    assert request.held is not None
    assert request.held.hold_id == "h1"
    assert (request.doctor_id, request.start, request.patient_id) == ("doc-on-call", NINE, PATIENT)
    stored = world.repository.appointments[resource["id"]]
    assert stored.status is AppointmentStatus.SCHEDULED
    # A retry with the key joins the run: the same appointment, no second booking.
    world.desk.confirm("h1")
    retry = await client.post(
        "/fhir/R4/Appointment/$book",
        json=book_of("Appointment/hold-h1"),
        headers={"Idempotency-Key": "book-1"},
    )
    assert fhir(retry, 201)["id"] == resource["id"]
    assert len(world.repository.appointments) == 1
    # A new key on the confirmed hold: no longer free, nothing booked.
    other = await client.post(
        "/fhir/R4/Appointment/$book",
        json=book_of("Appointment/hold-h1"),
        headers={"Idempotency-Key": "book-2"},
    )
    document = fhir(other, 409)
    assert (document["issue"][0]["severity"], document["issue"][0]["code"]) == (
        "fatal",
        "not-found",
    )
    assert len(world.repository.appointments) == 1


async def test_book_without_a_hold_books_like_rest(client: httpx.AsyncClient, world: World) -> None:
    proposed = {
        "resourceType": "Appointment",
        "id": f"proposed-{SLOT}",
        "status": "proposed",
        "participant": [
            {"actor": {"reference": "Practitioner/doc-on-call"}, "status": "needs-action"},
            {"actor": {"reference": f"Patient/{PATIENT}"}, "status": "needs-action"},
        ],
    }
    answer = await client.post(
        "/fhir/R4/Appointment/$book", json=proposed, headers={"Idempotency-Key": "book-3"}
    )
    resource = fhir(answer, 201)
    valid_appointment(resource)
    (request,) = world.sagas.requests
    assert request.held is None
    assert request.start == NINE


async def test_book_cancelled_cancels_through_the_saga_and_frees_the_slot(
    client: httpx.AsyncClient, world: World
) -> None:
    booked = await world.repository.plant(start=NINE, patient_id=PATIENT)
    world.view.add(booked)
    cancel = {
        "resourceType": "Appointment",
        "id": booked.id,
        "status": "cancelled",
        "cancelationReason": {"text": "feeling better"},
        "participant": [{"actor": {"reference": f"Patient/{PATIENT}"}, "status": "declined"}],
    }
    answer = await client.post(
        "/fhir/R4/Appointment/$book", json=cancel, headers={"Idempotency-Key": "cancel-1"}
    )
    resource = fhir(answer)
    valid_appointment(resource)
    assert resource["status"] == "cancelled"
    (request,) = world.sagas.requests
    assert (request.appointment_id, request.reason) == (booked.id, "feeling better")
    cancelled = world.repository.appointments[booked.id]
    assert cancelled.status is AppointmentStatus.CANCELLED
    world.view.rows.clear()  # the projector applies the cancellation
    world.view.add(cancelled)
    window = "start=ge2030-01-08T09:00:00%2B01:00&start=lt2030-01-08T09:15:00%2B01:00"
    slots = fhir(await client.get(f"/fhir/R4/Slot?schedule=doc-on-call&{window}"))
    assert [e["resource"]["status"] for e in slots["entry"]] == ["free"]


async def test_bad_books_are_operation_outcomes_and_change_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    await held(client)
    no_key = await client.post("/fhir/R4/Appointment/$book", json=book_of("Appointment/hold-h1"))
    assert "Idempotency-Key" in outcome_of(no_key, 400, "invalid")
    bad: list[dict[str, Any]] = [
        book_of("Patient/hold-h1"),
        book_of("Appointment/some-appointment"),
        {"resourceType": "Appointment", "status": "cancelled", "participant": []},
        {"resourceType": "Parameters", "parameter": [{"name": "appointment", "resource": {}}]},
    ]
    for body in bad:
        answer = await client.post(
            "/fhir/R4/Appointment/$book", json=body, headers={"Idempotency-Key": "book-x"}
        )
        outcome_of(answer, 400, "invalid")
    unknown = await client.post(
        "/fhir/R4/Appointment/$book",
        json=book_of("Appointment/hold-nope"),
        headers={"Idempotency-Key": "book-y"},
    )
    outcome_of(unknown, 404, "not-found")
    assert world.sagas.requests == []
    assert world.repository.appointments == {}


async def test_a_patient_cannot_book_on_another_patients_hold(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    await held(client)  # staff, for pat-anna-schmidt
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, "pat-2")
    answer = await client.post(
        "/fhir/R4/Appointment/$book",
        json=book_of("Appointment/hold-h1"),
        headers={"Idempotency-Key": "book-z"},
    )
    outcome_of(answer, 404, "not-found")
    assert world.sagas.requests == []


async def test_the_capability_statement_lists_the_operations_and_the_slot_search(
    client: httpx.AsyncClient,
) -> None:
    document = fhir(await client.get("/fhir/R4/metadata"))
    R4BCapability.model_validate(document)
    resources = {r["type"]: r for r in document["rest"][0]["resource"]}
    assert {o["name"] for o in resources["Appointment"]["operation"]} >= {"find", "hold", "book"}
    assert {p["name"] for p in resources["Slot"]["searchParam"]} == {
        "schedule",
        "schedule.actor",
        "start",
        "status",
    }
