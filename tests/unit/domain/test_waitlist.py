"""The waitlist's rules as pure logic (domain/waitlist.py): which entry a freed slot goes
to, when an offer may go out and until when, and how each change moves an entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.journey import QuietHours
from domain.waitlist import (
    EntryNotActive,
    EntryStatus,
    LeftBecause,
    Offer,
    OfferRules,
    OfferStatus,
    Priority,
    Slot,
    WaitlistEntry,
    WaitlistEventType,
    candidates,
    close_offer,
    fulfil,
    join,
    leave,
    make_offer,
    waitlist_event_id,
)

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT = Slot("doc-1", T0 + timedelta(days=2), T0 + timedelta(days=2, minutes=30))


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def entry(
    entry_id: str = "e1",
    *,
    patient: str = "pat-1",
    priority: Priority = Priority.ROUTINE,
    joined: timedelta = timedelta(),
    earliest: datetime = T0,
    latest: datetime = T0 + timedelta(days=7),
    minutes: int = 30,
    doctor: str = "doc-1",
    status: EntryStatus = EntryStatus.WAITING,
) -> WaitlistEntry:
    return WaitlistEntry(
        id=entry_id,
        patient_id=patient,
        doctor_id=doctor,
        earliest_start=earliest,
        latest_start=latest,
        duration_minutes=minutes,
        priority=priority,
        status=status,
        joined_at=T0 - timedelta(days=10) + joined,
        version=1,
        timezone="Europe/Berlin",
    )


def an_offer(offer_id: str = "o1", *, at: datetime = T0) -> Offer:
    return Offer(
        id=offer_id,
        round_id="offer-doc-1-20300109T0800Z",
        start=SLOT.start,
        end=SLOT.end,
        offered_at=at,
        expires_at=at + timedelta(minutes=15),
    )


# --- who gets the slot ----------------------------------------------------------------------


def test_urgent_first_then_the_longest_waiting() -> None:
    routine_early = entry("routine-early", joined=timedelta(hours=1))
    routine_late = entry("routine-late", joined=timedelta(hours=5))
    urgent_late = entry("urgent-late", priority=Priority.URGENT, joined=timedelta(hours=9))
    ranked = candidates([routine_late, urgent_late, routine_early], SLOT, T0)
    assert [e.id for e in ranked] == ["urgent-late", "routine-early", "routine-late"]


def test_only_entries_whose_window_holds_the_start_and_whose_duration_fits() -> None:
    fits = entry("fits")
    too_long = entry("too-long", minutes=45)
    window_before = entry("before", latest=SLOT.start - timedelta(minutes=5))
    window_after = entry("after", earliest=SLOT.start + timedelta(minutes=5))
    other_doctor = entry("other", doctor="doc-2")
    shorter = entry("shorter", minutes=15)
    ranked = candidates(
        [fits, too_long, window_before, window_after, other_doctor, shorter], SLOT, T0
    )
    assert {e.id for e in ranked} == {"fits", "shorter"}


def test_the_window_is_inclusive_at_both_ends() -> None:
    exact = entry("exact", earliest=SLOT.start, latest=SLOT.start)
    assert candidates([exact], SLOT, T0) == [exact]


def test_passed_over_entries_and_busy_patients_are_skipped() -> None:
    declined = entry("declined")
    busy = entry("busy", patient="pat-busy")
    offered = entry("offered", status=EntryStatus.OFFERED)
    left = entry("left", status=EntryStatus.LEFT)
    free = entry("free", patient="pat-free", joined=timedelta(hours=3))
    ranked = candidates(
        [declined, busy, offered, left, free],
        SLOT,
        T0,
        passed_over=["declined"],
        busy_patients=["pat-busy"],
    )
    assert [e.id for e in ranked] == ["free"]


def test_an_entry_whose_window_has_passed_is_no_candidate() -> None:
    stale = entry("stale", latest=SLOT.start)
    assert candidates([stale], SLOT, SLOT.start) == []


@given(st.permutations(range(6)))
def test_the_order_does_not_depend_on_the_order_read(order: list[int]) -> None:
    entries = [
        entry(
            f"e{i}",
            priority=Priority.URGENT if i % 2 else Priority.ROUTINE,
            joined=timedelta(minutes=i),
        )
        for i in range(6)
    ]
    shuffled = [entries[i] for i in order]
    assert candidates(shuffled, SLOT, T0) == candidates(entries, SLOT, T0)


# --- when an offer goes out -----------------------------------------------------------------


NIGHT = OfferRules(offer_minutes=15, cutoff_minutes=60, quiet_hours=QuietHours(time(21), time(8)))


@pytest.mark.parametrize(
    ("now", "sendable"),
    [
        (berlin(2030, 1, 7, 14), berlin(2030, 1, 7, 14)),  # daytime: at once
        (berlin(2030, 1, 7, 20, 59), berlin(2030, 1, 7, 20, 59)),  # the last minute before
        (berlin(2030, 1, 7, 21), berlin(2030, 1, 8, 8)),  # evening: next morning
        (berlin(2030, 1, 8, 2, 30), berlin(2030, 1, 8, 8)),  # small hours: this morning
        (berlin(2030, 1, 8, 8), berlin(2030, 1, 8, 8)),  # they have just ended
        # The night the clocks go forward (31 March 2030, 02:00 -> 03:00): still 08:00.
        (berlin(2030, 3, 30, 23), berlin(2030, 3, 31, 8)),
    ],
)
def test_no_offer_goes_out_inside_quiet_hours(now: datetime, sendable: datetime) -> None:
    assert NIGHT.sendable_at(now) == sendable


def test_quiet_hours_within_one_day() -> None:
    lunch = replace(NIGHT, quiet_hours=QuietHours(time(12), time(13)))
    assert lunch.sendable_at(berlin(2030, 1, 7, 12, 30)) == berlin(2030, 1, 7, 13)
    assert lunch.sendable_at(berlin(2030, 1, 7, 13, 30)) == berlin(2030, 1, 7, 13, 30)


def test_without_quiet_hours_an_offer_goes_out_at_once() -> None:
    anytime = replace(NIGHT, quiet_hours=None)
    assert anytime.sendable_at(berlin(2030, 1, 7, 3)) == berlin(2030, 1, 7, 3)


def test_an_offer_that_would_end_after_the_cutoff_is_not_made() -> None:
    start = berlin(2030, 1, 7, 15)
    assert NIGHT.cutoff(start) == berlin(2030, 1, 7, 14)
    assert NIGHT.expiry(berlin(2030, 1, 7, 13, 45), start) == berlin(2030, 1, 7, 14)
    assert NIGHT.expiry(berlin(2030, 1, 7, 13, 46), start) is None


# --- how an entry changes -------------------------------------------------------------------


def test_join_makes_version_one_waiting_with_its_event() -> None:
    change = join(entry(), key="k1", actor="patient:pat-1")
    assert change.expected_version is None
    assert change.state.version == 1
    assert change.state.status is EntryStatus.WAITING
    assert change.event.type is WaitlistEventType.JOINED
    assert change.event.seq == 1
    assert change.event.event_id == waitlist_event_id("k1")


def test_join_refuses_a_window_that_ends_before_it_begins() -> None:
    with pytest.raises(ValueError, match="earliest start is after its latest"):
        join(entry(earliest=T0 + timedelta(days=2), latest=T0), key="k", actor="a")


def test_an_offer_then_its_expiry_puts_the_entry_back_to_waiting() -> None:
    offered = make_offer(entry(), an_offer(), key="o", actor="system:waitlist")
    assert offered.expected_version == 1
    assert offered.state.status is EntryStatus.OFFERED
    assert offered.state.open_offer == an_offer()
    assert offered.event.type is WaitlistEventType.OFFERED
    assert offered.event.seq == 2

    at = T0 + timedelta(minutes=15)
    expired = close_offer(offered.state, "o1", OfferStatus.EXPIRED, at, key="x", actor="s")
    assert expired is not None
    assert expired.state.status is EntryStatus.WAITING
    assert expired.state.open_offer is None
    assert expired.state.offer("o1") == replace(
        an_offer(), status=OfferStatus.EXPIRED, closed_at=at
    )
    assert expired.event.type is WaitlistEventType.OFFER_EXPIRED
    assert expired.event.details == {"offer_id": "o1"}


def test_closing_an_offer_that_is_not_open_changes_nothing() -> None:
    offered = make_offer(entry(), an_offer(), key="o", actor="s").state
    declined = close_offer(offered, "o1", OfferStatus.DECLINED, T0, key="d", actor="p")
    assert declined is not None
    assert declined.event.type is WaitlistEventType.OFFER_DECLINED
    assert close_offer(declined.state, "o1", OfferStatus.EXPIRED, T0, key="x", actor="s") is None
    assert close_offer(offered, "another", OfferStatus.EXPIRED, T0, key="x", actor="s") is None


def test_only_a_waiting_entry_is_offered_a_slot() -> None:
    offered = make_offer(entry(), an_offer(), key="o", actor="s").state
    with pytest.raises(EntryNotActive):
        make_offer(offered, an_offer("o2"), key="o2", actor="s")


def test_fulfilment_records_the_booking() -> None:
    offered = make_offer(entry(), an_offer(), key="o", actor="s").state
    done = fulfil(offered, "o1", "appt-1", T0, key="f", actor="s")
    assert done.state.status is EntryStatus.FULFILLED
    assert done.state.appointment_id == "appt-1"
    accepted = done.state.offer("o1")
    assert accepted is not None
    assert (accepted.status, accepted.appointment_id) == (OfferStatus.ACCEPTED, "appt-1")
    assert done.event.details == {"offer_id": "o1", "appointment_id": "appt-1"}


def test_leaving_withdraws_the_open_offer_and_cannot_happen_twice() -> None:
    offered = make_offer(entry(), an_offer(), key="o", actor="s").state
    gone = leave(offered, LeftBecause.ASKED, T0, key="l", actor="patient:pat-1")
    assert gone.state.status is EntryStatus.LEFT
    assert gone.state.left_because is LeftBecause.ASKED
    withdrawn = gone.state.offer("o1")
    assert withdrawn is not None
    assert withdrawn.status is OfferStatus.WITHDRAWN
    assert gone.event.details == {"because": "asked"}
    with pytest.raises(EntryNotActive):
        leave(gone.state, LeftBecause.WINDOW_PASSED, T0, key="l2", actor="s")
