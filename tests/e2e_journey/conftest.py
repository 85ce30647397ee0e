"""A local stack of its own for the appointment's journey, with the journey compressed
into minutes: one reminder a minute before the start, no quiet hours, and the no-show
check right at the start. Its simulators know two extra doctors on a 5-minute grid around
the clock (``<data>/simulators/doctors.json``), so the nearest start is never more than a
few minutes away. It runs beside the other end-to-end tests (``make pytest-journey``):
most of its time is spent waiting for the clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localstack.service import LIFTED_QUOTAS, LocalService, ServicePorts
from peers.contracts import Doctor
from simulators.runner import EXTRA_DOCTORS_FILE
from simulators.seed_data import DOCTORS
from tests.e2e.support import assert_failed_only_on_purpose

REMINDER_MINUTES = 1
QUICK_DOCTORS = ("doc-e2e-quick-a", "doc-e2e-quick-b")


def quick_doctors() -> list[Doctor]:
    """The around-the-clock doctor's hours on a 5-minute grid, twice."""
    around_the_clock = next(d for d in DOCTORS if d.id == "doc-around-the-clock")
    return [
        around_the_clock.model_copy(
            update={"id": doctor_id, "name": f"Dr. {doctor_id}", "slot_minutes": 5}
        )
        for doctor_id in QUICK_DOCTORS
    ]


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data_dir: Path = tmp_path_factory.mktemp("journey-stack")
    simulators = data_dir / "simulators"
    simulators.mkdir()
    doctors = "[" + ",".join(d.model_dump_json() for d in quick_doctors()) + "]"
    (simulators / EXTRA_DOCTORS_FILE).write_text(doctors)
    ports = ServicePorts.free()
    overrides = {
        **LIFTED_QUOTAS,
        "reminder_offsets_minutes": [REMINDER_MINUTES],
        "quiet_hours": "off",
        "no_show_grace_minutes": 0,
        "public_base_url": f"http://127.0.0.1:{ports.api}",
    }
    with LocalService(data_dir, ports, overrides=overrides) as local:
        yield local
        assert_failed_only_on_purpose(local)
