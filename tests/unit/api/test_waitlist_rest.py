"""The waitlist's REST door (api/routes/waitlist.py), in-process over HTTP on the fakes:
joining, reading, listing and leaving answer the entry as documented; every bad input is
a clear 4xx problem that changes nothing; an offer is accepted into the booked
appointment (201, as a booking answers), declined, or refused as the stored offer says;
and a staff booking of a slot the waitlist holds is a 409 that says until when."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from application.permissions import Role
from config import Settings
from domain.waitlist import EntryStatus, OfferStatus
from tests.fakes import World
from tests.unit.api.conftest import NOW, bearer, problem_type

BASE = "/api/v1/waitlist"
SLOT = datetime(2030, 1, 8, 8, 0, tzinfo=NOW.tzinfo)  # Tuesday 09:00 in Berlin
PATIENT, OTHER = "pat-anna-schmidt", "pat-ben-okafor"


def body(**changes: Any) -> dict[str, Any]:
    return {
        "patient_id": PATIENT,
        "doctor_id": "doc-on-call",
        "earliest_start": "2030-01-08T08:00:00+01:00",
        "latest_start": "2030-01-08T12:00:00+01:00",
        "duration_minutes": 15,
    } | changes


def as_(client: httpx.AsyncClient, settings: Settings, role: Role, subject: str) -> None:
    client.headers["Authorization"] = bearer(settings, role, subject)


async def offered(world: World, patient_id: str = PATIENT, minutes: int = 15) -> tuple[str, str]:
    """An entry of ``patient_id`` holding an open offer of SLOT: (entry id, offer id)."""
    entry = await world.waitlist.plant(
        patient_id=patient_id,
        earliest_start=SLOT - timedelta(hours=1),
        latest_start=SLOT + timedelta(hours=1),
        joined_at=NOW - timedelta(days=1),
    )
    after, offer = await world.waitlist.offer(
        entry, start=SLOT, offered_at=NOW - timedelta(minutes=1), minutes=minutes
    )
    return after.id, offer.id


async def test_joining_answers_201_with_the_entry_and_a_retry_the_same(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = {"Idempotency-Key": "join-1"}
    answer = await client.post(BASE, json=body(priority="urgent"), headers=headers)
    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert entry["status"] == "WAITING"
    assert (entry["priority"], entry["offer"], entry["offers"]) == ("urgent", None, [])
    assert answer.headers["location"] == f"{BASE}/{entry['id']}"
    assert answer.headers["idempotency-key"] == "join-1"
    again = await client.post(BASE, json=body(priority="urgent"), headers=headers)
    assert (again.status_code, again.json()["id"]) == (201, entry["id"])
    read = await client.get(answer.headers["location"])
    assert read.json() == entry
    assert world.waitlist.commits == 1


# (who, body, the status, the problem)
REFUSED: dict[str, tuple[tuple[Role, str], dict[str, Any], int, str]] = {
    "window reversed": ((Role.STAFF, "fd"), body(latest_start="2030-01-08T07:00:00+01:00"),
                        422, "invalid-waitlist-entry"),
    "window passed": ((Role.STAFF, "fd"), body(earliest_start="2030-01-01T08:00:00Z",
                      latest_start="2030-01-02T08:00:00Z"), 422, "invalid-waitlist-entry"),
    "no offset": ((Role.STAFF, "fd"), body(earliest_start="2030-01-08T08:00:00"), 422,
                  "validation-error"),
    "off the grid": ((Role.STAFF, "fd"), body(duration_minutes=17), 422,
                     "invalid-waitlist-entry"),
    "too long": ((Role.STAFF, "fd"), body(duration_minutes=300), 422,
                 "invalid-waitlist-entry"),
    "unknown field": ((Role.STAFF, "fd"), body(slot="any"), 422, "validation-error"),
    "unknown priority": ((Role.STAFF, "fd"), body(priority="vip"), 422, "validation-error"),
    "unknown doctor": ((Role.STAFF, "fd"), body(doctor_id="doc-nobody"), 422,
                       "doctor-not-found"),
    "urgent by a patient": ((Role.PATIENT, PATIENT), body(priority="urgent"), 403,
                            "forbidden"),
    "a patient for another": ((Role.PATIENT, OTHER), body(), 403, "forbidden"),
    "a doctor": ((Role.DOCTOR, "doc-on-call"), body(), 403, "forbidden"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REFUSED))
async def test_a_bad_join_is_a_clear_problem_and_writes_nothing(
    client: httpx.AsyncClient, world: World, settings: Settings, name: str
) -> None:
    (role, subject), sent, status, problem = REFUSED[name]
    as_(client, settings, role, subject)
    answer = await client.post(BASE, json=sent)
    assert problem_type(answer, status) == problem
    assert answer.json().get("detail") or answer.json().get("errors")
    assert world.waitlist.entries == {}


async def test_over_the_limit_is_409_and_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    for _ in range(world.settings.waitlist_max_entries_per_patient):
        assert (await client.post(BASE, json=body())).status_code == 201
    before = dict(world.waitlist.entries)
    answer = await client.post(BASE, json=body())
    assert problem_type(answer, 409) == "waitlist-limit-reached"
    assert world.waitlist.entries == before


async def test_each_caller_lists_and_reads_what_they_may_see(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    mine = (await client.post(BASE, json=body())).json()
    other = (await client.post(BASE, json=body(patient_id=OTHER))).json()
    as_(client, settings, Role.PATIENT, PATIENT)
    listed = (await client.get(BASE)).json()
    assert ([e["id"] for e in listed["items"]], listed["next_cursor"]) == ([mine["id"]], None)
    assert (await client.get(BASE, params={"patient_id": OTHER})).json()["items"] == []
    assert problem_type(await client.get(f"{BASE}/{other['id']}"), 404) == (
        "waitlist-entry-not-found"
    )
    assert problem_type(await client.delete(f"{BASE}/{other['id']}"), 404) == (
        "waitlist-entry-not-found"
    )
    as_(client, settings, Role.DOCTOR, "doc-on-call")
    assert len((await client.get(BASE)).json()["items"]) == 2
    assert problem_type(await client.delete(f"{BASE}/{mine['id']}"), 403) == "forbidden"
    assert {e.status for e in world.waitlist.entries.values()} == {EntryStatus.WAITING}


@pytest.mark.parametrize(
    "query",
    [{"status": "GONE"}, {"limit": "0"}, {"cursor": "nope"}, {"sort": "joined_at"}],
)
async def test_a_bad_list_query_is_422(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    assert problem_type(await client.get(BASE, params=query), 422) == "validation-error"


async def test_a_bad_id_is_422(client: httpx.AsyncClient) -> None:
    assert problem_type(await client.get(f"{BASE}/not-a-uuid"), 422) == "validation-error"
    answer = await client.post(f"{BASE}/offers/not-a-uuid/accept")
    assert problem_type(answer, 422) == "validation-error"


async def test_leaving_answers_the_left_entry_twice(
    client: httpx.AsyncClient, world: World
) -> None:
    entry_id, offer_id = await offered(world)
    left = await client.delete(f"{BASE}/{entry_id}")
    assert left.status_code == 200, left.text
    assert (left.json()["status"], left.json()["offer"]) == ("LEFT", None)
    assert left.json()["offers"][0]["status"] == "WITHDRAWN"
    assert world.rounds.left == [(entry_id, offer_id)]
    again = await client.delete(f"{BASE}/{entry_id}")
    assert (again.status_code, again.json()) == (200, left.json())


async def test_the_entry_shows_its_open_offer(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    entry_id, offer_id = await offered(world)
    as_(client, settings, Role.PATIENT, PATIENT)
    entry = (await client.get(f"{BASE}/{entry_id}")).json()
    assert entry["status"] == "OFFERED"
    assert entry["offer"] == {
        "id": offer_id,
        "start": "2030-01-08T08:00:00Z",
        "end": "2030-01-08T08:15:00Z",
        "expires_at": "2030-01-06T12:14:00Z",
    }


async def test_accepting_answers_the_booked_appointment_and_twice_409(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    entry_id, offer_id = await offered(world)
    as_(client, settings, Role.PATIENT, PATIENT)
    answer = await client.post(f"{BASE}/offers/{offer_id}/accept")
    assert answer.status_code == 201, answer.text
    booked = answer.json()
    assert (booked["patient_id"], booked["start"], booked["status"]) == (
        PATIENT,
        "2030-01-08T08:00:00Z",
        "SCHEDULED",
    )
    assert booked["journey"] is not None
    assert answer.headers["location"] == f"/api/v1/appointments/{booked['id']}"
    entry = (await client.get(f"{BASE}/{entry_id}")).json()
    assert (entry["status"], entry["appointment_id"]) == ("FULFILLED", booked["id"])
    twice = await client.post(f"{BASE}/offers/{offer_id}/accept")
    assert problem_type(twice, 409) == "offer-closed"
    assert booked["id"] in twice.json()["detail"]
    assert len(world.repository.appointments) == 1


async def test_accepting_after_expiry_is_409_and_books_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    _, offer_id = await offered(world, minutes=1)
    answer = await client.post(f"{BASE}/offers/{offer_id}/accept")
    assert problem_type(answer, 409) == "offer-expired"
    assert world.repository.appointments == {}


async def test_someone_elses_offer_is_404_and_a_doctor_may_not_answer(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    _, offer_id = await offered(world)
    as_(client, settings, Role.PATIENT, OTHER)
    for answer in ("accept", "decline"):
        refused = await client.post(f"{BASE}/offers/{offer_id}/{answer}")
        assert problem_type(refused, 404) == "offer-not-found"
    as_(client, settings, Role.DOCTOR, "doc-on-call")
    assert problem_type(await client.post(f"{BASE}/offers/{offer_id}/accept"), 403) == ("forbidden")
    assert world.rounds.accepted == []
    assert world.rounds.declined == []


async def test_declining_answers_the_entry_waiting_again(
    client: httpx.AsyncClient, world: World
) -> None:
    entry_id, offer_id = await offered(world)
    answer = await client.post(f"{BASE}/offers/{offer_id}/decline")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["id"], answer.json()["status"]) == (entry_id, "WAITING")
    assert world.waitlist.entries[entry_id].offers[-1].status is OfferStatus.DECLINED
    assert problem_type(await client.post(f"{BASE}/offers/{offer_id}/decline"), 409) == (
        "offer-closed"
    )


async def test_a_booking_past_the_wait_is_202_pointing_at_the_entry(
    client: httpx.AsyncClient, world: World
) -> None:
    entry_id, offer_id = await offered(world)
    world.rounds.booking = True
    answer = await client.post(
        f"{BASE}/offers/{offer_id}/accept", headers={"Prefer": "respond-async"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"entry_id": entry_id, "offer_id": offer_id, "status": "BOOKING"}
    assert answer.headers["location"] == f"{BASE}/{entry_id}"


async def test_staff_booking_a_slot_the_waitlist_holds_get_409_saying_until_when(
    client: httpx.AsyncClient, world: World
) -> None:
    await offered(world)
    booking = {
        "patient_id": OTHER,
        "doctor_id": "doc-on-call",
        "start": "2030-01-08T09:00:00+01:00",
        "duration_minutes": 15,
    }
    answer = await client.post("/api/v1/appointments", json=booking)
    assert problem_type(answer, 409) == "slot-offered-to-waitlist"
    assert "until 2030-01-08 07:00 UTC" in answer.json()["detail"]
    assert world.sagas.requests == []
