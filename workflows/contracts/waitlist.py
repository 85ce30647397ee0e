"""The slot offer round (``SlotOfferWorkflow``): one run per freed slot, id derived from the
doctor and the start, so one slot never runs two rounds at once. How it is started (by the
saga that freed the slot, signal-with-start), what it is told (accept, decline, an entry
that left) and what it shows (the ``round`` query and the ``WaitlistStatus`` search
attribute)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.events import EventContext
from domain.journey import QuietHours
from domain.waitlist import OfferRules, Slot
from workflows.contracts.booking import BillingOutagePolicy
from workflows.contracts.journey import Rules

WORKFLOW = "SlotOfferWorkflow"
# The saga that freed the slot starts the round with this signal, or signals the running
# one (signal-with-start): a second freeing of the same slot joins the round.
SLOT_FREED_SIGNAL = "slot_freed"
# The API tells the round that the entry holding its open offer left (a hint: the round
# finds the offer withdrawn when it would have expired anyway).
ENTRY_LEFT_SIGNAL = "entry_left"
# Updates: the round decides, one at a time, so of 20 concurrent accepts one books.
ACCEPT_UPDATE = "accept"
DECLINE_UPDATE = "decline"
VIEW_QUERY = "round"
# The actor of what the round does itself (offers, expiries, the booking's events).
ACTOR = "system:waitlist"

# The update failures' types: the domain errors' class names (domain/waitlist.py), so
# the API raises the error the round names.
OFFER_NOT_FOUND = "OfferNotFound"
OFFER_EXPIRED = "OfferExpired"
OFFER_CLOSED = "OfferClosed"


def workflow_id(doctor_id: str, start: datetime) -> str:
    """``offer-<doctor>-<start, UTC, to the minute>``: the slot's one round."""
    return f"offer-{doctor_id}-{start.astimezone(UTC):%Y%m%dT%H%MZ}"


class FreedBy(StrEnum):
    CANCELLATION = "cancellation"
    RESCHEDULE = "reschedule"  # the old slot of a move
    ENTERED_IN_ERROR = "entered_in_error"
    HOLD_EXPIRED = "hold_expired"  # a booking whose hold ran out before it was confirmed
    WAITLIST = "waitlist"  # a waitlist booking that failed: the slot is offered again


class FreedSlot(BaseModel):
    model_config = ConfigDict(frozen=True)

    doctor_id: str
    start: AwareDatetime
    end: AwareDatetime
    freed_by: FreedBy
    appointment_id: str | None = None  # the appointment that held it

    def slot(self) -> Slot:
        return Slot(self.doctor_id, self.start.astimezone(UTC), self.end.astimezone(UTC))

    @property
    def round_id(self) -> str:
        return workflow_id(self.doctor_id, self.start)


class OfferTerms(BaseModel):
    """``domain.waitlist.OfferRules`` as the round's input carries them: the settings when
    the round started, for its whole life."""

    model_config = ConfigDict(frozen=True)

    offer_minutes: int = 15
    cutoff_minutes: int = 60
    quiet_hours: str | None = "21:00-08:00"
    timezone: str = "Europe/Berlin"

    @classmethod
    def of(cls, rules: OfferRules) -> OfferTerms:
        return cls(
            offer_minutes=rules.offer_minutes,
            cutoff_minutes=rules.cutoff_minutes,
            quiet_hours=str(rules.quiet_hours) if rules.quiet_hours else None,
            timezone=rules.timezone,
        )

    def rules(self) -> OfferRules:
        return OfferRules(
            offer_minutes=self.offer_minutes,
            cutoff_minutes=self.cutoff_minutes,
            quiet_hours=QuietHours.parse(self.quiet_hours or ""),
            timezone=self.timezone,
        )


class BookingTerms(BaseModel):
    """What the booking of an accepted offer is started with (the booking saga's settings
    of this deployment, captured when the round starts)."""

    model_config = ConfigDict(frozen=True)

    billing_outage_policy: BillingOutagePolicy = "compensate"
    billing_retry_max_interval_seconds: float = 60.0
    local_steps: bool = False
    journey: Rules | None = None


class OfferRoundRequest(BaseModel):
    slot: FreedSlot
    terms: OfferTerms
    booking: BookingTerms
    # Carried over by continue-as-new: the hold it has, the entries passed over (declined
    # or let expire: never offered this slot again), how many offers it made.
    hold_id: str | None = None
    hold_expires_at: AwareDatetime | None = None
    passed_over: tuple[str, ...] = ()
    offers_made: int = 0
    freed_at: AwareDatetime | None = None


class AcceptOffer(BaseModel):
    offer_id: str
    patient_id: str  # the offer's patient (the API checked the caller may act for them)
    caller: EventContext
    reason: str | None = None


class DeclineOffer(BaseModel):
    offer_id: str
    patient_id: str
    caller: EventContext


class OfferAccepted(BaseModel):
    offer_id: str
    appointment_id: str


class WaitlistStatus(StrEnum):
    """The ``WaitlistStatus`` search attribute: where the round stands."""

    HOLDING = "HOLDING"  # holding the slot, choosing whom to offer it to
    QUIET = "QUIET"  # holding it, waiting for the clinic's quiet hours to end
    OFFERED = "OFFERED"  # an offer is open
    BOOKING = "BOOKING"  # an offer was accepted: the booking saga runs
    BOOKED = "BOOKED"  # ended: the slot is booked again
    NO_CANDIDATE = "NO_CANDIDATE"  # ended: nobody (left) to offer it to; released
    CUTOFF = "CUTOFF"  # ended: too close to the start; released
    SLOT_TAKEN = "SLOT_TAKEN"  # ended: the slot was not free to hold


ENDED = frozenset(
    {
        WaitlistStatus.BOOKED,
        WaitlistStatus.NO_CANDIDATE,
        WaitlistStatus.CUTOFF,
        WaitlistStatus.SLOT_TAKEN,
    }
)


class OpenOffer(BaseModel):
    offer_id: str
    entry_id: str
    patient_id: str
    start: AwareDatetime
    end: AwareDatetime
    expires_at: AwareDatetime


class RoundView(BaseModel):
    """The ``round`` query's answer, for operators."""

    slot: FreedSlot
    status: WaitlistStatus
    offer: OpenOffer | None
    passed_over: tuple[str, ...]
    offers_made: int
    cutoff_at: AwareDatetime
    appointment_id: str | None = None


class RoundOutcome(BaseModel):
    status: WaitlistStatus
    offers_made: int
    appointment_id: str | None = None
