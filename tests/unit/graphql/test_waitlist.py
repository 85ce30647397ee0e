"""The waitlist over GraphQL (api/graphql/waitlist.py) on the fakes: the same use cases as
REST, so the same rules and the same errors, shaped as GraphQL errors with the problem's
fields; every bad input is refused and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.graphql.context import GraphQLContext
from application.permissions import Principal, Role
from config import Settings
from domain.waitlist import EntryStatus, OfferStatus
from tests.fakes import World
from tests.unit.graphql.conftest import execute

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)
SLOT = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
PATIENT, OTHER = "pat-anna-schmidt", "pat-ben-okafor"

ENTRY_FIELDS = "id patientId status priority offer { id expiresAt } offers { id status }"
JOIN = f"""mutation ($input: JoinWaitlistInput!, $key: String!) {{
  joinWaitlist(input: $input, idempotencyKey: $key) {{ {ENTRY_FIELDS} }}
}}"""
LIST = f"""query ($patientId: ID, $first: Int, $after: String) {{
  waitlist(patientId: $patientId, first: $first, after: $after) {{
    items {{ {ENTRY_FIELDS} }} nextCursor
  }}
}}"""
READ = f"query ($id: ID!) {{ waitlistEntry(id: $id) {{ {ENTRY_FIELDS} }} }}"
LEAVE = f"mutation ($id: ID!) {{ leaveWaitlist(id: $id) {{ {ENTRY_FIELDS} }} }}"
ACCEPT = """mutation ($offerId: ID!) {
  acceptOffer(offerId: $offerId) {
    offerId entryId pending appointment { id patientId start status }
  }
}"""
DECLINE = f"mutation ($offerId: ID!) {{ declineOffer(offerId: $offerId) {{ {ENTRY_FIELDS} }} }}"


@pytest.fixture
def world(settings: Settings) -> World:
    return World(settings=settings, now=NOW)


def asking(world: World, role: str = "staff", subject: str = "frontdesk-1") -> GraphQLContext:
    return GraphQLContext(
        principal=Principal(subject=subject, role=Role(role)),
        settings=world.settings,
        request_id="req-waitlist-1",
        wait_seconds=5.0,
        services=world.services,
    )


def entry_input(**changes: Any) -> dict[str, Any]:
    return {
        "patientId": PATIENT,
        "doctorId": "doc-on-call",
        "earliestStart": "2030-01-08T08:00:00+01:00",
        "latestStart": "2030-01-08T12:00:00+01:00",
        "durationMinutes": 15,
    } | changes


def refused(result: Any) -> tuple[int, str]:
    """The one error's status and problem type (its last segment); no data."""
    assert result.errors is not None
    [error] = result.errors
    extensions = error.extensions
    assert extensions is not None
    assert error.message
    assert result.data is None or all(v is None for v in result.data.values())
    return extensions["status"], extensions["type"].rsplit("/", 1)[-1]


async def offered(world: World, patient_id: str = PATIENT, minutes: int = 15) -> tuple[str, str]:
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


async def test_a_patient_joins_and_a_retry_answers_the_same_entry(world: World) -> None:
    context = asking(world, "patient", PATIENT)
    variables = {"input": entry_input(), "key": "join-1"}
    first = await execute(context, JOIN, variables)
    assert first.errors is None, first.errors
    entry = first.data["joinWaitlist"]
    assert (entry["patientId"], entry["status"], entry["priority"]) == (
        PATIENT,
        "WAITING",
        "ROUTINE",
    )
    again = await execute(context, JOIN, variables)
    assert again.data["joinWaitlist"] == entry
    read = await execute(context, READ, {"id": entry["id"]})
    assert read.data["waitlistEntry"] == entry
    assert world.waitlist.commits == 1


# (who, input, status, problem)
REFUSED: dict[str, tuple[tuple[str, str], dict[str, Any], int, str]] = {
    "window reversed": (("staff", "fd"), entry_input(latestStart="2030-01-08T07:00:00+01:00"),
                        422, "invalid-waitlist-entry"),
    "no offset": (("staff", "fd"), entry_input(earliestStart="2030-01-08T08:00:00"), 422,
                  "validation-error"),
    "too long": (("staff", "fd"), entry_input(durationMinutes=600), 422, "validation-error"),
    "urgent by a patient": (("patient", PATIENT), entry_input(priority="URGENT"), 403,
                            "forbidden"),
    "a doctor": (("doctor", "doc-on-call"), entry_input(), 403, "forbidden"),
    "unknown doctor": (("staff", "fd"), entry_input(doctorId="doc-nobody"), 422,
                       "doctor-not-found"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REFUSED))
async def test_a_bad_join_is_refused_and_writes_nothing(world: World, name: str) -> None:
    (role, subject), sent, status, problem = REFUSED[name]
    result = await execute(asking(world, role, subject), JOIN, {"input": sent, "key": "k-1"})
    assert refused(result) == (status, problem)
    assert world.waitlist.entries == {}


async def test_over_the_limit_is_a_conflict(world: World) -> None:
    context = asking(world)
    for n in range(world.settings.waitlist_max_entries_per_patient):
        ok = await execute(context, JOIN, {"input": entry_input(), "key": f"k-{n}"})
        assert ok.errors is None, ok.errors
    result = await execute(context, JOIN, {"input": entry_input(), "key": "one-more"})
    assert refused(result) == (409, "waitlist-limit-reached")
    assert result.errors[0].extensions["code"] == "CONFLICT"
    assert len(world.waitlist.entries) == world.settings.waitlist_max_entries_per_patient


