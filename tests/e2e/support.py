"""What the end-to-end tests share besides their fixtures (conftest.py): the booking body
and the calls that book and change appointments over REST, what MongoDB holds about
them, appointments planted in any status, the sagas' runs in Temporal, and the JSON log
lines of the stack's processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo.database import Database

from api.schemas import EXAMPLE_NEW_START, EXAMPLE_START
from domain.status import AppointmentStatus
from localstack.service import LIFTED_QUOTAS, LocalService, ServicePorts
from peers.contracts import Doctor
from persistence import AppointmentStore, connect
from simulators.runner import EXTRA_DOCTORS_FILE
from simulators.seed_data import DOCTORS
from tests.fakes import plant_into
from tests.waiting import eventually, eventually_async
from workflows.client import connect_temporal
from workflows.contracts.booking import workflow_id as saga_id

BASE = "/api/v1/appointments"
PATIENT = "pat-anna-schmidt"
DOCTOR = "doc-on-call"  # on a 15-minute grid, every day 07:00-21:00
FRONT_DESK = "staff:frontdesk-test"  # who the ``api`` fixture (conftest.py) is

# The saga runs tests make fail on purpose (a peer kept down past a step's retries, an
# open breaker, a hold that expired: faults, each compensated), by the Temporal address of
# the stack they ran on, each with why. A business refusal (slot taken, illegal change)
# completes its run, rejected; so when a stack stops, its Failed runs must be exactly
# these (``assert_failed_only_on_purpose``, called by the stack's fixture).
FAILED_ON_PURPOSE: dict[str, dict[str, str]] = {}


@dataclass(frozen=True)
class Stack:
    """A local stack in one handle: its API as the front desk, its peers' simulators (to
    make them misbehave and to read what they hold) and its MongoDB."""

    service: LocalService
    api: httpx.Client
    peers: dict[str, httpx.Client]
    mongo: Database[dict[str, Any]]

    def fails_on_purpose(self, workflow_id: str, why: str) -> None:
        """Declare a saga run this test makes fail (``FAILED_ON_PURPOSE``)."""
        runs = FAILED_ON_PURPOSE.setdefault(self.service.settings.temporal_address, {})
        runs[workflow_id] = why

    def fault(self, peer: str, mode: str, **options: float) -> None:
        """Tell one simulator to misbehave (``mode="ok"`` heals it)."""
        answer = self.peers[peer].put("/_sim/faults", json={"mode": mode, **options})
        answer.raise_for_status()

    def appointments(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        found = self.mongo["appointments"].find({"_id": {"$in": sorted(ids)}})
        return {row["_id"]: row for row in found}

    def stored(self, appointment_id: str) -> dict[str, Any]:
        found = self.mongo["appointments"].find_one({"_id": appointment_id})
        assert found is not None, f"appointment {appointment_id} is not stored"
        return found

    def hold(self, hold_id: str) -> dict[str, Any]:
        """The hold as the Doctor Service keeps it."""
        return dict(self.peers["doctor"].get(f"/holds/{hold_id}").raise_for_status().json())

    def invoices(self, appointment_id: str) -> list[dict[str, Any]]:
        """The appointment's invoices at Billing."""
        answer = self.peers["billing"].get("/invoices", params={"appointment_id": appointment_id})
        return list(answer.raise_for_status().json())

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        return dict(self.peers["billing"].get(f"/invoices/{invoice_id}").raise_for_status().json())


# --- over REST ---------------------------------------------------------------------------


def booking(start: str, patient_id: str = PATIENT, **extra: Any) -> dict[str, Any]:
    """The body of a booking of the on-call doctor (15 minutes unless ``extra`` says)."""
    body = {"patient_id": patient_id, "doctor_id": DOCTOR, "start": start}
    return body | {"duration_minutes": 15} | extra


def book(
    api: httpx.Client, body: dict[str, Any], key: str | None = None, *, prefer: str | None = None
) -> httpx.Response:
    """POST the booking with its Idempotency-Key (a fresh one unless given)."""
    headers = {"Idempotency-Key": key or str(uuid.uuid4())} | ({"Prefer": prefer} if prefer else {})
    return api.post(BASE, json=body, headers=headers)


def book_run(
    api: httpx.Client, start: str, *, prefer: str | None = None
) -> tuple[str, httpx.Response]:
    """A booking at ``start`` with a fresh key: its saga's workflow id, and the answer."""
    key = str(uuid.uuid4())
    return workflow_id(key), book(api, booking(start), key, prefer=prefer)


