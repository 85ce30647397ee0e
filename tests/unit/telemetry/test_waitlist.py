"""What the worker counts of the waitlist: offers sent and closed by how, rounds by how
they ended (every outcome at 0 from the start, so the fill rate is defined), and the time
from a slot freed to its booking."""

from __future__ import annotations

from datetime import timedelta

from activities.waitlist import WaitlistMetrics
from domain.waitlist import OfferStatus
from telemetry.metrics import WorkerMetrics
from workflows.contracts.waitlist import WaitlistStatus

SENT = "appointments_waitlist_offers_sent_total"
CLOSED = "appointments_waitlist_offers_closed_total"
ROUNDS = "appointments_waitlist_rounds_total"
FREED_TO_BOOKED = "appointments_waitlist_freed_to_booked_seconds"


def test_the_worker_counts_offers_rounds_and_the_time_from_freed_to_booked() -> None:
    metrics = WorkerMetrics(refusals=[])
    waitlist: WaitlistMetrics = metrics.waitlist
    registry = metrics.registry
    assert registry.get_sample_value(ROUNDS, {"outcome": "BOOKED"}) == 0.0
    assert registry.get_sample_value(CLOSED, {"outcome": "declined"}) == 0.0

    waitlist.offer_sent()
    waitlist.offer_sent()
    waitlist.offer_closed(OfferStatus.EXPIRED)
    waitlist.offer_closed(OfferStatus.ACCEPTED)
    waitlist.round_ended(WaitlistStatus.BOOKED, timedelta(minutes=20))
    waitlist.round_ended(WaitlistStatus.CUTOFF, None)

    assert registry.get_sample_value(SENT) == 2.0
    assert registry.get_sample_value(CLOSED, {"outcome": "expired"}) == 1.0
    assert registry.get_sample_value(CLOSED, {"outcome": "accepted"}) == 1.0
    assert registry.get_sample_value(ROUNDS, {"outcome": "BOOKED"}) == 1.0
    assert registry.get_sample_value(ROUNDS, {"outcome": "CUTOFF"}) == 1.0
    assert registry.get_sample_value(ROUNDS, {"outcome": "NO_CANDIDATE"}) == 0.0
    assert registry.get_sample_value(f"{FREED_TO_BOOKED}_count") == 1.0
    assert registry.get_sample_value(f"{FREED_TO_BOOKED}_sum") == 1200.0
