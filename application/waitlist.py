"""The waitlist's use cases: join, list, read, leave, and answer an offer (accept or
decline), for every door alike (REST, GraphQL, the patients' action page).

Entries are written through the ``WaitlistRepository``'s unit of work (state, event and
outbox row in one transaction, domain/waitlist.py decides each change). Offers are the
offer round's (workflows/waitlist_offers.py): an answer goes to the round, which decides
one at a time, so of many concurrent accepts exactly one books; the use case only
refuses, without asking the round, what the stored entry already refuses.

Whose entry it is follows the permission matrix: "own" is the entry's patient (or, for
reading, its doctor). Someone else's entry or offer reads exactly like a missing one
(404), as appointments do."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.access import Requester, reloaded
from application.commands import JoinWaitlist, ListWaitlist, NewWaitlistEntry, encode_cursor
from application.errors import IdempotencyKeyReused
from application.permissions import (
    Action,
    Forbidden,
    Owners,
    Principal,
    Role,
    Scope,
    authorize,
    owns,
    scope_of,
)
from application.ports import (
    AppointmentRepository,
    DoctorCalendars,
    EntryFilter,
    OfferRound,
    OfferRounds,
    RoundEnded,
    SagaGateway,
    WaitlistRepository,
)
from application.saga_runs import shown_to
from config import Settings
from domain import waitlist
from domain.clock import Clock, now_utc
from domain.errors import ConcurrencyConflict, DomainError, PeerUnavailable
from domain.model import Appointment
from domain.rules import CELL_MINUTES, BookingLimits
from domain.waitlist import (
    EntryStatus,
    InvalidWaitlistEntry,
    LeftBecause,
    Offer,
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    OfferStatus,
    Priority,
    SlotOfferedToWaitlist,
    WaitlistEntry,
    WaitlistEntryNotFound,
    WaitlistFull,
)
from workflows.contracts.waitlist import AcceptOffer, DeclineOffer

# Entry ids are UUIDv5 of the caller and their Idempotency-Key in this namespace: a
# retried join finds the entry it made, and two callers' keys never meet.
ENTRY_NAMESPACE = uuid.UUID("5c1e7f3a-9d2b-4e8a-b6f0-2a7d9c4e1b38")
# Attempts at leaving while offers come and go (each a fresh read of the entry).
_LEAVE_ATTEMPTS = 3


def entry_id_for(actor: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(ENTRY_NAMESPACE, f"{actor}/{idempotency_key}"))


@dataclass(frozen=True, slots=True)
class EntryPage:
    """One page of entries, in (joined_at, id) order; ``next_cursor`` None on the last."""

    items: list[WaitlistEntry]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class OfferShown:
    """An offer as its patient's link page shows it: the entry, the offer (open or not),
    and the doctor's name when the Doctor Service could say it."""

    entry: WaitlistEntry
    offer: Offer
    doctor_name: str | None


@dataclass(frozen=True, slots=True)
class OfferBooking:
    """An accepted offer whose booking still runs after the wait budget: REST answers
    202 (poll the entry: it names the appointment once booked), GraphQL ``pending``."""

    entry_id: str
    offer_id: str