def booked(
    api: httpx.Client, start: str, patient_id: str = PATIENT, **extra: Any
) -> dict[str, Any]:
    """The appointment booked at ``start``: the saga ended SCHEDULED (201)."""
    answer = book(api, booking(start, patient_id, **extra))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def change(api: httpx.Client, appointment_id: str, what: str, **body: Any) -> httpx.Response:
    """POST .../<what> (confirm, cancel, reschedule, ...) with a fresh Idempotency-Key."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    return api.post(f"{BASE}/{appointment_id}/{what}", json=body, headers=key)


def changed(api: httpx.Client, appointment_id: str, what: str, **body: Any) -> dict[str, Any]:
    """The appointment after the change: it succeeded (200)."""
    answer = change(api, appointment_id, what, **body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def graphql(client: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    """A GraphQL operation: answered 200 and as JSON, its errors (if any) in the body."""
    answer = client.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer


def problem_type(answer: httpx.Response) -> str:
    """The last segment of the problem document's ``type``."""
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    assert answer.json()["status"] == answer.status_code
    return str(answer.json()["type"]).rsplit("/", 1)[-1]


def workflow_id(key: str, actor: str = FRONT_DESK) -> str:
    """The booking saga's workflow id for an Idempotency-Key the caller ``actor`` sent
    (the front desk unless named): keys are their caller's own (application/saga_runs.py)."""
    return saga_id(actor, key)


def soon_slot(stack: Stack) -> str:
    """A free slot less than 24 hours ahead (a change of it is a late change), never the
    slot Swagger's examples book (tests/e2e/test_openapi_contract.py sends them)."""
    start = datetime.now(UTC) + timedelta(minutes=30)
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=22)).isoformat()}
    availability = stack.peers["doctor"].get(f"/doctors/{DOCTOR}/availability", params=window)
    examples = {datetime.fromisoformat(EXAMPLE_START), datetime.fromisoformat(EXAMPLE_NEW_START)}
    free = [
        slot["start"]
        for slot in availability.raise_for_status().json()["slots"]
        if datetime.fromisoformat(slot["start"]) not in examples
    ]
    return str(free[-1])


# --- in MongoDB ----------------------------------------------------------------------------


def counts(db: Database[dict[str, Any]]) -> dict[str, int]:
    return {
        name: db[name].count_documents({})
        for name in ("appointments", "appointment_events", "outbox_events")
    }


def events_of(mongo: Database[dict[str, Any]], appointment_id: str) -> list[dict[str, Any]]:
    """The appointment's events, in seq order."""
    return list(mongo["appointment_events"].find({"appointment_id": appointment_id}).sort("seq"))


def event_types(mongo: Database[dict[str, Any]], appointment_id: str) -> list[str]:
    return [event["type"] for event in events_of(mongo, appointment_id)]


# Planted starts count back from yesterday in 15-minute steps from a base fixed once per
# session, so no two planted appointments overlap and none meets a bookable slot.
_YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
_STEPS = itertools.count(1)


def plant(
    service: LocalService,
    specs: Sequence[tuple[AppointmentStatus, str, str, datetime | None]],
) -> list[str]:
    """Appointments in any status (and with a start in the past, which no booking
    accepts), written change by change through AppointmentStore.commit as the sagas write
    them, so that their histories replay like any other; without a hold or an invoice.
    Spec: status, patient, doctor, start (None: the next past start)."""

    async def go() -> list[str]:
        client = await connect(service.settings)
        try:
            store = AppointmentStore(client, service.settings.kafka_topic)
            return [
                (
                    await plant_into(
                        store.commit,
                        patient_id=patient,
                        doctor_id=doctor,
                        start=start or _YESTERDAY - timedelta(minutes=15 * next(_STEPS)),
                        status=status,
                        actor="staff:e2e-planter",
                        held=False,
                    )
                ).id
                for status, patient, doctor, start in specs
            ]
        finally:
            await client.close()

    return asyncio.run(go())


# --- the other processes -------------------------------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample a /metrics page shows, by name and labels."""
    answer = httpx.get(url, timeout=10)
    answer.raise_for_status()
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def describe_workflow(service: LocalService, workflow_id: str) -> Any:
    async def describe() -> Any:
        client = await connect_temporal(service.settings)
        return await client.get_workflow_handle(workflow_id).describe()

    return asyncio.run(describe())


