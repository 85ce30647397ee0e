"""Prometheus metrics on the real local stack: after one booking over REST, the API's
``/metrics`` shows the request, the peers' breakers (closed) and the outbox; the worker's
shows the completed BookingWorkflow and how long its steps took."""

from __future__ import annotations

import httpx
import pytest

from localstack.servers import HOST
from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import Samples, book, booking, scrape, value
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PEERS = ("patient", "doctor", "billing")
# The saga's steps of ARCHITECTURE §2, each an activity the worker times.
STEPS = (
    "validate_patient",
    "check_availability",
    "reserve_slot",
    "persist_pending",
    "create_invoice",
    "mark_scheduled",
)


@pytest.fixture(scope="module")
def worker_metrics(service: LocalService) -> str:
    """The URL of the stack's worker's metrics (its own port: the worker has no web
    server of its own)."""
    return f"http://{HOST}:{service.ports.worker_metrics}/metrics"


def test_one_booking_shows_on_the_api_and_the_worker_metrics(
    service: LocalService,
    api: httpx.Client,
    anonymous: httpx.Client,
    slots: Slots,
    worker_metrics: str,
) -> None:
    api_metrics = f"{service.api_url}/metrics"
    completed = {"workflow": "BookingWorkflow", "outcome": "completed"}
    before = scrape(worker_metrics)

    answer = book(api, booking(slots.next()))
    assert answer.status_code in (201, 202), answer.text
    created = answer.json()

    # The worker: the saga completed once more, and each of its steps was timed.
    def counted() -> Samples | None:
        now = scrape(worker_metrics)
        outcomes = "appointments_saga_outcomes_total"
        more = value(now, outcomes, **completed) > value(before, outcomes, **completed)
        return now if more else None

    after = eventually(counted, what="a completed BookingWorkflow on the worker's metrics")
    for step in STEPS:
        count = "appointments_saga_step_seconds_count"
        assert value(after, count, activity=step, outcome="ok") > value(
            before, count, activity=step, outcome="ok"
        ), step
    for peer in PEERS:
        assert value(after, "appointments_peer_breaker_state", peer=peer, state="closed") == 1.0
    assert value(after, "appointments_outbox_status_up") == 1.0
    status = api.get(f"/api/v1/appointments/{created['id']}").json()["status"]
    assert status == "SCHEDULED"

    # The API: no token needed; the booking under its route template, breakers, outbox.
    assert anonymous.get("/metrics").status_code == 200
    found = scrape(api_metrics)
    booked = {"method": "POST", "route": "/api/v1/appointments"}
    assert (
        sum(
            value(found, "appointments_http_requests_total", **booked, status=code)
            for code in ("201", "202")
        )
        >= 1.0
    )
    assert value(found, "appointments_http_request_seconds_count", **booked) >= 1.0
    read = {"method": "GET", "route": "/api/v1/appointments/{appointment_id}", "status": "200"}
    assert value(found, "appointments_http_requests_total", **read) >= 1.0
    assert not any(created["id"] in dict(labels).get("route", "") for _, labels in found)
    for peer in PEERS:
        assert value(found, "appointments_peer_breaker_state", peer=peer, state="closed") == 1.0
        assert value(found, "appointments_peer_breaker_state", peer=peer, state="open") == 0.0
    assert value(found, "appointments_outbox_status_up") == 1.0
    assert ("appointments_outbox_backlog", frozenset()) in found
    assert ("appointments_outbox_parked", frozenset()) in found
    assert ("appointments_outbox_oldest_age_seconds", frozenset()) in found
