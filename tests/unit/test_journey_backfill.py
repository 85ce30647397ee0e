"""``appointment-service journey backfill`` (workflows/backfill.py), on the fake repository
and journeys that behave like Temporal's REJECT_DUPLICATE start: which appointments get a
journey, that a second run starts none, the dry run, and a walk over many pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cli import main
from config import load_settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import FakeRepository, plant_into
from workflows.backfill import Tally, backfill, request_of
from workflows.contracts.journey import Facts, Rules

S = AppointmentStatus
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


class FakeJourneys:
    """Journeys by appointment id; a start of an existing one is refused, as the server's
    REJECT_DUPLICATE is (a closed journey counts as existing too)."""

    def __init__(self, existing: set[str] | None = None) -> None:
        self.ids: set[str] = set(existing or ())
        self.started: list[str] = []

    async def exists(self, appointment_id: str) -> bool:
        return appointment_id in self.ids

    async def start(self, appointment: Appointment) -> bool:
        if appointment.id in self.ids:
            return False
        self.ids.add(appointment.id)
        self.started.append(appointment.id)
        return True


async def plant(
    repository: FakeRepository, status: AppointmentStatus, start: datetime, name: str
) -> Appointment:
    return await plant_into(
        repository.commit,
        patient_id="pat-anna-schmidt",
        doctor_id=f"doc-{name}",  # one doctor each: no overlaps
        start=start,
        status=status,
        appointment_id=name,
    )


async def every_status(repository: FakeRepository) -> None:
    tomorrow = NOW + timedelta(days=1)
    for status in S:
        await plant(repository, status, tomorrow, f"{status.value.lower()}")


async def test_only_active_appointments_past_pending_get_a_journey() -> None:
    repository, journeys = FakeRepository(), FakeJourneys()
    await every_status(repository)

    tally = await backfill(repository, journeys)

    assert sorted(journeys.started) == ["checked_in", "confirmed", "scheduled"]
    assert tally == Tally(started=3, had_one=0)


async def test_an_appointment_long_past_its_start_gets_its_journey_too() -> None:
    """Still SCHEDULED a week after its start: the journey records the no-show at once."""
    repository, journeys = FakeRepository(), FakeJourneys()
    await plant(repository, S.SCHEDULED, NOW - timedelta(days=7), "forgotten")

    assert await backfill(repository, journeys) == Tally(started=1)
    assert journeys.started == ["forgotten"]


async def test_a_second_run_starts_none() -> None:
    repository, journeys = FakeRepository(), FakeJourneys(existing={"confirmed"})
    await every_status(repository)

    first = await backfill(repository, journeys)
    second = await backfill(repository, journeys)

    assert first == Tally(started=2, had_one=1)
    assert second == Tally(started=0, had_one=3)
    assert sorted(journeys.started) == ["checked_in", "scheduled"]


async def test_a_dry_run_counts_and_starts_nothing() -> None:
    repository, journeys = FakeRepository(), FakeJourneys(existing={"scheduled"})
    await every_status(repository)

    tally = await backfill(repository, journeys, dry_run=True)

    assert tally == Tally(started=2, had_one=1)
    assert journeys.started == []
    assert tally.describe(dry_run=True) == "dry run: would start 2 journeys, 1 have one"


async def test_many_pages_are_walked_once_each_with_progress() -> None:
    """Seven appointments, four at the same start (the id breaks the tie), pages of two."""
    repository, journeys = FakeRepository(), FakeJourneys()
    for index in range(7):
        start = NOW + timedelta(days=1, minutes=15 * (index // 4))
        await plant(repository, S.SCHEDULED, start, f"a{index}")
    heard: list[int] = []

    tally = await backfill(repository, journeys, page=2, concurrency=2, on_progress=heard.append)

    assert sorted(journeys.started) == [f"a{index}" for index in range(7)]
    assert len(journeys.started) == 7
    assert tally.describe(dry_run=False) == "started 7 journeys, 0 had one"
    assert heard == [2, 4, 6, 7]


async def test_the_request_is_the_one_the_booking_saga_makes() -> None:
    repository = FakeRepository()
    appointment = await plant(repository, S.CONFIRMED, NOW + timedelta(days=2), "x")
    settings = load_settings(reminder_offsets_minutes=[60], no_show_grace_minutes=5)

    request = request_of(appointment, Rules.of(settings.journey_rules))

    assert (request.appointment_id, request.patient_id, request.doctor_id) == (
        "x",
        "pat-anna-schmidt",
        "doc-x",
    )
    assert request.facts == Facts.of(appointment)
    assert request.facts.status is S.CONFIRMED
    assert request.rules.reminder_offsets_minutes == (60,)
    assert request.rules.no_show_grace_minutes == 5


def test_the_command_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["journey", "backfill", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: appointment-service journey backfill")
    assert "--dry-run" in out
