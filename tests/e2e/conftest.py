"""The real local stack for end-to-end tests: MongoDB wire protocol (SecantusDB), Temporal
dev server, Kafka (Tansu), the peers' simulators, the worker and the API, all started on
free ports by the same LocalService that ``make run`` uses, and stopped at the end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from localstack.service import LIFTED_QUOTAS, LocalService, ServicePorts
from tests.e2e.support import Stack, assert_failed_only_on_purpose


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data_dir: Path = tmp_path_factory.mktemp("local-stack")
    # Breakers that open in one test's outage close again within a second, so the next
    # test does not meet them (the healthy_peers teardown waits that second out).
    # No reminders: a reminder is a change (its event bumps the version), and one firing in
    # the middle of a test about something else would make its If-Match stale. The journey
    # is tested on a stack of its own (tests/e2e_journey); here every booking still starts
    # its journey, whose no-show check lies beyond any test's end.
    overrides = {"breaker_reset_seconds": 1.0, "reminder_offsets_minutes": [], **LIFTED_QUOTAS}
    with LocalService(data_dir, ServicePorts.free(), overrides=overrides) as local:
        yield local
        # Once every test of the session ran: the Temporal Web UI lists as Failed only the
        # runs the tests made fail on purpose (Stack.fails_on_purpose), never a business
        # refusal. Reported as an error in the last test's teardown.
        assert_failed_only_on_purpose(local)


def client_of(service: LocalService, role: str | None = None, subject: str = "") -> httpx.Client:
    """A client of ``service``'s API with that caller's token (none without a role)."""
    token = {"Authorization": f"Bearer {service.token(role, subject)}"} if role else {}
    return httpx.Client(base_url=service.api_url, timeout=60, headers=token)


def peer_of(service: LocalService, name: str) -> httpx.Client:
    """A client of one of ``service``'s simulated peers (patient, doctor, billing)."""
    return httpx.Client(base_url=service.peer_url(name), timeout=10)


@contextmanager
def database_of(service: LocalService) -> Iterator[Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(service.settings.mongo_uri, tz_aware=True)
    try:
        yield client[service.settings.mongo_database]
    finally:
        client.close()


@pytest.fixture(scope="session")
def api(service: LocalService) -> Iterator[httpx.Client]:
    """The API as the front desk sees it (role staff)."""
    with client_of(service, "staff", "frontdesk-test") as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(service: LocalService) -> Iterator[httpx.Client]:
    with client_of(service) as client:
        yield client


@pytest.fixture(scope="session")
def as_role(service: LocalService) -> Iterator[Callable[[str, str], httpx.Client]]:
    """``as_role(role, subject)``: a client of the API with that caller's token."""
    clients: list[httpx.Client] = []

    def client(role: str, subject: str) -> httpx.Client:
        clients.append(client_of(service, role, subject))
        return clients[-1]

    yield client
    for made in clients:
        made.close()


@pytest.fixture(scope="session")
def peers(service: LocalService) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: peer_of(service, name) for name in ("patient", "doctor", "billing")}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="session")
def mongo(service: LocalService) -> Iterator[Database[dict[str, Any]]]:
    with database_of(service) as database:
        yield database


@pytest.fixture
def stack(
    service: LocalService,
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
) -> Stack:
    """The whole stack in one handle."""
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
