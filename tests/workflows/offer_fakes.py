"""Fakes of the offer round's activities (activities/waitlist.py), with their real names and
input types, deciding as the real ones do (``domain.waitlist``) on the in-memory store of
tests/waitlist_fakes.py, which keeps the real store's promises (one open offer per
patient among them), by the test server's clock: the time each attempt was scheduled at.
Every call is recorded with that time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import activity

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
from activities.waitlist import WaitlistActivities, offer_round, open_offer
from domain import waitlist
from domain.errors import ConcurrencyConflict
from domain.waitlist import EntryStatus, Priority, Slot, WaitlistEntry
from tests.waiting import eventually_async
from tests.waitlist_fakes import FakeWaitlistRepository
from tests.workflows.journey_fakes import Call, definitions
from workflows.contracts.waitlist import ACTOR


@dataclass
class RoundWorld:
    """The waitlist's store and what the round's fakes were asked."""

    store: FakeWaitlistRepository = field(default_factory=FakeWaitlistRepository)
    calls: list[Call] = field(default_factory=list)
    ended: list[RoundEnd] = field(default_factory=list)

    async def wait(
        self,
        patient_id: str,
        *,
        earliest: datetime,
        latest: datetime,
        joined_at: datetime,
        priority: Priority = Priority.ROUTINE,
        duration_minutes: int = 30,
        doctor_id: str = "doc-1",
    ) -> WaitlistEntry:
        entry = WaitlistEntry(
            id=f"entry-{patient_id}-{uuid.uuid4().hex[:6]}",
            patient_id=patient_id,
            doctor_id=doctor_id,
            earliest_start=earliest,
            latest_start=latest,
            duration_minutes=duration_minutes,
            priority=priority,
            status=EntryStatus.WAITING,
            joined_at=joined_at,
            version=0,
            timezone="Europe/Berlin",
        )
        return await self.store.commit(waitlist.join(entry, f"{entry.id}/joined", "staff:test"))

    def entry(self, entry_id: str) -> WaitlistEntry:
        return self.store.entries[entry_id]

    def of(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    def offers(self) -> list[tuple[str, datetime]]:
        """Every offer made: (the patient, when), in order."""
        made = [
            (entry.patient_id, offer.offered_at)
            for entry in self.store.entries.values()
            for offer in entry.offers
        ]
        return sorted(made, key=lambda pair: pair[1])

    def offered_patients(self) -> list[str]:
        return [patient for patient, _ in self.offers()]

    async def called(self, name: str, count: int = 1) -> list[Call]:
        async def enough() -> list[Call] | None:
            calls = self.of(name)
            return calls if len(calls) >= count else None

        return await eventually_async(enough, 30.0, f"{count} call(s) of {name}")

    def _record(self, name: str, arg: Any) -> datetime:
        at = activity.info().current_attempt_scheduled_time
        self.calls.append(Call(name, arg, at))
        return at

    @activity.defn(name="waitlist_candidates")
    async def candidates(self, query: CandidateQuery) -> Candidates:
        at = self._record("waitlist_candidates", query)
        slot = query.slot.slot()
        waiting = await self.store.waiting_for(slot)
        ranked = waitlist.candidates(waiting, slot, at, passed_over=query.passed_over)
        return Candidates(count=len(ranked))

    @activity.defn(name="save_offer_round")
    async def save_round(self, hold: RoundHold) -> None:
        self._record("save_offer_round", hold)
        await self.store.save_round(offer_round(hold))

    @activity.defn(name="end_offer_round")
    async def end_round(self, end: RoundEnd) -> None:
        self._record("end_offer_round", end)
        self.ended.append(end)
        await self.store.end_round(end.round_id)

    @activity.defn(name="make_offer")
    async def make_offer(self, order: OfferOrder) -> OfferMade:
        at = self._record("make_offer", order)
        made = await self.store.by_offer(order.offer_id)
        if made is not None and (offer := made.offer(order.offer_id)) is not None:
            return OfferMade(offer=open_offer(made, offer))
        hold = order.round
        slot = Slot(hold.doctor_id, hold.start, hold.end)
        skipped = set(order.passed_over)
        while True:
            ranked = waitlist.candidates(
                await self.store.waiting_for(slot), slot, at, passed_over=skipped
            )
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
            key = f"{hold.round_id}/{order.offer_id}"
            try:
                stored = await self.store.commit(waitlist.make_offer(entry, offer, key, ACTOR))
            except ConcurrencyConflict:
                skipped.add(entry.id)
                continue
            await self.store.save_round(offer_round(hold, offer.expires_at))
            return OfferMade(offer=open_offer(stored, offer))

    @activity.defn(name="close_offer")
    async def close_offer(self, closing: OfferClosing) -> OfferClosed:
        at = self._record("close_offer", closing)
        entry = self.store.entries[closing.entry_id]
        change = waitlist.close_offer(
            entry,
            closing.offer_id,
            closing.outcome,
            at,
            closing.idempotency_key,
            ACTOR,
            closing.reason,
        )
        if change is None:
            return OfferClosed(closed=False)
        await self.store.commit(change)
        return OfferClosed(closed=True)

    @activity.defn(name="fulfil_offer")
    async def fulfil(self, fulfilment: Fulfilment) -> None:
        at = self._record("fulfil_offer", fulfilment)
        entry = self.store.entries[fulfilment.entry_id]
        change = waitlist.fulfil(
            entry,
            fulfilment.offer_id,
            fulfilment.appointment_id,
            at,
            fulfilment.idempotency_key,
            ACTOR,
        )
        await self.store.commit(change)

    def leave(self, entry_id: str, at: datetime) -> None:
        """The entry leaves (the API's use case): its open offer is withdrawn in the store."""
        entry = self.store.entries[entry_id]
        change = waitlist.leave(entry, waitlist.LeftBecause.ASKED, at, f"{entry_id}/left", "test")
        self.store.entries[entry_id] = change.state

    def activities(self) -> list[Any]:
        return [
            self.candidates,
            self.save_round,
            self.end_round,
            self.make_offer,
            self.close_offer,
            self.fulfil,
        ]


def real_round_activities() -> dict[str, list[type] | None]:
    """The round's own activities (offer_freed_slot is the sagas', faked in fakes.py)."""
    real = WaitlistActivities
    return definitions(
        real.candidates,
        real.save_round,
        real.end_round,
        real.make_offer,
        real.close_offer,
        real.fulfil,
    )
