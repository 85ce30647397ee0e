"""The waitlist as pure rules: who waits for what, which entry a freed slot is offered to,
when an offer may go out, and how an entry changes. No I/O: the offer round
(workflows/waitlist_offers.py) and the use cases (application/waitlist.py) decide with
these, the unit of work (persistence/waitlist_store.py) writes what they decide.

An entry waits for one doctor, a window of acceptable start times and a duration. A freed
slot is offered to one entry at a time: the best matching one (its window holds the slot's
start, its duration fits the slot; urgent before routine, then the longest waiting), for a
fixed time. An entry holds at most one open offer, and so does a patient: a patient is
never offered two slots at once (a unique index on the open offer's patient makes it so
in the database too)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from domain.errors import DomainError
from domain.journey import QuietHours

# Waitlist event ids are UUIDv5 of the change's idempotency key in their own namespace.
WAITLIST_EVENT_NAMESPACE = uuid.UUID("0b7d2a8e-51f3-4d7c-9a0e-3c6f4e2b9d15")


def waitlist_event_id(idempotency_key: str) -> str:
    return str(uuid.uuid5(WAITLIST_EVENT_NAMESPACE, idempotency_key))


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"  # only staff may say so


class EntryStatus(StrEnum):
    WAITING = "WAITING"  # may be offered a freed slot
    OFFERED = "OFFERED"  # holds an open offer
    FULFILLED = "FULFILLED"  # booked through an accepted offer
    LEFT = "LEFT"  # left by the patient or staff, or its window passed

    @property
    def is_active(self) -> bool:
        return self in (EntryStatus.WAITING, EntryStatus.OFFERED)


class OfferStatus(StrEnum):
    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"  # its time ran out, or the round ended (cutoff) first
    WITHDRAWN = "WITHDRAWN"  # the entry left while it was open


class WaitlistEventType(StrEnum):
    JOINED = "waitlist.joined"
    OFFERED = "waitlist.offered"
    OFFER_EXPIRED = "waitlist.offer_expired"
    OFFER_DECLINED = "waitlist.offer_declined"
    FULFILLED = "waitlist.fulfilled"
    LEFT = "waitlist.left"


class LeftBecause(StrEnum):
    ASKED = "asked"  # the patient or staff took it off
    WINDOW_PASSED = "window_passed"  # no start in its window is still to come


# --- errors --------------------------------------------------------------------------------


# Answered 404 (the not-found ones) or 409 by api/problems.py's STATUS_FOR.


class WaitlistEntryNotFound(DomainError):
    code = "waitlist-entry-not-found"
    title = "Waitlist entry not found"


class OfferNotFound(DomainError):
    code = "offer-not-found"
    title = "Offer not found"


class OfferExpired(DomainError):
    code = "offer-expired"
    title = "The offer has expired"


class OfferClosed(DomainError):
    """Declined, withdrawn, or accepted already (the detail says which)."""

    code = "offer-closed"
    title = "The offer is no longer open"


class WaitlistFull(DomainError):
    code = "waitlist-limit-reached"
    title = "The patient is on the waitlist as often as allowed"


class EntryNotActive(DomainError):
    code = "waitlist-entry-closed"
    title = "The waitlist entry is no longer active"


class SlotOfferedToWaitlist(DomainError):
    code = "slot-offered-to-waitlist"
    title = "The slot is being offered to the waitlist"


class InvalidWaitlistEntry(DomainError):
    """A window or length no entry may have (answered 422): earliest after latest, a
    window already passed, a length off the booking's rules."""

    code = "invalid-waitlist-entry"
    title = "The waitlist entry is not valid"


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A freed slot of one doctor: [start, end), UTC instants."""

    doctor_id: str
    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    round_id: str  # the offer round's workflow id (workflows/contracts/waitlist.py)
    start: datetime
    end: datetime  # start + the entry's duration: what the booking will be
    offered_at: datetime
    expires_at: datetime
    status: OfferStatus = OfferStatus.OPEN
    closed_at: datetime | None = None
    appointment_id: str | None = None  # the booking, once accepted


@dataclass(frozen=True, slots=True)
class WaitlistEntry:
    id: str
    patient_id: str
    doctor_id: str
    earliest_start: datetime  # the window of acceptable start times, inclusive
    latest_start: datetime  # inclusive
    duration_minutes: int
    priority: Priority
    status: EntryStatus
    joined_at: datetime
    version: int
    timezone: str  # the clinic's, for display
    offers: tuple[Offer, ...] = ()  # every offer made to it, oldest first
    appointment_id: str | None = None  # the booking that fulfilled it
    note: str | None = None
    left_because: LeftBecause | None = None
    updated_at: datetime | None = None

    @property
    def open_offer(self) -> Offer | None:
        last = self.offers[-1] if self.offers else None
        return last if last is not None and last.status is OfferStatus.OPEN else None

    def offer(self, offer_id: str) -> Offer | None:
        return next((o for o in self.offers if o.id == offer_id), None)

    def matches(self, slot: Slot) -> bool:
        """Its window holds the slot's start, and its duration fits in the slot."""
        return (
            self.doctor_id == slot.doctor_id
            and self.earliest_start <= slot.start <= self.latest_start
            and self.duration_minutes <= slot.minutes
        )

    def window_passed(self, now: datetime) -> bool:
        return self.latest_start <= now