def ended(service: LocalService, workflow_id: str, within: float = 30.0) -> Any:
    """The run's description once it has closed. A booking answers first and then starts
    the appointment's journey (one more round trip the patient need not wait for): its run
    completes a moment after the 201."""

    def closed() -> Any:
        run = describe_workflow(service, workflow_id)
        return run if run.status.name != "RUNNING" else None

    return eventually(closed, within, f"{workflow_id} closed")


def workflow_types(service: LocalService, query: str) -> list[str]:
    """The type of each run Temporal lists for a visibility query (one per run, so a
    workflow id run twice is there twice)."""

    async def find() -> list[str]:
        client = await connect_temporal(service.settings)
        return [run.workflow_type async for run in client.list_workflows(query)]

    return asyncio.run(find())


def workflow_ids(service: LocalService, query: str) -> list[str]:
    """The workflow id of each run Temporal lists for a visibility query."""

    async def find() -> list[str]:
        client = await connect_temporal(service.settings)
        return [run.id async for run in client.list_workflows(query)]

    return asyncio.run(find())


FAILED = 'ExecutionStatus = "Failed"'


def assert_failed_only_on_purpose(service: LocalService, within: float = 60.0) -> None:
    """The stack's Failed runs, as ``temporal workflow count --query 'ExecutionStatus=
    "Failed"'`` counts them, are exactly those its tests declared (``FAILED_ON_PURPOSE``):
    Failed means something broke. Waits for a declared run still compensating to end."""
    declared = FAILED_ON_PURPOSE.get(service.settings.temporal_address, {})

    async def check() -> None:
        client = await connect_temporal(service.settings)
        failed: set[str] = set()

        async def settled() -> bool:
            failed.clear()
            failed.update([run.id async for run in client.list_workflows(FAILED)])
            assert failed <= set(declared), what()  # a Failed run does not come back
            return failed == set(declared)

        def what() -> str:
            unexpected = sorted(failed - set(declared))
            missing = {wid: why for wid, why in declared.items() if wid not in failed}
            return f"Failed runs no test declared: {unexpected}; declared, not Failed: {missing}"

        await eventually_async(settled, within, what)
        assert (await client.count_workflows(FAILED)).count == len(declared)

    asyncio.run(check())


def logged(service: LocalService, process: str, needle: str) -> list[Any]:
    """The JSON log lines of ``process`` that mention ``needle``, as its log is now."""
    text = (service.infra.log_dir / f"{process}.log").read_text()
    return [json.loads(line) for line in text.splitlines() if needle in line]


def log_lines(service: LocalService, process: str, needle: str) -> list[Any]:
    """The same, once there is one: a request's line is written once its last byte has
    been sent, so just after the answer it may not be there yet."""
    return eventually(
        lambda: logged(service, process, needle), 5.0, f"{process}.log mentions {needle}"
    )


def doctors_on_a_five_minute_grid(doctor_ids: Sequence[str]) -> list[Doctor]:
    """The around-the-clock doctor's hours on a 5-minute grid, once per id: slots always
    free a few minutes ahead, for a stack whose clocks run in minutes."""
    around_the_clock = next(d for d in DOCTORS if d.id == "doc-around-the-clock")
    return [
        around_the_clock.model_copy(
            update={"id": doctor_id, "name": f"Dr. {doctor_id}", "slot_minutes": 5}
        )
        for doctor_id in doctor_ids
    ]


@contextmanager
def stack_of_its_own(
    data_dir: Path,
    doctors: Sequence[Doctor],
    overrides: Mapping[str, Any],
    ports: ServicePorts | None = None,
) -> Iterator[LocalService]:
    """A whole local stack on free ports with ``doctors`` added to the simulators
    (``<data>/simulators/doctors.json``), the quotas lifted and ``overrides`` set; when it
    stops, no Temporal run may have Failed but those its tests declared."""
    simulators = data_dir / "simulators"
    simulators.mkdir()
    (simulators / EXTRA_DOCTORS_FILE).write_text(
        "[" + ",".join(d.model_dump_json() for d in doctors) + "]"
    )
    settings = {**LIFTED_QUOTAS, **overrides}
    with LocalService(data_dir, ports or ServicePorts.free(), overrides=settings) as local:
        yield local
        assert_failed_only_on_purpose(local)
