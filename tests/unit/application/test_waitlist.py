"""The waitlist's use cases (application/waitlist.py) on the fakes: who may join, read,
leave and answer an offer; the window's and the cap's rules; idempotent joins and leaves;
the answers the stored offer gives without asking the round; and the 409 a booking or a
move into a slot the waitlist holds gets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from application.commands import JoinWaitlist, ListWaitlist, NewTime, NewWaitlistEntry, Reschedule
from application.errors import IdempotencyKeyReused
from application.permissions import Forbidden, Role
from application.waitlist import OfferBooking, entry_id_for
from domain.errors import DoctorNotFound
from domain.model import Appointment
from domain.status import AppointmentStatus
from domain.waitlist import (
    EntryNotActive,
    EntryStatus,
    InvalidWaitlistEntry,
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    OfferStatus,
    SlotOfferedToWaitlist,
    WaitlistEntry,
    WaitlistEntryNotFound,
    WaitlistFull,
)
from tests.fakes import World
from tests.unit.application.support import (
    ADMIN,
    DOCTOR,
    LATER,
    NOW,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
    asking,
    booking,
    key,
)

THE_OTHER_PATIENT = asking(Role.PATIENT, OTHER_PATIENT)


def joining(
    *,
    patient_id: str = PATIENT,
    doctor_id: str = DOCTOR,
    earliest: datetime = LATER,
    latest: datetime | None = None,
    duration_minutes: int = 15,
    priority: str = "routine",
    idempotency_key: str | None = None,
) -> JoinWaitlist:
    entry = NewWaitlistEntry(
        patient_id=patient_id,
        doctor_id=doctor_id,
        earliest_start=earliest,
        latest_start=latest or earliest + timedelta(hours=8),
        duration_minutes=duration_minutes,
        priority=priority,  # type: ignore[arg-type]
    )
    return JoinWaitlist(entry=entry, idempotency_key=idempotency_key or key("join"))


async def offered(world: World, patient_id: str = PATIENT, minutes: int = 15) -> tuple[str, str]:
    """An entry of ``patient_id`` holding an open offer of LATER: (entry id, offer id)."""
    entry = await world.waitlist.plant(
        patient_id=patient_id,
        earliest_start=LATER - timedelta(hours=1),
        latest_start=LATER + timedelta(hours=1),
        joined_at=NOW - timedelta(days=1),
    )
    after, offer = await world.waitlist.offer(
        entry, start=LATER, offered_at=NOW - timedelta(minutes=1), minutes=minutes
    )
    return after.id, offer.id


# --- join -----------------------------------------------------------------------------------


async def test_a_patient_joins_for_themself_and_a_retry_answers_the_same_entry(
    world: World,
) -> None:
    command = joining()
    entry = await world.services.waitlist.join(command, THE_PATIENT)
    assert (entry.status, entry.version, entry.patient_id) == (EntryStatus.WAITING, 1, PATIENT)
    assert entry.id == entry_id_for(THE_PATIENT.principal.actor, command.idempotency_key)
    assert entry.timezone == "Europe/Berlin"
    again = await world.services.waitlist.join(command, THE_PATIENT)
    assert again == entry
    assert world.waitlist.commits == 1


async def test_a_key_reused_with_another_entry_is_refused(world: World) -> None:
    first = joining()
    await world.services.waitlist.join(first, STAFF)
    other = joining(duration_minutes=30, idempotency_key=first.idempotency_key)
    with pytest.raises(IdempotencyKeyReused):
        await world.services.waitlist.join(other, STAFF)
    assert world.waitlist.commits == 1


async def test_the_same_key_of_two_callers_makes_two_entries(world: World) -> None:
    command = joining()
    mine = await world.services.waitlist.join(command, THE_PATIENT)
    staffs = await world.services.waitlist.join(command, STAFF)
    assert mine.id != staffs.id


@pytest.mark.parametrize("who", [STAFF, ADMIN])
async def test_staff_and_admin_join_anyone_also_as_urgent(world: World, who: object) -> None:
    entry = await world.services.waitlist.join(
        joining(patient_id=OTHER_PATIENT, priority="urgent"),
        who,  # type: ignore[arg-type]
    )
    assert (entry.patient_id, entry.priority.value) == (OTHER_PATIENT, "urgent")


@pytest.mark.parametrize(
    ("who", "command"),
    [
        (THE_DOCTOR, joining()),
        (THE_PATIENT, joining(patient_id=OTHER_PATIENT)),
        (THE_PATIENT, joining(priority="urgent")),
    ],
    ids=["a doctor", "a patient for another", "a patient as urgent"],
)
async def test_who_may_not_join_is_refused_and_nothing_is_written(
    world: World, who: object, command: JoinWaitlist
) -> None:
    with pytest.raises(Forbidden):
        await world.services.waitlist.join(command, who)  # type: ignore[arg-type]
    assert world.waitlist.entries == {}


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (joining(earliest=LATER, latest=LATER - timedelta(minutes=5)), "earliest_start"),
        (joining(earliest=NOW - timedelta(days=2), latest=NOW), "latest_start"),
        (joining(earliest=NOW + timedelta(days=400)), "within 365 days"),
        (joining(duration_minutes=5), "between 10 and 120"),
        (joining(duration_minutes=125), "between 10 and 120"),
        (joining(duration_minutes=17), "multiple of 5"),
    ],
    ids=["earliest after latest", "window passed", "too far", "short", "long", "off grid"],
)
async def test_a_window_or_length_no_entry_may_have_is_refused(
    world: World, command: JoinWaitlist, words: str
) -> None:
    with pytest.raises(InvalidWaitlistEntry, match=words):
        await world.services.waitlist.join(command, STAFF)
    assert world.waitlist.entries == {}


def test_a_time_without_an_offset_is_refused_by_the_command() -> None:
    with pytest.raises(ValueError, match="offset"):
        NewWaitlistEntry(
            patient_id=PATIENT,
            doctor_id=DOCTOR,
            earliest_start="2030-01-08T09:00:00",  # type: ignore[arg-type]
            latest_start="2030-01-08T12:00:00+01:00",  # type: ignore[arg-type]
            duration_minutes=15,
        )


async def test_an_unknown_doctor_is_refused(world: World) -> None:
    with pytest.raises(DoctorNotFound):
        await world.services.waitlist.join(joining(doctor_id="doc-nobody"), STAFF)
    assert world.waitlist.entries == {}


async def test_a_patient_holds_at_most_the_configured_active_entries(world: World) -> None:
    cap = world.settings.waitlist_max_entries_per_patient
    made = [await world.services.waitlist.join(joining(), THE_PATIENT) for _ in range(cap)]
    with pytest.raises(WaitlistFull, match=f"{cap} times"):
        await world.services.waitlist.join(joining(), STAFF)
    assert len(world.waitlist.entries) == cap
    # A left entry no longer counts; a retry of a key that made one still answers it.
    await world.services.waitlist.leave(made[0].id, THE_PATIENT)
    await world.services.waitlist.join(joining(), THE_PATIENT)


# --- list and read ---------------------------------------------------------------------------


async def _three(world: World) -> list[WaitlistEntry]:
    return [
        await world.services.waitlist.join(joining(), THE_PATIENT),
        await world.services.waitlist.join(joining(patient_id=OTHER_PATIENT), STAFF),
        await world.services.waitlist.join(
            joining(patient_id=OTHER_PATIENT, doctor_id=OTHER_DOCTOR), STAFF
        ),
    ]


async def test_each_caller_lists_what_they_may_see(world: World) -> None:
    world.calendars.calendars[OTHER_DOCTOR] = world.calendars.calendars[DOCTOR]
    mine, others, other_doctors = await _three(world)
    listing = world.services.waitlist.list
    assert (await listing(ListWaitlist(), THE_PATIENT)).items == [mine]
    assert (await listing(ListWaitlist(patient_id=OTHER_PATIENT), THE_PATIENT)).items == []
    # Joined at the same instant: ordered by id.
    by_id = sorted([mine, others], key=lambda e: e.id)
    assert (await listing(ListWaitlist(), THE_DOCTOR)).items == by_id
    assert len((await listing(ListWaitlist(), STAFF)).items) == 3
    assert (await listing(ListWaitlist(doctor_id=OTHER_DOCTOR), STAFF)).items == [other_doctors]
    assert (await listing(ListWaitlist(status=["LEFT"]), STAFF)).items == []


async def test_the_list_pages_by_cursor(world: World) -> None:
    world.calendars.calendars[OTHER_DOCTOR] = world.calendars.calendars[DOCTOR]
    made = await _three(world)
    first = await world.services.waitlist.list(ListWaitlist(limit=2), STAFF)
    assert first.next_cursor is not None
    rest = await world.services.waitlist.list(
        ListWaitlist(limit=2, cursor=first.next_cursor), STAFF
    )
    assert rest.next_cursor is None
    assert {e.id for e in first.items + rest.items} == {e.id for e in made}


async def test_someone_elses_entry_reads_as_missing(world: World) -> None:
    entry = await world.services.waitlist.join(joining(patient_id=OTHER_PATIENT), STAFF)
    assert await world.services.waitlist.read(entry.id, THE_DOCTOR) == entry
    with pytest.raises(WaitlistEntryNotFound) as someone_elses:
        await world.services.waitlist.read(entry.id, THE_PATIENT)
    with pytest.raises(WaitlistEntryNotFound) as missing:
        await world.services.waitlist.read("6f1d2c3b-0000-4000-8000-000000000000", THE_PATIENT)
    assert someone_elses.value.detail.split()[:3] == missing.value.detail.split()[:3]


# --- leave ---------------------------------------------------------------------------------


async def test_leaving_withdraws_the_open_offer_tells_the_round_and_is_idempotent(
    world: World,
) -> None:
    entry_id, offer_id = await offered(world)
    left = await world.services.waitlist.leave(entry_id, THE_PATIENT)
    assert left.status is EntryStatus.LEFT
    assert left.offers[-1].status is OfferStatus.WITHDRAWN
    assert world.rounds.left == [(entry_id, offer_id)]
    again = await world.services.waitlist.leave(entry_id, STAFF)
    assert again == left
    assert world.rounds.left == [(entry_id, offer_id)]


async def test_who_may_not_leave(world: World) -> None:
    entry = await world.services.waitlist.join(joining(), STAFF)
    with pytest.raises(Forbidden):
        await world.services.waitlist.leave(entry.id, THE_DOCTOR)
    with pytest.raises(WaitlistEntryNotFound):
        await world.services.waitlist.leave(entry.id, THE_OTHER_PATIENT)
    assert (await world.services.waitlist.read(entry.id, STAFF)).status is EntryStatus.WAITING


async def test_a_fulfilled_entry_cannot_leave(world: World) -> None:
    entry_id, offer_id = await offered(world)
    await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)
    with pytest.raises(EntryNotActive):
        await world.services.waitlist.leave(entry_id, THE_PATIENT)


# --- accept and decline --------------------------------------------------------------------


async def test_accepting_books_the_offered_slot_for_the_entrys_patient(world: World) -> None:
    entry_id, offer_id = await offered(world)
    booked = await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)
    assert isinstance(booked, Appointment)
    assert (booked.patient_id, booked.start, booked.status) == (
        PATIENT,
        LATER,
        AppointmentStatus.SCHEDULED,
    )
    entry = await world.services.waitlist.read(entry_id, THE_PATIENT)
    assert (entry.status, entry.appointment_id) == (EntryStatus.FULFILLED, booked.id)
    [accept] = world.rounds.accepted
    assert (accept.patient_id, accept.caller.actor) == (PATIENT, f"patient:{PATIENT}")


async def test_staff_accept_on_the_patients_behalf(world: World) -> None:
    _, offer_id = await offered(world)
    booked = await world.services.waitlist.accept(offer_id, STAFF, 5.0)
    assert isinstance(booked, Appointment)
    assert booked.patient_id == PATIENT


async def test_accepting_twice_is_refused_naming_the_booking(world: World) -> None:
    _, offer_id = await offered(world)
    booked = await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)
    assert isinstance(booked, Appointment)
    with pytest.raises(OfferClosed, match=f"already accepted: appointment {booked.id}"):
        await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)
    assert len(world.repository.appointments) == 1


async def test_an_offer_past_its_expiry_is_refused_without_asking_the_round(
    world: World,
) -> None:
    _, offer_id = await offered(world, minutes=1)
    with pytest.raises(OfferExpired):
        await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)
    assert world.rounds.accepted == []
    assert world.repository.appointments == {}


@pytest.mark.parametrize(
    ("status", "refusal", "words"),
    [
        (OfferStatus.EXPIRED, OfferExpired, "expired"),
        (OfferStatus.DECLINED, OfferClosed, "declined"),
    ],
)
async def test_a_closed_offer_answers_why(
    world: World, status: OfferStatus, refusal: type[Exception], words: str
) -> None:
    entry = await world.waitlist.plant(
        earliest_start=LATER, latest_start=LATER, joined_at=NOW - timedelta(days=1)
    )
    _, offer = await world.waitlist.offer(
        entry, start=LATER, offered_at=NOW - timedelta(minutes=20), status=status
    )
    with pytest.raises(refusal, match=words):
        await world.services.waitlist.decline(offer.id, THE_PATIENT)
    with pytest.raises(refusal, match=words):
        await world.services.waitlist.accept(offer.id, THE_PATIENT, 5.0)


async def test_someone_elses_offer_reads_as_missing_and_a_doctor_may_not_answer(
    world: World,
) -> None:
    _, offer_id = await offered(world)
    with pytest.raises(OfferNotFound):
        await world.services.waitlist.accept(offer_id, THE_OTHER_PATIENT, 5.0)
    with pytest.raises(OfferNotFound):
        await world.services.waitlist.decline(offer_id, THE_OTHER_PATIENT)
    with pytest.raises(OfferNotFound):
        await world.services.waitlist.accept("6f1d2c3b-0000-4000-8000-000000000000", STAFF, 5.0)
    with pytest.raises(Forbidden):
        await world.services.waitlist.accept(offer_id, THE_DOCTOR, 5.0)
    assert world.rounds.accepted == []
    assert world.rounds.declined == []


async def test_declining_lets_the_entry_wait_again(world: World) -> None:
    entry_id, offer_id = await offered(world)
    entry = await world.services.waitlist.decline(offer_id, THE_PATIENT)
    assert (entry.id, entry.status) == (entry_id, EntryStatus.WAITING)
    assert entry.offers[-1].status is OfferStatus.DECLINED
    with pytest.raises(OfferClosed, match="declined"):
        await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)


async def test_a_booking_that_outlasts_the_wait_is_answered_as_running(world: World) -> None:
    entry_id, offer_id = await offered(world)
    world.rounds.booking = True
    assert await world.services.waitlist.accept(offer_id, THE_PATIENT, 0.0) == OfferBooking(
        entry_id, offer_id
    )


async def test_a_round_that_ended_meanwhile_is_answered_from_the_stored_entry(
    world: World,
) -> None:
    _, offer_id = await offered(world)
    world.rounds.ended = True
    with pytest.raises(OfferExpired, match="round has ended"):
        await world.services.waitlist.accept(offer_id, THE_PATIENT, 5.0)
    with pytest.raises(OfferExpired, match="round has ended"):
        await world.services.waitlist.decline(offer_id, THE_PATIENT)


# --- a slot the waitlist holds ----------------------------------------------------------------


async def test_booking_a_slot_the_waitlist_holds_is_refused_saying_until_when(
    world: World,
) -> None:
    await offered(world)
    with pytest.raises(SlotOfferedToWaitlist) as refused:
        await world.services.booking.book(booking(patient_id=OTHER_PATIENT), STAFF, 5.0)
    assert refused.value.detail == (
        "the slot is offered to patients on the waitlist until 2030-01-08 07:00 UTC (the "
        "current offer expires at 2030-01-07 06:14 UTC); the round lets it go by "
        "2030-01-08 07:00 UTC at the latest, unless a patient takes it"
    )
    assert world.sagas.requests == []
    # A slot beside it is free to book.
    await world.services.booking.book(booking(start=LATER + timedelta(minutes=15)), STAFF, 5.0)


async def test_moving_into_a_slot_the_waitlist_holds_is_refused(world: World) -> None:
    planted = await world.repository.plant(start=LATER + timedelta(hours=2))
    await offered(world)
    command = Reschedule(
        appointment_id=planted.id, new_time=NewTime(start=LATER), idempotency_key=key("move")
    )
    with pytest.raises(SlotOfferedToWaitlist):
        await world.services.sagas.reschedule(command, STAFF, 5.0)
    assert world.sagas.requests == []
