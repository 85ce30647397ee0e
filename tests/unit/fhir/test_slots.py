"""Slot search on the FHIR door, on the fakes: free, busy and busy-tentative slots of one
doctor in a window, in the doctor's time zone, paged; every Slot and Bundle validates with
fhir.resources (R4B); every bad search is a 400 OperationOutcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle as R4BBundle
from fhir.resources.R4B.slot import Slot as R4BSlot

from api.fhir.mapping import parse_slot_id
from domain.model import Appointment
from tests.fakes import World
from tests.unit.fhir.test_door import fhir, outcome_of

# Tuesday 2030-01-08 in Berlin (+01:00): the on-call doctor works 07:00-21:00 on a 15-minute grid
DAY = "ge2030-01-08T09:00:00%2B01:00&start=lt2030-01-08T10:00:00%2B01:00"
NINE = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


def slots(document: dict[str, Any]) -> list[dict[str, Any]]:
    R4BBundle.model_validate(document)
    assert document["type"] == "searchset"
    found = [entry["resource"] for entry in document.get("entry", [])]
    for slot in found:
        R4BSlot.model_validate(slot)
    return found


async def search(client: httpx.AsyncClient, query: str, status: int = 200) -> dict[str, Any]:
    return fhir(await client.get(f"/fhir/R4/Slot?{query}"), status)


async def test_free_slots_of_a_window_in_the_doctors_zone_with_offsets_and_ids(
    client: httpx.AsyncClient,
) -> None:
    document = await search(client, f"schedule=Schedule/doc-on-call&status=free&start={DAY}")
    found = slots(document)
    assert document["total"] == 4
    assert [s["start"] for s in found] == [
        "2030-01-08T09:00:00+01:00",
        "2030-01-08T09:15:00+01:00",
        "2030-01-08T09:30:00+01:00",
        "2030-01-08T09:45:00+01:00",
    ]
    first = found[0]
    assert first["end"] == "2030-01-08T09:15:00+01:00"
    assert first["status"] == "free"
    assert first["schedule"] == {"reference": "Schedule/doc-on-call"}
    assert parse_slot_id(first["id"]) == ("doc-on-call", NINE, 15)


async def test_busy_and_held_slots_show_as_busy_and_busy_tentative(
    client: httpx.AsyncClient, world: World
) -> None:
    booked = await world.repository.plant(start=NINE, duration_minutes=30)
    world.view.add(booked)
    await world.desk.hold("doc-on-call", NINE + timedelta(minutes=45), 15, "pat-1", 300, "k")
    query = f"schedule.actor=Practitioner/doc-on-call&start={DAY}"
    found = slots(await search(client, query))
    assert [(s["start"][11:16], s["status"]) for s in found] == [
        ("09:00", "busy"),
        ("09:30", "free"),
        ("09:45", "busy-tentative"),  # held: not free, though the read view knows no hold
    ]
    assert parse_slot_id(found[0]["id"]) == ("doc-on-call", NINE, 30)
    both = await search(client, f"schedule=doc-on-call&status=busy,busy-tentative&start={DAY}")
    assert [s["status"] for s in slots(both)] == ["busy", "busy-tentative"]


async def test_count_pages_with_a_next_link_that_continues(client: httpx.AsyncClient) -> None:
    document = await search(client, f"schedule=doc-on-call&status=free&start={DAY}&_count=3")
    assert document["total"] == 4
    assert len(slots(document)) == 3
    (next_url,) = [link["url"] for link in document["link"] if link["relation"] == "next"]
    rest = fhir(await client.get(next_url))
    assert [s["start"][11:16] for s in slots(rest)] == ["09:45"]
    assert not [link for link in rest["link"] if link["relation"] == "next"]


async def test_bad_searches_are_operation_outcomes(client: httpx.AsyncClient, world: World) -> None:
    bad = {
        "schedule=doc-on-call&start=ge2030-01-08": "unbounded",
        "schedule=doc-on-call": "unbounded",
        "schedule=doc-on-call&start=ab2030-01-08&start=lt2030-01-09": "prefix",
        f"start={DAY}": "name one doctor",
        f"schedule=doc-on-call&schedule.actor=Practitioner/other&start={DAY}": "different",
        f"schedule=Patient/doc-on-call&start={DAY}": "Schedule reference",
        f"schedule=doc-on-call&status=booked&start={DAY}": "none of",
        "schedule=doc-on-call&start=ge2030-01-01&start=lt2030-06-01": "at most",
        f"schedule=doc-on-call&start={DAY}&colour=red": "unknown search parameter",
    }
    for query, words in bad.items():
        diagnostics = outcome_of(await client.get(f"/fhir/R4/Slot?{query}"), 400, "invalid")
        assert words in diagnostics, (query, diagnostics)
    unknown = await client.get(f"/fhir/R4/Slot?schedule=nobody&start={DAY}")
    outcome_of(unknown, 404, "not-found")
    assert world.desk.holds == {}


async def test_the_slot_id_of_a_booked_appointment_names_its_busy_slot(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    world.view.add(planted)
    day = planted.start.astimezone(UTC).date()
    window = f"start=ge{day}&start=lt{day + timedelta(days=1)}"
    query = f"schedule=doc-on-call&status=busy&{window}"
    (slot,) = slots(await search(client, query))
    assert parse_slot_id(slot["id"]) == (planted.doctor_id, planted.start, planted.duration_minutes)
