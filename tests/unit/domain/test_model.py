"""The appointment aggregate: each change yields the new state and the event describing it,
and the events alone rebuild the state."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import IllegalTransition, InvalidAppointment, NoShowBeforeStart
from domain.events import AppointmentEvent, EventContext, EventType
from domain.model import Appointment, Change, replay, request, transition
from domain.status import AppointmentStatus

S = AppointmentStatus
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
START = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
SAGA = EventContext(actor="patient:p-1", reason="booking requested", workflow_id="booking-k1")


def new_appointment(**overrides: Any) -> Change:
    values: dict[str, Any] = {
        "appointment_id": "a-1",
        "event_id": "ev-1",
        "patient_id": "p-1",
        "doctor_id": "d-1",
        "start": START,
        "duration_minutes": 30,
        "timezone": "Europe/Berlin",
        "reason": "check-up",
        "hold_id": "hold-1",
        "now": T0,
        "context": SAGA,
    }
    return request(**(values | overrides))


def step(appointment: Appointment, target: AppointmentStatus, n: int, **fields: Any) -> Change:
    return transition(
        appointment,
        target,
        event_id=f"ev-{n}",
        now=T0 + timedelta(minutes=n),
        context=EventContext(actor="staff:s-1", reason=f"step {n}"),
        **fields,
    )


def lifecycle() -> list[Change]:
    """PENDING -> SCHEDULED (with invoice) -> CONFIRMED -> CHECKED_IN -> COMPLETED."""
    changes = [new_appointment()]
    for n, (target, fields) in enumerate(
        [
            (S.SCHEDULED, {"invoice_id": "inv-1"}),
            (S.CONFIRMED, {}),
            (S.CHECKED_IN, {"notes": "arrived early"}),
            (S.COMPLETED, {}),
        ],
        start=2,
    ):
        changes.append(step(changes[-1].state, target, n, **fields))
    return changes


# --- request ---------------------------------------------------------------------------


def test_request_makes_a_pending_appointment_at_version_one() -> None:
    change = new_appointment()
    state = change.state
    assert change.expected_version is None  # new: nothing may exist in the store yet
    assert state.status is S.PENDING
    assert state.version == 1
    assert state.created_at == state.updated_at == T0
    assert state.booking_workflow_id == "booking-k1"
    assert (state.invoice_id, state.notes) == (None, None)
    assert state.end == START + timedelta(minutes=30)
    assert state.cells == [START + timedelta(minutes=m) for m in range(0, 30, 5)]


def test_request_event_is_seq_one_and_carries_the_full_state() -> None:
    change = new_appointment()
    event = change.event
    assert (event.event_id, event.appointment_id, event.seq) == ("ev-1", "a-1", 1)
    assert event.type is EventType.REQUESTED
    assert event.occurred_at == T0
    assert event.context == SAGA
    assert event.before == {}
    # Every field but ``version``, which the event's seq carries: replay needs nothing else.
    expected = dataclasses.asdict(change.state)
    del expected["version"]
    assert event.after == expected


# --- transition ------------------------------------------------------------------------


def test_transition_bumps_the_version_and_expects_the_old_one() -> None:
    pending = new_appointment().state
    change = step(pending, S.SCHEDULED, 2, invoice_id="inv-1")
    assert change.expected_version == 1
    assert change.state.version == change.event.seq == 2
    assert change.state.status is S.SCHEDULED
    assert change.state.invoice_id == "inv-1"
    assert change.state.updated_at == T0 + timedelta(minutes=2)
    assert change.state.created_at == T0  # untouched
    assert pending.status is S.PENDING  # the aggregate is immutable


def test_transition_event_records_before_and_after_of_every_changed_field() -> None:
    pending = new_appointment().state
    change = step(pending, S.SCHEDULED, 2, invoice_id="inv-1")
    event = change.event
    assert event.type is EventType.SCHEDULED
    assert (event.event_id, event.appointment_id) == ("ev-2", "a-1")
    assert event.occurred_at == T0 + timedelta(minutes=2)
    assert event.context.reason == "step 2"
    assert event.after == {
        "status": S.SCHEDULED,
        "invoice_id": "inv-1",
        "updated_at": T0 + timedelta(minutes=2),
    }
    assert event.before == {"status": S.PENDING, "invoice_id": None, "updated_at": T0}


@pytest.mark.parametrize(
    ("target", "event_type"),
    [
        (S.SCHEDULED, EventType.SCHEDULED),
        (S.FAILED, EventType.BOOKING_FAILED),
    ],
)
def test_transition_event_type_follows_the_target(
    target: AppointmentStatus, event_type: EventType
) -> None:
    assert step(new_appointment().state, target, 2).event.type is event_type


def test_illegal_transition_is_refused_with_the_current_status() -> None:
    pending = new_appointment().state
    with pytest.raises(IllegalTransition) as caught:
        step(pending, S.COMPLETED, 2)
    assert caught.value.current == "PENDING"


def test_no_transition_out_of_a_terminal_status() -> None:
    failed = step(new_appointment().state, S.FAILED, 2).state
    with pytest.raises(IllegalTransition, match="FAILED"):
        step(failed, S.SCHEDULED, 3)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(InvalidAppointment, match="colour"):
        step(new_appointment().state, S.SCHEDULED, 2, colour="blue")


def test_extra_fields_cannot_override_the_checked_status() -> None:
    pending = new_appointment().state
    with pytest.raises((InvalidAppointment, IllegalTransition)):
        step(pending, S.SCHEDULED, 2, status=S.COMPLETED)


@pytest.mark.parametrize("field", ["id", "created_at", "version"])
def test_identity_and_bookkeeping_fields_cannot_be_changed(field: str) -> None:
    pending = new_appointment().state
    value: Any = {"id": "a-2", "created_at": T0 + timedelta(days=1), "version": 7}[field]
    with pytest.raises(InvalidAppointment):
        step(pending, S.SCHEDULED, 2, **{field: value})


# --- replay ----------------------------------------------------------------------------


def test_replay_of_the_first_event_is_the_requested_state() -> None:
    change = new_appointment()
    assert replay([change.event]) == change.state


def test_replay_of_a_whole_lifecycle_equals_the_final_state() -> None:
    changes = lifecycle()
    final = changes[-1].state
    assert final.status is S.COMPLETED
    assert final.version == 5
    assert replay(c.event for c in changes) == final
    # Every prefix rebuilds the state at that point, too.
    for n in range(1, len(changes) + 1):
        assert replay([c.event for c in changes[:n]]) == changes[n - 1].state


def test_replay_does_not_depend_on_the_order_events_arrive_in() -> None:
    changes = lifecycle()
    events = [c.event for c in changes]
    random.Random(7).shuffle(events)
    assert replay(events) == changes[-1].state


def test_replay_refuses_a_gap() -> None:
    events = [c.event for c in lifecycle()]
    del events[2]
    with pytest.raises(ValueError, match="gap before seq 4"):
        replay(events)


def test_replay_refuses_a_log_that_does_not_start_at_one() -> None:
    events = [c.event for c in lifecycle()][1:]
    with pytest.raises(ValueError, match="gap before seq 2"):
        replay(events)


def test_replay_refuses_a_duplicate_seq() -> None:
    events: list[AppointmentEvent] = [c.event for c in lifecycle()]
    events.insert(2, dataclasses.replace(events[1], event_id="ev-dup"))
    with pytest.raises(ValueError, match="gap"):
        replay(events)


def test_replay_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no events"):
        replay([])


# --- no-show ---------------------------------------------------------------------------


def test_a_no_show_before_the_start_is_refused() -> None:
    scheduled = step(new_appointment().state, S.SCHEDULED, 2).state
    with pytest.raises(NoShowBeforeStart, match="start time"):
        transition(
            scheduled,
            S.NO_SHOW,
            event_id="ev-3",
            now=START - timedelta(minutes=1),
            context=EventContext(actor="doctor:d-1"),
        )


def test_a_no_show_from_the_start_on_is_recorded() -> None:
    scheduled = step(new_appointment().state, S.SCHEDULED, 2).state
    change = transition(
        scheduled, S.NO_SHOW, event_id="ev-3", now=START, context=EventContext(actor="doctor:d-1")
    )
    assert change.state.status is S.NO_SHOW
    assert change.event.type is EventType.NO_SHOW
