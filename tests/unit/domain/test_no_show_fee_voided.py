"""The void of a reversed no-show's fee (appointment.no_show_fee_voided): the status
stays, the appointment no longer carries the fee's invoice, and the event names the
invoice and its amount; and the reversal's rule, read before anything changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from domain.errors import IllegalTransition, NoShowReversalClosed
from domain.events import EventContext, EventType
from domain.model import (
    Appointment,
    Change,
    ensure_no_show_reversible,
    record_no_show_fee_voided,
    replay,
)
from domain.status import AppointmentStatus
from tests.unit.domain.test_reminders_and_no_shows import (
    NO_SHOW_AT,
    in_status,
    no_show,
    reversed_to,
    scheduled,
)

S = AppointmentStatus
REVERSAL = EventContext(actor="staff:s-1", workflow_id="no-show-reversal-1")
REVERSED_AT = NO_SHOW_AT + timedelta(hours=1)
LATER = NO_SHOW_AT + timedelta(hours=2)


def voided(appointment: Appointment, invoice_id: str = "inv-ns") -> Change:
    return record_no_show_fee_voided(
        appointment,
        invoice_id=invoice_id,
        event_id=f"ev-void-{appointment.version}",
        now=LATER,
        context=REVERSAL,
    )


def reversed_with_fee(target: AppointmentStatus = S.CHECKED_IN) -> list[Change]:
    changes = scheduled()
    changes.append(no_show(changes[-1].state, no_show_invoice_id="inv-ns"))
    changes.append(reversed_to(target, changes[-1].state, REVERSED_AT))
    return changes


@pytest.mark.parametrize("target", [S.CHECKED_IN, S.COMPLETED])
def test_the_void_clears_the_fee_and_keeps_the_status(target: AppointmentStatus) -> None:
    reversed_ = reversed_with_fee(target)[-1].state
    change = voided(reversed_)
    assert change.state.status is target
    assert change.state.no_show_invoice_id is None
    assert change.state.no_show_at == NO_SHOW_AT  # when the reversed no-show was stays
    assert change.event.type is EventType.NO_SHOW_FEE_VOIDED
    assert change.event.before == {"no_show_invoice_id": "inv-ns", "updated_at": REVERSED_AT}
    assert change.event.after == {"no_show_invoice_id": None, "updated_at": LATER}
    assert change.event.details == {"invoice_id": "inv-ns", "fee_cents": 2500}
    assert change.event.context == REVERSAL


def test_the_void_replays_like_every_other_event() -> None:
    changes = reversed_with_fee()
    changes.append(voided(changes[-1].state))
    assert replay(c.event for c in changes) == changes[-1].state


def test_a_fee_that_is_not_the_reversed_no_shows_is_not_recorded_void() -> None:
    reversed_ = reversed_with_fee()[-1].state
    with pytest.raises(IllegalTransition):
        voided(reversed_, "inv-other")
    with pytest.raises(IllegalTransition):  # recorded once: the second is refused
        voided(voided(reversed_).state)


@pytest.mark.parametrize("status", [S.SCHEDULED, S.NO_SHOW, S.CANCELLED])
def test_only_a_reversed_no_show_has_its_fee_voided(status: AppointmentStatus) -> None:
    appointment = replace(in_status(status), no_show_invoice_id="inv-ns")
    with pytest.raises(IllegalTransition):
        voided(appointment)


@pytest.mark.parametrize(
    ("status", "now", "refusal"),
    [
        (S.NO_SHOW, NO_SHOW_AT + timedelta(hours=24), None),
        (S.NO_SHOW, NO_SHOW_AT + timedelta(hours=24, seconds=1), NoShowReversalClosed),
        (S.CHECKED_IN, NO_SHOW_AT, IllegalTransition),
        (S.COMPLETED, NO_SHOW_AT, IllegalTransition),
    ],
)
def test_the_rule_a_saga_plans_by_is_the_reversals_own(
    status: AppointmentStatus, now: datetime, refusal: type[Exception] | None
) -> None:
    appointment = in_status(status)
    if refusal is None:
        ensure_no_show_reversible(appointment, now)
        reversed_to(S.CHECKED_IN, appointment, now)
        return
    with pytest.raises(refusal):
        ensure_no_show_reversible(appointment, now)
    with pytest.raises(refusal):
        reversed_to(S.CHECKED_IN, appointment, now)