@dataclass(frozen=True, slots=True)
class WaitlistEvent:
    event_id: str
    entry_id: str
    seq: int  # the entry's version after it
    type: WaitlistEventType
    occurred_at: datetime
    actor: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WaitlistChange:
    """What the unit of work writes in one transaction: the entry, its event and the
    event's outbox row. ``expected_version`` None: a new entry."""

    state: WaitlistEntry
    event: WaitlistEvent
    expected_version: int | None


# --- ordering ------------------------------------------------------------------------------


def rank_key(entry: WaitlistEntry) -> tuple[int, datetime, str]:
    """Urgent first, then the longest waiting, then the id (a total order)."""
    return (0 if entry.priority is Priority.URGENT else 1, entry.joined_at, entry.id)


def candidates(
    entries: Iterable[WaitlistEntry],
    slot: Slot,
    now: datetime,
    *,
    passed_over: Iterable[str] = (),
    busy_patients: Iterable[str] = (),
) -> list[WaitlistEntry]:
    """The entries ``slot`` may be offered to, best first: WAITING, matching, window not
    passed, not offered this slot before (``passed_over``: declined or let expire), and
    of a patient without another open offer (``busy_patients``)."""
    skipped, busy = set(passed_over), set(busy_patients)
    return sorted(
        (
            e
            for e in entries
            if e.status is EntryStatus.WAITING
            and e.matches(slot)
            and not e.window_passed(now)
            and e.id not in skipped
            and e.patient_id not in busy
        ),
        key=rank_key,
    )


def offer_to(
    entry: WaitlistEntry,
    slot: Slot,
    *,
    offer_id: str,
    round_id: str,
    offered_at: datetime,
    expires_at: datetime,
) -> Offer:
    """The offer of ``slot`` to ``entry``: from the slot's start for the entry's length
    (what the booking will be; the round's hold covers the whole slot)."""
    return Offer(
        id=offer_id,
        round_id=round_id,
        start=slot.start,
        end=slot.start + timedelta(minutes=entry.duration_minutes),
        offered_at=offered_at,
        expires_at=expires_at,
    )


# --- when an offer may go out --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferRules:
    offer_minutes: int = 15
    cutoff_minutes: int = 60
    quiet_hours: QuietHours | None = None
    timezone: str = "Europe/Berlin"

    def cutoff(self, slot_start: datetime) -> datetime:
        """The round stops offering, and lets the slot go, this long before its start."""
        return slot_start - timedelta(minutes=self.cutoff_minutes)

    def sendable_at(self, now: datetime) -> datetime:
        """``now``, or, inside quiet hours, the moment they end: no offer goes out in them."""
        quiet = self.quiet_hours
        if quiet is None:
            return now
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        if not quiet.contains(local.time()):
            return now
        began = quiet.began(now, zone).astimezone(zone)
        day = began.date() + (timedelta(days=1) if quiet.start > quiet.end else timedelta())
        end = datetime.combine(day, quiet.end, tzinfo=zone)
        return end.astimezone(now.tzinfo)

    def expiry(self, sent_at: datetime, slot_start: datetime) -> datetime | None:
        """When an offer sent at ``sent_at`` expires; None when it would end after the
        cutoff (the candidate would not get the whole time to answer)."""
        expires_at = sent_at + timedelta(minutes=self.offer_minutes)
        return expires_at if expires_at <= self.cutoff(slot_start) else None


# --- changes -------------------------------------------------------------------------------


