"""How an offer round (workflows/waitlist_offers.py) is started for a freed slot, by the
worker's activity (activities/waitlist.py, after a saga freed the slot) and by the API
(adapters/temporal.py) alike: signal-with-start on the slot's one workflow id, so a second
freeing of the same slot joins the running round instead of starting another.

Client code: no workflow imports this module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from config import Settings
from workflows.contracts import waitlist
from workflows.contracts.journey import Rules
from workflows.contracts.waitlist import (
    BookingTerms,
    FreedSlot,
    OfferRoundRequest,
    OfferTerms,
    RoundOutcome,
    WaitlistStatus,
)
from workflows.search_attributes import DOCTOR_ID, WAITLIST_STATUS


def round_request(
    slot: FreedSlot, settings: Settings, freed_at: datetime | None = None
) -> OfferRoundRequest:
    """The round's input: the offer rules and the booking saga's settings of this
    deployment, captured now for the round's whole life (as
    ``application.booking.booking_request`` captures a booking's)."""
    return OfferRoundRequest(
        slot=slot,
        terms=OfferTerms.of(settings.offer_rules),
        booking=BookingTerms(
            billing_outage_policy=settings.billing_outage_policy,
            billing_retry_max_interval_seconds=settings.billing_retry_max_interval_seconds,
            local_steps=settings.saga_local_steps,
            journey=Rules.of(settings.journey_rules),
        ),
        freed_at=freed_at or datetime.now(UTC),
    )


async def start_round(
    client: Client, task_queue: str, request: OfferRoundRequest
) -> WorkflowHandle[Any, RoundOutcome]:
    """Start the slot's round, or tell the running one (``SLOT_FREED_SIGNAL``); the round's
    workflow id. A round of this slot that ended (booked, or let go) may be followed by a
    new one: the slot was freed again. The round's handle."""
    slot = request.slot
    handle = await client.start_workflow(
        waitlist.WORKFLOW,
        request,
        id=slot.round_id,
        task_queue=task_queue,
        start_signal=waitlist.SLOT_FREED_SIGNAL,
        start_signal_args=[slot],
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        result_type=RoundOutcome,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(DOCTOR_ID, slot.doctor_id),
                SearchAttributePair(WAITLIST_STATUS, WaitlistStatus.HOLDING.value),
            ]
        ),
    )
    return handle
