"""The FHIR R4 door on the fakes: every resource it emits validates with fhir.resources
(R4B), every Appointment keeps the invariants app-2 and app-3 (fhirpathpy), and every bad
request is an OperationOutcome that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import fhirpathpy
import httpx
import pytest
from fastapi.routing import APIRoute
from fhir.resources.R4B.appointment import Appointment as R4BAppointment
from fhir.resources.R4B.bundle import Bundle as R4BBundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as R4BCapability
from fhir.resources.R4B.operationoutcome import OperationOutcome as R4BOutcome
from fhir.resources.R4B.schedule import Schedule as R4BSchedule

from api.fhir.mapping import STATUS_TABLE, fhir_status_of, ours, parse_slot_id, slot_id
from api.fhir.outcome import ISSUE_CODE
from api.fhir.router import MODULES, capabilities
from api.security.tokens import issue_local_token
from application.permissions import Role
from application.results import PendingBooking
from config import Settings
from domain.events import EventContext
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World, plant_into
from tests.unit.api.conftest import PLANTED_START, bearer

FHIR_JSON = "application/fhir+json"
APP_2 = "start.exists() = end.exists() and (start.empty() or start <= end)"
APP_3 = "(start.exists() and end.exists()) or (status in ('proposed' | 'cancelled' | 'waitlist'))"
S = AppointmentStatus


def fhir(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == FHIR_JSON
    document: dict[str, Any] = answer.json()
    return document


def valid_appointment(resource: dict[str, Any]) -> None:
    R4BAppointment.model_validate(resource)
    assert fhirpathpy.evaluate(resource, APP_2) == [True]
    assert fhirpathpy.evaluate(resource, APP_3) == [True]


def outcome_of(answer: httpx.Response, status: int, code: str) -> str:
    document = fhir(answer, status)
    R4BOutcome.model_validate(document)
    (issue,) = document["issue"]
    assert issue["code"] == code
    assert issue["severity"] in ("error", "fatal")
    return str(issue["diagnostics"])


async def test_read_validates_and_keeps_the_invariants(
    client: httpx.AsyncClient, planted: Appointment
) -> None:
    resource = fhir(await client.get(f"/fhir/R4/Appointment/{planted.id}"))
    valid_appointment(resource)
    assert resource["status"] == "booked"
    assert resource["meta"]["versionId"] == str(planted.version)
    assert resource["start"] == "2030-01-08T08:00:00Z"
    assert resource["minutesDuration"] == 15
    actors = [p["actor"]["reference"] for p in resource["participant"]]
    assert actors == [f"Patient/{planted.patient_id}", f"Practitioner/{planted.doctor_id}"]
    assert resource["slot"] == [{"reference": "Slot/doc-on-call.20300108T0800Z.15"}]


@pytest.mark.parametrize("status", list(AppointmentStatus))
async def test_every_status_emits_a_valid_appointment_that_maps_back(
    client: httpx.AsyncClient, world: World, status: AppointmentStatus
) -> None:
    planted = await world.repository.plant(start=PLANTED_START, status=S.SCHEDULED)
    world.repository.appointments[planted.id] = planted = _with(planted, status)
    resource = fhir(await client.get(f"/fhir/R4/Appointment/{planted.id}"))
    valid_appointment(resource)
    patient = resource["participant"][0]["status"]
    assert ours(resource["status"], patient) is status
    assert ("cancelationReason" in resource) is (status is S.CANCELLED)


def _with(appointment: Appointment, status: AppointmentStatus) -> Appointment:
    import dataclasses

    return dataclasses.replace(appointment, status=status)


def test_the_status_table_round_trips_and_is_rests() -> None:
    for status, row in STATUS_TABLE.items():
        assert ours(row.appointment, row.patient) is status
        assert fhir_status_of(status) == row.appointment
    assert ours("waitlist") is None
    assert {ours("booked", "accepted"), ours("booked", "needs-action")} == {
        S.CONFIRMED,
        S.SCHEDULED,
    }
    with pytest.raises(ValueError, match="unknown FHIR appointment status"):
        ours("arrived")


def test_slot_ids_round_trip() -> None:
    start = datetime(2030, 1, 8, 9, 15, tzinfo=UTC)
    value = slot_id("doc.on.call", start, 15)
    assert value == "doc.on.call.20300108T0915Z.15"
    assert parse_slot_id(value) == ("doc.on.call", start, 15)
    for bad in ("doc", "doc.2030.15", "doc.20300108T0915Z.0", "doc.20300108T0915Z.x"):
        with pytest.raises(ValueError, match="not a slot id"):
            parse_slot_id(bad)


async def test_search_is_a_valid_searchset_with_paging(
    client: httpx.AsyncClient, world: World
) -> None:
    for day in range(3):
        await world.repository.plant(start=PLANTED_START + timedelta(days=day))
    url = "/fhir/R4/Appointment?patient=Patient/pat-anna-schmidt&date=ge2030-01-08&_count=2"
    bundle = fhir(await client.get(url))
    R4BBundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 3
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "match"]
    for entry in bundle["entry"]:
        valid_appointment(entry["resource"])
        assert entry["fullUrl"].endswith(f"/fhir/R4/Appointment/{entry['resource']['id']}")
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert set(links) == {"self", "next"}
    second = fhir(await client.get(links["next"]))
    assert len(second["entry"]) == 1
    assert second["total"] == 3
    assert "next" not in {link["relation"] for link in second["link"]}


async def test_date_prefixes_and_status_select(client: httpx.AsyncClient, world: World) -> None:
    first = await world.repository.plant(start=PLANTED_START)
    later = await world.repository.plant(start=PLANTED_START + timedelta(days=2))
    await world.repository.plant(start=PLANTED_START + timedelta(days=1), status=S.CANCELLED)

    async def ids(query: str) -> list[str]:
        bundle = fhir(await client.get(f"/fhir/R4/Appointment?{query}"))
        return [e["resource"]["id"] for e in bundle.get("entry", [])]

    assert await ids("date=lt2030-01-09&status=booked") == [first.id]
    assert await ids("date=gt2030-01-08&status=booked") == [later.id]
    assert await ids("date=2030-01-10&practitioner=doc-on-call") == [later.id]
    assert len(await ids("status=cancelled,booked")) == 3
    assert await ids("date=ge2030-01-09&date=lt2030-01-09") == []


async def test_a_patient_gets_404_for_another_patients_appointment(
    client: httpx.AsyncClient, settings: Settings, planted: Appointment
) -> None:
    other = {"Authorization": bearer(settings, Role.PATIENT, "pat-someone-else")}
    answer = await client.get(f"/fhir/R4/Appointment/{planted.id}", headers=other)
    assert outcome_of(answer, 404, "not-found") == "Appointment not found"
    # their search names the other patient and selects nothing, as REST's list
    mine = await client.get(f"/fhir/R4/Appointment?patient={planted.patient_id}", headers=other)
    assert fhir(mine)["total"] == 0


async def test_schedule_read_and_search(client: httpx.AsyncClient) -> None:
    schedule = fhir(await client.get("/fhir/R4/Schedule/doc-on-call"))
    R4BSchedule.model_validate(schedule)
    assert schedule["actor"][0]["reference"] == "Practitioner/doc-on-call"
    assert schedule["active"] is True
    assert schedule["planningHorizon"]["end"]
    bundle = fhir(await client.get("/fhir/R4/Schedule?actor=Practitioner/doc-on-call"))
    R4BBundle.model_validate(bundle)
    assert bundle["total"] == 1
    unknown = await client.get("/fhir/R4/Schedule/doc-nobody")
    outcome_of(unknown, 404, "not-found")


async def test_metadata_lists_exactly_the_routes(client: httpx.AsyncClient) -> None:
    statement = fhir(await client.get("/fhir/R4/metadata", headers={"Authorization": ""}))
    R4BCapability.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"Appointment", "Schedule"} <= set(resources)
    appointment = resources["Appointment"]
    assert {p["name"] for p in appointment["searchParam"]} >= {"patient", "date", "status"}
    assert {i["code"] for i in appointment["interaction"]} >= {"read", "search-type"}


BAD = [
    ("/fhir/R4/Appointment?date=xx2030-01-01", 400, "invalid"),
    ("/fhir/R4/Appointment?date=ge2030-13-01", 400, "invalid"),
    ("/fhir/R4/Appointment?date=ge2030-01-01T09:00:00", 400, "invalid"),
    ("/fhir/R4/Appointment?colour=blue", 400, "invalid"),
    ("/fhir/R4/Appointment?_count=0", 400, "invalid"),
    ("/fhir/R4/Appointment?_count=1000", 400, "invalid"),
    ("/fhir/R4/Appointment?status=arrived", 400, "invalid"),
    ("/fhir/R4/Appointment?patient=Practitioner/x", 400, "invalid"),
    ("/fhir/R4/Appointment?_cursor=not-ours", 400, "invalid"),
    ("/fhir/R4/Appointment?_format=xml", 406, "not-supported"),
    ("/fhir/R4/metadata?_format=application/fhir%2Bxml", 406, "not-supported"),
    ("/fhir/R4/Appointment/not-a-uuid", 422, "invalid"),
    ("/fhir/R4/Appointment/6f1c1a52-5f0e-4d8e-9a57-1f8f7c1d0a11", 404, "not-found"),
    ("/fhir/R4/Schedule?actor=Patient/x", 400, "invalid"),
    ("/fhir/R4/Patient", 404, "not-found"),
]


@pytest.mark.parametrize(("url", "status", "code"), BAD)
async def test_bad_requests_are_operation_outcomes_that_change_nothing(
    client: httpx.AsyncClient, world: World, planted: Appointment, url: str, status: int, code: str
) -> None:
    outcome_of(await client.get(url), status, code)
    assert world.repository.appointments == {planted.id: planted}
    assert world.sagas.requests == []


async def test_tokens_and_methods_are_outcomes_too(
    client: httpx.AsyncClient, settings: Settings, planted: Appointment
) -> None:
    url = f"/fhir/R4/Appointment/{planted.id}"
    answer = await client.get(url, headers={"Authorization": ""})
    outcome_of(answer, 401, "login")
    answer = await client.get(url, headers={"Authorization": "Bearer not.a.token"})
    assert answer.headers["www-authenticate"].startswith("Bearer")
    outcome_of(answer, 401, "login")
    expired = issue_local_token(settings, Role.STAFF, "frontdesk-1", ttl_minutes=-5)
    answer = await client.get(url, headers={"Authorization": f"Bearer {expired}"})
    assert outcome_of(answer, 401, "login") == "the token is invalid or expired"
    outcome_of(await client.put(url, json={}), 405, "not-supported")
    doctor = {"Authorization": bearer(settings, Role.DOCTOR, "doc-other")}
    outcome_of(await client.get(url, headers=doctor), 404, "not-found")


async def test_a_booking_still_running_reads_as_an_informational_outcome(
    client: httpx.AsyncClient, world: World
) -> None:
    running = "0b7f1f4e-2a7c-4d0e-9a57-1f8f7c1d0a11"
    world.sagas.pending[running] = PendingBooking(running, "pat-anna-schmidt", "doc-on-call", None)
    answer = await client.get(f"/fhir/R4/Appointment/{running}")
    document = fhir(answer, 202)
    R4BOutcome.model_validate(document)
    assert document["issue"][0]["severity"] == "information"
    assert answer.headers["retry-after"] == "1"


async def test_media_types(client: httpx.AsyncClient, planted: Appointment) -> None:
    url = f"/fhir/R4/Appointment/{planted.id}"
    for accept in ("application/fhir+json", "application/json", "*/*", "text/html, */*;q=0.1"):
        fhir(await client.get(url, headers={"Accept": accept}))
    fhir(await client.get(url, params={"_format": "json"}))
    refused = await client.get(url, headers={"Accept": "application/fhir+xml"})
    outcome_of(refused, 406, "not-supported")


async def test_a_large_body_and_a_peer_down_are_outcomes(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    big = b"{" + b" " * settings.max_body_bytes + b"}"
    answer = await client.post("/fhir/R4/Appointment", content=big)
    outcome_of(answer, 413, "too-long")
    world.calendars.down = True
    down = await client.get("/fhir/R4/Schedule/doc-on-call")
    assert down.headers["retry-after"]
    assert "not reachable" in outcome_of(down, 503, "exception")


async def test_rest_keeps_its_problems(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/appointments/not-a-uuid")
    assert answer.headers["content-type"] == "application/problem+json"


def test_issue_codes_are_fhirs() -> None:
    valid = {"invalid", "not-found", "conflict", "forbidden", "login", "throttled"}
    valid |= {"exception", "too-long", "not-supported", "processing"}
    assert set(ISSUE_CODE.values()) <= valid


@pytest.mark.parametrize(
    ("actor", "reason", "code", "text"),
    [
        ("patient:pat-anna-schmidt", "Feeling better", "pat", "Feeling better"),
        ("doctor:doc-on-call", None, "prov", "cancelled"),
        ("staff:frontdesk-1", "Called in", None, "Called in"),
    ],
)
async def test_a_cancellation_says_why_and_who(
    client: httpx.AsyncClient,
    world: World,
    actor: str,
    reason: str | None,
    code: str | None,
    text: str,
) -> None:
    cancelled = await plant_into(
        world.repository.commit,
        patient_id="pat-anna-schmidt",
        doctor_id="doc-on-call",
        start=PLANTED_START,
        status=S.CANCELLED,
        context=EventContext(actor=actor, reason=reason),
    )
    resource = fhir(await client.get(f"/fhir/R4/Appointment/{cancelled.id}"))
    valid_appointment(resource)
    why = resource["cancelationReason"]
    assert why["text"] == text
    assert [c["code"] for c in why.get("coding", [])] == ([code] if code else [])
    bundle = fhir(await client.get("/fhir/R4/Appointment?status=cancelled"))
    assert bundle["entry"][0]["resource"]["cancelationReason"] == why


def test_the_statement_and_the_routes_agree() -> None:
    """Every route of the door is in the CapabilityStatement and every entry is routed:
    whatever a module adds to MODULES (Slot, the operations) is covered as it lands."""
    routed: set[tuple[str, str]] = set()
    routes = [route for module in MODULES for route in module.router.routes]
    for route in routes:
        assert isinstance(route, APIRoute)
        parts = route.path.strip("/").split("/")
        if len(parts) == 1:
            routed.add((parts[0], "search-type"))
        elif parts[1].startswith("$"):
            routed.add((parts[0], parts[1]))
        else:
            routed.add((parts[0], "read"))
    declared: set[tuple[str, str]] = set()
    for capability in capabilities():
        declared |= {(capability.type, i) for i in capability.interactions}
        declared |= {(capability.type, f"${o.name}") for o in capability.operations}
    assert routed == declared