class Waitlist:
    def __init__(
        self,
        repository: WaitlistRepository,
        rounds: OfferRounds,
        appointments: AppointmentRepository,
        calendars: DoctorCalendars,
        settings: Settings,
        clock: Clock = now_utc,
    ) -> None:
        self._repository, self._rounds, self._appointments = repository, rounds, appointments
        self._calendars, self._settings, self._clock = calendars, settings, clock
        self._limits = BookingLimits(
            min_duration_minutes=settings.min_duration_minutes,
            max_duration_minutes=settings.max_duration_minutes,
        )

    # --- entries --------------------------------------------------------------------------

    async def join(self, command: JoinWaitlist, requester: Requester) -> WaitlistEntry:
        """A new entry, WAITING; the same caller's retry with the same key answers it
        again (the entry's id derives from the caller and the key)."""
        who, new = requester.principal, command.entry
        authorize(who, Action.JOIN_WAITLIST)
        for_anyone = scope_of(who, Action.JOIN_WAITLIST) is Scope.ANY
        if not for_anyone and new.patient_id != who.subject:
            raise Forbidden("a patient may only put themself on the waitlist")
        if new.priority == Priority.URGENT.value and not for_anyone:
            raise Forbidden("only staff and admin may put a patient on the waitlist as urgent")
        now = self._clock()
        self._check_window(new, now)
        entry_id = entry_id_for(who.actor, command.idempotency_key)
        made = await self._repository.get(entry_id)
        if made is not None:
            if not _same(made, new):
                raise IdempotencyKeyReused()
            return made
        calendar = await self._calendars.calendar(new.doctor_id)  # DoctorNotFound: 422
        cap = self._settings.waitlist_max_entries_per_patient
        if await self._repository.active_count(new.patient_id) >= cap:
            raise WaitlistFull(
                f"the patient is already on the waitlist {cap} times, the most a patient "
                "may be; leave an entry first"
            )
        entry = WaitlistEntry(
            id=entry_id,
            patient_id=new.patient_id,
            doctor_id=new.doctor_id,
            earliest_start=new.earliest_start,
            latest_start=new.latest_start,
            duration_minutes=new.duration_minutes,
            priority=Priority(new.priority),
            status=EntryStatus.WAITING,
            joined_at=now,
            version=0,
            timezone=calendar.zone.key,
            note=new.note,
        )
        # Idempotent by the event id too: two racing retries of one key write one entry.
        return await self._repository.commit(waitlist.join(entry, f"{entry_id}/joined", who.actor))

    def _check_window(self, new: NewWaitlistEntry, now: datetime) -> None:
        if new.earliest_start > new.latest_start:
            raise InvalidWaitlistEntry("earliest_start must not be after latest_start")
        if new.latest_start <= now:
            raise InvalidWaitlistEntry("latest_start must be in the future")
        horizon = self._limits.max_days_ahead
        if new.earliest_start > now + timedelta(days=horizon):
            raise InvalidWaitlistEntry(f"earliest_start must be within {horizon} days")
        low, high = self._limits.min_duration_minutes, self._limits.max_duration_minutes
        if not low <= new.duration_minutes <= high:
            raise InvalidWaitlistEntry(f"duration_minutes must be between {low} and {high}")
        if new.duration_minutes % CELL_MINUTES:
            raise InvalidWaitlistEntry(f"duration_minutes must be a multiple of {CELL_MINUTES}")

    async def list(self, query: ListWaitlist, requester: Requester) -> EntryPage:
        """The entries the caller may see that match ``query``: a patient's own, a
        doctor's for themself (a filter naming someone else selects nothing), any for
        staff and admin."""
        who = requester.principal
        where = _visible_filter(query, who)
        if where is None:
            return EntryPage([], None)
        own = scope_of(who, Action.READ_WAITLIST) is Scope.OWN
        found = await self._repository.find(where, after=query.position(), limit=query.limit + 1)
        page = found[: query.limit]
        cursor = None
        if len(found) > query.limit:
            cursor = encode_cursor(page[-1].joined_at, page[-1].id)
        if own:  # belt and braces: the filter selected only the caller's own already
            page = [e for e in page if _owns(who, e)]
        return EntryPage(page, cursor)

    async def total(self, query: ListWaitlist, requester: Requester) -> int:
        """How many entries the caller may see match ``query`` (every page's), the same
        filter as ``list``."""
        where = _visible_filter(query, requester.principal)
        return 0 if where is None else await self._repository.count(where)

    async def read(self, entry_id: str, requester: Requester) -> WaitlistEntry:
        return await self._visible(entry_id, requester.principal, Action.READ_WAITLIST)

    async def leave(self, entry_id: str, requester: Requester) -> WaitlistEntry:
        """The entry leaves (its open offer is withdrawn, and its round told to move on).
        Leaving a left entry answers it as it is; a fulfilled one cannot leave (409)."""
        who = requester.principal
        entry = await self._visible(entry_id, who, Action.LEAVE_WAITLIST)
        for _ in range(_LEAVE_ATTEMPTS):
            if entry.status is EntryStatus.LEFT:
                return entry
            offer = entry.open_offer
            # One key per entry: an entry leaves once, so a racing second leave is the same
            # change (the store answers the first one's entry).
            change = waitlist.leave(
                entry, LeftBecause.ASKED, self._clock(), f"{entry.id}/left", who.actor
            )
            try:
                left = await self._repository.commit(change)
            except ConcurrencyConflict:  # an offer came or went meanwhile: decide again
                entry = await self._visible(entry_id, who, Action.LEAVE_WAITLIST)
                continue
            if offer is not None:
                await self._rounds.entry_left(left, offer.id)
            return left
        raise ConcurrencyConflict("the waitlist entry kept changing; try again")

    async def _visible(self, entry_id: str, who: Principal, action: Action) -> WaitlistEntry:
        authorize(who, action)
        entry = await self._repository.get(entry_id)
        if entry is None or (scope_of(who, action) is Scope.OWN and not _owns(who, entry)):
            raise WaitlistEntryNotFound(f"no waitlist entry {entry_id}")
        return entry

    # --- offers ---------------------------------------------------------------------------

    async def accept(
        self, offer_id: str, requester: Requester, wait_seconds: float
    ) -> Appointment | OfferBooking:
        """The round books the offered slot for the entry's patient, with the hold it has;
        the booked appointment, or ``OfferBooking`` while the booking outlasts the wait."""
        entry, offer = await self._open_offer(offer_id, requester)
        accept = AcceptOffer(
            offer_id=offer.id, patient_id=entry.patient_id, caller=requester.context()
        )
        try:
            accepted = await self._rounds.accept(entry, accept, wait_seconds)
        except RoundEnded:
            raise await self._answer_of_ended_round(offer_id) from None
        if accepted is None:
            return OfferBooking(entry.id, offer.id)
        booked = await reloaded(self._appointments, accepted.appointment_id)
        return shown_to(requester.principal, booked)

    async def decline(self, offer_id: str, requester: Requester) -> WaitlistEntry:
        """The entry waits again (never offered this slot again); the round moves on."""
        entry, offer = await self._open_offer(offer_id, requester)
        decline = DeclineOffer(
            offer_id=offer.id, patient_id=entry.patient_id, caller=requester.context()
        )
        try:
            await self._rounds.decline(entry, decline)
        except RoundEnded:
            raise await self._answer_of_ended_round(offer_id) from None
        return await self._repository.get(entry.id) or entry

    async def offer(self, offer_id: str, requester: Requester) -> OfferShown:
        """The offer ``offer_id``, open or closed, to whoever may read its entry (someone
        else's reads as missing)."""
        who = requester.principal
        authorize(who, Action.READ_WAITLIST)
        entry = await self._repository.by_offer(offer_id)
        offer = entry.offer(offer_id) if entry is not None else None
        if entry is None or offer is None:
            raise OfferNotFound(f"no offer {offer_id}")
        if scope_of(who, Action.READ_WAITLIST) is Scope.OWN and not _owns(who, entry):
            raise OfferNotFound(f"no offer {offer_id}")
        try:
            doctor = (await self._calendars.calendar(entry.doctor_id)).doctor_name
        except (DomainError, PeerUnavailable):  # a nicety: the offer shows without it
            doctor = None
        return OfferShown(entry, offer, doctor)

    async def _open_offer(self, offer_id: str, requester: Requester) -> tuple[WaitlistEntry, Offer]:
        """The entry and its offer ``offer_id``, if the caller may answer it and it is
        still open; otherwise the refusal the stored entry says."""
        who = requester.principal
        authorize(who, Action.ANSWER_OFFER)
        entry = await self._repository.by_offer(offer_id)
        offer = entry.offer(offer_id) if entry is not None else None
        if entry is None or offer is None:
            raise OfferNotFound(f"no offer {offer_id}")
        if scope_of(who, Action.ANSWER_OFFER) is Scope.OWN and entry.patient_id != who.subject:
            raise OfferNotFound(f"no offer {offer_id}")
        ensure_open(offer, self._clock())
        return entry, offer

    async def _answer_of_ended_round(self, offer_id: str) -> Exception:
        """The round ended before the answer reached it: what the stored offer says."""
        entry = await self._repository.by_offer(offer_id)
        offer = entry.offer(offer_id) if entry is not None else None
        if offer is None:
            return OfferNotFound(f"no offer {offer_id}")
        refusal = closed(offer)
        return refusal or OfferExpired("the offer's round has ended; the slot is no longer held")


