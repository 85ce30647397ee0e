"""One input model per activity (STYLE principle 2): fields are only ever added, as
optional, so a running saga keeps working across a deploy.

Each carries its ``caller``: the domain's ``EventContext`` of who asked (actor and request
id), which the activity completes with the saga run's ids for the event it writes."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.events import EventContext
from domain.waitlist import OfferStatus
from workflows.contracts.journey import Facts
from workflows.contracts.no_show_reversal import Target
from workflows.contracts.waitlist import FreedSlot, OpenOffer, WaitlistStatus


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True)


class PatientCheck(_Input):
    patient_id: str
    caller: EventContext


class SlotCheck(_Input):
    doctor_id: str
    start: AwareDatetime
    duration_minutes: int
    caller: EventContext
    # The booking's patient: their own hold on this very slot is not in the way (a check
    # run again after a crash meets the hold the booking took); the reservation, by its
    # key, decides whose it is. None: any hold is in the way.
    patient_id: str | None = None


class SlotReservation(_Input):
    doctor_id: str
    patient_id: str
    start: AwareDatetime
    duration_minutes: int
    idempotency_key: str  # the Doctor Service returns the same hold for the same key
    caller: EventContext
    # How long the hold lives; None: the deployment's slot_hold_minutes. A waitlist offer
    # round holds its slot until the round's cutoff.
    ttl_seconds: int | None = None


class HeldSlot(_Input):
    hold_id: str
    expires_at: AwareDatetime


class HoldAction(_Input):
    hold_id: str
    caller: EventContext


class NewAppointment(_Input):
    appointment_id: str
    patient_id: str
    doctor_id: str
    start: AwareDatetime
    duration_minutes: int
    reason: str | None = None
    hold_id: str
    idempotency_key: str  # becomes the event id: a retry after commit writes nothing twice
    caller: EventContext
    over_patient_cap: bool = False  # booked by staff over the patient's cap: in the reason


class InvoiceOrder(_Input):
    appointment_id: str
    patient_id: str
    idempotency_key: str  # Billing answers the same invoice for the same key
    caller: EventContext

    def voiding(self) -> InvoiceVoid:
        """Its compensation: void the invoice this order's key made, found by the key even
        when the creation's answer was lost."""
        return InvoiceVoid(
            appointment_id=self.appointment_id,
            idempotency_key=self.idempotency_key,
            caller=self.caller,
        )


class IssuedInvoice(_Input):
    invoice_id: str


class InvoiceVoid(_Input):
    appointment_id: str
    idempotency_key: str  # the key the invoice was ordered with
    caller: EventContext


class StatusChange(_Input):
    appointment_id: str
    idempotency_key: str  # becomes the event id
    reason: str | None = None
    invoice_id: str | None = None
    caller: EventContext


class AppointmentSnapshot(_Input):
    appointment_id: str
    status: str
    version: int
    # What the appointment's journey is told after a saga's change (None in answers of
    # runs recorded before the journey existed).
    start: AwareDatetime | None = None
    reminders_sent: tuple[int, ...] = ()


class AppointmentRef(_Input):
    appointment_id: str
    caller: EventContext


class CancellationPlan(_Input):
    """What cancelling needs, read once before anything changes."""

    version: int
    patient_id: str
    hold_id: str | None
    invoice_id: str | None
    fee_cents: int  # by the policy captured at booking
    # The slot the cancellation frees (offered to the waitlist after the commit point);
    # None in answers of workers from before the waitlist: nothing is offered then.
    doctor_id: str | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None


class FeeOrder(InvoiceOrder):
    """An invoice of a given amount (a late-change fee), not the price."""

    amount_cents: int
    what: str = "Late cancellation fee"  # the invoice's description, before the appointment


class InvoiceRef(_Input):
    invoice_id: str
    caller: EventContext


class Cancel(_Input):
    appointment_id: str
    expected_version: int  # the version the plan was made from: nothing changed since
    reason: str | None = None
    fee_invoice_id: str | None = None
    idempotency_key: str  # becomes the event id
    caller: EventContext


class RescheduleCheck(_Input):
    appointment_id: str
    start: AwareDatetime
    duration_minutes: int | None = None
    caller: EventContext


class ReschedulePlan(_Input):
    version: int
    patient_id: str
    doctor_id: str
    duration_minutes: int
    old_hold_id: str | None
    old_invoice_id: str | None
    # The late fee, by the policy captured at booking: a late reschedule is a late change.
    fee_cents: int = 0
    # The slot the move frees (offered to the waitlist after the commit point); None in
    # answers of workers from before the waitlist: nothing is offered then.
    old_start: AwareDatetime | None = None
    old_end: AwareDatetime | None = None


