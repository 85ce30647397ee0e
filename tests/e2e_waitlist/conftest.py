"""A local stack of its own for the waitlist, whose offer rounds run in minutes: an offer
stays open one minute, a round stops five minutes before its slot, and no quiet hours
hold an offer back. Its simulators know two extra doctors on a 5-minute grid around the
clock (``<data>/simulators/doctors.json``), one per scenario, so no round of one test
ever offers its slot to an entry of the other. No reminders: the appointments lie an hour
ahead, and a reminder is one more change to wait for. ``make pytest-waitlist`` runs it
(its own job in ``make test``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localstack.service import LocalService
from tests.e2e.support import doctors_on_a_five_minute_grid, stack_of_its_own

OFFER_MINUTES = 1
CUTOFF_MINUTES = 5
WAITLIST_DOCTORS = ("doc-e2e-waitlist-a", "doc-e2e-waitlist-b")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    # No offer round, booking or cancellation may fail: a refused accept is a business
    # answer, never a Failed run.
    with stack_of_its_own(
        tmp_path_factory.mktemp("waitlist-stack"),
        doctors_on_a_five_minute_grid(WAITLIST_DOCTORS),
        {
            "waitlist_offer_minutes": OFFER_MINUTES,
            "waitlist_cutoff_minutes": CUTOFF_MINUTES,
            "quiet_hours": "off",
            "reminder_offsets_minutes": [],
        },
    ) as local:
        yield local
