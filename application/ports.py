"""The ports of the application layer: what the use cases (and the activities) need from
the outside, as Protocols. The real adapters are wired in one place (``adapters.wiring``);
tests put in-memory fakes behind the same Protocols (``tests/fakes``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.results import PendingBooking, SagaAnswer, ScheduleEntry
from domain.events import AppointmentEvent
from domain.model import Appointment, Change
from domain.schedule import WorkingCalendar
from domain.status import AppointmentStatus
from domain.waitlist import EntryStatus, Slot, WaitlistChange, WaitlistEntry
from workflows.contracts.booking import BookingRequest
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.no_show_reversal import NoShowReversalRequest
from workflows.contracts.reschedule import RescheduleRequest
from workflows.contracts.waitlist import AcceptOffer, DeclineOffer, FreedSlot, OfferAccepted


@dataclass(frozen=True, slots=True)
class AppointmentFilter:
    """What a list query selects; every given criterion must hold. Starts are in the
    half-open interval [start_from, start_to)."""

    doctor_id: str | None = None
    patient_id: str | None = None
    statuses: frozenset[AppointmentStatus] = field(default_factory=frozenset)
    start_from: datetime | None = None
    start_to: datetime | None = None


class AppointmentRepository(Protocol):
    """The write model: appointments, their events, and the unit of work that changes them
    (``persistence.AppointmentStore``)."""

    async def get(self, appointment_id: str) -> Appointment | None: ...

    async def history(
        self, appointment_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[AppointmentEvent]:
        """The appointment's events with a seq above ``after_seq``, in seq order: up to
        ``limit`` of them (None: all)."""
        ...

    async def event(self, event_id: str) -> AppointmentEvent | None:
        """The stored event with this id: a change whose event is stored was applied."""
        ...

    async def find(
        self, where: AppointmentFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Appointment]:
        """Up to ``limit`` matches in (start, id) order, after the keyset position."""
        ...

    async def count(self, where: AppointmentFilter) -> int:
        """How many appointments match ``where`` (a FHIR searchset's ``total``)."""
        ...

    async def commit(self, change: Change) -> Appointment:
        """State, event and outbox row in one transaction; idempotent by the event id,
        refused (ConcurrencyConflict) unless the stored version is the expected one, and
        (SlotUnavailable) when it would overlap another active appointment."""
        ...


class SagaGateway(Protocol):
    """Starts a saga as the run ``workflow_id``, or joins that run if it was started
    already, and waits for its answer up to ``wait_seconds`` (``adapters.temporal``). Which
    run a request names is the use case's decision (``application.saga_runs``). A refused
    or failed saga raises the domain error it names, ``SagaCancelled`` or ``SagaFailed``;
    a run joined with another request raises ``IdempotencyKeyReused``."""

    async def book(
        self, request: BookingRequest, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer: ...

    async def cancel(
        self, request: CancellationRequest, on: Appointment, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer: ...

    async def reschedule(
        self, request: RescheduleRequest, on: Appointment, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer: ...

    async def reverse_no_show(
        self,
        request: NoShowReversalRequest,
        on: Appointment,
        workflow_id: str,
        wait_seconds: float,
    ) -> SagaAnswer: ...

    async def started_by(self, workflow_id: str) -> str | None:
        """The actor who started the saga run ``workflow_id`` (its request's caller);
        None when no run has that id."""
        ...

    async def pending_booking(self, appointment_id: str) -> PendingBooking | None:
        """A booking whose saga runs but has not persisted its appointment yet."""
        ...


class DoctorCalendars(Protocol):
    """The Doctor Service's calendar of a doctor: zone, slot length, working hours. Raises
    DoctorNotFound, or PeerUnavailable while the service cannot be asked."""

    async def calendar(self, doctor_id: str) -> WorkingCalendar: ...


@dataclass(frozen=True, slots=True)
class SlotHold:
    """A slot hold at the Doctor Service: its slot, for whom, until when, and its state
    (HELD, CONFIRMED, RELEASED, EXPIRED)."""

    hold_id: str
    doctor_id: str
    patient_id: str
    start: datetime
    end: datetime
    status: str
    expires_at: datetime


class DoctorDesk(Protocol):
    """The Doctor Service's slot holds, as the FHIR door's use cases ask them
    (``adapters.doctor_desk.DoctorDeskClient``). Raises PeerUnavailable while the service
    cannot be asked."""

    async def hold(
        self,
        doctor_id: str,
        start: datetime,
        minutes: int,
        patient_id: str,
        ttl_seconds: int,
        idempotency_key: str,
    ) -> SlotHold:
        """Hold the slot; the same key always answers the same hold. Raises
        SlotUnavailable (taken or held), SlotNotOffered or DoctorNotFound."""
        ...

    async def hold_of(self, hold_id: str) -> SlotHold | None:
        """The hold ``hold_id``; None when the Doctor Service does not know it."""
        ...

    async def held(self, doctor_id: str) -> list[SlotHold]:
        """The doctor's holds that are HELD (taken, neither confirmed nor let go)."""
        ...


@dataclass(frozen=True, slots=True)
class DoctorProfile:
    """A doctor as a Schedule shows them: who, and their specialty."""

    id: str
    name: str
    specialty: str


class Doctors(Protocol):
    """The Doctor Service's doctors (peers.DoctorClient)."""

    async def profile(self, doctor_id: str) -> DoctorProfile:
        """Raises ``DoctorNotFound`` for a doctor it does not know."""
        ...

    async def profiles(self) -> list[DoctorProfile]: ...


class ScheduleView(Protocol):
    """The CQRS read view (``projections.queries``): eventually consistent, with names."""

    async def doctor_schedule(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> list[ScheduleEntry]:
        """Starting in [from, to), by start; every status but FAILED."""
        ...

    async def patient_appointments(
        self,
        patient_id: str,
        start_from: datetime,
        start_to: datetime,
        *,
        doctor_id: str | None = None,
    ) -> list[ScheduleEntry]: ...

    async def appointment(self, appointment_id: str) -> ScheduleEntry | None: ...

    async def busy(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> Sequence[tuple[datetime, datetime]]:
        """(start, end) of the doctor's active appointments starting in [from, to)."""
        ...


class Readiness(Protocol):
    """What the readiness probe reports (``adapters.readiness``)."""

    async def checks(self) -> dict[str, str]:
        """Each dependency the service cannot serve without: "ok" or why not."""
        ...

    def breakers(self) -> dict[str, str]:
        """This process's circuit breaker of each peer: closed, open or half_open."""
        ...


class JourneyNews(Protocol):
    """Tells the appointment's journey (workflows/journey.py) what a committed change
    made of it, so that it plans again at once: a check-in cancels the no-show check, an
    end ends the journey (``adapters.temporal.TemporalJourneyNews``). A hint, never the
    truth: the journey re-reads the store before it acts, so news that is lost costs only
    a timer that fires for nothing. Never raises: the change is committed already."""

    async def changed(self, appointment: Appointment) -> None: ...


class LifecycleCounts(Protocol):
    """Counts the status changes people make through the API (``telemetry.lifecycle``):
    a change to ``status`` committed, asked through ``channel`` (rest, graphql, link).
    Only committed changes count, never an idempotent replay."""

    def committed(self, status: AppointmentStatus, channel: str) -> None: ...


# --- the waitlist (domain/waitlist.py) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """What a waitlist list query selects; every given criterion must hold."""

    patient_id: str | None = None
    doctor_id: str | None = None
    statuses: frozenset[EntryStatus] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class OfferRound:
    """A slot an offer round holds for the waitlist (``waitlist_rounds``): staff who try to
    book it are told until when. ``held_until``: the round's cutoff, the latest it lets the
    slot go; ``offer_expires_at``: when the open offer, if any, expires."""

    round_id: str
    doctor_id: str
    start: datetime
    end: datetime
    held_until: datetime
    offer_expires_at: datetime | None = None


class WaitlistRepository(Protocol):
    """Waitlist entries and the unit of work that changes them
    (``persistence.waitlist_store.WaitlistStore``), and the rounds holding slots."""

    async def get(self, entry_id: str) -> WaitlistEntry | None: ...

    async def by_offer(self, offer_id: str) -> WaitlistEntry | None:
        """The entry that was made the offer ``offer_id`` (open or closed)."""
        ...

    async def find(
        self, where: EntryFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[WaitlistEntry]:
        """Up to ``limit`` matches in (joined_at, id) order, after the keyset position."""
        ...

    async def count(self, where: EntryFilter) -> int:
        """How many entries match ``where`` (every page of ``find``)."""
        ...

    async def active_count(self, patient_id: str) -> int:
        """The patient's WAITING and OFFERED entries."""
        ...

    async def waiting_for(self, slot: Slot) -> list[WaitlistEntry]:
        """The WAITING entries of the slot's doctor whose window holds its start and whose
        duration fits (any order; ``domain.waitlist.candidates`` ranks them)."""
        ...

    async def passed(self, now: datetime, limit: int) -> list[WaitlistEntry]:
        """Active entries whose window has passed (they leave by themselves)."""
        ...

    async def commit(self, change: WaitlistChange) -> WaitlistEntry:
        """Entry, event and outbox row in one transaction; idempotent by the event id;
        ConcurrencyConflict unless the stored version is the expected one, or when the
        patient already holds another open offer."""
        ...

    async def round_holding(
        self, doctor_id: str, start: datetime, end: datetime
    ) -> OfferRound | None:
        """The running round whose held slot overlaps [start, end), if any."""
        ...

    async def save_round(self, offer_round: OfferRound) -> None:
        """Record (or update) a round that holds its slot. Idempotent."""
        ...

    async def end_round(self, round_id: str) -> None:
        """The round let its slot go (or booked it). Idempotent."""
        ...


class RoundEnded(Exception):
    """The offer's round has ended, so an answer cannot reach it: the use case answers
    from the stored entry instead (accepted, expired, ...)."""


class OfferRounds(Protocol):
    """The offer rounds on Temporal (``adapters.temporal.TemporalOfferRounds``)."""

    async def accept(
        self, entry: WaitlistEntry, accept: AcceptOffer, wait_seconds: float
    ) -> OfferAccepted | None:
        """The round books the offer (its ``accept`` update); raises OfferExpired,
        OfferClosed or OfferNotFound as the round decides, or the booking's refusal, or
        RoundEnded. None: the round took the answer and still books after
        ``wait_seconds`` (it goes on: the entry names the appointment once booked)."""
        ...

    async def decline(self, entry: WaitlistEntry, decline: DeclineOffer) -> None:
        """The round closes the offer and moves on (its ``decline`` update); raises as
        ``accept`` does."""
        ...

    async def entry_left(self, entry: WaitlistEntry, offer_id: str) -> None:
        """A hint to the round whose offer the entry held: move on now. Never raises."""
        ...

    async def slot_freed(self, slot: FreedSlot) -> None:
        """Start the slot's round, or tell the running one (signal-with-start)."""
        ...
