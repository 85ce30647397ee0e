"""The booking saga (``BookingWorkflow``): how it is started, what it shows while it runs,
what it ends with, and the update the API waits on."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel

from domain.events import EventContext
from workflows.contracts import saga
from workflows.contracts.journey import Rules

WORKFLOW = "BookingWorkflow"
SAGA = "booking"  # how workflow ids and answers name it
# Update-with-start: one call starts the run (or joins the one the key started) and
# returns its progress once the booking is SCHEDULED, or raises the saga's failure.
ANSWER_UPDATE = "answer"
PROGRESS_QUERY = "progress"
# The ``answer`` update's refusal of a request that reuses a key with another body.
KEY_REUSED = "IdempotencyKeyReused"
# The fault type of a booking whose retries ran out (a refusal keeps its own type).
FAILED = "BookingFailed"

BillingOutagePolicy = Literal["compensate", "retry"]


def workflow_id(actor: str, idempotency_key: str) -> str:
    """One run per caller and key: a retried request joins it, never starts a second."""
    return saga.workflow_id(SAGA, actor, idempotency_key)


def legacy_workflow_id(idempotency_key: str) -> str:
    """The key's run as it was named before keys were scoped to their caller."""
    return saga.legacy_workflow_id(SAGA, idempotency_key)


class BookingStatus(StrEnum):
    """The ``BookingStatus`` search attribute and the progress's status."""

    PENDING = "PENDING"  # the saga is running
    SCHEDULED = "SCHEDULED"
    # SCHEDULED while Billing was unreachable (billing outage policy "retry"): the run waits
    # on Billing to create the invoice, then records it and turns SCHEDULED
    AWAITING_BILLING = "AWAITING_BILLING"
    REJECTED = "REJECTED"  # a business refusal: unknown patient, slot taken, ...
    FAILED = "FAILED"  # a fault the retries could not overcome; compensated


# Whom the API answers 201: SCHEDULED, also while the run still waits on Billing for the
# invoice (billing outage policy "retry").
ANSWERED = frozenset({BookingStatus.SCHEDULED, BookingStatus.AWAITING_BILLING})


class WaitlistHold(BaseModel):
    """The slot hold of a waitlist offer round (workflows/waitlist_offers.py): a booking of
    an accepted offer uses it instead of taking its own, so the slot is never free in
    between. The round owns it: the booking confirms it, and never releases it on failure
    (the round offers the slot to the next candidate)."""

    hold_id: str
    expires_at: AwareDatetime
    round_id: str
    offer_id: str


class AdoptedHold(BaseModel):
    """A slot hold the caller took before booking (the FHIR door's ``Appointment/$hold``):
    the booking confirms it instead of taking its own, as it does a waitlist round's hold.
    It never checks, takes or releases a hold (an unconfirmed hold expires by itself)."""

    hold_id: str
    expires_at: AwareDatetime


class BookingRequest(BaseModel):
    appointment_id: str
    patient_id: str
    doctor_id: str
    start: AwareDatetime
    duration_minutes: int
    reason: str | None = None
    idempotency_key: str
    fingerprint: str  # of the request body: the same key with another body is refused
    caller: EventContext  # who asked: actor and request id
    # Captured from the settings when the run starts, so it holds for the run's whole life
    # (the defaults are what runs started before these fields existed did).
    billing_outage_policy: BillingOutagePolicy = "compensate"
    billing_retry_max_interval_seconds: float = 60.0
    # Forward steps as local activities (settings.saga_local_steps). False for runs started
    # before the field existed: they replay with the regular activities they ran.
    local_steps: bool = False
    # Staff or admin booked over the patient's cap of active appointments
    # (application/quotas.py): the appointment.requested event's reason says so.
    over_patient_cap: bool = False
    # The journey's rules, captured from the settings when the run starts: once SCHEDULED,
    # the saga starts the appointment's journey with them. None (runs started before
    # journeys existed): no journey; `appointment-service journey backfill` starts it.
    journey: Rules | None = None
    # The booking of an accepted waitlist offer: the round's hold. None: the saga checks
    # the slot and holds it itself.
    waitlist: WaitlistHold | None = None
    # A hold the caller took beforehand (``Appointment/$hold``): booked on it the same way
    # as on the waitlist's. None: the saga holds the slot itself (unless ``waitlist``).
    held: AdoptedHold | None = None

    def adopted_hold(self) -> AdoptedHold | WaitlistHold | None:
        """The hold this booking confirms without taking it: the round's, or the caller's."""
        return self.waitlist or self.held


class BookingProgress(BaseModel):
    appointment_id: str
    fingerprint: str
    status: BookingStatus
    step: str
    failed_step: str | None = None
    error_type: str | None = None
    error_detail: str | None = None


class BookingOutcome(BaseModel):
    appointment_id: str
    status: str
    hold_id: str
    invoice_id: str | None  # None: booked while Billing was down, then cancelled uninvoiced


# What the run returns: its outcome, or the business refusal it ended with (its run
# Completed, ``saga.SagaRejected``).
BookingResult = BookingOutcome | saga.SagaRejected
