"""The Doctor Service's holds as the FHIR door's use cases ask them
(``adapters.doctor_desk.DoctorDeskClient``), against the Doctor Service simulator: a hold
is found again by its id (``$book`` of ``hold-<id>``), an unknown one is None, and the
doctor's HELD holds are listed (the Slot search's ``busy-tentative``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.doctor_desk import DoctorDeskClient
from domain.errors import SlotUnavailable
from peers.doctors import DoctorClient
from simulators.doctor import create_doctor_app
from simulators.state import SimulatorState


@pytest.fixture
async def desk() -> AsyncIterator[DoctorDeskClient]:
    app = create_doctor_app(SimulatorState.seeded())
    client = DoctorClient("http://simulator", 2.0, transport=httpx.ASGITransport(app=app))
    yield DoctorDeskClient(client)
    await client.aclose()


def next_slot() -> datetime:
    """12:00 UTC two days ahead: on the on-call doctor's grid, inside the hours they work
    every day (07:00-21:00 Berlin)."""
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


async def test_a_hold_is_found_by_its_id_and_listed_while_held(desk: DoctorDeskClient) -> None:
    start = next_slot()
    hold = await desk.hold("doc-on-call", start, 15, "pat-anna-schmidt", 300, "k-1")
    assert (hold.status, hold.start, hold.end) == ("HELD", start, start + timedelta(minutes=15))
    assert await desk.hold_of(hold.hold_id) == hold
    assert await desk.hold_of("hold-nobody-knows") is None
    assert [h.hold_id for h in await desk.held("doc-on-call")] == [hold.hold_id]
    assert await desk.hold("doc-on-call", start, 15, "pat-anna-schmidt", 300, "k-1") == hold
    with pytest.raises(SlotUnavailable):
        await desk.hold("doc-on-call", start, 15, "pat-other", 300, "k-2")
