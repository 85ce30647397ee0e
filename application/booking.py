"""Booking an appointment, and reading one (also while its booking saga runs)."""

from __future__ import annotations

import uuid

from application.access import Requester, reloaded, visible
from application.commands import Book
from application.concurrently import all_three
from application.permissions import (
    Action,
    Owners,
    authorize,
    ensure_may_book_for,
    ensure_may_book_over_cap,
)
from application.ports import AppointmentRepository, SagaGateway, WaitlistRepository
from application.quotas import Quotas
from application.results import PendingBooking, SagaRunning
from application.saga_runs import run_for, shown_to
from application.waitlist import refuse_if_offered
from config import Settings
from domain.clock import Clock, now_utc
from domain.errors import AppointmentNotFound
from domain.model import Appointment
from domain.rules import BookingLimits, end_of, validate_requested_time
from workflows.contracts import booking
from workflows.contracts.booking import BookingRequest
from workflows.contracts.journey import Rules


class Booking:
    def __init__(
        self,
        repository: AppointmentRepository,
        sagas: SagaGateway,
        settings: Settings,
        clock: Clock = now_utc,
        quotas: Quotas | None = None,
        *,
        holds: WaitlistRepository,
    ) -> None:
        self._repository, self._sagas, self._settings, self._clock = (
            repository, sagas, settings, clock,
        )  # fmt: skip
        self._holds = holds  # the slots offer rounds hold for the waitlist
        self._quotas = quotas or Quotas.of(settings)
        self._limits = BookingLimits(
            min_duration_minutes=settings.min_duration_minutes,
            max_duration_minutes=settings.max_duration_minutes,
        )

    async def book(
        self, command: Book, requester: Requester, wait_seconds: float
    ) -> Appointment | SagaRunning:
        """Start the booking saga, or join the run the caller already started with this
        key, and wait for its outcome up to ``wait_seconds`` (0: answer at once). Refusals
        raise the domain error they name."""
        new = command.appointment
        ensure_may_book_for(requester.principal, new.patient_id)
        if new.over_patient_cap:
            ensure_may_book_over_cap(requester.principal)
        validate_requested_time(new.start, new.duration_minutes, self._clock(), self._limits)
        # Quotas (application/quotas.py): the caller's rate, then the patient's cap.
        self._quotas.start_saga(requester)
        slot = (new.doctor_id, new.start, end_of(new.start, new.duration_minutes))
        # Three reads at once (issue #18: one after the other, they added 10-60 ms to a
        # booking): the patient's cap, the caller's own run of this key
        # (application/saga_runs.py), and the offer round that may hold the slot.
        over_cap, run, held = await all_three(
            self._quotas.over_patient_cap(self._repository, command, requester, self._clock()),
            run_for(self._sagas, booking.SAGA, requester, command.idempotency_key),
            self._holds.round_holding(*slot),
        )
        request = booking_request(command, requester, self._settings, over_cap)
        # A slot an offer round holds for the waitlist is not free to take until the round
        # lets it go: refused, saying until when (a retry of a run that booked it joins).
        await refuse_if_offered(held, self._sagas, run)
        answer = await self._sagas.book(request, run, wait_seconds)
        if isinstance(answer, SagaRunning):
            return shown_to(requester.principal, answer)
        booked = await reloaded(self._repository, answer.appointment_id)
        return shown_to(requester.principal, booked)

    async def started(self, idempotency_key: str, requester: Requester) -> bool:
        """Whether the caller's key already names a booking run (a retry joins it)."""
        run = await run_for(self._sagas, booking.SAGA, requester, idempotency_key)
        return await self._sagas.started_by(run) is not None

    async def read(self, appointment_id: str, requester: Requester) -> Appointment | PendingBooking:
        """The stored appointment; while its booking saga has not persisted it yet, the
        saga's placeholder (PENDING, with its step)."""
        who = requester.principal
        try:
            return shown_to(who, await visible(self._repository, who, Action.READ, appointment_id))
        except AppointmentNotFound:
            # A Temporal visibility query: only for an appointment id, within the
            # caller's quota; past it the id reads as missing (application/quotas.py).
            if not self._quotas.may_look_up_pending(requester, appointment_id):
                raise
            pending = await self._sagas.pending_booking(appointment_id)
            if pending is None:
                raise
        authorize(who, Action.READ, Owners(pending.patient_id, pending.doctor_id))
        return shown_to(who, pending)


def booking_request(
    command: Book, requester: Requester, settings: Settings, over_patient_cap: bool = False
) -> BookingRequest:
    """The booking saga's request for ``command``: a new appointment id, the caller's
    context and the saga settings of this deployment."""
    new = command.appointment
    return BookingRequest(
        appointment_id=str(uuid.uuid4()),
        patient_id=new.patient_id,
        doctor_id=new.doctor_id,
        start=new.start,
        duration_minutes=new.duration_minutes,
        reason=new.reason,
        idempotency_key=command.idempotency_key,
        fingerprint=command.fingerprint(),
        caller=requester.context(),
        billing_outage_policy=settings.billing_outage_policy,
        billing_retry_max_interval_seconds=settings.billing_retry_max_interval_seconds,
        local_steps=settings.saga_local_steps,
        over_patient_cap=over_patient_cap,
        journey=Rules.of(settings.journey_rules),
        held=command.held,
    )