# --- offers' states, and the slots the waitlist holds -------------------------------------


def ensure_open(offer: Offer, now: datetime) -> None:
    """Raise what a closed (or run out) offer answers."""
    refusal = closed(offer)
    if refusal is not None:
        raise refusal
    if now >= offer.expires_at:
        raise OfferExpired(f"the offer expired at {_utc(offer.expires_at)}")


def closed(offer: Offer) -> OfferExpired | OfferClosed | None:
    """The refusal of an answer to ``offer``, None while it is open."""
    match offer.status:
        case OfferStatus.OPEN:
            return None
        case OfferStatus.EXPIRED:
            return OfferExpired(f"the offer expired at {_utc(offer.closed_at or offer.expires_at)}")
        case OfferStatus.ACCEPTED:
            return OfferClosed(f"already accepted: appointment {offer.appointment_id}")
        case OfferStatus.DECLINED:
            return OfferClosed("declined")
        case OfferStatus.WITHDRAWN:
            return OfferClosed("withdrawn: the entry left the waitlist")
    return None  # pragma: no cover - every status is named above


async def ensure_not_offered(
    holds: WaitlistRepository,
    sagas: SagaGateway,
    run: str,
    slot: tuple[str, datetime, datetime],
) -> None:
    """Refuse a booking (or a move) into a slot (doctor, start, end) an offer round holds
    for the waitlist, saying until when: the round lets it go at its cutoff at the latest.
    A retry whose saga run ``run`` exists joins that run instead (it may have taken the
    slot before the round held it)."""
    doctor_id, start, end = slot
    await refuse_if_offered(await holds.round_holding(doctor_id, start, end), sagas, run)


