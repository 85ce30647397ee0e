"""What the offer rounds' activities count (activities/waitlist.py), on the worker's
registry: offers sent, and closed by how (accepted, expired, declined); rounds by how they
ended; and the seconds from a slot freed to its booking through the waitlist. The fill
rate is booked rounds over all ended rounds (the dashboard divides).

Worker code: the API never imports this module (it pulls in the activities)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram

from activities.waitlist import WaitlistMetrics
from domain.waitlist import OfferStatus
from telemetry.naming import PREFIX
from workflows.contracts.waitlist import ENDED, WaitlistStatus

# 1 min .. 1 day: an offer is open 15 minutes by default, a slot may be offered to a few
# candidates in turn, quiet hours hold offers back overnight.
FREED_TO_BOOKED_BUCKETS: tuple[float, ...] = (
    60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600,
)  # fmt: skip
CLOSED = (OfferStatus.ACCEPTED, OfferStatus.EXPIRED, OfferStatus.DECLINED)


class WaitlistInstruments(WaitlistMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.offers_sent = Counter(
            f"{PREFIX}_waitlist_offers_sent",
            "Waitlist offers sent (a waitlist.offered event committed)",
            registry=registry,
        )
        self.offers_closed = Counter(
            f"{PREFIX}_waitlist_offers_closed",
            "Waitlist offers closed by their round: accepted (booked), expired, declined",
            ["outcome"],
            registry=registry,
        )
        self.rounds = Counter(
            f"{PREFIX}_waitlist_rounds",
            "Offer rounds ended, by outcome (BOOKED, NO_CANDIDATE, CUTOFF, SLOT_TAKEN)",
            ["outcome"],
            registry=registry,
        )
        self.freed_to_booked = Histogram(
            f"{PREFIX}_waitlist_freed_to_booked_seconds",
            "Time from a slot freed to its booking through the waitlist",
            buckets=FREED_TO_BOOKED_BUCKETS,
            registry=registry,
        )
        for outcome in CLOSED:  # at 0 from the start
            self.offers_closed.labels(outcome.value.lower())
        for status in sorted(ENDED):
            self.rounds.labels(status.value)

    def offer_sent(self) -> None:
        self.offers_sent.inc()

    def offer_closed(self, outcome: OfferStatus) -> None:
        self.offers_closed.labels(outcome.value.lower()).inc()

    def round_ended(self, outcome: WaitlistStatus, freed_to_booked: timedelta | None) -> None:
        self.rounds.labels(outcome.value).inc()
        if freed_to_booked is not None:
            self.freed_to_booked.observe(max(0.0, freed_to_booked.total_seconds()))
