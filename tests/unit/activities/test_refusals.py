"""A business refusal ends the step for good: a non-retryable ApplicationError whose
``type`` names the domain error (which the retry policies list as non-retryable too) and
whose details carry the problem. A transient fault is no refusal: it escapes as it is,
for the retry policy to retry."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.errors import NON_RETRYABLE_TYPES
from activities.models import (
    Move,
    PatientCheck,
)
from domain.clock import now_utc
from domain.errors import PeerUnavailable
from domain.status import AppointmentStatus
from peers.breaker import BreakerState
from peers.contracts import HoldStatus
from tests.unit.activities.conftest import ANNA, BEN, ON_CALL, Bed, slot
from workflows.policies import DB_RETRY, PEER_RETRY


def is_refusal(error: ApplicationError, name: str) -> None:
    assert error.type == name
    assert error.non_retryable
    assert name in NON_RETRYABLE_TYPES
    (details,) = error.details
    assert isinstance(details, dict)
    assert set(details) == {"code", "title", "detail"}
    assert details["detail"] == error.message


async def test_an_unknown_patient(bed: Bed) -> None:
    check = PatientCheck(patient_id="pat-nobody", caller=bed.caller)
    is_refusal(await bed.refused(bed.remote.validate_patient, check, PEER_RETRY), "PatientNotFound")


async def test_an_unknown_doctor(bed: Bed) -> None:
    check = bed.slot_check(slot()).model_copy(update={"doctor_id": "doc-nobody"})
    error = await bed.refused(bed.remote.check_availability, check, PEER_RETRY)
    is_refusal(error, "DoctorNotFound")


async def test_a_slot_taken_by_another_patient(bed: Bed) -> None:
    start = slot()
    await bed.run(bed.remote.reserve_slot, bed.reservation(start, patient_id=BEN), PEER_RETRY)
    check = bed.remote.check_availability
    is_refusal(await bed.refused(check, bed.slot_check(start), PEER_RETRY), "SlotUnavailable")


async def test_reserving_a_slot_taken_by_another_patient(bed: Bed) -> None:
    start = slot()
    theirs = bed.reservation(start, patient_id=BEN, key="another-booking/hold")
    await bed.run(bed.remote.reserve_slot, theirs, PEER_RETRY)
    error = await bed.refused(bed.remote.reserve_slot, bed.reservation(start), PEER_RETRY)
    is_refusal(error, "SlotUnavailable")
    assert [h.patient_id for h in await bed.holds()] == [BEN]


@pytest.mark.parametrize(
    ("hour", "minute", "minutes"),
    [(10, 5, 15), (22, 0, 15), (6, 45, 15), (20, 45, 30), (10, 0, 20)],
    ids=["off-grid", "after-hours", "before-hours", "past-closing", "not-a-whole-slot"],
)
async def test_a_slot_the_doctor_does_not_offer(
    bed: Bed, hour: int, minute: int, minutes: int
) -> None:
    start = slot(hour=hour, minute=minute)
    check = bed.slot_check(start, minutes)
    error = await bed.refused(bed.remote.check_availability, check, PEER_RETRY)
    is_refusal(error, "SlotNotOffered")
    reservation = bed.reservation(start, minutes=minutes)
    error = await bed.refused(bed.remote.reserve_slot, reservation, PEER_RETRY)
    is_refusal(error, "SlotNotOffered")
    assert await bed.holds() == []


async def test_confirming_a_hold_that_expired(bed: Bed) -> None:
    action = await bed.held()
    bed.sim_clock.advance(bed.settings.slot_hold_minutes * 60)
    is_refusal(await bed.refused(bed.remote.confirm_slot, action, PEER_RETRY), "SlotUnavailable")
    assert [h.status for h in await bed.holds()] == [HoldStatus.EXPIRED]


async def test_billing_refusing_the_invoice(bed: Bed) -> None:
    await bed.fault("billing", mode="refuse", times=1)
    order = bed.invoice_order(str(uuid.uuid4()))
    is_refusal(await bed.refused(bed.remote.create_invoice, order, PEER_RETRY), "BillingRefused")
    assert await bed.invoices() == []


async def test_billing_refusing_the_late_invoice(bed: Bed) -> None:
    """Not an outage to wait out: the saga withdraws the booking."""
    appointment = await bed.awaiting_invoice()
    await bed.fault("billing", mode="refuse", times=1)
    order = bed.invoice_order(appointment.id)
    error = await bed.refused(bed.remote.create_invoice_when_billing_is_back, order)
    is_refusal(error, "BillingRefused")


async def test_cancelling_a_cancelled_appointment(bed: Bed) -> None:
    cancelled = await bed.store.plant(status=AppointmentStatus.CANCELLED)
    error = await bed.refused(bed.local.prepare_cancellation, bed.ref(cancelled.id), DB_RETRY)
    is_refusal(error, "IllegalTransition")
    assert "CANCELLED" in error.message


async def test_cancelling_an_unknown_appointment(bed: Bed) -> None:
    error = await bed.refused(bed.local.prepare_cancellation, bed.ref("apt-nobody"), DB_RETRY)
    is_refusal(error, "AppointmentNotFound")


@pytest.mark.parametrize(
    "status", [AppointmentStatus.CANCELLED, AppointmentStatus.CHECKED_IN, AppointmentStatus.FAILED]
)
async def test_rescheduling_what_cannot_move(bed: Bed, status: AppointmentStatus) -> None:
    appointment = await bed.store.plant(status=status)
    check = bed.reschedule_check(appointment.id, slot(5))
    error = await bed.refused(bed.local.prepare_reschedule, check, DB_RETRY)
    is_refusal(error, "IllegalTransition")


@pytest.mark.parametrize(
    ("start_in", "minutes"),
    [(timedelta(hours=-1), None), (timedelta(days=400), None), (timedelta(days=2), 7)],
    ids=["in-the-past", "too-far-ahead", "odd-duration"],
)
async def test_rescheduling_to_a_time_the_rules_refuse(
    bed: Bed, start_in: timedelta, minutes: int | None
) -> None:
    appointment = await bed.store.plant(status=AppointmentStatus.SCHEDULED)
    start = (now_utc() + start_in).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 15)
    check = bed.reschedule_check(appointment.id, start, minutes)
    error = await bed.refused(bed.local.prepare_reschedule, check, DB_RETRY)
    is_refusal(error, "InvalidAppointment")


async def test_moving_an_appointment_cancelled_since_the_plan(bed: Bed) -> None:
    cancelled = await bed.store.plant(status=AppointmentStatus.CANCELLED)
    writes = bed.store.commits
    move = Move(
        appointment_id=cancelled.id,
        expected_version=cancelled.version - 1,
        start=slot(5),
        duration_minutes=15,
        hold_id="hold-new",
        invoice_id="inv-new",
        idempotency_key=bed.key("moved"),
        caller=bed.caller,
    )
    is_refusal(await bed.refused(bed.local.move_appointment, move, DB_RETRY), "IllegalTransition")
    assert bed.store.commits == writes


async def test_persisting_over_another_appointment(bed: Bed) -> None:
    start = slot()
    await bed.store.plant(start=start, patient_id=BEN, doctor_id=ON_CALL)
    new = bed.new_appointment(start)
    is_refusal(await bed.refused(bed.local.persist_pending, new, DB_RETRY), "SlotUnavailable")
    assert await bed.store.get(new.appointment_id) is None


async def test_a_transient_fault_is_left_to_the_retry_policy(bed: Bed) -> None:
    await bed.fault("patient", mode="fail", times=1)
    check = PatientCheck(patient_id=ANNA, caller=bed.caller)
    with pytest.raises(PeerUnavailable, match="503"):
        await bed.run(bed.remote.validate_patient, check, PEER_RETRY)
    await bed.run(bed.remote.validate_patient, check, PEER_RETRY, attempt=2)  # the retry


async def test_a_request_that_cannot_be_sent_is_a_bug_not_an_outage(bed: Bed) -> None:
    """Never retried (a retry sends the same request) and never counted by the breaker."""
    check = bed.slot_check(slot()).model_copy(update={"doctor_id": ".."})
    error = await bed.refused(bed.remote.check_availability, check, PEER_RETRY)
    assert error.type == "PeerRequestInvalid"
    assert error.non_retryable
    assert "PeerRequestInvalid" in NON_RETRYABLE_TYPES
    assert bed.breaker("doctor").state is BreakerState.CLOSED
