"""In-memory fakes of the application layer's ports (``application/ports.py``), for the
use-case tests, the doors' tests and the activity tests: they keep the real adapters'
promises (the unit of work's idempotency, optimistic concurrency and overlap refusal; a
saga's join-by-key and its commit) so a test of a use case means what it says. The real
adapters keep the same promises against the real servers (tests/integration,
tests/e2e)."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from adapters.readiness import ServiceReadiness
from application.errors import IdempotencyKeyReused, Refused
from application.ports import (
    AppointmentFilter,
    DoctorProfile,
    LifecycleCounts,
    Readiness,
    SlotHold,
)
from application.quotas import Quotas
from application.results import PendingBooking, SagaAnswer, SagaDone, SagaRunning, ScheduleEntry
from application.services import Services
from config import Settings, load_settings
from domain import model
from domain.clock import Clock, now_utc
from domain.errors import (
    ConcurrencyConflict,
    DoctorNotFound,
    DomainError,
    IllegalTransition,
    PeerUnavailable,
    SlotUnavailable,
)
from domain.events import AppointmentEvent, EventContext, event_id_for
from domain.model import Appointment, Change
from domain.rules import BookingLimits, validate_requested_time
from domain.schedule import WorkingCalendar, WorkingInterval
from domain.status import AppointmentStatus
from domain.waitlist import Offer, WaitlistEntry
from peers.breaker import CircuitBreaker
from tests.waitlist_fakes import FakeOfferRounds, FakeWaitlistRepository
from workflows.contracts.booking import BookingRequest
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.no_show_reversal import NoShowReversalRequest
from workflows.contracts.reschedule import RescheduleRequest
from workflows.contracts.waitlist import AcceptOffer

BERLIN = ZoneInfo("Europe/Berlin")


class FakeRepository:
    """The unit of work in memory: idempotent by event id, a change applies only at its
    expected version, and active appointments of one doctor never overlap."""

    def __init__(self) -> None:
        self.appointments: dict[str, Appointment] = {}
        self.events: dict[str, AppointmentEvent] = {}
        self.commits = 0  # changes actually written

    async def get(self, appointment_id: str) -> Appointment | None:
        return self.appointments.get(appointment_id)

    async def history(
        self, appointment_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[AppointmentEvent]:
        found = [
            e
            for e in self.events.values()
            if e.appointment_id == appointment_id and e.seq > after_seq
        ]
        return sorted(found, key=lambda e: e.seq)[:limit]

    async def event(self, event_id: str) -> AppointmentEvent | None:
        return self.events.get(event_id)

    async def find(
        self, where: AppointmentFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Appointment]:
        def matches(a: Appointment) -> bool:
            return (
                where.doctor_id in (None, a.doctor_id)
                and where.patient_id in (None, a.patient_id)
                and (not where.statuses or a.status in where.statuses)
                and (where.start_from is None or a.start >= where.start_from)
                and (where.start_to is None or a.start < where.start_to)
                and (after is None or (a.start, a.id) > after)
            )

        ordered = sorted(self.appointments.values(), key=lambda a: (a.start, a.id))
        return [a for a in ordered if matches(a)][:limit]

    async def count(self, where: AppointmentFilter) -> int:
        return len(await self.find(where, after=None, limit=len(self.appointments)))

    async def commit(self, change: Change) -> Appointment:
        event, state = change.event, change.state
        known = self.events.get(event.event_id)
        if known is not None:
            if known.appointment_id != event.appointment_id:
                raise ConcurrencyConflict("this idempotency key was used for another change")
            return self.appointments[state.id]
        stored = self.appointments.get(state.id)
        if change.expected_version is None and stored is not None:
            raise ConcurrencyConflict("the appointment already exists")
        if change.expected_version is not None and (
            stored is None or stored.version != change.expected_version
        ):
            raise ConcurrencyConflict(
                f"appointment {state.id} changed since version {change.expected_version}"
            )
        if state.status.occupies_slot and self._overlaps(state):
            raise SlotUnavailable("the doctor already has an appointment at this time")
        self.appointments[state.id] = state
        self.events[event.event_id] = event
        self.commits += 1
        return state

    def _overlaps(self, state: Appointment) -> bool:
        cells = set(state.cells)
        return any(
            other.id != state.id
            and other.doctor_id == state.doctor_id
            and other.status.occupies_slot
            and cells & set(other.cells)
            for other in self.appointments.values()
        )

    # --- planting state, as a saga or an earlier request would have left it -------------

    async def plant(
        self,
        *,
        patient_id: str = "pat-anna-schmidt",
        doctor_id: str = "doc-on-call",
        start: datetime | None = None,
        duration_minutes: int = 15,
        status: AppointmentStatus = AppointmentStatus.SCHEDULED,
        actor: str = "staff:frontdesk-1",
    ) -> Appointment:
        """An appointment booked (and moved on to ``status``) as the sagas would have."""
        start = start or datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
        start = start - timedelta(minutes=start.minute % 5)
        return await plant_into(
            self.commit,
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=start,
            duration_minutes=duration_minutes,
            status=status,
            actor=actor,
        )


_S = AppointmentStatus
# The transitions that lead from PENDING to each status.
PATHS: dict[AppointmentStatus, tuple[AppointmentStatus, ...]] = {
    _S.PENDING: (),
    _S.SCHEDULED: (_S.SCHEDULED,),
    _S.CONFIRMED: (_S.SCHEDULED, _S.CONFIRMED),
    _S.CHECKED_IN: (_S.SCHEDULED, _S.CHECKED_IN),
    _S.COMPLETED: (_S.SCHEDULED, _S.CHECKED_IN, _S.COMPLETED),
    _S.CANCELLED: (_S.SCHEDULED, _S.CANCELLED),
    _S.NO_SHOW: (_S.SCHEDULED, _S.NO_SHOW),
    _S.FAILED: (_S.FAILED,),
}


async def plant_into(
    commit: Callable[[Change], Awaitable[Appointment]],
    *,
    patient_id: str,
    doctor_id: str,
    start: datetime,
    duration_minutes: int = 15,
    status: AppointmentStatus = AppointmentStatus.SCHEDULED,
    actor: str = "staff:frontdesk-1",
    held: bool = True,
    reason: str | None = "planted",
    appointment_id: str | None = None,
    workflow_id: str | None = None,
    context: EventContext | None = None,
) -> Appointment:
    """An appointment requested and moved on to ``status`` change by change through
    ``commit`` (the fake repository's, or the real store's), as the booking saga
    ``workflow_id`` would have: with a hold and an invoice unless not ``held`` (then no
    saga has a peer's step to undo), its ids derived from the run's."""
    appointment_id = appointment_id or str(uuid.uuid4())
    key = workflow_id or appointment_id  # what the changes' ids derive from
    # Booked, scheduled and confirmed before the start (nothing is confirmed after it:
    # AppointmentStarted), so a planted past appointment has a history that could be.
    booked_at = min(now_utc(), start - timedelta(hours=1))
    context = context or EventContext(actor=actor, workflow_id=f"booking-{appointment_id}")
    current = await commit(
        model.request(
            appointment_id=appointment_id,
            event_id=event_id_for(f"{key}/pending"),
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=start,
            duration_minutes=duration_minutes,
            timezone="Europe/Berlin",
            reason=reason,
            hold_id=f"hold-{key}" if held else None,
            now=booked_at,
            context=context,
        )
    )
    for target in PATHS[status]:
        # A no-show is recorded only once the appointment has begun (NoShowBeforeStart);
        # what follows the confirmation happens now.
        if target is _S.NO_SHOW:
            at = max(now_utc(), start)
        elif target is _S.SCHEDULED or target in model.BEFORE_THE_START_ONLY:
            at = booked_at
        else:
            at = now_utc()
        invoiced = held and target is _S.SCHEDULED
        current = await commit(
            model.transition(
                current,
                target,
                event_id=event_id_for(f"{key}/{target}"),
                now=at,
                context=context,
                **({"invoice_id": f"inv-{key}"} if invoiced else {}),
            )
        )
    return current


@dataclass
class FakeSagas:
    """The saga gateway: each saga runs at once against the fake repository, as the real
    one would end (booked, cancelled, moved), joined by its workflow id like Temporal's
    runs, and knows who started each (``started_by``).
    ``answer`` overrides what every call answers: an exception to raise, or ``"running"``
    for a saga that outlasts the wait. Like a Temporal run, a key's run keeps its outcome,
    a refusal too: retrying the key answers it again and never runs a second saga. A
    booking still running is ``pending`` until it persists its appointment."""

    repository: FakeRepository
    answer: BaseException | str | None = None
    requests: list[Any] = field(default_factory=list)
    pending: dict[str, PendingBooking] = field(default_factory=dict)
    clock: Clock = now_utc  # what the reschedule saga checks the new time against
    limits: BookingLimits = field(default_factory=BookingLimits)
    workflow_ids: list[str] = field(default_factory=list)  # of the runs asked for, in order
    # workflow id -> the request's fingerprint, and the run's answer or refusal
    _runs: dict[str, tuple[str, SagaAnswer | Exception]] = field(default_factory=dict)
    _started_by: dict[str, str] = field(default_factory=dict)  # workflow id -> actor

    async def book(
        self, request: BookingRequest, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer:
        async def saga() -> SagaAnswer:
            await plant_into(
                self.repository.commit,
                appointment_id=request.appointment_id,
                workflow_id=workflow_id,
                patient_id=request.patient_id,
                doctor_id=request.doctor_id,
                start=request.start.astimezone(UTC),
                duration_minutes=request.duration_minutes,
                reason=request.reason,
                context=dataclasses.replace(request.caller, workflow_id=workflow_id),
            )
            return SagaDone(request.appointment_id)

        answer = await self._run(workflow_id, request, request.appointment_id, wait_seconds, saga)
        if isinstance(answer, SagaRunning):  # not persisted yet: found as pending
            self.pending.setdefault(
                answer.appointment_id,
                PendingBooking(
                    id=answer.appointment_id,
                    patient_id=request.patient_id,
                    doctor_id=request.doctor_id,
                    workflow_id=workflow_id,
                ),
            )
        return answer

    async def cancel(
        self, request: CancellationRequest, on: Appointment, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer:
        def cancelled(workflow_id: str) -> Change:
            return model.transition(
                on,
                AppointmentStatus.CANCELLED,
                event_id=event_id_for(f"{workflow_id}/cancelled"),
                now=now_utc(),
                context=dataclasses.replace(request.caller, reason=request.reason),
            )

        return await self._change(workflow_id, request, on, wait_seconds, cancelled)

    async def reschedule(
        self, request: RescheduleRequest, on: Appointment, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer:
        def moved(workflow_id: str) -> Change:
            # prepare_reschedule: an appointment that cannot move, then the booking rules
            if on.status not in model.RESCHEDULABLE:
                raise IllegalTransition(on.status.value, "rescheduled")
            duration = request.duration_minutes or on.duration_minutes
            validate_requested_time(request.start, duration, self.clock(), self.limits)
            return model.reschedule(
                on,
                start=request.start.astimezone(UTC),
                duration_minutes=duration,
                hold_id=f"hold-{workflow_id}",
                invoice_id=f"inv-{workflow_id}",
                event_id=event_id_for(f"{workflow_id}/moved"),
                now=now_utc(),
                context=dataclasses.replace(request.caller, reason=request.reason),
            )

        return await self._change(workflow_id, request, on, wait_seconds, moved)

    async def reverse_no_show(
        self,
        request: NoShowReversalRequest,
        on: Appointment,
        workflow_id: str,
        wait_seconds: float,
    ) -> SagaAnswer:
        """Reversed by the saga's clock (the 24 h rule), then the fee voided and recorded."""

        async def saga() -> SagaAnswer:
            context = dataclasses.replace(request.caller, workflow_id=workflow_id)
            reversed_ = await self.repository.commit(
                model.reverse_no_show(
                    on,
                    AppointmentStatus(request.target),
                    event_id=event_id_for(f"{workflow_id}/reversed"),
                    now=self.clock(),
                    context=dataclasses.replace(context, reason=request.reason),
                )
            )
            if reversed_.no_show_invoice_id:
                await self.repository.commit(
                    model.record_no_show_fee_voided(
                        reversed_,
                        invoice_id=reversed_.no_show_invoice_id,
                        event_id=event_id_for(f"{workflow_id}/fee-voided"),
                        now=self.clock(),
                        context=context,
                    )
                )
            return SagaDone(on.id)

        return await self._run(workflow_id, request, on.id, wait_seconds, saga)

    async def _change(
        self,
        workflow_id: str,
        request: CancellationRequest | RescheduleRequest,
        on: Appointment,
        wait_seconds: float,
        change: Callable[[str], Change],
    ) -> SagaAnswer:
        """A saga that ends in one change of ``on``: the one ``change`` makes (or refuses)."""

        async def saga() -> SagaAnswer:
            await self.repository.commit(change(workflow_id))
            return SagaDone(on.id)

        return await self._run(workflow_id, request, on.id, wait_seconds, saga)

    async def pending_booking(self, appointment_id: str) -> PendingBooking | None:
        return self.pending.get(appointment_id)

    async def started_by(self, workflow_id: str) -> str | None:
        return self._started_by.get(workflow_id)

    async def _run(
        self,
        workflow_id: str,
        request: Any,
        appointment_id: str,
        wait_seconds: float,
        saga: Callable[[], Any],
    ) -> SagaAnswer:
        self.requests.append(request)
        self.workflow_ids.append(workflow_id)
        if workflow_id in self._runs:  # the key's run: joined, or refused for another body
            fingerprint, recorded = self._runs[workflow_id]
            if fingerprint != request.fingerprint:
                raise IdempotencyKeyReused()
            if isinstance(recorded, Exception):
                raise recorded
            return recorded
        self._started_by[workflow_id] = request.caller.actor
        try:
            if isinstance(self.answer, BaseException):
                raise self.answer
            if self.answer == "running" or wait_seconds <= 0:
                answer: SagaAnswer = SagaRunning(appointment_id, workflow_id)
            else:
                answer = await saga()
        except (DomainError, Refused) as refusal:  # how the run ended: its outcome for good
            self._runs[workflow_id] = (request.fingerprint, refusal)
            raise
        self._runs[workflow_id] = (request.fingerprint, answer)
        return answer


# The seeded on-call doctor's calendar: every day 07:00-21:00 Berlin, a 15-minute grid.
ON_CALL = WorkingCalendar(
    "Dr. Noah Fischer (on call)",
    BERLIN,
    15,
    tuple(WorkingInterval(day, time(7), time(21)) for day in range(7)),
)


@dataclass
class FakeCalendars:
    calendars: dict[str, WorkingCalendar] = field(default_factory=lambda: {"doc-on-call": ON_CALL})
    down: bool = False
    anyone: WorkingCalendar | None = None  # the calendar of a doctor not in ``calendars``
    specialty: str = "General practice"  # every doctor's, as ``profile`` tells it

    async def calendar(self, doctor_id: str) -> WorkingCalendar:
        if self.down:
            raise PeerUnavailable("doctor", "HTTP 503")
        found = self.calendars.get(doctor_id, self.anyone)
        if found is None:
            raise DoctorNotFound(f"no doctor {doctor_id}")
        return found

    async def profile(self, doctor_id: str) -> DoctorProfile:
        """``application.ports.Doctors``: the doctors of ``calendars`` (and ``anyone``)."""
        calendar = await self.calendar(doctor_id)
        return DoctorProfile(doctor_id, calendar.doctor_name, self.specialty)

    async def profiles(self) -> list[DoctorProfile]:
        return [await self.profile(doctor_id) for doctor_id in sorted(self.calendars)]


@dataclass
class FakeDoctorDesk:
    """The Doctor Service's slot holds (``application.ports.DoctorDesk``), keeping
    its promises: one hold per key (the same key answers the same hold), a slot held or
    booked (``booked``) is refused ``SlotUnavailable``, an unknown doctor ``DoctorNotFound``.
    ``confirm`` books a hold as the saga's confirm step would."""

    doctors: frozenset[str] = frozenset({"doc-on-call"})
    holds: dict[str, SlotHold] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> hold id
    asked: list[str] = field(default_factory=list)  # the calls, by name
    clock: Clock = now_utc

    async def hold(
        self,
        doctor_id: str,
        start: datetime,
        minutes: int,
        patient_id: str,
        ttl_seconds: int,
        idempotency_key: str,
    ) -> SlotHold:
        self.asked.append("hold")
        if idempotency_key in self.keys:
            return self.holds[self.keys[idempotency_key]]
        if doctor_id not in self.doctors:
            raise DoctorNotFound(f"no doctor {doctor_id}")
        end, now = start + timedelta(minutes=minutes), self.clock()
        for other in self.holds.values():
            alive = other.status == "CONFIRMED" or (
                other.status == "HELD" and other.expires_at > now
            )
            if other.doctor_id == doctor_id and alive and other.start < end and start < other.end:
                raise SlotUnavailable(f"the slot is {other.status.lower()}")
        hold = SlotHold(
            hold_id=f"h{len(self.holds) + 1}",
            doctor_id=doctor_id,
            patient_id=patient_id,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
            status="HELD",
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        self.holds[hold.hold_id], self.keys[idempotency_key] = hold, hold.hold_id
        return hold

    async def hold_of(self, hold_id: str) -> SlotHold | None:
        self.asked.append("hold_of")
        return self.holds.get(hold_id)

    async def held(self, doctor_id: str) -> list[SlotHold]:
        self.asked.append("held")
        return [h for h in self.holds.values() if h.doctor_id == doctor_id and h.status == "HELD"]

    def confirm(self, hold_id: str) -> None:
        self.holds[hold_id] = dataclasses.replace(self.holds[hold_id], status="CONFIRMED")


@dataclass
class FakeView:
    """The read view: rows as the projector would have written them. ``calls`` records
    what was asked; ``fail`` makes every call raise it."""

    rows: list[ScheduleEntry] = field(default_factory=list)
    fail: BaseException | None = None
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def add(self, appointment: Appointment, **names: str | None) -> ScheduleEntry:
        row = ScheduleEntry(
            id=appointment.id,
            patient_id=appointment.patient_id,
            patient_name=names.get("patient_name"),
            doctor_id=appointment.doctor_id,
            doctor_name=names.get("doctor_name"),
            doctor_specialty=names.get("doctor_specialty"),
            day=appointment.start.astimezone(BERLIN).date().isoformat(),
            start=appointment.start,
            end=appointment.end,
            duration_minutes=appointment.duration_minutes,
            timezone=appointment.timezone,
            status=appointment.status,
            reason=appointment.reason,
            updated_at=appointment.updated_at,
        )
        self.rows.append(row)
        return row

    def _asked(self, call: str, *args: Any) -> None:
        self.calls.append((call, args))
        if self.fail is not None:
            raise self.fail

    def _window(self, start_from: datetime, start_to: datetime) -> list[ScheduleEntry]:
        rows = [r for r in self.rows if start_from <= r.start < start_to]
        return sorted(rows, key=lambda r: (r.start, r.id))

    async def doctor_schedule(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> list[ScheduleEntry]:
        self._asked("doctor_schedule", doctor_id, start_from, start_to)
        return [
            r
            for r in self._window(start_from, start_to)
            if r.doctor_id == doctor_id and r.status is not AppointmentStatus.FAILED
        ]

    async def patient_appointments(
        self,
        patient_id: str,
        start_from: datetime,
        start_to: datetime,
        *,
        doctor_id: str | None = None,
    ) -> list[ScheduleEntry]:
        self._asked("patient_appointments", patient_id, start_from, start_to, doctor_id)
        return [
            r
            for r in self._window(start_from, start_to)
            if r.patient_id == patient_id
            and doctor_id in (None, r.doctor_id)
            and r.status is not AppointmentStatus.FAILED
        ]

    async def appointment(self, appointment_id: str) -> ScheduleEntry | None:
        self._asked("appointment", appointment_id)
        return next((r for r in self.rows if r.id == appointment_id), None)

    async def busy(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> Sequence[tuple[datetime, datetime]]:
        self._asked("busy", doctor_id, start_from, start_to)
        return [
            (r.start, r.end)
            for r in self._window(start_from, start_to)
            if r.doctor_id == doctor_id and r.status.occupies_slot
        ]


@dataclass
class FakeReadiness:
    results: dict[str, str] = field(default_factory=lambda: {"mongodb": "ok", "temporal": "ok"})
    states: dict[str, str] = field(
        default_factory=lambda: {"patient": "closed", "doctor": "closed", "billing": "closed"}
    )

    async def checks(self) -> dict[str, str]:
        return dict(self.results)

    def breakers(self) -> dict[str, str]:
        return dict(self.states)


class _Pinged:
    """What the readiness probe asks of the real clients: MongoDB's ``admin.command``
    (a ping, which times out when ``down``) and Temporal's
    ``workflow_service.get_system_info``."""

    def __init__(self, down: bool) -> None:
        self.admin = self.workflow_service = self
        self._down = down

    async def command(self, name: str) -> dict[str, int]:
        if self._down:
            raise TimeoutError
        return {"ok": 1}

    async def get_system_info(self, request: object) -> object:
        return object()


def probed_readiness(
    breakers: Callable[[], Iterable[CircuitBreaker]] = list, *, mongodb_down: bool = False
) -> ServiceReadiness:
    """The real readiness adapter, probing stand-ins of MongoDB's and Temporal's clients."""
    mongo, temporal = _Pinged(mongodb_down), _Pinged(False)
    return ServiceReadiness(cast(Any, mongo), cast(Any, temporal), breakers)


@dataclass
class FakeJourneyNews:
    """The journeys' news (``application.ports.JourneyNews``): records each appointment a
    journey was told about; ``failing`` makes every call raise, as a Temporal that cannot
    be reached would, had the adapter not swallowed it."""

    told: list[Appointment] = field(default_factory=list)
    failing: bool = False

    async def changed(self, appointment: Appointment) -> None:
        if self.failing:
            raise RuntimeError("Temporal is unreachable")
        self.told.append(appointment)


@dataclass
class FakeCounts:
    """The lifecycle's counts (``application.ports.LifecycleCounts``): what was counted."""

    counted: list[tuple[AppointmentStatus, str]] = field(default_factory=list)
    failing: bool = False

    def committed(self, status: AppointmentStatus, channel: str) -> None:
        if self.failing:
            raise RuntimeError("the counter broke")
        self.counted.append((status, channel))


@dataclass
class World:
    """Every port's fake, and the use cases on them."""

    settings: Settings = field(default_factory=lambda: load_settings(environment="test"))
    repository: FakeRepository = field(default_factory=FakeRepository)
    view: FakeView = field(default_factory=FakeView)
    calendars: FakeCalendars = field(default_factory=FakeCalendars)
    readiness: Readiness = field(default_factory=FakeReadiness)
    now: datetime | None = None  # None: the real clock
    news: FakeJourneyNews = field(default_factory=FakeJourneyNews)
    counts: LifecycleCounts = field(default_factory=FakeCounts)
    waitlist: FakeWaitlistRepository = field(default_factory=FakeWaitlistRepository)
    desk: FakeDoctorDesk = field(default_factory=FakeDoctorDesk)  # slot holds
    sagas: FakeSagas = field(init=False)
    # The process's quotas, on this world's clock (a fixed ``now`` refills nothing).
    quotas: Quotas = field(init=False)
    rounds: FakeOfferRounds = field(init=False)  # book accepted offers into ``repository``

    def __post_init__(self) -> None:
        limits = BookingLimits(
            min_duration_minutes=self.settings.min_duration_minutes,
            max_duration_minutes=self.settings.max_duration_minutes,
        )
        self.sagas = FakeSagas(self.repository, clock=self.clock, limits=limits)
        self.quotas = Quotas.of(self.settings, lambda: self.clock().timestamp())
        self.rounds = FakeOfferRounds(self.waitlist, self._book_offer, self.clock)
        self.desk.clock = self.clock

    def clock(self) -> datetime:
        return self.now or now_utc()

    async def _book_offer(self, entry: WaitlistEntry, offer: Offer, accept: AcceptOffer) -> str:
        """An accepted offer booked as the booking saga would, in the round's hold."""
        booked = await plant_into(
            self.repository.commit,
            patient_id=entry.patient_id,
            doctor_id=entry.doctor_id,
            start=offer.start,
            duration_minutes=entry.duration_minutes,
            reason=accept.reason,
            context=accept.caller,
        )
        return booked.id

    @property
    def services(self) -> Services:
        return Services.of(
            repository=self.repository,
            sagas=self.sagas,
            view=self.view,
            calendars=self.calendars,
            doctors=self.calendars,
            readiness=self.readiness,
            settings=self.settings,
            clock=self.clock,
            quotas=self.quotas,
            news=self.news,
            counts=self.counts,
            waitlist=self.waitlist,
            rounds=self.rounds,
            desk=self.desk,
        )


_counter = itertools.count()


def unique_key(prefix: str = "key") -> str:
    return f"{prefix}-{next(_counter)}"
