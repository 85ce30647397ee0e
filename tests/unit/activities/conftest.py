"""The real activity classes in an ``ActivityEnvironment``, against the peers' real
simulators in-process (httpx's ASGI transport: no server, no port) and the in-memory
``FakeRepository`` as the store.

Each test gets a ``Bed``: the simulators reset (no hold, invoice or fault left), fresh
breakers on a clock the test moves by hand, a fresh repository, and a saga run (workflow
id, run id) its activities serve."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.appointments import AppointmentActivities
from activities.models import (
    AppointmentRef,
    Cancel,
    HoldAction,
    InvoiceOrder,
    InvoiceRecord,
    InvoiceRef,
    Move,
    NewAppointment,
    RescheduleCheck,
    SlotCheck,
    SlotReservation,
    StatusChange,
    Withdrawal,
)
from activities.peers import PeerActivities
from config import Settings, load_settings
from domain.clock import now_utc
from domain.errors import PeerUnavailable
from domain.events import AppointmentEvent, EventContext
from domain.model import Appointment
from domain.status import AppointmentStatus
from peers import Peers
from peers.billing import BillingClient
from peers.breaker import BreakerState, CircuitBreaker
from peers.contracts import Hold, HoldStatus, Invoice, InvoiceStatus
from peers.doctors import DoctorClient
from peers.http import PeerName
from peers.patients import PatientClient
from simulators.billing import create_billing_app
from simulators.doctor import create_doctor_app
from simulators.patient import create_patient_app
from simulators.seed_data import ON_CALL_DOCTOR_ID
from simulators.state import SimulatorState
from tests.clocks import Ticks, WallClock
from tests.fakes import FakeRepository
from workflows.policies import DB_RETRY, PEER_RETRY, UNTIL_DONE

A = TypeVar("A")
R = TypeVar("R")

SIM = "http://simulator"
BERLIN = ZoneInfo("Europe/Berlin")
ON_CALL = ON_CALL_DOCTOR_ID  # every day 07:00-21:00 Berlin, a 15-minute grid
ANNA = "pat-anna-schmidt"
BEN = "pat-ben-okafor"
ACTOR = "staff:frontdesk-1"
THRESHOLD = 3  # transient failures that open a breaker
RESET_SECONDS = 30.0  # how long a breaker stays open
PEER_NAMES: tuple[PeerName, ...] = ("patient", "doctor", "billing")


def slot(days_ahead: int = 3, hour: int = 10, minute: int = 0) -> datetime:
    """A start on the on-call doctor's grid, ``days_ahead`` days from today, Berlin time."""
    day = datetime.now(BERLIN).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