class Move(_Input):
    appointment_id: str
    expected_version: int
    start: AwareDatetime
    duration_minutes: int
    hold_id: str
    invoice_id: str
    reason: str | None = None
    idempotency_key: str  # becomes the event id
    caller: EventContext
    fee_invoice_id: str | None = None  # the late fee's invoice, if the move was late


class DeferredInvoice(_Input):
    """The invoice of a booking made while Billing was unreachable; None when the
    appointment no longer awaits one (cancelled, or invoiced by a reschedule meanwhile)."""

    invoice_id: str | None = None


class InvoiceRecord(_Input):
    appointment_id: str
    invoice_id: str
    idempotency_key: str  # becomes the event id
    caller: EventContext


class InvoiceRecorded(_Input):
    recorded: bool  # False: the appointment no longer awaits it (cancelled meanwhile)


class Withdrawal(_Input):
    """Undo a booking after its commit point (Billing refused the late invoice): CANCELLED,
    since a SCHEDULED appointment cannot become FAILED."""

    appointment_id: str
    reason: str
    idempotency_key: str  # becomes the event id
    caller: EventContext


class Withdrawn(_Input):
    withdrawn: bool  # False: nothing to undo any more (cancelled meanwhile, or checked in)


# --- the no-show reversal (workflows/no_show_reversal.py) --------------------------------


class NoShowReversalPlan(_Input):
    """What reversing a no-show needs, read once before anything changes."""

    version: int
    no_show_invoice_id: str | None  # the fee to void (None: the no-show had no fee)


class NoShowReversal(_Input):
    appointment_id: str
    expected_version: int  # the version the plan was made from: nothing changed since
    target: Target  # CHECKED_IN or COMPLETED, as staff say
    reason: str | None = None
    idempotency_key: str  # becomes the event id
    caller: EventContext


class NoShowFeeVoid(_Input):
    """The reversed no-show's fee, voided at Billing: to record on the appointment."""

    appointment_id: str
    invoice_id: str
    idempotency_key: str  # becomes the event id
    caller: EventContext


# --- the journey (workflows/journey.py) -----------------------------------------------


class JourneyRef(_Input):
    appointment_id: str


class ReminderOrder(_Input):
    appointment_id: str
    start: AwareDatetime  # the start the reminder is for: one moved since gets none
    offset_minutes: int
    idempotency_key: str  # becomes the event id


class ReminderResult(_Input):
    facts: Facts  # the appointment as the activity found (or left) it
    sent: bool


class NoShowCheck(_Input):
    appointment_id: str
    start: AwareDatetime  # the start the check is for


class NoShowPlan(_Input):
    facts: Facts
    applies: bool  # still SCHEDULED or CONFIRMED at that start, and the start has passed
    patient_id: str
    fee_cents: int  # the no-show fee agreed at booking


class NoShowRecord(_Input):
    appointment_id: str
    start: AwareDatetime
    fee_invoice_id: str | None = None
    idempotency_key: str  # becomes the event id


class NoShowRecorded(_Input):
    facts: Facts
    recorded: bool  # False: it no longer applied (checked in, moved, cancelled meanwhile)


# --- the waitlist's offer round (workflows/waitlist_offers.py) ----------------------------


class CandidateQuery(_Input):
    slot: FreedSlot
    passed_over: tuple[str, ...] = ()  # entries never offered this slot again


class Candidates(_Input):
    count: int  # how many entries the slot could be offered to now


class RoundHold(_Input):
    """The round holds its slot until ``held_until`` (its cutoff): staff are told so."""

    round_id: str
    doctor_id: str
    start: AwareDatetime
    end: AwareDatetime
    held_until: AwareDatetime


class OfferOrder(_Input):
    round: RoundHold
    offer_id: str  # the offer's id, made by the round; the event's key is <round>/<offer>
    offered_at: AwareDatetime
    expires_at: AwareDatetime
    passed_over: tuple[str, ...] = ()


class OfferMade(_Input):
    offer: OpenOffer | None  # None: nobody (left) to offer the slot to


class OfferClosing(_Input):
    entry_id: str
    offer_id: str
    outcome: OfferStatus  # EXPIRED or DECLINED
    idempotency_key: str  # becomes the event id
    reason: str | None = None  # why it expired early (booking_failed)


class OfferClosed(_Input):
    closed: bool  # False: it was not open any more (withdrawn, or closed by a retry)


class Fulfilment(_Input):
    entry_id: str
    offer_id: str
    appointment_id: str
    idempotency_key: str  # becomes the event id


class RoundEnd(_Input):
    round_id: str
    outcome: WaitlistStatus
    freed_at: AwareDatetime | None = None  # for the time from freed to booked
