"""Crashes on the real local stack (issue #6): the Temporal worker and the outbox relay
die by SIGKILL in the middle of their work and are started again. The final state of
MongoDB, the Doctor and Billing simulators and the Kafka topic must be what it would have
been without the crash: nothing lost, nothing twice, nothing left half done."""

from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import Slots
from tests.e2e.faults import (
    PATIENTS,
    assert_on_topic,
    assert_outbox_drained,
    assert_settled,
    restored,
    running_sagas,
    unread_by_broker,
    wait_sagas_ended,
)
from tests.e2e.support import Stack, book, booking, workflow_id
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

SAGAS = 8
# A produce request carrying a batch of envelopes is kilobytes; a connection's handshake
# (ApiVersions) is a few dozen bytes.
IN_FLIGHT_BYTES = 500


def test_a_worker_killed_mid_saga_finishes_every_booking_once_restarted(
    stack: Stack, slots: Slots
) -> None:
    """The worker dies by SIGKILL while eight booking sagas are in flight (Billing is slow,
    so each waits on its invoice with the appointment PENDING and the slot held). Once
    it is back, Temporal retries the lost activities and every saga ends SCHEDULED with
    exactly one OPEN invoice, a CONFIRMED hold, gap-free events, all of them on Kafka.
    Proves every step is idempotent across a crash: nothing twice, no orphan hold, no
    appointment stuck PENDING."""
    service = stack.service
    starts = [slots.next() for _ in range(SAGAS)]
    keys = [str(uuid.uuid4()) for _ in range(SAGAS)]
    workflows = [workflow_id(key) for key in keys]
    stack.fault("billing", "slow", delay_seconds=1.5)  # below the 2 s peer timeout

    def start_booking(i: int) -> httpx.Response:
        body = booking(starts[i], PATIENTS[i % len(PATIENTS)])
        return book(stack.api, body, keys[i], prefer="respond-async")

    with restored(service.worker):
        with ThreadPoolExecutor(max_workers=SAGAS) as pool:
            answers = list(pool.map(start_booking, range(SAGAS)))
        assert [a.status_code for a in answers] == [202] * SAGAS, [a.text for a in answers]
        ids = [a.json()["appointment_id"] for a in answers]

        # Killed once every saga has persisted its appointment: they then wait on Billing,
        # with the slot held and the invoice being created. Not inside a MongoDB
        # transaction, as a rule: a transaction the crash leaves open lives on in the
        # server for its lifetime limit (60 s), and the step's retries wait behind it.
        appointments = stack.mongo["appointments"]
        eventually(
            lambda: appointments.count_documents({"_id": {"$in": ids}}) == SAGAS,
            within=30,
            what="every saga persisted its appointment and waits on Billing",
        )
        service.worker.kill()
        # No worker: whatever runs now was cut off mid-saga.
        assert running_sagas(service, workflows), "the crash hit no saga in flight"
        stack.fault("billing", "ok")
        service.worker.start()
        service.worker.wait_ready()

    # Activities lost with the worker are retried after their start-to-close timeout (10 s);
    # should the kill have caught a saga inside a transaction, up to 60 s more (see above).
    ends = wait_sagas_ended(service, workflows, within=90)
    assert {end.status for end in ends.values()} == {"COMPLETED"}, ends
    assert {end.appointment_id for end in ends.values()} == set(ids)

    assert_settled(stack, ids, starts)
    for appointment_id in ids:
        answer = stack.api.get(f"/api/v1/appointments/{appointment_id}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "SCHEDULED"
    assert_on_topic(stack, ids)


def test_a_relay_killed_mid_batch_loses_no_event(stack: Stack, slots: Slots) -> None:
    """The relay dies by SIGKILL with a batch sent to Kafka but not acknowledged (the
    broker is frozen meanwhile and holds the unread request), and bookings keep coming
    while no relay runs. Once a new relay holds the lease, every event of every booking is
    on the topic at least once, the first delivery of each in order, and the outbox is
    drained. Proves a relay crash costs duplicates at most, never a lost event."""
    service = stack.service
    broker, relay = service.infra.kafka.pid, service.relay.pid
    assert broker is not None
    assert relay is not None

    def book_one(i: int) -> str:
        answer = book(stack.api, booking(slots.next(), PATIENTS[i % len(PATIENTS)]))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    outbox = stack.mongo["outbox_events"]
    # A booking published before the freeze: the relay's producer is connected to the
    # partition leaders, so the next batch goes out as produce requests at once.
    ids = [book_one(0)]
    assert_outbox_drained(stack, ids, within=30)
    frozen: list[str] = []
    with restored(service.relay):
        os.killpg(broker, signal.SIGSTOP)
        try:
            frozen += [book_one(i) for i in range(1, 5)]
            # Woken by the inserts, the relay sends its batch to the frozen broker and waits
            # for acknowledgements that cannot come: killed right there, mid-batch. (More
            # than a connection handshake's few bytes: the records themselves.)
            eventually(
                lambda: unread_by_broker(relay, service.ports.infra.kafka) > IN_FLIGHT_BYTES,
                within=15,
                what="the relay sent its batch to the frozen broker",
            )
            service.relay.kill()
            unmarked = outbox.count_documents({"key": {"$in": frozen}, "published_at": None})
            assert unmarked == 2 * len(frozen), "nothing can be acknowledged by a frozen broker"
        finally:
            os.killpg(broker, signal.SIGCONT)
        late = [book_one(i) for i in range(5, 8)]
        waiting = outbox.count_documents({"key": {"$in": late}, "published_at": None})
        assert waiting == 2 * len(late), "the bookings made while no relay ran wait in the outbox"
        service.relay.start()
        service.relay.wait_ready()
    ids += frozen + late

    # The dead relay's lease must lapse (10 s) before the new one publishes.
    assert_outbox_drained(stack, ids, within=60)
    records = assert_on_topic(stack, ids)
    assert len(records) >= 2 * len(ids)  # requested + scheduled each, duplicates allowed