@dataclass
class Bed:
    """One test's world. ``run`` executes an activity as a worker would for the saga run
    ``workflow_id``/``run_id``, under the retry policy its call site states."""

    settings: Settings
    state: SimulatorState
    store: FakeRepository
    peers: Peers
    ticks: Ticks
    sim_clock: WallClock  # the simulators': it starts at the real now
    control: dict[PeerName, httpx.AsyncClient]  # the simulators' /_sim endpoints
    workflow_id: str
    run_id: str
    caller: EventContext

    @property
    def remote(self) -> PeerActivities:
        return PeerActivities(self.peers, self.store, self.settings)

    @property
    def local(self) -> AppointmentActivities:
        return AppointmentActivities(self.store, self.settings)

    # --- running activities ---------------------------------------------------------------

    async def run(
        self,
        fn: Callable[[A], Awaitable[R]],
        arg: A,
        policy: RetryPolicy | None = UNTIL_DONE,
        attempt: int = 1,
    ) -> R:
        env = ActivityEnvironment()
        env.info = dataclasses.replace(
            ActivityEnvironment.default_info(),
            workflow_id=self.workflow_id,
            workflow_run_id=self.run_id,
            workflow_type="BookingWorkflow",
            attempt=attempt,
            retry_policy=policy,
            # As the saga schedules every step: start-to-close only, no overall deadline.
            schedule_to_close_timeout=None,
        )
        return await env.run(fn, arg)

    async def twice(
        self, fn: Callable[[A], Awaitable[R]], arg: A, policy: RetryPolicy | None = UNTIL_DONE
    ) -> R:
        """The activity, then its retry (attempt 2) after a lost answer: the same answer."""
        first = await self.run(fn, arg, policy)
        assert await self.run(fn, arg, policy, attempt=2) == first
        return first

    async def refused(
        self, fn: Callable[[A], Awaitable[object]], arg: A, policy: RetryPolicy | None = UNTIL_DONE
    ) -> ApplicationError:
        """The ApplicationError the activity fails with."""
        with pytest.raises(ApplicationError) as caught:
            await self.run(fn, arg, policy)
        return caught.value

    # --- the peers -------------------------------------------------------------------------

    async def fault(self, peer: PeerName, **config: object) -> None:
        (await self.control[peer].put("/_sim/faults", json=config)).raise_for_status()

    def breaker(self, peer: PeerName) -> CircuitBreaker:
        return next(b for b in self.peers.breakers if b.name == peer)

    async def open_breaker(self, peer: PeerName) -> None:
        """Let the peer fail (503) ``THRESHOLD`` times in a row: its breaker opens."""
        await self.fault(peer, mode="fail")
        calls: dict[PeerName, Callable[[], Awaitable[object]]] = {
            "patient": self.peers.patients.list_patients,
            "doctor": self.peers.doctors.list_doctors,
            "billing": self.peers.billing.list_invoices,
        }
        for _ in range(THRESHOLD):
            with pytest.raises(PeerUnavailable, match="503"):
                await calls[peer]()
        assert self.breaker(peer).state is BreakerState.OPEN

    async def held(self, start: datetime | None = None) -> HoldAction:
        """A slot held for this run (reserve_slot), as the saga then acts on its hold."""
        reservation = self.reservation(start or slot())
        held = await self.run(self.remote.reserve_slot, reservation, PEER_RETRY)
        return HoldAction(hold_id=held.hold_id, caller=self.caller)

    async def issued(self) -> InvoiceRef:
        """An invoice created for a new appointment, as the saga then refers to it."""
        order = self.invoice_order(str(uuid.uuid4()))
        issued = await self.run(self.remote.create_invoice, order, PEER_RETRY)
        return InvoiceRef(invoice_id=issued.invoice_id, caller=self.caller)

    async def holds(self, status: HoldStatus | None = None) -> list[Hold]:
        return await self.state.holds(ON_CALL, status)

    async def invoices(
        self, appointment_id: str | None = None, status: InvoiceStatus | None = None
    ) -> list[Invoice]:
        return await self.state.invoices(appointment_id, status)

    # --- the store ---------------------------------------------------------------------

    async def history(self, appointment_id: str) -> list[AppointmentEvent]:
        return await self.store.history(appointment_id)

    async def stored(self, appointment_id: str) -> Appointment:
        found = await self.store.get(appointment_id)
        assert found is not None, f"appointment {appointment_id} is not stored"
        return found

    async def awaiting_invoice(self) -> Appointment:
        """SCHEDULED without an invoice: booked while Billing was unreachable."""
        pending = await self.store.plant(status=AppointmentStatus.PENDING)
        change = self.scheduled(pending.id, invoice_id=None, key=f"planted/{pending.id}")
        await self.run(self.local.mark_scheduled, change)
        return await self.stored(pending.id)

    # --- the steps' inputs, keyed by this run as the sagas key them ---------------------------

    def key(self, step: str) -> str:
        return f"{self.workflow_id}/{step}"

    def slot_check(
        self, start: datetime, minutes: int = 15, patient_id: str | None = ANNA
    ) -> SlotCheck:
        return SlotCheck(
            doctor_id=ON_CALL,
            start=start,
            duration_minutes=minutes,
            caller=self.caller,
            patient_id=patient_id,
        )

    def reservation(
        self, start: datetime, patient_id: str = ANNA, key: str | None = None, minutes: int = 15
    ) -> SlotReservation:
        return SlotReservation(
            doctor_id=ON_CALL,
            patient_id=patient_id,
            start=start,
            duration_minutes=minutes,
            idempotency_key=key or self.key("hold"),
            caller=self.caller,
        )

    def new_appointment(self, start: datetime, hold_id: str = "hold-1") -> NewAppointment:
        return NewAppointment(
            appointment_id=str(uuid.uuid4()),
            patient_id=ANNA,
            doctor_id=ON_CALL,
            start=start,
            duration_minutes=15,
            reason="check-up",
            hold_id=hold_id,
            idempotency_key=self.key("pending"),
            caller=self.caller,
        )

    def invoice_order(self, appointment_id: str, key: str | None = None) -> InvoiceOrder:
        return InvoiceOrder(
            appointment_id=appointment_id,
            patient_id=ANNA,
            idempotency_key=key or self.key("invoice"),
            caller=self.caller,
        )

    def scheduled(
        self, appointment_id: str, invoice_id: str | None = "inv-1", key: str | None = None
    ) -> StatusChange:
        return StatusChange(
            appointment_id=appointment_id,
            idempotency_key=key or self.key("scheduled"),
            reason="booking saga completed",
            invoice_id=invoice_id,
            caller=self.caller,
        )

    def failed(self, appointment_id: str) -> StatusChange:
        return StatusChange(
            appointment_id=appointment_id,
            idempotency_key=self.key("failed"),
            reason="booking saga compensated",
            caller=self.caller,
        )

    def invoice_record(self, appointment_id: str, invoice_id: str = "inv-late") -> InvoiceRecord:
        return InvoiceRecord(
            appointment_id=appointment_id,
            invoice_id=invoice_id,
            idempotency_key=self.key("invoiced"),
            caller=self.caller,
        )

    def withdrawal(self, appointment_id: str) -> Withdrawal:
        return Withdrawal(
            appointment_id=appointment_id,
            reason="Billing refused the invoice",
            idempotency_key=self.key("withdrawn"),
            caller=self.caller,
        )

    def ref(self, appointment_id: str) -> AppointmentRef:
        return AppointmentRef(appointment_id=appointment_id, caller=self.caller)

    def reschedule_check(
        self, appointment_id: str, start: datetime, minutes: int | None = None
    ) -> RescheduleCheck:
        return RescheduleCheck(
            appointment_id=appointment_id, start=start, duration_minutes=minutes, caller=self.caller
        )

    async def cancel(self, appointment_id: str) -> Cancel:
        """The cancellation of the version prepare_cancellation finds, as the saga sends it."""
        plan = await self.run(self.local.prepare_cancellation, self.ref(appointment_id), DB_RETRY)
        return Cancel(
            appointment_id=appointment_id,
            expected_version=plan.version,
            reason="patient called",
            idempotency_key=self.key("cancelled"),
            caller=self.caller,
        )

    async def move(self, appointment_id: str, start: datetime) -> Move:
        """The move to ``start`` of the version prepare_reschedule finds, as the saga sends
        it, onto the new time's hold and invoice."""
        check = self.reschedule_check(appointment_id, start)
        plan = await self.run(self.local.prepare_reschedule, check, DB_RETRY)
        return Move(
            appointment_id=appointment_id,
            expected_version=plan.version,
            start=start,
            duration_minutes=plan.duration_minutes,
            hold_id="hold-new",
            invoice_id="inv-new",
            reason="patient asked",
            idempotency_key=self.key("moved"),
            caller=self.caller,
        )