async def test_each_sees_their_own_and_someone_elses_entry_is_not_found(world: World) -> None:
    staff = asking(world)
    mine = await execute(staff, JOIN, {"input": entry_input(), "key": "a"})
    other = await execute(staff, JOIN, {"input": entry_input(patientId=OTHER), "key": "b"})
    patient = asking(world, "patient", PATIENT)
    listed = await execute(patient, LIST, {})
    assert [e["id"] for e in listed.data["waitlist"]["items"]] == [mine.data["joinWaitlist"]["id"]]
    assert (await execute(patient, LIST, {"patientId": OTHER})).data["waitlist"]["items"] == []
    other_id = other.data["joinWaitlist"]["id"]
    assert refused(await execute(patient, READ, {"id": other_id})) == (
        404,
        "waitlist-entry-not-found",
    )
    assert refused(await execute(patient, LEAVE, {"id": other_id})) == (
        404,
        "waitlist-entry-not-found",
    )
    assert refused(await execute(patient, LIST, {"first": 500})) == (422, "validation-error")
    assert {e.status for e in world.waitlist.entries.values()} == {EntryStatus.WAITING}


async def test_the_list_pages(world: World) -> None:
    staff = asking(world)
    for n in range(3):
        await execute(staff, JOIN, {"input": entry_input(patientId=f"pat-{n}"), "key": f"k{n}"})
    first = (await execute(staff, LIST, {"first": 2})).data["waitlist"]
    rest = (await execute(staff, LIST, {"first": 2, "after": first["nextCursor"]})).data
    assert len(first["items"]) == 2
    assert (len(rest["waitlist"]["items"]), rest["waitlist"]["nextCursor"]) == (1, None)


async def test_leaving_withdraws_the_offer(world: World) -> None:
    entry_id, offer_id = await offered(world)
    result = await execute(asking(world, "patient", PATIENT), LEAVE, {"id": entry_id})
    left = result.data["leaveWaitlist"]
    assert (left["status"], left["offer"], left["offers"]) == (
        "LEFT",
        None,
        [{"id": offer_id, "status": "WITHDRAWN"}],
    )
    assert world.rounds.left == [(entry_id, offer_id)]


async def test_accepting_answers_the_booked_appointment_and_twice_a_conflict(
    world: World,
) -> None:
    _, offer_id = await offered(world)
    patient = asking(world, "patient", PATIENT)
    result = await execute(patient, ACCEPT, {"offerId": offer_id})
    assert result.errors is None, result.errors
    answer = result.data["acceptOffer"]
    assert (answer["offerId"], answer["pending"]) == (offer_id, False)
    booked = answer["appointment"]
    assert (booked["patientId"], booked["start"], booked["status"]) == (
        PATIENT,
        "2030-01-08T08:00:00+00:00",
        "SCHEDULED",
    )
    twice = await execute(patient, ACCEPT, {"offerId": offer_id})
    assert refused(twice) == (409, "offer-closed")
    assert booked["id"] in twice.errors[0].message
    assert len(world.repository.appointments) == 1


async def test_an_expired_or_someone_elses_offer_is_refused_and_books_nothing(
    world: World,
) -> None:
    _, offer_id = await offered(world, minutes=1)
    expired = await execute(asking(world, "patient", PATIENT), ACCEPT, {"offerId": offer_id})
    assert refused(expired) == (409, "offer-expired")
    _, others = await offered(world, patient_id=OTHER)
    not_mine = await execute(asking(world, "patient", PATIENT), ACCEPT, {"offerId": others})
    assert refused(not_mine) == (404, "offer-not-found")
    declined = await execute(asking(world, "patient", PATIENT), DECLINE, {"offerId": others})
    assert refused(declined) == (404, "offer-not-found")
    doctor = await execute(asking(world, "doctor", "doc-on-call"), ACCEPT, {"offerId": others})
    assert refused(doctor) == (403, "forbidden")
    bad_id = await execute(asking(world), ACCEPT, {"offerId": "not-a-uuid"})
    assert refused(bad_id) == (422, "validation-error")
    assert world.repository.appointments == {}
    assert world.rounds.accepted == []


async def test_declining_lets_the_entry_wait_again(world: World) -> None:
    entry_id, offer_id = await offered(world)
    result = await execute(asking(world, "patient", PATIENT), DECLINE, {"offerId": offer_id})
    entry = result.data["declineOffer"]
    assert (entry["id"], entry["status"], entry["offers"][0]["status"]) == (
        entry_id,
        "WAITING",
        "DECLINED",
    )
    assert world.waitlist.entries[entry_id].offers[-1].status is OfferStatus.DECLINED


async def test_a_booking_past_the_wait_answers_pending(world: World) -> None:
    entry_id, offer_id = await offered(world)
    world.rounds.booking = True
    result = await execute(asking(world), ACCEPT, {"offerId": offer_id})
    assert result.data["acceptOffer"] == {
        "offerId": offer_id,
        "entryId": entry_id,
        "pending": True,
        "appointment": None,
    }


async def test_one_accept_per_operation(world: World) -> None:
    _, offer_id = await offered(world)
    document = (
        "mutation ($o: ID!) { a: acceptOffer(offerId: $o) { pending } "
        "b: acceptOffer(offerId: $o) { pending } }"
    )
    result = await execute(asking(world), document, {"o": offer_id})
    assert refused(result) == (400, "too-many-sagas")
    assert world.rounds.accepted == []
