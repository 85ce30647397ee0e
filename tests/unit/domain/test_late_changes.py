"""The clinic's late-change rule, one rule in the domain: inside the late window a
cancellation and (for bookings made since the rule) a reschedule carry the fee captured at
booking; after the start nothing is cancelled or moved any more. The review's case: book
late, move the appointment far out for free, cancel it for free."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain.errors import AppointmentStarted
from domain.events import AppointmentEvent, EventContext
from domain.model import Appointment, replay, reschedule, transition
from domain.policy import CancellationPolicy
from domain.status import AppointmentStatus
from tests.unit.domain.test_model import START, T0, new_appointment, step

S = AppointmentStatus
STAFF = EventContext(actor="staff:s-1")
POLICY = CancellationPolicy(free_until_hours_before=24, late_fee_cents=2500)
OLD_POLICY = dataclasses.replace(POLICY, late_reschedule_counts=False)


@pytest.mark.parametrize(
    ("hours_before", "fee"), [(48, 0), (24, 0), (23, 2500), (1, 2500), (0, 2500)]
)
def test_a_late_reschedule_is_a_late_change_like_a_cancellation(
    hours_before: int, fee: int
) -> None:
    changed_at = START - timedelta(hours=hours_before)
    assert POLICY.fee(START, changed_at, "reschedule") == fee == POLICY.fee(START, changed_at)


def test_a_booking_made_before_the_rule_keeps_its_free_reschedule() -> None:
    late = START - timedelta(hours=1)
    assert OLD_POLICY.fee(START, late, "reschedule") == 0
    assert OLD_POLICY.fee(START, late, "cancel") == 2500


def scheduled(**overrides: object) -> Appointment:
    booked = new_appointment(policy=POLICY, **overrides).state
    return step(booked, S.SCHEDULED, 1, invoice_id="inv-1").state


def test_a_new_booking_captures_that_its_late_reschedules_count() -> None:
    assert scheduled().cancellation_policy == POLICY


def test_a_stored_booking_without_the_field_is_one_made_before_the_rule() -> None:
    """Documents written before the field existed read as the old policy."""
    fields = dataclasses.asdict(scheduled())
    del fields["late_reschedule_counts"]
    assert Appointment(**fields).cancellation_policy == OLD_POLICY


def test_the_dodge_moving_late_then_cancelling_late_costs_the_fee_once() -> None:
    """Booked 3 h ahead; moved 3 days out: that move is late and charged (its invoice is
    kept on the appointment); the cancellation then is early and free."""
    appointment = scheduled()
    now = START - timedelta(hours=3)
    policy = appointment.cancellation_policy
    assert policy.fee(appointment.start, now, "reschedule") == 2500
    moved = reschedule(
        appointment,
        start=START + timedelta(days=3),
        duration_minutes=30,
        hold_id="hold-2",
        invoice_id="inv-2",
        event_id="ev-move",
        now=now,
        context=STAFF,
        fee_invoice_id="inv-fee",
    )
    assert moved.state.fee_invoice_id == "inv-fee"
    assert moved.event.after is not None
    assert moved.event.after["fee_invoice_id"] == "inv-fee"
    assert replay([*_events_of(appointment), moved.event]).fee_invoice_id == "inv-fee"
    assert policy.fee(moved.state.start, now, "cancel") == 0


def _events_of(appointment: Appointment) -> list[AppointmentEvent]:
    """The events that made ``scheduled()``."""
    booked = new_appointment(policy=POLICY)
    events = [booked.event, step(booked.state, S.SCHEDULED, 1, invoice_id="inv-1").event]
    assert replay(events) == appointment
    return events


@pytest.mark.parametrize("target", [S.CANCELLED, S.CONFIRMED])
@pytest.mark.parametrize("after_start", [timedelta(0), timedelta(minutes=5), timedelta(days=2)])
def test_after_the_start_it_is_no_longer_cancelled_or_confirmed(
    target: AppointmentStatus, after_start: timedelta
) -> None:
    with pytest.raises(AppointmentStarted, match="check the patient in or record a no-show"):
        transition(scheduled(), target, event_id="ev-x", now=START + after_start, context=STAFF)


def test_after_the_start_it_is_no_longer_moved() -> None:
    with pytest.raises(AppointmentStarted):
        reschedule(
            scheduled(),
            start=START + timedelta(days=3),
            duration_minutes=30,
            hold_id="hold-2",
            invoice_id=None,
            event_id="ev-move",
            now=START,
            context=STAFF,
        )


@pytest.mark.parametrize("target", [S.CHECKED_IN, S.NO_SHOW])
def test_after_the_start_it_is_checked_in_or_recorded_as_a_no_show(
    target: AppointmentStatus,
) -> None:
    later = START + timedelta(minutes=20)
    changed = transition(scheduled(), target, event_id="ev-x", now=later, context=STAFF)
    assert changed.state.status is target


def test_before_the_start_everything_stays_as_it_was() -> None:
    cancelled = transition(scheduled(), S.CANCELLED, event_id="ev-x", now=T0, context=STAFF)
    assert cancelled.state.status is S.CANCELLED
