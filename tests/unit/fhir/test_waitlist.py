"""Waitlist entries on the FHIR door (api/fhir/waitlist.py), on the fakes: an active entry
is a valid Appointment ``waitlist`` (R4B, app-2, app-3) read through the waitlist's own
use case (someone else's is 404), searched with ``status=waitlist`` and paged; a left or
fulfilled entry reads 410 ``deleted``; ``waitlist`` mixed with other statuses, or with
``date``, is a 400 ``invalid``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle as R4BBundle

from api.fhir.mapping import WAITLIST, ours, statuses_of
from application.permissions import Role
from config import Settings
from domain import waitlist
from domain.waitlist import LeftBecause, OfferStatus, Priority, WaitlistEntry
from tests.fakes import World
from tests.unit.api.conftest import NOW, PLANTED_START, bearer
from tests.unit.fhir.test_door import fhir, outcome_of, valid_appointment

PATIENT, OTHER = "pat-anna-schmidt", "pat-ben-okafor"
BASE = "/fhir/R4/Appointment"


async def entry_of(
    world: World,
    patient_id: str = PATIENT,
    joined: int = 1,
    priority: Priority = Priority.ROUTINE,
) -> WaitlistEntry:
    """A WAITING entry of ``patient_id`` for Tuesday morning, joined ``joined`` hours ago."""
    return await world.waitlist.plant(
        patient_id=patient_id,
        earliest_start=PLANTED_START,
        latest_start=PLANTED_START + timedelta(hours=3),
        duration_minutes=30,
        priority=priority,
        joined_at=NOW - timedelta(hours=joined),
    )


def as_patient(settings: Settings, subject: str = PATIENT) -> dict[str, str]:
    return {"Authorization": bearer(settings, Role.PATIENT, subject)}


async def test_an_entry_reads_as_a_valid_waitlist_appointment(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    entry = await entry_of(world, priority=Priority.URGENT)
    answer = await client.get(f"{BASE}/waitlist-{entry.id}", headers=as_patient(settings))
    resource = fhir(answer)
    valid_appointment(resource)
    assert resource["id"] == f"waitlist-{entry.id}"
    assert resource["status"] == "waitlist"
    assert "start" not in resource
    assert "end" not in resource
    assert resource["requestedPeriod"] == [
        {"start": "2030-01-08T08:00:00Z", "end": "2030-01-08T11:00:00Z"}
    ]
    assert resource["minutesDuration"] == 30
    assert resource["priority"] == 1
    assert resource["created"] == "2030-01-06T11:00:00Z"
    assert resource["meta"]["versionId"] == str(entry.version)
    assert answer.headers["etag"] == f'W/"{entry.version}"'
    people = [(p["actor"]["reference"], p["status"]) for p in resource["participant"]]
    assert people == [
        (f"Patient/{PATIENT}", "needs-action"),
        ("Practitioner/doc-on-call", "needs-action"),
    ]
    assert "comment" not in resource
    # ``waitlist`` is an entry, none of our appointments' statuses: the table maps it to
    # None, and a search by it selects no appointment
    assert ours(resource["status"]) is None
    assert statuses_of(WAITLIST) == frozenset()


async def test_an_open_offer_is_the_comment_and_routine_is_less_urgent(
    client: httpx.AsyncClient, world: World
) -> None:
    entry = await entry_of(world)
    offered, offer = await world.waitlist.offer(
        entry, start=PLANTED_START, offered_at=NOW - timedelta(minutes=1)
    )
    resource = fhir(await client.get(f"{BASE}/waitlist-{entry.id}"))
    valid_appointment(resource)
    assert resource["comment"] == "offered 2030-01-08T08:00:00Z until 2030-01-06T12:14:00Z"
    assert resource["priority"] == 5
    assert resource["meta"]["versionId"] == str(offered.version) != str(entry.version)
    assert offer.status is OfferStatus.OPEN


async def test_another_patients_entry_is_404_like_rest(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    entry = await entry_of(world, patient_id=OTHER)
    url = f"{BASE}/waitlist-{entry.id}"
    outcome_of(await client.get(url, headers=as_patient(settings)), 404, "not-found")
    rest = await client.get(f"/api/v1/waitlist/{entry.id}", headers=as_patient(settings))
    assert rest.status_code == 404
    # and their search for the other patient selects nothing
    mine = await client.get(f"{BASE}?status=waitlist&patient={OTHER}", headers=as_patient(settings))
    assert fhir(mine)["total"] == 0
    outcome_of(await client.get(f"{BASE}/waitlist-not-a-uuid"), 422, "invalid")


async def test_a_left_entry_reads_410_deleted_and_leaves_the_search(
    client: httpx.AsyncClient, world: World
) -> None:
    entry = await entry_of(world)
    await world.waitlist.commit(
        waitlist.leave(entry, LeftBecause.ASKED, NOW, f"{entry.id}/left", "staff:frontdesk-1")
    )
    words = outcome_of(await client.get(f"{BASE}/waitlist-{entry.id}"), 410, "deleted")
    assert words == f"waitlist entry {entry.id} is no longer waiting: left the waitlist (asked)"
    assert fhir(await client.get(f"{BASE}?status=waitlist"))["total"] == 0


async def test_a_fulfilled_entry_reads_410_naming_its_appointment(
    client: httpx.AsyncClient, world: World
) -> None:
    entry = await entry_of(world)
    fulfilled, _ = await world.waitlist.offer(
        entry, start=PLANTED_START, offered_at=NOW, status=OfferStatus.ACCEPTED
    )
    words = outcome_of(await client.get(f"{BASE}/waitlist-{entry.id}"), 410, "deleted")
    assert words.endswith(f"was fulfilled: booked as Appointment/{fulfilled.appointment_id}")


async def test_search_by_status_waitlist_pages_with_a_total(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    planted = [await entry_of(world, joined=hours) for hours in (3, 2, 1)]
    await entry_of(world, patient_id=OTHER)
    await world.repository.plant(start=PLANTED_START)  # an appointment: not in this search
    url = f"{BASE}?status=waitlist&patient=Patient/{PATIENT}&practitioner=doc-on-call&_count=2"
    bundle = fhir(await client.get(url, headers=as_patient(settings)))
    R4BBundle.model_validate(bundle)
    assert bundle["total"] == 3
    for entry in bundle["entry"]:
        valid_appointment(entry["resource"])
        assert entry["fullUrl"].endswith(f"/fhir/R4/Appointment/{entry['resource']['id']}")
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    second = fhir(await client.get(links["next"], headers=as_patient(settings)))
    assert second["total"] == 3
    assert "next" not in {link["relation"] for link in second["link"]}
    ids = [e["resource"]["id"] for e in bundle["entry"] + second["entry"]]
    assert ids == [f"waitlist-{e.id}" for e in planted]
    # staff see every patient's; a patient's search without a patient is their own
    assert fhir(await client.get(f"{BASE}?status=waitlist"))["total"] == 4
    own = await client.get(f"{BASE}?status=waitlist", headers=as_patient(settings))
    assert fhir(own)["total"] == 3
    # an appointment search leaves the entries out, as before
    assert fhir(await client.get(f"{BASE}?patient={PATIENT}"))["total"] == 1


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=waitlist,booked", "waitlist cannot be searched together with booked"),
        ("status=waitlist&status=cancelled", "waitlist cannot be searched together with cancelled"),
        ("status=waitlist&date=ge2030-01-08", "a waitlist entry has no start"),
        ("status=waitlist&_cursor=not-ours", ""),
    ],
)
async def test_mixed_statuses_and_a_date_are_refused(
    client: httpx.AsyncClient, world: World, query: str, words: str
) -> None:
    await entry_of(world)
    answer = await client.get(f"{BASE}?{query}")
    assert words in outcome_of(answer, 400, "invalid")


async def test_the_total_counts_every_page_the_caller_may_see(
    client: httpx.AsyncClient, world: World
) -> None:
    for hours in (3, 2, 1):
        await entry_of(world, joined=hours)
    bundle = fhir(await client.get(f"{BASE}?status=waitlist&_count=1"))
    R4BBundle.model_validate(bundle)
    assert bundle["total"] == 3
    assert len(bundle["entry"]) == 1


async def test_the_statement_documents_waitlist(client: httpx.AsyncClient) -> None:
    statement = fhir(await client.get("/fhir/R4/metadata", headers={"Authorization": ""}))
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    params: dict[str, Any] = {p["name"]: p for p in resources["Appointment"]["searchParam"]}
    assert "waitlist" in params["status"]["documentation"]
