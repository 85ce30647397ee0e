"""A local stack of its own for the waitlist, whose offer rounds run in minutes: an offer
stays open one minute, a round stops five minutes before its slot, and no quiet hours
hold an offer back. Its simulators know two extra doctors on a 5-minute grid around the
clock (``<data>/simulators/doctors.json``), one per scenario, so no round of one test
ever offers its slot to an entry of the other. No reminders: the appointments lie an hour
ahead, and a reminder is one more change to wait for. ``make pytest-waitlist`` runs it
(``make test`` runs it right after the journey's stack, in the same job)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localstack.service import LIFTED_QUOTAS, LocalService, ServicePorts
from peers.contracts import Doctor
from simulators.runner import EXTRA_DOCTORS_FILE
from simulators.seed_data import DOCTORS
from tests.e2e.support import assert_failed_only_on_purpose

OFFER_MINUTES = 1
CUTOFF_MINUTES = 5
WAITLIST_DOCTORS = ("doc-e2e-waitlist-a", "doc-e2e-waitlist-b")


def waitlist_doctors() -> list[Doctor]:
    """The around-the-clock doctor's hours on a 5-minute grid, once per scenario."""
    around_the_clock = next(d for d in DOCTORS if d.id == "doc-around-the-clock")
    return [
        around_the_clock.model_copy(
            update={"id": doctor_id, "name": f"Dr. {doctor_id}", "slot_minutes": 5}
        )
        for doctor_id in WAITLIST_DOCTORS
    ]


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data_dir: Path = tmp_path_factory.mktemp("waitlist-stack")
    simulators = data_dir / "simulators"
    simulators.mkdir()
    doctors = "[" + ",".join(d.model_dump_json() for d in waitlist_doctors()) + "]"
    (simulators / EXTRA_DOCTORS_FILE).write_text(doctors)
    overrides = {
        **LIFTED_QUOTAS,
        "waitlist_offer_minutes": OFFER_MINUTES,
        "waitlist_cutoff_minutes": CUTOFF_MINUTES,
        "quiet_hours": "off",
        "reminder_offsets_minutes": [],
    }
    with LocalService(data_dir, ServicePorts.free(), overrides=overrides) as local:
        yield local
        # No offer round, booking or cancellation failed: a refused accept is a business
        # answer, never a Failed run.
        assert_failed_only_on_purpose(local)