@dataclass(frozen=True)
class Simulators:
    """The three simulator apps on one state, built once (building them is most of what a
    test would cost) and reset before each test through their own ``/_sim/reset``."""

    state: SimulatorState
    clock: WallClock
    apps: dict[PeerName, FastAPI]

    def transport(self, peer: PeerName) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.apps[peer])


@pytest.fixture(scope="session")
def simulators() -> Simulators:
    clock = WallClock(now_utc())
    state = SimulatorState.seeded(clock=clock)
    apps: dict[PeerName, FastAPI] = {
        "patient": create_patient_app(state),
        "doctor": create_doctor_app(state),
        "billing": create_billing_app(state),
    }
    return Simulators(state, clock, apps)


@pytest.fixture
async def bed(simulators: Simulators) -> AsyncIterator[Bed]:
    settings = load_settings(environment="test")
    ticks = Ticks()
    transport = simulators.transport
    control = {p: httpx.AsyncClient(transport=transport(p), base_url=SIM) for p in PEER_NAMES}
    for client in control.values():  # no fault, no hold, no invoice left by another test
        (await client.post("/_sim/reset")).raise_for_status()
    simulators.clock.now = now_utc()

    def breaker(peer: PeerName) -> CircuitBreaker:
        return CircuitBreaker(
            peer, failure_threshold=THRESHOLD, reset_seconds=RESET_SECONDS, clock=ticks
        )

    timeout = settings.peer_timeout_seconds
    peers = Peers(
        patients=PatientClient(
            SIM, timeout, transport=transport("patient"), breaker=breaker("patient")
        ),
        doctors=DoctorClient(
            SIM, timeout, transport=transport("doctor"), breaker=breaker("doctor")
        ),
        billing=BillingClient(
            SIM, timeout, transport=transport("billing"), breaker=breaker("billing")
        ),
    )
    made = Bed(
        settings=settings,
        state=simulators.state,
        store=FakeRepository(),
        peers=peers,
        ticks=ticks,
        sim_clock=simulators.clock,
        control=control,
        workflow_id=f"booking-{uuid.uuid4()}",
        run_id=str(uuid.uuid4()),
        caller=EventContext(actor=ACTOR, request_id=f"req-{uuid.uuid4().hex[:8]}"),
    )
    try:
        yield made
    finally:
        await peers.aclose()
        for client in control.values():
            await client.aclose()
