"""Graceful shutdown on the real local stack: every process of the service stops cleanly
on SIGTERM (exit code 0), and what it was doing is not lost.

- the API drains: a booking request in flight when SIGTERM arrives still gets its answer;
- the worker finishes its running activities (or hands them back): a saga in flight ends
  SCHEDULED once a worker runs again;
- the relay marks what Kafka acknowledged, and the projector saves its checkpoint,
  before they exit (their own integration tests check the details).

Each test starts the process again, so the shared stack is whole for the tests after it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from localstack.processes import ManagedProcess
from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import book, booking, logged, workflow_id
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PATIENT = "pat-greta-lindqvist"


def stopped_cleanly(process: ManagedProcess) -> int | None:
    """SIGTERM, wait (the process's own grace, then SIGKILL), start it again; the exit
    code of the stopped run."""
    process.stop()
    code = process.returncode
    process.start()
    process.wait_ready()
    return code


@pytest.fixture
def slow_billing(peers: dict[str, httpx.Client]) -> Iterator[None]:
    """Billing answers after 1 s: a booking is in flight long enough to be interrupted,
    yet each call stays inside the 2 s peer timeout (a slower one would time out, and the
    saga would compensate)."""
    slow = {"mode": "slow", "delay_seconds": 1.0}
    peers["billing"].put("/_sim/faults", json=slow).raise_for_status()
    yield
    peers["billing"].put("/_sim/faults", json={"mode": "ok"}).raise_for_status()


@pytest.mark.parametrize("name", ["relay", "projector", "notifications"])
def test_the_background_processes_exit_0_on_sigterm(service: LocalService, name: str) -> None:
    assert stopped_cleanly(getattr(service, name)) == 0


@pytest.mark.usefixtures("slow_billing")
def test_the_api_answers_the_request_in_flight_then_exits_0(
    service: LocalService, api: httpx.Client, slots: Slots
) -> None:
    answers: list[httpx.Response] = []
    key = str(uuid.uuid4())
    request = threading.Thread(
        target=lambda: answers.append(book(api, booking(slots.next(), PATIENT), key))
    )
    request.start()
    # The saga waits on Billing now, and the API holds the request open meanwhile.
    eventually(lambda: _waits_on_billing(service, workflow_id(key)), what="the saga invoices")
    code = stopped_cleanly(service.api)
    request.join(timeout=60)
    assert code == 0
    assert [a.status_code for a in answers] == [201], [a.text for a in answers]


@pytest.mark.usefixtures("slow_billing")
def test_the_worker_exits_0_and_the_saga_it_ran_still_books(
    service: LocalService, api: httpx.Client, slots: Slots
) -> None:
    key = str(uuid.uuid4())
    answer = book(api, booking(slots.next(), PATIENT), key, prefer="respond-async")
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    eventually(lambda: _waits_on_billing(service, workflow_id(key)), what="the saga invoices")

    assert stopped_cleanly(service.worker) == 0

    settled = eventually(
        lambda: (body := api.get(location).json())["status"] != "PENDING" and body,
        within=60,
        what="the saga ended after the restart",
    )
    assert settled["status"] == "SCHEDULED"
    assert settled["invoice_id"]


def _waits_on_billing(service: LocalService, workflow_id: str) -> bool:
    """Whether the saga has persisted the appointment, so that its next step, the invoice,
    is waiting on (slow) Billing now. Told by the worker's log: the step is a local activity,
    so Temporal lists no pending activity, and queries wait for the workflow task."""
    persisted = [
        line
        for line in logged(service, "worker", workflow_id)
        if "persisted PENDING" in line["message"]
    ]
    return bool(persisted)