def _event(
    entry: WaitlistEntry,
    type_: WaitlistEventType,
    key: str,
    at: datetime,
    actor: str,
    details: dict[str, Any] | None = None,
) -> WaitlistEvent:
    return WaitlistEvent(
        event_id=waitlist_event_id(key),
        entry_id=entry.id,
        seq=entry.version,
        type=type_,
        occurred_at=at,
        actor=actor,
        details=details or {},
    )


def _changed(
    entry: WaitlistEntry,
    type_: WaitlistEventType,
    key: str,
    at: datetime,
    actor: str,
    details: dict[str, Any] | None = None,
    **update: Any,
) -> WaitlistChange:
    after = replace(entry, version=entry.version + 1, updated_at=at, **update)
    return WaitlistChange(after, _event(after, type_, key, at, actor, details), entry.version)


def join(entry: WaitlistEntry, key: str, actor: str) -> WaitlistChange:
    """A new entry (version 1, WAITING)."""
    if entry.earliest_start > entry.latest_start:
        raise ValueError("the window's earliest start is after its latest")
    new = replace(entry, version=1, status=EntryStatus.WAITING, updated_at=entry.joined_at)
    return WaitlistChange(
        new, _event(new, WaitlistEventType.JOINED, key, new.joined_at, actor), None
    )


def make_offer(
    entry: WaitlistEntry,
    offer: Offer,
    key: str,
    actor: str,
    details: dict[str, Any] | None = None,
) -> WaitlistChange:
    """``details``: what the notification needs (the doctor's name, the local start, the
    answer links), on the event."""
    if entry.status is not EntryStatus.WAITING:
        raise EntryNotActive(f"the entry is {entry.status.value}, not WAITING")
    return _changed(
        entry,
        WaitlistEventType.OFFERED,
        key,
        offer.offered_at,
        actor,
        details,
        status=EntryStatus.OFFERED,
        offers=(*entry.offers, offer),
    )


_CLOSING_EVENT = {
    OfferStatus.EXPIRED: WaitlistEventType.OFFER_EXPIRED,
    OfferStatus.DECLINED: WaitlistEventType.OFFER_DECLINED,
}


def close_offer(
    entry: WaitlistEntry,
    offer_id: str,
    outcome: OfferStatus,
    at: datetime,
    key: str,
    actor: str,
    reason: str | None = None,
) -> WaitlistChange | None:
    """The open offer ``offer_id`` expired or was declined: the entry waits again (it is
    not offered this slot again). None when that offer is not open (closed already).
    ``reason``: why it expired early (``booking_failed``), in the event's details."""
    offer = entry.open_offer
    if offer is None or offer.id != offer_id:
        return None
    closed = replace(offer, status=outcome, closed_at=at)
    return _changed(
        entry,
        _CLOSING_EVENT[outcome],
        key,
        at,
        actor,
        {"offer_id": offer_id, **({"reason": reason} if reason else {})},
        status=EntryStatus.WAITING,
        offers=(*entry.offers[:-1], closed),
    )


def fulfil(
    entry: WaitlistEntry, offer_id: str, appointment_id: str, at: datetime, key: str, actor: str
) -> WaitlistChange:
    """The accepted offer booked ``appointment_id``."""
    offers = tuple(
        replace(o, status=OfferStatus.ACCEPTED, closed_at=at, appointment_id=appointment_id)
        if o.id == offer_id
        else o
        for o in entry.offers
    )
    return _changed(
        entry,
        WaitlistEventType.FULFILLED,
        key,
        at,
        actor,
        {"offer_id": offer_id, "appointment_id": appointment_id},
        status=EntryStatus.FULFILLED,
        offers=offers,
        appointment_id=appointment_id,
    )


def leave(
    entry: WaitlistEntry, because: LeftBecause, at: datetime, key: str, actor: str
) -> WaitlistChange:
    """The entry leaves; an open offer is withdrawn with it (its round moves on)."""
    if not entry.status.is_active:
        raise EntryNotActive(f"the entry is {entry.status.value}")
    offers = tuple(
        replace(o, status=OfferStatus.WITHDRAWN, closed_at=at)
        if o.status is OfferStatus.OPEN
        else o
        for o in entry.offers
    )
    return _changed(
        entry,
        WaitlistEventType.LEFT,
        key,
        at,
        actor,
        {"because": because.value},
        status=EntryStatus.LEFT,
        offers=offers,
        left_because=because,
    )