async def refuse_if_offered(held: OfferRound | None, sagas: SagaGateway, run: str) -> None:
    """``ensure_not_offered`` once the round holding the slot (if any) is known."""
    if held is not None and await sagas.started_by(run) is None:
        raise SlotOfferedToWaitlist(offered_until(held))


def offered_until(held: OfferRound) -> str:
    until = _utc(held.held_until)
    text = f"the slot is offered to patients on the waitlist until {until}"
    if held.offer_expires_at is not None:
        text += f" (the current offer expires at {_utc(held.offer_expires_at)})"
    return text + f"; the round lets it go by {until} at the latest, unless a patient takes it"


def _utc(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _same(entry: WaitlistEntry, new: NewWaitlistEntry) -> bool:
    """Whether ``entry`` is what ``new`` asks for: a retry of the same join."""
    return (
        entry.patient_id,
        entry.doctor_id,
        entry.earliest_start,
        entry.latest_start,
        entry.duration_minutes,
        entry.priority.value,
        entry.note,
    ) == (
        new.patient_id,
        new.doctor_id,
        new.earliest_start,
        new.latest_start,
        new.duration_minutes,
        new.priority,
        new.note,
    )


def _owns(who: Principal, entry: WaitlistEntry) -> bool:
    return owns(who, Owners(entry.patient_id, entry.doctor_id))


def _narrowed_to_own(where: EntryFilter, who: Principal) -> EntryFilter | None:
    """The filter restricted to ``who``'s own entries; None when it names someone else
    (or the role owns none), which selects nothing. Fails closed."""
    if who.role is Role.PATIENT and where.patient_id in (None, who.subject):
        return dataclasses.replace(where, patient_id=who.subject)
    if who.role is Role.DOCTOR and where.doctor_id in (None, who.subject):
        return dataclasses.replace(where, doctor_id=who.subject)
    return None


def _visible_filter(query: ListWaitlist, who: Principal) -> EntryFilter | None:
    """What ``query`` selects among the entries ``who`` may see; None when that is
    nothing (a patient's filter naming someone else)."""
    authorize(who, Action.READ_WAITLIST)
    where = EntryFilter(
        patient_id=query.patient_id,
        doctor_id=query.doctor_id,
        statuses=frozenset(EntryStatus(s) for s in query.status),
    )
    if scope_of(who, Action.READ_WAITLIST) is Scope.OWN:
        return _narrowed_to_own(where, who)
    return where
