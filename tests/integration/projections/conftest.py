"""The read view against a real MongoDB wire-protocol server (SecantusDB) and the real
peer simulators (in-process, through httpx's ASGI transport).

ONE server per session, started on a free port in a temporary directory; each test gets
a database of its own. ``init_beanie`` binds the document classes to one database for the
whole process, so the binding is redone per test and the tests run one at a time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from config import Settings, load_settings
from domain.events import EventContext
from domain.model import Appointment, request, transition
from domain.status import AppointmentStatus
from peers.doctors import DoctorClient
from peers.patients import PatientClient
from persistence.database import connect
from persistence.store import AppointmentStore
from projections.names import Directory
from projections.projection import Projection
from projections.projector import FollowOptions, Projector
from projections.retry import Backoff
from projections.view_store import ViewStore
from simulators.doctor import create_doctor_app
from simulators.patient import create_patient_app
from simulators.state import SimulatorState
from tests.waiting import eventually_async as eventually

TOPIC = "appointment.events"
SIM = "http://simulator"
# Short waits so that tests (and stops) are quick; the defaults suit production.
QUICK = FollowOptions(
    batch_size=50, max_await_ms=50, idle_checkpoint_seconds=0.2, backoff=Backoff(0.05, 0.2)
)
T = TypeVar("T")


@dataclass
class Bed:
    """One test's world: a database, the real writer, the simulators, the projector."""

    settings: Settings
    client: AsyncMongoClient[Any]
    database: AsyncDatabase[dict[str, Any]]
    store: AppointmentStore
    simulators: SimulatorState
    patients: PatientClient
    doctors: DoctorClient
    faults: dict[str, httpx.AsyncClient]
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    def view_store(self) -> ViewStore:
        return ViewStore(self.database)

    def projection(self, stop: asyncio.Event | None = None) -> Projection:
        directory = Directory(
            self.patients, self.doctors, stop or asyncio.Event(), backoff=Backoff(0.02, 0.1)
        )
        return Projection(self.view_store(), directory, self.settings.clinic_zone)

    def start_projector(self) -> asyncio.Event:
        """A projector following the event store in the background; set the event it
        returns (or call ``stop_projectors``) to stop it gracefully."""
        stop = asyncio.Event()
        projector = Projector(self.view_store(), self.projection(stop), stop, QUICK)
        self.running.append((stop, asyncio.create_task(projector.run())))
        return stop

    async def stop_projectors(self) -> None:
        for stop, task in self.running:
            stop.set()
            await asyncio.wait_for(task, 10)
        self.running.clear()

    async def rows(self) -> dict[str, dict[str, Any]]:
        """The view as stored, raw, by id."""
        return {r["_id"]: r async for r in self.database["appointment_read_view"].find()}

    async def versions(self) -> dict[str, int]:
        return {r["_id"]: r["version"] async for r in self.database["appointments"].find()}

    async def caught_up(self, within: float = 10.0) -> dict[str, dict[str, Any]]:
        """The view once it holds every appointment at its stored version."""

        async def probe() -> dict[str, dict[str, Any]] | None:
            rows, versions = await self.rows(), await self.versions()
            return rows if {i: r["version"] for i, r in rows.items()} == versions else None

        return await eventually(probe, within, "the view holds every appointment")

    async def fault(self, peer: str, **config: object) -> None:
        (await self.faults[peer].put("/_sim/faults", json=config)).raise_for_status()

    # --- writing through the real unit of work ---------------------------------------------

    async def book(
        self,
        start: datetime,
        *,
        patient_id: str = "pat-anna-schmidt",
        doctor_id: str = "doc-on-call",
        minutes: int = 15,
        then: tuple[AppointmentStatus, ...] = (AppointmentStatus.SCHEDULED,),
        appointment_id: str | None = None,
    ) -> Appointment:
        """An appointment requested and moved through ``then``, each change committed."""
        appointment_id = appointment_id or str(uuid.uuid4())
        state = await self.store.commit(
            request(
                appointment_id=appointment_id,
                event_id=f"{appointment_id}/requested",
                patient_id=patient_id,
                doctor_id=doctor_id,
                start=start,
                duration_minutes=minutes,
                timezone=self.settings.clinic_timezone,
                reason="check-up",
                hold_id=None,
                now=now(),
                context=EventContext(actor="staff:s-1"),
            )
        )
        return await self.move(state, *then)

    async def move(self, state: Appointment, *targets: AppointmentStatus) -> Appointment:
        for target in targets:
            state = await self.store.commit(
                transition(
                    state,
                    target,
                    event_id=f"{state.id}/{state.version + 1}",
                    now=max(now(), state.start) if target is AppointmentStatus.NO_SHOW else now(),
                    context=EventContext(actor="staff:s-1"),
                )
            )
        return state


def now() -> datetime:
    instant = datetime.now(UTC)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


@asynccontextmanager
async def open_bed(mongo_uri: str) -> AsyncIterator[Bed]:
    """A Bed on a fresh database of the server at ``mongo_uri``, cleaned up after."""
    name = f"view_test_{uuid.uuid4().hex[:12]}"
    settings = load_settings(mongo_uri=mongo_uri, mongo_database=name)
    client = await connect(settings)
    state = SimulatorState.seeded()
    apps = {"patient": create_patient_app(state), "doctor": create_doctor_app(state)}

    def transport(peer: str) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=apps[peer])

    faults = {p: httpx.AsyncClient(transport=transport(p), base_url=SIM) for p in apps}
    bed = Bed(
        settings=settings,
        client=client,
        database=client[name],
        store=AppointmentStore(client, TOPIC),
        simulators=state,
        patients=PatientClient(SIM, 2.0, transport=transport("patient")),
        doctors=DoctorClient(SIM, 2.0, transport=transport("doctor")),
        faults=faults,
    )
    try:
        yield bed
        await bed.stop_projectors()
        await client.drop_database(name)
    finally:
        for task in (t for _, t in bed.running):
            task.cancel()
        for http in (*faults.values(), bed.patients, bed.doctors):
            await http.aclose()
        await client.close()


@pytest.fixture
async def bed(mongo_uri: str) -> AsyncIterator[Bed]:
    async with open_bed(mongo_uri) as made:
        yield made
