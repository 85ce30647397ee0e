"""The offer round's activities (workflows/waitlist_offers.py), and the one the sagas call
when they free a slot (``offer_freed_slot``).

Each decides on the stored entries, never on what the round believes: an offer goes to the
best candidate the store holds now, by a conditional commit at the version read (re-read
and the next candidate tried when an entry changed meanwhile, or when its patient holds
another open offer: the store refuses a second one). Idempotent: an offer is found by its
id (made by the round), every event's id derives from its key, so a retry whose first
attempt committed writes nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client

from activities.context import log_for
from activities.errors import refusals_are_final
from activities.models import (
    CandidateQuery,
    Candidates,
    Fulfilment,
    OfferClosed,
    OfferClosing,
    OfferMade,
    OfferOrder,
    RoundEnd,
    RoundHold,
)
from application.ports import DoctorCalendars, OfferRound, WaitlistRepository
from config import Settings
from domain import waitlist
from domain.clock import now_utc
from domain.errors import ConcurrencyConflict, DomainError, PeerUnavailable
from domain.events import EventContext
from domain.waitlist import Offer, OfferStatus, Slot, WaitlistChange, WaitlistEntry
from peers.breaker import BreakerOpen
from workflows.contracts.waitlist import ACTOR, FreedSlot, OpenOffer, WaitlistStatus
from workflows.offer_rounds import round_request, start_round

# An offer's answer links: (offer id, patient id, expires at) -> {"accept": url, ...}.
OfferLinks = Callable[[str, str, datetime], dict[str, str]]


def _context(reason: str) -> EventContext:
    info = activity.info()
    return EventContext(
        actor=ACTOR, reason=reason, workflow_id=info.workflow_id, run_id=info.workflow_run_id
    )


class WaitlistMetrics:
    """What the round's activities count (the worker exports it, telemetry/waitlist.py)."""

    def offer_sent(self) -> None:
        """One waitlist.offered event committed."""

    def offer_closed(self, outcome: OfferStatus) -> None:
        """One offer closed by the round: EXPIRED, DECLINED or ACCEPTED (fulfilled)."""

    def round_ended(self, outcome: WaitlistStatus, freed_to_booked: timedelta | None) -> None:
        """A round let its slot go or booked it; when booked, how long after it was freed."""


def open_offer(entry: WaitlistEntry, offer: Offer) -> OpenOffer:
    return OpenOffer(
        offer_id=offer.id,
        entry_id=entry.id,
        patient_id=entry.patient_id,
        start=offer.start,
        end=offer.end,
        expires_at=offer.expires_at,
    )


def offer_round(hold: RoundHold, offer_expires_at: datetime | None = None) -> OfferRound:
    return OfferRound(
        round_id=hold.round_id,
        doctor_id=hold.doctor_id,
        start=hold.start,
        end=hold.end,
        held_until=hold.held_until,
        offer_expires_at=offer_expires_at,
    )


