"""The late invoice of a booking made while Billing was unreachable (billing outage policy
"retry"): recorded on the appointment by its own event, the status unchanged."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain.errors import IllegalTransition
from domain.events import EventContext, EventType
from domain.model import Appointment, awaits_invoice, record_invoice, replay
from domain.status import AppointmentStatus
from tests.unit.domain.test_model import T0, new_appointment, step

S = AppointmentStatus
SAGA = EventContext(actor="patient:p-1", reason="invoiced", workflow_id="booking-k1")


def scheduled_without_invoice() -> Appointment:
    return step(new_appointment().state, S.SCHEDULED, 2).state


def invoiced(appointment: Appointment, invoice_id: str = "inv-late") -> Appointment:
    return record_invoice(
        appointment,
        invoice_id=invoice_id,
        event_id="ev-invoiced",
        now=T0 + timedelta(hours=1),
        context=SAGA,
    ).state


def test_recording_the_invoice_changes_only_the_invoice() -> None:
    scheduled = scheduled_without_invoice()
    change = record_invoice(
        scheduled, invoice_id="inv-late", event_id="ev-3", now=T0 + timedelta(hours=1), context=SAGA
    )
    assert change.event.type is EventType.INVOICED
    assert change.event.before == {"invoice_id": None, "updated_at": scheduled.updated_at}
    assert change.event.after == {"invoice_id": "inv-late", "updated_at": T0 + timedelta(hours=1)}
    assert (change.state.status, change.state.invoice_id) == (S.SCHEDULED, "inv-late")
    assert change.state.version == scheduled.version + 1
    assert change.expected_version == scheduled.version


def test_the_events_alone_rebuild_an_appointment_invoiced_late() -> None:
    pending = new_appointment()
    scheduled = step(pending.state, S.SCHEDULED, 2)
    late = record_invoice(
        scheduled.state, invoice_id="inv-late", event_id="ev-3", now=T0, context=SAGA
    )
    confirmed = step(late.state, S.CONFIRMED, 4)
    events = [c.event for c in (pending, scheduled, late, confirmed)]
    assert replay(events) == confirmed.state


@pytest.mark.parametrize("status", [S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN, S.COMPLETED, S.NO_SHOW])
def test_a_booking_that_stands_awaits_its_missing_invoice(status: AppointmentStatus) -> None:
    scheduled = scheduled_without_invoice()
    standing = dataclasses.replace(scheduled, status=status)
    assert awaits_invoice(standing)
    assert invoiced(standing).status is status


@pytest.mark.parametrize("status", [S.CANCELLED, S.FAILED, S.PENDING])
def test_a_booking_that_does_not_stand_refuses_the_invoice(status: AppointmentStatus) -> None:
    scheduled = scheduled_without_invoice()
    gone = dataclasses.replace(scheduled, status=status)
    assert not awaits_invoice(gone)
    with pytest.raises(IllegalTransition) as refused:
        invoiced(gone)
    assert refused.value.current == status.value


def test_an_appointment_invoiced_meanwhile_refuses_a_second_invoice() -> None:
    """A reschedule invoices the new time: the booking's late invoice must not replace it."""
    scheduled = scheduled_without_invoice()
    once = invoiced(scheduled, "inv-reschedule")
    assert not awaits_invoice(once)
    with pytest.raises(IllegalTransition):
        invoiced(once, "inv-late")
