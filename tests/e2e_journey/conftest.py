"""A local stack of its own for the appointment's journey, with the journey compressed
into minutes: one reminder a minute before the start, no quiet hours, and the no-show
check right at the start. Its simulators know two extra doctors on a 5-minute grid around
the clock (``<data>/simulators/doctors.json``), so the nearest start is never more than a
few minutes away. It runs beside the other end-to-end tests (``make pytest-journey``):
most of its time is spent waiting for the clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localstack.service import LocalService, ServicePorts
from tests.e2e.support import doctors_on_a_five_minute_grid, stack_of_its_own

REMINDER_MINUTES = 1
QUICK_DOCTORS = ("doc-e2e-quick-a", "doc-e2e-quick-b")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    ports = ServicePorts.free()
    with stack_of_its_own(
        tmp_path_factory.mktemp("journey-stack"),
        doctors_on_a_five_minute_grid(QUICK_DOCTORS),
        {
            "reminder_offsets_minutes": [REMINDER_MINUTES],
            "quiet_hours": "off",
            "no_show_grace_minutes": 0,
            "public_base_url": f"http://127.0.0.1:{ports.api}",
        },
        ports,
    ) as local:
        yield local