class WaitlistActivities:
    def __init__(
        self,
        repository: WaitlistRepository,
        calendars: DoctorCalendars,
        settings: Settings,
        links: OfferLinks,
        client: Client | None = None,
        metrics: WaitlistMetrics | None = None,
    ) -> None:
        self._repository, self._calendars, self._settings = repository, calendars, settings
        self._links = links
        self._client = client
        self._metrics = metrics or WaitlistMetrics()

    # --- the round -------------------------------------------------------------------------

    @activity.defn(name="waitlist_candidates")
    async def candidates(self, query: CandidateQuery) -> Candidates:
        """A read: whether anybody waits for the slot (before the round holds it)."""
        slot = query.slot.slot()
        async with refusals_are_final():
            waiting = await self._repository.waiting_for(slot)
        ranked = waitlist.candidates(waiting, slot, now_utc(), passed_over=query.passed_over)
        return Candidates(count=len(ranked))

    @activity.defn(name="save_offer_round")
    async def save_round(self, hold: RoundHold) -> None:
        """Recorded before the slot is held, so staff who try to book it are told it is
        offered to the waitlist, and until when. Idempotent."""
        async with refusals_are_final():
            await self._repository.save_round(offer_round(hold))

    @activity.defn(name="end_offer_round")
    async def end_round(self, end: RoundEnd) -> None:
        """The round let its slot go, or booked it. Idempotent (the count may see a retry
        twice)."""
        async with refusals_are_final():
            await self._repository.end_round(end.round_id)
        booked = end.outcome is WaitlistStatus.BOOKED and end.freed_at is not None
        waited = now_utc() - end.freed_at if booked and end.freed_at else None
        self._metrics.round_ended(end.outcome, waited)
        log_for(_context("round ended")).info("offer round {}: {}", end.round_id, end.outcome)

    @activity.defn(name="make_offer")
    async def make_offer(self, order: OfferOrder) -> OfferMade:
        """Offer the slot to the best candidate (not passed over) the store holds now; the
        offer made, or None when nobody is left. Idempotent by the offer's id."""
        async with refusals_are_final():
            return await self._make_offer(order)

    async def _make_offer(self, order: OfferOrder) -> OfferMade:
        made = await self._repository.by_offer(order.offer_id)
        if made is not None and (offer := made.offer(order.offer_id)) is not None:
            return OfferMade(offer=open_offer(made, offer))
        hold = order.round
        slot = Slot(hold.doctor_id, hold.start.astimezone(UTC), hold.end.astimezone(UTC))
        skipped = set(order.passed_over)
        doctor_name = await self._doctor_name(hold.doctor_id)
        while True:
            waiting = await self._repository.waiting_for(slot)
            ranked = waitlist.candidates(waiting, slot, now_utc(), passed_over=skipped)
            if not ranked:
                return OfferMade(offer=None)
            entry = ranked[0]
            offer = waitlist.offer_to(
                entry,
                slot,
                offer_id=order.offer_id,
                round_id=hold.round_id,
                offered_at=order.offered_at,
                expires_at=order.expires_at,
            )
            change = waitlist.make_offer(
                entry,
                offer,
                f"{hold.round_id}/{order.offer_id}",
                ACTOR,
                self._details(entry, offer, doctor_name),
            )
            try:
                await self._repository.commit(change)
            except ConcurrencyConflict as conflict:
                # The entry changed, or its patient holds another open offer: the next.
                log_for(_context("offer")).info("entry {} skipped: {}", entry.id, conflict)
                skipped.add(entry.id)
                continue
            self._metrics.offer_sent()
            await self._repository.save_round(offer_round(hold, offer.expires_at))
            log_for(_context("offer")).info(
                "offer {} of {} to entry {} until {}",
                offer.id,
                hold.round_id,
                entry.id,
                offer.expires_at.isoformat(),
            )
            return OfferMade(offer=open_offer(change.state, offer))

    def _details(self, entry: WaitlistEntry, offer: Offer, doctor_name: str) -> dict[str, Any]:
        """What the notification needs: the offer, the doctor's name, the start in the
        clinic's zone and the patient's answer links (valid until the offer expires)."""
        zone = self._settings.clinic_zone
        return {
            "offer_id": offer.id,
            "start": offer.start.isoformat(),
            "end": offer.end.isoformat(),
            "expires_at": offer.expires_at.isoformat(),
            "doctor_name": doctor_name,
            "local_start": offer.start.astimezone(zone).isoformat(),
            "timezone": self._settings.clinic_timezone,
            "links": self._links(offer.id, entry.patient_id, offer.expires_at),
        }

    async def _doctor_name(self, doctor_id: str) -> str:
        """From the Doctor Service; while it cannot answer, the offer goes out on time with
        the doctor's id (as a reminder does, activities/journey.py)."""
        try:
            return (await self._calendars.calendar(doctor_id)).doctor_name
        except (PeerUnavailable, BreakerOpen, DomainError) as error:
            log_for(_context("offer")).warning("doctor {} unnamed: {}", doctor_id, error)
            return doctor_id

    @activity.defn(name="close_offer")
    async def close_offer(self, closing: OfferClosing) -> OfferClosed:
        """EXPIRED or DECLINED, if the offer is still open (the entry waits again).
        Idempotent: an offer closed already (by a retry, or withdrawn) is left as it is."""
        async with refusals_are_final():
            while True:
                entry = await self._repository.get(closing.entry_id)
                change = entry and waitlist.close_offer(
                    entry,
                    closing.offer_id,
                    closing.outcome,
                    now_utc(),
                    closing.idempotency_key,
                    ACTOR,
                    closing.reason,
                )
                if not change:
                    return OfferClosed(closed=False)
                if await self._committed(change):
                    self._metrics.offer_closed(closing.outcome)
                    return OfferClosed(closed=True)

    @activity.defn(name="fulfil_offer")
    async def fulfil(self, fulfilment: Fulfilment) -> None:
        """The accepted offer booked its appointment: FULFILLED. Idempotent by the key."""
        async with refusals_are_final():
            while True:
                entry = await self._repository.get(fulfilment.entry_id)
                if entry is None or entry.appointment_id == fulfilment.appointment_id:
                    return
                change = waitlist.fulfil(
                    entry,
                    fulfilment.offer_id,
                    fulfilment.appointment_id,
                    now_utc(),
                    fulfilment.idempotency_key,
                    ACTOR,
                )
                if await self._committed(change):
                    self._metrics.offer_closed(OfferStatus.ACCEPTED)
                    return

    async def _committed(self, change: WaitlistChange) -> bool:
        """Whether ``change`` was committed; False: the entry changed first (re-read)."""
        try:
            await self._repository.commit(change)
        except ConcurrencyConflict:
            return False
        return True

    # --- the sagas ---------------------------------------------------------------------------

    @activity.defn(name="offer_freed_slot")
    async def offer_freed_slot(self, slot: FreedSlot) -> None:
        """A saga freed ``slot``: start its offer round, or tell the running one. Nothing
        when nobody waits for it (no workflow per cancellation). Idempotent: the round's
        id is the slot's, a second start joins it."""
        async with refusals_are_final():
            waiting = await self._repository.waiting_for(slot.slot())
        if not waitlist.candidates(waiting, slot.slot(), now_utc()):
            return
        if self._client is None:
            raise RuntimeError("the worker's activities have no Temporal client")
        request = round_request(slot, self._settings)
        handle = await start_round(self._client, self._settings.temporal_task_queue, request)
        log_for(_context("slot freed")).info(
            "slot {} freed by {}: offer round {}", slot.start.isoformat(), slot.freed_by, handle.id
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.candidates,
            self.save_round,
            self.end_round,
            self.make_offer,
            self.close_offer,
            self.fulfil,
            self.offer_freed_slot,
        ]
