"""Races on the real local stack (issue #6): many callers after one slot at the same
instant, and one request replayed while its saga runs and after it ended. The final state
of MongoDB, the Doctor and Billing simulators and the Kafka topic must show exactly one
booking, whatever the interleaving."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Slots
from tests.e2e.faults import (
    PATIENTS,
    assert_on_topic,
    assert_settled,
    running_sagas,
    wait_sagas_ended,
)
from tests.e2e.support import DOCTOR, Stack, book, booking, workflow_id, workflow_types
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CONTENDERS = 50


def _all_at_once(stack: Stack, bodies: list[dict[str, Any]], keys: list[str]) -> list[Any]:
    """POST every booking concurrently, each with its own Idempotency-Key."""

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=stack.service.api_url,
            headers={"Authorization": stack.api.headers["Authorization"]},
            timeout=60,
            limits=httpx.Limits(max_connections=len(bodies)),
        ) as client:
            return await asyncio.gather(
                *(
                    client.post("/api/v1/appointments", json=body, headers={"Idempotency-Key": key})
                    for body, key in zip(bodies, keys, strict=True)
                )
            )

    return asyncio.run(race())


def test_fifty_concurrent_bookings_of_one_slot_book_it_exactly_once(
    stack: Stack, slots: Slots
) -> None:
    """Fifty callers, each with its own Idempotency-Key, book the same slot at once. Exactly
    one gets 201 and every other a 409 slot-unavailable (no 500, no 503): one active
    appointment in MongoDB, one CONFIRMED hold and no HELD one at the Doctor Service, one
    OPEN invoice at Billing, for the winner only. Proves the slot hold and the unique index
    serialize a stampede without a double booking or a leftover."""
    start = slots.next()
    keys = [str(uuid.uuid4()) for _ in range(CONTENDERS)]
    bodies = [booking(start, PATIENTS[i % len(PATIENTS)]) for i in range(CONTENDERS)]

    answers = _all_at_once(stack, bodies, keys)

    codes = Counter(answer.status_code for answer in answers)
    unexpected = [a.text for a in answers if a.status_code not in (201, 409)]
    assert codes == {201: 1, 409: CONTENDERS - 1}, (codes, unexpected[:3])
    losers = [answer.json() for answer in answers if answer.status_code == 409]
    assert all(problem["type"].endswith("/slot-unavailable") for problem in losers)
    (winner,) = [answer.json() for answer in answers if answer.status_code == 201]
    assert winner["status"] == "SCHEDULED"

    ends = wait_sagas_ended(stack.service, [workflow_id(key) for key in keys])
    # A slot taken is a correct answer, not a failure: no run is listed Failed.
    assert {end.status for end in ends.values()} == {"COMPLETED"}, ends
    ids = {end.appointment_id for end in ends.values()}
    assert winner["id"] in ids
    assert_settled(stack, ids, [start])
    stored = stack.appointments(ids)
    assert {i for i, row in stored.items() if row["status"] == "SCHEDULED"} == {winner["id"]}
    assert {row["status"] for i, row in stored.items() if i != winner["id"]} <= {"FAILED"}
    active = stack.mongo["appointments"].count_documents(
        {
            "doctor_id": DOCTOR,
            "start": datetime.fromisoformat(start),
            "status": {"$nin": ["FAILED", "CANCELLED"]},
        }
    )
    assert active == 1
    assert_on_topic(stack, set(stored))


def test_one_key_replayed_during_and_after_its_saga_gets_one_booking_and_one_answer(
    stack: Stack, slots: Slots
) -> None:
    """A request is sent again with its Idempotency-Key while its saga still runs (Billing
    is slow), and once more after it ended. Every copy gets the same 201 with the same
    body and Location; there is one workflow run, one appointment, one invoice and one
    confirmed hold. The same key with another body is refused (422) even mid-saga (after
    the saga: test_booking's ``test_one_idempotency_key_sent_at_once_gives_one_appointment``).
    Proves a client retrying a slow booking never books twice nor gets a different answer."""
    start = slots.next()
    key = str(uuid.uuid4())
    wid = workflow_id(key)
    body = booking(start, PATIENTS[1])
    stack.fault("billing", "slow", delay_seconds=1.5)  # below the 2 s peer timeout

    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(book, stack.api, body, key)
        eventually(
            lambda: stack.mongo["appointments"].find_one(
                {"booking_workflow_id": wid, "status": "PENDING"}
            ),
            within=30,
            what="the first request's saga waits on Billing",
        )
        during = pool.submit(book, stack.api, body, key)
        other = pool.submit(book, stack.api, {**body, "reason": "another request"}, key)
        # Sent mid-saga; their answers come when the saga's workflow task next reaches them.
        assert running_sagas(stack.service, [wid]), "the replays came after the saga ended"
        answers = [first.result(), during.result()]
        reused = other.result()
    answers.append(book(stack.api, body, key))

    assert reused.status_code == 422, reused.text
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    created = answers[0].json()
    assert all(a.json() == created for a in answers)
    assert {a.headers["Location"] for a in answers} == {f"/api/v1/appointments/{created['id']}"}
    assert {a.headers["Idempotency-Key"] for a in answers} == {key}

    assert workflow_types(stack.service, f"WorkflowId = '{wid}'") == ["BookingWorkflow"]
    assert stack.mongo["appointments"].count_documents({"booking_workflow_id": wid}) == 1
    assert_settled(stack, [created["id"]], [start])
    assert_on_topic(stack, [created["id"]])
