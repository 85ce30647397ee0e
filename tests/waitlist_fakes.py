"""In-memory fakes of the waitlist's ports (``application/ports.py``): the repository keeps
the real store's promises (idempotent by event id, a change only at its expected version,
one open offer per patient), and the offer rounds decide an answer as the round does, on
the stored entry, one at a time, booking through the caller's ``book``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.ports import EntryFilter, OfferRound, RoundEnded
from domain import waitlist
from domain.clock import Clock, now_utc
from domain.errors import ConcurrencyConflict
from domain.waitlist import (
    EntryStatus,
    Offer,
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    OfferStatus,
    Priority,
    Slot,
    WaitlistChange,
    WaitlistEntry,
    WaitlistEvent,
)
from workflows.contracts.waitlist import (
    ACTOR,
    AcceptOffer,
    DeclineOffer,
    FreedSlot,
    OfferAccepted,
    workflow_id,
)


class FakeWaitlistRepository:
    def __init__(self) -> None:
        self.entries: dict[str, WaitlistEntry] = {}
        self.events: dict[str, WaitlistEvent] = {}
        self.rounds: dict[str, OfferRound] = {}
        self.commits = 0  # changes actually written

    async def get(self, entry_id: str) -> WaitlistEntry | None:
        return self.entries.get(entry_id)

    async def by_offer(self, offer_id: str) -> WaitlistEntry | None:
        return next((e for e in self.entries.values() if e.offer(offer_id)), None)

    async def find(
        self, where: EntryFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[WaitlistEntry]:
        ordered = sorted(self.entries.values(), key=lambda e: (e.joined_at, e.id))
        found = [e for e in ordered if _matches(where, e)]
        return [e for e in found if after is None or (e.joined_at, e.id) > after][:limit]

    async def count(self, where: EntryFilter) -> int:
        return sum(1 for e in self.entries.values() if _matches(where, e))

    async def active_count(self, patient_id: str) -> int:
        return sum(
            1 for e in self.entries.values() if e.patient_id == patient_id and e.status.is_active
        )

    async def waiting_for(self, slot: Slot) -> list[WaitlistEntry]:
        return [
            e for e in self.entries.values() if e.status is EntryStatus.WAITING and e.matches(slot)
        ]

    async def passed(self, now: datetime, limit: int) -> list[WaitlistEntry]:
        found = [e for e in self.entries.values() if e.status.is_active and e.window_passed(now)]
        return found[:limit]

    async def commit(self, change: WaitlistChange) -> WaitlistEntry:
        state, event = change.state, change.event
        known = self.events.get(event.event_id)
        if known is not None:
            if known.entry_id != event.entry_id:
                raise ConcurrencyConflict("this idempotency key was used for another change")
            return self.entries[state.id]
        stored = self.entries.get(state.id)
        if change.expected_version is None and stored is not None:
            raise ConcurrencyConflict("the entry already exists")
        if change.expected_version is not None and (
            stored is None or stored.version != change.expected_version
        ):
            raise ConcurrencyConflict(f"entry {state.id} changed")
        if state.open_offer is not None and any(
            other.id != state.id and other.patient_id == state.patient_id and other.open_offer
            for other in self.entries.values()
        ):
            raise ConcurrencyConflict("the patient holds another open offer")
        self.entries[state.id] = state
        self.events[event.event_id] = event
        self.commits += 1
        return state

    async def round_holding(
        self, doctor_id: str, start: datetime, end: datetime
    ) -> OfferRound | None:
        return next(
            (
                r
                for r in self.rounds.values()
                if r.doctor_id == doctor_id and r.start < end and start < r.end
            ),
            None,
        )

    async def save_round(self, offer_round: OfferRound) -> None:
        self.rounds[offer_round.round_id] = offer_round

    async def end_round(self, round_id: str) -> None:
        self.rounds.pop(round_id, None)

    # --- planting state, as earlier requests and rounds would have left it ---------------

    async def plant(
        self,
        *,
        patient_id: str = "pat-anna-schmidt",
        doctor_id: str = "doc-on-call",
        earliest_start: datetime,
        latest_start: datetime,
        duration_minutes: int = 15,
        priority: Priority = Priority.ROUTINE,
        joined_at: datetime,
    ) -> WaitlistEntry:
        entry = WaitlistEntry(
            id=str(uuid.uuid4()),
            patient_id=patient_id,
            doctor_id=doctor_id,
            earliest_start=earliest_start,
            latest_start=latest_start,
            duration_minutes=duration_minutes,
            priority=priority,
            status=EntryStatus.WAITING,
            joined_at=joined_at,
            version=0,
            timezone="Europe/Berlin",
        )
        return await self.commit(waitlist.join(entry, f"{entry.id}/joined", "staff:frontdesk-1"))

    async def offer(
        self,
        entry: WaitlistEntry,
        *,
        start: datetime,
        offered_at: datetime,
        minutes: int = 15,
        status: OfferStatus = OfferStatus.OPEN,
    ) -> tuple[WaitlistEntry, Offer]:
        """An offer of the slot at ``start`` to ``entry``, open (and its round holding the
        slot) or closed as ``status`` says, as a round would have left it."""
        round_id = workflow_id(entry.doctor_id, start)
        offer = Offer(
            id=str(uuid.uuid4()),
            round_id=round_id,
            start=start,
            end=start + timedelta(minutes=entry.duration_minutes),
            offered_at=offered_at,
            expires_at=offered_at + timedelta(minutes=minutes),
        )
        offered = await self.commit(waitlist.make_offer(entry, offer, f"{offer.id}/made", ACTOR))
        await self.save_round(
            OfferRound(
                round_id=round_id,
                doctor_id=entry.doctor_id,
                start=offer.start,
                end=offer.end,
                held_until=start - timedelta(minutes=60),
                offer_expires_at=offer.expires_at,
            )
        )
        if status in (OfferStatus.EXPIRED, OfferStatus.DECLINED):
            closed = waitlist.close_offer(
                offered, offer.id, status, offer.expires_at, f"{offer.id}/closed", ACTOR
            )
            assert closed is not None
            offered = await self.commit(closed)
        elif status is OfferStatus.ACCEPTED:
            change = waitlist.fulfil(
                offered, offer.id, str(uuid.uuid4()), offered_at, f"{offer.id}/fulfil", ACTOR
            )
            offered = await self.commit(change)
        return offered, offered.offers[-1]


# Books the accepted offer as the booking saga would, answering the appointment's id.
BookOffer = Callable[[WaitlistEntry, Offer, AcceptOffer], Awaitable[str]]


@dataclass
class FakeOfferRounds:
    """The offer rounds: each answer decided on the stored entry, as the round decides on
    its own state. ``ended``: the round has ended (every answer raises RoundEnded);
    ``booking``: the booking outlasts the wait (accept answers None, books nothing)."""

    repository: FakeWaitlistRepository
    book: BookOffer
    clock: Clock = now_utc
    ended: bool = False
    booking: bool = False
    accepted: list[AcceptOffer] = field(default_factory=list)
    declined: list[DeclineOffer] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)  # (entry id, offer id)
    freed: list[FreedSlot] = field(default_factory=list)

    async def _open(self, offer_id: str) -> tuple[WaitlistEntry, Offer]:
        if self.ended:
            raise RoundEnded(offer_id)
        entry = await self.repository.by_offer(offer_id)
        offer = entry.offer(offer_id) if entry else None
        if entry is None or offer is None:
            raise OfferNotFound(offer_id)
        if offer.status is OfferStatus.EXPIRED or self.clock() >= offer.expires_at:
            raise OfferExpired("the offer has expired")
        if offer.status is not OfferStatus.OPEN:
            raise OfferClosed(offer.status.value.lower())
        return entry, offer

    async def accept(
        self, entry: WaitlistEntry, accept: AcceptOffer, wait_seconds: float
    ) -> OfferAccepted | None:
        current, offer = await self._open(accept.offer_id)
        self.accepted.append(accept)
        if self.booking:
            return None
        appointment_id = await self.book(current, offer, accept)
        change = waitlist.fulfil(
            current, offer.id, appointment_id, self.clock(), f"{offer.id}/fulfil", ACTOR
        )
        await self.repository.commit(change)
        await self.repository.end_round(offer.round_id)
        return OfferAccepted(offer_id=offer.id, appointment_id=appointment_id)

    async def decline(self, entry: WaitlistEntry, decline: DeclineOffer) -> None:
        current, offer = await self._open(decline.offer_id)
        self.declined.append(decline)
        change = waitlist.close_offer(
            current, offer.id, OfferStatus.DECLINED, self.clock(), f"{offer.id}/closed", ACTOR
        )
        if change is not None:
            await self.repository.commit(change)

    async def entry_left(self, entry: WaitlistEntry, offer_id: str) -> None:
        self.left.append((entry.id, offer_id))

    async def slot_freed(self, slot: FreedSlot) -> None:
        self.freed.append(slot)


def _matches(where: EntryFilter, entry: WaitlistEntry) -> bool:
    return (
        where.patient_id in (None, entry.patient_id)
        and where.doctor_id in (None, entry.doctor_id)
        and (not where.statuses or entry.status in where.statuses)
    )
