"""Folding events into a read-view row: replay's semantics, idempotent per event, and
the derived fields (end, the clinic day) right."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

import pytest

from domain.events import AppointmentEvent, EventContext
from domain.model import (
    Appointment,
    BrokenEventLog,
    Change,
    edit,
    remind,
    replay,
    request,
    reschedule,
    reverse_no_show,
    transition,
)
from domain.status import AppointmentStatus
from projections.fold import Names, StoredEvent, ViewRow, fold

S = AppointmentStatus
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
# 23:30Z on 7 January is 00:30 on 8 January in Berlin: the clinic day is the 8th.
LATE = datetime(2030, 1, 7, 23, 30, tzinfo=UTC)
CTX = EventContext(actor="staff:s-1")


def stored(event: AppointmentEvent) -> StoredEvent:
    """The event as the projector reads it from MongoDB: enums as their values, tuples
    as lists."""
    after = {
        k: v.value if isinstance(v, Enum) else list(v) if isinstance(v, tuple) else v
        for k, v in event.after.items()
    }
    return StoredEvent.from_raw(
        {
            "_id": event.event_id,
            "appointment_id": event.appointment_id,
            "seq": event.seq,
            "occurred_at": event.occurred_at,
            "after": after,
        }
    )


def history() -> tuple[Appointment, list[AppointmentEvent]]:
    """Requested, scheduled, moved to LATE for 45 minutes, confirmed, edited."""
    change = request(
        appointment_id="a-1",
        event_id="e-1",
        patient_id="p-1",
        doctor_id="d-1",
        start=LATE - timedelta(days=1),
        duration_minutes=30,
        timezone="Europe/Berlin",
        reason="check-up",
        hold_id="h-1",
        now=T0,
        context=CTX,
    )
    events = [change.event]
    steps: list[Callable[[Appointment, datetime], Change]] = [
        lambda a, now: transition(a, S.SCHEDULED, event_id="e-2", now=now, context=CTX),
        lambda a, now: reschedule(
            a,
            start=LATE,
            duration_minutes=45,
            hold_id="h-2",
            invoice_id=None,
            event_id="e-3",
            now=now,
            context=CTX,
        ),
        lambda a, now: transition(a, S.CONFIRMED, event_id="e-4", now=now, context=CTX),
        lambda a, now: edit(a, event_id="e-5", now=now, context=CTX, reason="follow-up"),
    ]
    state = change.state
    for minutes, step in enumerate(steps, start=1):
        change = step(state, T0 + timedelta(minutes=minutes))
        events.append(change.event)
        state = change.state
    return state, events


def events() -> list[StoredEvent]:
    return [stored(e) for e in history()[1]]


def test_a_fold_from_nothing_agrees_with_replay() -> None:
    state, originals = history()
    assert replay(originals) == state
    row = fold(None, "a-1", events(), BERLIN)
    assert row is not None
    assert (row.id, row.patient_id, row.doctor_id) == (state.id, "p-1", "d-1")
    assert (row.start, row.end, row.duration_minutes) == (state.start, state.end, 45)
    assert (row.status, row.reason, row.timezone) == (S.CONFIRMED, "follow-up", "Europe/Berlin")
    assert row.version == state.version == 5
    assert row.updated_at == state.updated_at == originals[-1].occurred_at
    assert row.day == "2030-01-08"  # the clinic's date, not the UTC one
    assert row.names == Names()


@pytest.mark.parametrize("split", [1, 2, 3, 4])
def test_folding_in_steps_equals_folding_at_once(split: int) -> None:
    all_events = events()
    first = fold(None, "a-1", all_events[:split], BERLIN)
    assert first is not None
    assert first.version == split
    assert fold(first, "a-1", all_events[split:], BERLIN) == fold(None, "a-1", all_events, BERLIN)


def test_events_already_in_the_row_change_nothing() -> None:
    all_events = events()
    row = fold(None, "a-1", all_events, BERLIN)
    assert row is not None
    assert fold(row, "a-1", all_events, BERLIN) is None  # a replay of everything
    assert fold(row, "a-1", all_events[2:3], BERLIN) is None  # one duplicate
    assert fold(row, "a-1", [], BERLIN) is None


def test_a_replay_overlapping_the_row_folds_only_the_newer_events() -> None:
    all_events = events()
    row = fold(None, "a-1", all_events[:3], BERLIN)
    shuffled = [all_events[4], *all_events[1:4], all_events[3]]  # out of order, a duplicate
    assert fold(row, "a-1", shuffled, BERLIN) == fold(None, "a-1", all_events, BERLIN)


def test_names_stay_with_the_row() -> None:
    all_events = events()
    names = Names("Anna Schmidt", "Dr. Hart", "cardiology")
    row = fold(None, "a-1", all_events[:2], BERLIN)
    assert row is not None
    later = fold(row.named(names), "a-1", all_events[2:], BERLIN)
    assert later is not None
    assert later.names == names


def test_a_gap_is_refused() -> None:
    all_events = events()
    with pytest.raises(BrokenEventLog, match="gap before seq 3"):
        fold(None, "a-1", [all_events[0], all_events[2]], BERLIN)
    row = fold(None, "a-1", all_events[:1], BERLIN)
    with pytest.raises(BrokenEventLog, match="gap before seq 4"):
        fold(row, "a-1", all_events[3:], BERLIN)


def test_a_history_without_its_first_event_is_refused() -> None:
    bare = [dataclasses.replace(events()[1], seq=1)]
    with pytest.raises(BrokenEventLog, match="never set"):
        fold(None, "a-1", bare, BERLIN)


def test_the_row_reads_back_as_it_was_written() -> None:
    row = fold(None, "a-1", events(), BERLIN)
    assert row is not None
    row = row.named(Names("Anna Schmidt", None, None))
    document = row.to_document()
    assert document["_id"] == "a-1"
    assert "id" not in document
    assert document["status"] == "CONFIRMED"
    assert type(document["status"]) is str
    assert "notes" not in document
    # A client that is not tz-aware reads naive UTC back: the row is the same.
    naive = {
        k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in document.items()
    }
    assert ViewRow.from_document(naive) == ViewRow.from_document(document) == row


def test_the_journeys_events_fold_like_every_other() -> None:
    """A reminder (status unchanged, details never folded), the automatic no-show and its
    reversal: the row follows replay, and the row's version counts the reminder too."""
    start = LATE - timedelta(days=1)
    change = request(
        appointment_id="a-1",
        event_id="e-1",
        patient_id="p-1",
        doctor_id="d-1",
        start=start,
        duration_minutes=30,
        timezone="Europe/Berlin",
        reason="check-up",
        hold_id="h-1",
        now=T0,
        context=CTX,
        no_show_fee_cents=2500,
    )
    originals = [change.event]
    steps: list[Callable[[Appointment], Change]] = [
        lambda a: transition(a, S.SCHEDULED, event_id="e-2", now=T0, context=CTX),
        lambda a: remind(
            a,
            offset_minutes=1440,
            event_id="e-3",
            now=start - timedelta(days=1),
            context=CTX,
            details={"offset_minutes": 1440, "links": {"confirm": "http://x/a/1"}},
        ),
        lambda a: transition(
            a,
            S.NO_SHOW,
            event_id="e-4",
            now=start + timedelta(minutes=15),
            context=CTX,
            no_show_invoice_id="inv-ns",
        ),
        lambda a: reverse_no_show(
            a, S.COMPLETED, event_id="e-5", now=start + timedelta(hours=2), context=CTX
        ),
    ]
    state = change.state
    for step in steps:
        change = step(state)
        originals.append(change.event)
        state = change.state
    assert replay(originals) == state
    assert (state.reminders_sent, state.no_show_invoice_id) == ((1440,), "inv-ns")
    journey = [stored(e) for e in originals]
    row = fold(None, "a-1", journey, BERLIN)
    assert row is not None
    assert (row.status, row.version, row.updated_at) == (S.COMPLETED, 5, state.updated_at)
    reminded = fold(None, "a-1", journey[:3], BERLIN)
    assert reminded is not None
    assert (reminded.status, reminded.version) == (S.SCHEDULED, 3)
    assert fold(reminded, "a-1", journey, BERLIN) == row
