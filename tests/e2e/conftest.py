"""The real local stack for end-to-end tests: MongoDB wire protocol (SecantusDB), Temporal
dev server, Kafka (Tansu), the peers' simulators, the worker and the API, all started on
free ports by the same LocalService that ``make run`` uses, and stopped at the end."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from localstack.service import LocalService, ServicePorts
from workflows.client import connect_temporal

if TYPE_CHECKING:
    from tests.e2e.faults import Stack

T = TypeVar("T")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data_dir: Path = tmp_path_factory.mktemp("local-stack")
    # Breakers that open in one test's outage close again within a second, so the next
    # test does not meet them (the healthy_peers teardown waits that second out).
    with LocalService(
        data_dir, ServicePorts.free(), overrides={"breaker_reset_seconds": 1.0}
    ) as local:
        yield local


def front_desk(service: LocalService) -> httpx.Client:
    """A client of ``service``'s API as the front desk (role staff)."""
    headers = {"Authorization": f"Bearer {service.token('staff', 'frontdesk-test')}"}
    return httpx.Client(base_url=service.api_url, timeout=60, headers=headers)


@pytest.fixture(scope="session")
def api(service: LocalService) -> Iterator[httpx.Client]:
    """The API as the front desk sees it (role staff)."""
    with front_desk(service) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(service: LocalService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.api_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def as_role(service: LocalService) -> Iterator[Callable[[str, str], httpx.Client]]:
    """``as_role(role, subject)``: a client of the API with that caller's token."""
    clients: list[httpx.Client] = []

    def client(role: str, subject: str) -> httpx.Client:
        token = service.token(role, subject)
        made = httpx.Client(
            base_url=service.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


@pytest.fixture(scope="session")
def peers(service: LocalService) -> Iterator[dict[str, httpx.Client]]:
    clients = {
        name: httpx.Client(base_url=service.peer_url(name), timeout=10)
        for name in ("patient", "doctor", "billing")
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="session")
def mongo(service: LocalService) -> Iterator[Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(service.settings.mongo_uri, tz_aware=True)
    yield client[service.settings.mongo_database]
    client.close()


@pytest.fixture
def stack(
    service: LocalService,
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
) -> Stack:
    """The whole stack in one handle, for the fault tests' final-state checks."""
    from tests.e2e.faults import Stack  # faults imports this module: import it late

    return Stack(service, api, peers, mongo)


@pytest.fixture(autouse=True)
def healthy_peers(peers: dict[str, httpx.Client], service: LocalService) -> Iterator[None]:
    """Every test starts and ends with well-behaved peers, and with no breaker of the
    worker still open: a test that made a peer fail must not make the next one's saga
    fail fast."""
    for client in peers.values():
        client.put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    yield
    for client in peers.values():
        client.put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    wait_for_worker_breakers(service)


def wait_for_worker_breakers(service: LocalService) -> None:
    """Until each of the worker's breakers lets a call through. Its log has a line per
    state change (peers/breaker.py); a breaker whose last change opened it lets a trial
    call through once the reset time has passed since."""
    last: dict[str, dict[str, Any]] = {}
    for line in (service.infra.log_dir / "worker.log").read_text().splitlines():
        if '"breaker_to"' in line:
            change = json.loads(line)
            last[change["peer"]] = change
    reset = timedelta(seconds=service.settings.breaker_reset_seconds)
    for change in last.values():
        if change["breaker_to"] == "open":
            until = datetime.fromisoformat(change["time"]) + reset
            time.sleep(max((until - datetime.now(UTC)).total_seconds(), 0.0))


class Slots:
    """Hands out distinct free slots of the on-call doctor, so tests never collide."""

    def __init__(self, doctor: httpx.Client) -> None:
        self._doctor = doctor
        self._given: set[str] = set()

    def next(self, doctor_id: str = "doc-on-call") -> str:
        start = datetime.now(UTC) + timedelta(days=2)
        window = {"from": start.isoformat(), "to": (start + timedelta(days=14)).isoformat()}
        answer = self._doctor.get(f"/doctors/{doctor_id}/availability", params=window)
        for slot in answer.raise_for_status().json()["slots"]:
            if slot["start"] not in self._given:
                self._given.add(slot["start"])
                return str(slot["start"])
        raise AssertionError("no free slot left")


@pytest.fixture(scope="session")
def slots(peers: dict[str, httpx.Client]) -> Slots:
    return Slots(peers["doctor"])


def describe_workflow(service: LocalService, workflow_id: str) -> Any:
    async def describe() -> Any:
        client = await connect_temporal(service.settings)
        return await client.get_workflow_handle(workflow_id).describe()

    return asyncio.run(describe())


def counts(db: Database[dict[str, Any]]) -> dict[str, int]:
    return {
        name: db[name].count_documents({})
        for name in ("appointments", "appointment_events", "outbox_events")
    }


def log_lines(service: LocalService, process: str, needle: str, timeout: float = 5.0) -> list[Any]:
    """The JSON log lines of ``process`` that mention ``needle``. Polled: a request's line is
    written once its last byte has been sent, so just after the answer it may not be there."""
    deadline = time.monotonic() + timeout
    while True:
        text = (service.infra.log_dir / f"{process}.log").read_text()
        found = [json.loads(line) for line in text.splitlines() if needle in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
